//! Two sessions joined back to back in memory, on one simulated clock.
//!
//! [`Pair`] is the harness this crate's tests, the workspace's benchmarks and anyone writing
//! a test of their own drive XSP with (after quinn-proto's `Pair`): it is the host loop of
//! [the module docs](crate::xsp) with an in-memory pipe for the stream and a counter for the
//! clock. It never reads a real clock and never sleeps, so a run is the same every time.
//!
//! Call rules:
//! - [`Pair::drive`] moves bytes both ways *at the current time* until neither session has
//!   anything to send, taking every event as it goes (events must be taken for flow-control
//!   credit to return). It stores nothing: a host's reaction to an event (store a
//!   [`Event::Verified`] batch, then [`Session::feed_updated`]) goes in the closure of
//!   [`Pair::drive_with`], which runs before the next bytes move, as a real host would.
//! - Time moves only through [`Pair::advance`] and [`Pair::advance_to_next_timeout`], which
//!   fire the timeouts that fall due (keep-alive PINGs, the idle timeout); drive again after.
//!
//! ```
//! use xaeroflux_core::memstore::{MemStore, NewEvent};
//! use xaeroflux_core::page::PageConfig;
//! use xaeroflux_core::xsp::pair::{Pair, Side};
//! use xaeroflux_core::xsp::{Config, Event, Role, Session};
//! use xaeroflux_core::AuthorKey;
//!
//! let key = AuthorKey::from_secret_bytes(&[1; 32]);
//! let alice = key.author();
//! let mut store = MemStore::new(key, PageConfig::default());
//! store.append_batch((0..3).map(|i| NewEvent::new(1_700_000_000_000_000 + i, b"hello")))?;
//! let config = Config::new([7; 32]).with_live(false);
//! let mut pair = Pair::new(
//!     Session::new(config.clone(), Role::Initiator, 0, store),
//!     Session::new(config, Role::Responder, 0, MemStore::replica(PageConfig::default())),
//! );
//! // Bob's host stores what his session verified, as `MemStore`'s docs say.
//! let exchange = pair.drive_with(|side, session, event| {
//!     if let (Side::B, Event::Verified(batch)) = (side, event) {
//!         session.source_mut().store_batch(batch).expect("a verified batch is stored");
//!         session.feed_updated(&batch.author());
//!     }
//! });
//! assert!(exchange.quiet && exchange.b.contains(&Event::Synced));
//! assert_eq!(pair.b.source().feed_len(&alice), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::vec;
use alloc::vec::Vec;

use super::{Event, FeedSource, Micros, Session};

/// How many rounds (one pass of both directions) [`Pair::drive`] makes before it gives up on
/// the sessions ever going quiet: far more than any sync needs at one instant (a round moves
/// every frame either side has ready), so reaching it means the sessions loop.
pub const MAX_ROUNDS: usize = 1_000_000;

/// Which session of a [`Pair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// [`Pair::a`].
    A,
    /// [`Pair::b`].
    B,
}

/// What one [`Pair::drive`] saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exchange {
    /// The events session `a` reported, in order.
    pub a: Vec<Event>,
    /// The events session `b` reported, in order.
    pub b: Vec<Event>,
    /// Bytes moved: `[a to b, b to a]`.
    pub bytes: [u64; 2],
    /// Whether it stopped because neither side had anything to send (`false`: it stopped at
    /// [`MAX_ROUNDS`]).
    pub quiet: bool,
}

/// Two sessions joined back to back in memory, on one simulated clock (see the module docs).
#[derive(Debug)]
pub struct Pair<S: FeedSource> {
    /// The first session (any role).
    pub a: Session<S>,
    /// The second session.
    pub b: Session<S>,
    now: Micros,
    buf: Vec<u8>,
    sent: [u64; 2],
}

impl<S: FeedSource> Pair<S> {
    /// Joins two sessions made with `now = 0`: the clock starts at 0.
    pub fn new(a: Session<S>, b: Session<S>) -> Self {
        Pair { a, b, now: 0, buf: vec![0; 1 << 16], sent: [0; 2] }
    }

    /// The simulated time.
    pub fn now(&self) -> Micros {
        self.now
    }

    /// Bytes moved since the pair was made: `[a to b, b to a]`.
    pub fn bytes_sent(&self) -> [u64; 2] {
        self.sent
    }

    /// Moves bytes both ways at the current time until neither session has anything to send;
    /// takes and returns every event, acting on none.
    pub fn drive(&mut self) -> Exchange {
        self.drive_with(|_, _, _| {})
    }

    /// As [`drive`](Self::drive), calling `host(side, session, event)` for each event as it is
    /// taken, before any more bytes move: the place for what a host does with an event
    /// (store a verified batch and call [`Session::feed_updated`], adopt a confirmed head).
    pub fn drive_with(&mut self, mut host: impl FnMut(Side, &mut Session<S>, &Event)) -> Exchange {
        let mut out = Exchange::default();
        for _ in 0..MAX_ROUNDS {
            let moved = [
                pipe(&mut self.a, &mut self.b, self.now, &mut self.buf),
                pipe(&mut self.b, &mut self.a, self.now, &mut self.buf),
            ];
            for (side, session, events) in [(Side::A, &mut self.a, &mut out.a), (Side::B, &mut self.b, &mut out.b)] {
                while let Some(event) = session.poll_event() {
                    host(side, session, &event);
                    events.push(event);
                }
            }
            for (i, n) in moved.into_iter().enumerate() {
                out.bytes[i] += n;
                self.sent[i] += n;
            }
            if moved == [0, 0] {
                out.quiet = true;
                break;
            }
        }
        out
    }

