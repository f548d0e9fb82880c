#!/usr/bin/env bash
# The browser tests, as CI runs them (scripts/test.sh calls this after scripts/setup-wasm.sh):
#
#   1. build the npm package (scripts/build-npm.sh);
#   2. the wasm-bindgen tests of host-wasm under Node.js, then in headless Chromium
#      (chromedriver + Debian's chromium; tests/browser/webdriver.json);
#   3. the JavaScript tests in tests/browser with node --test: the core's test vectors
#      checked from JS, the package README's examples run verbatim, proof files exchanged
#      with the native `xf` tool both ways, and the end-to-end test
#      of the web demo (two pages and the native peer) in Chromium via playwright-core,
#      which saves target/artifacts/web-demo.png.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
step() { printf '\n--> %s\n' "$*"; }

step "npm package"
bash scripts/build-npm.sh

source scripts/wasm-env.sh
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$ROOT/tests/browser/webdriver.json"
# chromedriver and Chromium can be slow to start on a loaded 2-core machine.
export WASM_BINDGEN_TEST_DRIVER_TIMEOUT=${WASM_BINDGEN_TEST_DRIVER_TIMEOUT:-30}

step "wasm-bindgen tests under Node.js"
wasm_cargo test --release -p xaeroflux-wasm --test api --test lanes

step "wasm-bindgen tests in headless Chromium"
WASM_BINDGEN_USE_BROWSER=1 wasm_cargo test --release -p xaeroflux-wasm --test api --test indexeddb --test lanes

step "the web demo server and the xf tool (for the end-to-end and interop tests)"
# The dev profile: `cargo test --workspace` has built their dependencies already.
cargo build -p xaeroflux-web-demo -p xaeroflux --bin xaeroflux-web-demo --bin xf

step "JavaScript tests (vectors, README examples, end-to-end demo)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
XF_NPM_PKG="$TARGET/npm/xaeroflux-wasm" XF_WEB_DEMO_BIN="$TARGET/debug/xaeroflux-web-demo" XF_BIN="$TARGET/debug/xf" \
    node --test --test-concurrency=1 tests/browser/
