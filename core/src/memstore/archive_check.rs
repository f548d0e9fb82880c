//! Checking an archive as it streams past, holding one page at a time: [`ArchiveCheck`] (the
//! records) and [`FeedCheck`] (one feed's pages).
//!
//! [`read_archive`](super::read_archive) builds a whole [`MemStore`](super::MemStore) from an
//! archive, which holds every event in memory. A host that writes the events somewhere else
//! (the native store, restoring a large archive) checks the archive with these instead, in
//! one pass over the file, and keeps only what it needs to find the pages again: the result
//! tells it each feed's length, MMR root and heads, and each page record gives it the page's
//! seqs. The checks are [`read_archive`](super::read_archive)'s: the closing checksum, the
//! record order, every page (checksum, author, continuity, the packing rule), every head,
//! pending head and fork evidence, and the arrival runs.
//!
//! Call rules: frame each record yourself (a 5-byte header: tag, then the body's length as a
//! u32 LE; [`ArchiveCheck::body_len`] reads it and bounds it before you read the body), give
//! every record to [`ArchiveCheck::record`] in file order, the end record included, then call
//! [`ArchiveCheck::finish`]. Nothing before `finish` says the archive is good: a damaged
//! archive is known for sure only once its checksum is compared, so the first content error
//! is kept and the records are still hashed, and `finish` reports
//! [`ArchiveError::Checksum`] for a damaged archive and the content error for one whose
//! checksum matches (a forged archive).
//!
//! ```
//! use xaeroflux_core::memstore::{ArchiveCheck, Checked, MemStore, NewEvent};
//! use xaeroflux_core::page::PageConfig;
//! use xaeroflux_core::AuthorKey;
//!
//! let key = AuthorKey::from_secret_bytes(&[5; 32]);
//! let mut store = MemStore::new(key, PageConfig::new(1024)?);
//! store.append_batch((0..50u64).map(|i| NewEvent::new(i, b"an event")))?;
//! let bytes = store.to_archive(true);
//!
//! let mut check = ArchiveCheck::start(&bytes)?;
//! let mut at = check.records_at();
//! let mut pages = 0;
//! while at < bytes.len() {
//!     let head: &[u8; 5] = bytes[at..at + 5].try_into()?;
//!     let len = check.body_len(head)?;
//!     if let Checked::Page(page) = check.record(head, &bytes[at + 5..at + 5 + len], at as u64) {
//!         assert_eq!(page.author(), store.author().unwrap());
//!         pages += 1;
//!     }
//!     at += 5 + len;
//! }
//! let archive = check.finish()?;
//! assert_eq!(archive.feeds[0].root, store.mmr_root());
//! assert_eq!(pages, store.page_count(&store.author().unwrap()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::archive::{
    ARCHIVE_CHECKSUM_CONTEXT, ArchiveError, ArchiveHeader, Phase, RUN_LEN, archive_header, max_body_len, tag,
};
use super::restore::check_heads;
use super::{ArrivalRun, FeedState, PendingHead, RestoreError};
use crate::hash::Hash;
use crate::head::{AuthorId, AuthorKey, SignedHead};
use crate::mmr::MmrPeaks;
use crate::page::{PageBuilder, PageConfig, PageRef, same_page};
use crate::xsp::ForkEvidence;

/// Bytes of a record's header: tag, then the body's length (u32 LE).
pub const RECORD_HEADER_LEN: usize = 5;

/// One feed's pages checked as they come, holding one page and the MMR peaks, never the
/// events: what [`Restore::feed`](super::Restore::feed) checks, for a host that stores the
/// events elsewhere.
///
/// Call rules: [`page`](Self::page) for each page image in order, then
/// [`finish`](Self::finish). After an error the check is over (drop it).
#[derive(Debug)]
pub struct FeedCheck {
    state: FeedState,
    builder: PageBuilder,
    peaks: MmrPeaks,
    pages: u64,
    /// The root over the signed head's events, once the pages reach its length.
    root_at_head: Option<Hash>,
    leaves: Vec<Hash>,
    image: Vec<u8>,
}

/// A feed [`FeedCheck`] (or [`ArchiveCheck`]) found good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedFeed {
    /// The author.
    pub author: AuthorId,
    /// Events in its pages.
    pub len: u64,
    /// The MMR root over them.
    pub root: Hash,
    /// The latest signed head whose events are all held (for the local author's feed with
    /// events past its stored head: a head signed now over all of them).
    pub head: Option<SignedHead>,
    /// A head past the events, with its proof.
    pub pending: Option<PendingHead>,
}

