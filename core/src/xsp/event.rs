//! What a session reports to the application.

use alloc::vec::Vec;
use core::ops::Range;

use super::config::{Capabilities, Limits, Role};
use super::error::{ErrorCode, SessionError};
use super::fork::ForkEvidence;
use super::message::{ProofStatus, RangeMode};
use crate::event::EventRef;
use crate::hash::Hash;
use crate::head::{AuthorId, SignedHead};
use crate::mmr::{ConsistencyProof, InclusionProof, MmrPeaks, RangeProof};

/// Canonical encoded events, back to back, with their leaf hashes.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct EventBlock {
    pub(crate) bytes: Vec<u8>,
    pub(crate) ends: Vec<u32>,
    pub(crate) leaves: Vec<Hash>,
}

impl core::fmt::Debug for EventBlock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EventBlock").field("events", &self.ends.len()).field("bytes", &self.bytes.len()).finish()
    }
}

impl EventBlock {
    /// Hashes every event's leaf into `leaves` (empty before), many at a time
    /// ([`crate::hash::leaf_hashes`]).
    pub(crate) fn hash_leaves(&mut self) {
        debug_assert!(self.leaves.is_empty(), "leaves hashed twice");
        let mut leaves = core::mem::take(&mut self.leaves);
        crate::hash::leaf_hashes((0..self.len()).filter_map(|i| self.event_bytes(i)), &mut leaves);
        self.leaves = leaves;
    }
    /// Event `i`'s canonical bytes.
    fn event_bytes(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { *self.ends.get(i - 1)? as usize };
        self.bytes.get(start..end)
    }
    /// Number of events.
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    /// Total canonical bytes.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }
    /// Event `i` (its canonical bytes, already checked).
    pub fn get(&self, i: usize) -> Option<EventRef<'_>> {
        EventRef::parse(self.event_bytes(i)?).ok()
    }
    /// The events in order, viewed in place.
    pub fn iter(&self) -> impl Iterator<Item = EventRef<'_>> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }
    /// Leaf hashes of the events, in order (so the store need not hash them again).
    pub fn leaf_hashes(&self) -> &[Hash] {
        &self.leaves
    }
    /// The raw canonical bytes of all events.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// One page's share of a [`VerifiedBatch`] (page numbers use the peer's page size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPage {
    /// Page number in the feed.
    pub page: u64,
    /// Events of the page before this share.
    pub offset: u64,
    /// Indices into the batch's events.
    pub events: Range<usize>,
}

/// Verified events that extend the application's copy of a feed: store them.
///
/// The events `first_seq ..` extend the prefix the session started from (what
/// [`FeedSource::prefix`](super::FeedSource::prefix) said, plus earlier batches) and were
/// checked against `head` (the MMR bulk check, or a consistency proof when the batch ends
/// before the head). Events below the store's current length, if another session stored
/// them first, are the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBatch {
    /// The signed head the batch is verified against.
    pub head: SignedHead,
    /// Seq of the first event.
    pub first_seq: u64,
    /// The events.
    pub events: EventBlock,
    /// MMR peaks after the last event of the batch.
    pub peaks: MmrPeaks,
    /// How the events fall into the peer's pages.
    pub pages: Vec<BatchPage>,
    /// Whether the batch reaches `head.length` (the head can be stored with it).
    pub complete: bool,
    /// For a batch that ends before its head: the consistency proof from the batch's end to
    /// `head.length` it was verified with (a store keeps it to prove the events later).
    pub proof: Option<ConsistencyProof>,
    pub(crate) cost: (u64, u64),
}

impl VerifiedBatch {
    /// The author.
    pub fn author(&self) -> AuthorId {
        self.head.author
    }
    /// One past the seq of the last event.
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.events.len() as u64
    }
}

/// Verified events of a sparse read (RANGE_REQUEST): `[start, start + len)` of the feed,
/// proved against `head` by a range proof. They do not extend the stored prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRange {
    /// The request id.
    pub id: u64,
    /// The head they are proved against.
    pub head: SignedHead,
    /// Seq of the first event.
    pub start: u64,
    /// The events (fewer than asked if they did not fit one frame: ask again for the rest).
    pub events: EventBlock,
    /// The range proof they were verified with against [`head`](Self::head) (`None` for an
    /// empty answer): kept, it proves any of them later
    /// ([`RangeProof::inclusion_proof`](crate::mmr::RangeProof::inclusion_proof)).
    pub proof: Option<RangeProof>,
}

