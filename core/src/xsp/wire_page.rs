//! The compact wire form of events (used by PAGES and RANGE_RESPONSE).
//!
//! The author, the seq and the event version are implied by the context, so an event
//! costs a few bytes more than its payload instead of the 56 bytes of its canonical
//! header. Per event:
//!
//! ```text
//! meta     varint   payload_len << 1 | has_kf
//! kf       varint   kind << 2 | flags      (only if has_kf, else the previous event's)
//! ts       zigzag   timestamp - previous timestamp (wrapping)
//! payload  payload_len bytes
//! ```
//!
//! "Previous" restarts at `kf = 0`, `ts = 0` at every page. The receiver rebuilds the
//! canonical event bytes with [`write_canonical`]; those are what is hashed and verified.
//!
//! ```
//! use xaeroflux_core::xsp::wire_page::{CompactEncoder, CompactDecoder, write_canonical};
//! use xaeroflux_core::{AuthorId, Event, EventFlags};
//!
//! let author = AuthorId([1; 32]);
//! let ev = Event::new(author, 7, 1_000_000, 3, EventFlags::NONE, b"hi");
//! let mut wire = Vec::new();
//! CompactEncoder::new().encode(&mut wire, ev.as_ref());
//! assert_eq!(wire.len(), 1 + 1 + 3 + 2);
//!
//! let mut dec = CompactDecoder::new(&wire);
//! let wev = dec.next_event(1024).unwrap();
//! let mut canon = Vec::new();
//! write_canonical(&mut canon, author, 7, &wev);
//! assert_eq!(canon, ev.encoded());
//! ```

use alloc::vec::Vec;

use super::codec::{DecodeError, Reader};
use super::varint;
use crate::AuthorId;
use crate::event::{EventFlags, EventHeader, EventRef, HEADER_LEN};

const _: () = assert!(EventFlags::KNOWN < 4, "kf packs the event flags in two bits");

/// The largest `kf` value: a 16-bit kind and two flag bits.
pub const MAX_KF: u64 = (1 << 18) - 1;

/// One event as read from the wire, borrowing its payload from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireEvent<'a> {
    /// Application-defined kind.
    pub kind: u16,
    /// Flag bits (only the known ones can be expressed).
    pub flags: EventFlags,
    /// The author's timestamp.
    pub timestamp_us: u64,
    /// The payload.
    pub payload: &'a [u8],
}

impl WireEvent<'_> {
    /// Length of the canonical encoding this event rebuilds to.
    pub fn canonical_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }
}

/// Appends the canonical bytes (header + payload) of `ev` as event `seq` of `author`.
pub fn write_canonical(out: &mut Vec<u8>, author: AuthorId, seq: u64, ev: &WireEvent<'_>) {
    // The payload length fits a u32: the decoder refuses anything over its u32 limit.
    let len = u32::try_from(ev.payload.len()).unwrap_or(u32::MAX);
    let header = EventHeader::new(author, seq, ev.timestamp_us, ev.kind, ev.flags, len);
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(ev.payload);
}

/// Encodes events of one page (or one range) in compact form, tracking "previous".
#[derive(Debug, Clone, Default)]
pub struct CompactEncoder {
    kf: u64,
    ts: u64,
}

impl CompactEncoder {
    /// An encoder at the start of a page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the compact form of `ev`.
    pub fn encode(&mut self, out: &mut Vec<u8>, ev: EventRef<'_>) {
        let kf = (u64::from(ev.kind()) << 2) | u64::from(ev.flags().0 & EventFlags::KNOWN);
        let has_kf = kf != self.kf;
        varint::push(out, ((ev.payload().len() as u64) << 1) | u64::from(has_kf));
        if has_kf {
            varint::push(out, kf);
            self.kf = kf;
        }
        let ts = ev.timestamp_us();
        varint::push(out, varint::zigzag(ts.wrapping_sub(self.ts) as i64));
        self.ts = ts;
        out.extend_from_slice(ev.payload());
    }

    /// The compact length of `ev` given the current state (without encoding it).
    pub fn encoded_len(&self, ev: EventRef<'_>) -> usize {
        let kf = (u64::from(ev.kind()) << 2) | u64::from(ev.flags().0 & EventFlags::KNOWN);
        let has_kf = kf != self.kf;
        varint::len(((ev.payload().len() as u64) << 1) | 1)
            + if has_kf { varint::len(kf) } else { 0 }
            + varint::len(varint::zigzag(ev.timestamp_us().wrapping_sub(self.ts) as i64))
            + ev.payload().len()
    }
}

