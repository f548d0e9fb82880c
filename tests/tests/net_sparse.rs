//! Sparse replication: a store with `Replication::Followed` keeps only the feeds of the
//! authors it follows, and reads any other feed on demand with `Core::fetch_events` (events
//! verified against the author's signed head by a range proof, not stored). On 127.0.0.1,
//! iroh only, so the sessions are the ones the tickets open.

mod net_common;

use std::time::{Duration, Instant};

use net_common::outsider::{Quirks, serve_session, serve_session_with};
use net_common::*;
use xaeroflux::Core;
use xaeroflux::net::{Fetch, FetchError, Replication, SyncEvent};

const N: usize = 10_000;
const SIZE: usize = 256;

/// A store at `dir` that keeps only the feeds it follows.
fn sparse_node(dir: &std::path::Path) -> Core {
    Core::builder()
        .with_page_size(16 * 1024)
        .with_sync_backends(&["iroh"])
        .with_net_config(config().with_replication(Replication::Followed))
        .open(dir)
        .unwrap()
}

/// Whether `fetched` holds exactly `author`'s events `seqs` as `source` stores them.
fn same_events(fetched: &xaeroflux::net::FetchedEvents, source: &Core, seqs: std::ops::Range<u64>) -> bool {
    let author = fetched.head().author;
    let theirs: Vec<(u64, Vec<u8>)> =
        source.range(&author, seqs).unwrap().map(|e| (e.seq(), e.payload().to_vec())).collect();
    let ours: Vec<(u64, Vec<u8>)> = fetched.iter().map(|e| (e.seq(), e.payload().to_vec())).collect();
    ours == theirs
}

/// Written as the proof file of `xf prove` and read back, `proved` verifies with no store.
fn assert_proof_file_verifies(proved: &xaeroflux::net::FetchedProof) {
    use xaeroflux::xaeroflux_core::proof_file::{self, FieldValue, ProofFields, Trust};
    let written = proof_file::encode(&proved.event(), proved.proof(), proved.head());
    let text = |name: &str| match written.iter().find(|(n, _)| *n == name) {
        Some((_, FieldValue::Str(s))) => Some(s.as_str()),
        _ => None,
    };
    let number = |name: &str| match written.iter().find(|(n, _)| *n == name) {
        Some((_, FieldValue::Num(n))) => Some(*n),
        _ => None,
    };
    let file = proof_file::decode(&ProofFields::from_lookup(text, number)).unwrap();
    proof_file::verify(&file, &Trust::default()).unwrap();
}

fn synced_with_every_peer(core: &Core) -> bool {
    let peers = core.sync_status().unwrap().peers;
    !peers.is_empty() && peers.iter().all(|p| p.synced)
}

