//! Range proofs: leaves `start..end` are in the MMR of `n` leaves.

use alloc::vec::Vec;
use core::fmt;

use super::encode::{self, KIND_RANGE};
use super::inclusion::InclusionProof;
use super::multi::{Known, Shape};
use super::pos::mountain_of;
use super::{MAX_LEAVES, NodeStore, ProofDecodeError, ProofError};
use crate::hash::{Hash, mmr_root};

/// Proof that the leaves `start..end` (non-empty) are leaves `start..end` of the MMR of
/// `leaves` leaves.
///
/// It holds the nodes that, together with the range's leaves, determine every peak; the
/// verifier hashes the range's leaves into their subtrees (about one [`mmr_node`] per
/// leaf) and takes the rest from the proof (at most 189 nodes).
///
/// [`mmr_node`]: crate::hash::mmr_node
///
/// ```
/// use xaeroflux_core::hash::leaf_hash;
/// use xaeroflux_core::mmr::{Mmr, RangeProof};
///
/// let leaves: Vec<_> = (0..30u8).map(|i| leaf_hash(&[i])).collect();
/// let mut mmr = Mmr::new();
/// leaves.iter().for_each(|l| { mmr.append(*l); });
/// let proof = RangeProof::decode(&mmr.range_proof(7, 19).unwrap().encode()).unwrap();
/// proof.verify(&leaves[7..19], &mmr.root()).unwrap();
/// assert!(proof.verify(&leaves[8..20], &mmr.root()).is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RangeProof {
    /// First leaf of the range.
    pub start: u64,
    /// One past the last leaf of the range.
    pub end: u64,
    /// Number of leaves of the MMR.
    pub leaves: u64,
    nodes: Vec<Hash>,
}

impl fmt::Debug for RangeProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RangeProof")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("leaves", &self.leaves)
            .field("nodes", &self.nodes)
            .finish()
    }
}

/// Header: version, kind, start, end, leaves, node count.
const HEADER_LEN: usize = 2 + 8 + 8 + 8 + 1;

fn check_range(leaves: u64, start: u64, end: u64) -> Result<(), ProofError> {
    if leaves > MAX_LEAVES {
        return Err(ProofError::TooManyLeaves(leaves));
    }
    if start >= end || end > leaves {
        return Err(ProofError::BadRange { start, end, leaves });
    }
    Ok(())
}

/// Proof that leaves `start..end` are in the MMR of `leaves` leaves whose nodes `store`
/// holds. The range must be non-empty.
pub fn range_proof<S: NodeStore + ?Sized>(
    store: &S,
    leaves: u64,
    start: u64,
    end: u64,
) -> Result<RangeProof, ProofError> {
    check_range(leaves, start, end)?;
    let nodes = Shape::Range(start, end).collect(store, leaves)?;
    Ok(RangeProof { start, end, leaves, nodes })
}

impl RangeProof {
    /// The proof's nodes, in increasing position order.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Checks that `leaf_hashes` (exactly `end - start` of them) are leaves `start..end` of
    /// an MMR of `leaves` leaves with root `root`.
    pub fn verify(&self, leaf_hashes: &[Hash], root: &Hash) -> Result<(), ProofError> {
        let (computed, _) = self.root_with(leaf_hashes, None)?;
        if computed == *root { Ok(()) } else { Err(ProofError::RootMismatch) }
    }

