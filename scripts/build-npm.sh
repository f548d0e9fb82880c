#!/usr/bin/env bash
# Builds the npm package `xaeroflux-wasm` from host-wasm/ with the project's own tools:
# cargo for wasm32 (scripts/wasm-env.sh), the wasm-bindgen CLI at the pinned version, and
# wasm-opt when it is installed. Nothing prebuilt is downloaded.
#
#   bash scripts/build-npm.sh [out-dir]     # default: $CARGO_TARGET_DIR/npm/xaeroflux-wasm
#
# Prints the .wasm size, raw and gzipped. Run scripts/setup-wasm.sh once first.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/wasm-env.sh

OUT=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/npm/xaeroflux-wasm}
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
    echo "build-npm: wasm-bindgen $want is needed (found: ${have:-none}); run scripts/setup-wasm.sh" >&2
    exit 1
fi

# Builds one flavor of the module into $1 (a folder of the package): cargo (features $2),
# wasm-bindgen, then wasm-opt where it can read the module.
build_flavor() {
    local dir=$1 features=$2
    echo "[build-npm] cargo build (wasm32, $XF_WASM_MODE toolchain, features: ${features:-none})" >&2
    wasm_cargo build --release -p xaeroflux-wasm --lib ${features:+--features "$features"}
    local wasm="$XF_WASM_TARGET_DIR/wasm32-unknown-unknown/release/xaeroflux_wasm.wasm"
    mkdir -p "$dir"
    wasm-bindgen --target web --remove-name-section --remove-producers-section --out-dir "$dir" \
        --out-name xaeroflux_wasm "$wasm"
    local bg="$dir/xaeroflux_wasm_bg.wasm" before
    before=$(stat -c %s "$bg")
    if command -v wasm-opt >/dev/null 2>&1; then
        # The features rustc enables by default for wasm32-unknown-unknown, and simd128
        # (scripts/wasm-env.sh). An old wasm-opt that cannot read the module leaves it as it
        # is (it only makes it smaller).
        if wasm-opt -Oz --strip-debug --strip-producers \
            --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int \
            --enable-sign-ext --enable-reference-types --enable-multivalue --enable-simd \
            -o "$bg.opt" "$bg" 2>"$dir/wasm-opt.log"; then
            mv "$bg.opt" "$bg"
            echo "[build-npm] wasm-opt: $before -> $(stat -c %s "$bg") bytes" >&2
        else
            echo "[build-npm] wasm-opt $(wasm-opt --version | awk '{print $3}') cannot read this module ($(tail -1 "$dir/wasm-opt.log")); kept as built" >&2
            rm -f "$bg.opt"
        fi
        rm -f "$dir/wasm-opt.log"
    else
        echo "[build-npm] wasm-opt not installed: the .wasm is not post-optimized" >&2
    fi
}

TMP="$OUT.tmp"
rm -rf "$TMP"
# The default module: the store, proofs and sync over any transport.
build_flavor "$TMP" ""
# `xaeroflux-wasm/net`: the same, plus Store.connect (iroh through a relay).
build_flavor "$TMP/net" iroh

version=$(awk '/^\[workspace.package\]/ { s = 1 } s && /^version = / { gsub(/version = |"/, ""); print; exit }' Cargo.toml)
sed "s/@VERSION@/$version/" host-wasm/npm/package.json > "$TMP/package.json"
cp host-wasm/npm/node.js host-wasm/README.md LICENSE "$TMP/"

rm -rf "$OUT"
mv "$TMP" "$OUT"
echo "[build-npm] $OUT" >&2
for f in xaeroflux_wasm_bg.wasm net/xaeroflux_wasm_bg.wasm; do
    echo "$f: $(stat -c %s "$OUT/$f") bytes raw, $(gzip -9 -c "$OUT/$f" | wc -c) bytes gzip -9"
done
