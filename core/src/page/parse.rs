//! Reading pages: [`PageRef::parse`] validates every byte, then reads in place.

use alloc::vec::Vec;
use core::fmt;
use core::iter::FusedIterator;

use super::header::{PAGE_HEADER_LEN, PAGE_MAGIC, PAGE_VERSION, PAGE_VERSION_1, PageFlags, PageHeader};
use super::tree::PageTreeHasher;
use super::{PageConfig, checked_span};
use crate::event::{EventDecodeError, EventRef, HEADER_LEN, MAX_PAYLOAD_LEN};
use crate::hash::Hash;
use crate::head::AuthorId;

/// Why bytes are not a valid page. The checks run in the order of the variants below,
/// so the error names the first thing wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageDecodeError {
    /// Fewer bytes than the 64-byte header.
    TooShort(usize),
    /// The first four bytes are not `"XFPG"`.
    BadMagic([u8; 4]),
    /// A version this crate does not read.
    BadVersion(u8),
    /// A reserved flag bit is set.
    ReservedFlags(u8),
    /// An overflow page must hold exactly one event.
    OverflowCount(u32),
    /// An overflow page whose event would fit a normal page (it must not be an overflow
    /// page).
    NeedlessOverflow {
        /// Encoded length of the event (the header's `used`).
        used: u32,
    },
    /// A page without the OVERFLOW flag that spans several units for a single event too
    /// large for a normal page (it should have been an overflow page).
    MissingOverflow {
        /// Encoded length of the event (the header's `used`).
        used: u32,
    },
    /// `used` is more than the page can hold.
    UsedOutOfRange {
        /// The header's `used`.
        used: u32,
        /// The most a page of this kind holds.
        capacity: usize,
    },
    /// The span is not the one the overflow rule gives (1 for a normal page,
    /// `ceil((64 + used) / page_size)` for an overflow page).
    SpanMismatch {
        /// The header's span.
        span: u16,
        /// The span the rule gives.
        expected: u16,
    },
    /// The byte length is not `span × page_size`.
    WrongLength {
        /// `span × page_size`.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// `count` and `used` cannot agree: events but no bytes, bytes but no events, or
    /// fewer than 56 bytes per event.
    CountUsedMismatch {
        /// The header's count.
        count: u32,
        /// The header's used.
        used: u32,
    },
    /// `first_seq + count` is past `u64::MAX`.
    SeqOverflow {
        /// The header's first seq.
        first_seq: u64,
        /// The header's count.
        count: u32,
    },
    /// The checksum does not match the header and events.
    ChecksumMismatch {
        /// Checksum in the header.
        stored: u64,
        /// Checksum of the bytes.
        computed: u64,
    },
    /// An event does not decode.
    Event {
        /// Position of the event in the page.
        index: u32,
        /// What is wrong with it.
        error: EventDecodeError,
    },
    /// The `count` events end before `used` bytes.
    TrailingBytes {
        /// Bytes the events span.
        consumed: usize,
        /// The header's used.
        used: u32,
    },
    /// An event is by another author than the page's.
    AuthorMismatch {
        /// Position of the event in the page.
        index: u32,
        /// The event's author.
        found: AuthorId,
    },
    /// An event's seq is not `first_seq + index`.
    SeqMismatch {
        /// Position of the event in the page.
        index: u32,
        /// `first_seq + index`.
        expected: u64,
        /// The event's seq.
        found: u64,
    },
    /// A padding byte after the events is not zero.
    NonZeroPadding {
        /// Offset of the first non-zero padding byte in the page.
        offset: usize,
    },
}

