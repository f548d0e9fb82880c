//! `MemStore` against a naive model: random local appends, imports of other feeds, head
//! adoptions and persist-and-restore round trips; after each step every read, page image,
//! root, head and proof is compared with what the model computes from first principles.

use proptest::prelude::*;
use xaeroflux_core::hash::leaf_hash;
use xaeroflux_core::memstore::{ArrivalRun, FeedState, MemStore, NewEvent, Restore};
use xaeroflux_core::mmr::MmrPeaks;
use xaeroflux_core::page::{PageConfig, pack};
use xaeroflux_core::{AuthorId, AuthorKey, Event, EventFlags, SignedHead};

const AUTHORS: usize = 3; // 0 is local, 1.. are remote

fn key(i: usize) -> AuthorKey {
    AuthorKey::from_secret_bytes(&[i as u8 + 1; 32])
}

#[derive(Clone, Debug)]
enum Op {
    /// Append events (payload length, kind, flags) to feed `a`: the local store's feed for
    /// a = 0, the remote origin's otherwise.
    Append(usize, Vec<(usize, u16, u8)>),
    /// Import the origin's events `[held - back, len * frac]` of remote feed `a` with a head
    /// at that length.
    Import(usize, u8, u8),
    /// Adopt the origin's head at `held * frac` for remote feed `a`.
    Adopt(usize, u8),
    /// Persist everything and rebuild the store from it.
    Restore,
}

fn op() -> impl Strategy<Value = Op> {
    let ev = (prop_oneof![6 => 0usize..200, 1 => 800usize..3000], 0u16..4, 0u8..4);
    prop_oneof![
        4 => (0..AUTHORS, proptest::collection::vec(ev, 0..12)).prop_map(|(a, e)| Op::Append(a, e)),
        3 => (1..AUTHORS, any::<u8>(), any::<u8>()).prop_map(|(a, b, f)| Op::Import(a, b, f)),
        1 => (1..AUTHORS, any::<u8>()).prop_map(|(a, f)| Op::Adopt(a, f)),
        1 => Just(Op::Restore),
    ]
}

/// What the store should hold.
#[derive(Default)]
struct Model {
    /// Every author's full history (the origin), and how much of it the store holds.
    origin: Vec<Vec<Event>>,
    held: Vec<usize>,
    head: Vec<Option<usize>>,
    arrival: Vec<(usize, u64)>,
}

fn root_of(events: &[Event]) -> xaeroflux_core::Hash {
    let mut p = MmrPeaks::new();
    events.iter().for_each(|e| p.append(leaf_hash(e.encoded())));
    p.root()
}

fn signed(a: usize, events: &[Event]) -> SignedHead {
    key(a).sign_head(events.len() as u64, root_of(events))
}

fn check(store: &MemStore, m: &Model, config: &PageConfig, probe: u64) -> Result<(), TestCaseError> {
    let mut count = 0;
    for a in 0..AUTHORS {
        let author = key(a).author();
        let held = &m.origin[a][..m.held[a]];
        count += held.len() as u64;
        prop_assert_eq!(store.feed_len(&author), held.len() as u64);
        for (seq, ev) in held.iter().enumerate() {
            prop_assert_eq!(store.get(&author, seq as u64).map(|e| e.encoded()), Some(ev.encoded()));
        }
        prop_assert!(store.get(&author, held.len() as u64).is_none());
        let lo = probe % (held.len() as u64 + 1);
        let got: Vec<&[u8]> = store.range(&author, lo..lo + 5).map(|e| e.encoded()).collect();
        let want: Vec<&[u8]> = held.iter().skip(lo as usize).take(5).map(|e| e.encoded()).collect();
        prop_assert_eq!(got, want);
        let pages = pack(config, held.iter().map(|e| e.as_ref())).unwrap();
        prop_assert_eq!(store.page_count(&author), pages.len() as u64);
        for (i, p) in pages.iter().enumerate() {
            let img = store.page(&author, i as u64);
            prop_assert_eq!(img.as_deref(), Some(&p[..]));
        }
        if !held.is_empty() {
            prop_assert_eq!(store.root(&author), Some(root_of(held)));
        }
        let head = store.head(&author);
        prop_assert_eq!(head.map(|h| h.length as usize), m.head[a]);
        if let Some(h) = head {
            h.verify().unwrap();
            prop_assert_eq!(h.root, root_of(&held[..h.length as usize]));
            if h.length > 0 {
                let seq = probe % h.length;
                let proof = store.inclusion_proof(&author, seq).unwrap();
                prop_assert!(proof.verify(&held[seq as usize].leaf_hash(), &h.root).is_ok());
                let old = probe % (h.length + 1);
                let cp = store.consistency_proof(&author, old).unwrap();
                prop_assert!(cp.verify(&root_of(&held[..old as usize]), &h.root).is_ok());
                let end = (seq + 1 + probe % 7).min(h.length);
                let rp = store.range_proof(&author, seq..end).unwrap();
                let leaves: Vec<_> = held[seq as usize..end as usize].iter().map(Event::leaf_hash).collect();
                prop_assert!(rp.verify(&leaves, &h.root).is_ok());
            }
        }
    }
    prop_assert_eq!(store.event_count(), count);
    let order: Vec<(AuthorId, u64)> = store.iter_events().map(|e| (e.author(), e.seq())).collect();
    let want: Vec<(AuthorId, u64)> = m.arrival.iter().map(|&(a, s)| (key(a).author(), s)).collect();
    prop_assert_eq!(order, want);
    Ok(())
}

