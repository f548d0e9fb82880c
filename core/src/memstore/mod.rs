//! [`MemStore`]: a complete feed store in memory, the store of hosts without a file system.
//!
//! It holds the local author's feed and replicas of other feeds of a space, exactly as the
//! data model says: events packed into pages by the packing rule of [`crate::page`] (so its
//! page images are byte-identical to every other replica's), one MMR per feed with every node
//! (so it proves anything about any length it holds), and the signed heads. It implements
//! [`FeedSource`](crate::xsp::FeedSource), so an XSP [`Session`](crate::xsp::Session) serves
//! from it directly, and it stores what sessions verify.
//!
//! The browser host keeps one `MemStore` and persists it around the edges (IndexedDB): after
//! each change it saves the touched pages and the feed's [`FeedState`], and at start-up it
//! rebuilds the store with [`Restore`], which verifies everything again. The simulation tests
//! give each simulated peer one.
//!
//! Like the rest of the core it has no clock and no randomness: the caller passes the
//! author's key and every timestamp.
//!
//! # Writing
//!
//! - [`MemStore::append`] / [`MemStore::append_batch`]: the local author's events; each call
//!   signs one new head.
//! - [`MemStore::store_batch`]: a [`VerifiedBatch`](crate::xsp::VerifiedBatch) a session
//!   verified ([`xsp::Event::Verified`](crate::xsp::Event::Verified)); a batch that reaches
//!   its head adopts the head.
//! - [`MemStore::adopt_head`]: a head a peer announced for events already held
//!   ([`xsp::Event::HeadConfirmed`](crate::xsp::Event::HeadConfirmed)).
//! - [`MemStore::import_events`]: events of another feed with the signed head they reach
//!   (an import, a test).
//! - [`MemStore::record_fork`]: fork evidence; the feed is then neither served nor fetched.
//!
//! Every write checks everything first and changes nothing when it fails.
//!
//! # Reading
//!
//! By `(author, seq)` ([`get`](MemStore::get)), by range ([`range`](MemStore::range)), in
//! local arrival order across feeds ([`iter_events`](MemStore::iter_events)), page images
//! ([`page`](MemStore::page)), heads, MMR peaks and roots, and inclusion, consistency and range
//! proofs. Reads borrow from the pages: no copy.
//!
//! ```
//! use xaeroflux_core::memstore::{MemStore, NewEvent};
//! use xaeroflux_core::page::PageConfig;
//! use xaeroflux_core::AuthorKey;
//!
//! let key = AuthorKey::from_secret_bytes(&[7; 32]); // from the host's RNG or key storage
//! let me = key.author();
//! let mut store = MemStore::new(key, PageConfig::new(4096)?);
//! store.append(NewEvent::new(1_700_000_000_000_000, b"hello"))?;
//! let seqs = store.append_batch((1..=3).map(|i| NewEvent::new(1_700_000_000_000_000 + i, b"more").kind(2)))?;
//! assert_eq!(seqs, 1..4);
//!
//! assert_eq!(store.get(&me, 0).unwrap().payload(), b"hello");
//! assert_eq!(store.range(&me, 1..3).map(|e| e.seq()).collect::<Vec<_>>(), [1, 2]);
//! let head = store.local_head().unwrap();
//! head.verify()?;
//! assert_eq!((head.length, head.root), (4, store.mmr_root()));
//!
//! // Prove event 2 to anyone who has the signed head.
//! let proof = store.inclusion_proof(&me, 2)?;
//! proof.verify(&store.get(&me, 2).unwrap().leaf_hash(), &head.root)?;
//!
//! // Another replica gets the same events and the same page images.
//! let mut replica = MemStore::replica(PageConfig::new(4096)?);
//! let events: Vec<_> = store.iter_feed(&me).collect();
//! replica.import_events(&head, &events)?;
//! assert_eq!(replica.page(&me, 0), store.page(&me, 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod archive;
pub mod archive_check;
pub mod archive_seal;
mod error;
mod feed;
mod restore;
mod source;
mod write;

#[cfg(test)]
mod archive_tests;
#[cfg(test)]
mod tests;

use alloc::borrow::Cow;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::ops::Range;

