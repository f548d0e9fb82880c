//! Connection churn: peers join a hub's space, sync, append and leave, over and over (new
//! nodes and the same node reopened). Nothing leaks: the hub ends with no session, and the
//! process with as many threads and sockets as before the churn.

mod net_common;

use std::time::{Duration, Instant};

use net_common::*;

/// Waits until `f` returns at most `want` (threads and sockets settle asynchronously: a
/// runtime's idle blocking threads end after a keep-alive).
fn settles(want: usize, f: impl Fn() -> usize) -> usize {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let got = f();
        if got <= want || Instant::now() > end {
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn peers_joining_and_leaving_leak_nothing() {
    let (threads0, sockets0) = (thread_count(), socket_count());
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = node(hub_dir.path());
    append_n(&hub, 1, 200, 128);
    let space = space("churn");
    let ticket = hub.ticket(space).unwrap();
    let (threads, sockets) = (thread_count(), socket_count());
    // The count sees the hub's own UDP sockets, so a leaked endpoint would show.
    assert!(sockets > sockets0, "the running hub holds sockets: {sockets}, before: {sockets0}");
    let same_dir = tempfile::tempdir().unwrap();
    for round in 0..8u64 {
        let fresh = tempfile::tempdir().unwrap();
        let dir = if round % 2 == 0 { fresh.path() } else { same_dir.path() };
        let peer = node(dir);
        peer.join_ticket(&ticket).unwrap();
        assert!(wait_until(|| peer.feed_len(&hub.author()) == hub.feed_len(&hub.author())), "round {round}: synced");
        let ev = peer.append(peer.new_event(&round.to_le_bytes())).unwrap();
        assert!(
            wait_until(|| hub.feed_len(&peer.author()) > ev.seq),
            "round {round}: the peer's append reached the hub"
        );
        hub.append(hub.new_event(b"hub")).unwrap();
        if round % 3 == 0 {
            peer.leave_space(&space).unwrap();
        }
        drop(peer);
    }
    assert!(wait_until(|| hub.sync_status().unwrap().peers.is_empty()), "the hub closed every session");
    // The node's byte totals keep the sessions that ended: four fresh peers took the hub's
    // 200 events of 128 bytes each, and every peer sent an event back.
    let st = hub.sync_status().unwrap();
    assert!(st.bytes_out >= 4 * 200 * 128, "bytes sent over the ended sessions: {}", st.bytes_out);
    assert!(st.bytes_in >= 8 * 8, "bytes received over the ended sessions: {}", st.bytes_in);
    let (t, s) = (settles(threads, thread_count), settles(sockets, socket_count));
    assert!(t <= threads, "threads after the churn: {t}, before: {threads}");
    assert!(s <= sockets, "sockets after the churn: {s}, before: {sockets}");
    // And the hub's own sync, when the store closes, takes its threads and sockets with it.
    drop(hub);
    let (t, s) = (settles(threads0, thread_count), settles(sockets0, socket_count));
    assert!(t <= threads0, "threads after the hub closed: {t}, before it opened: {threads0}");
    assert!(s <= sockets0, "sockets after the hub closed: {s}, before it opened: {sockets0}");
}
