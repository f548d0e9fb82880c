#!/usr/bin/env bash
# The browser benchmark (docs/benchmarks.md, "Browser"): the same Rust workloads natively and
# in headless Chromium, in one run, with their ratio; appends into IndexedDB through the npm
# package; sync of 10 000 events from the native peer into a page over the iroh relay.
#
#   bash scripts/bench-browser.sh [sync-events]     # default 10000
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SYNC_N=${1:-10000}

bash scripts/build-npm.sh >/dev/null
cargo build --release -p xaeroflux-web-demo >&2

echo "[bench-browser] native workloads" >&2
native=$(cargo bench -q -p xaeroflux-wasm --features bench --bench throughput 2>/dev/null | tail -1)

echo "[bench-browser] wasm module with the workloads" >&2
source scripts/wasm-env.sh
wasm_cargo build --release -p xaeroflux-wasm --lib --features bench >&2
rm -rf "$TARGET/bench-wasm"
wasm-bindgen --target web --out-dir "$TARGET/bench-wasm" --out-name xaeroflux_wasm \
    "$XF_WASM_TARGET_DIR/wasm32-unknown-unknown/release/xaeroflux_wasm.wasm"

echo "[bench-browser] Chromium" >&2
browser=$(node tests/browser/bench/run.mjs "$TARGET/bench-wasm" "$TARGET/npm/xaeroflux-wasm" \
    "$TARGET/release/xaeroflux-web-demo" "$SYNC_N")

NATIVE="$native" BROWSER="$browser" node -e '
const n = JSON.parse(process.env.NATIVE), b = JSON.parse(process.env.BROWSER);
const rate = (count, ms) => `${Math.round(count / (ms / 1000)).toLocaleString("en-US")}/s`;
const row = (name, count, key) => console.log(`| ${name} | ${b[key].toFixed(1)} ms (${rate(count, b[key])}) | ${n[key].toFixed(1)} ms (${rate(count, n[key])}) | ${(b[key] / n[key]).toFixed(2)}x |`);
console.log(`| workload (${n.n.toLocaleString("en-US")} events of ${n.len} B) | Chromium (wasm) | native | ratio |`);
console.log("|---|---:|---:|---:|");
row("encode + leaf hash + MMR append", n.n, "hash_mmr_ms");
row("MemStore append, batches of 1000 (pages, 1 signed head per batch)", n.n, "memstore_batch1000_ms");
row(`MemStore append, one at a time (${n.memstore_single_n.toLocaleString("en-US")}: a signed head each)`, n.memstore_single_n, "memstore_single_ms");
row("replica import: verify against the signed head and store", n.n, "verify_replica_ms");
console.log("");
for (const [k, v] of Object.entries(b)) if (k.endsWith("_ms") && (k.startsWith("idb_") || k.startsWith("sync_"))) console.log(`${k}: ${v.toFixed(1)} ms`);
console.log(`sync_n: ${b.sync_n} events`);
'
