//! Inclusion proofs: leaf `i` is in the MMR of `n` leaves.

use alloc::vec::Vec;
use core::fmt;

use super::encode::{self, KIND_INCLUSION};
use super::pos::{leaf_to_pos, mountain_of, mountains, tree_size};
use super::{MAX_LEAVES, NodeStore, ProofDecodeError, ProofError};
use crate::hash::{Hash, mmr_node, mmr_root};

/// Proof that one leaf is in the MMR of `leaves` leaves.
///
/// It holds the leaf's path (the sibling at each level, bottom up, as long as the height
/// of the leaf's mountain) and every other peak, left to right. Verification recomputes the
/// leaf's peak, then the root over all peaks: one [`mmr_node`] per level plus the root hash.
///
/// ```
/// use xaeroflux_core::hash::leaf_hash;
/// use xaeroflux_core::mmr::{InclusionProof, Mmr};
///
/// let mut mmr = Mmr::new();
/// (0..100u8).for_each(|i| { mmr.append(leaf_hash(&[i])); });
/// let proof = mmr.inclusion_proof(42).unwrap();
/// let bytes = proof.encode();
/// let back = InclusionProof::decode(&bytes).unwrap();
/// back.verify(&leaf_hash(&[42]), &mmr.root()).unwrap();
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Index of the proven leaf.
    pub leaf_index: u64,
    /// Number of leaves of the MMR the proof is for.
    pub leaves: u64,
    /// Path (bottom up) followed by the other peaks (left to right).
    hashes: Vec<Hash>,
    path_len: usize,
}

impl fmt::Debug for InclusionProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InclusionProof")
            .field("leaf_index", &self.leaf_index)
            .field("leaves", &self.leaves)
            .field("path", &self.path())
            .field("other_peaks", &self.other_peaks())
            .finish()
    }
}

/// Header: version, kind, leaf index, leaves, path length, peak count.
const HEADER_LEN: usize = 2 + 8 + 8 + 1 + 1;

/// Generates the proof over `store`; `peak(index, pos)` returns the peak hash (a fast path
/// for stores that keep the peaks apart).
pub(crate) fn inclusion_proof_with<S: NodeStore + ?Sized>(
    store: &S,
    leaves: u64,
    leaf_index: u64,
    peak: impl Fn(usize, u64) -> Option<Hash>,
) -> Result<InclusionProof, ProofError> {
    if leaves > MAX_LEAVES {
        return Err(ProofError::TooManyLeaves(leaves));
    }
    let (own, mountain) =
        mountain_of(leaves, leaf_index).ok_or(ProofError::LeafIndexOutOfRange { leaf_index, leaves })?;
    let height = mountain.height as usize;
    let peak_count = leaves.count_ones() as usize;
    let mut hashes = Vec::with_capacity(height + peak_count - 1);
    let local = leaf_index - mountain.first_leaf;
    let mut pos = leaf_to_pos(leaf_index);
    for level in 0..mountain.height {
        let sibling = if (local >> level) & 1 == 1 {
            let s = pos - tree_size(level);
            pos += 1;
            s
        } else {
            let s = pos + tree_size(level);
            pos = s + 1;
            s
        };
        hashes.push(store.node(sibling).ok_or(ProofError::MissingNode(sibling))?);
    }
    for (i, m) in mountains(leaves).enumerate() {
        if i != own {
            hashes.push(peak(i, m.pos).ok_or(ProofError::MissingNode(m.pos))?);
        }
    }
    Ok(InclusionProof { leaf_index, leaves, hashes, path_len: height })
}

/// Proof that leaf `leaf_index` is in the MMR of `leaves` leaves whose nodes `store` holds
/// (the store may hold more nodes: those of a larger size).
pub fn inclusion_proof<S: NodeStore + ?Sized>(
    store: &S,
    leaves: u64,
    leaf_index: u64,
) -> Result<InclusionProof, ProofError> {
    inclusion_proof_with(store, leaves, leaf_index, |_, pos| store.node(pos))
}