/// Reads compact events from untrusted bytes, one at a time (no allocation).
#[derive(Debug, Clone)]
pub struct CompactDecoder<'a> {
    reader: Reader<'a>,
    kf: u64,
    ts: u64,
}

impl<'a> CompactDecoder<'a> {
    /// A decoder over `bytes`, at the start of a page.
    pub fn new(bytes: &'a [u8]) -> Self {
        CompactDecoder { reader: Reader::new(bytes), kf: 0, ts: 0 }
    }

    pub(crate) fn from_reader(reader: Reader<'a>) -> Self {
        CompactDecoder { reader, kf: 0, ts: 0 }
    }

    /// Restarts "previous" (at a page boundary).
    pub fn reset(&mut self) {
        self.kf = 0;
        self.ts = 0;
    }

    /// Reads a page's event count (a varint, at least 1 and at most `max`).
    pub fn page_count(&mut self, max: u64) -> Result<u32, DecodeError> {
        let n = self.reader.varint("page.count")?;
        if n == 0 || n > max {
            return Err(DecodeError::OutOfRange { field: "page.count", value: n });
        }
        self.reset();
        Ok(n as u32)
    }

    /// Reads the next event; payloads over `max_payload` are refused before being read.
    pub fn next_event(&mut self, max_payload: u32) -> Result<WireEvent<'a>, DecodeError> {
        let meta = self.reader.varint("event.meta")?;
        let payload_len = meta >> 1;
        if payload_len > u64::from(max_payload) {
            return Err(DecodeError::OutOfRange { field: "event.payload_len", value: payload_len });
        }
        if meta & 1 == 1 {
            let kf = self.reader.varint_max("event.kf", MAX_KF)?;
            if kf == self.kf {
                // has_kf must mean "differs from the previous", so encodings stay unique.
                return Err(DecodeError::OutOfRange { field: "event.kf", value: kf });
            }
            self.kf = kf;
        }
        let delta = self.reader.varint("event.ts")?;
        self.ts = self.ts.wrapping_add(varint::unzigzag(delta) as u64);
        let payload = self.reader.take(payload_len as usize, "event.payload")?;
        Ok(WireEvent {
            kind: (self.kf >> 2) as u16,
            flags: EventFlags((self.kf & 3) as u8),
            timestamp_us: self.ts,
            payload,
        })
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.reader.remaining()
    }

    /// Checks that every byte was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        self.reader.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(evs in proptest::collection::vec((any::<u16>(), 0u8..4, any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..40)), 0..20)) {
            let author = AuthorId([5; 32]);
            let events: Vec<Event> = evs.iter().enumerate()
                .map(|(i, (k, f, ts, p))| Event::new(author, i as u64 + 10, *ts, *k, EventFlags(*f), p))
                .collect();
            let mut wire = Vec::new();
            let mut enc = CompactEncoder::new();
            for e in &events {
                let before = wire.len();
                let predicted = enc.encoded_len(e.as_ref());
                enc.encode(&mut wire, e.as_ref());
                prop_assert_eq!(wire.len() - before, predicted);
            }
            let mut dec = CompactDecoder::new(&wire);
            for e in &events {
                let w = dec.next_event(1 << 20).unwrap();
                let mut canon = Vec::new();
                write_canonical(&mut canon, author, e.seq(), &w);
                prop_assert_eq!(&canon[..], e.encoded());
            }
            prop_assert!(dec.finish().is_ok());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut dec = CompactDecoder::new(&bytes);
            for _ in 0..8 {
                if dec.next_event(16).is_err() {
                    break;
                }
            }
        }
    }

    #[test]
    fn refuses_over_limit_and_redundant_kf() {
        let mut dec = CompactDecoder::new(&[0x41]); // payload_len 32, no kf
        assert_eq!(dec.next_event(16), Err(DecodeError::OutOfRange { field: "event.payload_len", value: 32 }));
        let mut dec = CompactDecoder::new(&[0x01, 0x00, 0x00]); // has_kf with kf == previous (0)
        assert_eq!(dec.next_event(16), Err(DecodeError::OutOfRange { field: "event.kf", value: 0 }));
        let mut dec = CompactDecoder::new(&[0x01, 0xff, 0xff, 0x10, 0x00]); // kf = 2^18 + ... too large
        assert!(matches!(dec.next_event(16), Err(DecodeError::OutOfRange { field: "event.kf", .. })));
    }
}
