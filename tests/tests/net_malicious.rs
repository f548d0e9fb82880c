//! A malicious node on the network: it speaks XSP to an honest node over a real iroh
//! connection, announcing a forged head, then serving tampered pages of an honest author's
//! feed. The honest node rejects both (reported as `SyncEvent::Rejected`), stores nothing
//! that does not verify, and still converges with the honest author. On gossip, it announces
//! forged heads (and garbage): reported as `SyncEvent::BadAnnouncement`, and no session is
//! opened for them. A peer that accepts streams and never answers is given up after the
//! handshake window and redialled.

mod net_common;

use std::time::{Duration, Instant};

use iroh::EndpointId;
use net_common::outsider::{announcement, gossip_from_outsider, loopback_endpoint, serve_session};
use net_common::*;
use xaeroflux::Core;
use xaeroflux::net::{SyncEvent, Ticket, XSP_ALPN};
use xaeroflux_core::memstore::MemStore;
use xaeroflux_core::mmr::{ConsistencyProof, InclusionProof, MmrPeaks, RangeProof};
use xaeroflux_core::xsp::{Config, FeedSource, SessionError};
use xaeroflux_core::{AuthorId, Event, PageBuilder, PageConfig, PageRef, SignedHead};

const PAGE: u32 = 16 * 1024;

/// What the malicious source lies about.
#[derive(Clone, Copy, PartialEq)]
enum Lie {
    /// Heads with a broken signature.
    ForgedHead,
    /// Page `n` of every feed with one payload byte changed (and a valid page checksum).
    TamperedPage(u64),
}

/// A store that holds real feeds and lies about them.
struct Evil {
    store: MemStore,
    lie: Lie,
}

impl Evil {
    fn forge(&self, mut h: SignedHead) -> SignedHead {
        if self.lie == Lie::ForgedHead {
            h.signature[7] ^= 1;
        }
        h
    }
}

impl FeedSource for Evil {
    fn for_each_head(&self, f: &mut dyn FnMut(&SignedHead)) {
        FeedSource::for_each_head(&self.store, &mut |h| f(&self.forge(*h)));
    }
    fn head(&self, author: &AuthorId) -> Option<SignedHead> {
        FeedSource::head(&self.store, author).map(|h| self.forge(h))
    }
    fn prefix(&self, author: &AuthorId) -> Option<MmrPeaks> {
        FeedSource::prefix(&self.store, author)
    }
    fn locate(&self, author: &AuthorId, seq: u64) -> Option<(u64, u64)> {
        FeedSource::locate(&self.store, author, seq)
    }
    fn with_page(&self, author: &AuthorId, page: u64, f: &mut dyn FnMut(&[u8])) -> bool {
        let Lie::TamperedPage(bad) = self.lie else { return FeedSource::with_page(&self.store, author, page, f) };
        if page != bad {
            return FeedSource::with_page(&self.store, author, page, f);
        }
        let mut image = None;
        FeedSource::with_page(&self.store, author, page, &mut |img| {
            let config = PageConfig::new(PAGE).unwrap();
            let p = PageRef::parse(img, &config).unwrap();
            let mut b = PageBuilder::new(config, p.author(), p.first_seq());
            for (i, ev) in p.events().enumerate() {
                let mut payload = ev.payload().to_vec();
                if i == 3 {
                    payload[10] ^= 0x55;
                }
                let e = Event::new(ev.author(), ev.seq(), ev.timestamp_us(), ev.kind(), ev.flags(), &payload);
                b.push(e.as_ref()).unwrap();
            }
            image = Some(b.finish());
        });
        match image {
            Some(img) => {
                f(&img);
                true
            }
            None => false,
        }
    }
    fn consistency_proof(&self, author: &AuthorId, old: u64, new: u64) -> Option<ConsistencyProof> {
        FeedSource::consistency_proof(&self.store, author, old, new)
    }
    fn inclusion_proof(&self, author: &AuthorId, leaves: u64, index: u64) -> Option<InclusionProof> {
        FeedSource::inclusion_proof(&self.store, author, leaves, index)
    }
    fn range_proof(&self, author: &AuthorId, leaves: u64, start: u64, end: u64) -> Option<RangeProof> {
        FeedSource::range_proof(&self.store, author, leaves, start, end)
    }
    fn wants(&self, _: &AuthorId) -> bool {
        false
    }
}