impl FeedCheck {
    /// Starts checking the feed `state` names, of pages of `config`.
    pub fn new(state: FeedState, config: PageConfig) -> Self {
        let root_at_head = state.head.filter(|h| h.length == 0).map(|_| MmrPeaks::new().root());
        FeedCheck {
            builder: PageBuilder::new(config, state.author, 0),
            state,
            peaks: MmrPeaks::new(),
            pages: 0,
            root_at_head,
            leaves: Vec::new(),
            image: Vec::new(),
        }
    }

    /// Events checked so far.
    pub fn len(&self) -> u64 {
        self.peaks.leaves()
    }

    /// Whether no event was checked yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the feed's next page image: it parses (checksum, header, events), is of the
    /// author, continues the previous page, holds what the packing rule puts in it, and the
    /// previous page holds all the packing rule puts in that one. Returns the parsed page.
    pub fn page<'p>(&mut self, image: &'p [u8]) -> Result<PageRef<'p>, RestoreError> {
        let page = self.pages;
        let config = *self.builder.config();
        let p = PageRef::parse(image, &config).map_err(|error| RestoreError::Page { page, error })?;
        if p.author() != self.state.author {
            return Err(RestoreError::WrongAuthor { page });
        }
        let len = self.len();
        if p.first_seq() != len {
            return Err(RestoreError::NotConsecutive { page, expected: len, found: p.first_seq() });
        }
        let Some(first) = p.events().next() else { return Err(RestoreError::Packing { page }) };
        // The previous page was sealed only if this page's first event did not fit in it.
        if page > 0 && self.builder.fits(first.encoded().len()) {
            return Err(RestoreError::Packing { page: page - 1 });
        }
        self.builder.reset(len);
        self.leaves.clear();
        crate::hash::leaf_hashes(p.events().map(|ev| ev.encoded()), &mut self.leaves);
        for (ev, leaf) in p.events().zip(self.leaves.iter().copied()) {
            self.builder.push_hashed(ev, leaf).map_err(|_| RestoreError::Packing { page })?;
        }
        self.image.clear();
        self.image.resize(self.builder.page_len(), 0);
        self.builder.write_to(&mut self.image).map_err(|_| RestoreError::Packing { page })?;
        if !same_page(&self.image, image) {
            return Err(RestoreError::Packing { page });
        }
        let mut leaves = &self.leaves[..];
        if let Some(h) = self.state.head
            && self.root_at_head.is_none()
            && h.length > len
            && h.length - len <= leaves.len() as u64
        {
            let (before, after) = leaves.split_at((h.length - len) as usize);
            self.peaks.extend_from_slice(before).map_err(|_| RestoreError::Packing { page })?;
            self.root_at_head = Some(self.peaks.root());
            leaves = after;
        }
        self.peaks.extend_from_slice(leaves).map_err(|_| RestoreError::Packing { page })?;
        self.pages += 1;
        Ok(p)
    }

    /// Ends the feed: the state's length is the events', and its heads check out
    /// ([`Restore::feed`](super::Restore::feed)'s rules). `signer` is the local author's key
    /// when this is the local author's feed (events past its head are then covered by a head
    /// signed now).
    pub fn finish(self, signer: Option<&AuthorKey>) -> Result<CheckedFeed, RestoreError> {
        let len = self.len();
        if len != self.state.len {
            return Err(RestoreError::StateMismatch { state: self.state.len, events: len });
        }
        let root = self.peaks.root();
        let at_head = self.root_at_head;
        let heads = check_heads(&self.state, len, root, |_| at_head, signer)?;
        Ok(CheckedFeed { author: self.state.author, len, root, head: heads.head, pending: heads.pending })
    }
}

/// What [`ArchiveCheck::record`] found in a record.
#[derive(Debug)]
#[non_exhaustive]
pub enum Checked<'p> {
    /// Fork evidence (checked).
    Fork,
    /// A feed starts: its pages follow.
    Feed(AuthorId),
    /// The current feed's next page (checked).
    Page(PageRef<'p>),
    /// Arrival runs.
    Arrival,
    /// The end record: nothing follows.
    End,
    /// Nothing: the archive was refused already (the records are still hashed, see the
    /// module docs), or the record came after the end.
    Refused,
}

/// An archive [`ArchiveCheck`] found good.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CheckedArchive {
    /// The page size and the author key, as the header says.
    pub header: ArchiveHeader,
    /// Every feed, in archive order.
    pub feeds: Vec<CheckedFeed>,
    /// The fork evidence, one per author.
    pub forks: Vec<ForkEvidence>,
    /// Whether the archive holds arrival runs (they cover every event exactly once); without
    /// them the arrival order is the feeds' order.
    pub has_arrival: bool,
}

