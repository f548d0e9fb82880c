//! Four nodes in one space, each introduced only to the previous one (a chain of tickets):
//! gossip spreads heads and addresses, and an event appended on any node reaches all.

mod net_common;

use net_common::*;
use xaeroflux::Core;

#[test]
fn an_append_on_any_node_reaches_all() {
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes: Vec<Core> = dirs.iter().map(|d| node(d.path())).collect();
    let space = space("gossip");
    for (i, n) in nodes.iter().enumerate() {
        append_n(n, i as u8 + 1, 50 + i * 10, 100);
    }
    // A chain: 1 joins 0's ticket, 2 joins 1's, 3 joins 2's.
    nodes[0].join_space(space).unwrap();
    for i in 1..nodes.len() {
        let t = nodes[i - 1].ticket(space).unwrap();
        nodes[i].join_ticket(&t).unwrap();
    }
    let all_hold =
        |nodes: &[Core]| nodes.iter().all(|n| nodes.iter().all(|m| n.feed_len(&m.author()) == m.feed_len(&m.author())));
    assert!(wait_until(|| all_hold(&nodes)), "every node holds every feed");

    // Live: an append at either end reaches every node.
    for round in 0..3u64 {
        for src in [3usize, 0] {
            let ev = nodes[src].append(nodes[src].new_event(&round.to_le_bytes())).unwrap();
            let author = nodes[src].author();
            assert!(
                wait_until(|| nodes.iter().all(|n| n.feed_len(&author) > ev.seq)),
                "round {round}: node {src}'s append reached all"
            );
        }
    }
    assert!(wait_until(|| nodes.windows(2).all(|w| same_feeds(&w[0], &w[1]))), "all converged");
    for n in nodes {
        let t = std::time::Instant::now();
        drop(n);
        assert!(t.elapsed() < std::time::Duration::from_secs(2), "a node stops promptly: {:?}", t.elapsed());
    }
}

/// B introduces C to A's space and leaves: C still gets A's new events, from A directly,
/// which it can only have learnt of (and how to reach) through gossip.
#[test]
fn peers_met_through_gossip_sync_after_the_introducer_leaves() {
    let (da, db, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let space = space("gossip introducer");
    let a = node(da.path());
    let b = node(db.path());
    let c = node(dc.path());
    append_n(&a, 1, 100, 64);
    a.join_space(space).unwrap();
    b.join_ticket(&a.ticket(space).unwrap()).unwrap();
    c.join_ticket(&b.ticket(space).unwrap()).unwrap();
    assert!(wait_until(|| c.feed_len(&a.author()) == 100), "C got A's feed through B");
    // C hears A's announcements (with A's addresses) through B, and keeps A in its peer book
    // (`net.peers`, which stores node ids as they are): wait for that, rather than for a fixed
    // time, which a loaded machine can overrun (it did once in CI with 500 ms).
    let a_id = a.node_id().unwrap();
    let c_id = c.node_id().unwrap();
    let c_knows_a = || std::fs::read(dc.path().join("net.peers")).is_ok_and(|b| b.windows(32).any(|w| w == a_id.0));
    assert!(wait_until(c_knows_a), "C learnt through gossip how to reach A");
    let c_events = c.subscribe().unwrap();
    drop(b);
    for i in 0..5u64 {
        let ev = a.append(a.new_event(&i.to_le_bytes())).unwrap();
        assert!(
            wait_until(|| c.feed_len(&a.author()) > ev.seq),
            "A's append {i} reached C after B left: A {:?} C {:?} events at C: {:?}",
            a.sync_status().unwrap().peers,
            c.sync_status().unwrap().peers,
            std::iter::from_fn(|| c_events.try_recv()).collect::<Vec<_>>()
        );
    }
    let sessions = |n: &Core, other| n.sync_status().unwrap().peers.iter().any(|p| p.peer == other && p.connected);
    assert!(sessions(&a, c_id) || sessions(&c, a_id), "A and C have a session of their own");
}

/// A space's encrypted events cross a relay that lacks the secret: the relay stores, verifies
/// and serves them (its integrity check passes), but cannot read them; a member who reaches
/// the author's feed only through the relay reads every one.
#[test]
fn encrypted_events_cross_a_relay_that_cannot_read_them() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (author, relay) = (node(dirs[0].path()), node(dirs[1].path()));
    let secret = xaeroflux::new_space_secret().unwrap();
    let texts: Vec<String> = (0..300).map(|i| format!("member message {i}")).collect();
    let sealed: Vec<_> =
        texts.iter().map(|t| author.new_event(t.as_bytes()).kind(3).encrypt(&secret).unwrap()).collect();
    author.append_events(sealed).unwrap();
    let space = space("sealed");
    relay.join_ticket(&author.ticket(space).unwrap()).unwrap();
    assert!(wait_until(|| relay.feed_len(&author.author()) == 300), "the relay holds the feed");
    let id = author.author();
    let head = author.head();
    drop(author);

    let other = xaeroflux::new_space_secret().unwrap();
    for ev in relay.iter_feed(&id).unwrap() {
        assert!(ev.flags().contains(xaeroflux::EventFlags::ENCRYPTED));
        assert!(!ev.payload().windows(14).any(|w| w == b"member message"), "the relay sees no plaintext");
        assert!(matches!(ev.decrypt(&other), Err(xaeroflux::DecryptError::OtherSecret { .. })));
    }
    assert!(relay.check_integrity().unwrap().is_ok());

    let member = node(dirs[2].path());
    member.join_ticket(&relay.ticket(space).unwrap()).unwrap();
    assert!(wait_until(|| member.feed_len(&id) == 300), "the member got the feed through the relay");
    assert_eq!(member.feed_head(&id).unwrap(), head);
    let read: Vec<String> =
        member.iter_feed(&id).unwrap().map(|ev| String::from_utf8(ev.decrypt(&secret).unwrap()).unwrap()).collect();
    assert_eq!(read, texts);
}
