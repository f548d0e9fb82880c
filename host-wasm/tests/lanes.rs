//! The hashing lanes of the wasm32 build (`xaeroflux-lanes`' `simd128` backend): the build of
//! the npm package enables `simd128` (`scripts/wasm-env.sh`), so that backend must be the one
//! chosen, and it must give `blake3::keyed_hash`'s bytes for every input. Runs under Node.js
//! and in headless Chromium, as the other wasm tests (`scripts/test-wasm.sh`).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::wasm_bindgen_test;
use xaeroflux_lanes::{Backend, CHUNK_LEN, keyed_hash_many, keyed_hash_many_with};

fn input(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn check(backend: Backend, key: &[u8; 32], inputs: &[&[u8]]) {
    let mut out = vec![[0u8; 32]; inputs.len()];
    keyed_hash_many_with(backend, key, inputs, &mut out);
    for (i, (got, input)) in out.iter().zip(inputs).enumerate() {
        let want = blake3::keyed_hash(key, input);
        assert_eq!(got, want.as_bytes(), "{backend:?}: input {i} of {}, {} bytes", inputs.len(), input.len());
    }
}

#[wasm_bindgen_test]
fn the_simd128_backend_is_the_one_chosen() {
    // `XF_WASM_SIMD=0` (scripts/wasm-env.sh) builds without it: the portable code then runs.
    let want = if cfg!(target_feature = "simd128") { Backend::Simd128 } else { Backend::Portable };
    assert_eq!(xaeroflux_lanes::backend(), want);
    assert_eq!(Backend::Simd128.lanes(), 4);
}

/// Every length from 0 to past one chunk, in full groups of equal lengths and in groups
/// of mixed lengths (lanes masked while the shorter inputs wait), and group sizes around
/// the lane count.
#[wasm_bindgen_test]
fn simd128_matches_blake3_on_every_length() {
    let key = *blake3::hash(b"lanes test key").as_bytes();
    for len in 0..=CHUNK_LEN + 80 {
        let owned: Vec<Vec<u8>> = (0..4).map(|k| input(len, k)).collect();
        let inputs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        check(Backend::Simd128, &key, &inputs);
        let mixed: Vec<Vec<u8>> = (0..4).map(|k| input((len * (k + 1) / 4).min(CHUNK_LEN), k as u8)).collect();
        let inputs: Vec<&[u8]> = mixed.iter().map(Vec::as_slice).collect();
        check(Backend::Simd128, &key, &inputs);
    }
    for n in 0..=13 {
        let owned: Vec<Vec<u8>> = (0..n).map(|k| input(64 * k + 7, k as u8)).collect();
        let inputs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        check(Backend::Simd128, &key, &inputs);
        let mut out = vec![[0u8; 32]; n];
        keyed_hash_many(&key, &inputs, &mut out);
        let want: Vec<[u8; 32]> = inputs.iter().map(|i| *blake3::keyed_hash(&key, i).as_bytes()).collect();
        assert_eq!(out, want, "{n} inputs through keyed_hash_many");
    }
}
