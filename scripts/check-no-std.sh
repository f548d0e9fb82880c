#!/usr/bin/env bash
# Builds xaeroflux-core for a bare-metal target that has no std at all, rebuilding only
# `core` and `alloc` from source. If any dependency needed std, this would fail.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=thumbv7em-none-eabihf
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/no-std"
if rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src'; then
    exec cargo +nightly build -p xaeroflux-core --lib --release -Zbuild-std=core,alloc --target "$TARGET"
fi
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 exec /usr/bin/cargo build -p xaeroflux-core --lib --release \
    -Zbuild-std=core,alloc --target "$TARGET"
