//! The kept form of a [`VerifiedRange`]: what a host writes to keep a read on demand past a
//! restart (a file, a browser's database), and reads back only by verifying it again.
//!
//! A kept range is untrusted input when it is read back: a file can be damaged, truncated or
//! written by someone else. [`VerifiedRange::decode_kept`] therefore checks everything the
//! session checked when the events first came: the head's signature, every event (its author
//! and seq included), the range proof's shape, and the proof against the head's root. What it
//! returns is as verified as what a session reports; anything else is an error, never a
//! partly trusted range.
//!
//! Layout (little-endian; `docs/formats.md`, "Kept ranges"):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | version, [`KEPT_RANGE_VERSION`] |
//! | 137 | the signed head ([`SignedHead::encode`]) |
//! | 8 | `start`, seq of the first event |
//! | 4 | `count`, number of events |
//! | 4 | `events_len`, then that many bytes: the events' canonical encodings back to back |
//! | 4 | `proof_len`, then that many bytes: the range proof ([`RangeProof::encode`]), empty when `count` is 0 |

use alloc::vec::Vec;
use core::fmt;

use super::codec::{DecodeError, Reader};
use super::event::{EventBlock, VerifiedRange};
use crate::event::{EventDecodeError, EventRef, MAX_PAYLOAD_LEN};
use crate::head::{HeadError, SIGNED_HEAD_LEN, SignedHead};
use crate::mmr::{ProofDecodeError, ProofError, RangeProof};

/// The version byte [`VerifiedRange::encode_kept`] writes and [`VerifiedRange::decode_kept`]
/// reads.
pub const KEPT_RANGE_VERSION: u8 = 1;

/// Version, head, start, count: the fixed part before the events.
const FIXED_LEN: usize = 1 + SIGNED_HEAD_LEN + 8 + 4;

/// Why [`VerifiedRange::decode_kept`] refused the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeptRangeError {
    /// The bytes end before a field they state.
    Truncated,
    /// Bytes follow the range proof.
    TrailingBytes,
    /// A version this crate does not read.
    BadVersion(u8),
    /// The signed head does not decode, or its signature does not verify.
    Head(HeadError),
    /// Event `index` of the range does not decode.
    Event {
        /// Its position in the range.
        index: u32,
        /// Why.
        error: EventDecodeError,
    },
    /// Event `index` decodes but is not the head's author's event at `start + index`.
    WrongEvent {
        /// Its position in the range.
        index: u32,
    },
    /// The events' bytes hold more or fewer events than `count`.
    WrongCount,
    /// The range reaches past the head's length.
    PastHead,
    /// The range proof does not decode.
    Proof(ProofDecodeError),
    /// The range proof is for other seqs or another length than the range and its head, or
    /// an empty range carries one.
    ProofMismatch,
    /// The range proof does not lead from the events to the head's root.
    Verification(ProofError),
}

impl fmt::Display for KeptRangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("kept range is truncated"),
            Self::TrailingBytes => f.write_str("kept range has bytes after its proof"),
            Self::BadVersion(v) => write!(f, "unsupported kept range version {v}"),
            Self::Head(e) => write!(f, "kept range's signed head: {e}"),
            Self::Event { index, error } => write!(f, "kept range's event {index}: {error}"),
            Self::WrongEvent { index } => {
                write!(f, "kept range's event {index} is not the head's author's event at its seq")
            }
            Self::WrongCount => f.write_str("kept range's events are not as many as it states"),
            Self::PastHead => f.write_str("kept range reaches past its head's length"),
            Self::Proof(e) => write!(f, "kept range's proof: {e}"),
            Self::ProofMismatch => f.write_str("kept range's proof is for another range"),
            Self::Verification(e) => write!(f, "kept range does not verify against its head: {e}"),
        }
    }
}

impl core::error::Error for KeptRangeError {}

