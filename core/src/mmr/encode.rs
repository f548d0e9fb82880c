//! Shared pieces of the proof encodings (see `docs/formats.md`).
//!
//! Every encoded proof starts with the format version (1) and a kind byte, then
//! little-endian `u64` sizes, `u8` counts and finally 32-byte hashes. Decoders check the
//! counts against what the sizes imply and the total length against the counts before
//! allocating anything, so the allocation is bounded by the input length.

use alloc::vec::Vec;

use super::{MAX_LEAVES, ProofDecodeError};
use crate::hash::Hash;

/// The format version of every encoded MMR proof.
pub const PROOF_VERSION: u8 = 1;
/// Kind byte of an encoded [`InclusionProof`](super::InclusionProof).
pub const KIND_INCLUSION: u8 = 1;
/// Kind byte of an encoded [`ConsistencyProof`](super::ConsistencyProof).
pub const KIND_CONSISTENCY: u8 = 2;
/// Kind byte of an encoded [`RangeProof`](super::RangeProof).
pub const KIND_RANGE: u8 = 3;

/// Checks the length against the header, the version and the kind.
pub(crate) fn check_header(bytes: &[u8], header_len: usize, kind: u8) -> Result<(), ProofDecodeError> {
    if bytes.len() < header_len {
        return Err(ProofDecodeError::TooShort { needed: header_len, found: bytes.len() });
    }
    match (bytes.first(), bytes.get(1)) {
        (Some(&PROOF_VERSION), Some(&k)) if k == kind => Ok(()),
        (Some(&PROOF_VERSION), Some(&k)) => Err(ProofDecodeError::WrongKind { expected: kind, found: k }),
        (Some(&v), _) => Err(ProofDecodeError::BadVersion(v)),
        (None, _) => Err(ProofDecodeError::TooShort { needed: header_len, found: 0 }),
    }
}

/// A little-endian `u64` at `offset` (zero past the end; callers check lengths first).
pub(crate) fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = bytes.get(offset..offset + 8) {
        b.copy_from_slice(s);
    }
    u64::from_le_bytes(b)
}

/// The byte at `offset` (zero past the end; callers check lengths first).
pub(crate) fn read_u8(bytes: &[u8], offset: usize) -> u8 {
    bytes.get(offset).copied().unwrap_or(0)
}

/// Refuses a leaf count above [`MAX_LEAVES`].
pub(crate) fn check_leaves(leaves: u64) -> Result<(), ProofDecodeError> {
    if leaves > MAX_LEAVES { Err(ProofDecodeError::TooManyLeaves(leaves)) } else { Ok(()) }
}

/// Checks that `bytes` is exactly `header_len` plus `count` hashes, then reads them.
pub(crate) fn read_hashes(bytes: &[u8], header_len: usize, count: usize) -> Result<Vec<Hash>, ProofDecodeError> {
    let expected = header_len + count * 32;
    if bytes.len() != expected {
        return Err(ProofDecodeError::LengthMismatch { expected, found: bytes.len() });
    }
    let body = bytes.get(header_len..).unwrap_or(&[]);
    let mut out = Vec::with_capacity(count);
    for chunk in body.chunks_exact(32) {
        let mut h = [0u8; 32];
        h.copy_from_slice(chunk);
        out.push(Hash(h));
    }
    Ok(out)
}

/// Starts an encoding: version, kind, with room for `hashes` hashes after `header_len`.
pub(crate) fn start(header_len: usize, kind: u8, hashes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(header_len + 32 * hashes);
    out.push(PROOF_VERSION);
    out.push(kind);
    out
}

/// Appends hashes.
pub(crate) fn put_hashes(out: &mut Vec<u8>, hashes: &[Hash]) {
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
}

/// A count as its `u8` field (counts of valid proofs are at most 189; anything larger is
/// written as 255, which the decoder then refuses as not matching the sizes).
pub(crate) fn count_byte(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}