#[test]
fn a_store_that_follows_no_one_reads_feeds_on_demand() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 1, N, SIZE);
    let b = sparse_node(db.path());
    let author = a.author();
    b.join_ticket(&a.ticket(space("sparse")).unwrap()).unwrap();
    // Asked before the session is up: the fetch waits for a peer that announces the feed.
    let latest = b.fetch_events(&author, Fetch::Latest(20), PATIENCE).unwrap();
    assert_eq!(latest.seqs(), (N - 20) as u64..N as u64);
    assert_eq!(latest.len(), 20);
    assert_eq!(latest.peer(), a.node_id().unwrap());
    assert_eq!(latest.head().length, N as u64);
    assert!(latest.head().verify().is_ok());
    assert!(same_events(&latest, &a, latest.seqs()));
    // No timeout at all.
    let last = b.fetch_events(&author, Fetch::Latest(1), Duration::MAX).unwrap();
    assert_eq!(last.seqs(), N as u64 - 1..N as u64);

    // Synced without the feed: nothing of it fetched, nothing behind.
    assert!(wait_until(|| synced_with_every_peer(&b)));
    assert_eq!(b.feed_len(&author), 0);
    assert_eq!(b.sync_status().unwrap().behind(&space("sparse")), 0);

    // A range over several XSP frames (1.3 MB) comes in several verified messages.
    let t = Instant::now();
    let many = b.fetch_events(&author, Fetch::Seqs(100..5_100), PATIENCE).unwrap();
    eprintln!("5 000 events of 256 B fetched in {:?}", t.elapsed());
    assert_eq!(many.seqs(), 100..5_100);
    assert!(same_events(&many, &a, 100..5_100));
    // Cut to the peer's feed; past its end, none.
    let tail = b.fetch_events(&author, Fetch::Seqs(N as u64 - 10..2 * N as u64), PATIENCE).unwrap();
    assert_eq!(tail.seqs(), N as u64 - 10..N as u64);
    assert!(same_events(&tail, &a, tail.seqs()));
    let past = b.fetch_events(&author, Fetch::Seqs(2 * N as u64..2 * N as u64 + 5), PATIENCE).unwrap();
    assert!(past.is_empty());
    assert_eq!(past.seqs(), N as u64..N as u64);
    // A feed no peer announced: not found once the timeout passed; an empty ask: refused.
    let nobody = xaeroflux::AuthorId([7; 32]);
    let t = Instant::now();
    let err = b.fetch_events(&nobody, Fetch::Latest(1), Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, FetchError::NotFound { author } if author == nobody), "{err}");
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(matches!(b.fetch_events(&author, Fetch::Seqs(5..5), PATIENCE), Err(FetchError::Empty)));
    assert!(matches!(b.fetch_events(&author, Fetch::Latest(0), PATIENCE), Err(FetchError::Empty)));

    // An event with its inclusion proof, to show anyone: the proof file `xf verify` checks.
    let proved = b.fetch_proof(&author, 7, PATIENCE).unwrap();
    assert_eq!(proved.peer(), a.node_id().unwrap());
    assert_eq!(proved.event().seq(), 7);
    assert_eq!(proved.event().payload(), a.get(&author, 7).unwrap().unwrap().payload());
    assert_eq!(*proved.head(), a.head());
    xaeroflux::verify_event(&proved.event(), proved.proof(), proved.head()).unwrap();
    assert_proof_file_verifies(&proved);
    let err = b.fetch_proof(&author, N as u64, PATIENCE).unwrap_err();
    assert!(
        matches!(err, FetchError::OutOfRange { seq, length, .. } if seq == N as u64 && length == N as u64),
        "{err}"
    );
    let err = b.fetch_proof(&nobody, 0, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err}");
    assert!(matches!(b.fetch_proof(&author, u64::MAX, PATIENCE), Err(FetchError::Empty)));

    // A head seen before, checked against the feed as it is now: A appends, and the newer head
    // comes with the proof that it extends the one B saw.
    let seen = *proved.head();
    append_n(&a, 2, 10, SIZE);
    // (Once A's session serves the longer head: a request can reach it before the append's
    // notification does, and is answered with the head it serves then.)
    let mut answered = None;
    assert!(wait_until(|| {
        answered = b.fetch_consistency(&seen, PATIENCE).ok().filter(|now| now.head().length == N as u64 + 10);
        answered.is_some()
    }));
    let now = answered.unwrap();
    assert_eq!(now.peer(), a.node_id().unwrap());
    xaeroflux::verify_consistency(&seen, now.head(), now.proof()).unwrap();
    let mut forged = seen;
    forged.root.0[0] ^= 1;
    assert!(matches!(b.fetch_consistency(&forged, PATIENCE), Err(FetchError::BadHead(_))));

    // Nothing fetched was stored, and only what was read crossed the network.
    assert_eq!(b.feed_len(&author), 0);
    let read = (20 + 5_000 + 10 + 1) * SIZE;
    let bytes_in = b.sync_status().unwrap().bytes_in as usize;
    assert!(bytes_in < read + read / 5 + 64 * 1024, "{bytes_in} bytes in for {read} bytes of events read");
    // A store that keeps every feed (the default) fetches it as before.
    let dc = tempfile::tempdir().unwrap();
    let c = node_with(dc.path(), &["iroh"]);
    c.join_ticket(&a.ticket(space("sparse")).unwrap()).unwrap();
    assert!(wait_until(|| c.feed_len(&author) == N as u64 + 10));
}

