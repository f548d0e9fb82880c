# Sourced by the browser scripts: defines `wasm_cargo`, which runs cargo for the
# wasm32-unknown-unknown target with whichever compiler scripts/setup-wasm.sh set up:
#
#   - rustup's toolchain when it has the wasm32-unknown-unknown target;
#   - otherwise Debian's rustc-web (/usr/bin/rustc, /usr/bin/cargo), rebuilding std from
#     rust-web-src with -Zbuild-std (RUSTC_BOOTSTRAP lets a stable compiler take -Z flags),
#     linking with rustup's rust-lld.
#
# Either way, C dependencies (ring, in the iroh build) are compiled with clang-19.
#
# Both use their own target directory, $XF_WASM_TARGET_DIR (default: target/wasm32 under
# $CARGO_TARGET_DIR or ./target), so they never invalidate the native build's artifacts.
#
#   source scripts/wasm-env.sh
#   wasm_cargo build -p xaeroflux-wasm --release
#   ls "$XF_WASM_TARGET_DIR/wasm32-unknown-unknown/release/"

XF_WASM_TARGET_DIR="${XF_WASM_TARGET_DIR:-${CARGO_TARGET_DIR:-$(pwd)/target}/wasm32}"
export XF_WASM_TARGET_DIR

# Every wasm build (the package and the tests) uses one small-code release profile, so the
# standard library and the dependencies are built once for all of them. Set here rather than
# in Cargo.toml because LTO and panic=abort cannot be set per package there.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=s
export CARGO_PROFILE_RELEASE_LTO=fat
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_DEBUG=false

# getrandom 0.3 on wasm32-unknown-unknown draws from the browser's crypto.getRandomValues
# only when this cfg is set. simd128 (WebAssembly's 128-bit SIMD, in every current browser
# engine and in Node >= 16.4) gives the leaf and Merkle node hashing its 4-lane backend
# (xaeroflux-lanes); WebAssembly cannot detect it at run time, so it is chosen here.
# XF_WASM_SIMD=0 builds without it, for engines that lack WebAssembly SIMD.
XF_WASM_RUSTFLAGS='--cfg getrandom_backend="wasm_js"'
if [ "${XF_WASM_SIMD:-1}" != 0 ]; then
    XF_WASM_RUSTFLAGS="$XF_WASM_RUSTFLAGS -C target-feature=+simd128"
fi

# C code of dependencies (ring, in the iroh build) is compiled for wasm32 by clang, in
# either mode.
for v in 19 ""; do
    if command -v "clang${v:+-$v}" >/dev/null 2>&1 && command -v "llvm-ar${v:+-$v}" >/dev/null 2>&1; then
        export CC_wasm32_unknown_unknown="clang${v:+-$v}" AR_wasm32_unknown_unknown="llvm-ar${v:+-$v}"
        break
    fi
done

# XF_WASM_TOOLCHAIN=debian (or rustup) forces a mode, to test both on one machine.
if [ "${XF_WASM_TOOLCHAIN:-}" = rustup ] || { [ "${XF_WASM_TOOLCHAIN:-}" != debian ] &&
    rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; }; then
    XF_WASM_MODE=rustup
    wasm_cargo() {
        local sub=$1
        shift
        CARGO_TARGET_DIR="$XF_WASM_TARGET_DIR" RUSTFLAGS="$XF_WASM_RUSTFLAGS" \
            cargo "$sub" --target wasm32-unknown-unknown "$@"
    }
else
    XF_WASM_MODE=debian
    if [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/cargo ]; then
        echo "wasm-env: no wasm32 compiler; run scripts/setup-wasm.sh first" >&2
        return 1 2>/dev/null || exit 1
    fi
    XF_RUST_LLD="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | awk '/^host:/ {print $2}')/bin/rust-lld"
    wasm_cargo() {
        local sub=$1
        shift
        CARGO_TARGET_DIR="$XF_WASM_TARGET_DIR" RUSTFLAGS="$XF_WASM_RUSTFLAGS" \
            RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
            CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$XF_RUST_LLD" \
            /usr/bin/cargo "$sub" -Zbuild-std=std,panic_abort --target wasm32-unknown-unknown "$@"
    }
fi
export XF_WASM_MODE

# `cargo test --target wasm32-unknown-unknown` runs test binaries with the wasm-bindgen runner.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