pub use archive::{
    ArchiveError, ArchiveHeader, ArchiveWriter, archive_header, read_archive, read_archive_as,
    read_archive_with_password,
};
pub use archive_check::{
    ArchiveCheck, Checked, CheckedArchive, CheckedFeed, FeedCheck, RECORD_HEADER_LEN, check_archive,
};
pub use archive_seal::{KdfParams, KeySeal, SealError, SealedKey};
pub use error::{AdoptError, AppendError, FeedStateDecodeError, ProveError, RestoreError, StoreError};
pub use feed::PendingHead;
pub use restore::{FEED_STATE_VERSION, FeedState, Restore};
pub use write::{NewEvent, Stored};

use feed::Feed;

use crate::event::EventRef;
use crate::hash::Hash;
use crate::head::{AuthorId, AuthorKey, SignedHead};
use crate::mmr::{ConsistencyProof, InclusionProof, MmrPeaks, RangeProof};
use crate::page::PageConfig;
use crate::xsp::{EventBlock, ForkEvidence, VerifiedRange};

/// A run of events of one feed that arrived together, in local arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    feed: u32,
    start: u64,
    end: u64,
}

/// Consecutive events of one feed that arrived together: an element of the local arrival
/// order ([`MemStore::arrival_runs`]), which [`Restore::arrival`] takes back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrivalRun {
    /// The feed's author.
    pub author: AuthorId,
    /// The events' seqs.
    pub seqs: Range<u64>,
}

/// A summary of one feed held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedInfo {
    /// The author.
    pub author: AuthorId,
    /// Events held.
    pub len: u64,
    /// Canonical bytes of the events held.
    pub bytes: u64,
    /// Pages of the feed.
    pub pages: u64,
    /// The latest signed head whose events are all held.
    pub head: Option<SignedHead>,
    /// Whether this is the local author's feed.
    pub local: bool,
    /// Whether the author forked (the feed is then neither served nor fetched).
    pub forked: bool,
}

/// A feed store in memory. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct MemStore {
    config: PageConfig,
    key: Option<AuthorKey>,
    feeds: Vec<Feed>,
    index: BTreeMap<AuthorId, u32>,
    arrival: Vec<Run>,
    events: u64,
    forks: BTreeMap<AuthorId, ForkEvidence>,
    excluded: BTreeSet<AuthorId>,
}

impl MemStore {
    /// A store whose local author holds `key`, with pages of `config`.
    pub fn new(key: AuthorKey, config: PageConfig) -> Self {
        let mut s = Self::replica(config);
        let author = key.author();
        s.key = Some(key);
        s.feed_index_or_insert(author, true);
        s
    }

    /// A store without a local author: it only holds replicas (a relay, a pinning peer, a
    /// reader).
    pub fn replica(config: PageConfig) -> Self {
        MemStore {
            config,
            key: None,
            feeds: Vec::new(),
            index: BTreeMap::new(),
            arrival: Vec::new(),
            events: 0,
            forks: BTreeMap::new(),
            excluded: BTreeSet::new(),
        }
    }

    /// The page configuration (every replica of a space should use the same).
    pub fn page_config(&self) -> PageConfig {
        self.config
    }

    /// The local author, if the store has one.
    pub fn author(&self) -> Option<AuthorId> {
        self.key.as_ref().map(AuthorKey::author)
    }

    /// The local author's key.
    pub fn key(&self) -> Option<&AuthorKey> {
        self.key.as_ref()
    }

    fn feed(&self, author: &AuthorId) -> Option<&Feed> {
        self.index.get(author).and_then(|&i| self.feeds.get(i as usize))
    }

    fn feed_index_or_insert(&mut self, author: AuthorId, local: bool) -> u32 {
        if let Some(&i) = self.index.get(&author) {
            return i;
        }
        let mut feed = Feed::new(self.config, author, local);
        feed.forked = self.forks.contains_key(&author);
        self.insert_feed(feed)
    }

    /// Adds a feed the store does not hold yet; returns its index.
    fn insert_feed(&mut self, feed: Feed) -> u32 {
        let i = self.feeds.len() as u32;
        self.index.insert(feed.author, i);
        self.feeds.push(feed);
        i
    }