#[test]
fn following_keeps_a_feed_and_unfollowing_stops_fetching_it() {
    let (da, db, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 2, N, SIZE);
    let author = a.author();
    let ticket = a.ticket(space("follow")).unwrap();
    // C keeps every feed: it shows when A's appends have crossed the network.
    let c = node_with(dc.path(), &["iroh"]);
    c.join_ticket(&ticket).unwrap();
    let b = sparse_node(db.path());
    b.join_ticket(&ticket).unwrap();
    assert!(wait_until(|| synced_with_every_peer(&b)));
    assert_eq!(b.feed_len(&author), 0);

    // Followed: fetched at once over the open session, then kept live.
    assert!(b.follow(&author).unwrap());
    assert!(!b.follow(&author).unwrap(), "already followed");
    assert_eq!(b.followed().unwrap(), vec![author]);
    assert!(wait_until(|| b.feed_len(&author) == N as u64));
    assert!(same_feeds(&a, &b));
    a.append(a.new_event(b"live")).unwrap();
    assert!(wait_until(|| b.feed_len(&author) == N as u64 + 1));

    // Unfollowed: the session that pushed the feed live takes the want back (XSP's UNWANT)
    // and goes on, synced, without it.
    let events = b.subscribe().unwrap();
    assert!(b.unfollow(&author).unwrap());
    assert!(b.followed().unwrap().is_empty());
    assert!(wait_until(|| synced_with_every_peer(&b)));
    for i in 0..50u8 {
        a.append(a.new_event(&[i; SIZE])).unwrap();
    }
    assert!(wait_until(|| c.feed_len(&author) == N as u64 + 51));
    std::thread::sleep(Duration::from_millis(500));
    // Synced without the feed (a longer head of it just announced leaves a session unsynced
    // for as long as it takes to see it is not wanted, which a loaded machine stretches).
    assert!(wait_until(|| synced_with_every_peer(&b)));
    assert_eq!(b.feed_len(&author), N as u64 + 1, "an unfollowed feed is not fetched");
    let reconnects: Vec<_> = std::iter::from_fn(|| events.try_recv())
        .filter(|e| matches!(e, SyncEvent::PeerDisconnected { .. } | SyncEvent::PeerConnected { .. }))
        .collect();
    assert!(reconnects.is_empty(), "no session was replaced: {reconnects:?}");
    // What it stored stays, and the rest can still be read on demand.
    assert_eq!(b.range(&author, 0..N as u64 + 1).unwrap().count(), N + 1);
    let rest = b.fetch_events(&author, Fetch::Seqs(N as u64 + 1..N as u64 + 51), PATIENCE).unwrap();
    assert!(same_events(&rest, &a, N as u64 + 1..N as u64 + 51));

    // The list is kept in the store: following again survives a restart.
    assert!(b.follow(&author).unwrap());
    drop(b);
    let b = sparse_node(db.path());
    assert_eq!(b.followed().unwrap(), vec![author]);
    b.join_ticket(&ticket).unwrap();
    assert!(wait_until(|| b.feed_len(&author) == N as u64 + 51));
}

