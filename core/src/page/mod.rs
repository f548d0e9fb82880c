//! Pages: a feed's events packed into fixed-size pages by a deterministic rule, each
//! with a Merkle tree over its events' leaf hashes.
//!
//! A page is `span × page_size` bytes: a 64-byte [`PageHeader`], then whole encoded
//! events back to back (`used` bytes), then zero padding. The page size is a power of
//! two from 1 KiB to 1 MiB ([`PageConfig`], 16 KiB by default).
//!
//! ## Packing rule
//!
//! The events of one feed, in seq order, are packed greedily: an event goes into the
//! current page if `PAGE_HEADER_LEN + used + encoded_len <= page_size`; otherwise the
//! current page is closed and a new one starts. An event that does not fit even in an
//! empty page (it is *oversized*) gets an **overflow page** of its own: flag
//! [`PageFlags::OVERFLOW`], count 1, and `span = ceil((PAGE_HEADER_LEN + encoded_len) /
//! page_size)` page units ([`span_for`]). Events are never split and never dropped. The
//! same events always give the same bytes, so page *k* of a feed is identical on every
//! replica. The tail page of a feed may hold fewer events than would fit; it is still a
//! valid page.
//!
//! ## Checksum and tree
//!
//! The header's checksum is [`crate::hash::page_checksum`] (XXH3-64) over the `used` event
//! bytes followed by the header with its checksum field zeroed; it catches torn and
//! corrupted writes. Pages are written as version 2; version-1 pages, whose checksum was
//! keyed blake3 ([`crate::hash::page_checksum_v1`]), are still read ([`same_page`] compares
//! a rebuilt page with a stored one of either version). Authenticity comes from the page tree ([`page_tree_root`]): an
//! RFC 6962-style left-balanced binary Merkle tree over the events' leaf hashes, whose
//! root binds the event count. A [`PageProof`] shows one event is in a page.
//!
//! See `docs/formats.md` in the repository for every byte.
//!
//! ```
//! use xaeroflux_core::page::{pack, PageConfig, PageRef, PageProof, page_proof};
//! use xaeroflux_core::{AuthorId, Event, EventFlags};
//!
//! let author = AuthorId([7; 32]);
//! let events: Vec<Event> =
//!     (0..10).map(|seq| Event::new(author, seq, 0, 1, EventFlags::NONE, &[seq as u8; 300])).collect();
//! let config = PageConfig::new(1024)?;
//! let pages = pack(&config, events.iter().map(|e| e.as_ref()))?;
//! assert_eq!(pages.len(), 5); // 2 events of 356 bytes fit in a 1 KiB page with its header
//!
//! let page = PageRef::parse(&pages[1], &config)?;
//! assert_eq!((page.first_seq(), page.count()), (2, 2));
//! let seqs: Vec<u64> = page.events().map(|e| e.seq()).collect();
//! assert_eq!(seqs, [2, 3]);
//!
//! let proof = page_proof(&page.leaf_hashes(), 1)?;
//! proof.verify(&events[3].leaf_hash(), &page.root())?;
//! let decoded = PageProof::decode(&proof.encode())?;
//! assert_eq!(decoded, proof);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod growing;
mod header;
mod parse;
mod proof;
mod tree;

use core::fmt;

pub use builder::{PageBuilder, PagePushError, PageWriteError, pack};
pub use header::{PAGE_HEADER_LEN, PAGE_MAGIC, PAGE_VERSION, PAGE_VERSION_1, PageFlags, PageHeader};
pub use parse::{PageDecodeError, PageEvents, PageRef};
pub use proof::{PAGE_PROOF_VERSION, PageProof, PageProofDecodeError, PageProofError, page_proof};
pub use tree::{PageTreeHasher, page_tree_root};

/// The default page size: 16 KiB.
pub const DEFAULT_PAGE_SIZE: u32 = 16 * 1024;
/// The smallest page size: 1 KiB.
pub const MIN_PAGE_SIZE: u32 = 1024;
/// The largest page size: 1 MiB.
pub const MAX_PAGE_SIZE: u32 = 1024 * 1024;

/// The page size of a store. Every replica of a feed must use the same one for pages to
/// be identical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageConfig {
    page_size: u32,
}