/// Persists everything as bytes (feed states, page images, arrival runs) and rebuilds.
fn persist_and_restore(store: &MemStore, config: PageConfig) -> MemStore {
    let saved: Vec<(Vec<u8>, Vec<Vec<u8>>)> = store
        .feeds()
        .map(|info| {
            let state = store.feed_state(&info.author).unwrap().encode();
            (state, (0..info.pages).map(|p| store.page(&info.author, p).unwrap().into_owned()).collect())
        })
        .collect();
    let runs: Vec<[u8; 48]> = store.arrival_runs().map(|r| r.encode()).collect();
    let mut r = Restore::new(store.key().cloned(), config);
    for (state, pages) in &saved {
        r.feed(&FeedState::decode(state).unwrap(), pages.iter().map(|p| &p[..])).unwrap();
    }
    r.arrival(runs.iter().map(|b| ArrivalRun::decode(b).unwrap())).unwrap();
    r.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn feed_state_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(state) = FeedState::decode(&bytes) {
            prop_assert_eq!(&state.encode(), &bytes);
        }
        let _ = ArrivalRun::decode(&bytes);
    }

    #[test]
    fn memstore_matches_the_model(ops in proptest::collection::vec(op(), 1..25), probe in any::<u64>()) {
        let config = PageConfig::new(1024).unwrap();
        let mut store = MemStore::new(key(0), config);
        let mut m = Model { origin: vec![Vec::new(); AUTHORS], held: vec![0; AUTHORS], head: vec![None; AUTHORS],
            ..Model::default() };
        let mut ts = 1_000_000u64;
        for op in ops {
            match op {
                Op::Append(a, evs) => {
                    let author = key(a).author();
                    let payloads: Vec<Vec<u8>> = evs.iter().map(|(n, k, _)| vec![*k as u8; *n]).collect();
                    let news: Vec<NewEvent> = evs.iter().zip(&payloads).map(|((_, k, f), p)| {
                        ts += 17;
                        NewEvent::new(ts, p).kind(*k).flags(EventFlags(*f & EventFlags::KNOWN))
                    }).collect();
                    let start = m.origin[a].len() as u64;
                    for (i, n) in news.iter().enumerate() {
                        m.origin[a].push(Event::new(author, start + i as u64, n.timestamp_us, n.kind, n.flags, n.payload));
                    }
                    if a == 0 {
                        prop_assert_eq!(store.append_batch(news).unwrap(), start..m.origin[0].len() as u64);
                        for s in start..m.origin[0].len() as u64 { m.arrival.push((0, s)); }
                        m.held[0] = m.origin[0].len();
                        if !m.origin[0].is_empty() { m.head[0] = Some(m.held[0]); }
                    }
                }
                Op::Import(a, back, frac) => {
                    let total = m.origin[a].len();
                    let from = m.held[a].saturating_sub(back as usize % 4);
                    let to = (m.held[a] + (total - m.held[a]) * frac as usize / 255).max(from);
                    if to == 0 { continue; }
                    let head = signed(a, &m.origin[a][..to]);
                    let evs: Vec<_> = m.origin[a][from..to].iter().map(|e| e.as_ref()).collect();
                    let stored = store.import_events(&head, &evs);
                    if to < m.held[a] {
                        // A head shorter than what is held: the events end before... and
                        // the store only takes whole extensions to their head.
                        prop_assert!(stored.is_ok());
                    } else {
                        let stored = stored.unwrap();
                        prop_assert_eq!(stored.seqs.clone(), m.held[a] as u64..to as u64);
                    }
                    for s in m.held[a]..to.max(m.held[a]) { m.arrival.push((a, s as u64)); }
                    m.held[a] = m.held[a].max(to);
                    if m.head[a].is_none_or(|h| h < to) { m.head[a] = Some(to); }
                }
                Op::Adopt(a, frac) => {
                    let len = m.held[a] * frac as usize / 255;
                    let head = signed(a, &m.origin[a][..len]);
                    let adopted = store.adopt_head(&head).unwrap();
                    let newer = m.held[a] > 0 && m.head[a].is_none_or(|h| h < len);
                    prop_assert_eq!(adopted, newer);
                    if newer { m.head[a] = Some(len); }
                }
                Op::Restore => {
                    store = persist_and_restore(&store, config);
                }
            }
            check(&store, &m, &config, probe)?;
        }
    }
}