/// Of two peers, one holding only a prefix of the feed: a range past that prefix comes whole
/// from the other, and so do the latest events, whichever sent this store the most.
#[test]
fn a_range_one_peer_lacks_comes_from_the_peer_that_holds_it() {
    let (da, db, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 3, 100, SIZE);
    let author = a.author();
    // B holds the first 100 events, and (following no one) fetches no more.
    let b = node_with(db.path(), &["iroh"]);
    b.join_ticket(&a.ticket(space("prefix")).unwrap()).unwrap();
    assert!(wait_until(|| b.feed_len(&author) == 100));
    drop(b);
    let b = sparse_node(db.path());
    append_n(&a, 4, 100, SIZE);

    // C follows B's own feed (so B's session is the one that sent C the most, and is asked
    // first while neither was asked) and reads A's on demand.
    append_n(&b, 5, 1_000, SIZE);
    let c = sparse_node(dc.path());
    c.follow(&b.author()).unwrap();
    c.join_ticket(&b.ticket(space("prefix")).unwrap()).unwrap();
    assert!(wait_until(|| c.feed_len(&b.author()) == 1_000));
    c.join_ticket(&a.ticket(space("prefix")).unwrap()).unwrap();
    assert!(wait_until(|| {
        let peers = c.sync_status().unwrap().peers;
        peers.len() >= 2 && peers.iter().all(|p| p.connected && p.synced)
    }));
    // B's whole prefix, from B (asked first).
    let prefix = c.fetch_events(&author, Fetch::Seqs(10..60), PATIENCE).unwrap();
    assert_eq!(prefix.peer(), b.node_id().unwrap());
    assert!(same_events(&prefix, &a, 10..60));
    assert_eq!(b.feed_len(&author), 100);
    for _ in 0..5 {
        let got = c.fetch_events(&author, Fetch::Seqs(50..150), PATIENCE).unwrap();
        assert_eq!(got.seqs(), 50..150);
        assert_eq!(got.peer(), a.node_id().unwrap());
        assert!(same_events(&got, &a, 50..150));
        // The latest events are those of the longest head (A's), although B was asked first
        // for ranges both hold.
        let latest = c.fetch_events(&author, Fetch::Latest(20), PATIENCE).unwrap();
        assert_eq!(latest.seqs(), 180..200);
        assert_eq!(latest.peer(), a.node_id().unwrap());
        assert_eq!(latest.head().length, 200);
        assert!(same_events(&latest, &a, 180..200));
    }
    // A proof of an event B's prefix lacks comes from A; one both hold, from either (now that
    // both were asked, the one that answered sooner), against that peer's head.
    let proved = c.fetch_proof(&author, 150, PATIENCE).unwrap();
    assert_eq!((proved.peer(), proved.event().seq()), (a.node_id().unwrap(), 150));
    assert_eq!(proved.head().length, 200);
    let proved = c.fetch_proof(&author, 42, PATIENCE).unwrap();
    let from = if proved.peer() == b.node_id().unwrap() { 100 } else { 200 };
    assert_eq!(proved.head().length, from);
    assert_proof_file_verifies(&proved);
}

/// `fetch_events_async` in the caller's own single-threaded runtime: the runtime goes on
/// running other tasks while the fetch waits for the peer.
#[test]
fn an_async_fetch_does_not_block_the_callers_executor() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 6, 1_000, SIZE);
    let author = a.author();
    let b = sparse_node(db.path());
    b.join_ticket(&a.ticket(space("async")).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let (ticks, done) = (std::cell::Cell::new(0u32), std::cell::Cell::new(false));
    let got = rt.block_on(async {
        let fetch = async {
            let r = b.fetch_events_async(&author, Fetch::Latest(5), PATIENCE).await;
            done.set(true);
            r
        };
        let ticker = async {
            while !done.get() {
                tokio::task::yield_now().await;
                ticks.set(ticks.get() + 1);
            }
        };
        tokio::join!(fetch, ticker).0
    });
    let got = got.unwrap();
    assert_eq!(got.seqs(), 995..1_000);
    assert!(same_events(&got, &a, 995..1_000));
    assert!(ticks.get() > 0, "the executor ran other tasks during the fetch");
    eprintln!("the executor ran another task {} times during the fetch", ticks.get());
}

/// Many async fetches at once: fetches waiting for feeds no peer holds (until their timeout)
/// do not hold up a fetch a peer can answer, however many there are.
#[test]
fn async_fetches_run_at_once_without_holding_threads() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 7, 1_000, SIZE);
    let author = a.author();
    let b = std::sync::Arc::new(sparse_node(db.path()));
    b.join_ticket(&a.ticket(space("many")).unwrap()).unwrap();
    assert!(wait_until(|| synced_with_every_peer(&b)));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
    let waiting = Duration::from_secs(4);
    let unknown: Vec<_> = (0..16u8)
        .map(|i| {
            let (b, nobody) = (b.clone(), xaeroflux::AuthorId([i; 32]));
            rt.spawn(async move { b.fetch_events_async(&nobody, Fetch::Latest(1), waiting).await })
        })
        .collect();
    // Give the waiting fetches time to start.
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let got = rt.block_on(b.fetch_events_async(&author, Fetch::Latest(5), PATIENCE)).unwrap();
    let took = started.elapsed();
    assert_eq!(got.seqs(), 995..1_000);
    assert!(same_events(&got, &a, 995..1_000));
    assert!(took < Duration::from_secs(2), "a fetch a peer can answer waited {took:?} behind others");
    for fetch in unknown {
        assert!(matches!(rt.block_on(fetch).unwrap(), Err(FetchError::NotFound { .. })));
    }
    eprintln!("with 16 fetches waiting, a fetch took {took:?}");
}

