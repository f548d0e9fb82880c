#!/usr/bin/env bash
# The project's test command: setup, formatting, lints, every test, and the no_std build.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }

step "setup"
df -h . "${TMPDIR:-/tmp}" || true
bash scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path core/fuzz/Cargo.toml -- --check
cargo fmt --manifest-path host-native/fuzz/Cargo.toml -- --check

step "cargo clippy (-D warnings)"
cargo clippy --workspace --all-targets -- -D warnings
# With the Tor transport (feature "tor", off by default) as well.
cargo clippy --workspace --all-targets --features xaeroflux/tor,xaeroflux-tests/tor -- -D warnings
# The fuzz crates are workspaces of their own (cargo-fuzz's layout): linted on their own, into
# a target directory of their own so that they do not rebuild the nightly fuzz builds' artifacts.
CARGO_TARGET_DIR=target/fuzz-clippy cargo clippy --manifest-path core/fuzz/Cargo.toml --all-targets -- -D warnings
CARGO_TARGET_DIR=target/fuzz-clippy cargo clippy --manifest-path host-native/fuzz/Cargo.toml --all-targets -- -D warnings

step "no_std build of xaeroflux-core (thumbv7em-none-eabihf, build-std=core,alloc)"
bash scripts/check-no-std.sh

step "cargo test"
cargo test --workspace

step "examples (two stores on 127.0.0.1: sync, reads on demand and their proofs)"
cargo run -q -p xaeroflux --example sync
cargo run -q -p xaeroflux --example read_on_demand

step "Tor: XSP over onion services, on a private Tor network on 127.0.0.1 (scripts/tor-testnet.sh)"
cargo test -p xaeroflux --features tor --lib -- net::tor net::onion
cargo test -p xaeroflux-tests --features tor --test net_tor -- --nocapture

step "fuzz: every fuzz target (the core's, then tickets and announcements) for 20 s (scripts/fuzz.sh)"
bash scripts/fuzz.sh 20

step "browser: npm package, wasm-bindgen tests (Node, Chromium), JS and end-to-end tests"
bash scripts/test-wasm.sh

step "disk used"
du -sh target 2>/dev/null || true
df -h . "${TMPDIR:-/tmp}" || true
