//! Hand-written XSP scenarios, each driven through the simulated world: many feeds with both
//! sides behind, the round trips it takes, sparse reads and proofs, live mode, SYNC_DONE and
//! the normal close, and fork detection.

use xaeroflux_core::AuthorId;
use xaeroflux_core::memstore::NewEvent;
use xaeroflux_core::xsp::{Config, ErrorCode, Event, ProofKind, RangeMode};
use xaeroflux_tests::sim::fixtures::{Origin, world};
use xaeroflux_tests::sim::world::Request;
use xaeroflux_tests::sim::{Rng, World, check};

const SPACE: [u8; 32] = [7; 32];
/// One-way latency of the links.
const LAT: u64 = 10_000;
const FOREVER: u64 = 3_600_000_000;

fn live() -> Config {
    Config::new(SPACE)
}

fn not_live() -> Config {
    Config::new(SPACE).with_live(false)
}

fn lens(w: &World, a: &AuthorId) -> Vec<u64> {
    w.peers.iter().map(|p| p.store.borrow().feed_len(a)).collect()
}

fn seen(w: &World, peer: usize, f: impl Fn(&Event) -> bool) -> usize {
    w.seen.iter().filter(|s| s.peer == peer && f(&s.event)).count()
}

#[test]
fn many_feeds_both_behind_catch_up_one_round_trip_after_hello() {
    let mut w = world(1, 2, &live());
    let origins: Vec<Origin> = (0..60).map(|i| Origin::new(i as u8 + 1, 30, 200)).collect();
    let mut rng = Rng::new(9);
    let mut want = Vec::new();
    let (mut a_ahead, mut b_ahead) = (0, 0);
    for o in &origins {
        let (la, lb) = (rng.range(0, 31), rng.range(0, 31));
        o.give(&mut w.peers[0].store.borrow_mut(), la);
        o.give(&mut w.peers[1].store.borrow_mut(), lb);
        a_ahead += u32::from(la > lb);
        b_ahead += u32::from(lb > la);
        want.push((o.author(), la.max(lb)));
    }
    assert!(a_ahead > 10 && b_ahead > 10, "both sides are behind on some feeds");
    w.connect(0, 1, LAT, 0, 1 << 16);
    assert!(w.run_while(FOREVER, |w| check::converged(w, &want)));
    // HELLO and HEADS cross (half a round trip), WANT goes out and PAGES come back (one round
    // trip): everything is held after 1.5 round trips.
    assert_eq!(w.now, 3 * LAT, "caught up at HELLO + 1 round trip");
    assert!(w.run_while(FOREVER, check::quiet));
    assert!(w.now <= 5 * LAT, "SYNC_DONE crossed within another round trip");
    assert_eq!(w.stats.connections, 1);
    assert!(w.failures.is_empty(), "{:?}", w.failures);
    check::final_state(&w, &want).unwrap();
}

#[test]
fn sparse_reads_and_proofs_without_syncing_the_feed() {
    let mut w = world(2, 2, &live());
    let a = w.author(0);
    let payload = [5u8; 20_000];
    let events: Vec<NewEvent> = (0..100).map(|i| NewEvent::new(i, &payload)).collect();
    w.append(0, &events);
    w.peers[1].store.borrow_mut().exclude(a);
    w.connect(0, 1, LAT, 0, 4096);
    assert!(w.run_while(FOREVER, |w| w.conns[0].sessions[1].remote_heads().any(|h| h.author == a)));
    let asks = [
        Request::Range(RangeMode::Range { start: 10, end: 13 }),
        Request::Range(RangeMode::Latest(4)),
        Request::Range(RangeMode::Range { start: 98, end: 500 }),
        Request::Range(RangeMode::Range { start: 0, end: 100 }), // more than one frame holds
        Request::Proof(ProofKind::Inclusion, 42),
        Request::Proof(ProofKind::Consistency, 17),
        Request::Proof(ProofKind::Inclusion, 100), // out of range
    ];
    for what in asks {
        w.request(0, 1, &a, what);
    }
    assert_eq!(w.asked.len(), asks.len());
    assert!(w.run_while(FOREVER, |w| w.stats.answers == asks.len() as u64));
    check::requests(&w).unwrap();
    let ranges: Vec<(u64, usize)> = w
        .seen
        .iter()
        .filter_map(|s| match &s.event {
            Event::Range(r) => Some((r.start, r.events.len())),
            _ => None,
        })
        .collect();
    assert_eq!(&ranges[..3], [(10, 3), (96, 4), (98, 2)]);
    let (start, n) = ranges[3];
    assert!(start == 0 && n > 0 && n < 100, "a range larger than a frame comes in part ({n} events)");
    // Every event of an answer is provable later from the answer alone, against its head.
    for r in w.seen.iter().filter_map(|s| match &s.event {
        Event::Range(r) => Some(r),
        _ => None,
    }) {
        for (k, ev) in r.events.iter().enumerate() {
            let seq = r.start + k as u64;
            let proof = r.inclusion_proof(seq).expect("a seq of the answer");
            assert_eq!(proof.leaf_index, seq);
            xaeroflux::verify_event(&ev, &proof, &r.head).unwrap();
        }
        assert!(r.inclusion_proof(r.start + r.events.len() as u64).is_none());
    }
    assert_eq!(seen(&w, 1, |e| matches!(e, Event::RequestFailed { .. })), 1);
    assert_eq!(w.peers[1].store.borrow().feed_len(&a), 0, "sparse reads do not store the feed");
    assert!(w.failures.is_empty(), "{:?}", w.failures);
}

