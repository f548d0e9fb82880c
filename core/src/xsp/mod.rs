//! XSP, the Xaeroflux sync protocol, as a sans-IO state machine.
//!
//! The byte-level specification is `docs/xsp.md` in the repository. This module is the one
//! implementation every host drives: it never does I/O, never reads a clock, never blocks,
//! never panics on anything a peer sends, and never holds more than the limits it announced.
//!
//! # Driving a [`Session`]
//!
//! The host owns the byte stream and the clock (microseconds, any monotonic epoch):
//!
//! 1. [`Session::new`]`(config, role, now, source)` — `source` is the local store, read
//!    through the [`FeedSource`] trait.
//! 2. Whenever bytes arrive: [`Session::handle_input`]`(now, bytes)`.
//! 3. Then drain [`Session::poll_event`] and act on each [`Event`]: store every
//!    [`Event::Verified`] batch (its events are verified against a signed head), then call
//!    [`Session::feed_updated`] for the feed (and on every other session of the store).
//! 4. Then drain [`Session::poll_transmit`] into the stream (frames are made lazily, so a
//!    slow stream never makes the session buffer more than one frame).
//! 5. Arm a timer for [`Session::poll_timeout`]; when it fires call
//!    [`Session::handle_timeout`] and go to 4.
//! 6. After local appends, call [`Session::feed_updated`] and go to 4.
//! 7. After [`Event::Closed`], send what `poll_transmit` still gives (the ERROR frame)
//!    and drop the stream.
//!
//! Rules: calls never re-enter; the source is only read inside the session's own calls;
//! taking a [`Event::Verified`] from `poll_event` returns its flow-control credit to the
//! peer, so events not yet taken bound what the peer may send.
//!
//! ```
//! use xaeroflux_core::xsp::{Config, Event, FeedSource, Role, Session};
//! use xaeroflux_core::{AuthorId, SignedHead};
//! use xaeroflux_core::mmr::{ConsistencyProof, InclusionProof, MmrPeaks, RangeProof};
//!
//! /// A store with no feeds.
//! struct Empty;
//! impl FeedSource for Empty {
//!     fn for_each_head(&self, _: &mut dyn FnMut(&SignedHead)) {}
//!     fn head(&self, _: &AuthorId) -> Option<SignedHead> { None }
//!     fn prefix(&self, _: &AuthorId) -> Option<MmrPeaks> { None }
//!     fn locate(&self, _: &AuthorId, _: u64) -> Option<(u64, u64)> { None }
//!     fn with_page(&self, _: &AuthorId, _: u64, _: &mut dyn FnMut(&[u8])) -> bool { false }
//!     fn consistency_proof(&self, _: &AuthorId, _: u64, _: u64) -> Option<ConsistencyProof> { None }
//!     fn inclusion_proof(&self, _: &AuthorId, _: u64, _: u64) -> Option<InclusionProof> { None }
//!     fn range_proof(&self, _: &AuthorId, _: u64, _: u64, _: u64) -> Option<RangeProof> { None }
//! }
//!
//! let config = Config::new([1; 32]).with_live(false);
//! let mut a = Session::new(config.clone(), Role::Initiator, 0, Empty);
//! let mut b = Session::new(config, Role::Responder, 0, Empty);
//! let mut buf = [0u8; 4096];
//! for _ in 0..4 {
//!     while let Some(n) = a.poll_transmit(&mut buf) { b.handle_input(1, &buf[..n]); }
//!     while let Some(n) = b.poll_transmit(&mut buf) { a.handle_input(1, &buf[..n]); }
//! }
//! let events: Vec<Event> = std::iter::from_fn(|| a.poll_event()).collect();
//! assert!(matches!(events[0], Event::Connected { .. }));
//! assert!(events.contains(&Event::Synced));
//! assert!(a.is_closed()); // not live: closed normally once both sides were caught up
//! ```

pub(crate) mod codec;
mod config;
mod error;
mod event;
mod fork;
pub mod frame;
pub mod message;
mod session;
mod source;
pub mod varint;
pub mod wire_page;

#[cfg(test)]
mod tests;

pub use codec::DecodeError;
pub use config::{Capabilities, Config, ConfigError, Limits, MIN_FEEDS, MIN_WINDOW_BYTES, Role, VERSION};
pub use error::{ErrorCode, PageFault, RequestError, SessionError};
pub use event::{BatchPage, Closed, Event, EventBlock, VerifiedBatch, VerifiedProof, VerifiedRange};
pub use fork::{ForkEvidence, ForkEvidenceError};
pub use message::{Message, ProofKind, ProofStatus, RangeMode};
pub use session::{Micros, Session};
pub use source::FeedSource;
