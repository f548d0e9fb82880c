//! Events: a fixed 56-byte header followed by the payload.
//!
//! The header is read in place, without copying, through [`bytemuck`]: every field is
//! a little-endian byte array, so the header has alignment 1 and can be viewed at any
//! offset of a page or of a memory-mapped file. See `docs/formats.md` for the byte map.
//!
//! ```
//! use xaeroflux_core::event::{Event, EventRef, EventFlags};
//! use xaeroflux_core::AuthorId;
//!
//! let author = AuthorId([7; 32]);
//! let ev = Event::new(author, 0, 1_700_000_000_000_000, 1, EventFlags::NONE, b"hello");
//! let view = EventRef::parse(ev.encoded()).unwrap();
//! assert_eq!(view.payload(), b"hello");
//! assert_eq!(view.seq(), 0);
//! assert_eq!(view.leaf_hash(), ev.leaf_hash());
//! ```

use alloc::vec::Vec;
use core::fmt;

use crate::AuthorId;
use crate::hash::{Hash, leaf_hash};
use crate::sealed::{DecryptError, SpaceSecret};

/// The event format version this crate writes and reads.
pub const EVENT_VERSION: u8 = 1;

/// Size of the encoded header in bytes.
pub const HEADER_LEN: usize = core::mem::size_of::<EventHeader>();

/// The largest payload any decoder accepts, whatever limit the caller passes (16 MiB).
///
/// Callers usually pass a smaller limit of their own to [`EventRef::parse_prefix`].
pub const MAX_PAYLOAD_LEN: u32 = 16 * 1024 * 1024;

/// Flag bits of an event. Bits not named here are reserved and must be zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EventFlags(pub u8);

impl EventFlags {
    /// No flag set.
    pub const NONE: EventFlags = EventFlags(0);
    /// The payload is encrypted with the space secret (AEAD); relays can store and
    /// verify it but not read it.
    pub const ENCRYPTED: EventFlags = EventFlags(0x01);
    /// The payload is a CRDT operation.
    pub const CRDT: EventFlags = EventFlags(0x02);
    /// Every bit that version 1 defines.
    pub const KNOWN: u8 = 0x03;

    /// Whether all bits of `other` are set in `self`.
    pub const fn contains(self, other: EventFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two flag sets.
    pub const fn union(self, other: EventFlags) -> EventFlags {
        EventFlags(self.0 | other.0)
    }
}

impl fmt::Debug for EventFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventFlags({:#04x}", self.0)?;
        if self.contains(Self::ENCRYPTED) {
            f.write_str(" ENCRYPTED")?;
        }
        if self.contains(Self::CRDT) {
            f.write_str(" CRDT")?;
        }
        f.write_str(")")
    }
}

/// The fixed-size event header, viewable in place over untrusted bytes.
///
/// Byte layout (all integers little-endian):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 1 | version (1) |
/// | 1 | 1 | flags |
/// | 2 | 2 | kind (application-defined) |
/// | 4 | 4 | payload length |
/// | 8 | 8 | seq |
/// | 16 | 8 | timestamp, microseconds since the Unix epoch |
/// | 24 | 32 | author (ed25519 public key) |
#[derive(Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct EventHeader {
    version: u8,
    flags: u8,
    kind: [u8; 2],
    payload_len: [u8; 4],
    seq: [u8; 8],
    timestamp: [u8; 8],
    author: [u8; 32],
}

const _: () = assert!(HEADER_LEN == 56);

impl EventHeader {
    /// A version-1 header.
    pub fn new(author: AuthorId, seq: u64, timestamp_us: u64, kind: u16, flags: EventFlags, payload_len: u32) -> Self {
        EventHeader {
            version: EVENT_VERSION,
            flags: flags.0,
            kind: kind.to_le_bytes(),
            payload_len: payload_len.to_le_bytes(),
            seq: seq.to_le_bytes(),
            timestamp: timestamp_us.to_le_bytes(),
            author: author.0,
        }
    }

