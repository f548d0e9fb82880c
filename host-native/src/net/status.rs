//! What sync reports: [`SyncEvent`]s to subscribers, and [`SyncStatus`] on request.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use xaeroflux_core::AuthorId;
use xaeroflux_core::xsp::{ErrorCode, ForkEvidence, SessionError};

use super::ticket::{PeerId, SpaceId};
use crate::store::state::lock;

/// Events queued for one subscriber before it counts as lagging.
const SUBSCRIBER_QUEUE: usize = 4096;

/// Something that happened in background sync.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncEvent {
    /// An XSP session with a peer started in a space (its HELLO was accepted).
    PeerConnected {
        /// The space.
        space: SpaceId,
        /// The peer.
        peer: PeerId,
    },
    /// Events of a feed from a peer were verified and stored.
    Received {
        /// The space of the session.
        space: SpaceId,
        /// The peer that sent them.
        peer: PeerId,
        /// The feed's author.
        author: AuthorId,
        /// The seqs stored.
        seqs: Range<u64>,
    },
    /// How many events the peer announced that this store does not hold yet (updated as
    /// heads and batches arrive).
    Progress {
        /// The space.
        space: SpaceId,
        /// The peer.
        peer: PeerId,
        /// Events behind the peer, summed over its feeds.
        behind: u64,
    },
    /// Both sides hold everything the other announced.
    Synced {
        /// The space.
        space: SpaceId,
        /// The peer.
        peer: PeerId,
    },
    /// A peer sent something that does not verify (a forged head, a tampered page, a
    /// malformed frame…): its session was closed and nothing of it was stored.
    Rejected {
        /// The space.
        space: SpaceId,
        /// The peer.
        peer: PeerId,
        /// What was wrong.
        error: SessionError,
    },
    /// A gossip announcement carried a head whose signature does not verify; it was ignored.
    BadAnnouncement {
        /// The space.
        space: SpaceId,
        /// The neighbour that delivered it.
        from: PeerId,
    },
    /// An author signed two histories; the feed is no longer synced. The evidence can be
    /// checked by anyone.
    Fork {
        /// The space where it was seen.
        space: SpaceId,
        /// The evidence.
        evidence: Box<ForkEvidence>,
    },
    /// A session ended.
    PeerDisconnected {
        /// The space.
        space: SpaceId,
        /// The peer.
        peer: PeerId,
        /// The XSP close code (`NONE` for a normal close; see `docs/xsp.md`).
        code: ErrorCode,
        /// Whether the peer closed it.
        by_peer: bool,
    },
    /// A connection attempt failed (the peer is retried while it stays wanted).
    ConnectFailed {
        /// The space.
        space: SpaceId,
        /// The peer.
        peer: PeerId,
    },
    /// Events verified by a session could not be stored (the session was closed; the next
    /// one starts from what is stored).
    StoreFailed {
        /// The space.
        space: SpaceId,
        /// The peer.
        peer: PeerId,
        /// The feed.
        author: AuthorId,
    },
    /// This subscriber did not keep up: `missed` events were dropped.
    Lagged {
        /// How many.
        missed: u64,
    },
    /// The Tor client's or the onion service's state changed (backend `"tor"` only): the
    /// new state, as [`SyncStatus::tor`] reports it. The first comes as sync starts; then
    /// one each time arti reports a change that shows in [`TorStatus`].
    Tor(TorStatus),
}

/// One XSP session with a peer, as [`SyncStatus`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerStatus {
    /// The space.
    pub space: SpaceId,
    /// The peer.
    pub peer: PeerId,
    /// Whether this node opened the session.
    pub initiator: bool,
    /// Whether the peer's HELLO was accepted.
    pub connected: bool,
    /// Whether both sides currently hold everything the other announced.
    pub synced: bool,
    /// Events the peer announced that this store does not hold yet.
    pub behind: u64,
    /// Events received from this peer and stored.
    pub received_events: u64,
    /// Bytes received on the session's stream.
    pub bytes_in: u64,
    /// Bytes sent on the session's stream.
    pub bytes_out: u64,
}

/// The state of background sync.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncStatus {
    /// This node's id.
    pub node: PeerId,
    /// The spaces joined.
    pub spaces: Vec<SpaceId>,
    /// The open sessions.
    pub peers: Vec<PeerStatus>,
    /// XSP stream bytes received over every session since sync started: the open ones and
    /// those that ended (a session replaced by another, as when two nodes dial each other at
    /// once, or one that failed).
    pub bytes_in: u64,
    /// XSP stream bytes sent, counted as [`bytes_in`](Self::bytes_in).
    pub bytes_out: u64,
    /// Sessions peers opened that this node refused because it already ran one with that
    /// peer in that space (two nodes that dial each other at once keep one session; see
    /// `docs/net.md`, "Who dials").
    pub duplicates_refused: u64,
    /// The Tor client and onion service, when the `"tor"` backend runs (feature `tor`); each
    /// change of it is also a [`SyncEvent::Tor`].
    pub tor: Option<TorStatus>,
}

/// The state of a node's Tor client and onion service, as [`SyncStatus::tor`] reports it: what
/// to show a user who waits for a store on Tor to become reachable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TorStatus {
    /// How far the Tor client's bootstrap is, in percent (100 once it has a directory and can
    /// build circuits).
    pub bootstrap_percent: u8,
    /// Whether the client can build circuits: dials over Tor wait until it can.
    pub ready: bool,
    /// What keeps the bootstrap from progressing, if something does (no network, clock skew…),
    /// described for people.
    pub blockage: Option<String>,
    /// The state of this node's onion service.
    pub service: OnionServiceState,
    /// The onion service's most severe current problem, if any, described for people.
    pub service_problem: Option<String>,
}

