//! The 64-byte page header, read in place.

use core::fmt;

use crate::hash::{page_checksum, page_checksum_v1};
use crate::head::AuthorId;

/// The four magic bytes that open every page.
pub const PAGE_MAGIC: [u8; 4] = *b"XFPG";

/// The page format version this crate writes: 2, whose checksum is XXH3-64 over the events
/// then the header ([`crate::hash::page_checksum`]).
pub const PAGE_VERSION: u8 = 2;

/// The first page format version, still read: its checksum is keyed blake3 over the header
/// then the events ([`crate::hash::page_checksum_v1`]); nothing else differs.
pub const PAGE_VERSION_1: u8 = 1;

/// Size of the page header in bytes.
pub const PAGE_HEADER_LEN: usize = core::mem::size_of::<PageHeader>();

/// Byte offset of the checksum field inside the header.
pub(crate) const CHECKSUM_OFFSET: usize = 56;

const _: () = assert!(PAGE_HEADER_LEN == 64);
const _: () = assert!(core::mem::align_of::<PageHeader>() == 1);

/// Flag bits of a page. Bits not named here are reserved and must be zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PageFlags(pub u8);

impl PageFlags {
    /// No flag set: a normal page (span 1, any number of events that fit).
    pub const NONE: PageFlags = PageFlags(0);
    /// An overflow page: exactly one event too large for a normal page, spanning
    /// `ceil((PAGE_HEADER_LEN + encoded_len) / page_size)` page units.
    pub const OVERFLOW: PageFlags = PageFlags(0x01);
    /// Every bit that version 1 defines.
    pub const KNOWN: u8 = 0x01;

    /// Whether all bits of `other` are set in `self`.
    pub const fn contains(self, other: PageFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl fmt::Debug for PageFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageFlags({:#04x}", self.0)?;
        if self.contains(Self::OVERFLOW) {
            f.write_str(" OVERFLOW")?;
        }
        f.write_str(")")
    }
}

/// The fixed-size page header, viewable in place over untrusted bytes.
///
/// Every multi-byte field is a little-endian byte array, so the header has alignment 1
/// and can be viewed at any offset of a buffer or of a memory-mapped file.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic `"XFPG"` |
/// | 4 | 1 | version (2; 1 is still read) |
/// | 5 | 1 | flags (bit 0: OVERFLOW; the others reserved, zero) |
/// | 6 | 2 | span: the page is `span × page_size` bytes (1 unless OVERFLOW) |
/// | 8 | 4 | count: number of events |
/// | 12 | 4 | used: bytes of events after the header |
/// | 16 | 8 | first_seq: seq of the first event |
/// | 24 | 32 | author (ed25519 public key of the feed) |
/// | 56 | 8 | checksum (see [`crate::hash::page_checksum`]) |
#[derive(Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct PageHeader {
    magic: [u8; 4],
    version: u8,
    flags: u8,
    span: [u8; 2],
    count: [u8; 4],
    used: [u8; 4],
    first_seq: [u8; 8],
    author: [u8; 32],
    checksum: [u8; 8],
}

impl PageHeader {
    /// A version-2 header with a zero checksum (the form the checksum is computed over).
    pub fn new(author: AuthorId, first_seq: u64, flags: PageFlags, span: u16, count: u32, used: u32) -> Self {
        PageHeader {
            magic: PAGE_MAGIC,
            version: PAGE_VERSION,
            flags: flags.0,
            span: span.to_le_bytes(),
            count: count.to_le_bytes(),
            used: used.to_le_bytes(),
            first_seq: first_seq.to_le_bytes(),
            author: author.0,
            checksum: [0; 8],
        }
    }

