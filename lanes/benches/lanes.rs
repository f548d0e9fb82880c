//! `keyed_hash_many` against `blake3::keyed_hash` one input at a time, on the shapes
//! Xaeroflux hashes: event leaves (312-byte encoded events) and Merkle nodes (64 bytes), in
//! groups of 1 to 1 000 inputs.
//!
//! `cargo bench -p xaeroflux-lanes --bench lanes`

use std::hint::black_box;
use std::time::Instant;

use xaeroflux_lanes::{Backend, backend, keyed_hash_many_with};

fn time_per_input(inputs: &[&[u8]], mut run: impl FnMut(&[&[u8]], &mut [[u8; 32]])) -> f64 {
    let mut out = vec![[0u8; 32]; inputs.len()];
    let reps = (2_000_000 / inputs.len()).max(1);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..reps {
            run(black_box(inputs), &mut out);
            black_box(&out);
        }
        best = best.min(start.elapsed().as_nanos() as f64 / (reps * inputs.len()) as f64);
    }
    best
}

fn main() {
    let key = [0x42u8; 32];
    println!("backend on this CPU: {:?}", backend());
    println!(
        "{:>6} {:>6} | {:>10} | {:>10} {:>10} {:>10} | {:>7}",
        "bytes", "group", "blake3", "avx512", "avx2", "chosen", "speedup"
    );
    for len in [64usize, 312, 1024] {
        for group in [1usize, 2, 4, 8, 16, 64, 1000] {
            let owned: Vec<Vec<u8>> = (0..group).map(|i| vec![i as u8; len]).collect();
            let inputs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
            let one_by_one = time_per_input(&inputs, |inputs, out| {
                for (i, o) in inputs.iter().zip(out.iter_mut()) {
                    *o = *blake3::keyed_hash(&key, i).as_bytes();
                }
            });
            let avx512 = time_per_input(&inputs, |i, o| keyed_hash_many_with(Backend::Avx512, &key, i, o));
            let avx2 = time_per_input(&inputs, |i, o| keyed_hash_many_with(Backend::Avx2, &key, i, o));
            let chosen = time_per_input(&inputs, |i, o| keyed_hash_many_with(backend(), &key, i, o));
            println!(
                "{len:>6} {group:>6} | {one_by_one:>8.1}ns | {avx512:>8.1}ns {avx2:>8.1}ns {chosen:>8.1}ns | {:>6.2}×",
                one_by_one / chosen
            );
        }
    }
}
