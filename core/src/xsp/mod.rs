//! XSP, the Xaeroflux sync protocol, as a sans-IO state machine.
//!
//! The byte-level specification is `docs/xsp.md` in the repository. This module is the one
//! implementation every host drives: it never does I/O, never reads a clock, never blocks,
//! never panics on anything a peer sends, never holds more than the limits it announced, and
//! never reports an event as verified unless it extends a verified prefix of its feed to a
//! signed head (or, for sparse reads, comes with its proofs).
//!
//! # Driving a [`Session`]
//!
//! One session per byte stream (an iroh QUIC stream, TCP, a Tor stream, an in-memory pipe).
//! The host owns the stream and the clock (microseconds, any monotonic epoch):
//!
//! 1. [`Session::new`]`(config, role, now, source)`: `source` is the local store, read through
//!    the [`FeedSource`] trait ([`MemStore`](crate::memstore::MemStore) implements it; a store
//!    shared by several sessions is passed as `Rc<RefCell<_>>` or `&_`).
//! 2. Whenever bytes arrive: [`Session::handle_input`]`(now, bytes)`; any number of bytes,
//!    cut anywhere.
//! 3. Then drain [`Session::poll_event`] and act on each [`Event`]:
//!    - [`Event::Verified`]: store the batch (`MemStore::store_batch`), then call
//!      [`Session::feed_updated`] for its author on *every* session of the store (so the new
//!      head is announced to, and pushed to, the other peers);
//!    - [`Event::HeadConfirmed`]: adopt the head (`MemStore::adopt_head`), and if it was new,
//!      `feed_updated` likewise;
//!    - [`Event::Fork`]: record the evidence (`MemStore::record_fork`);
//!    - [`Event::Range`], [`Event::Proof`], [`Event::RequestFailed`]: answers to
//!      [`Session::request_range`] and [`Session::request_proof`];
//!    - [`Event::Synced`]: both sides hold everything the other announced (again after each
//!      live catch-up); [`Event::Closed`]: the session is over.
//! 4. Then drain [`Session::poll_transmit`] into the stream. Frames are made lazily, one at a
//!    time, so call it whenever the stream can take bytes; a slow stream never makes the
//!    session buffer more than one frame.
//! 5. Arm a timer for [`Session::poll_timeout`]; when it fires call
//!    [`Session::handle_timeout`] and go to 3 (keep-alive PINGs and the idle timeout).
//! 6. After local appends, call [`Session::feed_updated`] on every session and go to 4.
//! 7. After [`Event::Closed`], send what `poll_transmit` still gives (the ERROR frame) until
//!    [`Session::is_drained`], then drop the stream.
//!
//! Rules: calls never re-enter; the session reads its source only inside its own calls, so
//! the host may change the store between calls (and must tell the sessions with
//! `feed_updated`); taking a [`Event::Verified`] from `poll_event` returns its flow-control
//! credit to the peer, so events not yet taken bound what the peer may send; no event follows
//! [`Event::Closed`].
//!
//! ```
//! use xaeroflux_core::memstore::{MemStore, NewEvent};
//! use xaeroflux_core::page::PageConfig;
//! use xaeroflux_core::xsp::{Config, Event, Role, Session};
//! use xaeroflux_core::AuthorKey;
//!
//! // Alice has three events; Bob has none. Neither stays for live updates.
//! let alice_key = AuthorKey::from_secret_bytes(&[1; 32]);
//! let alice = alice_key.author();
//! let mut store = MemStore::new(alice_key, PageConfig::default());
//! store.append_batch((0..3).map(|i| NewEvent::new(1_700_000_000_000_000 + i, b"hello")))?;
//! let bob_store = MemStore::new(AuthorKey::from_secret_bytes(&[2; 32]), PageConfig::default());
//!
//! let config = Config::new([7; 32]).with_live(false); // the space id, shared by both
//! let mut a = Session::new(config.clone(), Role::Initiator, 0, store);
//! let mut b = Session::new(config, Role::Responder, 0, bob_store);
//! let mut buf = [0u8; 4096];
//! let mut synced = false;
//! while !(a.is_drained() && b.is_drained()) {
//!     // An in-memory pipe: what one side sends, the other receives at once.
//!     while let Some(n) = a.poll_transmit(&mut buf) { b.handle_input(1, &buf[..n]); }
//!     while let Some(n) = b.poll_transmit(&mut buf) { a.handle_input(1, &buf[..n]); }
//!     while let Some(ev) = b.poll_event() {
//!         match ev {
//!             Event::Verified(batch) => {
//!                 b.source_mut().store_batch(&batch)?;
//!                 b.feed_updated(&batch.author());
//!             }
//!             Event::Synced => synced = true,
//!             _ => {}
//!         }
//!     }
//!     while a.poll_event().is_some() {}
//! }
//! assert!(synced);
//! assert_eq!(b.source().feed_len(&alice), 3);
//! assert_eq!(b.source().head(&alice), a.source().local_head());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! That loop, with a simulated clock for the timeouts, is [`Pair`]: two sessions back to back
//! in memory, which tests and benchmarks drive instead of writing it again.

pub(crate) mod codec;
mod config;
mod error;
mod event;
mod fetch_cache;
mod fork;
pub mod frame;
mod kept_range;
pub mod message;
pub mod pair;
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
pub use fetch_cache::{CachedAnswer, FetchCache, Inserted};
pub use fork::{ForkEvidence, ForkEvidenceError};
pub use kept_range::{KEPT_RANGE_VERSION, KeptRangeError};
pub use message::{Message, ProofKind, ProofStatus, RangeMode};
pub use pair::Pair;
pub use session::{Micros, Session};
pub use source::FeedSource;
