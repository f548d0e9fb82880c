//! A feed that several peers hold is downloaded once: a store's sessions claim the feeds they
//! fetch, and a session whose peer announces a feed another session is fetching defers its
//! want until that session has stored it (then it wants nothing) or has ended (then it
//! fetches the rest). On 127.0.0.1, iroh only (no gossip), so the sessions are the ones the
//! tickets open.

mod net_common;

use std::time::{Duration, Instant};

use net_common::*;
use xaeroflux::Core;
use xaeroflux::net::SyncEvent;

const SIZE: usize = 256;

/// A store holding `n` events of `author`'s feed, synced from `from`.
fn synced_copy(dir: &std::path::Path, from: &Core, name: &str, n: u64) -> Core {
    let copy = node_with(dir, &["iroh"]);
    copy.join_ticket(&from.ticket(space(name)).unwrap()).unwrap();
    assert!(wait_until(|| copy.feed_len(&from.author()) == n), "the copy caught up");
    copy
}

fn no_rejections(events: &xaeroflux::net::Subscription) {
    while let Some(e) = events.try_recv() {
        assert!(!matches!(e, SyncEvent::Rejected { .. }), "a session was rejected: {e:?}");
    }
}

#[test]
fn a_feed_two_peers_hold_is_downloaded_once() {
    let n = 20_000;
    let (da, db, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 1, n, SIZE);
    let b = synced_copy(db.path(), &a, "two sources", n as u64);

    let c = node_with(dc.path(), &["iroh"]);
    let events = c.subscribe().unwrap();
    c.join_ticket(&a.ticket(space("two sources")).unwrap()).unwrap();
    c.join_ticket(&b.ticket(space("two sources")).unwrap()).unwrap();
    assert!(wait_until(|| c.feed_len(&a.author()) == n as u64));
    assert!(wait_until(|| c.sync_status().unwrap().peers.iter().filter(|p| p.synced).count() == 2));
    assert!(same_feeds(&a, &c));
    let status = c.sync_status().unwrap();
    let payload = (n * SIZE) as f64;
    let ratio = status.bytes_in as f64 / payload;
    // One download: the payload and XSP's ≈ 1.5 % overhead (two copies would be ≈ 2.03×).
    assert!(ratio < 1.1, "{} bytes in for {payload} of payload ({ratio:.2}×): {:?}", status.bytes_in, status.peers);

    // Live appends of A reach C (A's session pushes them; B's, deferred, does not hold them
    // up), and the announcements of B, which come after, fetch nothing more.
    let from = |c: &Core, peer| -> u64 {
        c.sync_status().unwrap().peers.iter().filter(|p| p.peer == peer).map(|p| p.bytes_in).sum()
    };
    let events_from = |c: &Core, peer| -> u64 {
        c.sync_status().unwrap().peers.iter().filter(|p| p.peer == peer).map(|p| p.received_events).sum()
    };
    let (peer_a, peer_b) = (a.node_id().unwrap(), b.node_id().unwrap());
    let (a0, b0) = (from(&c, peer_a), from(&c, peer_b));
    let (ea0, eb0) = (events_from(&c, peer_a), events_from(&c, peer_b));
    assert_eq!(ea0 + eb0, n as u64, "each event of the catch-up was received once");
    let live = 100;
    for i in 0..live {
        a.append(a.new_event(&[i as u8; SIZE])).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let total = (n + live) as u64;
    assert!(wait_until(|| c.feed_len(&a.author()) == total && b.feed_len(&a.author()) == total));
    std::thread::sleep(Duration::from_millis(200));
    eprintln!(
        "live: {} bytes and {} events from A's session, {} bytes and {} events from B's, for {} bytes of payload",
        from(&c, peer_a) - a0,
        events_from(&c, peer_a) - ea0,
        from(&c, peer_b) - b0,
        events_from(&c, peer_b) - eb0,
        live * SIZE
    );
    assert!(
        events_from(&c, peer_b) - eb0 < live as u64 / 2,
        "the live appends came over A's session, not over B's as well"
    );
    assert!(same_feeds(&a, &c));
    no_rejections(&events);
}

#[test]
fn when_the_session_fetching_a_feed_ends_another_fetches_the_rest() {
    let n = 50_000;
    let (da, db, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 2, n, SIZE);
    let author = a.author();
    let b = synced_copy(db.path(), &a, "handover", n as u64);

    let c = node_with(dc.path(), &["iroh"]);
    let events = c.subscribe().unwrap();
    // C's session with A claims the feed …
    c.join_ticket(&a.ticket(space("handover")).unwrap()).unwrap();
    let start = Instant::now();
    while c.feed_len(&author) == 0 {
        assert!(start.elapsed() < PATIENCE, "C started fetching from A");
        std::thread::sleep(Duration::from_millis(1));
    }
    // … C's session with B (deferring its want, if it opens in time) and A goes away
    // mid-transfer.
    c.join_ticket(&b.ticket(space("handover")).unwrap()).unwrap();
    let at_drop = c.feed_len(&author);
    drop(a);
    assert!(at_drop < n as u64, "A went before C had everything ({at_drop} of {n})");
    assert!(wait_until(|| c.feed_len(&author) == n as u64), "B served the rest: {} of {n}", c.feed_len(&author));
    assert!(same_feeds(&b, &c));
    let from_b: u64 = c
        .sync_status()
        .unwrap()
        .peers
        .iter()
        .filter(|p| p.peer == b.node_id().unwrap())
        .map(|p| p.received_events)
        .sum();
    assert!(from_b > 0, "the rest came from B");
    no_rejections(&events);
}

const STALL_DIR: &str = "XF_NET_TEST_STALL_DIR";
const STALL_JOIN: &str = "XF_NET_TEST_STALL_JOIN";
const STALL_EVENTS: &str = "XF_NET_TEST_STALL_EVENTS";

/// Runs in the child process (selected by the environment): copies the feed of the ticket it
/// was given, prints its own ticket, then serves until it is stopped or killed.
#[test]
fn copying_child_entry() {
    let (Ok(dir), Ok(ticket), Ok(n)) =
        (std::env::var(STALL_DIR), std::env::var(STALL_JOIN), std::env::var(STALL_EVENTS))
    else {
        return;
    };
    let n: u64 = n.parse().unwrap();
    let core = node_with(std::path::Path::new(&dir), &["iroh"]);
    let ticket: xaeroflux::net::Ticket = ticket.parse().unwrap();
    core.join_ticket(&ticket).unwrap();
    assert!(wait_until(|| core.feeds().iter().any(|f| f.author != core.author() && f.len == n)));
    println!("{}", core.ticket(space("stall")).unwrap());
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A peer that stops sending in the middle of a transfer (here: a process stopped with
/// SIGSTOP, its connection still open) holds no one up: once the feed has stood still for the
/// claim's stall time, the session with the other peer fetches the rest, long before the
/// silent peer's session times out.
#[test]
fn a_peer_that_stops_sending_holds_up_no_other_copy() {
    let n = 60_000;
    let (da, ds, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 3, n, SIZE);
    let author = a.author();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["copying_child_entry", "--exact", "--nocapture", "--test-threads", "1"])
        .env(STALL_DIR, ds.path())
        .env(STALL_JOIN, a.ticket(space("stall")).unwrap().to_string())
        .env(STALL_EVENTS, n.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ticket = read_ticket(&mut child);

    // C fetches from the child first (its session claims the feed) …
    let c = node_with(dc.path(), &["iroh"]);
    c.join_ticket(&ticket).unwrap();
    let start = Instant::now();
    while c.feed_len(&author) == 0 {
        assert!(start.elapsed() < PATIENCE, "C started fetching from the child");
        std::thread::sleep(Duration::from_millis(1));
    }
    // … joins A too (that session defers), and the child stops mid-transfer.
    c.join_ticket(&a.ticket(space("stall")).unwrap()).unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGSTOP) };
    let stopped = Instant::now();
    let at_stop = c.feed_len(&author);
    let finished = wait_until(|| c.feed_len(&author) == n as u64);
    let took = stopped.elapsed();
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    assert!(at_stop < n as u64, "the child stopped before C had everything ({at_stop} of {n})");
    assert!(finished, "A served the rest: {} of {n}", c.feed_len(&author));
    eprintln!("stopped at {at_stop} of {n} events; C had them all {took:?} later");
    // The session with the stopped child would end only at the idle timeout (20 s here).
    assert!(took < Duration::from_secs(15), "the rest came after the stall time, not the idle timeout: {took:?}");
    assert!(same_feeds(&a, &c));
}