impl fmt::Display for PageDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort(n) => write!(f, "page of {n} bytes is shorter than its {PAGE_HEADER_LEN}-byte header"),
            Self::BadMagic(m) => write!(f, "bad page magic {m:02x?}"),
            Self::BadVersion(v) => {
                write!(f, "unsupported page version {v} (this build reads {PAGE_VERSION_1} and {PAGE_VERSION})")
            }
            Self::ReservedFlags(b) => write!(f, "reserved page flag bits set: {b:#04x}"),
            Self::OverflowCount(n) => write!(f, "overflow page holds {n} events instead of 1"),
            Self::NeedlessOverflow { used } => {
                write!(f, "overflow page holds a {used}-byte event that fits a normal page")
            }
            Self::MissingOverflow { used } => {
                write!(f, "page holds a {used}-byte event too large for a normal page without the OVERFLOW flag")
            }
            Self::UsedOutOfRange { used, capacity } => {
                write!(f, "page declares {used} bytes of events, it can hold {capacity}")
            }
            Self::SpanMismatch { span, expected } => {
                write!(f, "page span is {span}, the overflow rule gives {expected}")
            }
            Self::WrongLength { expected, actual } => write!(f, "page must be {expected} bytes, got {actual}"),
            Self::CountUsedMismatch { count, used } => {
                write!(f, "page count {count} is inconsistent with {used} bytes of events")
            }
            Self::SeqOverflow { first_seq, count } => {
                write!(f, "page of {count} events from seq {first_seq} ends past u64::MAX")
            }
            Self::ChecksumMismatch { stored, computed } => {
                write!(f, "page checksum mismatch: stored {stored:#018x}, computed {computed:#018x}")
            }
            Self::Event { index, error } => write!(f, "event {index} of the page: {error}"),
            Self::TrailingBytes { consumed, used } => {
                write!(f, "page events end after {consumed} bytes but the page declares {used}")
            }
            Self::AuthorMismatch { index, found } => {
                write!(f, "event {index} of the page is by another author ({found})")
            }
            Self::SeqMismatch { index, expected, found } => {
                write!(f, "event {index} of the page has seq {found}, expected {expected}")
            }
            Self::NonZeroPadding { offset } => write!(f, "non-zero page padding at byte {offset}"),
        }
    }
}

impl core::error::Error for PageDecodeError {}

/// A borrowed, fully validated page. Reading it copies nothing: the header and the
/// events are views into the page bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PageRef<'a> {
    header: &'a PageHeader,
    events: &'a [u8],
    bytes: &'a [u8],
}

impl<'a> PageRef<'a> {
    /// Validates a page image of the given configuration: header fields, the overflow
    /// rule, the length, the checksum, every event (decodes, page's author, consecutive
    /// seqs from `first_seq`), and zero padding. Never panics; allocates nothing.
    pub fn parse(bytes: &'a [u8], config: &PageConfig) -> Result<Self, PageDecodeError> {
        Self::parse_with(bytes, config, true)
    }

    /// [`PageRef::parse`] without recomputing the checksum (it costs as much as the rest of
    /// the checks together), for an image whose checksum the caller has already verified or
    /// that it built itself: a store that checks each page when it first reads it from
    /// disk, or a page held in memory. Every other check is made.
    pub fn parse_checksum_verified(bytes: &'a [u8], config: &PageConfig) -> Result<Self, PageDecodeError> {
        Self::parse_with(bytes, config, false)
    }

    fn parse_with(bytes: &'a [u8], config: &PageConfig, verify_checksum: bool) -> Result<Self, PageDecodeError> {
        let Some((head, after)) = bytes.split_first_chunk::<PAGE_HEADER_LEN>() else {
            return Err(PageDecodeError::TooShort(bytes.len()));
        };
        let header: &PageHeader = bytemuck::cast_ref(head);
        if header.magic() != PAGE_MAGIC {
            return Err(PageDecodeError::BadMagic(header.magic()));
        }
        if header.version() != PAGE_VERSION && header.version() != PAGE_VERSION_1 {
            return Err(PageDecodeError::BadVersion(header.version()));
        }
        let flags = header.flags().0;
        if flags & !PageFlags::KNOWN != 0 {
            return Err(PageDecodeError::ReservedFlags(flags & !PageFlags::KNOWN));
        }
        let (span, count, used) = (header.span(), header.count(), header.used());
        let page_size = config.page_size() as usize;
        let used_len = used as usize;
        let fits_normal = used_len <= config.capacity();
        if header.is_overflow() {
            if count != 1 {
                return Err(PageDecodeError::OverflowCount(count));
            }
            if fits_normal {
                return Err(PageDecodeError::NeedlessOverflow { used });
            }
            let Some(expected) = checked_span(config, used_len) else {
                return Err(PageDecodeError::UsedOutOfRange {
                    used,
                    capacity: usize::from(u16::MAX) * page_size - PAGE_HEADER_LEN,
                });
            };
            if span != expected {
                return Err(PageDecodeError::SpanMismatch { span, expected });
            }
        } else {
            if span != 1 {
                if count == 1 && !fits_normal {
                    return Err(PageDecodeError::MissingOverflow { used });
                }
                return Err(PageDecodeError::SpanMismatch { span, expected: 1 });
            }
            if !fits_normal {
                return Err(PageDecodeError::UsedOutOfRange { used, capacity: config.capacity() });
            }
        }
        let expected_len = usize::from(span) * page_size;
        if bytes.len() != expected_len {
            return Err(PageDecodeError::WrongLength { expected: expected_len, actual: bytes.len() });
        }
        if (count == 0) != (used == 0) || (count as usize).saturating_mul(HEADER_LEN) > used_len {
            return Err(PageDecodeError::CountUsedMismatch { count, used });
        }
        let first_seq = header.first_seq();
        if first_seq.checked_add(u64::from(count)).is_none() {
            return Err(PageDecodeError::SeqOverflow { first_seq, count });
        }
        // The length checks above put `used` inside the page.
        let Some((events, padding)) = after.split_at_checked(used_len) else {
            return Err(PageDecodeError::UsedOutOfRange { used, capacity: after.len() });
        };
        if verify_checksum {
            let stored = header.checksum();
            let computed = header.compute_checksum(events);
            if stored != computed {
                return Err(PageDecodeError::ChecksumMismatch { stored, computed });
            }
        }
        let author = header.author();
        let mut rest = events;
        for index in 0..count {
            let (ev, len) = EventRef::parse_prefix(rest, MAX_PAYLOAD_LEN)
                .map_err(|error| PageDecodeError::Event { index, error })?;
            if ev.author() != author {
                return Err(PageDecodeError::AuthorMismatch { index, found: ev.author() });
            }
            let expected = first_seq + u64::from(index);
            if ev.seq() != expected {
                return Err(PageDecodeError::SeqMismatch { index, expected, found: ev.seq() });
            }
            rest = rest.get(len..).unwrap_or_default();
        }
        if !rest.is_empty() {
            return Err(PageDecodeError::TrailingBytes { consumed: used_len - rest.len(), used });
        }
        if let Some(i) = padding.iter().position(|&b| b != 0) {
            return Err(PageDecodeError::NonZeroPadding { offset: PAGE_HEADER_LEN + used_len + i });
        }
        Ok(PageRef { header, events, bytes })
    }

