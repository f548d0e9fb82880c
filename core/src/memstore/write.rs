//! Writing to a [`MemStore`]: local appends, verified batches from sessions, imports, heads
//! and forks. Every operation checks everything before it changes anything.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;

use super::feed::{Feed, PendingHead, RunError};
use super::{AdoptError, AppendError, MemStore, StoreError};
use crate::event::{EventFlags, EventHeader, EventRef, MAX_PAYLOAD_LEN};
use crate::hash::{Hash, leaf_hashes, leaf_hashes_into};
use crate::head::SignedHead;
use crate::mmr::{MAX_LEAVES, MmrPeaks, ProofError};
use crate::xsp::{ForkEvidence, ForkEvidenceError, VerifiedBatch};

/// An event for the local author's feed, before it is given its seq: see
/// [`MemStore::append`].
///
/// ```
/// use xaeroflux_core::memstore::NewEvent;
/// use xaeroflux_core::EventFlags;
/// let ev = NewEvent::new(1_700_000_000_000_000, b"{\"op\":\"like\"}").kind(7).flags(EventFlags::CRDT);
/// assert_eq!((ev.kind, ev.flags), (7, EventFlags::CRDT));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewEvent<'a> {
    /// Microseconds since the Unix epoch, from the caller's clock.
    pub timestamp_us: u64,
    /// Application-defined kind (default 0).
    pub kind: u16,
    /// Flag bits (default none).
    pub flags: EventFlags,
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> NewEvent<'a> {
    /// An event of kind 0 without flags.
    pub fn new(timestamp_us: u64, payload: &'a [u8]) -> Self {
        NewEvent { timestamp_us, kind: 0, flags: EventFlags::NONE, payload }
    }
    /// With this kind.
    pub fn kind(mut self, kind: u16) -> Self {
        self.kind = kind;
        self
    }
    /// With these flags.
    pub fn flags(mut self, flags: EventFlags) -> Self {
        self.flags = flags;
        self
    }
}

/// What a write stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The seqs of the events new to the store (empty if all were held already).
    pub seqs: Range<u64>,
    /// The head adopted as the feed's latest complete head, if it changed.
    pub head: Option<SignedHead>,
}

impl MemStore {
    /// Appends one event to the local author's feed and signs the new head. Returns its seq.
    pub fn append(&mut self, ev: NewEvent<'_>) -> Result<u64, AppendError> {
        self.append_batch(core::iter::once(ev)).map(|r| r.start)
    }

