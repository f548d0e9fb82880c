//! Building pages: [`PageBuilder`] for one page, [`pack`] for a whole feed.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use super::growing::GrowingChecksum;
use super::header::{CHECKSUM_OFFSET, PAGE_HEADER_LEN, PageFlags, PageHeader};
use super::tree::page_tree_root;
use super::{PageConfig, checked_span};
use crate::event::EventRef;
use crate::hash::{Hash, page_checksum};
use crate::head::AuthorId;

/// Builds one page of one feed, by the packing rule of the [module docs](super).
///
/// It keeps the events' bytes and leaf hashes in two vectors that grow amortised (and
/// keep their capacity across [`PageBuilder::reset`]), so pushing an event never
/// allocates on its own.
///
/// ```
/// use xaeroflux_core::page::{PageBuilder, PageConfig, PageRef};
/// use xaeroflux_core::{AuthorId, Event, EventFlags};
///
/// let author = AuthorId([1; 32]);
/// let config = PageConfig::new(1024).unwrap();
/// let mut b = PageBuilder::new(config, author, 0);
/// let ev = Event::new(author, 0, 0, 0, EventFlags::NONE, b"hi");
/// assert!(b.fits(ev.encoded().len()));
/// b.push(ev.as_ref()).unwrap();
/// let page = b.finish();
/// assert_eq!(page.len(), 1024);
/// assert_eq!(PageRef::parse(&page, &config).unwrap().count(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct PageBuilder {
    config: PageConfig,
    author: AuthorId,
    first_seq: u64,
    body: Vec<u8>,
    leaves: Vec<Hash>,
    /// The checksum's hash state over the events pushed, for [`PageBuilder::growing_header`].
    growing: GrowingChecksum,
}

/// Why an event was not added to a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PagePushError {
    /// The event is by another author than the page's feed.
    AuthorMismatch {
        /// The page's author.
        expected: AuthorId,
        /// The event's author.
        found: AuthorId,
    },
    /// The event's seq is not the next one of the page.
    SeqMismatch {
        /// The seq the page expects.
        expected: u64,
        /// The event's seq.
        found: u64,
    },
    /// The event does not fit in the page by the packing rule; start a new page.
    DoesNotFit {
        /// Encoded length of the event.
        encoded_len: usize,
        /// Event bytes already in the page.
        used: usize,
    },
    /// The page would end past seq `u64::MAX` (`first_seq + count` must be a `u64`).
    SeqOverflow,
    /// The event is too large for any page (more than `u16::MAX` page units).
    TooLarge(usize),
}

impl fmt::Display for PagePushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthorMismatch { expected, found } => {
                write!(f, "event by {found} pushed into a page of the feed of {expected}")
            }
            Self::SeqMismatch { expected, found } => write!(f, "event seq {found} pushed where seq {expected} is next"),
            Self::DoesNotFit { encoded_len, used } => {
                write!(f, "event of {encoded_len} bytes does not fit in a page holding {used} bytes of events")
            }
            Self::SeqOverflow => f.write_str("a page cannot end past seq u64::MAX"),
            Self::TooLarge(n) => write!(f, "event of {n} bytes is too large for any page"),
        }
    }
}

impl core::error::Error for PagePushError {}

/// Why a page image could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageWriteError {
    /// The output buffer is not exactly `span × page_size` bytes.
    BufferLength {
        /// Bytes the page occupies.
        expected: usize,
        /// Bytes of the buffer given.
        actual: usize,
    },
}

impl fmt::Display for PageWriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferLength { expected, actual } => {
                write!(f, "page image needs a buffer of {expected} bytes, got {actual}")
            }
        }
    }
}

impl core::error::Error for PageWriteError {}

impl PageBuilder {
    /// An empty page of the feed of `author` whose first event will be `first_seq`.
    pub fn new(config: PageConfig, author: AuthorId, first_seq: u64) -> Self {
        PageBuilder {
            config,
            author,
            first_seq,
            body: Vec::with_capacity(config.capacity()),
            leaves: Vec::new(),
            growing: GrowingChecksum::default(),
        }
    }