    /// The magic bytes (`"XFPG"` in a valid page).
    pub fn magic(&self) -> [u8; 4] {
        self.magic
    }
    /// Format version.
    pub fn version(&self) -> u8 {
        self.version
    }
    /// Flag bits.
    pub fn flags(&self) -> PageFlags {
        PageFlags(self.flags)
    }
    /// Whether this is an overflow page (one oversized event).
    pub fn is_overflow(&self) -> bool {
        self.flags().contains(PageFlags::OVERFLOW)
    }
    /// Number of page units (of `page_size` bytes) the page occupies.
    pub fn span(&self) -> u16 {
        u16::from_le_bytes(self.span)
    }
    /// Number of events in the page.
    pub fn count(&self) -> u32 {
        u32::from_le_bytes(self.count)
    }
    /// Bytes of encoded events after the header.
    pub fn used(&self) -> u32 {
        u32::from_le_bytes(self.used)
    }
    /// Seq of the first event of the page.
    pub fn first_seq(&self) -> u64 {
        u64::from_le_bytes(self.first_seq)
    }
    /// The feed's author.
    pub fn author(&self) -> AuthorId {
        AuthorId(self.author)
    }
    /// The stored checksum.
    pub fn checksum(&self) -> u64 {
        u64::from_le_bytes(self.checksum)
    }
    /// A copy with the checksum field set.
    pub fn with_checksum(mut self, checksum: u64) -> Self {
        self.checksum = checksum.to_le_bytes();
        self
    }
    /// The header bytes.
    pub fn as_bytes(&self) -> &[u8; PAGE_HEADER_LEN] {
        bytemuck::cast_ref(self)
    }
    /// The header in `bytes`, read in place, without any check (see
    /// [`super::PageRef::parse`] for a checked page).
    pub fn from_bytes(bytes: &[u8; PAGE_HEADER_LEN]) -> &PageHeader {
        bytemuck::cast_ref(bytes)
    }

    /// The checksum this header should carry for the given event bytes, by its version:
    /// [`crate::hash::page_checksum`] (version 2) or [`crate::hash::page_checksum_v1`]
    /// (version 1) over this header with its checksum field zeroed and `events` (the `used`
    /// bytes after the header). A header of another version gets the version-2 checksum.
    pub fn compute_checksum(&self, events: &[u8]) -> u64 {
        let zeroed = self.with_checksum(0);
        if self.version() == PAGE_VERSION_1 {
            page_checksum_v1(zeroed.as_bytes(), events)
        } else {
            page_checksum(zeroed.as_bytes(), events)
        }
    }
}

impl fmt::Debug for PageHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageHeader")
            .field("magic", &self.magic)
            .field("version", &self.version())
            .field("flags", &self.flags())
            .field("span", &self.span())
            .field("count", &self.count())
            .field("used", &self.used())
            .field("first_seq", &self.first_seq())
            .field("author", &self.author())
            .field("checksum", &format_args!("{:#018x}", self.checksum()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn the_checksum_follows_the_version() {
        let h = PageHeader::new(AuthorId([3; 32]), 5, PageFlags::NONE, 1, 2, 4).with_checksum(99);
        let events = [1u8, 2, 3, 4];
        let zeroed = *h.with_checksum(0).as_bytes();
        assert_eq!(h.version(), PAGE_VERSION);
        assert_eq!(h.compute_checksum(&events), page_checksum(&zeroed, &events));
        let mut v1 = h;
        v1.version = PAGE_VERSION_1;
        let zeroed_v1 = *v1.with_checksum(0).as_bytes();
        assert_eq!(v1.compute_checksum(&events), page_checksum_v1(&zeroed_v1, &events));
        assert_ne!(v1.compute_checksum(&events), h.compute_checksum(&events));
    }

    #[test]
    fn field_offsets() {
        let h =
            PageHeader::new(AuthorId([0xaa; 32]), 0x0102_0304_0506_0708, PageFlags::OVERFLOW, 0x1122, 0x3344_5566, 7)
                .with_checksum(0xdead_beef);
        let b = h.as_bytes();
        assert_eq!(&b[0..4], b"XFPG");
        assert_eq!(b[4], 2);
        assert_eq!(b[5], 1);
        assert_eq!(&b[6..8], &[0x22, 0x11]);
        assert_eq!(&b[8..12], &[0x66, 0x55, 0x44, 0x33]);
        assert_eq!(&b[12..16], &[7, 0, 0, 0]);
        assert_eq!(&b[16..24], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&b[24..56], &[0xaa; 32]);
        assert_eq!(&b[CHECKSUM_OFFSET..], &0xdead_beefu64.to_le_bytes());
    }
}
