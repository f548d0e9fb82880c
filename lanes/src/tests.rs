use std::vec::Vec;
use std::{println, vec};

use proptest::prelude::*;

use crate::{Backend, CHUNK_LEN, keyed_hash_many, keyed_hash_many_with};

const ALL: [Backend; 4] = [Backend::Avx512, Backend::Avx2, Backend::Simd128, Backend::Portable];

fn input(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn expected(key: &[u8; 32], inputs: &[&[u8]]) -> Vec<[u8; 32]> {
    inputs.iter().map(|i| *blake3::keyed_hash(key, i).as_bytes()).collect()
}

fn check(backend: Backend, key: &[u8; 32], inputs: &[&[u8]]) {
    let mut out = vec![[0u8; 32]; inputs.len()];
    keyed_hash_many_with(backend, key, inputs, &mut out);
    let want = expected(key, inputs);
    for (i, (got, want)) in out.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "{backend:?}: input {i} of {}, {} bytes", inputs.len(), inputs[i].len());
    }
}

#[test]
fn reports_which_backends_run_here() {
    // Not an assertion: the log of a test run says which backends the other tests covered.
    println!("backend: {:?}", crate::backend());
    #[cfg(target_arch = "x86_64")]
    println!("avx512f: {}, avx2: {}", std::is_x86_feature_detected!("avx512f"), std::is_x86_feature_detected!("avx2"));
}

/// Every length from 0 to past one chunk, each in a full group of equal lengths.
#[test]
fn every_length_in_full_groups() {
    let key = *blake3::hash(b"lanes test key").as_bytes();
    for backend in ALL {
        for len in 0..=CHUNK_LEN + 80 {
            let owned: Vec<Vec<u8>> = (0..16).map(|s| input(len, s)).collect();
            let inputs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
            check(backend, &key, &inputs);
        }
    }
}

/// Lanes of one group with different block counts (idle lanes must keep their state).
#[test]
fn mixed_lengths_in_one_group() {
    let key = [0x5a; 32];
    let lens = [0, 1, 63, 64, 65, 127, 128, 129, 300, 312, 511, 512, 1000, 1023, 1024, 1025, 2049, 7];
    let owned: Vec<Vec<u8>> = lens.iter().enumerate().map(|(s, &l)| input(l, s as u8)).collect();
    let inputs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    for backend in ALL {
        for n in 0..=inputs.len() {
            check(backend, &key, &inputs[..n]);
            check(backend, &key, &inputs[inputs.len() - n..]);
        }
    }
}

#[test]
#[should_panic(expected = "one output per input")]
fn output_length_must_match() {
    let mut out = [[0u8; 32]; 1];
    keyed_hash_many(&[0; 32], &[b"a", b"b"], &mut out);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn matches_blake3_keyed_hash(
        key in any::<[u8; 32]>(),
        inputs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..1200), 0..40),
    ) {
        let slices: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        let want = expected(&key, &slices);
        for backend in ALL {
            let mut out = vec![[0u8; 32]; slices.len()];
            keyed_hash_many_with(backend, &key, &slices, &mut out);
            prop_assert_eq!(&out, &want, "{:?}", backend);
        }
    }
}

/// The gather path of the lanes (the `simd128` backend's, which loads message words one by
/// one where AVX2 and AVX-512 load whole blocks), run with AVX2 instructions so that native
/// test runs check it: every length in full groups, and mixed lengths.
#[cfg(target_arch = "x86_64")]
#[test]
fn the_gather_path_matches_blake3() {
    let key = *blake3::hash(b"lanes test key").as_bytes();
    let mut groups: Vec<Vec<Vec<u8>>> =
        (0..=CHUNK_LEN + 80).map(|len| (0..16).map(|s| input(len, s)).collect()).collect();
    let lens = [0, 1, 63, 64, 65, 127, 128, 129, 300, 312, 511, 512, 1000, 1023, 1024, 1025, 2049, 7];
    groups.push(lens.iter().enumerate().map(|(s, &l)| input(l, s as u8)).collect());
    for owned in &groups {
        let inputs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        for n in [inputs.len(), 5, 9] {
            let inputs = &inputs[..n.min(inputs.len())];
            let mut out = vec![[0u8; 32]; inputs.len()];
            if !crate::x86::hash_many_gather_path(&key, inputs, &mut out) {
                println!("no AVX2 here: the gather path is not tested");
                return;
            }
            assert_eq!(out, expected(&key, inputs), "{} inputs of {} bytes first", inputs.len(), inputs[0].len());
        }
    }
}