/// A head seen before that the author's feed no longer extends (the author forked: a restored
/// backup appended again): `fetch_consistency` answers with checked fork evidence, for heads
/// of one length (two roots signed for one length) and of different lengths (the peer's
/// proof that its feed holds something else where the older head ends), which the reader can
/// record. A head the feed does extend is still proved.
#[test]
fn a_head_the_feed_no_longer_extends_is_answered_with_fork_evidence() {
    let (dx, dy, dr) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dy = dy.path().join("copy");
    two_histories(dx.path(), &dy);
    let other = Core::builder().with_page_size(16 * 1024).open(&dy).unwrap();
    let (theirs, mallory) = (other.head(), other.author());
    other.close().unwrap();
    let x = node_with(dx.path(), &["iroh"]);
    let before = x.head();
    assert_eq!((before.author, before.length, theirs.length), (mallory, 10, 10));
    assert_ne!(before.root, theirs.root);

    let reader = sparse_node(dr.path());
    reader.join_ticket(&x.ticket(space("sparse fork")).unwrap()).unwrap();
    let forked = |old: &xaeroflux::SignedHead| match reader.fetch_consistency(old, PATIENCE) {
        Err(FetchError::Forked { peer, evidence }) => {
            assert_eq!(peer, x.node_id().unwrap());
            evidence.verify().unwrap();
            assert_eq!((evidence.first, evidence.second.author), (*old, mallory));
            evidence
        }
        other => panic!("expected the fork, got {other:?}"),
    };
    let same_length = forked(&theirs);
    assert_eq!(same_length.second, x.head());
    assert!(same_length.proof.is_none(), "two roots for one length need no proof");
    let said = reader.fetch_consistency(&theirs, PATIENCE).unwrap_err().to_string();
    assert!(said.contains("forked") && said.contains("length 10"), "{said}");
    append_n(&x, 4, 3, 64);
    // Once the peer's session serves its longer head (a moment after the append; until then
    // it answers with the same-length evidence again).
    let mut longer = forked(&theirs);
    assert!(wait_until(|| {
        longer = forked(&theirs);
        longer.second.length == 13
    }));
    assert_eq!(longer.second, x.head());
    assert!(longer.proof.is_some(), "the peer's proof that its feed differs at length 10");
    // The history the peer does hold is extended, as before.
    let now = reader.fetch_consistency(&before, PATIENCE).unwrap();
    assert_eq!(now.head().length, 13);
    xaeroflux::verify_consistency(&before, now.head(), now.proof()).unwrap();
    // Nothing is recorded on its own; the reader keeps the evidence when it chooses to.
    assert!(reader.forks().is_empty());
    assert!(reader.record_fork(&longer).unwrap());
    assert!(reader.is_forked(&mallory));
}

/// A peer that takes one outstanding request at a time (its HELLO's `max_requests` is 1, as a
/// small device may announce): `fetch_proof` needs one request (the proof is derived from the
/// range proof the event comes with), and the proof is the one the peer's store makes.
#[test]
fn a_proof_from_a_peer_that_takes_one_request_at_a_time() {
    use xaeroflux_core::xsp::{Config, Limits};
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Core::builder().with_page_size(16 * 1024).open(da.path()).unwrap();
    append_n(&a, 1, 300, SIZE);
    let author = a.author();
    let copy = replica_of(&a, &a.head());

    let b = sparse_node(db.path());
    let ticket = b.ticket(space("one request at a time")).unwrap();
    let limits = Limits { max_requests: 1, ..Limits::default() };
    let config = Config::new(ticket.space.0).with_page_size(16 * 1024).unwrap().with_limits(limits).unwrap();
    let peer = std::thread::spawn(move || serve_session(&ticket, config, copy, Duration::from_secs(30)));
    let proved = b.fetch_proof(&author, 7, PATIENCE).unwrap();
    assert_eq!((proved.event().seq(), proved.head().length), (7, 300));
    assert_eq!(proved.event().payload(), a.get(&author, 7).unwrap().unwrap().payload());
    assert_eq!(proved.proof(), &a.inclusion_proof(&author, 7).unwrap());
    assert_proof_file_verifies(&proved);
    b.close().unwrap();
    peer.join().unwrap();
}

