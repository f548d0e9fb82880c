//! The records the browser store keeps in IndexedDB besides page images, and their byte
//! encodings (little-endian, versioned; `docs/browser-storage.md` has the byte maps).
//!
//! - [`FeedState`] (object store `feeds`, one per feed): the signed head and the pending head
//!   the page images are verified against when the store is opened again.
//! - [`ArrivalRun`] (object store `arrival`, keyed by run index): the local arrival order.
//! - [`ForkEvidence`] (object store `forks`, keyed by author): two heads of one author that
//!   contradict each other.
//! - [`FetchedRead`] (object store `fetched`, keyed by `[author, start, end]`): an answer of
//!   reads on demand the store keeps for later reads, across page loads.
//!
//! Decoders never panic and refuse anything that is not exactly a valid record; what they
//! accept is verified again by [`Restore`](xaeroflux_core::memstore::Restore), and a kept read
//! by [`decode_fetched`] itself (signed heads, events, range proofs).

use core::fmt;

use xaeroflux_core::head::{HeadError, SIGNED_HEAD_LEN};
use xaeroflux_core::memstore::{ArrivalRun, FeedState, PendingHead};
use xaeroflux_core::mmr::{ConsistencyProof, ProofDecodeError};
use xaeroflux_core::xsp::{ForkEvidence, KeptRangeError, VerifiedRange};
use xaeroflux_core::{AuthorId, SignedHead};

use crate::store::FetchedRead;

/// Version byte of every record.
pub const RECORD_VERSION: u8 = 1;

/// Why a stored record could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The record ends early or has bytes left over.
    Length {
        /// What kind of record.
        record: &'static str,
        /// Bytes needed.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// An unknown version byte.
    Version {
        /// What kind of record.
        record: &'static str,
        /// The version found.
        found: u8,
    },
    /// A flag byte that is neither 0 nor 1.
    Flag(&'static str),
    /// An embedded signed head does not decode.
    Head(HeadError),
    /// An embedded proof does not decode.
    Proof(ProofDecodeError),
    /// An arrival run whose end is not after its start.
    EmptyRun,
    /// A kept read's answer does not verify.
    Kept(KeptRangeError),
    /// A kept read's answers are not one run of its head's feed, or there are none.
    KeptRun,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { record, expected, found } => {
                write!(f, "{record} record: expected {expected} bytes, found {found}")
            }
            Self::Version { record, found } => write!(f, "{record} record: unknown version {found}"),
            Self::Flag(what) => write!(f, "{what}: flag byte is neither 0 nor 1"),
            Self::Head(e) => write!(f, "stored signed head: {e}"),
            Self::Proof(e) => write!(f, "stored proof: {e}"),
            Self::EmptyRun => f.write_str("arrival run: end is not after start"),
            Self::Kept(e) => write!(f, "kept read: {e}"),
            Self::KeptRun => f.write_str("kept read: the answers are not one run of its head's feed"),
        }
    }
}

/// A cursor over a record's bytes.
struct Reader<'a> {
    record: &'static str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(record: &'static str, bytes: &'a [u8]) -> Result<Self, RecordError> {
        let mut r = Reader { record, bytes, pos: 0 };
        let v = r.u8()?;
        if v != RECORD_VERSION {
            return Err(RecordError::Version { record, found: v });
        }
        Ok(r)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or(RecordError::Length {
            record: self.record,
            expected: self.pos.saturating_add(n),
            found: self.bytes.len(),
        })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, RecordError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    fn author(&mut self) -> Result<AuthorId, RecordError> {
        let mut b = [0u8; 32];
        b.copy_from_slice(self.take(32)?);
        Ok(AuthorId(b))
    }

    fn flag(&mut self, what: &'static str) -> Result<bool, RecordError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(RecordError::Flag(what)),
        }
    }

    fn head(&mut self) -> Result<SignedHead, RecordError> {
        SignedHead::decode(self.take(SIGNED_HEAD_LEN)?).map_err(RecordError::Head)
    }

    fn proof(&mut self) -> Result<ConsistencyProof, RecordError> {
        let n = self.u32()? as usize;
        ConsistencyProof::decode(self.take(n)?).map_err(RecordError::Proof)
    }

    fn end(self) -> Result<(), RecordError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(RecordError::Length { record: self.record, expected: self.pos, found: self.bytes.len() })
        }
    }
}

