#!/usr/bin/env bash
# Installs everything the project needs, idempotently. Safe to run on every CI run.
#
#   - the Rust components used by the test command (rustfmt, clippy)
#   - a compiler that can rebuild `core`/`alloc` for a bare target (proves that
#     xaeroflux-core is no_std): rustup's nightly + rust-src when it can be had,
#     otherwise Debian's rustc-web + rust-web-src (see ../shared/WASM-TOOLCHAIN.md)
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

have_apt_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_install() {
    local missing=()
    for p in "$@"; do have_apt_pkg "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# rustfmt and clippy for the lint step.
for c in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
        rustup component add "$c" >/dev/null 2>&1 || log "could not add $c with rustup"
    fi
done

# A build-std capable toolchain for the no_std check. Prefer rustup's nightly with
# rust-src; fall back to Debian's rustc-web, which ships its library sources.
if rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src'; then
    log "no_std check: rustup nightly with rust-src"
elif rustup +nightly component add rust-src >/dev/null 2>&1; then
    log "no_std check: rustup nightly with rust-src (just added)"
else
    apt_install rustc-web cargo-web rust-web-src
    log "no_std check: Debian rustc-web"
fi

# The browser build and its tests: wasm32 compiler, wasm-bindgen CLI, Chromium, npm packages.
bash "$(dirname "$0")/setup-wasm.sh"

# C tor (Debian's package), for the private Tor network on 127.0.0.1 that the Tor transport's
# tests run on (tests/tests/net_tor.rs starts it with scripts/tor-testnet.sh).
bash "$(dirname "$0")/tor-testnet.sh" install
