//! The errors of [`MemStore`](super::MemStore) operations: one enum per operation.

use alloc::boxed::Box;
use core::fmt;

use crate::event::EventDecodeError;
use crate::head::{AuthorId, HeadError};
use crate::mmr::{ProofDecodeError, ProofError};
use crate::page::PageDecodeError;
use crate::xsp::ForkEvidence;

/// Why [`MemStore::append`](super::MemStore::append) or
/// [`append_batch`](super::MemStore::append_batch) refused (nothing was appended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppendError {
    /// The store has no local author (it was made with [`MemStore::replica`](super::MemStore::replica)).
    NoLocalAuthor,
    /// The event is invalid: payload over [`MAX_PAYLOAD_LEN`](crate::event::MAX_PAYLOAD_LEN)
    /// or reserved flag bits.
    Event {
        /// Index of the event in the batch (0 for `append`).
        index: usize,
        /// Why.
        error: EventDecodeError,
    },
    /// The local feed is forked (see [`MemStore::record_fork`](super::MemStore::record_fork)).
    Forked,
    /// The feed cannot grow any further (seq `u64::MAX` or the MMR's limit).
    Full,
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoLocalAuthor => f.write_str("the store has no local author"),
            Self::Event { index, error } => write!(f, "event {index} of the batch: {error}"),
            Self::Forked => f.write_str("the local feed is marked as forked"),
            Self::Full => f.write_str("the feed is full"),
        }
    }
}

impl core::error::Error for AppendError {}

/// Why [`MemStore::store_batch`](super::MemStore::store_batch) or
/// [`import_events`](super::MemStore::import_events) refused (nothing was stored).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The events are of the local author's feed, which only local appends extend.
    OwnFeed,
    /// The author is marked as forked.
    Forked(AuthorId),
    /// The signed head does not verify.
    BadHead(HeadError),
    /// The first event is past the end of the feed held: events are missing in between.
    Gap {
        /// Events held.
        held: u64,
        /// Seq of the first event given.
        first_seq: u64,
    },
    /// An event is not the author's next one (wrong author or seq).
    NotNext {
        /// Index of the event among those given.
        index: usize,
    },
    /// An event already held differs from the one given at that seq: the batch was verified
    /// against another history of the feed (a fork), or against another store.
    Conflict {
        /// The seq.
        seq: u64,
    },
    /// The events do not extend the held feed to the root the head (or the batch's peaks)
    /// states.
    NotAnExtension(ProofError),
    /// The events do not reach the head's length ([`import_events`](super::MemStore::import_events)
    /// needs the whole extension).
    LengthMismatch {
        /// The head's length.
        head: u64,
        /// Events held plus events given.
        computed: u64,
    },
    /// An event does not decode or has an invalid header.
    Event {
        /// Index of the event among those given.
        index: usize,
        /// Why.
        error: EventDecodeError,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OwnFeed => f.write_str("only local appends extend the local feed"),
            Self::Forked(a) => write!(f, "the feed of {a} is marked as forked"),
            Self::BadHead(e) => write!(f, "signed head: {e}"),
            Self::Gap { held, first_seq } => write!(f, "events start at seq {first_seq} but {held} are held"),
            Self::NotNext { index } => write!(f, "event {index} is not the feed's next event"),
            Self::Conflict { seq } => write!(f, "event {seq} differs from the one held"),
            Self::NotAnExtension(e) => write!(f, "events do not extend the feed to the head: {e}"),
            Self::LengthMismatch { head, computed } => {
                write!(f, "events end at {computed}, the head has length {head}")
            }
            Self::Event { index, error } => write!(f, "event {index}: {error}"),
        }
    }
}

impl core::error::Error for StoreError {}

/// Why [`MemStore::adopt_head`](super::MemStore::adopt_head) refused a head.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdoptError {
    /// The signature does not verify.
    BadHead(HeadError),
    /// The head is longer than the events held.
    NotHeld {
        /// The head's length.
        length: u64,
        /// Events held.
        held: u64,
    },
    /// The head's root is not the root of the events held at its length: the author signed
    /// two histories. `evidence` is fork evidence when the store can build it (it holds a
    /// signed head at least as long); the feed is then marked as forked.
    Fork {
        /// Evidence for [`MemStore::record_fork`](super::MemStore::record_fork) and peers.
        evidence: Option<Box<ForkEvidence>>,
    },
    /// The local author's heads are signed by the store itself.
    OwnFeed,
}

impl fmt::Display for AdoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadHead(e) => write!(f, "signed head: {e}"),
            Self::NotHeld { length, held } => write!(f, "head of length {length}, but only {held} events are held"),
            Self::Fork { .. } => f.write_str("the head contradicts the events held: the author forked"),
            Self::OwnFeed => f.write_str("the local feed's heads are signed locally"),
        }
    }
}