    /// Appends events to the local author's feed, all or none, and signs one new head.
    /// Returns their seqs.
    pub fn append_batch<'a>(
        &mut self,
        events: impl IntoIterator<Item = NewEvent<'a>>,
    ) -> Result<Range<u64>, AppendError> {
        let key = self.key.clone().ok_or(AppendError::NoLocalAuthor)?;
        let author = key.author();
        let fi = self.feed_index_or_insert(author, true);
        let feed = &self.feeds[fi as usize];
        if feed.forked {
            return Err(AppendError::Forked);
        }
        let start = feed.len();
        let events: Vec<NewEvent<'a>> = events.into_iter().collect();
        for (index, ev) in events.iter().enumerate() {
            let len = u32::try_from(ev.payload.len()).unwrap_or(u32::MAX);
            if len > MAX_PAYLOAD_LEN {
                let error = crate::event::EventDecodeError::TooLarge { len, limit: MAX_PAYLOAD_LEN };
                return Err(AppendError::Event { index, error });
            }
            if ev.flags.0 & !EventFlags::KNOWN != 0 {
                let error = crate::event::EventDecodeError::ReservedFlags(ev.flags.0 & !EventFlags::KNOWN);
                return Err(AppendError::Event { index, error });
            }
        }
        let end = start.checked_add(events.len() as u64).filter(|&e| e < MAX_LEAVES).ok_or(AppendError::Full)?;
        if events.is_empty() {
            return Ok(start..start);
        }
        // Encode every event, hash their leaves together, then pack and extend the MMR.
        let mut bytes = Vec::new();
        let mut ends = Vec::with_capacity(events.len());
        for (i, ev) in events.iter().enumerate() {
            let len = ev.payload.len() as u32;
            let header = EventHeader::new(author, start + i as u64, ev.timestamp_us, ev.kind, ev.flags, len);
            bytes.extend_from_slice(header.as_bytes());
            bytes.extend_from_slice(ev.payload);
            ends.push(bytes.len());
        }
        let encoded: Vec<&[u8]> =
            ends.iter().scan(0, |from, &to| Some(&bytes[core::mem::replace(from, to)..to])).collect();
        // The headers and payloads were checked above, so every event parses and fits a page.
        let parsed: Vec<EventRef<'_>> =
            encoded.iter().map(|b| EventRef::parse(b)).collect::<Result<_, _>>().map_err(|_| AppendError::Full)?;
        let mut leaves = alloc::vec![Hash::ZERO; parsed.len()];
        leaf_hashes_into(&encoded, &mut leaves);
        let feed = &mut self.feeds[fi as usize];
        feed.append_run(parsed.into_iter(), &leaves, |_| true).map_err(|_| AppendError::Full)?;
        feed.head = Some(key.sign_head(end, feed.peaks().root()));
        self.arrived(fi, start, end);
        Ok(start..end)
    }

    /// Stores a batch a session verified ([`xsp::Event::Verified`](crate::xsp::Event::Verified)).
    ///
    /// The batch extends the events held (events it repeats must be the same). A batch that
    /// reaches its head adopts the head; one that ends before keeps the head and its
    /// consistency proof as the feed's [`pending_head`](Self::pending_head), so the events stay
    /// verifiable after a reload. Refused: the local feed, a forked feed, a gap, and a batch
    /// verified against a different prefix than the one held.
    pub fn store_batch(&mut self, batch: &VerifiedBatch) -> Result<Stored, StoreError> {
        let head = batch.head;
        let leaves = batch.events.leaf_hashes();
        let count = batch.events.iter().count();
        if count != leaves.len() || count != batch.events.len() {
            return Err(StoreError::NotNext { index: count });
        }
        let stored = self.extend(&head, batch.first_seq, || batch.events.iter(), leaves, Check::Peaks(&batch.peaks))?;
        let fi = self.index[&head.author] as usize;
        let feed = &mut self.feeds[fi];
        let end = batch.end_seq();
        if !batch.complete
            && end == feed.len()
            && let Some(proof) = &batch.proof
            && proof.old_leaves == end
            && proof.new_leaves == head.length
        {
            feed.pending = Some(PendingHead { head, proof: proof.clone() });
        }
        feed.settle_pending();
        Ok(stored)
    }

    /// Stores events of another author's feed that reach the signed head `head` exactly: the
    /// head's signature, the events' authors and seqs, and the MMR extension to the head's
    /// root are checked first. `events` start at any seq up to the number held (events
    /// already held must be the same); the head is adopted.
    pub fn import_events(&mut self, head: &SignedHead, events: &[EventRef<'_>]) -> Result<Stored, StoreError> {
        head.verify().map_err(StoreError::BadHead)?;
        let Some(first) = events.first() else {
            let held = self.feed_len(&head.author);
            return match self.adopt_head(head) {
                Ok(adopted) => Ok(Stored { seqs: held..held, head: adopted.then_some(*head) }),
                Err(AdoptError::NotHeld { length, held }) => {
                    Err(StoreError::LengthMismatch { head: length, computed: held })
                }
                Err(AdoptError::OwnFeed) => Err(StoreError::OwnFeed),
                Err(AdoptError::BadHead(e)) => Err(StoreError::BadHead(e)),
                Err(_) => Err(StoreError::NotAnExtension(ProofError::RootMismatch)),
            };
        };
        let first_seq = first.seq();
        for (index, ev) in events.iter().enumerate() {
            if ev.author() != head.author || Some(ev.seq()) != first_seq.checked_add(index as u64) {
                return Err(StoreError::NotNext { index });
            }
        }
        let end = first_seq + events.len() as u64;
        if end != head.length {
            return Err(StoreError::LengthMismatch { head: head.length, computed: end });
        }
        let mut leaves = Vec::with_capacity(events.len());
        leaf_hashes(events.iter().map(EventRef::encoded), &mut leaves);
        self.extend(head, first_seq, || events.iter().copied(), &leaves, Check::Root)
    }

    /// The common part of [`store_batch`](Self::store_batch) and
    /// [`import_events`](Self::import_events): checks, then appends and adopts.
    fn extend<'e, I: Iterator<Item = EventRef<'e>>>(
        &mut self,
        head: &SignedHead,
        first_seq: u64,
        events: impl Fn() -> I,
        leaves: &[Hash],
        check: Check<'_>,
    ) -> Result<Stored, StoreError> {
        let author = head.author;
        if Some(author) == self.author() {
            return Err(StoreError::OwnFeed);
        }
        if self.forks.contains_key(&author) {
            return Err(StoreError::Forked(author));
        }
        let held = self.feed(&author).map_or(0, Feed::len);
        if first_seq > held {
            return Err(StoreError::Gap { held, first_seq });
        }
        let n = leaves.len() as u64;
        let end = first_seq.checked_add(n).ok_or(StoreError::NotAnExtension(ProofError::TooManyLeaves(u64::MAX)))?;
        let skip = (held - first_seq).min(n);
        if let Some(f) = self.feed(&author) {
            for (i, leaf) in leaves.iter().take(skip as usize).enumerate() {
                let seq = first_seq + i as u64;
                if f.leaf(seq) != Some(*leaf) {
                    return Err(StoreError::Conflict { seq });
                }
            }
        }
        let new_leaves = leaves.get(skip as usize..).unwrap_or_default();
        // Whether the state after the events is what the caller claims.
        let claimed = |after: &MmrPeaks| match check {
            Check::Peaks(claimed) => after == claimed,
            Check::Root => after.root() == head.root,
        };
        let mismatch = StoreError::NotAnExtension(ProofError::RootMismatch);
        let fi = if new_leaves.is_empty() {
            let after = match self.feed(&author) {
                Some(f) => f.peaks_at(end).map_err(|_| StoreError::Gap { held, first_seq })?,
                None => MmrPeaks::new(),
            };
            if !claimed(&after) {
                return Err(mismatch);
            }
            self.feed_index_or_insert(author, false)
        } else {
            // Every new event must be the author's next: checked before anything changes
            // (the callers' events always are; this keeps a wrong one from touching the feed).
            for (i, ev) in events().enumerate().skip(skip as usize) {
                if ev.seq() != first_seq + i as u64 || ev.author() != author {
                    return Err(StoreError::NotNext { index: i });
                }
            }
            // The feed's own MMR is extended (many nodes at once) and checked; a refused
            // batch leaves it as it was, and a new feed is only inserted once accepted.
            let existing = self.index.get(&author).copied();
            let mut fresh = None;
            let feed = match existing.and_then(|i| self.feeds.get_mut(i as usize)) {
                Some(f) => f,
                None => fresh.insert(Feed::new(self.config, author, false)),
            };
            let new_events = events().skip(skip as usize);
            match feed.append_run(new_events, new_leaves, claimed) {
                Ok(()) => {}
                Err(RunError::Refused) => return Err(mismatch),
                Err(RunError::Full) => return Err(StoreError::NotAnExtension(ProofError::TooManyLeaves(end))),
                // Unreachable: the events were checked above.
                Err(RunError::Event(i)) => return Err(StoreError::NotNext { index: skip as usize + i }),
            }
            match fresh {
                Some(feed) => self.insert_feed(feed),
                None => existing.unwrap_or_default(),
            }
        };
        let complete = end == head.length;
        let feed = &mut self.feeds[fi as usize];
        let new_len = feed.len();
        let mut adopted = None;
        if complete && feed.head.is_none_or(|h| h.length < head.length) {
            feed.head = Some(*head);
            adopted = Some(*head);
        }
        feed.settle_pending();
        self.arrived(fi, held, new_len);
        Ok(Stored { seqs: held..new_len, head: adopted })
    }

    /// Adopts `head` as `author`'s latest complete head if the events held at its length
    /// hash to its root ([`xsp::Event::HeadConfirmed`](crate::xsp::Event::HeadConfirmed)).
    /// Returns whether it is newer than the head held. A head that contradicts the events
    /// held is a fork: [`AdoptError::Fork`], with evidence (recorded) when the store holds a
    /// signed head at least as long.
    pub fn adopt_head(&mut self, head: &SignedHead) -> Result<bool, AdoptError> {
        if Some(head.author) == self.author() {
            return Err(AdoptError::OwnFeed);
        }
        head.verify().map_err(AdoptError::BadHead)?;
        let held = self.feed_len(&head.author);
        if head.length > held {
            return Err(AdoptError::NotHeld { length: head.length, held });
        }
        let Some(&fi) = self.index.get(&head.author) else {
            // Nothing held and a head of length 0: nothing to adopt into.
            return Ok(false);
        };
        let feed = &self.feeds[fi as usize];
        let root = feed
            .peaks_at(head.length)
            .map(|p| p.root())
            .map_err(|_| AdoptError::NotHeld { length: head.length, held })?;
        if root != head.root {
            let evidence = match feed.head {
                Some(ours) if ours.length == head.length => {
                    Some(ForkEvidence { first: ours, second: *head, proof: None })
                }
                Some(ours) if ours.length > head.length => feed
                    .consistency_proof(head.length, ours.length)
                    .ok()
                    .map(|proof| ForkEvidence { first: *head, second: ours, proof: Some(proof) }),
                _ => None,
            };
            if let Some(e) = &evidence {
                // The evidence is sound by construction; record_fork checks it again.
                let _ = self.record_fork(e);
            }
            return Err(AdoptError::Fork { evidence: evidence.map(Box::new) });
        }
        let feed = &mut self.feeds[fi as usize];
        if feed.head.is_some_and(|h| h.length >= head.length) {
            return Ok(false);
        }
        feed.head = Some(*head);
        feed.settle_pending();
        Ok(true)
    }

    /// Records fork evidence (checked with [`ForkEvidence::verify`]): the author's feed is
    /// kept as it is but no longer served, fetched or extended. Returns whether the fork is
    /// new to the store.
    pub fn record_fork(&mut self, evidence: &ForkEvidence) -> Result<bool, ForkEvidenceError> {
        evidence.verify()?;
        let author = evidence.author();
        if self.forks.contains_key(&author) {
            return Ok(false);
        }
        self.forks.insert(author, evidence.clone());
        if let Some(&fi) = self.index.get(&author) {
            self.feeds[fi as usize].forked = true;
        }
        Ok(true)
    }
}

/// What the state after an extension must match.
enum Check<'a> {
    /// The peaks a session computed while verifying.
    Peaks(&'a MmrPeaks),
    /// The head's root (the events reach the head).
    Root,
}