/// Checks an archive record by record (module docs).
#[derive(Debug)]
pub struct ArchiveCheck {
    header: ArchiveHeader,
    stranger: Option<AuthorId>,
    hasher: blake3::Hasher,
    phase: Phase,
    feed: Option<FeedCheck>,
    feeds: Vec<CheckedFeed>,
    index: BTreeMap<AuthorId, usize>,
    /// Per feed, the next seq the arrival runs must name.
    cursors: Vec<u64>,
    forks: BTreeMap<AuthorId, ForkEvidence>,
    /// The first content error.
    error: Option<ArchiveError>,
    /// The arrival runs do not cover every event once.
    arrival_error: bool,
    /// The end record's checksum matched (`Some(true)`) or not.
    ended: Option<bool>,
}

impl ArchiveCheck {
    /// Starts checking the archive whose first bytes are `start` (at least its header; the
    /// header is read from them and hashed). The store it describes is of the archive's key,
    /// or, without one, a replica store.
    pub fn start(start: &[u8]) -> Result<Self, ArchiveError> {
        let header = archive_header(start)?;
        let mut hasher = blake3::Hasher::new_derive_key(ARCHIVE_CHECKSUM_CONTEXT);
        hasher.update(&start[..header.records_at]);
        Ok(ArchiveCheck {
            header,
            stranger: None,
            hasher,
            phase: Phase::Forks,
            feed: None,
            feeds: Vec::new(),
            index: BTreeMap::new(),
            cursors: Vec::new(),
            forks: BTreeMap::new(),
            error: None,
            arrival_error: false,
            ended: None,
        })
    }

    /// [`start`](Self::start), for restoring an archive without a key as the store of
    /// `author`: a feed of `author` in it is refused, as
    /// [`read_archive_as`](super::read_archive_as) refuses it.
    pub fn start_as(start: &[u8], author: AuthorId) -> Result<Self, ArchiveError> {
        let mut check = Self::start(start)?;
        check.stranger = check.header.key.is_none().then_some(author);
        Ok(check)
    }

    /// Where the records start (the header's length).
    pub fn records_at(&self) -> usize {
        self.header.records_at
    }

    /// The header.
    pub fn header(&self) -> &ArchiveHeader {
        &self.header
    }

    /// The length of the body that follows the record header `head`, refused when it is
    /// longer than any archive writer makes a record of its tag (so a damaged length cannot
    /// make a reader allocate gigabytes).
    pub fn body_len(&self, head: &[u8; RECORD_HEADER_LEN]) -> Result<usize, ArchiveError> {
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let max = max_body_len(&self.header.config, head[0]);
        if len > max { Err(ArchiveError::RecordTooLong { tag: head[0], len }) } else { Ok(len) }
    }