/// A peer that announced the feed and then stops answering while its connection stays up (a
/// phone gone to sleep, a faulty or hostile node): a read on demand asks it first (its head is
/// the longest), and after the fetch patience asks the next peer, which answers; so do proofs
/// and consistency checks. Without the patience the read would wait for its whole timeout and
/// fail, though another peer holds the events.
#[test]
fn a_peer_that_stops_answering_is_passed_over_after_the_fetch_patience() {
    use xaeroflux_core::xsp::Config;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Core::builder().with_page_size(16 * 1024).open(da.path()).unwrap();
    append_n(&a, 1, 200, SIZE);
    let (author, at_200) = (a.author(), a.head());
    append_n(&a, 2, 100, SIZE);
    let copy = |head: &xaeroflux::SignedHead| replica_of(&a, head);
    let (all, prefix) = (copy(&a.head()), copy(&at_200));

    let patience = Duration::from_millis(300);
    let b = Core::builder()
        .with_page_size(16 * 1024)
        .with_sync_backends(&["iroh"])
        .with_net_config(config().with_replication(Replication::Followed).with_fetch_patience(patience))
        .open(db.path())
        .unwrap();
    let ticket = b.ticket(space("a silent peer")).unwrap();
    let config = || Config::new(ticket.space.0).with_page_size(16 * 1024).unwrap();
    let mute = Duration::from_secs(1);
    let (t1, t2, c1, c2) = (ticket.clone(), ticket.clone(), config(), config());
    let quirks = Quirks { mute_after: Some(mute), ..Quirks::default() };
    let silent = std::thread::spawn(move || serve_session_with(&t1, c1, all, Duration::from_secs(20), quirks));
    let honest = std::thread::spawn(move || serve_session(&t2, c2, prefix, Duration::from_secs(20)));
    let started = Instant::now();
    let both = || b.sync_status().unwrap().peers.iter().filter(|p| p.connected).count() == 2;
    assert!(wait_until(both), "both peers connected");
    std::thread::sleep(mute.saturating_sub(started.elapsed()) + Duration::from_millis(200));

    let t = Instant::now();
    let got = b.fetch_events(&author, Fetch::Latest(5), PATIENCE).unwrap();
    assert_eq!((got.seqs(), got.head().length), (195..200, 200), "from the peer that answers");
    assert!(same_events(&got, &a, 195..200));
    assert!(t.elapsed() < PATIENCE / 4, "after the patience, not the timeout: {:?}", t.elapsed());
    // A head checked: the silent peer's is the longest, asked first; the other one proves it.
    let now = b.fetch_consistency(&at_200, PATIENCE).unwrap();
    assert_eq!(now.head().length, 200);
    // An event only the silent peer holds: the one that answers holds 200 events.
    let t = Instant::now();
    let err = b.fetch_proof(&author, 250, PATIENCE).unwrap_err();
    assert!(matches!(err, FetchError::OutOfRange { length: 200, .. }), "{err}");
    assert!(t.elapsed() < PATIENCE / 4, "{:?}", t.elapsed());
    b.close().unwrap();
    honest.join().unwrap();
    drop(silent); // it holds its connection until its limit
}