    /// Empties the builder for the next page (keeping its buffers' capacity).
    pub fn reset(&mut self, first_seq: u64) {
        self.first_seq = first_seq;
        self.body.clear();
        self.leaves.clear();
        self.growing.clear();
    }

    /// The page configuration.
    pub fn config(&self) -> &PageConfig {
        &self.config
    }
    /// The feed's author.
    pub fn author(&self) -> AuthorId {
        self.author
    }
    /// Seq of the page's first event.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }
    /// Number of events pushed.
    pub fn count(&self) -> u32 {
        // A page holds at most one event per 56 bytes of at most 1 MiB.
        u32::try_from(self.leaves.len()).unwrap_or(u32::MAX)
    }
    /// Seq the next pushed event must have: `first_seq + count`.
    pub fn next_seq(&self) -> u64 {
        self.first_seq.saturating_add(u64::from(self.count()))
    }
    /// Whether no event was pushed.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }
    /// Bytes of events pushed (the header's `used`).
    pub fn used(&self) -> usize {
        self.body.len()
    }
    /// Whether the page is an overflow page (it holds one event too large for a normal
    /// page).
    pub fn is_overflow(&self) -> bool {
        PAGE_HEADER_LEN + self.body.len() > self.config.page_size() as usize
    }
    /// Number of page units the page occupies now (1 unless it is an overflow page).
    pub fn span(&self) -> u16 {
        // `push` refused every event whose span is not a u16.
        checked_span(&self.config, self.body.len()).unwrap_or(u16::MAX)
    }
    /// Bytes of the page image: `span × page_size`.
    pub fn page_len(&self) -> usize {
        usize::from(self.span()) * self.config.page_size() as usize
    }
    /// Leaf hashes of the events pushed, in order.
    pub fn leaf_hashes(&self) -> &[Hash] {
        &self.leaves
    }
    /// The page root over the events pushed (see [`page_tree_root`]).
    pub fn root(&self) -> Hash {
        page_tree_root(&self.leaves)
    }
    /// The encoded events pushed, back to back.
    pub fn event_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Whether an event of `encoded_len` bytes goes into this page by the packing rule:
    /// an empty page accepts anything (an oversized event makes it an overflow page);
    /// otherwise `PAGE_HEADER_LEN + used + encoded_len <= page_size`.
    pub fn fits(&self, encoded_len: usize) -> bool {
        self.is_empty()
            || PAGE_HEADER_LEN.saturating_add(self.body.len()).saturating_add(encoded_len)
                <= self.config.page_size() as usize
    }

    /// Appends an event: it must be by the page's author, have seq [`Self::next_seq`],
    /// and [fit](Self::fits).
    pub fn push(&mut self, ev: EventRef<'_>) -> Result<(), PagePushError> {
        self.push_with(ev, || ev.leaf_hash())
    }

    /// As [`push`](Self::push), for a caller that already computed the event's leaf hash
    /// (a store that verified the event): `leaf` must be `ev.leaf_hash()`, or the page root
    /// is wrong (the page image and its checksum do not depend on it).
    pub fn push_hashed(&mut self, ev: EventRef<'_>, leaf: Hash) -> Result<(), PagePushError> {
        debug_assert_eq!(leaf, ev.leaf_hash(), "push_hashed with another event's leaf hash");
        self.push_with(ev, || leaf)
    }

    fn push_with(&mut self, ev: EventRef<'_>, leaf: impl FnOnce() -> Hash) -> Result<(), PagePushError> {
        if ev.author() != self.author {
            return Err(PagePushError::AuthorMismatch { expected: self.author, found: ev.author() });
        }
        let next = self.first_seq.checked_add(u64::from(self.count())).ok_or(PagePushError::SeqOverflow)?;
        if ev.seq() != next {
            return Err(PagePushError::SeqMismatch { expected: next, found: ev.seq() });
        }
        if next == u64::MAX {
            return Err(PagePushError::SeqOverflow);
        }
        let encoded = ev.encoded();
        if !self.fits(encoded.len()) {
            return Err(PagePushError::DoesNotFit { encoded_len: encoded.len(), used: self.body.len() });
        }
        if checked_span(&self.config, encoded.len()).is_none() {
            return Err(PagePushError::TooLarge(encoded.len()));
        }
        self.leaves.push(leaf());
        self.body.extend_from_slice(encoded);
        Ok(())
    }

