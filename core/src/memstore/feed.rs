//! One feed held in memory: its page images, the MMR over its events, and its heads.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use super::ProveError;
use crate::event::{EventRef, MAX_PAYLOAD_LEN};
use crate::hash::Hash;
use crate::head::{AuthorId, SignedHead};
use crate::mmr::{self, ConsistencyProof, InclusionProof, Mmr, MmrPeaks, RangeProof};
use crate::page::{PAGE_HEADER_LEN, PageBuilder, PageConfig, PagePushError};

/// A signed head beyond the events held, with the proof that the events held are a prefix
/// of its feed: what an interrupted sync leaves behind.
///
/// A [`VerifiedBatch`](crate::xsp::VerifiedBatch) that ends before its head is verified with
/// a consistency proof from the batch's end to the head; the store keeps that head and proof,
/// so the events past the last complete head stay verifiable after a reload
/// ([`Restore`](super::Restore) checks `proof.verify(root of the events held, head.root)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingHead {
    /// The head the events held were verified against (longer than the feed).
    pub head: SignedHead,
    /// Consistency proof from the number of events held to `head.length`.
    pub proof: ConsistencyProof,
}

/// Why [`Feed::append_run`] did not append.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RunError {
    /// The MMR would pass its maximum size; nothing changed.
    Full,
    /// `accept` refused the peaks the leaves reach; nothing changed.
    Refused,
    /// Event `i` of the run does not continue the feed.
    Event(usize),
}

/// The events of one author, packed into pages as they arrive.
#[derive(Clone, Debug)]
pub(super) struct Feed {
    pub(super) author: AuthorId,
    /// Sealed page images (every page but the one being filled).
    sealed: Vec<Vec<u8>>,
    /// First seq of every page: the sealed ones, then the tail if it holds an event.
    page_first: Vec<u64>,
    /// The page being filled.
    tail: PageBuilder,
    /// Per event: byte offset of the event inside its page's event area.
    offsets: Vec<u32>,
    pub(super) mmr: Mmr,
    /// Canonical event bytes held (headers included).
    pub(super) bytes: u64,
    /// The latest signed head whose events are all held.
    pub(super) head: Option<SignedHead>,
    /// A head past the events held (see [`PendingHead`]).
    pub(super) pending: Option<PendingHead>,
    pub(super) local: bool,
    pub(super) forked: bool,
}

impl Feed {
    pub(super) fn new(config: PageConfig, author: AuthorId, local: bool) -> Self {
        Feed {
            author,
            sealed: Vec::new(),
            page_first: Vec::new(),
            tail: PageBuilder::new(config, author, 0),
            offsets: Vec::new(),
            mmr: Mmr::new(),
            bytes: 0,
            head: None,
            pending: None,
            local,
            forked: false,
        }
    }

    /// Number of events held.
    pub(super) fn len(&self) -> u64 {
        self.mmr.leaves()
    }

    /// Number of pages (sealed ones and the tail if it holds an event).
    pub(super) fn page_count(&self) -> u64 {
        self.page_first.len() as u64
    }

    pub(super) fn peaks(&self) -> &MmrPeaks {
        self.mmr.peaks()
    }

    /// Appends an event the caller checked: by this author, seq [`len`](Self::len), at most
    /// [`MAX_PAYLOAD_LEN`] of payload. Seals the tail page first if the event does not fit.
    ///
    /// `leaf` is the event's leaf hash (callers often have it already).
    pub(super) fn push(&mut self, ev: EventRef<'_>, leaf: Hash) -> Result<(), PagePushError> {
        self.push_page(ev, leaf)?;
        self.mmr.append(leaf);
        Ok(())
    }

