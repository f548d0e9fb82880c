#!/usr/bin/env bash
# Runs every fuzz target (cargo-fuzz, libFuzzer, nightly) for a while, one after the other: the
# core's decoders (core/fuzz) and the `xaeroflux` crate's (host-native/fuzz: tickets, gossip
# announcements). A crash fails the script and leaves its input in <crate>/fuzz/artifacts/<target>/.
#
#   bash scripts/fuzz.sh           # 20 s per target (what the test command runs)
#   bash scripts/fuzz.sh 600       # 10 minutes per target, to run by hand
#
# Installs cargo-fuzz (pinned) when missing. cargo-fuzz needs rustup's nightly toolchain; a
# machine without one gets a clear message and exit 0 unless XF_FUZZ_REQUIRED=1. The corpus
# grows in <crate>/fuzz/corpus/<target>/ (not tracked) and is reused by the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[fuzz] %s\n' "$*" >&2; }

secs="${1:-20}"
CARGO_FUZZ_VERSION=0.13.2

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    log "rustup's nightly toolchain is not installed: fuzz targets not run"
    [ "${XF_FUZZ_REQUIRED:-0}" = "1" ] && exit 1
    exit 0
fi
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
    log "cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi

# One target directory for the whole workspace (each fuzz crate is its own workspace).
target_dir="$PWD/target/fuzz"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# The core's decoders (core/fuzz), then those of the `xaeroflux` crate (host-native/fuzz:
# tickets and gossip announcements). XF_FUZZ_TARGETS picks targets by name from both.
for crate in core host-native; do
    targets="$(cd "$crate" && cargo +nightly fuzz list)"
    if [ -n "${XF_FUZZ_TARGETS:-}" ]; then
        targets="$(printf '%s\n' $targets | grep -Fx -f <(printf '%s\n' $XF_FUZZ_TARGETS) || true)"
    fi
    for t in $targets; do
        # Built first, so a target that does not compile is told apart from one that crashed.
        if ! (cd "$crate" && cargo +nightly fuzz build --release --target-dir "$target_dir" "$t") >"$out" 2>&1; then
            tail -n 60 "$out" >&2
            log "$t does not build"
            exit 1
        fi
        log "$t: ${secs} s"
        if ! (cd "$crate" && cargo +nightly fuzz run --release --target-dir "$target_dir" "$t" -- \
            -max_total_time="$secs" -print_final_stats=1) >"$out" 2>&1; then
            tail -n 60 "$out" >&2
            log "$t FAILED (the input that crashed it is in $crate/fuzz/artifacts/$t/)"
            exit 1
        fi
        grep -E '^Done' "$out" >&2 || true
    done
done
log "every target ran ${secs} s without a crash"