    /// Format version.
    pub fn version(&self) -> u8 {
        self.version
    }
    /// Flag bits.
    pub fn flags(&self) -> EventFlags {
        EventFlags(self.flags)
    }
    /// Application-defined kind.
    pub fn kind(&self) -> u16 {
        u16::from_le_bytes(self.kind)
    }
    /// Payload length in bytes.
    pub fn payload_len(&self) -> u32 {
        u32::from_le_bytes(self.payload_len)
    }
    /// Position of the event in its author's feed.
    pub fn seq(&self) -> u64 {
        u64::from_le_bytes(self.seq)
    }
    /// Microseconds since the Unix epoch, as the author's clock said.
    pub fn timestamp_us(&self) -> u64 {
        u64::from_le_bytes(self.timestamp)
    }
    /// The author's public key.
    pub fn author(&self) -> AuthorId {
        AuthorId(self.author)
    }
    /// The header bytes.
    pub fn as_bytes(&self) -> &[u8; HEADER_LEN] {
        bytemuck::cast_ref(self)
    }
}

impl fmt::Debug for EventHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventHeader")
            .field("version", &self.version())
            .field("flags", &self.flags())
            .field("kind", &self.kind())
            .field("payload_len", &self.payload_len())
            .field("seq", &self.seq())
            .field("timestamp_us", &self.timestamp_us())
            .field("author", &self.author())
            .finish()
    }
}

/// Why bytes could not be read as an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventDecodeError {
    /// Fewer bytes than the header, or than the header plus the declared payload.
    Truncated {
        /// Bytes the event needs.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A version this crate does not read.
    BadVersion(u8),
    /// A reserved flag bit is set.
    ReservedFlags(u8),
    /// The declared payload length disagrees with the bytes given (exact parsing only).
    LengthMismatch {
        /// Payload length in the header.
        declared: u32,
        /// Payload bytes actually given.
        actual: usize,
    },
    /// The payload is longer than the limit.
    TooLarge {
        /// Payload length in the header.
        len: u32,
        /// The limit in force.
        limit: u32,
    },
}

impl fmt::Display for EventDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, available } => {
                write!(f, "truncated event: needs {needed} bytes, {available} available")
            }
            Self::BadVersion(v) => write!(f, "unsupported event version {v} (this build reads {EVENT_VERSION})"),
            Self::ReservedFlags(b) => write!(f, "reserved event flag bits set: {b:#04x}"),
            Self::LengthMismatch { declared, actual } => {
                write!(f, "event declares a {declared}-byte payload but {actual} bytes follow the header")
            }
            Self::TooLarge { len, limit } => write!(f, "event payload of {len} bytes is over the {limit}-byte limit"),
        }
    }
}

impl core::error::Error for EventDecodeError {}

/// A borrowed, validated view of an encoded event. Reading it copies nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    header: &'a EventHeader,
    payload: &'a [u8],
    encoded: &'a [u8],
}

