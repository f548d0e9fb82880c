//! Which of this node's sessions is fetching which feed, so that two sessions do not download
//! the same events (a store that joined two peers holding the same feed, or two Tor nodes
//! that each dial the other).
//!
//! A session claims a feed up to the length its peer announced when it sends its want
//! ([`FeedSource::claim_want`](xaeroflux_core::xsp::FeedSource::claim_want)); another session
//! is refused while a claim at least as long is held, and defers its want. A claim lasts as
//! long as its session: when the session ends (done, failed, or its peer gone), its claims are
//! released and every session hears of the feeds (as a change of the feed), so a deferred want
//! goes out from wherever the store then stands. While the claiming session fetches, each
//! batch it stores is such a change too: a deferring session drops its want once the store
//! holds everything its peer announced. A peer's longer head is claimed by the session that
//! hears it (the events past the first claim are fetched once, by it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use xaeroflux_core::AuthorId;

/// The claims of one node's sessions.
pub(crate) struct Claims {
    /// Per feed: the sessions fetching it, and how far each claimed.
    held: Mutex<HashMap<AuthorId, Vec<(u64, u64)>>>,
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

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<AuthorId, Vec<(u64, u64)>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One session's claims.
pub(crate) struct ClaimHandle {
    claims: Arc<Claims>,
    id: u64,
}

impl ClaimHandle {
    /// Claims `author`'s feed up to `length` events: refused while another session holds a
    /// claim at least as long.
    pub(crate) fn claim(&self, author: &AuthorId, length: u64) -> bool {
        let mut held = self.claims.held();
        let list = held.entry(*author).or_default();
        if list.iter().any(|&(id, len)| id != self.id && len >= length) {
            return false;
        }
        match list.iter_mut().find(|(id, _)| *id == self.id) {
            Some(mine) => mine.1 = mine.1.max(length),
            None => list.push((self.id, length)),
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
                list.retain(|&(id, _)| id != self.id);
                if list.len() != before {
                    released.push(*author);
                }
                !list.is_empty()
            });
        }
        // Deferred wants of other sessions go out again (sent with no session listening, or
        // lagging: the sessions refresh every feed then).
        for author in released {
            let _ = self.claims.changed.send(author);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_refuses_others_up_to_its_length_until_its_session_ends() {
        let (tx, mut rx) = broadcast::channel(16);
        let claims = Claims::new(tx);
        let (a, b) = (claims.session(), claims.session());
        let feed = AuthorId([1; 32]);
        let other = AuthorId([2; 32]);
        assert!(a.claim(&feed, 100));
        assert!(a.claim(&feed, 100), "a session's own claim does not refuse it");
        assert!(!b.claim(&feed, 100), "another session is refused up to the claimed length");
        assert!(!b.claim(&feed, 40));
        assert!(b.claim(&other, 40), "other feeds are free");
        assert!(b.claim(&feed, 150), "a longer head is claimed by the session that hears it");
        assert!(!a.claim(&feed, 120), "and then refuses the first session below its length");
        drop(b);
        let mut released = vec![rx.try_recv().unwrap(), rx.try_recv().unwrap()];
        released.sort_by_key(|a| a.0);
        assert_eq!(released, vec![feed, other], "the other sessions hear of the released feeds");
        assert!(a.claim(&feed, 150));
        let c = claims.session();
        assert!(!c.claim(&feed, 150));
        drop(a);
        assert!(c.claim(&feed, 150));
        drop(c);
        assert!(claims.held().is_empty(), "nothing is left behind");
    }
}
