#!/usr/bin/env bash
# Installs everything the browser build needs, idempotently (safe on every CI run):
#
#   1. a Rust compiler with a wasm32-unknown-unknown standard library:
#      - `rustup target add wasm32-unknown-unknown` where rustup can fetch it;
#      - otherwise Debian's rustc-web + rust-web-src (std rebuilt with -Zbuild-std);
#      and clang-19 for the C parts of dependencies (see scripts/wasm-env.sh);
#   2. wasm-bindgen-cli at exactly the version of the `wasm-bindgen` crate in Cargo.lock
#      (built from crates.io with `cargo install`, never a prebuilt binary);
#   3. wasm-opt (Debian's binaryen) when the package exists: it only shrinks the .wasm;
#   4. Debian's chromium + chromium-driver for the browser tests;
#   5. the npm packages of the browser tests (tests/browser, `npm ci` from its lock file).
#
# Options (environment): XF_SETUP_NO_BROWSER=1 skips 4 and 5 (enough to build the package).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup-wasm] %s\n' "$*" >&2; }

have_apt_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

APT_UPDATED=0
apt_install() {
    local missing=()
    for p in "$@"; do have_apt_pkg "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    if [ "$APT_UPDATED" -eq 0 ]; then
        $sudo apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

apt_has_candidate() {
    apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'
}

# 1. The compiler. clang compiles the C parts of dependencies (ring) for wasm32 either way.
apt_install clang-19 llvm-19
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "compiler: rustup's wasm32-unknown-unknown target"
elif rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
    log "compiler: rustup's wasm32-unknown-unknown target (just added)"
else
    log "compiler: rustup cannot provide wasm32 std; using Debian's rustc-web with -Zbuild-std"
    apt_install rustc-web cargo-web rust-web-src
fi

# 2. wasm-bindgen-cli, the exact version of the crate in the lock file.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$want" ]; then
    log "error: no wasm-bindgen in Cargo.lock"
    exit 1
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ] || ! command -v wasm-bindgen-test-runner >/dev/null 2>&1; then
    log "cargo install wasm-bindgen-cli $want (was: ${have:-none}); takes a few minutes once"
    # --locked first (the CLI's own tested lock file); without it if the registry here
    # lacks a locked version of some dependency.
    cargo install --quiet --locked wasm-bindgen-cli --version "=$want" ||
        cargo install --quiet wasm-bindgen-cli --version "=$want"
fi
log "wasm-bindgen $(wasm-bindgen --version | awk '{print $2}')"

# 3. wasm-opt, where the distribution has it (only makes the .wasm smaller).
if ! command -v wasm-opt >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && apt_has_candidate binaryen; then
    apt_install binaryen || log "binaryen not installed; the package is built without wasm-opt"
fi

# 4 and 5. The browser and the browser-test packages.
if [ "${XF_SETUP_NO_BROWSER:-0}" != 1 ]; then
    apt_install chromium chromium-driver
    if [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
        log "npm ci (tests/browser)"
        (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
        touch tests/browser/node_modules
    fi
fi
log "ready"