impl VerifiedRange {
    /// The seqs of the events.
    pub fn seqs(&self) -> Range<u64> {
        self.start..self.start + self.events.len() as u64
    }

    /// The bytes a host keeping this answer holds: the events' canonical bytes and the range
    /// proof's nodes.
    pub fn byte_len(&self) -> usize {
        self.events.byte_len() + self.proof.as_ref().map_or(0, |p| core::mem::size_of_val(p.nodes()))
    }

    /// The inclusion proof of event `seq` against [`head`](Self::head), derived from the range
    /// proof these events came with (no one asked again), or `None` if `seq` is not among them.
    pub fn inclusion_proof(&self, seq: u64) -> Option<InclusionProof> {
        // Verified when the answer came: deriving again cannot fail for a seq within it.
        self.proof.as_ref()?.inclusion_proof(self.events.leaf_hashes(), seq, &self.head.root).ok()
    }

    /// The request for what this answer to `asked` left out (it stopped at a frame's end),
    /// or `None` if it holds all that the peer's feed, as of [`head`](Self::head), has of the
    /// events asked for. An empty answer leaves nothing out: the peer's feed ends before them.
    pub fn rest(&self, asked: RangeMode) -> Option<RangeMode> {
        let target = self.head.length;
        let end = match asked {
            RangeMode::Range { end, .. } => end.min(target),
            RangeMode::Latest(_) => target,
        };
        let next = self.start + self.events.len() as u64;
        (!self.events.is_empty() && next < end).then_some(RangeMode::Range { start: next, end })
    }
}

/// A verified proof answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifiedProof {
    /// Event `seq` with leaf hash `leaf` is in the feed of `head`.
    Inclusion {
        /// Request id.
        id: u64,
        /// The head.
        head: SignedHead,
        /// The seq.
        seq: u64,
        /// The event's leaf hash.
        leaf: Hash,
        /// The proof, for showing others.
        proof: InclusionProof,
    },
    /// The first `old_len` events of the feed of `head` have root `old_root`.
    Consistency {
        /// Request id.
        id: u64,
        /// The head.
        head: SignedHead,
        /// The old length.
        old_len: u64,
        /// The root of the prefix, as implied by the head.
        old_root: Hash,
        /// The proof.
        proof: ConsistencyProof,
    },
}

impl VerifiedProof {
    /// The id of the request it answers.
    pub fn id(&self) -> u64 {
        match self {
            VerifiedProof::Inclusion { id, .. } | VerifiedProof::Consistency { id, .. } => *id,
        }
    }
}

/// How and why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The code sent or received.
    pub code: ErrorCode,
    /// Whether the peer closed it.
    pub by_peer: bool,
    /// The precise error, unless it was a normal close.
    pub error: Option<SessionError>,
}

/// What the session reports; take them with [`Session::poll_event`](super::Session::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer's HELLO was accepted.
    Connected {
        /// The version in use.
        version: u64,
        /// Capabilities in force (both sides offer them).
        capabilities: Capabilities,
        /// The peer's role.
        peer_role: Role,
        /// The peer's page size.
        peer_page_size: u32,
        /// The peer's limits.
        peer_limits: Limits,
        /// The peer's incarnation, if its HELLO carried one (see
        /// [`Config::with_incarnation`](super::Config::with_incarnation)).
        peer_incarnation: Option<u64>,
    },
    /// A signed head the peer announced (signature verified, no fork with what we hold).
    RemoteHead(SignedHead),
    /// A head the peer announced whose length equals the verified prefix we hold and whose
    /// root matches it: the application may adopt it as its head.
    HeadConfirmed(SignedHead),
    /// Verified events to store.
    Verified(VerifiedBatch),
    /// Verified events of a sparse read.
    Range(VerifiedRange),
    /// A verified proof.
    Proof(VerifiedProof),
    /// A request the peer could not answer.
    RequestFailed {
        /// The request id.
        id: u64,
        /// Why.
        status: ProofStatus,
    },
    /// An author forked; the session no longer syncs that feed.
    Fork(ForkEvidence),
    /// Both sides hold everything the other announced (again true after each catch-up).
    Synced,
    /// An APP frame.
    App {
        /// Channel (0 = MCP).
        channel: u64,
        /// Data.
        data: Vec<u8>,
    },
    /// The session ended. No event follows.
    Closed(Closed),
}