impl InclusionProof {
    /// A proof made of its parts (callers build them as `inclusion_proof_with` does).
    pub(crate) fn from_parts(leaf_index: u64, leaves: u64, hashes: Vec<Hash>, path_len: usize) -> Self {
        InclusionProof { leaf_index, leaves, hashes, path_len }
    }

    /// The sibling hashes from the leaf up to (not including) its peak.
    pub fn path(&self) -> &[Hash] {
        self.hashes.get(..self.path_len).unwrap_or(&[])
    }

    /// The peaks other than the leaf's own, left to right.
    pub fn other_peaks(&self) -> &[Hash] {
        self.hashes.get(self.path_len..).unwrap_or(&[])
    }

    /// Checks that `leaf` is leaf `leaf_index` of an MMR of `leaves` leaves with root `root`.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), ProofError> {
        if self.leaves > MAX_LEAVES {
            return Err(ProofError::TooManyLeaves(self.leaves));
        }
        let (own, mountain) = mountain_of(self.leaves, self.leaf_index)
            .ok_or(ProofError::LeafIndexOutOfRange { leaf_index: self.leaf_index, leaves: self.leaves })?;
        let (path, others) = (self.path(), self.other_peaks());
        let height = mountain.height as usize;
        if path.len() != height || self.path_len != height {
            return Err(ProofError::WrongPathLength { expected: height, found: self.path_len });
        }
        let peak_count = self.leaves.count_ones() as usize;
        if others.len() != peak_count - 1 {
            return Err(ProofError::WrongPeakCount { expected: peak_count - 1, found: others.len() });
        }
        let local = self.leaf_index - mountain.first_leaf;
        let mut acc = *leaf;
        for (level, sibling) in path.iter().enumerate() {
            acc = if (local >> level) & 1 == 1 { mmr_node(sibling, &acc) } else { mmr_node(&acc, sibling) };
        }
        let mut peaks = [Hash::ZERO; 64];
        let (left, right) = others.split_at(own);
        peaks[..own].copy_from_slice(left);
        peaks[own] = acc;
        peaks[own + 1..peak_count].copy_from_slice(right);
        if mmr_root(self.leaves, &peaks[..peak_count]) == *root { Ok(()) } else { Err(ProofError::RootMismatch) }
    }

    /// The encoding: version 1 ‖ kind 1 ‖ leaf index (u64 LE) ‖ leaves (u64 LE) ‖ path
    /// length (u8) ‖ peak count (u8) ‖ path hashes ‖ other peaks.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = encode::start(HEADER_LEN, KIND_INCLUSION, self.hashes.len());
        out.extend_from_slice(&self.leaf_index.to_le_bytes());
        out.extend_from_slice(&self.leaves.to_le_bytes());
        out.push(encode::count_byte(self.path().len()));
        out.push(encode::count_byte(self.other_peaks().len()));
        encode::put_hashes(&mut out, &self.hashes);
        out
    }

    /// Decodes [`InclusionProof::encode`]'s bytes, checking every count against the sizes.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProofDecodeError> {
        encode::check_header(bytes, HEADER_LEN, KIND_INCLUSION)?;
        let leaf_index = encode::read_u64(bytes, 2);
        let leaves = encode::read_u64(bytes, 10);
        encode::check_leaves(leaves)?;
        let (_, mountain) =
            mountain_of(leaves, leaf_index).ok_or(ProofDecodeError::LeafIndexOutOfRange { leaf_index, leaves })?;
        let path_len = usize::from(encode::read_u8(bytes, 18));
        let peaks = usize::from(encode::read_u8(bytes, 19));
        let height = mountain.height as usize;
        if path_len != height {
            return Err(ProofDecodeError::WrongPathLength { expected: height, found: path_len });
        }
        let others = leaves.count_ones() as usize - 1;
        if peaks != others {
            return Err(ProofDecodeError::WrongPeakCount { expected: others, found: peaks });
        }
        let hashes = encode::read_hashes(bytes, HEADER_LEN, path_len + peaks)?;
        Ok(InclusionProof { leaf_index, leaves, hashes, path_len })
    }
}