fn put_proof(out: &mut Vec<u8>, proof: &ConsistencyProof) {
    let p = proof.encode();
    // A consistency proof is at most a few KiB: its length always fits.
    out.extend_from_slice(&u32::try_from(p.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&p);
}

/// `version ‖ author ‖ len u64 ‖ has_head u8 [‖ head 137] ‖ has_pending u8 [‖ head 137 ‖
/// proof_len u32 ‖ consistency proof]`.
pub fn encode_feed_state(s: &FeedState) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 32 + 8 + 2 + 2 * SIGNED_HEAD_LEN);
    out.push(RECORD_VERSION);
    out.extend_from_slice(s.author.as_bytes());
    out.extend_from_slice(&s.len.to_le_bytes());
    match &s.head {
        Some(h) => {
            out.push(1);
            out.extend_from_slice(&h.encode());
        }
        None => out.push(0),
    }
    match &s.pending {
        Some(p) => {
            out.push(1);
            out.extend_from_slice(&p.head.encode());
            put_proof(&mut out, &p.proof);
        }
        None => out.push(0),
    }
    out
}

/// Decodes [`encode_feed_state`].
pub fn decode_feed_state(bytes: &[u8]) -> Result<FeedState, RecordError> {
    let mut r = Reader::new("feed state", bytes)?;
    let author = r.author()?;
    let len = r.u64()?;
    let head = if r.flag("feed state head")? { Some(r.head()?) } else { None };
    let pending = if r.flag("feed state pending head")? {
        Some(PendingHead { head: r.head()?, proof: r.proof()? })
    } else {
        None
    };
    r.end()?;
    Ok(FeedState { author, len, head, pending })
}

/// `version ‖ author ‖ start u64 ‖ end u64` (49 bytes).
pub fn encode_run(run: &ArrivalRun) -> Vec<u8> {
    let mut out = Vec::with_capacity(49);
    out.push(RECORD_VERSION);
    out.extend_from_slice(run.author.as_bytes());
    out.extend_from_slice(&run.seqs.start.to_le_bytes());
    out.extend_from_slice(&run.seqs.end.to_le_bytes());
    out
}

/// Decodes [`encode_run`].
pub fn decode_run(bytes: &[u8]) -> Result<ArrivalRun, RecordError> {
    let mut r = Reader::new("arrival run", bytes)?;
    let author = r.author()?;
    let (start, end) = (r.u64()?, r.u64()?);
    r.end()?;
    if end <= start {
        return Err(RecordError::EmptyRun);
    }
    Ok(ArrivalRun { author, seqs: start..end })
}

/// `version ‖ first head 137 ‖ second head 137 ‖ has_proof u8 [‖ proof_len u32 ‖ proof]`.
pub fn encode_fork(e: &ForkEvidence) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 2 * SIGNED_HEAD_LEN);
    out.push(RECORD_VERSION);
    out.extend_from_slice(&e.first.encode());
    out.extend_from_slice(&e.second.encode());
    match &e.proof {
        Some(p) => {
            out.push(1);
            put_proof(&mut out, p);
        }
        None => out.push(0),
    }
    out
}

/// Decodes [`encode_fork`] (the evidence itself is checked by whoever records it).
pub fn decode_fork(bytes: &[u8]) -> Result<ForkEvidence, RecordError> {
    let mut r = Reader::new("fork evidence", bytes)?;
    let first = r.head()?;
    let second = r.head()?;
    let proof = if r.flag("fork evidence proof")? { Some(r.proof()?) } else { None };
    r.end()?;
    Ok(ForkEvidence { first, second, proof })
}

/// `version ‖ head 137 ‖ count u32 ‖ count × (length u32 ‖ kept range)`: a read on demand
/// kept for later reads, each answer in the core's kept form
/// ([`VerifiedRange::encode_kept`]).
pub fn encode_fetched(read: &FetchedRead) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + SIGNED_HEAD_LEN + 4 + read.byte_len());
    out.push(RECORD_VERSION);
    out.extend_from_slice(&read.head.encode());
    VerifiedRange::encode_kept_list(&read.blocks, &mut out);
    out
}

/// Decodes [`encode_fetched`], verifying every answer again as a session verifies a peer's
/// ([`VerifiedRange::decode_kept`]): they must be of the head's author, one run of seqs, none
/// empty, each verified against a head no longer than the record's, whose signature verifies.
pub fn decode_fetched(bytes: &[u8]) -> Result<FetchedRead, RecordError> {
    let mut r = Reader::new("kept read", bytes)?;
    let head = r.head()?;
    head.verify().map_err(RecordError::Head)?;
    let blocks = VerifiedRange::decode_kept_list(r.take(bytes.len() - r.pos)?).map_err(RecordError::Kept)?;
    if blocks.is_empty() || !VerifiedRange::are_one_read(&head, &blocks) {
        return Err(RecordError::KeptRun);
    }
    Ok(FetchedRead { head, blocks })
}