impl<'a> EventRef<'a> {
    /// Parses exactly one event that fills `bytes`, with the default limit
    /// [`MAX_PAYLOAD_LEN`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, EventDecodeError> {
        let (ev, used) = Self::parse_prefix(bytes, MAX_PAYLOAD_LEN)?;
        if used != bytes.len() {
            return Err(EventDecodeError::LengthMismatch {
                declared: ev.header.payload_len(),
                actual: bytes.len() - HEADER_LEN,
            });
        }
        Ok(ev)
    }

    /// Parses the event at the start of `bytes`, returning it and the number of bytes
    /// it spans. Payloads over `max_payload` (or over [`MAX_PAYLOAD_LEN`]) are refused.
    pub fn parse_prefix(bytes: &'a [u8], max_payload: u32) -> Result<(Self, usize), EventDecodeError> {
        let Some(head) = bytes.get(..HEADER_LEN) else {
            return Err(EventDecodeError::Truncated { needed: HEADER_LEN, available: bytes.len() });
        };
        let header: &EventHeader = bytemuck::from_bytes(head);
        if header.version != EVENT_VERSION {
            return Err(EventDecodeError::BadVersion(header.version));
        }
        if header.flags & !EventFlags::KNOWN != 0 {
            return Err(EventDecodeError::ReservedFlags(header.flags & !EventFlags::KNOWN));
        }
        let len = header.payload_len();
        let limit = max_payload.min(MAX_PAYLOAD_LEN);
        if len > limit {
            return Err(EventDecodeError::TooLarge { len, limit });
        }
        let total = HEADER_LEN + len as usize;
        let Some(encoded) = bytes.get(..total) else {
            return Err(EventDecodeError::Truncated { needed: total, available: bytes.len() });
        };
        Ok((EventRef { header, payload: &encoded[HEADER_LEN..], encoded }, total))
    }

    /// The header, viewed in place.
    pub fn header(&self) -> &'a EventHeader {
        self.header
    }
    /// The payload bytes.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    /// The payload bytes: the same as [`Self::payload`], under the name the original
    /// Xaeroflux quickstart uses (`event.data()`).
    pub fn data(&self) -> &'a [u8] {
        self.payload
    }
    /// Header and payload, as hashed and stored.
    pub fn encoded(&self) -> &'a [u8] {
        self.encoded
    }
    /// Position in the author's feed.
    pub fn seq(&self) -> u64 {
        self.header.seq()
    }
    /// The author.
    pub fn author(&self) -> AuthorId {
        self.header.author()
    }
    /// Application-defined kind.
    pub fn kind(&self) -> u16 {
        self.header.kind()
    }
    /// Flag bits.
    pub fn flags(&self) -> EventFlags {
        self.header.flags()
    }
    /// Author's timestamp in microseconds since the Unix epoch.
    pub fn timestamp_us(&self) -> u64 {
        self.header.timestamp_us()
    }
    /// The MMR / page-tree leaf hash of this event.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(self.encoded)
    }
    /// An owned copy.
    pub fn to_owned(&self) -> Event {
        Event { bytes: self.encoded.to_vec() }
    }
    /// The plaintext of an `ENCRYPTED` event's sealed payload, opened with the space's
    /// secret ([`crate::sealed`]); [`DecryptError::NotEncrypted`] for an event without the flag.
    pub fn decrypt(&self, secret: &SpaceSecret) -> Result<Vec<u8>, DecryptError> {
        if !self.flags().contains(EventFlags::ENCRYPTED) {
            return Err(DecryptError::NotEncrypted);
        }
        let mut out = Vec::new();
        crate::sealed::open(secret, &self.author(), self.payload, &mut out)?;
        Ok(out)
    }
}

impl fmt::Debug for EventRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRef").field("header", self.header).field("payload_len", &self.payload.len()).finish()
    }
}

/// An owned encoded event.
#[derive(Clone, PartialEq, Eq)]
pub struct Event {
    bytes: Vec<u8>,
}

impl Event {
    /// Encodes a new event.
    ///
    /// # Panics
    /// If the payload is longer than [`MAX_PAYLOAD_LEN`]: creating such an event is a
    /// programming error of the caller, who can check with [`Event::try_new`] instead.
    pub fn new(author: AuthorId, seq: u64, timestamp_us: u64, kind: u16, flags: EventFlags, payload: &[u8]) -> Event {
        match Self::try_new(author, seq, timestamp_us, kind, flags, payload) {
            Ok(ev) => ev,
            Err(e) => panic!("{e}"),
        }
    }

    /// Encodes a new event, refusing payloads over [`MAX_PAYLOAD_LEN`] and reserved flags.
    pub fn try_new(
        author: AuthorId,
        seq: u64,
        timestamp_us: u64,
        kind: u16,
        flags: EventFlags,
        payload: &[u8],
    ) -> Result<Event, EventDecodeError> {
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        if len > MAX_PAYLOAD_LEN {
            return Err(EventDecodeError::TooLarge { len, limit: MAX_PAYLOAD_LEN });
        }
        if flags.0 & !EventFlags::KNOWN != 0 {
            return Err(EventDecodeError::ReservedFlags(flags.0 & !EventFlags::KNOWN));
        }
        let header = EventHeader::new(author, seq, timestamp_us, kind, flags, len);
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(payload);
        Ok(Event { bytes })
    }