/// The kept bytes end inside a field: all a kept range's reader reports of truncation.
fn truncated(_: DecodeError) -> KeptRangeError {
    KeptRangeError::Truncated
}

fn u32_le(r: &mut Reader<'_>, field: &'static str) -> Result<u32, KeptRangeError> {
    r.array(field).map(u32::from_le_bytes).map_err(truncated)
}

/// A `u32` length, then that many bytes.
fn sized<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<&'a [u8], KeptRangeError> {
    let n = u32_le(r, field)?;
    r.take(usize::try_from(n).map_err(|_| KeptRangeError::Truncated)?, field).map_err(truncated)
}

fn put_sized(out: &mut Vec<u8>, bytes: &[u8]) {
    // Event blocks are bounded by a session's byte window (u32 offsets) and proofs by
    // 189 nodes, so their lengths fit a u32.
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

impl VerifiedRange {
    /// Appends the kept form of this range to `out`: what [`VerifiedRange::decode_kept`]
    /// verifies and reads back. Layout (little-endian; `docs/formats.md`, "Kept ranges"):
    /// version ([`KEPT_RANGE_VERSION`]) ‖ the signed head (137 bytes) ‖ `start` (u64) ‖
    /// `count` (u32) ‖ `events_len` (u32) ‖ the events' canonical encodings ‖ `proof_len`
    /// (u32) ‖ the range proof ([`RangeProof::encode`], empty when `count` is 0).
    pub fn encode_kept(&self, out: &mut Vec<u8>) {
        out.reserve(FIXED_LEN + 8 + self.events.byte_len() + 16 + 32 * 64);
        out.push(KEPT_RANGE_VERSION);
        out.extend_from_slice(&self.head.encode());
        out.extend_from_slice(&self.start.to_le_bytes());
        out.extend_from_slice(&(self.events.len() as u32).to_le_bytes());
        put_sized(out, self.events.as_bytes());
        put_sized(out, &self.proof.as_ref().map_or_else(Vec::new, RangeProof::encode));
    }

    /// Appends `ranges` as a counted list of kept ranges: their number (u32), then each as its
    /// length (u32) and its kept form ([`VerifiedRange::encode_kept`]). How the hosts keep the
    /// answers of one read together ([`VerifiedRange::decode_kept_list`] reads it back).
    pub fn encode_kept_list(ranges: &[VerifiedRange], out: &mut Vec<u8>) {
        // A read's answers number far fewer than 2^32.
        out.extend_from_slice(&(ranges.len() as u32).to_le_bytes());
        let mut kept = Vec::new();
        for range in ranges {
            kept.clear();
            range.encode_kept(&mut kept);
            put_sized(out, &kept);
        }
    }

    /// Reads exactly a list written by [`VerifiedRange::encode_kept_list`], each range
    /// verified by [`VerifiedRange::decode_kept`]. Whether they form one read is
    /// [`VerifiedRange::are_one_read`].
    pub fn decode_kept_list(bytes: &[u8]) -> Result<Vec<VerifiedRange>, KeptRangeError> {
        let mut r = Reader::new(bytes);
        let count = u32_le(&mut r, "count")?;
        // Each range takes at least its length and fixed part: a count the bytes cannot hold
        // allocates nothing.
        let mut ranges = Vec::with_capacity((count as usize).min(bytes.len() / (4 + FIXED_LEN)));
        for _ in 0..count {
            ranges.push(VerifiedRange::decode_kept(sized(&mut r, "range")?)?);
        }
        if r.remaining() != 0 {
            return Err(KeptRangeError::TrailingBytes);
        }
        Ok(ranges)
    }

    /// Whether `ranges` can be the answers of one read kept with the signed head `head` (the
    /// latest they were verified against): each of `head`'s author, not empty, verified
    /// against a head no longer than `head`, and each starting where the previous one ends.
    /// What a host checks of the answers it reads back together, each verified by
    /// [`VerifiedRange::decode_kept`].
    pub fn are_one_read(head: &SignedHead, ranges: &[VerifiedRange]) -> bool {
        ranges.windows(2).all(|w| w[0].seqs().end == w[1].start)
            && ranges
                .iter()
                .all(|r| r.head.author == head.author && r.head.length <= head.length && !r.events.is_empty())
    }

    /// Reads a range written by [`VerifiedRange::encode_kept`] (exactly those bytes),
    /// verifying it again as a session verifies a peer's answer: the head's signature, every
    /// event's encoding, author and seq, and the range proof against the head's root. The
    /// request id of the range returned is 0.
    ///
    /// ```
    /// use xaeroflux_core::AuthorKey;
    /// use xaeroflux_core::memstore::{MemStore, NewEvent};
    /// use xaeroflux_core::page::PageConfig;
    /// use xaeroflux_core::xsp::{KEPT_RANGE_VERSION, KeptRangeError, VerifiedRange};
    ///
    /// let key = AuthorKey::from_secret_bytes(&[9; 32]);
    /// let author = key.author();
    /// let mut feed = MemStore::new(key, PageConfig::new(4096).unwrap());
    /// feed.append_batch((0..10u8).map(|i| NewEvent::new(u64::from(i), b"listing"))).unwrap();
    /// // The kept form of events 2..6, written by hand here (a host keeps what
    /// // `encode_kept` writes of a range its session verified).
    /// let mut kept = vec![KEPT_RANGE_VERSION];
    /// kept.extend(feed.head(&author).unwrap().encode());
    /// kept.extend(2u64.to_le_bytes());
    /// kept.extend(4u32.to_le_bytes());
    /// let events: Vec<u8> = feed.range(&author, 2..6).flat_map(|e| e.encoded().to_vec()).collect();
    /// kept.extend((events.len() as u32).to_le_bytes());
    /// kept.extend(&events);
    /// let proof = feed.range_proof(&author, 2..6).unwrap().encode();
    /// kept.extend((proof.len() as u32).to_le_bytes());
    /// kept.extend(&proof);
    ///
    /// let range = VerifiedRange::decode_kept(&kept).unwrap();
    /// assert_eq!(range.seqs(), 2..6);
    /// let mut again = Vec::new();
    /// range.encode_kept(&mut again);
    /// assert_eq!(again, kept);
    /// // A changed event is refused: it no longer leads to the signed root.
    /// let at = kept.len() - proof.len() - 5;
    /// kept[at] ^= 1;
    /// assert!(matches!(VerifiedRange::decode_kept(&kept), Err(KeptRangeError::Verification(_))));
    /// ```
    pub fn decode_kept(bytes: &[u8]) -> Result<VerifiedRange, KeptRangeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version").map_err(truncated)?;
        if version != KEPT_RANGE_VERSION {
            return Err(KeptRangeError::BadVersion(version));
        }
        let head = r.take(SIGNED_HEAD_LEN, "head").map_err(truncated)?;
        let head = SignedHead::decode(head).map_err(KeptRangeError::Head)?;
        head.verify().map_err(KeptRangeError::Head)?;
        let start = r.array("start").map(u64::from_le_bytes).map_err(truncated)?;
        let count = u32_le(&mut r, "count")?;
        let events = sized(&mut r, "events")?;
        let proof = sized(&mut r, "proof")?;
        if r.remaining() != 0 {
            return Err(KeptRangeError::TrailingBytes);
        }
        if start.checked_add(u64::from(count)).is_none_or(|end| end > head.length) {
            return Err(KeptRangeError::PastHead);
        }
        let mut block = EventBlock::default();
        let mut rest = events;
        for index in 0..count {
            if rest.is_empty() {
                return Err(KeptRangeError::WrongCount);
            }
            let (ev, used) = EventRef::parse_prefix(rest, MAX_PAYLOAD_LEN)
                .map_err(|error| KeptRangeError::Event { index, error })?;
            if ev.author() != head.author || ev.seq() != start + u64::from(index) {
                return Err(KeptRangeError::WrongEvent { index });
            }
            block.bytes.extend_from_slice(&rest[..used]);
            rest = &rest[used..];
            // At most `events.len()`, itself read from a u32.
            block.ends.push(block.bytes.len() as u32);
        }
        if !rest.is_empty() {
            return Err(KeptRangeError::WrongCount);
        }
        block.hash_leaves();
        let proof = if count == 0 {
            if !proof.is_empty() {
                return Err(KeptRangeError::ProofMismatch);
            }
            None
        } else {
            let proof = RangeProof::decode(proof).map_err(KeptRangeError::Proof)?;
            if proof.start != start || proof.end != start + u64::from(count) || proof.leaves != head.length {
                return Err(KeptRangeError::ProofMismatch);
            }
            proof.verify(&block.leaves, &head.root).map_err(KeptRangeError::Verification)?;
            Some(proof)
        };
        Ok(VerifiedRange { id: 0, head, start, events: block, proof })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthorKey;
    use crate::memstore::{MemStore, NewEvent};
    use crate::page::PageConfig;
    use alloc::vec;
    use proptest::prelude::*;

    /// A feed of `len` events of `payload` bytes each (seq-dependent contents).
    fn feed(secret: u8, len: u64, payload: usize) -> MemStore {
        let key = AuthorKey::from_secret_bytes(&[secret; 32]);
        let mut store = MemStore::new(key, PageConfig::new(4096).unwrap());
        let bodies: Vec<Vec<u8>> = (0..len).map(|i| vec![i as u8; payload + (i as usize % 7)]).collect();
        store.append_batch(bodies.iter().enumerate().map(|(i, b)| NewEvent::new(i as u64, b))).unwrap();
        store
    }

    /// Events `seqs` of `store`'s feed as a session would report them verified.
    fn verified(store: &MemStore, seqs: core::ops::Range<u64>) -> VerifiedRange {
        store.verified_range(&store.author().unwrap(), seqs).unwrap()
    }

    fn kept(range: &VerifiedRange) -> Vec<u8> {
        let mut out = Vec::new();
        range.encode_kept(&mut out);
        out
    }

    #[test]
    fn every_flipped_bit_and_every_cut_is_refused() {
        let store = feed(1, 40, 3);
        for seqs in [0..1, 5..9, 39..40, 0..40] {
            let bytes = kept(&verified(&store, seqs));
            for at in 0..bytes.len() {
                for bit in 0..8 {
                    let mut bad = bytes.clone();
                    bad[at] ^= 1 << bit;
                    assert!(VerifiedRange::decode_kept(&bad).is_err(), "bit {bit} of byte {at} flipped");
                }
                assert!(VerifiedRange::decode_kept(&bytes[..at]).is_err(), "cut at {at}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(VerifiedRange::decode_kept(&longer).err(), Some(KeptRangeError::TrailingBytes));
        }
    }

    #[test]
    fn an_empty_range_round_trips_and_carries_no_proof() {
        let store = feed(2, 5, 10);
        let range = verified(&store, 5..5);
        let back = VerifiedRange::decode_kept(&kept(&range)).unwrap();
        assert_eq!((back.start, back.events.len(), back.proof), (5, 0, None));
        // Past the head's length it is refused.
        let mut past = kept(&verified(&store, 5..5));
        past[1 + SIGNED_HEAD_LEN..1 + SIGNED_HEAD_LEN + 8].copy_from_slice(&6u64.to_le_bytes());
        assert_eq!(VerifiedRange::decode_kept(&past).err(), Some(KeptRangeError::PastHead));
    }

    #[test]
    fn another_authors_events_under_a_head_are_refused() {
        let (ours, theirs) = (feed(3, 20, 4), feed(4, 20, 4));
        let mut range = verified(&ours, 3..8);
        range.events = verified(&theirs, 3..8).events;
        assert_eq!(VerifiedRange::decode_kept(&kept(&range)).err(), Some(KeptRangeError::WrongEvent { index: 0 }));
        // Events of the right author at other seqs.
        let mut shifted = verified(&ours, 3..8);
        shifted.events = verified(&ours, 4..9).events;
        assert_eq!(VerifiedRange::decode_kept(&kept(&shifted)).err(), Some(KeptRangeError::WrongEvent { index: 0 }));
        // A proof of other seqs.
        let mut other = verified(&ours, 3..8);
        other.proof = verified(&ours, 4..9).proof;
        assert_eq!(VerifiedRange::decode_kept(&kept(&other)).err(), Some(KeptRangeError::ProofMismatch));
    }

    #[test]
    fn answers_are_one_read_only_as_one_run_of_the_heads_feed() {
        let (ours, theirs) = (feed(6, 30, 2), feed(7, 30, 2));
        let head = ours.head(&ours.author().unwrap()).unwrap();
        let run = [verified(&ours, 0..10), verified(&ours, 10..30)];
        assert!(VerifiedRange::are_one_read(&head, &run));
        assert!(VerifiedRange::are_one_read(&head, &run[1..]));
        assert!(!VerifiedRange::are_one_read(&head, &[verified(&ours, 0..10), verified(&ours, 11..30)]), "a gap");
        assert!(
            !VerifiedRange::are_one_read(&head, &[verified(&ours, 0..10), verified(&theirs, 10..30)]),
            "two authors"
        );
        assert!(!VerifiedRange::are_one_read(&head, &[verified(&ours, 10..10)]), "an empty answer");
        let shorter = feed(6, 20, 2);
        let old = shorter.head(&shorter.author().unwrap()).unwrap();
        assert!(!VerifiedRange::are_one_read(&old, &run), "verified against a longer head than the read's");
    }

    #[test]
    fn a_list_of_kept_ranges_round_trips_and_every_cut_is_refused() {
        let store = feed(8, 30, 2);
        let ranges = [verified(&store, 0..10), verified(&store, 10..30)];
        let mut bytes = Vec::new();
        VerifiedRange::encode_kept_list(&ranges, &mut bytes);
        let back = VerifiedRange::decode_kept_list(&bytes).unwrap();
        assert_eq!(back.iter().map(VerifiedRange::seqs).collect::<Vec<_>>(), [0..10, 10..30]);
        for at in 0..bytes.len() {
            assert!(VerifiedRange::decode_kept_list(&bytes[..at]).is_err(), "cut at {at}");
        }
        bytes.push(0);
        assert_eq!(VerifiedRange::decode_kept_list(&bytes).err(), Some(KeptRangeError::TrailingBytes));
        let mut empty = Vec::new();
        VerifiedRange::encode_kept_list(&[], &mut empty);
        assert_eq!(VerifiedRange::decode_kept_list(&empty), Ok(Vec::new()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Against the naive model (the range's own fields): what is kept reads back as the
        /// same head, seqs, events, leaves and proof.
        #[test]
        fn kept_ranges_read_back_as_they_were(len in 1u64..300, a in 0u64..300, b in 0u64..300, payload in 0usize..600) {
            let store = feed(5, len, payload);
            let (a, b) = (a % (len + 1), b % (len + 1));
            let range = verified(&store, a.min(b)..a.max(b));
            let back = VerifiedRange::decode_kept(&kept(&range)).unwrap();
            prop_assert_eq!(back.head, range.head);
            prop_assert_eq!(back.seqs(), range.seqs());
            prop_assert_eq!(back.events.as_bytes(), range.events.as_bytes());
            prop_assert_eq!(back.events.leaf_hashes(), range.events.leaf_hashes());
            prop_assert_eq!(back.proof, range.proof);
            prop_assert_eq!(back.id, 0);
        }
    }
}
