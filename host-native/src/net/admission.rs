//! Which session to keep when two nodes open one each: the admission rule, as pure logic.
//!
//! Two nodes in a space may each open a session to the other (each dials when it finds the
//! other, through gossip or a ticket), and a node that restarted opens a new one while the
//! other still holds the old. [`admit`] decides, when a peer's HELLO arrives on a session it
//! opened, whether to run that session and which of the existing ones with the same peer in
//! the same space to end. It reads no clock and does no I/O: [`NetInner::admit_incoming`]
//! gathers the facts and carries the verdict out, and the seeded simulation beside this file
//! (`admission_sim.rs`) checks that the rule, with the dialing and redialing around it,
//! always leaves exactly one session per pair of nodes. `docs/net.md` ("Who dials") states
//! the rule for implementers of other hosts.
//!
//! [`NetInner::admit_incoming`]: super::node::NetInner::admit_incoming

use std::time::Duration;

use super::ticket::PeerId;

/// An established session that received bytes this recently is alive: a session the peer
/// opens meanwhile is a duplicate, not a replacement.
pub(crate) const ALIVE_WINDOW: Duration = Duration::from_secs(2);

/// A session of ours still in its handshake this long after it opened is not one dialed "at
/// once" with the peer's: a HELLO from the peer shows the peer is up and never answered ours
/// (it went to a process that has since restarted, over a connection that died unnoticed).
/// As long as the acceptor waits for a HELLO ([`HELLO_TIMEOUT`](super::driver::HELLO_TIMEOUT)), so a handshake slower
/// than that (a Tor circuit under load) is tie-broken like a fast one.
pub(crate) const HANDSHAKE_WINDOW: Duration = super::driver::HELLO_TIMEOUT;

/// What the rule knows of one existing session with the peer, in the same space.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Existing {
    /// This node opened it.
    pub initiator: bool,
    /// Past its handshake (the peer's HELLO read).
    pub connected: bool,
    /// How long ago it last received bytes (or started).
    pub quiet: Duration,
    /// The incarnation the peer named in it, once its HELLO was read (if it named one).
    pub peer_incarnation: Option<u64>,
}

impl Existing {
    /// Whether the peer has restarted since it answered this session ([`restarted_since`]).
    fn stale(&self, incoming: Option<u64>) -> bool {
        restarted_since(self.peer_incarnation, incoming)
    }
}

/// What to do with a session the peer opened, and with the existing ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Run the new session (otherwise refuse it as a duplicate).
    pub admit: bool,
    /// Existing sessions (indices into the slice given to [`admit`]) to close normally.
    pub close: Vec<usize>,
    /// Existing sessions to abort at once: the peer that answered them has restarted.
    pub abort: Vec<usize>,
}

/// Whether a peer that named incarnation `known` in a session, and `incoming` in the session
/// it opens now, has restarted since: the older session is then dead, whatever its traffic.
pub(crate) fn restarted_since(known: Option<u64>, incoming: Option<u64>) -> bool {
    matches!((known, incoming), (Some(a), Some(b)) if a != b)
}