    /// Checks the next record: `head` its header, `body` its body, `offset` where it starts
    /// in the archive (for error messages). See [`Checked`]; the verdict is
    /// [`finish`](Self::finish)'s.
    pub fn record<'p>(&mut self, head: &[u8; RECORD_HEADER_LEN], body: &'p [u8], offset: u64) -> Checked<'p> {
        if self.ended.is_some() {
            return Checked::Refused;
        }
        self.hasher.update(head);
        if head[0] == tag::END {
            let sum = self.hasher.finalize();
            self.ended = Some(body.len() == 32 && sum.as_bytes()[..] == body[..]);
            if self.error.is_none()
                && let Err(e) = self.end_feed()
            {
                self.error = Some(e);
            }
            return if self.error.is_none() { Checked::End } else { Checked::Refused };
        }
        self.hasher.update(body);
        if self.error.is_some() {
            return Checked::Refused;
        }
        match self.content(head[0], body, usize::try_from(offset).unwrap_or(usize::MAX)) {
            Ok(c) => c,
            Err(e) => {
                self.error = Some(e);
                Checked::Refused
            }
        }
    }

    fn content<'p>(&mut self, tag: u8, body: &'p [u8], offset: usize) -> Result<Checked<'p>, ArchiveError> {
        let now = Phase::of(tag).ok_or(ArchiveError::UnknownRecord { tag, offset })?;
        if now < self.phase {
            return Err(ArchiveError::OutOfOrder { offset });
        }
        self.phase = now;
        match tag {
            tag::FORK => {
                let evidence = ForkEvidence::decode(body).map_err(ArchiveError::ForkRecord)?;
                evidence.verify().map_err(ArchiveError::Fork)?;
                self.forks.entry(evidence.author()).or_insert(evidence);
                Ok(Checked::Fork)
            }
            tag::FEED => {
                let state = FeedState::decode(body).map_err(ArchiveError::FeedState)?;
                self.end_feed()?;
                let author = state.author;
                if Some(author) == self.stranger || self.index.contains_key(&author) {
                    return Err(ArchiveError::Feed { author, error: RestoreError::Duplicate(author) });
                }
                self.feed = Some(FeedCheck::new(state, self.header.config));
                Ok(Checked::Feed(author))
            }
            tag::PAGE => {
                let feed = self.feed.as_mut().ok_or(ArchiveError::PageWithoutFeed { offset })?;
                let author = feed.state.author;
                feed.page(body).map(Checked::Page).map_err(|error| ArchiveError::Feed { author, error })
            }
            _ => {
                self.end_feed()?;
                // The feeds are all known once the arrival runs start.
                self.cursors.resize(self.feeds.len(), 0);
                if !self.runs_cover(body) {
                    // Reported after any other error, as `read_archive`, which checks the
                    // runs last, does.
                    self.arrival_error = true;
                }
                Ok(Checked::Arrival)
            }
        }
    }

    /// Whether the runs of an arrival record's `body` continue the runs before, each feed in
    /// seq order within its length.
    fn runs_cover(&mut self, body: &[u8]) -> bool {
        if self.arrival_error || !body.len().is_multiple_of(RUN_LEN) {
            return false;
        }
        for run in body.chunks_exact(RUN_LEN).filter_map(ArrivalRun::decode) {
            let Some(&fi) = self.index.get(&run.author) else { return false };
            let (cursor, len) = (&mut self.cursors[fi], self.feeds[fi].len);
            if run.seqs.start != *cursor || run.seqs.end <= run.seqs.start || run.seqs.end > len {
                return false;
            }
            *cursor = run.seqs.end;
        }
        true
    }

    /// Ends the current feed, if any.
    fn end_feed(&mut self) -> Result<(), ArchiveError> {
        let Some(feed) = self.feed.take() else { return Ok(()) };
        let author = feed.state.author;
        let signer = self.header.key.as_ref().filter(|k| k.author() == author);
        let checked = feed.finish(signer).map_err(|error| ArchiveError::Feed { author, error })?;
        self.index.insert(author, self.feeds.len());
        self.feeds.push(checked);
        Ok(())
    }

    /// The verdict, once every record was given: the checked archive, or why it is refused
    /// ([`ArchiveError::Truncated`] without an end record, [`ArchiveError::Checksum`] for a
    /// damaged one, else the first content error).
    pub fn finish(self) -> Result<CheckedArchive, ArchiveError> {
        match self.ended {
            None => return Err(ArchiveError::Truncated),
            Some(false) => return Err(ArchiveError::Checksum),
            Some(true) => {}
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        let has_arrival = self.phase == Phase::Arrival;
        if self.arrival_error || (has_arrival && self.cursors.iter().zip(&self.feeds).any(|(c, f)| *c != f.len)) {
            return Err(ArchiveError::Arrival(RestoreError::Arrival));
        }
        Ok(CheckedArchive {
            header: self.header,
            feeds: self.feeds,
            forks: self.forks.into_values().collect(),
            has_arrival,
        })
    }
}

/// Checks a whole archive held in memory without building a store ([`ArchiveCheck`] over its
/// records): what [`read_archive`](super::read_archive) checks, in the memory of one page.
pub fn check_archive(bytes: &[u8]) -> Result<CheckedArchive, ArchiveError> {
    check_records(ArchiveCheck::start(bytes)?, bytes)
}

/// Gives `check` every record of `bytes`.
pub(super) fn check_records(mut check: ArchiveCheck, bytes: &[u8]) -> Result<CheckedArchive, ArchiveError> {
    let mut at = check.records_at();
    while at < bytes.len() {
        let head: &[u8; RECORD_HEADER_LEN] =
            bytes.get(at..at + RECORD_HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or(ArchiveError::Truncated)?;
        let len = check.body_len(head)?;
        let body = bytes.get(at + RECORD_HEADER_LEN..).and_then(|b| b.get(..len)).ok_or(ArchiveError::Truncated)?;
        check.record(head, body, at as u64);
        at += RECORD_HEADER_LEN + len;
        if head[0] == tag::END {
            if at < bytes.len() {
                return Err(ArchiveError::TrailingBytes(bytes.len() - at));
            }
            break;
        }
    }
    check.finish()
}