#[test]
fn live_appends_flow_after_catch_up() {
    let mut w = world(3, 3, &live());
    let a = w.author(0);
    w.append(0, &[NewEvent::new(1, b"before")]);
    w.connect(0, 1, LAT, 0, 1 << 16);
    w.connect(1, 2, LAT, 0, 1 << 16);
    assert!(w.run_while(FOREVER, |w| check::quiet(w) && lens(w, &a) == [1, 1, 1]));
    let synced_before = w.stats.synced;
    let t = w.now;
    w.append(0, &[NewEvent::new(2, b"live 1"), NewEvent::new(3, b"live 2")]);
    // One hop: the new head and the pushed pages travel together.
    assert!(w.run_while(FOREVER, |w| lens(w, &a)[1] == 3));
    assert!(w.now <= t + LAT, "pushed with the head, without a WANT round trip");
    assert!(w.run_while(FOREVER, |w| lens(w, &a) == [3, 3, 3]));
    assert!(w.now <= t + 2 * LAT, "and relayed at once by the middle peer");
    assert!(w.run_while(FOREVER, check::quiet));
    assert!(w.stats.synced >= synced_before + 4, "every session is synced again");
    assert_eq!(w.stats.connections, 2);
    assert_eq!(w.conns.len(), 2, "live sessions stay open");
    assert!(w.failures.is_empty(), "{:?}", w.failures);
}

#[test]
fn sync_done_closes_sessions_that_are_not_live() {
    let mut w = world(4, 2, &not_live());
    w.append(0, &[NewEvent::new(1, b"a0"), NewEvent::new(2, b"a1")]);
    w.append(1, &[NewEvent::new(1, b"b0")]);
    let want = vec![(w.author(0), 2), (w.author(1), 1)];
    w.connect(0, 1, LAT, 0, 7);
    assert!(w.run_while(FOREVER, |w| w.conns.is_empty()));
    check::final_state(&w, &want).unwrap();
    for p in 0..2 {
        assert_eq!(seen(&w, p, |e| *e == Event::Synced), 1);
        assert_eq!(seen(&w, p, |e| matches!(e, Event::Closed(c) if c.code == ErrorCode::NONE)), 1);
    }
    assert_eq!(w.stats.closed_normally, 2);
    assert!(w.failures.is_empty(), "{:?}", w.failures);
}

/// Two histories of one author: `good` and `evil` differ from seq `at` on.
fn forked(secret: u8, n: u64, at: u64) -> (Origin, Origin) {
    let good = Origin::with_payloads(secret, (0..n).map(|i| vec![i as u8; 50]).collect());
    let evil = Origin::with_payloads(secret, (0..n).map(|i| vec![if i >= at { 0xee } else { i as u8 }; 50]).collect());
    (good, evil)
}

fn fork_scenario(len_a: u64, len_b: u64, at: u64) {
    let mut w = world(5, 2, &live());
    let (good, evil) = forked(50, 8, at);
    let other = Origin::new(51, 10, 80);
    good.give(&mut w.peers[0].store.borrow_mut(), len_a);
    evil.give(&mut w.peers[1].store.borrow_mut(), len_b);
    other.give(&mut w.peers[0].store.borrow_mut(), 10);
    other.give(&mut w.peers[1].store.borrow_mut(), 3);
    w.append(1, &[NewEvent::new(1, b"b's own")]);
    let x = good.author();
    w.connect(0, 1, LAT, 0, 300);
    let want = vec![(other.author(), 10), (w.author(0), 0), (w.author(1), 1)];
    assert!(w.run_while(FOREVER, |w| check::converged(w, &want) && check::quiet(w)));
    assert!(w.failures.is_empty(), "{:?}", w.failures);
    for p in 0..2 {
        let s = w.peers[p].store.borrow();
        let evidence = s.fork(&x).unwrap_or_else(|| panic!("peer {p} recorded the fork"));
        evidence.verify().unwrap();
        assert!(!s.wants(&x));
        assert!(seen(&w, p, |e| matches!(e, Event::Fork(_))) >= 1, "peer {p} was told");
    }
    assert_eq!(lens(&w, &x), [len_a, len_b], "nothing of the forked feed moved");
    assert_eq!(w.peers[0].store.borrow().head(&x), Some(good.head(len_a)));
    assert_eq!(w.peers[1].store.borrow().head(&x), Some(evil.head(len_b)));
}