    /// Checks the range as [`verify`](Self::verify) does and, if it holds, returns the
    /// inclusion proof of leaf `leaf_index` (within the range) in the same MMR: the range's
    /// leaves and the proof's nodes determine every node a leaf's path needs. Events read
    /// with a range proof can so be proved one by one later, with no one asked again.
    ///
    /// ```
    /// use xaeroflux_core::hash::leaf_hash;
    /// use xaeroflux_core::mmr::Mmr;
    ///
    /// let leaves: Vec<_> = (0..30u8).map(|i| leaf_hash(&[i])).collect();
    /// let mut mmr = Mmr::new();
    /// leaves.iter().for_each(|l| { mmr.append(*l); });
    /// let range = mmr.range_proof(7, 19).unwrap();
    /// let one = range.inclusion_proof(&leaves[7..19], 11, &mmr.root()).unwrap();
    /// assert_eq!(one, mmr.inclusion_proof(11).unwrap());
    /// one.verify(&leaves[11], &mmr.root()).unwrap();
    /// assert!(range.inclusion_proof(&leaves[7..19], 19, &mmr.root()).is_err()); // not in the range
    /// ```
    pub fn inclusion_proof(
        &self,
        leaf_hashes: &[Hash],
        leaf_index: u64,
        root: &Hash,
    ) -> Result<InclusionProof, ProofError> {
        if !(self.start..self.end).contains(&leaf_index) {
            return Err(ProofError::LeafIndexOutOfRange { leaf_index, leaves: self.leaves });
        }
        let mut path = Vec::with_capacity(64);
        let (computed, peaks) = self.root_with(leaf_hashes, Some((leaf_index, &mut path)))?;
        if computed != *root {
            return Err(ProofError::RootMismatch);
        }
        let (own, _) = mountain_of(self.leaves, leaf_index)
            .ok_or(ProofError::LeafIndexOutOfRange { leaf_index, leaves: self.leaves })?;
        let path_len = path.len();
        let count = self.leaves.count_ones() as usize;
        let others = peaks.iter().take(count).enumerate().filter(|&(i, _)| i != own);
        path.extend(others.map(|(_, p)| *p));
        Ok(InclusionProof::from_parts(leaf_index, self.leaves, path, path_len))
    }

    /// The root the range's leaves and the proof's nodes hash to, and the peaks on the way
    /// (the first `popcount(leaves)` of them), once the sizes are checked; with `path`, also
    /// the path of that leaf of the range.
    fn root_with(
        &self,
        leaf_hashes: &[Hash],
        path: Option<(u64, &mut Vec<Hash>)>,
    ) -> Result<(Hash, [Hash; 64]), ProofError> {
        check_range(self.leaves, self.start, self.end)?;
        let want = self.end - self.start;
        let have = u64::try_from(leaf_hashes.len()).unwrap_or(u64::MAX);
        if have != want {
            return Err(ProofError::WrongLeafCount { expected: want, found: have });
        }
        let shape = Shape::Range(self.start, self.end);
        let expected = shape.node_count(self.leaves);
        if self.nodes.len() != expected {
            return Err(ProofError::WrongNodeCount { expected, found: self.nodes.len() });
        }
        let count = self.leaves.count_ones() as usize;
        let mut peaks = [Hash::ZERO; 64];
        let mut known = Known::Leaves { start: self.start, hashes: leaf_hashes };
        shape.compute(self.leaves, &mut known, &self.nodes, &mut peaks, path)?;
        Ok((mmr_root(self.leaves, peaks.get(..count).unwrap_or(&[])), peaks))
    }

    /// The encoding: version 1 ‖ kind 3 ‖ start (u64 LE) ‖ end (u64 LE) ‖ leaves (u64 LE) ‖
    /// node count (u8) ‖ nodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = encode::start(HEADER_LEN, KIND_RANGE, self.nodes.len());
        out.extend_from_slice(&self.start.to_le_bytes());
        out.extend_from_slice(&self.end.to_le_bytes());
        out.extend_from_slice(&self.leaves.to_le_bytes());
        out.push(encode::count_byte(self.nodes.len()));
        encode::put_hashes(&mut out, &self.nodes);
        out
    }

    /// Decodes [`RangeProof::encode`]'s bytes, checking the count against the sizes.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProofDecodeError> {
        encode::check_header(bytes, HEADER_LEN, KIND_RANGE)?;
        let start = encode::read_u64(bytes, 2);
        let end = encode::read_u64(bytes, 10);
        let leaves = encode::read_u64(bytes, 18);
        encode::check_leaves(leaves)?;
        if start >= end || end > leaves {
            return Err(ProofDecodeError::BadRange { start, end, leaves });
        }
        let count = usize::from(encode::read_u8(bytes, 26));
        let expected = Shape::Range(start, end).node_count(leaves);
        if count != expected {
            return Err(ProofDecodeError::WrongNodeCount { expected, found: count });
        }
        let nodes = encode::read_hashes(bytes, HEADER_LEN, count)?;
        Ok(RangeProof { start, end, leaves, nodes })
    }
}
