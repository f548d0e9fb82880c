#!/usr/bin/env bash
# The web demo in one command: sets up the browser toolchain if needed, builds the npm
# package and the demo server, then runs it (a page server, a local iroh relay, a native
# peer). Open the printed URL in two tabs.
#
#   bash scripts/web-demo.sh [--port 8080] [--heartbeat 10] [--data DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-$(pwd)/target}"
PKG="$TARGET/npm/xaeroflux-wasm"

XF_SETUP_NO_BROWSER=1 bash scripts/setup-wasm.sh
bash scripts/build-npm.sh >/dev/null
cargo build --release -p xaeroflux-web-demo
exec "$TARGET/release/xaeroflux-web-demo" --pkg "$PKG" "$@"