/// The state of a node's onion service ([`TorStatus::service`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnionServiceState {
    /// Not launched yet: it launches once the Tor client has bootstrapped.
    NotLaunched,
    /// Establishing introduction points and publishing its descriptor. arti (0.47) reports
    /// this until the descriptor is published for both the current and the next HSDir time
    /// period, so a service that peers already reach often shows it for a while.
    Bootstrapping,
    /// Reachable: introduction points established and descriptor published.
    Running,
    /// Reachable, with fewer introduction points than it wants.
    Degraded,
    /// Introduction points work but a descriptor upload failed: unlikely to be reachable.
    Unpublished,
    /// Recovering from a lost introduction point or a failed upload: unlikely to be reachable.
    Recovering,
    /// Not working, and recovery failed so far.
    Broken,
}

impl OnionServiceState {
    /// Whether peers are believed to reach the service.
    pub fn is_reachable(self) -> bool {
        matches!(self, OnionServiceState::Running | OnionServiceState::Degraded)
    }

    /// A word for the state, as `xf status` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            OnionServiceState::NotLaunched => "not launched",
            OnionServiceState::Bootstrapping => "bootstrapping",
            OnionServiceState::Running => "running",
            OnionServiceState::Degraded => "degraded",
            OnionServiceState::Unpublished => "unpublished",
            OnionServiceState::Recovering => "recovering",
            OnionServiceState::Broken => "broken",
        }
    }
}

impl SyncStatus {
    /// Events behind, summed over every session of `space` (a feed announced by several peers
    /// counts once per peer).
    pub fn behind(&self, space: &SpaceId) -> u64 {
        self.peers.iter().filter(|p| p.space == *space).map(|p| p.behind).sum()
    }
}

/// A stream of [`SyncEvent`]s, made by [`Core::subscribe`](crate::Core::subscribe). Iterate it
/// (blocking) or poll it with [`try_recv`](Self::try_recv) / [`recv_timeout`](Self::recv_timeout).
/// It ends when sync stops. A subscriber that falls 4096 events behind misses
/// events and then gets [`SyncEvent::Lagged`].
#[derive(Debug)]
pub struct Subscription {
    rx: Receiver<SyncEvent>,
}

impl Subscription {
    /// The next event, if one is waiting.
    pub fn try_recv(&self) -> Option<SyncEvent> {
        self.rx.try_recv().ok()
    }

    /// The next event, waiting up to `timeout`; `None` on timeout or when sync stopped.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<SyncEvent> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// The underlying channel, for `crossbeam_channel::select!`.
    pub fn receiver(&self) -> &Receiver<SyncEvent> {
        &self.rx
    }
}

impl Iterator for Subscription {
    type Item = SyncEvent;
    fn next(&mut self) -> Option<SyncEvent> {
        self.rx.recv().ok()
    }
}

struct Subscriber {
    tx: Sender<SyncEvent>,
    missed: AtomicU64,
}

/// Fans events out to subscribers without ever blocking the sync threads.
#[derive(Default)]
pub(crate) struct Hub {
    subs: Mutex<Vec<Subscriber>>,
}

impl Hub {
    pub(crate) fn subscribe(&self) -> Subscription {
        let (tx, rx) = crossbeam_channel::bounded(SUBSCRIBER_QUEUE);
        lock(&self.subs).push(Subscriber { tx, missed: AtomicU64::new(0) });
        Subscription { rx }
    }

    pub(crate) fn emit(&self, ev: SyncEvent) {
        let mut subs = lock(&self.subs);
        subs.retain(|s| {
            let missed = s.missed.load(Ordering::Relaxed);
            if missed > 0 {
                match s.tx.try_send(SyncEvent::Lagged { missed }) {
                    Ok(()) => s.missed.store(0, Ordering::Relaxed),
                    Err(TrySendError::Full(_)) => {
                        s.missed.fetch_add(1, Ordering::Relaxed);
                        return true;
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            }
            match s.tx.try_send(ev.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    s.missed.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        });
    }

    /// Ends every subscription (sync stopped).
    pub(crate) fn close(&self) {
        lock(&self.subs).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_subscriber_gets_lagged_and_others_are_not_blocked() {
        let hub = Hub::default();
        let slow = hub.subscribe();
        let fast = hub.subscribe();
        let ev = |n| SyncEvent::Lagged { missed: n };
        for i in 0..SUBSCRIBER_QUEUE as u64 + 10 {
            hub.emit(ev(1_000_000 + i));
            assert_eq!(fast.try_recv(), Some(ev(1_000_000 + i)));
        }
        for _ in 0..SUBSCRIBER_QUEUE {
            assert!(slow.try_recv().is_some());
        }
        assert_eq!(slow.try_recv(), None);
        hub.emit(ev(7));
        assert_eq!(slow.try_recv(), Some(SyncEvent::Lagged { missed: 10 }));
        assert_eq!(slow.try_recv(), Some(ev(7)));
        drop(fast);
        hub.emit(ev(8));
        assert_eq!(slow.try_recv(), Some(ev(8)));
        assert_eq!(lock(&hub.subs).len(), 1, "a dropped subscription is forgotten");
        hub.close();
        assert_eq!(slow.recv_timeout(Duration::from_millis(10)), None);
    }
}
