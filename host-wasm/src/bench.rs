//! The throughput workloads of the browser benchmark (feature `bench`, never in the npm
//! package): the very same Rust code runs natively (`cargo bench -p xaeroflux-wasm`) and in
//! Chromium (`scripts/bench-browser.sh`), so the ratio between the two is the cost of running
//! in WebAssembly, nothing else.
//!
//! - [`hash_mmr`]: encode an event, hash it (the leaf hash), append it to an MMR and read
//!   the root — the per-event work of every append.
//! - [`memstore_append`]: appends to a `MemStore` in batches: the above plus page packing and
//!   one signed head per batch.
//! - [`verify_replica`]: the receiving side: a replica imports the events against the
//!   author's signed head (re-hashing and bulk MMR check).

use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::mmr::Mmr;
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::{AuthorKey, Event, EventFlags, Hash};

/// A payload of `len` bytes, different for each `i`.
fn payload(i: u64, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i as usize).wrapping_mul(31).wrapping_add(j) as u8).collect()
}

/// Encodes, hashes and MMR-appends `n` events of `len`-byte payloads; returns the final root
/// (so that nothing is optimized away).
pub fn hash_mmr(n: u64, len: usize) -> Hash {
    let key = AuthorKey::from_secret_bytes(&[1; 32]);
    let author = key.author();
    let body = payload(7, len);
    let mut mmr = Mmr::new();
    for seq in 0..n {
        let ev = Event::new(author, seq, 1_700_000_000_000_000 + seq, 1, EventFlags::NONE, &body);
        mmr.append(ev.leaf_hash());
    }
    mmr.root()
}

/// Appends `n` events of `len`-byte payloads to a `MemStore` in batches of `batch`; returns
/// the root.
pub fn memstore_append(n: u64, len: usize, batch: u64) -> Hash {
    let key = AuthorKey::from_secret_bytes(&[2; 32]);
    let mut store = MemStore::new(key, PageConfig::default());
    let body = payload(9, len);
    let mut done = 0;
    while done < n {
        let k = batch.min(n - done);
        let events = (done..done + k).map(|i| NewEvent::new(1_700_000_000_000_000 + i, &body));
        if store.append_batch(events).is_err() {
            break;
        }
        done += k;
    }
    store.mmr_root()
}

/// A store of `n` events, and the events as a replica receives them.
pub fn replica_input(n: u64, len: usize) -> (MemStore, Vec<Event>) {
    let key = AuthorKey::from_secret_bytes(&[3; 32]);
    let author = key.author();
    let mut store = MemStore::new(key, PageConfig::default());
    let body = payload(11, len);
    let _ = store.append_batch((0..n).map(|i| NewEvent::new(i, &body)));
    let events = store.iter_feed(&author).map(|e| e.to_owned()).collect();
    (store, events)
}

/// A fresh replica imports `events` against the author's head; returns the events held.
pub fn verify_replica(source: &MemStore, events: &[Event]) -> u64 {
    let Some(head) = source.local_head() else { return 0 };
    let mut replica = MemStore::replica(source.page_config());
    let refs: Vec<_> = events.iter().map(Event::as_ref).collect();
    match replica.import_events(&head, &refs) {
        Ok(_) => replica.event_count(),
        Err(_) => 0,
    }
}

#[cfg(target_arch = "wasm32")]
mod js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = performance, js_name = now)]
        fn now() -> f64;
    }

    /// Milliseconds taken by [`super::hash_mmr`].
    #[wasm_bindgen(js_name = benchHashMmr)]
    pub fn bench_hash_mmr(n: u32, len: u32) -> f64 {
        let t = now();
        let root = super::hash_mmr(u64::from(n), len as usize);
        core::hint::black_box(root);
        now() - t
    }

    /// Milliseconds taken by [`super::memstore_append`].
    #[wasm_bindgen(js_name = benchMemstoreAppend)]
    pub fn bench_memstore_append(n: u32, len: u32, batch: u32) -> f64 {
        let t = now();
        let root = super::memstore_append(u64::from(n), len as usize, u64::from(batch));
        core::hint::black_box(root);
        now() - t
    }

    /// Milliseconds taken by [`super::verify_replica`] (the input is made first, untimed).
    #[wasm_bindgen(js_name = benchVerifyReplica)]
    pub fn bench_verify_replica(n: u32, len: u32) -> f64 {
        let (store, events) = super::replica_input(u64::from(n), len as usize);
        let t = now();
        let held = super::verify_replica(&store, &events);
        core::hint::black_box(held);
        now() - t
    }
}