/// Connects to the ticket's node as an XSP initiator serving `source`, until the session
/// closes or `limit` passes.
fn run_evil(ticket: &Ticket, source: Evil, limit: Duration) {
    let config = Config::new(ticket.space.0).with_page_size(PAGE).unwrap();
    serve_session(ticket, config, source, limit);
}

/// Waits for a rejection from `peer` in `events`; returns its error.
fn rejection(events: &xaeroflux::net::Subscription) -> Option<SessionError> {
    let end = Instant::now() + PATIENCE;
    while Instant::now() < end {
        if let Some(SyncEvent::Rejected { error, .. }) = events.recv_timeout(Duration::from_millis(100)) {
            return Some(error);
        }
    }
    None
}

#[test]
fn forged_heads_and_tampered_pages_are_rejected_and_honest_nodes_converge() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let space = space("malicious");
    let a = node(da.path());
    let b = node(db.path());
    append_n(&a, 1, 3000, 256);
    let b_ticket = b.ticket(space).unwrap();
    let events = b.subscribe().unwrap();

    // 1. A forged head.
    let evil = Evil { store: replica_of(&a, &a.head()), lie: Lie::ForgedHead };
    run_evil(&b_ticket, evil, Duration::from_secs(10));
    let err = rejection(&events).expect("the forged head was reported");
    assert!(matches!(err, SessionError::BadSignature(author) if author == a.author()), "{err:?}");
    assert_eq!(b.feed_len(&a.author()), 0, "nothing stored from a forged head");

    // 2. Tampered pages of A's feed (page 2 altered, checksum recomputed).
    let evil = Evil { store: replica_of(&a, &a.head()), lie: Lie::TamperedPage(2) };
    run_evil(&b_ticket, evil, Duration::from_secs(10));
    let err = rejection(&events).expect("the tampered page was reported");
    assert!(matches!(err, SessionError::Verification { .. } | SessionError::BadPage { .. }), "{err:?}");
    let held = b.feed_len(&a.author());
    assert!(held < 3000, "the batch with the tampered page was not stored ({held})");
    for (i, ev) in b.iter_feed(&a.author()).unwrap().enumerate() {
        assert_eq!(ev.encoded(), a.get(&a.author(), i as u64).unwrap().unwrap().encoded(), "event {i} is genuine");
    }

    // 3. The honest nodes are unaffected and converge.
    b.join_ticket(&a.ticket(space).unwrap()).unwrap();
    assert!(wait_until(|| same_feeds(&a, &b)), "A and B converge");
    let ev = a.append(a.new_event(b"still live")).unwrap();
    assert!(wait_until(|| b.feed_len(&a.author()) > ev.seq));
}

/// Waits for `n` `BadAnnouncement` reports on `events`; returns how many came.
fn bad_announcements(events: &xaeroflux::net::Subscription, n: usize) -> usize {
    let mut bad = 0;
    let end = Instant::now() + PATIENCE;
    while bad < n && Instant::now() < end {
        if let Some(SyncEvent::BadAnnouncement { .. }) = events.recv_timeout(Duration::from_millis(100)) {
            bad += 1;
        }
    }
    bad
}

#[test]
fn forged_gossip_announcements_are_reported_and_ignored() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let space = space("malicious gossip");
    let a = node(da.path());
    let b = node(db.path());
    append_n(&a, 1, 100, 64);
    let b_ticket = b.ticket(space).unwrap();
    let events = b.subscribe().unwrap();
    gossip_from_outsider(&b_ticket, |ep| {
        // A's real head with a flipped signature bit, in an announcement the evil node signed.
        let mut forged = a.head();
        forged.signature[0] ^= 1;
        let topic = space.gossip_topic();
        vec![
            announcement(ep.id().as_bytes(), 1, &[], &forged, &topic, ep.secret_key()),
            b"not an announcement".to_vec(),
        ]
    });
    assert_eq!(bad_announcements(&events, 2), 2, "both bad announcements were reported");
    assert_eq!(b.feed_len(&a.author()), 0, "nothing fetched for a forged head");
    assert!(b.sync_status().unwrap().peers.is_empty(), "no session was opened for it");
}