    /// Records that events `start..end` of feed `feed` arrived now.
    fn arrived(&mut self, feed: u32, start: u64, end: u64) {
        if start == end {
            return;
        }
        self.events += end - start;
        if let Some(last) = self.arrival.last_mut()
            && last.feed == feed
            && last.end == start
        {
            last.end = end;
            return;
        }
        self.arrival.push(Run { feed, start, end });
    }

    // ---- reads ----

    /// Event `seq` of `author`'s feed, read in place.
    pub fn get(&self, author: &AuthorId, seq: u64) -> Option<EventRef<'_>> {
        self.feed(author)?.get(seq)
    }

    /// The events of `author`'s feed with seqs in `seqs`, clipped to the events held.
    pub fn range(&self, author: &AuthorId, seqs: Range<u64>) -> FeedEvents<'_> {
        match self.feed(author) {
            Some(f) => {
                let end = seqs.end.min(f.len());
                FeedEvents { feed: Some(f), next: seqs.start.min(end), end }
            }
            None => FeedEvents { feed: None, next: 0, end: 0 },
        }
    }

    /// Every event of `author`'s feed held, in seq order.
    pub fn iter_feed(&self, author: &AuthorId) -> FeedEvents<'_> {
        self.range(author, 0..u64::MAX)
    }

    /// Every event held, in local arrival order (the order this store received them).
    pub fn iter_events(&self) -> ArrivalEvents<'_> {
        ArrivalEvents { store: self, run: 0, next: self.arrival.first().map_or(0, |r| r.start), remaining: self.events }
    }

    /// The local arrival order, as runs of consecutive events of one feed.
    pub fn arrival_runs(&self) -> impl ExactSizeIterator<Item = ArrivalRun> + '_ {
        self.arrival.iter().map(|r| ArrivalRun { author: self.feeds[r.feed as usize].author, seqs: r.start..r.end })
    }

    /// Number of events held of `author`'s feed (0 if none).
    pub fn feed_len(&self, author: &AuthorId) -> u64 {
        self.feed(author).map_or(0, Feed::len)
    }

    /// Number of events held, all feeds together.
    pub fn event_count(&self) -> u64 {
        self.events
    }

    /// A summary of `author`'s feed.
    pub fn feed_info(&self, author: &AuthorId) -> Option<FeedInfo> {
        self.feed(author).map(info)
    }

    /// Every feed held, the local one first, then in the order they were first seen.
    pub fn feeds(&self) -> impl ExactSizeIterator<Item = FeedInfo> + '_ {
        self.feeds.iter().map(info)
    }

    /// The latest signed head of `author` whose events are all held.
    pub fn head(&self, author: &AuthorId) -> Option<SignedHead> {
        self.feed(author)?.head
    }

    /// The local author's latest signed head (`None` before the first append).
    pub fn local_head(&self) -> Option<SignedHead> {
        self.head(&self.author()?)
    }

    /// A head past the events held of `author`, with the proof that they are its prefix
    /// (left by an interrupted sync).
    pub fn pending_head(&self, author: &AuthorId) -> Option<&PendingHead> {
        self.feed(author)?.pending.as_ref()
    }

    /// The MMR peaks over every event held of `author`'s feed.
    pub fn peaks(&self, author: &AuthorId) -> Option<&MmrPeaks> {
        self.feed(author).map(Feed::peaks)
    }

    /// The MMR root over every event held of `author`'s feed.
    pub fn root(&self, author: &AuthorId) -> Option<Hash> {
        self.peaks(author).map(MmrPeaks::root)
    }

    /// The MMR root of the local author's feed (the empty root without a local author or
    /// events).
    pub fn mmr_root(&self) -> Hash {
        self.author().and_then(|a| self.root(&a)).unwrap_or_else(|| MmrPeaks::new().root())
    }

    /// Number of pages of `author`'s feed.
    pub fn page_count(&self, author: &AuthorId) -> u64 {
        self.feed(author).map_or(0, Feed::page_count)
    }

    /// The page holding event `seq` of `author`: `(page number, first seq of the page)`.
    pub fn locate(&self, author: &AuthorId, seq: u64) -> Option<(u64, u64)> {
        self.feed(author)?.locate(seq)
    }

    /// The image of page `page` of `author`'s feed (`span × page_size` bytes), exactly as
    /// every replica packs it. The last page may still grow; it is built on each call.
    pub fn page(&self, author: &AuthorId, page: u64) -> Option<Cow<'_, [u8]>> {
        self.feed(author)?.page(page)
    }

    fn feed_or_err(&self, author: &AuthorId) -> Result<&Feed, ProveError> {
        self.feed(author).ok_or(ProveError::UnknownFeed(*author))
    }

    fn head_len(&self, author: &AuthorId) -> Result<(&Feed, u64), ProveError> {
        let f = self.feed_or_err(author)?;
        Ok((f, f.head.map_or(0, |h| h.length)))
    }

    /// Proof that event `seq` is in `author`'s feed at the length of its head (verify it
    /// against that head's root).
    pub fn inclusion_proof(&self, author: &AuthorId, seq: u64) -> Result<InclusionProof, ProveError> {
        let (f, len) = self.head_len(author)?;
        f.inclusion_proof(len, seq)
    }

    /// Proof that event `seq` is among the first `leaves` events of `author`'s feed.
    pub fn inclusion_proof_at(&self, author: &AuthorId, leaves: u64, seq: u64) -> Result<InclusionProof, ProveError> {
        self.feed_or_err(author)?.inclusion_proof(leaves, seq)
    }

    /// Proof that the first `old_len` events of `author`'s feed are a prefix of the feed at
    /// its head.
    pub fn consistency_proof(&self, author: &AuthorId, old_len: u64) -> Result<ConsistencyProof, ProveError> {
        let (f, len) = self.head_len(author)?;
        f.consistency_proof(old_len, len)
    }

    /// Proof that the first `old` events of `author`'s feed are a prefix of its first `new`.
    pub fn consistency_proof_at(&self, author: &AuthorId, old: u64, new: u64) -> Result<ConsistencyProof, ProveError> {
        self.feed_or_err(author)?.consistency_proof(old, new)
    }

    /// Proof that events `seqs` are in `author`'s feed at the length of its head.
    pub fn range_proof(&self, author: &AuthorId, seqs: Range<u64>) -> Result<RangeProof, ProveError> {
        let (f, len) = self.head_len(author)?;
        f.range_proof(len, seqs.start, seqs.end)
    }

    /// Events `seqs` of `author`'s feed as a verified answer to a read on demand: the events,
    /// their range proof and the feed's signed head it leads to, as a session reports a peer's
    /// answer ([`Event::Range`](crate::xsp::Event::Range)), made from this store's own copy
    /// (for tests, simulations and hosts that answer a read locally). The request id is 0;
    /// empty `seqs` give an answer without events or proof.
    ///
    /// ```
    /// use xaeroflux_core::AuthorKey;
    /// use xaeroflux_core::memstore::{MemStore, NewEvent};
    /// use xaeroflux_core::page::PageConfig;
    ///
    /// let key = AuthorKey::from_secret_bytes(&[1; 32]);
    /// let author = key.author();
    /// let mut feed = MemStore::new(key, PageConfig::default());
    /// feed.append_batch((0..10u64).map(|i| NewEvent::new(i, b"post"))).unwrap();
    /// let answer = feed.verified_range(&author, 3..7).unwrap();
    /// assert_eq!(answer.seqs(), 3..7);
    /// assert!(answer.inclusion_proof(5).is_some());
    /// ```
    pub fn verified_range(&self, author: &AuthorId, seqs: Range<u64>) -> Result<VerifiedRange, ProveError> {
        let (f, len) = self.head_len(author)?;
        let head = f.head.ok_or(ProveError::OutOfRange { requested: seqs.end, held: 0 })?;
        if seqs.end > len {
            return Err(ProveError::OutOfRange { requested: seqs.end, held: len });
        }
        let mut events = EventBlock::default();
        for ev in self.range(author, seqs.clone()) {
            events.bytes.extend_from_slice(ev.encoded());
            // Events of one store's feed: their bytes fit the u32 offsets of an answer.
            events.ends.push(u32::try_from(events.bytes.len()).unwrap_or(u32::MAX));
        }
        events.hash_leaves();
        let proof = if seqs.is_empty() { None } else { Some(f.range_proof(len, seqs.start, seqs.end)?) };
        Ok(VerifiedRange { id: 0, head, start: seqs.start, events, proof })
    }

    /// Proof that events `seqs` are among the first `leaves` events of `author`'s feed.
    pub fn range_proof_at(&self, author: &AuthorId, leaves: u64, seqs: Range<u64>) -> Result<RangeProof, ProveError> {
        self.feed_or_err(author)?.range_proof(leaves, seqs.start, seqs.end)
    }

    /// The MMR peaks of the first `leaves` events of `author`'s feed (their root is the root
    /// a head of that length must carry).
    pub fn peaks_at(&self, author: &AuthorId, leaves: u64) -> Result<MmrPeaks, ProveError> {
        self.feed_or_err(author)?.peaks_at(leaves)
    }

    /// Fork evidence recorded for `author`.
    pub fn fork(&self, author: &AuthorId) -> Option<&ForkEvidence> {
        self.forks.get(author)
    }

    /// Every fork recorded.
    pub fn forks(&self) -> impl Iterator<Item = &ForkEvidence> + '_ {
        self.forks.values()
    }

    /// Whether sessions fetch `author`'s feed when a peer announces it: not the local
    /// author's, not a forked one, not an [excluded](Self::exclude) one.
    pub fn wants(&self, author: &AuthorId) -> bool {
        Some(*author) != self.author() && !self.forks.contains_key(author) && !self.excluded.contains(author)
    }

    /// Stops fetching `author`'s feed from peers (what is held stays, and is still served).
    /// Sessions already running learn of it through
    /// [`Session::wants_changed`](crate::xsp::Session::wants_changed).
    pub fn exclude(&mut self, author: AuthorId) {
        self.excluded.insert(author);
    }

    /// Fetches `author`'s feed again after [`exclude`](Self::exclude) (tell running sessions
    /// with [`Session::wants_changed`](crate::xsp::Session::wants_changed)).
    pub fn include(&mut self, author: &AuthorId) {
        self.excluded.remove(author);
    }

    /// The authors [excluded](Self::exclude), in byte order.
    pub fn excluded(&self) -> impl Iterator<Item = &AuthorId> + '_ {
        self.excluded.iter()
    }

    /// Approximate heap bytes held (pages, MMR nodes, indexes).
    pub fn memory_usage(&self) -> usize {
        self.feeds.iter().map(Feed::memory).sum::<usize>() + self.arrival.capacity() * core::mem::size_of::<Run>()
    }
}

