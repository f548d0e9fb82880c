#!/usr/bin/env bash
# Runs every fuzz target of xaeroflux-core (core/fuzz: cargo-fuzz, libFuzzer, nightly) for a
# while, one after the other; a crash fails the script and leaves its input in
# core/fuzz/artifacts/<target>/.
#
#   bash scripts/fuzz.sh           # 20 s per target (what the test command runs)
#   bash scripts/fuzz.sh 600       # 10 minutes per target, to run by hand
#
# Installs cargo-fuzz (pinned) when missing. cargo-fuzz needs rustup's nightly toolchain; a
# machine without one gets a clear message and exit 0 unless XF_FUZZ_REQUIRED=1. The corpus
# grows in core/fuzz/corpus/<target>/ (not tracked) and is reused by the next run.
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

# One target directory for the whole workspace (the fuzz crate is its own workspace).
target_dir="$PWD/target/fuzz"
cd core
targets="${XF_FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for t in $targets; do
    # Built first, so a target that does not compile is told apart from one that crashed.
    if ! cargo +nightly fuzz build --release --target-dir "$target_dir" "$t" >"$out" 2>&1; then
        tail -n 60 "$out" >&2
        log "$t does not build"
        exit 1
    fi
    log "$t: ${secs} s"
    if ! cargo +nightly fuzz run --release --target-dir "$target_dir" "$t" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$out" 2>&1; then
        tail -n 60 "$out" >&2
        log "$t FAILED (the input that crashed it is in core/fuzz/artifacts/$t/)"
        exit 1
    fi
    grep -E '^Done' "$out" >&2 || true
done
log "every target ran ${secs} s without a crash"