#[test]
fn fork_of_equal_length_is_detected_and_the_rest_syncs() {
    fork_scenario(6, 6, 3);
}

#[test]
fn fork_found_by_the_longer_side_is_reported_to_the_shorter() {
    fork_scenario(4, 8, 2);
    fork_scenario(8, 4, 2);
}

#[test]
fn consistent_heads_of_different_lengths_are_no_fork() {
    let mut w = world(6, 2, &live());
    let (good, _) = forked(60, 8, 3);
    good.give(&mut w.peers[0].store.borrow_mut(), 3);
    good.give(&mut w.peers[1].store.borrow_mut(), 8);
    w.connect(0, 1, LAT, 0, 300);
    let want = vec![(good.author(), 8)];
    assert!(w.run_while(FOREVER, |w| check::converged(w, &want) && check::quiet(w)));
    assert!(w.peers.iter().all(|p| p.store.borrow().forks().count() == 0));
    assert!(w.failures.is_empty(), "{:?}", w.failures);
}

#[test]
fn an_interrupted_sync_survives_a_restart_and_resumes() {
    // A small window makes the first batches end before the head: they carry consistency
    // proofs, and the receiver keeps the head and proof as a pending head.
    let small = xaeroflux_core::xsp::Limits { max_pages: 2, max_bytes: 64 * 1024, ..Default::default() };
    let mut w = world(7, 2, &live().with_limits(small).unwrap());
    let a = w.author(0);
    let payload = [1u8; 3000];
    let events: Vec<NewEvent> = (0..100).map(|i| NewEvent::new(i, &payload)).collect();
    w.append(0, &events);
    w.connect(0, 1, LAT, 0, 1 << 16);
    assert!(w.run_while(FOREVER, |w| w.peers[1].store.borrow().feed_len(&a) > 0));
    let held = w.peers[1].store.borrow().feed_len(&a);
    assert!(held < 100);
    let pending = w.peers[1].store.borrow().pending_head(&a).cloned().expect("a pending head");
    assert_eq!((pending.head.length, pending.proof.old_leaves), (100, held));
    assert_eq!(w.peers[1].store.borrow().head(&a), None, "no complete head yet");
    // The connection drops and the receiver restarts from its persisted store.
    let id = w.conns[0].id;
    w.drop_conn(id);
    w.restart(1).unwrap();
    assert_eq!(w.peers[1].store.borrow().feed_len(&a), held, "the verified events survived");
    assert_eq!(w.peers[1].store.borrow().pending_head(&a), Some(&pending));
    // Reconnected, the sync resumes from there and completes.
    w.connect(0, 1, LAT, 0, 1 << 16);
    let want = vec![(a, 100), (w.author(1), 0)];
    assert!(w.run_while(FOREVER, |w| check::converged(w, &want) && check::quiet(w)));
    assert_eq!(w.peers[1].store.borrow().pending_head(&a), None);
    check::final_state(&w, &want).unwrap();
    assert!(w.failures.is_empty(), "{:?}", w.failures);
}

#[test]
fn a_shorter_head_confirms_events_held_past_the_own_head() {
    // Peer 1 holds events of peer 0's feed past any complete head (an interrupted sync);
    // peer 2 announces a shorter head of the same history: peer 1 confirms and adopts it, and
    // can then serve those events.
    let small = xaeroflux_core::xsp::Limits { max_pages: 2, max_bytes: 64 * 1024, ..Default::default() };
    let mut w = world(8, 3, &live().with_limits(small).unwrap());
    let a = w.author(0);
    let payload = [2u8; 3000];
    let events: Vec<NewEvent> = (0..100).map(|i| NewEvent::new(i, &payload)).collect();
    w.append(0, &events);
    w.connect(0, 1, LAT, 0, 1 << 16);
    assert!(w.run_while(FOREVER, |w| w.peers[1].store.borrow().feed_len(&a) >= 30));
    let id = w.conns[0].id;
    w.drop_conn(id);
    let held = w.peers[1].store.borrow().feed_len(&a);
    assert!(w.peers[1].store.borrow().head(&a).is_none() && held < 100);
    let k = held / 2;
    {
        let src = w.peers[0].store.borrow();
        let root = src.peaks_at(&a, k).unwrap().root();
        let head = w.peers[0].key.sign_head(k, root);
        let evs: Vec<_> = src.range(&a, 0..k).collect();
        w.peers[2].store.borrow_mut().import_events(&head, &evs).unwrap();
    }
    w.connect(2, 1, LAT, 0, 1 << 16);
    assert!(w.run_while(FOREVER, check::quiet));
    assert_eq!(w.peers[1].store.borrow().head(&a).map(|h| h.length), Some(k), "the shorter head was adopted");
    assert_eq!(w.peers[1].store.borrow().feed_len(&a), held);
    assert!(w.failures.is_empty(), "{:?}", w.failures);
}