fn info(f: &Feed) -> FeedInfo {
    FeedInfo {
        author: f.author,
        len: f.len(),
        bytes: f.bytes,
        pages: f.page_count(),
        head: f.head,
        local: f.local,
        forked: f.forked,
    }
}

/// Events of one feed in seq order, read in place ([`MemStore::range`]).
#[derive(Clone, Debug)]
pub struct FeedEvents<'a> {
    feed: Option<&'a Feed>,
    next: u64,
    end: u64,
}

impl<'a> Iterator for FeedEvents<'a> {
    type Item = EventRef<'a>;

    fn next(&mut self) -> Option<EventRef<'a>> {
        if self.next >= self.end {
            return None;
        }
        let ev = self.feed?.get(self.next)?;
        self.next += 1;
        Some(ev)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.end - self.next).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl ExactSizeIterator for FeedEvents<'_> {}

/// Every event held in local arrival order ([`MemStore::iter_events`]).
#[derive(Clone, Debug)]
pub struct ArrivalEvents<'a> {
    store: &'a MemStore,
    run: usize,
    next: u64,
    remaining: u64,
}

impl<'a> Iterator for ArrivalEvents<'a> {
    type Item = EventRef<'a>;

    fn next(&mut self) -> Option<EventRef<'a>> {
        loop {
            let run = self.store.arrival.get(self.run)?;
            if self.next < run.end {
                let ev = self.store.feeds.get(run.feed as usize)?.get(self.next)?;
                self.next += 1;
                self.remaining -= 1;
                return Some(ev);
            }
            self.run += 1;
            self.next = self.store.arrival.get(self.run).map_or(0, |r| r.start);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl ExactSizeIterator for ArrivalEvents<'_> {}