    /// Moves the clock `by` microseconds on and fires the timeouts that fall due.
    pub fn advance(&mut self, by: Micros) {
        self.now = self.now.saturating_add(by);
        for s in [&mut self.a, &mut self.b] {
            if s.poll_timeout().is_some_and(|t| t <= self.now) {
                s.handle_timeout(self.now);
            }
        }
    }

    /// Moves the clock to the earlier deadline of the two sessions and fires it; returns the
    /// new time, or `None` (the clock unmoved) when neither session has a deadline.
    pub fn advance_to_next_timeout(&mut self) -> Option<Micros> {
        let next = match (self.a.poll_timeout(), self.b.poll_timeout()) {
            (Some(x), Some(y)) => x.min(y),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => return None,
        };
        self.advance(next.saturating_sub(self.now));
        Some(self.now)
    }
}

/// Moves everything `from` has to send into `to`; returns the byte count.
fn pipe<S: FeedSource>(from: &mut Session<S>, to: &mut Session<S>, now: Micros, buf: &mut [u8]) -> u64 {
    let mut moved = 0;
    while let Some(n) = from.poll_transmit(buf) {
        to.handle_input(now, &buf[..n]);
        moved += n as u64;
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthorKey;
    use crate::memstore::{MemStore, NewEvent};
    use crate::page::PageConfig;
    use crate::xsp::{Config, ErrorCode, Role, SessionError};

    const IDLE_US: Micros = 2_000_000;

    /// A pair syncing `n` events from `a` into an empty `b`, with `b`'s host storing them.
    fn synced_pair(n: u64, live: bool) -> (Pair<MemStore>, Exchange) {
        let pages = PageConfig::default();
        let mut src = MemStore::new(AuthorKey::from_secret_bytes(&[9; 32]), pages);
        src.append_batch((0..n).map(|i| NewEvent::new(1_000 + i, b"twelve bytes"))).unwrap();
        let config = Config::new([3; 32]).with_live(live).with_idle_timeout_us(IDLE_US);
        let mut pair = Pair::new(
            Session::new(config.clone(), Role::Initiator, 0, src),
            Session::new(config, Role::Responder, 0, MemStore::replica(pages)),
        );
        let exchange = pair.drive_with(|side, session, event| {
            if let (Side::B, Event::Verified(batch)) = (side, event) {
                session.source_mut().store_batch(batch).unwrap();
                session.feed_updated(&batch.author());
            }
        });
        (pair, exchange)
    }

    #[test]
    fn drive_syncs_counts_bytes_and_then_has_nothing_to_move() {
        let (mut pair, first) = synced_pair(500, false);
        let author = pair.a.source().author().unwrap();
        assert!(first.quiet);
        assert_eq!(pair.b.source().feed_len(&author), 500);
        assert!(first.bytes[0] > 500 * 12 && first.bytes[1] > 0, "{:?}", first.bytes);
        assert_eq!(pair.bytes_sent(), first.bytes);
        assert!(first.b.iter().any(|e| matches!(e, Event::Verified(_))) && first.b.contains(&Event::Synced));
        let again = pair.drive();
        assert_eq!(again.bytes, [0, 0]);
        assert!(again.quiet && again.a.is_empty() && again.b.is_empty());
    }

    #[test]
    fn live_sessions_stay_open_on_keep_alives() {
        let (mut pair, _) = synced_pair(10, true);
        for _ in 0..20 {
            let t = pair.now();
            let next = pair.advance_to_next_timeout().expect("an open live session has a deadline");
            assert!(next > t && next - t <= IDLE_US / 2, "a keep-alive is due within half the idle time");
            let exchange = pair.drive();
            assert!(exchange.bytes != [0, 0], "the due PING moves bytes");
            assert!(!pair.a.is_closed() && !pair.b.is_closed());
        }
        assert!(pair.now() >= 5 * IDLE_US, "the keep-alives kept them open well past the idle time");
    }

    #[test]
    fn sessions_that_hear_nothing_for_the_idle_time_time_out() {
        let (mut pair, _) = synced_pair(10, true);
        pair.advance(IDLE_US);
        let exchange = pair.drive();
        let timed_out = |events: &[Event]| {
            events.iter().any(|e| {
                matches!(e, Event::Closed(c) if c.code == ErrorCode::TIMEOUT && c.error == Some(SessionError::Timeout))
            })
        };
        assert!(timed_out(&exchange.a) && timed_out(&exchange.b), "{exchange:?}");
        assert!(pair.a.is_closed() && pair.b.is_closed());
        assert_eq!(pair.advance_to_next_timeout(), None);
    }
}