    /// The header, viewed in place.
    pub fn header(&self) -> &'a PageHeader {
        self.header
    }
    /// The whole page image.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// The `used` bytes of encoded events after the header.
    pub fn event_bytes(&self) -> &'a [u8] {
        self.events
    }
    /// Number of events.
    pub fn count(&self) -> u32 {
        self.header.count()
    }
    /// Seq of the first event.
    pub fn first_seq(&self) -> u64 {
        self.header.first_seq()
    }
    /// Seq after the last event: `first_seq + count`.
    pub fn end_seq(&self) -> u64 {
        // `parse` checked that this does not overflow.
        self.first_seq().saturating_add(u64::from(self.count()))
    }
    /// The feed's author.
    pub fn author(&self) -> AuthorId {
        self.header.author()
    }
    /// Whether this is an overflow page.
    pub fn is_overflow(&self) -> bool {
        self.header.is_overflow()
    }
    /// Page units the page occupies.
    pub fn span(&self) -> u16 {
        self.header.span()
    }
    /// The events, in seq order, as views into the page bytes (no allocation, no copy).
    pub fn events(&self) -> PageEvents<'a> {
        PageEvents { rest: self.events, remaining: self.count() }
    }
    /// The events' leaf hashes, in order.
    pub fn leaf_hashes(&self) -> Vec<Hash> {
        let mut out = Vec::with_capacity(self.count() as usize);
        out.extend(self.events().map(|e| e.leaf_hash()));
        out
    }
    /// The page root over the events' leaf hashes (computed streaming, no allocation).
    pub fn root(&self) -> Hash {
        let mut t = PageTreeHasher::new();
        for e in self.events() {
            t.push(e.leaf_hash());
        }
        t.root()
    }
}

impl fmt::Debug for PageRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageRef").field("header", self.header).field("len", &self.bytes.len()).finish()
    }
}

/// Iterator over the events of a [`PageRef`], borrowing the page bytes.
#[derive(Clone, Debug)]
pub struct PageEvents<'a> {
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for PageEvents<'a> {
    type Item = EventRef<'a>;

    fn next(&mut self) -> Option<EventRef<'a>> {
        if self.remaining == 0 {
            return None;
        }
        // The page was validated, so this decodes; stop cleanly if it somehow does not.
        let Ok((ev, len)) = EventRef::parse_prefix(self.rest, MAX_PAYLOAD_LEN) else {
            self.remaining = 0;
            return None;
        };
        self.rest = self.rest.get(len..).unwrap_or_default();
        self.remaining -= 1;
        Some(ev)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

impl ExactSizeIterator for PageEvents<'_> {}
impl FusedIterator for PageEvents<'_> {}