    /// The page header, checksum included.
    pub fn header(&self) -> PageHeader {
        let h = self.header_without_checksum();
        let sum = page_checksum(h.as_bytes(), &self.body);
        h.with_checksum(sum)
    }

    /// The same header as [`header`](Self::header), for a page that is committed again and
    /// again as it grows (a store's tail page): the builder keeps the checksum's hash state
    /// after the events already hashed (the checksum hashes the events first, then the
    /// header), so each call hashes only the new bytes and the header — O(new bytes), where
    /// [`header`](Self::header) rehashes the whole page.
    ///
    /// ```
    /// use xaeroflux_core::page::{PageBuilder, PageConfig};
    /// use xaeroflux_core::{AuthorId, Event, EventFlags};
    ///
    /// let author = AuthorId([1; 32]);
    /// let mut b = PageBuilder::new(PageConfig::new(16 * 1024).unwrap(), author, 0);
    /// for seq in 0..40 {
    ///     b.push(Event::new(author, seq, 0, 0, EventFlags::NONE, &[7; 300]).as_ref()).unwrap();
    ///     assert_eq!(b.growing_header(), b.header());
    /// }
    /// ```
    pub fn growing_header(&mut self) -> PageHeader {
        let h = self.header_without_checksum();
        let sum = self.growing.checksum(h.as_bytes(), &self.body);
        h.with_checksum(sum)
    }

    fn header_without_checksum(&self) -> PageHeader {
        let flags = if self.is_overflow() { PageFlags::OVERFLOW } else { PageFlags::NONE };
        // `used` fits a u32: `push` refused events whose span (hence length) is too large,
        // and a normal page holds at most 1 MiB.
        let used = u32::try_from(self.body.len()).unwrap_or(u32::MAX);
        PageHeader::new(self.author, self.first_seq, flags, self.span(), self.count(), used)
    }

    /// Writes the page image (header with checksum, events, zero padding) into `out`,
    /// which must be exactly [`Self::page_len`] bytes. Does not allocate.
    ///
    /// An empty builder writes an empty page (count 0), which [`super::PageRef::parse`]
    /// accepts; [`pack`] never produces one.
    pub fn write_to(&self, out: &mut [u8]) -> Result<(), PageWriteError> {
        let expected = self.page_len();
        if out.len() != expected {
            return Err(PageWriteError::BufferLength { expected, actual: out.len() });
        }
        let (head, rest) = out.split_at_mut(PAGE_HEADER_LEN);
        let (events, padding) = rest.split_at_mut(self.body.len());
        head.copy_from_slice(self.header_without_checksum().as_bytes());
        events.copy_from_slice(&self.body);
        padding.fill(0);
        let sum = page_checksum(head, &self.body);
        out[CHECKSUM_OFFSET..PAGE_HEADER_LEN].copy_from_slice(&sum.to_le_bytes());
        Ok(())
    }

    /// The page image in a new vector of [`Self::page_len`] bytes.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.page_len()];
        // The buffer has exactly the right length, so this cannot fail.
        let _ = self.write_to(&mut out);
        out
    }
}

/// Packs the events of one feed (in seq order, consecutive, one author) into pages by
/// the packing rule, returning the page images.
///
/// No events give no pages. The first event sets the author and the first seq.
pub fn pack<'a>(
    config: &PageConfig,
    events: impl IntoIterator<Item = EventRef<'a>>,
) -> Result<Vec<Vec<u8>>, PagePushError> {
    let mut pages = Vec::new();
    let mut builder: Option<PageBuilder> = None;
    for ev in events {
        let b = builder.get_or_insert_with(|| PageBuilder::new(*config, ev.author(), ev.seq()));
        if !b.fits(ev.encoded().len()) {
            pages.push(b.finish());
            let next = b.next_seq();
            b.reset(next);
        }
        b.push(ev)?;
    }
    if let Some(b) = builder.filter(|b| !b.is_empty()) {
        pages.push(b.finish());
    }
    Ok(pages)
}
