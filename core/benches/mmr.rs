//! MMR benchmark: xaeroflux's MMR vs `ckb-merkle-mountain-range` with the same merge, and
//! the hash-only floor, side by side on 1 M pre-hashed leaves.
//!
//! Run with `cargo bench -p xaeroflux-core --bench mmr` (optionally `-- <leaves> <proofs>`).
//!
//! Both MMRs hash interior nodes with `xaeroflux_core::hash::mmr_node`, so the per-merge
//! cost is identical and the difference is bookkeeping. ckb runs twice: with a `Vec`
//! store (its best case; the batch is committed after every push, as a node store needs)
//! and with its own `util::MemStore` (a `BTreeMap`, as shipped). The floor is the same
//! number of `mmr_node` calls on 64-byte inputs, chained, with nothing else. Each figure
//! is the best of several runs. blake3 is built with its `std` feature here (a
//! dev-dependency), so it detects and uses SIMD at run time.

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use ckb_merkle_mountain_range::util::{MemMMR, MemStore};
use ckb_merkle_mountain_range::{MMR, MMRStoreReadOps, MMRStoreWriteOps, Merge, MerkleProof, leaf_index_to_pos};
use xaeroflux_core::hash::{Hash, leaf_hash, mmr_node, mmr_root};
use xaeroflux_core::mmr::{InclusionProof, Mmr, MmrPeaks};

/// ckb's merge, with our node hash.
struct Blake3Merge;

impl Merge for Blake3Merge {
    type Item = Hash;
    fn merge(left: &Hash, right: &Hash) -> ckb_merkle_mountain_range::Result<Hash> {
        Ok(mmr_node(left, right))
    }
}

/// A `Vec` node store for ckb (positions are dense, so this is its fastest store).
#[derive(Default)]
struct VecStore(RefCell<Vec<Hash>>);

impl MMRStoreReadOps<Hash> for &VecStore {
    fn get_elem(&self, pos: u64) -> ckb_merkle_mountain_range::Result<Option<Hash>> {
        Ok(self.0.borrow().get(pos as usize).copied())
    }
}

impl MMRStoreWriteOps<Hash> for &VecStore {
    fn append(&mut self, pos: u64, elems: Vec<Hash>) -> ckb_merkle_mountain_range::Result<()> {
        let mut v = self.0.borrow_mut();
        assert_eq!(v.len() as u64, pos);
        v.extend(elems);
        Ok(())
    }
}

type VecMmr<'a> = MMR<Hash, Blake3Merge, &'a VecStore>;

/// The best wall time of `runs` runs of `f`, and its last result.
fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = black_box(f());
        best = best.min(t.elapsed());
        out = Some(r);
    }
    (best, out.expect("runs > 0"))
}

/// xorshift64*: deterministic leaf indexes without a dependency.
fn random_indexes(count: usize, below: u64) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..count)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D) % below
        })
        .collect()
}

/// One line of the result table; the references are (ckb MemStore, ckb Vec store, floor).
struct Row {
    op: &'static str,
    imp: &'static str,
    time: Duration,
    ops: u64,
    refs: [Option<Duration>; 3],
}

fn row(op: &'static str, imp: &'static str, time: Duration, ops: u64, refs: [Option<Duration>; 3]) -> Row {
    Row { op, imp, time, ops, refs }
}

fn fmt_time(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1e4 { format!("{:.1} ms", us / 1e3) } else { format!("{us:.0} µs") }
}