    /// Appends a run of events the caller checked as [`push`](Self::push) does, with
    /// `leaves[i]` the leaf hash of the `i`-th event, but extends the MMR first, all at once
    /// ([`Mmr::extend_from_slice`]), and only if `accept` approves the peaks it reaches:
    /// otherwise the feed is left as it was ([`RunError::Refused`]).
    ///
    /// An event that does not continue the feed ([`RunError::Event`]) is the caller's bug:
    /// the events before it are kept, and the MMR is ahead of them.
    pub(super) fn append_run<'e>(
        &mut self,
        events: impl Iterator<Item = EventRef<'e>>,
        leaves: &[Hash],
        accept: impl FnOnce(&MmrPeaks) -> bool,
    ) -> Result<(), RunError> {
        let before = self.mmr.peaks().clone();
        self.mmr.extend_from_slice(leaves).map_err(|_| RunError::Full)?;
        if !accept(self.mmr.peaks()) {
            self.mmr.truncate(before);
            return Err(RunError::Refused);
        }
        let mut pushed = 0;
        for (ev, leaf) in events.zip(leaves) {
            self.push_page(ev, *leaf).map_err(|_| RunError::Event(pushed))?;
            pushed += 1;
        }
        if pushed != leaves.len() {
            return Err(RunError::Event(pushed));
        }
        Ok(())
    }

    /// Packs an event into the tail page (sealing it first if the event does not fit); the
    /// MMR is the caller's.
    fn push_page(&mut self, ev: EventRef<'_>, leaf: Hash) -> Result<(), PagePushError> {
        if !self.tail.fits(ev.encoded().len()) {
            self.seal();
        }
        let offset = self.tail.used();
        self.tail.push_hashed(ev, leaf)?;
        if self.tail.count() == 1 {
            self.page_first.push(ev.seq());
        }
        // A page's event area is under 2^32 bytes (PageBuilder refuses anything larger).
        self.offsets.push(u32::try_from(offset).unwrap_or(u32::MAX));
        self.bytes += ev.encoded().len() as u64;
        Ok(())
    }

    fn seal(&mut self) {
        if self.tail.is_empty() {
            return;
        }
        self.sealed.push(self.tail.finish());
        let next = self.tail.next_seq();
        self.tail.reset(next);
    }

    /// The page holding `seq`: `(page number, first seq of the page)`.
    pub(super) fn locate(&self, seq: u64) -> Option<(u64, u64)> {
        if seq >= self.len() {
            return None;
        }
        let page = self.page_first.partition_point(|&first| first <= seq).checked_sub(1)?;
        Some((page as u64, *self.page_first.get(page)?))
    }

    /// Event `seq`, viewed in its page.
    pub(super) fn get(&self, seq: u64) -> Option<EventRef<'_>> {
        let (page, _) = self.locate(seq)?;
        let offset = *self.offsets.get(usize::try_from(seq).ok()?)? as usize;
        let area = match self.sealed.get(page as usize) {
            Some(img) => img.get(PAGE_HEADER_LEN..)?,
            None => self.tail.event_bytes(),
        };
        EventRef::parse_prefix(area.get(offset..)?, MAX_PAYLOAD_LEN).ok().map(|(ev, _)| ev)
    }

    /// The leaf hash of event `seq` (from the MMR, no hashing).
    pub(super) fn leaf(&self, seq: u64) -> Option<Hash> {
        if seq >= self.len() {
            return None;
        }
        self.mmr.nodes().get(usize::try_from(mmr::leaf_to_pos(seq)).ok()?).copied()
    }

    /// The image of page `page`: borrowed for a sealed page, built for the tail.
    pub(super) fn page(&self, page: u64) -> Option<Cow<'_, [u8]>> {
        let i = usize::try_from(page).ok()?;
        if let Some(img) = self.sealed.get(i) {
            return Some(Cow::Borrowed(img));
        }
        (i == self.sealed.len() && !self.tail.is_empty()).then(|| Cow::Owned(self.tail.finish()))
    }

    /// Calls `f` with page `page` without allocating for a sealed page.
    pub(super) fn with_page(&self, page: u64, f: &mut dyn FnMut(&[u8])) -> bool {
        match self.page(page) {
            Some(img) => {
                f(&img);
                true
            }
            None => false,
        }
    }

    /// The MMR peaks of the first `leaves` events.
    pub(super) fn peaks_at(&self, leaves: u64) -> Result<MmrPeaks, ProveError> {
        self.check_size(leaves)?;
        MmrPeaks::from_store(self.mmr.nodes(), leaves).map_err(ProveError::Proof)
    }

    pub(super) fn inclusion_proof(&self, leaves: u64, index: u64) -> Result<InclusionProof, ProveError> {
        self.check_size(leaves)?;
        if index >= leaves {
            return Err(ProveError::OutOfRange { requested: index, held: leaves });
        }
        mmr::inclusion_proof(self.mmr.nodes(), leaves, index).map_err(ProveError::Proof)
    }

    pub(super) fn consistency_proof(&self, old: u64, new: u64) -> Result<ConsistencyProof, ProveError> {
        self.check_size(new)?;
        mmr::consistency_proof(self.mmr.nodes(), old, new).map_err(ProveError::Proof)
    }

    pub(super) fn range_proof(&self, leaves: u64, start: u64, end: u64) -> Result<RangeProof, ProveError> {
        self.check_size(leaves)?;
        mmr::range_proof(self.mmr.nodes(), leaves, start, end).map_err(ProveError::Proof)
    }

    fn check_size(&self, leaves: u64) -> Result<(), ProveError> {
        if leaves > self.len() {
            return Err(ProveError::OutOfRange { requested: leaves, held: self.len() });
        }
        Ok(())
    }

    /// Drops the pending head once it no longer describes the events held.
    pub(super) fn settle_pending(&mut self) {
        let len = self.len();
        if self.pending.as_ref().is_some_and(|p| p.proof.old_leaves != len || p.head.length <= len) {
            self.pending = None;
        }
    }

    /// Approximate heap bytes held by the feed.
    pub(super) fn memory(&self) -> usize {
        let pages: usize = self.sealed.iter().map(|p| p.capacity()).sum();
        pages
            + self.tail.used()
            + self.offsets.capacity() * 4
            + self.page_first.capacity() * 8
            + core::mem::size_of_val(self.mmr.nodes())
    }
}