impl core::error::Error for AdoptError {}

/// Why a proof could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProveError {
    /// The store holds no feed of this author.
    UnknownFeed(AuthorId),
    /// The seq or length asked for is beyond the events held.
    OutOfRange {
        /// The seq or length asked for.
        requested: u64,
        /// Events held.
        held: u64,
    },
    /// The proof generator refused the sizes.
    Proof(ProofError),
}

impl fmt::Display for ProveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFeed(a) => write!(f, "no feed of {a} is held"),
            Self::OutOfRange { requested, held } => write!(f, "{requested} is beyond the {held} events held"),
            Self::Proof(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for ProveError {}

/// Why [`Restore`](super::Restore) refused persisted data (the store being rebuilt is left
/// as it was before the call that failed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestoreError {
    /// A page image does not parse (checksum, header, events).
    Page {
        /// The page number.
        page: u64,
        /// Why.
        error: PageDecodeError,
    },
    /// A page is of another author's feed.
    WrongAuthor {
        /// The page number.
        page: u64,
    },
    /// A page does not start where the previous one ended.
    NotConsecutive {
        /// The page number.
        page: u64,
        /// The first seq it should have.
        expected: u64,
        /// The first seq it has.
        found: u64,
    },
    /// The pages are not packed by the packing rule (they would not be byte-identical to
    /// other replicas' pages).
    Packing {
        /// The first page that differs.
        page: u64,
    },
    /// A signed head does not verify, or is of another author.
    BadHead(HeadError),
    /// A head of another author than the feed.
    HeadAuthor,
    /// The head is longer than the events in the pages.
    HeadBeyondEvents {
        /// The head's length.
        length: u64,
        /// Events in the pages.
        events: u64,
    },
    /// The events do not hash to the head's root.
    RootMismatch,
    /// Events past the head, and no pending head whose proof covers them.
    Unverified {
        /// Events covered by the head.
        head: u64,
        /// Events in the pages.
        events: u64,
    },
    /// The pending head's proof does not check out for the events held.
    BadPending(ProofError),
    /// Events without any signed head (only the local feed may be re-signed).
    NoHead,
    /// A feed of this author was already restored.
    Duplicate(AuthorId),
    /// The arrival order does not cover every event exactly once, in each feed's order.
    Arrival,
    /// The feed state names another number of events than the pages hold.
    StateMismatch {
        /// Events the state names.
        state: u64,
        /// Events in the pages.
        events: u64,
    },
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Page { page, error } => write!(f, "page {page}: {error}"),
            Self::WrongAuthor { page } => write!(f, "page {page} is of another feed"),
            Self::NotConsecutive { page, expected, found } => {
                write!(f, "page {page} starts at seq {found}, expected {expected}")
            }
            Self::Packing { page } => write!(f, "page {page} is not packed by the packing rule"),
            Self::BadHead(e) => write!(f, "signed head: {e}"),
            Self::HeadAuthor => f.write_str("the head is of another author"),
            Self::HeadBeyondEvents { length, events } => {
                write!(f, "head of length {length}, but the pages hold {events} events")
            }
            Self::RootMismatch => f.write_str("the events do not hash to the head's root"),
            Self::Unverified { head, events } => {
                write!(f, "{events} events but the head covers {head}, and no pending head proves the rest")
            }
            Self::BadPending(e) => write!(f, "pending head: {e}"),
            Self::NoHead => f.write_str("events without a signed head"),
            Self::Duplicate(a) => write!(f, "the feed of {a} was already restored"),
            Self::Arrival => f.write_str("the arrival order does not match the events"),
            Self::StateMismatch { state, events } => {
                write!(f, "the feed state names {state} events, the pages hold {events}")
            }
        }
    }
}

impl core::error::Error for RestoreError {}

/// Why bytes are not a [`FeedState`](super::FeedState) encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedStateDecodeError {
    /// The bytes end inside a field.
    Truncated,
    /// A version this crate does not read.
    BadVersion(u8),
    /// Reserved flag bits are set.
    ReservedFlags(u8),
    /// A signed head does not decode.
    Head(HeadError),
    /// The pending head's proof does not decode.
    Proof(ProofDecodeError),
    /// Bytes are left after the last field.
    TrailingBytes(usize),
}

impl fmt::Display for FeedStateDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("feed state is truncated"),
            Self::BadVersion(v) => write!(f, "unsupported feed state version {v}"),
            Self::ReservedFlags(b) => write!(f, "reserved feed state flags {b:#04x}"),
            Self::Head(e) => write!(f, "feed state head: {e}"),
            Self::Proof(e) => write!(f, "feed state pending proof: {e}"),
            Self::TrailingBytes(n) => write!(f, "{n} bytes after the feed state"),
        }
    }
}

impl core::error::Error for FeedStateDecodeError {}