/// Two peers hold the events asked for, one slow to answer (a far or busy peer) though it sent
/// this store the most: after each has been asked once, reads on demand go to the one that
/// answers sooner.
#[test]
fn reads_on_demand_go_to_the_peer_that_answers_sooner() {
    use xaeroflux_core::xsp::Config;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Core::builder().with_page_size(16 * 1024).open(da.path()).unwrap();
    append_n(&a, 1, 299, SIZE);
    let (author, at_299) = (a.author(), a.head());
    append_n(&a, 2, 1, SIZE);
    let copy = |head: &xaeroflux::SignedHead| replica_of(&a, head);
    // The slow peer holds 300 events, the quick one 299: the head of an answer says whose it is.
    let (mut slow_copy, quick_copy) = (copy(&a.head()), copy(&at_299));
    // The slow peer also serves a feed the reader follows, so it sends the reader the most
    // (the order of peers never asked yet).
    let dc = tempfile::tempdir().unwrap();
    let c = Core::builder().with_page_size(16 * 1024).open(dc.path()).unwrap();
    append_n(&c, 3, 500, SIZE);
    let followed: Vec<_> = c.iter_feed(&c.author()).unwrap().collect();
    slow_copy.import_events(&c.head(), &followed).unwrap();

    let b = sparse_node(db.path());
    b.follow(&c.author()).unwrap();
    let ticket = b.ticket(space("a slow peer")).unwrap();
    let config = || Config::new(ticket.space.0).with_page_size(16 * 1024).unwrap();
    let (t1, t2, c1, c2) = (ticket.clone(), ticket.clone(), config(), config());
    let slow_quirks = Quirks { delay: Duration::from_millis(40), ..Quirks::default() };
    let limit = Duration::from_secs(30);
    let slow = std::thread::spawn(move || serve_session_with(&t1, c1, slow_copy, limit, slow_quirks));
    let quick = std::thread::spawn(move || serve_session(&t2, c2, quick_copy, limit));
    let both = || b.sync_status().unwrap().peers.iter().filter(|p| p.connected).count() == 2;
    assert!(wait_until(both), "both peers connected");
    assert!(wait_until(|| b.feed_len(&c.author()) == 500), "the followed feed, from the slow peer");

    let answered_by: Vec<u64> = (0..6)
        .map(|i| {
            let got = b.fetch_events(&author, Fetch::Seqs(i * 10..i * 10 + 10), PATIENCE).unwrap();
            assert!(same_events(&got, &a, i * 10..i * 10 + 10));
            got.head().length
        })
        .collect();
    assert!(
        answered_by[..2].contains(&300) && answered_by[..2].contains(&299),
        "each asked once first: {answered_by:?}"
    );
    assert_eq!(answered_by[2..], [299; 4], "then the quick one: {answered_by:?}");
    b.close().unwrap();
    slow.join().unwrap();
    quick.join().unwrap();
}

#[test]
fn events_read_once_are_read_again_from_memory_even_with_no_peer() {
    let (da, db, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 1, 300, SIZE);
    let (author, peer) = (a.author(), a.node_id().unwrap());
    let b = sparse_node(db.path());
    // The same store kind keeping nothing fetched.
    let c = Core::builder()
        .with_sync_backends(&["iroh"])
        .with_net_config(config().with_replication(Replication::Followed).with_fetch_cache(0))
        .open(dc.path())
        .unwrap();
    let ticket = a.ticket(space("cached")).unwrap();
    b.join_ticket(&ticket).unwrap();
    c.join_ticket(&ticket).unwrap();

    let first = b.fetch_events(&author, Fetch::Seqs(100..200), PATIENCE).unwrap();
    assert!(!first.from_cache());
    assert!(same_events(&first, &a, 100..200));
    // Inside it: from memory, the same events, as the peer sent them.
    let inside = b.fetch_events(&author, Fetch::Seqs(150..170), PATIENCE).unwrap();
    assert!(inside.from_cache());
    assert_eq!((inside.seqs(), inside.len(), inside.peer()), (150..170, 20, peer));
    assert_eq!(inside.head(), first.head());
    assert!(same_events(&inside, &a, 150..170));
    // Reaching past it: from the peer.
    assert!(!b.fetch_events(&author, Fetch::Seqs(190..210), PATIENCE).unwrap().from_cache());

    // The latest events come from memory only while they end where the peers' head ends.
    let latest = b.fetch_events(&author, Fetch::Latest(20), PATIENCE).unwrap();
    assert!(!latest.from_cache());
    let again = b.fetch_events(&author, Fetch::Latest(5), PATIENCE).unwrap();
    assert!(again.from_cache());
    assert_eq!(again.seqs(), 295..300);
    assert!(same_events(&again, &a, 295..300));
    append_n(&a, 2, 1, SIZE);
    // Once B's session has heard of the new head, the latest events come from the peer again.
    assert!(wait_until(|| {
        let got = b.fetch_events(&author, Fetch::Latest(5), PATIENCE).unwrap();
        got.seqs() == (296..301) && !got.from_cache()
    }));

    // The peer gone: what was read is still there, nothing else is.
    c.fetch_events(&author, Fetch::Seqs(100..200), PATIENCE).unwrap();
    drop(a);
    let offline = b.fetch_events(&author, Fetch::Seqs(120..150), Duration::from_millis(200)).unwrap();
    assert!(offline.from_cache());
    let a = Core::builder().open(da.path()).unwrap();
    assert!(same_events(&offline, &a, 120..150));
    assert!(b.fetch_events(&author, Fetch::Seqs(0..10), Duration::from_millis(200)).is_err());
    // A store that keeps nothing fetched has nothing to answer with.
    assert!(c.fetch_events(&author, Fetch::Seqs(120..150), Duration::from_millis(200)).is_err());
}