fn ratio(a: Duration, b: Option<Duration>) -> String {
    b.map_or_else(String::new, |b| format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64()))
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = args.first().copied().unwrap_or(1_000_000);
    let proofs = args.get(1).copied().unwrap_or(10_000) as usize;
    let runs = 7;
    let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let merges = n - u64::from(n.count_ones());

    // (a) append n leaves + root.
    let (t_ours, mmr) = best(runs, || {
        let mut m = Mmr::new();
        for l in &leaves {
            m.append(*l);
        }
        let root = m.root();
        (m, root)
    });
    let (mmr, root) = mmr;
    // The same with memory already faulted in (a long-lived MMR): `clear` keeps the
    // allocation, so this isolates the MMR's own work from the kernel's page zeroing.
    let mut warm = Mmr::new();
    let (t_warm, warm_root) = best(runs, || {
        warm.clear();
        for l in &leaves {
            warm.append(*l);
        }
        warm.root()
    });
    assert_eq!(warm_root, root);
    let (t_fresh_mem, _) = best(runs, || vec![Hash::ZERO; mmr.nodes().len()].len());
    let (t_peaks, peaks_root) = best(runs, || {
        let mut p = MmrPeaks::new();
        for l in &leaves {
            p.append(*l);
        }
        p.root()
    });
    assert_eq!(peaks_root, root);
    // The bulk form: every leaf at once, each level's merges side by side across SIMD lanes.
    let (t_bulk, bulk) = best(runs, || {
        let mut m = Mmr::new();
        m.extend_from_slice(&leaves).expect("in range");
        let root = m.root();
        (m, root)
    });
    assert_eq!(bulk.1, root);
    assert_eq!(bulk.0.nodes(), mmr.nodes());
    let (t_bulk_peaks, bulk_peaks_root) = best(runs, || {
        let mut p = MmrPeaks::new();
        p.extend_from_slice(&leaves).expect("in range");
        p.root()
    });
    assert_eq!(bulk_peaks_root, root);
    let (t_ckb_vec, ckb_vec) = best(runs, || {
        let store = VecStore::default();
        let mut m = VecMmr::new(0, &store);
        for l in &leaves {
            m.push(*l).expect("push");
            m.commit().expect("commit");
        }
        let root = m.get_root().expect("root");
        (store, root)
    });
    let (vec_store, ckb_root) = ckb_vec;
    // Same merge, same positions: both build exactly the same node list.
    assert_eq!(vec_store.0.borrow().as_slice(), mmr.nodes());
    let warm_store = VecStore::default();
    let (t_ckb_warm, _) = best(runs, || {
        warm_store.0.borrow_mut().clear();
        let mut m = VecMmr::new(0, &warm_store);
        for l in &leaves {
            m.push(*l).expect("push");
            m.commit().expect("commit");
        }
        m.get_root().expect("root")
    });
    let (t_ckb_mem, ckb_mem) = best(3, || {
        let store = MemStore::default();
        let mut m = MemMMR::<Hash, Blake3Merge>::new(0, &store);
        for l in &leaves {
            m.push(*l).expect("push");
        }
        m.commit().expect("commit");
        let root = m.get_root().expect("root");
        (store, root)
    });
    let (mem_store, mem_root) = ckb_mem;
    assert_eq!(mem_root, ckb_root);
    let (t_floor, _) = best(runs, || {
        let mut h = Hash::ZERO;
        for i in 0..merges {
            h = mmr_node(&h, &leaves[(i % n) as usize]);
        }
        mmr_root(n, &[h])
    });

    // (b) inclusion proof generation for random leaves.
    let idx = random_indexes(proofs, n);
    let (t_gen, our_proofs) =
        best(runs, || idx.iter().map(|&i| mmr.inclusion_proof(i).expect("proof")).collect::<Vec<InclusionProof>>());
    let ckb_size = mmr.nodes().len() as u64;
    let (t_gen_ckb, ckb_proofs) = best(runs, || {
        let m = VecMmr::new(ckb_size, &vec_store);
        idx.iter()
            .map(|&i| m.gen_proof(vec![leaf_index_to_pos(i)]).expect("proof"))
            .collect::<Vec<MerkleProof<Hash, Blake3Merge>>>()
    });
    let (t_gen_ckb_mem, _) = best(3, || {
        let m = MemMMR::<Hash, Blake3Merge>::new(ckb_size, &mem_store);
        idx.iter().map(|&i| m.gen_proof(vec![leaf_index_to_pos(i)]).expect("proof")).collect::<Vec<_>>()
    });

    // (c) verification.
    let (t_ver, ok) = best(runs, || {
        our_proofs.iter().zip(&idx).filter(|(p, i)| p.verify(&leaves[**i as usize], &root).is_ok()).count()
    });
    assert_eq!(ok, proofs);
    let (t_ver_ckb, ok) = best(runs, || {
        ckb_proofs
            .iter()
            .zip(&idx)
            .filter(|(p, i)| p.verify(ckb_root, vec![(leaf_index_to_pos(**i), leaves[**i as usize])]).expect("verify"))
            .count()
    });
    assert_eq!(ok, proofs);
    // Verification floor: the same hashes (path nodes + one root over all peaks), nothing else.
    let peak_count = n.count_ones() as usize;
    let (t_ver_floor, _) = best(runs, || {
        let mut acc = Hash::ZERO;
        let mut peaks = vec![Hash::ZERO; peak_count];
        for (p, i) in our_proofs.iter().zip(&idx) {
            let mut h = leaves[*i as usize];
            for s in p.path() {
                h = mmr_node(&h, s);
            }
            peaks[0] = h;
            acc = mmr_root(n, &peaks);
        }
        acc
    });

    let p = proofs as u64;
    let rows = [
        row("append + root", "xaeroflux Mmr", t_ours, n, [Some(t_ckb_mem), Some(t_ckb_vec), Some(t_floor)]),
        row(
            "append + root",
            "xaeroflux MmrPeaks (no nodes kept)",
            t_peaks,
            n,
            [Some(t_ckb_mem), Some(t_ckb_vec), Some(t_floor)],
        ),
        row(
            "append + root",
            "xaeroflux Mmr, all at once (lanes)",
            t_bulk,
            n,
            [Some(t_ckb_mem), Some(t_ckb_vec), Some(t_floor)],
        ),
        row(
            "append + root",
            "xaeroflux MmrPeaks, all at once (lanes)",
            t_bulk_peaks,
            n,
            [Some(t_ckb_mem), Some(t_ckb_vec), Some(t_floor)],
        ),
        row("append + root", "ckb, MemStore (as shipped)", t_ckb_mem, n, [None, None, Some(t_floor)]),
        row("append + root", "ckb, Vec store", t_ckb_vec, n, [None, None, Some(t_floor)]),
        row("append + root", "floor: mmr_node only", t_floor, n, [None, None, None]),
        row("append + root, memory reused", "xaeroflux Mmr", t_warm, n, [None, Some(t_ckb_warm), Some(t_floor)]),
        row("append + root, memory reused", "ckb, Vec store", t_ckb_warm, n, [None, None, Some(t_floor)]),
        row("inclusion proof gen", "xaeroflux Mmr", t_gen, p, [Some(t_gen_ckb_mem), Some(t_gen_ckb), None]),
        row("inclusion proof gen", "ckb, MemStore", t_gen_ckb_mem, p, [None, None, None]),
        row("inclusion proof gen", "ckb, Vec store", t_gen_ckb, p, [None, None, None]),
        row("inclusion verify", "xaeroflux", t_ver, p, [Some(t_ver_ckb), Some(t_ver_ckb), Some(t_ver_floor)]),
        row("inclusion verify", "ckb", t_ver_ckb, p, [None, None, Some(t_ver_floor)]),
        row("inclusion verify", "floor: same hashes only", t_ver_floor, p, [None, None, None]),
    ];

    println!("MMR benchmark: {n} pre-hashed leaves ({merges} mmr_node merges), {proofs} random leaves proven");
    println!("best of {runs} runs (ckb MemStore: best of 3); ratios are time / reference time (lower is faster)\n");
    println!("| operation | implementation | time | per op | vs ckb MemStore | vs ckb Vec store | vs floor |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        let per = r.time.as_secs_f64() * 1e9 / r.ops as f64;
        let [a, b, c] = r.refs.map(|x| ratio(r.time, x));
        println!("| {} | {} | {} | {per:.1} ns | {a} | {b} | {c} |", r.op, r.imp, fmt_time(r.time));
    }
    println!(
        "\nfresh memory: zero-filling {} MB of new memory (the size of the node list) alone takes {}",
        mmr.nodes().len() * 32 / 1_000_000,
        fmt_time(t_fresh_mem)
    );
    let avg_path = our_proofs.iter().map(|p| p.path().len()).sum::<usize>() as f64 / proofs as f64;
    println!(
        "average path length {avg_path:.2}, {peak_count} peaks; proof bytes: ours {} (encoded), ckb {} (hashes)",
        our_proofs[0].encode().len(),
        ckb_proofs[0].proof_items().len() * 32
    );
}