/// The rule: a session `peer` opened, naming `incoming` in its HELLO, arrives at node `me`,
/// which holds `existing` sessions with it in the same space (both directions).
///
/// - A session the peer answered or opened in another incarnation is dead (the peer restarted
///   since): it is aborted, and does not count against the new one.
/// - Of the sessions this node opened: if one is still in its handshake (and opened less than
///   [`HANDSHAKE_WINDOW`] ago), both sides dialed at once, and the one opened by the node with
///   the smaller id is kept (both sides decide alike). If one is established and received bytes within [`ALIVE_WINDOW`], the peer
///   opened its own before it saw ours (each dials the other when they find each other, and
///   a side registers the other's session only once its HELLO is read): ours is kept and the
///   peer's refused, as it already is on the peer's side. Otherwise the peer opening another
///   one means it lost ours (a peer naming no incarnation restarted, or the connection died
///   without our noticing yet), and a handshake of ours older than the window went to a
///   process that is gone: ours is stale, so it is closed and the new one runs.
pub(crate) fn admit(me: &PeerId, peer: &PeerId, existing: &[Existing], incoming: Option<u64>) -> Verdict {
    let ours = || existing.iter().filter(|s| s.initiator && !s.stale(incoming));
    let admit = if ours().any(|s| !s.connected && s.quiet < HANDSHAKE_WINDOW) && me < peer {
        false
    } else {
        !ours().any(|s| s.connected && s.quiet < ALIVE_WINDOW)
    };
    let mut verdict = Verdict { admit, ..Verdict::default() };
    for (i, s) in existing.iter().enumerate() {
        if s.stale(incoming) {
            verdict.abort.push(i);
        } else if s.initiator && admit {
            verdict.close.push(i);
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: PeerId = PeerId([1; 32]);
    const LARGE: PeerId = PeerId([2; 32]);

    /// Ours: `(connected, quiet ms, incarnation the peer named)`.
    fn ours(list: &[(bool, u64, Option<u64>)]) -> Vec<Existing> {
        list.iter()
            .map(|&(connected, ms, peer_incarnation)| Existing {
                initiator: true,
                connected,
                quiet: Duration::from_millis(ms),
                peer_incarnation,
            })
            .collect()
    }

    fn wins(me: PeerId, peer: PeerId, list: &[(bool, u64)]) -> bool {
        let list: Vec<_> = list.iter().map(|&(c, ms)| (c, ms, None)).collect();
        admit(&me, &peer, &ours(&list), None).admit
    }

    fn wins_named(me: PeerId, peer: PeerId, list: &[(bool, u64, Option<u64>)], incoming: Option<u64>) -> bool {
        admit(&me, &peer, &ours(list), incoming).admit
    }

    #[test]
    fn a_restarted_peer_replaces_our_session_at_once_even_one_just_receiving_bytes() {
        for (me, peer) in [(SMALL, LARGE), (LARGE, SMALL)] {
            assert!(wins_named(me, peer, &[(true, 0, Some(1))], Some(2)), "another incarnation: ours is dead");
            // The same incarnation is the same run: the rules without incarnations hold.
            assert!(!wins_named(me, peer, &[(true, 0, Some(1))], Some(1)));
            assert!(wins_named(me, peer, &[(true, 2_000, Some(1))], Some(1)));
            // Not known on one side (an older peer, or ours still in its handshake): as before.
            assert!(!wins_named(me, peer, &[(true, 0, None)], Some(2)));
            assert!(!wins_named(me, peer, &[(true, 0, Some(1))], None));
        }
        // A dead session does not count; a live one of the same run still does.
        assert!(!wins_named(LARGE, SMALL, &[(true, 0, Some(1)), (true, 5, Some(2))], Some(2)));
        assert!(!wins_named(SMALL, LARGE, &[(true, 0, Some(1)), (false, 0, None)], Some(2)));
        assert!(wins_named(LARGE, SMALL, &[(true, 0, Some(1)), (false, 0, None)], Some(2)));
    }

    #[test]
    fn without_a_session_of_ours_the_peer_s_runs() {
        assert!(wins(SMALL, LARGE, &[]));
        assert!(wins(LARGE, SMALL, &[]));
    }

    #[test]
    fn two_sessions_opened_at_once_keep_the_smaller_id_s_on_both_sides() {
        // Ours in its handshake: the node with the smaller id keeps its own, the other takes
        // the peer's, so both keep the same session.
        assert!(!wins(SMALL, LARGE, &[(false, 0)]));
        assert!(wins(LARGE, SMALL, &[(false, 0)]));
    }

    #[test]
    fn a_handshake_of_ours_older_than_the_window_is_dead_and_replaced() {
        let window = HANDSHAKE_WINDOW.as_millis() as u64;
        assert!(!wins(SMALL, LARGE, &[(false, window - 1)]), "still \"at once\"");
        assert!(wins(SMALL, LARGE, &[(false, window)]), "the peer is up and never answered ours");
        let v = admit(&SMALL, &LARGE, &ours(&[(false, window, None)]), Some(3));
        assert_eq!(v, Verdict { admit: true, close: vec![0], abort: vec![] });
        // An established session of ours that is alive still wins.
        assert!(!wins(SMALL, LARGE, &[(false, window), (true, 10)]));
    }

    #[test]
    fn an_established_session_receiving_bytes_is_kept_whoever_is_smaller() {
        for (me, peer) in [(SMALL, LARGE), (LARGE, SMALL)] {
            assert!(!wins(me, peer, &[(true, 0)]));
            assert!(!wins(me, peer, &[(true, 1_999)]));
        }
    }

    #[test]
    fn a_quiet_established_session_is_taken_for_stale_and_replaced() {
        for (me, peer) in [(SMALL, LARGE), (LARGE, SMALL)] {
            assert!(wins(me, peer, &[(true, 2_000)]));
            assert!(wins(me, peer, &[(true, 60_000)]));
        }
        // One of ours alive is enough to refuse the peer's.
        assert!(!wins(LARGE, SMALL, &[(true, 60_000), (true, 10)]));
    }

    #[test]
    fn the_verdict_closes_ours_when_admitting_and_aborts_only_sessions_of_another_incarnation() {
        let existing = [
            Existing { initiator: true, connected: true, quiet: Duration::from_secs(5), peer_incarnation: Some(1) },
            Existing { initiator: false, connected: true, quiet: Duration::ZERO, peer_incarnation: Some(1) },
            Existing { initiator: true, connected: true, quiet: Duration::from_secs(5), peer_incarnation: Some(7) },
            Existing { initiator: false, connected: true, quiet: Duration::ZERO, peer_incarnation: Some(7) },
        ];
        // The peer now names incarnation 7: the sessions it answered or opened as 1 are dead.
        let v = admit(&SMALL, &LARGE, &existing, Some(7));
        assert_eq!(v, Verdict { admit: true, close: vec![2], abort: vec![0, 1] });
        // The same peer without a restart, ours alive: refused, nothing ended.
        let alive = [Existing { quiet: Duration::ZERO, ..existing[2] }];
        assert_eq!(admit(&SMALL, &LARGE, &alive, Some(7)), Verdict::default());
    }
}