#[cfg(test)]
mod tests {
    use xaeroflux_core::memstore::{MemStore, NewEvent};
    use xaeroflux_core::page::PageConfig;
    use xaeroflux_core::{AuthorKey, Hash};

    use super::*;

    fn states() -> Vec<FeedState> {
        let key = AuthorKey::from_secret_bytes(&[9; 32]);
        let mut s = MemStore::new(key.clone(), PageConfig::new(1024).unwrap());
        let empty = s.feed_state(&key.author()).unwrap();
        s.append_batch((0..10u64).map(|i| NewEvent::new(i, b"payload"))).unwrap();
        let full = s.feed_state(&key.author()).unwrap();
        let head = key.sign_head(20, Hash([1; 32]));
        let proof = s.consistency_proof(&key.author(), 4).unwrap();
        let pending = FeedState { pending: Some(PendingHead { head, proof }), ..full.clone() };
        vec![empty, full, pending]
    }

    #[test]
    fn feed_states_round_trip_and_every_truncation_fails() {
        for s in states() {
            let b = encode_feed_state(&s);
            assert_eq!(decode_feed_state(&b), Ok(s));
            for n in 0..b.len() {
                assert!(decode_feed_state(&b[..n]).is_err(), "prefix {n}");
            }
            let mut longer = b.clone();
            longer.push(0);
            assert!(decode_feed_state(&longer).is_err());
        }
    }

    #[test]
    fn runs_and_forks_round_trip() {
        let run = ArrivalRun { author: AuthorId([3; 32]), seqs: 5..9 };
        assert_eq!(decode_run(&encode_run(&run)), Ok(run.clone()));
        let empty = ArrivalRun { author: AuthorId([3; 32]), seqs: 5..5 };
        assert_eq!(decode_run(&encode_run(&empty)), Err(RecordError::EmptyRun));
        let key = AuthorKey::from_secret_bytes(&[4; 32]);
        let fork = ForkEvidence {
            first: key.sign_head(3, Hash([1; 32])),
            second: key.sign_head(3, Hash([2; 32])),
            proof: None,
        };
        assert_eq!(decode_fork(&encode_fork(&fork)), Ok(fork));
        let mut bad = encode_run(&run);
        bad[0] = 2;
        assert_eq!(decode_run(&bad), Err(RecordError::Version { record: "arrival run", found: 2 }));
    }

    /// Answers `parts` (one run of seqs) of a feed of 40 events, as a session verified them.
    fn kept_read(secret: u8, parts: &[core::ops::Range<u64>]) -> FetchedRead {
        let key = AuthorKey::from_secret_bytes(&[secret; 32]);
        let author = key.author();
        let mut s = MemStore::new(key, PageConfig::new(1024).unwrap());
        s.append_batch((0..40u64).map(|i| NewEvent::new(i, b"a listing"))).unwrap();
        let blocks = parts.iter().map(|seqs| s.verified_range(&author, seqs.clone()).unwrap()).collect();
        FetchedRead { head: s.head(&author).unwrap(), blocks }
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // `&[a..b]`: a list of one answer
    fn kept_reads_round_trip_and_any_change_is_refused() {
        let read = kept_read(5, &[3..10, 10..25]);
        let bytes = encode_fetched(&read);
        let back = decode_fetched(&bytes).unwrap();
        assert_eq!((back.head, back.seqs()), (read.head, 3..25));
        assert_eq!(encode_fetched(&back), bytes);
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x04;
            assert!(decode_fetched(&bad).is_err(), "byte {at} changed");
            assert!(decode_fetched(&bytes[..at]).is_err(), "cut at {at}");
        }
        // Answers that are not one run, or of another author than the head.
        let gap = kept_read(5, &[3..10, 11..25]);
        assert_eq!(decode_fetched(&encode_fetched(&gap)).err(), Some(RecordError::KeptRun));
        let mut mixed = kept_read(5, &[3..10]);
        mixed.blocks.push(kept_read(6, &[10..25]).blocks.remove(0));
        assert_eq!(decode_fetched(&encode_fetched(&mixed)).err(), Some(RecordError::KeptRun));
        let none = FetchedRead { head: read.head, blocks: Vec::new() };
        assert_eq!(decode_fetched(&encode_fetched(&none)).err(), Some(RecordError::KeptRun));
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = decode_feed_state(&bytes);
            let _ = decode_run(&bytes);
            let _ = decode_fork(&bytes);
            let _ = decode_fetched(&bytes);
        }
    }
}
