//! Two nodes on 127.0.0.1: catch-up of 10 000 events, then live appends both ways.

mod net_common;

use net_common::*;

#[test]
fn catch_up_then_live_both_ways() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(da.path());
    let b = node(db.path());
    append_n(&a, 1, 10_000, 256);
    let space = space("two nodes");
    let ticket = a.ticket(space).unwrap();
    let events = b.subscribe().unwrap();
    b.join_ticket(&ticket.to_string().parse().unwrap()).unwrap();
    assert!(wait_until(|| b.feed_len(&a.author()) == 10_000), "B caught up: {}", b.feed_len(&a.author()));
    assert_eq!(b.feed_head(&a.author()).unwrap(), a.head());
    let got: Vec<Vec<u8>> = b.iter_feed(&a.author()).unwrap().map(|e| e.payload().to_vec()).collect();
    assert_eq!(got, payloads(1, 10_000, 256));
    assert!(
        events.try_iter_any(|e| matches!(e, xaeroflux::net::SyncEvent::Received { .. })),
        "B reported the events it received"
    );

    // Live, both ways.
    for i in 0..20u64 {
        let ev = a.append(a.new_event(&i.to_le_bytes())).unwrap();
        assert!(wait_until(|| b.feed_len(&a.author()) > ev.seq), "A's append {i} reached B");
        let ev = b.append(b.new_event(&i.to_le_bytes())).unwrap();
        assert!(wait_until(|| a.feed_len(&b.author()) > ev.seq), "B's append {i} reached A");
    }
    assert!(wait_until(|| same_feeds(&a, &b)));
    // What sync stored (page rows, proof nodes, the peer's head, arrival runs) checks out.
    for core in [&a, &b] {
        let report = core.check_integrity().unwrap();
        assert!(report.is_ok() && report.feeds == 2, "{report:?}");
    }
    let status = b.sync_status().unwrap();
    assert_eq!(status.spaces, vec![space]);
    assert!(status.peers.iter().any(|p| p.peer == a.node_id().unwrap() && p.behind == 0));
}

trait AnyEvent {
    fn try_iter_any(&self, f: impl FnMut(&xaeroflux::net::SyncEvent) -> bool) -> bool;
}

impl AnyEvent for xaeroflux::net::Subscription {
    fn try_iter_any(&self, mut f: impl FnMut(&xaeroflux::net::SyncEvent) -> bool) -> bool {
        let mut found = false;
        while let Some(e) = self.try_recv() {
            found |= f(&e);
        }
        found
    }
}

/// One connection between two nodes carries every space, whichever node dialed: B dials A for
/// the first space, then A opens the second space's stream on that same connection.
#[test]
fn two_spaces_over_one_connection_opened_by_either_side() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    let b = node_with(db.path(), &["iroh"]);
    append_n(&a, 1, 100, 64);
    append_n(&b, 2, 100, 64);
    let (s1, s2) = (space("first"), space("second"));
    b.join_ticket(&a.ticket(s1).unwrap()).unwrap();
    assert!(wait_until(|| b.feed_len(&a.author()) == 100), "B fetched A's feed in the first space");
    a.join_ticket(&b.ticket(s2).unwrap()).unwrap();
    let both = |c: &xaeroflux::Core, other| {
        let st = c.sync_status().unwrap();
        [s1, s2].iter().all(|s| st.peers.iter().any(|p| p.space == *s && p.peer == other && p.connected))
    };
    let (ia, ib) = (a.node_id().unwrap(), b.node_id().unwrap());
    assert!(wait_until(|| both(&a, ib) && both(&b, ia)), "sessions in both spaces: {:?}", a.sync_status().unwrap());
    assert!(wait_until(|| a.feed_len(&b.author()) == 100));
    let ev = a.append(a.new_event(b"live")).unwrap();
    assert!(wait_until(|| b.feed_len(&a.author()) > ev.seq));
}

/// Misconfigurations are clear errors; a store opened without sync says so.
#[test]
fn sync_configuration_errors() {
    use xaeroflux::net::NetError;
    use xaeroflux::{Core, OpenError};
    let dir = tempfile::tempdir().unwrap();
    let open = |b: &[&str]| Core::builder().with_sync_backends(b).with_net_config(config()).open(dir.path());
    assert!(
        matches!(open(&["iroh", "carrier-pigeon"]), Err(OpenError::Net(NetError::UnknownBackend(b))) if b == "carrier-pigeon")
    );
    assert!(matches!(open(&["iroh-gossip"]), Err(OpenError::Net(NetError::GossipNeedsIroh))));
    let plain = Core::open(dir.path()).unwrap();
    assert!(matches!(plain.join_space(space("x")), Err(NetError::NotRunning)));
    assert!(matches!(plain.subscribe(), Err(NetError::NotRunning)));
    drop(plain);
    let core = open(&["iroh"]).unwrap();
    assert!(matches!(core.leave_space(&space("never joined")), Err(NetError::NotJoined(_))));
    let t = core.ticket(space("y")).unwrap();
    assert_eq!(t.peer, core.node_id().unwrap());
    assert!(!t.addrs.is_empty() && t.addrs.iter().all(|a| a.ip().is_loopback()), "{:?}", t.addrs);
    assert_eq!(core.sync_status().unwrap().spaces, vec![space("y")]);
}

/// Two nodes that hold each other's ticket and join at the same moment both dial: one of the
/// two sessions is kept (`docs/net.md`, "Who dials"), and it alone carries each catch-up, so
/// no feed crosses the link twice. Three rounds with fresh nodes, each a new race.
#[test]
fn both_dial_at_once_and_one_session_carries_the_catch_up() {
    const EVENTS: usize = 20_000;
    const SIZE: usize = 256;
    for round in 0..3u8 {
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = node_with(da.path(), &["iroh"]);
        let b = node_with(db.path(), &["iroh"]);
        append_n(&a, 1, EVENTS, SIZE);
        append_n(&b, 2, EVENTS, SIZE);
        let s = space(&format!("dial race {round}"));
        let (ta, tb) = (a.ticket(s).unwrap(), b.ticket(s).unwrap());
        let start = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                start.wait();
                a.join_ticket(&tb).unwrap();
            });
            scope.spawn(|| {
                start.wait();
                b.join_ticket(&ta).unwrap();
            });
        });
        assert!(wait_until(|| same_feeds(&a, &b)), "round {round}: both caught up");
        let (ia, ib) = (a.node_id().unwrap(), b.node_id().unwrap());
        let sessions = |c: &xaeroflux::Core, other| {
            c.sync_status().unwrap().peers.iter().filter(|p| p.space == s && p.peer == other && p.connected).count()
        };
        assert!(
            wait_until(|| sessions(&a, ib) == 1 && sessions(&b, ia) == 1),
            "round {round}: one session each way: {:?} / {:?}",
            a.sync_status().unwrap().peers,
            b.sync_status().unwrap().peers
        );
        // Each node received the other's feed once: its payload plus the protocol's few
        // percent, far below twice the payload.
        let payload = (EVENTS * SIZE) as u64;
        for (name, c) in [("A", &a), ("B", &b)] {
            let got = c.sync_status().unwrap().bytes_in;
            assert!(got >= payload && got < payload + payload / 4, "round {round}: {name} received {got} bytes");
        }
        let ev = a.append(a.new_event(b"after the race")).unwrap();
        assert!(wait_until(|| b.feed_len(&a.author()) > ev.seq), "round {round}: live append A -> B");
        let ev = b.append(b.new_event(b"after the race")).unwrap();
        assert!(wait_until(|| a.feed_len(&b.author()) > ev.seq), "round {round}: live append B -> A");
    }
}
