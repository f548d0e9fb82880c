//! The native half of the browser benchmark: the workloads of `xaeroflux_wasm::bench`, run
//! natively, best of several runs. `scripts/bench-browser.sh` runs the same workloads in
//! Chromium in the same run and reports the ratios (docs/benchmarks.md, "Browser").
//!
//!     cargo bench -p xaeroflux-wasm --features bench --bench throughput
//!
//! Prints one JSON object: milliseconds per workload.

use std::time::Instant;

use xaeroflux_wasm::bench;

const N: u64 = 100_000;
const LEN: usize = 100;
const RUNS: usize = 5;

fn best(mut f: impl FnMut() -> f64) -> f64 {
    (0..RUNS).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let hash_mmr = best(|| {
        let t = Instant::now();
        std::hint::black_box(bench::hash_mmr(N, LEN));
        ms(t)
    });
    let memstore_1000 = best(|| {
        let t = Instant::now();
        std::hint::black_box(bench::memstore_append(N, LEN, 1000));
        ms(t)
    });
    let memstore_1 = best(|| {
        let t = Instant::now();
        std::hint::black_box(bench::memstore_append(N / 10, LEN, 1));
        ms(t)
    });
    let (store, events) = bench::replica_input(N, LEN);
    let verify = best(|| {
        let t = Instant::now();
        std::hint::black_box(bench::verify_replica(&store, &events));
        ms(t)
    });
    println!(
        "{{\"n\":{N},\"len\":{LEN},\"hash_mmr_ms\":{hash_mmr:.2},\"memstore_batch1000_ms\":{memstore_1000:.2},\"memstore_single_ms\":{memstore_1:.2},\"memstore_single_n\":{},\"verify_replica_ms\":{verify:.2}}}",
        N / 10
    );
}