/// Peer 1 holds the first events of X's feed past any complete head, verified against X's
/// head of 100 events (the pending head an interrupted sync leaves). Peer 2 holds `len` events
/// of X's feed, the same history up to seq `parting` and another one from there (no fork if
/// `parting >= len`), and a feed peer 1 lacks. Peer 2 connects to peer 1; the other feed must
/// sync in every case, and X's pending head must be found forked exactly when the histories
/// part before its length.
fn held_past_the_head_and_a_peer_with(len: u64, parting: u64) {
    let small = xaeroflux_core::xsp::Limits { max_pages: 2, max_bytes: 64 * 1024, ..Default::default() };
    let mut w = world(9, 3, &live().with_limits(small).unwrap());
    let history = |n: u64, at: u64| (0..n).map(|i| vec![if i >= at { 0xee } else { i as u8 }; 3000]).collect();
    let (good, theirs) =
        (Origin::with_payloads(90, history(100, 100)), Origin::with_payloads(90, history(len, parting)));
    let other = Origin::new(91, 10, 80);
    let x = good.author();
    good.give(&mut w.peers[0].store.borrow_mut(), 100);
    theirs.give(&mut w.peers[2].store.borrow_mut(), len);
    other.give(&mut w.peers[2].store.borrow_mut(), 10);
    w.connect(0, 1, LAT, 0, 1 << 16);
    assert!(w.run_while(FOREVER, |w| w.peers[1].store.borrow().feed_len(&x) >= 30));
    let id = w.conns[0].id;
    w.drop_conn(id);
    let held = w.peers[1].store.borrow().feed_len(&x);
    let pending = w.peers[1].store.borrow().pending_head(&x).map(|p| p.head);
    assert!(held < 50 && w.peers[1].store.borrow().head(&x).is_none());
    assert_eq!(pending, Some(good.head(100)));

    w.connect(2, 1, LAT, 0, 1 << 16);
    let forked = parting < 100.min(len);
    let x_done = |w: &World| forked || w.peers[1].store.borrow().feed_len(&x) == len;
    let done = w.run_while(FOREVER, |w| lens(w, &other.author()) == [0, 10, 10] && x_done(w) && check::quiet(w));
    assert!(done && w.failures.is_empty(), "{:?}", w.failures);
    assert!(w.connected(2, 1), "the session stays open");
    if !forked {
        assert!(w.peers.iter().all(|p| p.store.borrow().fork(&x).is_none()));
        assert_eq!(w.peers[1].store.borrow().head(&x), Some(theirs.head(len)), "the sync completed");
        return;
    }
    for p in [1, 2] {
        let s = w.peers[p].store.borrow();
        let evidence = s.fork(&x).unwrap_or_else(|| panic!("peer {p} recorded the fork"));
        evidence.verify().unwrap();
        assert_eq!((evidence.first, evidence.second), (good.head(100), theirs.head(len)));
        assert!(seen(&w, p, |e| matches!(e, Event::Fork(_))) == 1, "peer {p} was told");
    }
    assert_eq!(lens(&w, &x), [100, held, len], "nothing of the forked feed moved");
}

#[test]
fn events_held_past_the_head_and_a_peer_on_another_branch_are_a_fork() {
    // Heads of one length: the fork shows at once.
    held_past_the_head_and_a_peer_with(100, 5);
}

#[test]
fn a_longer_head_parting_before_the_events_held_is_a_fork() {
    // The pages would fail to verify against the held events; the session asks the peer to
    // prove its head extends the pending one first, and its proof shows the fork.
    held_past_the_head_and_a_peer_with(150, 5);
}

#[test]
fn a_longer_head_parting_after_the_events_held_is_a_fork() {
    // The pages from the held events would verify against the peer's head; only the proof
    // against the pending head shows that the feed forked between the two.
    held_past_the_head_and_a_peer_with(150, 60);
}

#[test]
fn a_longer_head_extending_the_pending_one_is_synced() {
    held_past_the_head_and_a_peer_with(150, 150);
}