/// An announcement claiming to come from another node, in a later incarnation, would make
/// its receivers end their sessions with that node as dead: it is refused, since only the
/// origin's node key can sign for the origin, and the sessions go on.
#[test]
fn an_announcement_for_another_node_is_refused_and_its_sessions_go_on() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let space = space("impersonation");
    let a = node(da.path());
    let b = node(db.path());
    append_n(&a, 1, 100, 64);
    b.join_ticket(&a.ticket(space).unwrap()).unwrap();
    assert!(wait_until(|| same_feeds(&a, &b)), "A and B sync");
    let a_id = a.node_id().unwrap();
    let events = b.subscribe().unwrap();
    gossip_from_outsider(&b.ticket(space).unwrap(), |ep| {
        let topic = space.gossip_topic();
        vec![announcement(&a_id.0, u64::MAX, &[], &a.head(), &topic, ep.secret_key())]
    });
    assert_eq!(bad_announcements(&events, 1), 1, "the impersonation was reported");
    let st = b.sync_status().unwrap();
    assert!(st.peers.iter().any(|p| p.peer == a_id && p.connected), "B's session with A goes on: {st:?}");
    let disconnected = std::iter::from_fn(|| events.try_recv())
        .any(|e| matches!(e, SyncEvent::PeerDisconnected { peer, .. } if peer == a_id));
    assert!(!disconnected, "B's session with A was not ended");
    let ev = a.append(a.new_event(b"still live")).unwrap();
    assert!(wait_until(|| b.feed_len(&a.author()) > ev.seq), "and still carries A's appends");
}

/// Every stream the honest node opened to the silent peer: when it opened, and when the
/// honest node gave it up.
type Streams = std::sync::Arc<std::sync::Mutex<Vec<(Instant, Option<Instant>)>>>;

/// A node that accepts XSP streams and never answers, until `stop` is dropped: sends its id
/// and addresses on `ready`, then records every stream in `streams`.
fn silent_peer(
    ready: std::sync::mpsc::Sender<(EndpointId, Vec<std::net::SocketAddr>)>,
    streams: Streams,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async move {
        let ep = loopback_endpoint(vec![XSP_ALPN.to_vec()]).await;
        ready.send((ep.id(), ep.bound_sockets())).unwrap();
        let accept = async {
            while let Some(incoming) = ep.accept().await {
                let Ok(conn) = incoming.await else { continue };
                let streams = streams.clone();
                tokio::spawn(async move {
                    while let Ok((send, mut recv)) = conn.accept_bi().await {
                        let i = {
                            let mut s = streams.lock().unwrap();
                            s.push((Instant::now(), None));
                            s.len() - 1
                        };
                        let streams = streams.clone();
                        tokio::spawn(async move {
                            let mut buf = [0u8; 4096];
                            while let Ok(Some(_)) = recv.read(&mut buf).await {}
                            streams.lock().unwrap()[i].1 = Some(Instant::now());
                            drop(send);
                        });
                    }
                });
            }
        };
        tokio::select! {
            _ = accept => {}
            _ = stop => {}
        }
        ep.close().await;
    });
}

#[test]
fn a_peer_that_never_answers_our_hello_is_given_up_after_the_handshake_window_and_redialled() {
    let dir = tempfile::tempdir().unwrap();
    let honest = node_with(dir.path(), &["iroh"]);
    let streams = Streams::default();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let (stop, stop_rx) = tokio::sync::oneshot::channel();
    let server = {
        let streams = streams.clone();
        std::thread::spawn(move || silent_peer(ready_tx, streams, stop_rx))
    };
    let (id, addrs) = ready.recv().unwrap();
    let ticket = Ticket {
        space: space("silent peer"),
        peer: xaeroflux::net::PeerId(*id.as_bytes()),
        addrs,
        relay: None,
        onion: None,
    };
    honest.join_ticket(&ticket).unwrap();
    let end = Instant::now() + Duration::from_secs(25);
    while streams.lock().unwrap().len() < 2 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    let seen = streams.lock().unwrap().clone();
    assert!(seen.len() >= 2, "redialled after giving the silent session up ({} streams)", seen.len());
    let (opened, ended) = seen[0];
    let ended = ended.expect("the first stream was given up");
    let waited = ended.duration_since(opened);
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(15),
        "given up after the 10 s handshake window, not at the idle timeout ({waited:?})"
    );
    assert!(seen[1].0 >= ended, "the second stream came after the first was given up");
    drop(honest);
    let _ = stop.send(());
    server.join().unwrap();
}