    /// Takes ownership of encoded bytes after validating them.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Event, EventDecodeError> {
        EventRef::parse(&bytes)?;
        Ok(Event { bytes })
    }

    /// A borrowed view.
    pub fn as_ref(&self) -> EventRef<'_> {
        let header = bytemuck::from_bytes(&self.bytes[..HEADER_LEN]);
        EventRef { header, payload: &self.bytes[HEADER_LEN..], encoded: &self.bytes }
    }
    /// The encoded bytes.
    pub fn encoded(&self) -> &[u8] {
        &self.bytes
    }
    /// The encoded bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
    /// The header.
    pub fn header(&self) -> &EventHeader {
        self.as_ref().header
    }
    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[HEADER_LEN..]
    }
    /// The payload: the same as [`Self::payload`], under the name the original Xaeroflux
    /// quickstart uses (`event.data()`).
    pub fn data(&self) -> &[u8] {
        self.payload()
    }
    /// The plaintext of an `ENCRYPTED` event's sealed payload: see [`EventRef::decrypt`].
    pub fn decrypt(&self, secret: &SpaceSecret) -> Result<Vec<u8>, DecryptError> {
        self.as_ref().decrypt(secret)
    }
    /// Position in the author's feed.
    pub fn seq(&self) -> u64 {
        self.header().seq()
    }
    /// The author.
    pub fn author(&self) -> AuthorId {
        self.header().author()
    }
    /// The leaf hash.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.bytes)
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_ref(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(payload: &[u8]) -> Event {
        Event::new(AuthorId([9; 32]), 42, 123, 7, EventFlags::CRDT, payload)
    }

    #[test]
    fn round_trip() {
        let e = ev(b"abc");
        let r = EventRef::parse(e.encoded()).unwrap();
        assert_eq!(r.seq(), 42);
        assert_eq!(r.kind(), 7);
        assert_eq!(r.timestamp_us(), 123);
        assert_eq!(r.flags(), EventFlags::CRDT);
        assert_eq!(r.author(), AuthorId([9; 32]));
        assert_eq!(r.payload(), b"abc");
        assert_eq!(e.encoded().len(), HEADER_LEN + 3);
    }

    #[test]
    fn precise_errors() {
        let e = ev(b"abcd");
        let b = e.encoded();
        assert_eq!(EventRef::parse(&b[..10]), Err(EventDecodeError::Truncated { needed: HEADER_LEN, available: 10 }));
        assert_eq!(
            EventRef::parse(&b[..b.len() - 1]),
            Err(EventDecodeError::Truncated { needed: b.len(), available: b.len() - 1 })
        );
        let mut longer = b.to_vec();
        longer.push(0);
        assert_eq!(EventRef::parse(&longer), Err(EventDecodeError::LengthMismatch { declared: 4, actual: 5 }));
        let mut v = b.to_vec();
        v[0] = 2;
        assert_eq!(EventRef::parse(&v), Err(EventDecodeError::BadVersion(2)));
        let mut v = b.to_vec();
        v[1] = 0x80;
        assert_eq!(EventRef::parse(&v), Err(EventDecodeError::ReservedFlags(0x80)));
        assert_eq!(EventRef::parse_prefix(b, 3).map(|_| ()), Err(EventDecodeError::TooLarge { len: 4, limit: 3 }));
    }

    #[test]
    fn header_read_in_place_at_odd_offsets() {
        let e = ev(b"xyz");
        let mut buf = alloc::vec![0u8; 1];
        buf.extend_from_slice(e.encoded());
        let (r, used) = EventRef::parse_prefix(&buf[1..], 100).unwrap();
        assert_eq!(used, e.encoded().len());
        assert_eq!(r.payload(), b"xyz");
        assert!(core::ptr::eq(r.payload().as_ptr(), buf[1 + HEADER_LEN..].as_ptr()));
    }
}