#[test]
fn events_read_once_are_proved_from_memory_even_with_no_peer() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 1, 3_000, SIZE);
    let author = a.author();
    let b = sparse_node(db.path());
    b.join_ticket(&a.ticket(space("proved")).unwrap()).unwrap();

    // A read larger than one XSP frame comes in several answers, each with its range proof:
    // every event of it is proved from them, against the head its answer was verified with.
    let read = b.fetch_events(&author, Fetch::Seqs(0..3_000), PATIENCE).unwrap();
    assert_eq!(read.seqs(), 0..3_000);
    for seq in [0, 1, 799, 800, 1_234, 2_047, 2_048, 2_999] {
        let proved = read.prove(seq).unwrap();
        assert_eq!(proved.event().seq(), seq);
        assert!(!proved.from_cache());
        xaeroflux::verify_event(&proved.event(), proved.proof(), proved.head()).unwrap();
        let theirs = a.inclusion_proof_at(&author, proved.head().length, seq).unwrap();
        assert_eq!(proved.proof(), &theirs, "the proof the peer's store makes at that head");
        assert_proof_file_verifies(&proved);
    }
    assert!(read.prove(3_000).is_none());
    let part = b.fetch_events(&author, Fetch::Seqs(10..20), PATIENCE).unwrap();
    assert!(part.from_cache());
    assert!(part.prove(9).is_none() && part.prove(20).is_none());
    assert!(part.prove(15).unwrap().from_cache());

    // `fetch_proof` of an event read before: from memory. Of another: from the peer, and kept.
    let kept = b.fetch_proof(&author, 1_500, PATIENCE).unwrap();
    assert!(kept.from_cache());
    xaeroflux::verify_event(&kept.event(), kept.proof(), kept.head()).unwrap();
    append_n(&a, 2, 10, SIZE);
    // (Once B's session has heard of the longer head.)
    let mut fresh = None;
    assert!(wait_until(|| {
        fresh = b.fetch_proof(&author, 3_005, Duration::from_millis(500)).ok();
        fresh.is_some()
    }));
    let fresh = fresh.unwrap();
    assert!(!fresh.from_cache());
    xaeroflux::verify_event(&fresh.event(), fresh.proof(), fresh.head()).unwrap();

    // The peer gone: the events read are still proved, the others are not.
    drop(a);
    for seq in [7, 2_999, 3_005] {
        let proved = b.fetch_proof(&author, seq, Duration::from_millis(200)).unwrap();
        assert!(proved.from_cache(), "#{seq}");
        xaeroflux::verify_event(&proved.event(), proved.proof(), proved.head()).unwrap();
        assert_proof_file_verifies(&proved);
    }
    assert!(b.fetch_proof(&author, 3_004, Duration::from_millis(200)).is_err());
}
