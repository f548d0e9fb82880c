//! Which of this node's sessions is fetching which feed, so that two sessions do not download
//! the same events (a store that joined two peers holding the same feed, or two Tor nodes
//! that each dial the other).
//!
//! A session claims a feed up to the length its peer announced when it sends its want
//! ([`FeedSource::claim_want`](xaeroflux_core::xsp::FeedSource::claim_want)); another session
//! is refused while a claim at least as long is held and the feed is moving, and defers its
//! want. The claim is released when its session ends (done, failed, or its peer gone), and
//! every session then hears of the feed (as a change of the feed), so a deferred want goes
//! out from wherever the store then stands. While the claiming session fetches, each batch it
//! stores is such a change too: a deferring session drops its want once the store holds
//! everything its peer announced. A peer's longer head is claimed by the session that hears
//! it first (a live want's session extends its claim as its peer's heads grow).
//!
//! **A stalled claim does not hold anyone up.** A claim whose feed has not grown in the store
//! for [`STALL`] (a peer that stopped sending, or that only keeps its session alive) no longer
//! refuses anyone: the watchdog ([`watch`]) tells the waiting sessions, and their wants go out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, watch as tokio_watch};
use xaeroflux_core::AuthorId;

/// How long a claimed feed may stand still in the store before the claim stops refusing
/// other sessions.
pub(crate) const STALL: Duration = Duration::from_secs(3);

/// One session's claim on one feed.
struct Claim {
    session: u64,
    /// How far the session fetches.
    length: u64,
    /// The store's length of the feed when it last grew, and when that was seen.
    store_len: u64,
    moved: Instant,
    /// Another session was refused since the feed last moved (the watchdog tells it when the
    /// claim stalls).
    refused: bool,
}

impl Claim {
    /// Notes the store's length of the feed at `now`.
    fn saw(&mut self, store_len: u64, now: Instant) {
        if store_len != self.store_len {
            self.store_len = store_len;
            self.moved = now;
        }
    }

    fn stalled(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.moved) >= STALL
    }
}

/// The claims of one node's sessions.
pub(crate) struct Claims {
    held: Mutex<HashMap<AuthorId, Vec<Claim>>>,
    next: AtomicU64,
    /// Where the node tells its sessions that a feed changed.
    changed: broadcast::Sender<AuthorId>,
}

impl Claims {
    pub(crate) fn new(changed: broadcast::Sender<AuthorId>) -> Arc<Claims> {
        Arc::new(Claims { held: Mutex::default(), next: AtomicU64::new(1), changed })
    }