/// An author who appends two different histories from two copies of one store (an
/// equivocation, as a restored backup appending again would make): a node that meets both
/// reports the fork and records the evidence, and after a restart it still holds the evidence
/// and fetches no more of that feed, while the session with the author's node goes on.
#[test]
fn an_author_who_forks_is_recorded_and_stays_stopped_after_a_restart() {
    let (dx, dy, da) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dy = dy.path().join("copy");
    two_histories(dx.path(), &dy);
    let x = node(dx.path());
    let y = node(&dy);
    let mallory = x.author();
    assert_eq!(y.author(), mallory);
    assert_ne!(x.head().root, y.head().root, "two histories of one length");

    let space = space("fork");
    let a = node(da.path());
    let events = a.subscribe().unwrap();
    a.join_ticket(&x.ticket(space).unwrap()).unwrap();
    assert!(wait_until(|| a.feed_len(&mallory) == 10), "A holds X's history");
    a.join_ticket(&y.ticket(space).unwrap()).unwrap();
    let deadline = Instant::now() + PATIENCE;
    let mut reported = None;
    while reported.is_none() && Instant::now() < deadline {
        if let Some(SyncEvent::Fork { evidence, .. }) = events.recv_timeout(Duration::from_millis(100)) {
            reported = Some(evidence);
        }
    }
    let evidence = reported.expect("A reports the fork");
    assert_eq!(evidence.author(), mallory);
    assert!(wait_until(|| a.is_forked(&mallory)), "and records it in its store");
    drop(y);
    a.close().unwrap();

    let a = node(da.path());
    assert_eq!(a.forks(), vec![*evidence], "the evidence is kept across the restart");
    assert!(a.feeds().iter().any(|f| f.author == mallory && f.forked));
    append_n(&x, 4, 3, 64);
    a.join_ticket(&x.ticket(space).unwrap()).unwrap();
    let x_id = x.node_id().unwrap();
    assert!(
        wait_until(|| a.sync_status().unwrap().peers.iter().any(|p| p.peer == x_id && p.connected && p.synced)),
        "A's session with X runs and settles"
    );
    assert_eq!(a.feed_len(&mallory), 10, "nothing more of the forked feed is fetched");
    let report = a.check_integrity().unwrap();
    assert!(report.is_ok(), "{report:?}");
}

/// Fork evidence the application records while sync runs (say, evidence a friend sent) stops
/// the running sync from fetching the feed at once, not only after a restart.
#[test]
fn fork_evidence_recorded_by_the_application_stops_the_running_sync_of_that_feed() {
    let (dx, dy, da) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dy = dy.path().join("copy");
    two_histories(dx.path(), &dy);
    let y = Core::builder().with_page_size(PAGE).open(&dy).unwrap();
    let x = node(dx.path());
    let mallory = x.author();

    let a = node(da.path());
    a.join_ticket(&x.ticket(space("recorded fork")).unwrap()).unwrap();
    assert!(wait_until(|| a.feed_len(&mallory) == 10), "A holds X's history");
    let evidence = xaeroflux_core::xsp::ForkEvidence { first: x.head(), second: y.head(), proof: None };
    assert!(a.record_fork(&evidence).unwrap());

    append_n(&x, 4, 3, 64);
    let (x_id, x_len) = (x.node_id().unwrap(), x.feed_len(&mallory));
    assert_eq!(x_len, 13);
    // A's session with X hears of the longer head (announced at once), and must not want it.
    assert!(
        wait_until(|| a.sync_status().unwrap().peers.iter().any(|p| p.peer == x_id && p.connected && p.synced)),
        "A's session with X settles"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a.feed_len(&mallory), 10, "nothing more of the forked feed is stored");
    let status = a.sync_status().unwrap();
    let with_x = status.peers.iter().find(|p| p.peer == x_id).expect("the session with X");
    assert_eq!(with_x.behind, 0, "the forked feed's longer head is not counted as wanted: {with_x:?}");
    assert_eq!(with_x.received_events, 10, "nor fetched");
}