impl PageConfig {
    /// A configuration with pages of `page_size` bytes: a power of two from
    /// [`MIN_PAGE_SIZE`] to [`MAX_PAGE_SIZE`].
    ///
    /// ```
    /// use xaeroflux_core::page::PageConfig;
    /// assert_eq!(PageConfig::new(4096).unwrap().page_size(), 4096);
    /// assert!(PageConfig::new(3000).is_err());
    /// assert!(PageConfig::new(512).is_err());
    /// ```
    pub const fn new(page_size: u32) -> Result<Self, PageConfigError> {
        if !page_size.is_power_of_two() {
            return Err(PageConfigError::NotPowerOfTwo(page_size));
        }
        if page_size < MIN_PAGE_SIZE || page_size > MAX_PAGE_SIZE {
            return Err(PageConfigError::OutOfRange(page_size));
        }
        Ok(PageConfig { page_size })
    }

    /// The page size in bytes.
    pub const fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Bytes available for events in a normal (span 1) page: `page_size - PAGE_HEADER_LEN`.
    pub const fn capacity(&self) -> usize {
        self.page_size as usize - PAGE_HEADER_LEN
    }
}

impl Default for PageConfig {
    fn default() -> Self {
        PageConfig { page_size: DEFAULT_PAGE_SIZE }
    }
}

/// Why a page size was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageConfigError {
    /// The size is not a power of two.
    NotPowerOfTwo(u32),
    /// The size is a power of two outside `MIN_PAGE_SIZE..=MAX_PAGE_SIZE`.
    OutOfRange(u32),
}

impl fmt::Display for PageConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPowerOfTwo(n) => write!(f, "page size {n} is not a power of two"),
            Self::OutOfRange(n) => {
                write!(f, "page size {n} is outside {MIN_PAGE_SIZE}..={MAX_PAGE_SIZE} bytes")
            }
        }
    }
}

impl core::error::Error for PageConfigError {}

/// Whether `stored`, a page image that parsed, holds what `rebuilt` (the same events packed
/// again by this crate) holds: the same bytes, or — for a version-1 `stored` page — the same
/// bytes but for the version byte and the checksum, which are all that version 2 changed.
pub fn same_page(rebuilt: &[u8], stored: &[u8]) -> bool {
    // Byte 4 is the version; the checksum field ends the header.
    const VERSION_AT: usize = 4;
    let v1 = stored.get(VERSION_AT) == Some(&PAGE_VERSION_1);
    if v1 && rebuilt.len() == stored.len() && rebuilt.len() >= PAGE_HEADER_LEN {
        rebuilt[..VERSION_AT] == stored[..VERSION_AT]
            && rebuilt[VERSION_AT + 1..header::CHECKSUM_OFFSET] == stored[VERSION_AT + 1..header::CHECKSUM_OFFSET]
            && rebuilt[PAGE_HEADER_LEN..] == stored[PAGE_HEADER_LEN..]
    } else {
        rebuilt == stored
    }
}

/// The number of page units a page holding an event of `encoded_len` bytes alone
/// occupies: `ceil((PAGE_HEADER_LEN + encoded_len) / page_size)`, which is 1 for an
/// event that fits a normal page and more for an oversized one.
///
/// The result saturates at `u16::MAX`; every event this crate can encode (payload at
/// most [`crate::event::MAX_PAYLOAD_LEN`]) needs at most 16 385 units of 1 KiB.
///
/// ```
/// use xaeroflux_core::page::{span_for, PageConfig};
/// let c = PageConfig::new(1024).unwrap();
/// assert_eq!(span_for(&c, 960), 1); // 64 + 960 = 1024: fits exactly
/// assert_eq!(span_for(&c, 961), 2);
/// assert_eq!(span_for(&c, 2048 - 64), 2);
/// assert_eq!(span_for(&c, 2048 - 63), 3);
/// ```
pub fn span_for(config: &PageConfig, encoded_len: usize) -> u16 {
    let size = config.page_size as usize;
    let total = encoded_len.saturating_add(PAGE_HEADER_LEN);
    u16::try_from(total.div_ceil(size)).unwrap_or(u16::MAX)
}

/// The page units of an overflow page for an event of `encoded_len` bytes, or `None` if
/// it is too large to describe (span over `u16::MAX`, or `used` over `u32::MAX`).
pub(crate) fn checked_span(config: &PageConfig, encoded_len: usize) -> Option<u16> {
    u32::try_from(encoded_len).ok()?;
    let size = config.page_size as usize;
    let total = encoded_len.checked_add(PAGE_HEADER_LEN)?;
    u16::try_from(total.div_ceil(size)).ok()
}