    /// A new session's handle (its claims are released when it is dropped).
    pub(crate) fn session(self: &Arc<Self>) -> ClaimHandle {
        ClaimHandle { claims: self.clone(), id: self.next.fetch_add(1, Ordering::Relaxed) }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<AuthorId, Vec<Claim>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the sessions waiting on a stalled claim (once per stall): `store_len` gives the
    /// store's length of a feed now.
    pub(crate) fn check_stalls(&self, now: Instant, store_len: impl Fn(&AuthorId) -> u64) {
        let mut tell = Vec::new();
        for (author, list) in self.held().iter_mut() {
            let len = store_len(author);
            for c in list.iter_mut() {
                c.saw(len, now);
                if c.refused && c.stalled(now) {
                    c.refused = false;
                    if !tell.contains(author) {
                        tell.push(*author);
                    }
                }
            }
        }
        for author in tell {
            let _ = self.changed.send(author);
        }
    }
}

/// Runs [`Claims::check_stalls`] every half [`STALL`] until `shutdown` changes.
pub(crate) async fn watch(
    claims: Arc<Claims>,
    store_len: impl Fn(&AuthorId) -> u64,
    mut shutdown: tokio_watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(STALL / 2);
    loop {
        tokio::select! {
            _ = tick.tick() => claims.check_stalls(Instant::now(), &store_len),
            _ = shutdown.changed() => return,
        }
    }
}

/// One session's claims.
pub(crate) struct ClaimHandle {
    claims: Arc<Claims>,
    id: u64,
}

impl ClaimHandle {
    /// Claims `author`'s feed up to `length` events (the store holding `store_len` of them):
    /// refused while another session holds a claim at least as long that has not stalled.
    pub(crate) fn claim(&self, author: &AuthorId, length: u64, store_len: u64, now: Instant) -> bool {
        let mut held = self.claims.held();
        let list = held.entry(*author).or_default();
        let mut refused = false;
        for c in list.iter_mut().filter(|c| c.session != self.id && c.length >= length) {
            c.saw(store_len, now);
            if !c.stalled(now) {
                c.refused = true;
                refused = true;
            }
        }
        if refused {
            return false;
        }
        match list.iter_mut().find(|c| c.session == self.id) {
            Some(mine) => {
                mine.length = mine.length.max(length);
                mine.saw(store_len, now);
            }
            None => list.push(Claim { session: self.id, length, store_len, moved: now, refused: false }),
        }
        true
    }
}

impl Drop for ClaimHandle {
    fn drop(&mut self) {
        let mut released = Vec::new();
        {
            let mut held = self.claims.held();
            held.retain(|author, list| {
                let before = list.len();
                list.retain(|c| c.session != self.id);
                if list.len() != before {
                    released.push(*author);
                }
                !list.is_empty()
            });
        }
        // Deferred wants of other sessions go out again (a session that lagged behind the
        // channel refreshes every feed).
        for author in released {
            let _ = self.claims.changed.send(author);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Arc<Claims>, broadcast::Receiver<AuthorId>) {
        let (tx, rx) = broadcast::channel(16);
        (Claims::new(tx), rx)
    }

    #[test]
    fn a_claim_refuses_others_up_to_its_length_until_its_session_ends() {
        let (claims, mut rx) = setup();
        let t = Instant::now();
        let (a, b) = (claims.session(), claims.session());
        let feed = AuthorId([1; 32]);
        let other = AuthorId([2; 32]);
        assert!(a.claim(&feed, 100, 0, t));
        assert!(a.claim(&feed, 100, 0, t), "a session's own claim does not refuse it");
        assert!(!b.claim(&feed, 100, 0, t), "another session is refused up to the claimed length");
        assert!(!b.claim(&feed, 40, 0, t));
        assert!(b.claim(&other, 40, 0, t), "other feeds are free");
        assert!(b.claim(&feed, 150, 0, t), "a longer head is claimed by the session that hears it");
        assert!(!a.claim(&feed, 120, 0, t), "and then refuses the first session below its length");
        drop(b);
        let mut released = vec![rx.try_recv().unwrap(), rx.try_recv().unwrap()];
        released.sort_by_key(|a| a.0);
        assert_eq!(released, vec![feed, other], "the other sessions hear of the released feeds");
        assert!(a.claim(&feed, 150, 0, t));
        let c = claims.session();
        assert!(!c.claim(&feed, 150, 0, t));
        drop(a);
        assert!(c.claim(&feed, 150, 0, t));
        drop(c);
        assert!(claims.held().is_empty(), "nothing is left behind");
    }

    #[test]
    fn a_claim_whose_feed_stands_still_stops_refusing_and_the_waiting_hear_of_it() {
        let (claims, mut rx) = setup();
        let t0 = Instant::now();
        let (a, b) = (claims.session(), claims.session());
        let feed = AuthorId([1; 32]);
        assert!(a.claim(&feed, 100, 0, t0));
        assert!(!b.claim(&feed, 100, 0, t0));
        // The feed moves: the claim stays in force past STALL from its start.
        let t1 = t0 + STALL - Duration::from_millis(1);
        claims.check_stalls(t1, |_| 10);
        assert!(rx.try_recv().is_err(), "nothing to tell while the feed moves");
        let t2 = t1 + STALL - Duration::from_millis(1);
        assert!(!b.claim(&feed, 100, 10, t2), "still refused: the feed moved at t1");
        claims.check_stalls(t2, |_| 10);
        assert!(rx.try_recv().is_err());
        // It stands still for STALL: the waiting session hears of it, once, and is granted.
        let t3 = t1 + STALL;
        claims.check_stalls(t3, |_| 10);
        assert_eq!(rx.try_recv().ok(), Some(feed));
        claims.check_stalls(t3 + STALL, |_| 10);
        assert!(rx.try_recv().is_err(), "told once per stall");
        assert!(b.claim(&feed, 100, 10, t3), "a stalled claim refuses no one");
        // Both fetch now; once the feed moves again, a third session waits …
        let c = claims.session();
        assert!(!c.claim(&feed, 100, 20, t3 + Duration::from_millis(1)));
        // … and hears, once, when both claims stall.
        claims.check_stalls(t3 + 3 * STALL, |_| 20);
        assert_eq!(rx.try_recv().ok(), Some(feed), "c hears of the stall");
        assert!(rx.try_recv().is_err(), "once, though two claims stalled");
        drop((a, b, c));
    }
}
