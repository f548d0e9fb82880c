//! Property test: the store against a naive in-memory model, through random appends, batches,
//! pipelined batches, oversized events, imports of another feed, reopens and reads.

use proptest::prelude::*;
use xaeroflux::Core;
use xaeroflux_core::mmr::Mmr;
use xaeroflux_core::{AuthorKey, Event, EventFlags};

#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    Batch(Vec<usize>),
    /// Two batches through `submit_batch`, the second submitted before the first is waited for.
    Pipelined(Vec<usize>, Vec<usize>),
    Import(usize),
    Reopen,
    Get(u64),
    Range(u64, u64),
    Iterate,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..400).prop_map(Op::Append),
        1 => (1500usize..3000).prop_map(Op::Append),
        2 => prop::collection::vec(0usize..300, 1..30).prop_map(Op::Batch),
        2 => (prop::collection::vec(0usize..300, 0..30), prop::collection::vec(0usize..300, 1..30))
            .prop_map(|(a, b)| Op::Pipelined(a, b)),
        2 => (0usize..25).prop_map(Op::Import),
        1 => Just(Op::Reopen),
        3 => any::<u64>().prop_map(Op::Get),
        2 => (any::<u64>(), any::<u64>()).prop_map(|(a, b)| Op::Range(a, b)),
        1 => Just(Op::Iterate),
    ]
}

fn bytes(tag: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (tag as usize * 7 + i) as u8).collect()
}

/// The model: each feed's events (encoded), and the arrival order.
#[derive(Default)]
struct Model {
    local: Vec<Vec<u8>>,
    other: Vec<Event>,
    arrival: Vec<(bool, u64)>,
}

fn open(path: &std::path::Path) -> Core {
    Core::builder().with_page_size(1024).with_segment_pages(4).open(path).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let mut core = open(&path);
        let me = core.author();
        let key = AuthorKey::from_secret_bytes(&[5; 32]);
        let them = key.author();
        let mut m = Model::default();
        let mut counter = 0u64;
        for op in ops {
            match op {
                Op::Append(len) => {
                    counter += 1;
                    let p = bytes(counter, len);
                    let a = core.append(core.new_event(&p)).unwrap();
                    prop_assert_eq!(a.seq, m.local.len() as u64);
                    m.arrival.push((true, a.seq));
                    m.local.push(p);
                }
                Op::Batch(lens) => {
                    let ps: Vec<_> = lens.iter().map(|&l| { counter += 1; bytes(counter, l) }).collect();
                    let r = core.append_batch(ps.iter().map(|p| p.as_slice())).unwrap();
                    prop_assert_eq!(r.start, m.local.len() as u64);
                    for (i, p) in ps.into_iter().enumerate() {
                        m.arrival.push((true, r.start + i as u64));
                        m.local.push(p);
                    }
                }
                Op::Pipelined(a, b) => {
                    let mut batch = |lens: &[usize]| -> Vec<Vec<u8>> {
                        lens.iter().map(|&l| { counter += 1; bytes(counter, l) }).collect()
                    };
                    let (pa, pb) = (batch(&a), batch(&b));
                    let before = m.local.len() as u64;
                    let first = core.submit_batch(pa.iter().map(|p| p.as_slice())).unwrap();
                    let second = core.submit_batch(pb.iter().map(|p| p.as_slice())).unwrap();
                    // The first is published once the second is submitted; the second only
                    // once waited for, unless it took the sequential path (tail log full).
                    let (na, nb) = (pa.len() as u64, pb.len() as u64);
                    let seen = core.feed_len(&me);
                    prop_assert!(seen == before + na || seen == before + na + nb, "{} {} {}", seen, na, nb);
                    prop_assert_eq!(first.wait().unwrap(), before..before + na);
                    prop_assert_eq!(second.wait().unwrap(), before + na..before + na + nb);
                    for (i, p) in pa.into_iter().chain(pb).enumerate() {
                        m.arrival.push((true, before + i as u64));
                        m.local.push(p);
                    }
                }
                Op::Import(k) => {
                    let start = m.other.len() as u64;
                    let new: Vec<Event> = (start..start + k as u64)
                        .map(|s| Event::new(them, s, s, 1, EventFlags::NONE, &bytes(s + 1000, (s % 500) as usize)))
                        .collect();
                    let mut mmr = Mmr::new();
                    for e in m.other.iter().chain(&new) {
                        mmr.append(e.leaf_hash());
                    }
                    let head = key.sign_head(start + k as u64, mmr.root());
                    let refs: Vec<_> = new.iter().map(|e| e.as_ref()).collect();
                    core.store_verified(&head, &refs).unwrap();
                    for e in new {
                        m.arrival.push((false, e.seq()));
                        m.other.push(e);
                    }
                    prop_assert_eq!(core.feed_head(&them), Some(head));
                }
                Op::Reopen => {
                    drop(core);
                    core = open(&path);
                }
                Op::Get(s) => {
                    let n = m.local.len() as u64;
                    let seq = s % (n + 2);
                    let got = core.get(&me, seq).unwrap();
                    match m.local.get(seq as usize) {
                        Some(p) => prop_assert_eq!(got.unwrap().payload(), p.as_slice()),
                        None => prop_assert!(got.is_none()),
                    }
                    let on = m.other.len() as u64;
                    let oseq = s % (on + 1);
                    let got = core.get(&them, oseq).unwrap();
                    match m.other.get(oseq as usize) {
                        Some(e) => prop_assert_eq!(got.unwrap().encoded(), e.encoded()),
                        None => prop_assert!(got.is_none()),
                    }
                }
                Op::Range(a, b) => {
                    let n = m.local.len() as u64;
                    let (a, b) = (a % (n + 1), b % (n + 1));
                    let (a, b) = (a.min(b), a.max(b));
                    let got: Vec<_> = core.range(&me, a..b).unwrap().map(|e| e.payload().to_vec()).collect();
                    prop_assert_eq!(&got[..], &m.local[a as usize..b as usize]);
                    prop_assert!(core.range(&me, a..n + 1).is_err());
                }
                Op::Iterate => {}
            }
            // After every step: lengths, roots and the arrival order agree with the model.
            prop_assert_eq!(core.feed_len(&me), m.local.len() as u64);
            prop_assert_eq!(core.feed_len(&them), m.other.len() as u64);
            let order: Vec<(bool, u64)> =
                core.iter_events().map(|e| e.unwrap()).map(|e| (e.author() == me, e.seq())).collect();
            prop_assert_eq!(&order, &m.arrival);
            // And everything the store derives (page rows, proof nodes, roots, heads, runs).
            let report = core.check_integrity().unwrap();
            prop_assert!(report.is_ok(), "{:?}", report.problems);
            prop_assert_eq!(report.events, (m.local.len() + m.other.len()) as u64);
        }
        let mut mmr = Mmr::new();
        for (i, ev) in core.iter_feed(&me).unwrap().enumerate() {
            prop_assert_eq!(ev.payload(), m.local[i].as_slice());
            mmr.append(ev.leaf_hash());
        }
        prop_assert_eq!(mmr.root(), core.mmr_root());
        if !m.local.is_empty() {
            let seq = m.local.len() as u64 / 2;
            let proof = core.inclusion_proof(&me, seq).unwrap();
            xaeroflux::verify_event(&core.get(&me, seq).unwrap().unwrap(), &proof, &core.head()).unwrap();
        }
    }
}
