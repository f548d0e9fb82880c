//! [`Mmr`]: an MMR that keeps every node in memory.

use alloc::vec::Vec;

use super::consistency::{ConsistencyProof, consistency_proof};
use super::inclusion::{InclusionProof, inclusion_proof_with};
use super::range::{RangeProof, range_proof};
use super::{MmrPeaks, NodeStore, ProofError};
use crate::hash::Hash;

/// A Merkle Mountain Range with all its nodes in memory (a `Vec` indexed by position),
/// able to prove anything about any of its sizes.
///
/// ```
/// use xaeroflux_core::hash::leaf_hash;
/// use xaeroflux_core::mmr::Mmr;
///
/// let mut mmr = Mmr::new();
/// let leaves: Vec<_> = (0..7u8).map(|i| leaf_hash(&[i])).collect();
/// for l in &leaves {
///     mmr.append(*l);
/// }
/// assert_eq!(mmr.nodes().len(), 11);
///
/// let proof = mmr.inclusion_proof(4).unwrap();
/// proof.verify(&leaves[4], &mmr.root()).unwrap();
/// assert!(proof.verify(&leaves[3], &mmr.root()).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Mmr {
    nodes: Vec<Hash>,
    peaks: MmrPeaks,
}

impl Mmr {
    /// The empty MMR.
    pub const fn new() -> Self {
        Mmr { nodes: Vec::new(), peaks: MmrPeaks::new() }
    }

    /// Appends a leaf hash and returns its leaf index. Amortized one
    /// [`mmr_node`](crate::hash::mmr_node) and two `Vec` pushes per leaf.
    #[inline]
    pub fn append(&mut self, leaf: Hash) -> u64 {
        let index = self.peaks.leaves();
        let nodes = &mut self.nodes;
        self.peaks.append_with(leaf, |_, h| nodes.push(*h));
        index
    }

    /// Appends every leaf of `leaves` ([`MmrPeaks::extend_from_slice`]: merges many nodes at
    /// once across SIMD lanes). Fails with [`MmrError::Full`](super::MmrError::Full),
    /// changing nothing, past [`MAX_LEAVES`](super::MAX_LEAVES) leaves.
    pub fn extend_from_slice(&mut self, leaves: &[Hash]) -> Result<(), super::MmrError> {
        self.peaks.extend_node_list(leaves, &mut self.nodes)
    }

    /// Goes back to an earlier state of this MMR: `earlier` must be what [`Mmr::peaks`]
    /// returned at that size (for undoing an extension a check then refused).
    pub(crate) fn truncate(&mut self, earlier: MmrPeaks) {
        debug_assert!(earlier.leaves() <= self.leaves());
        let size = usize::try_from(super::mmr_size(earlier.leaves())).unwrap_or(usize::MAX);
        self.nodes.truncate(size);
        self.peaks = earlier;
    }

    /// Empties the MMR but keeps its node allocation, for a caller that rebuilds MMRs
    /// repeatedly (a verifier's scratch MMR, a benchmark) without paying for fresh memory.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.peaks = MmrPeaks::new();
    }

    /// Number of leaves.
    #[inline]
    pub fn leaves(&self) -> u64 {
        self.peaks.leaves()
    }

    /// The current root.
    #[inline]
    pub fn root(&self) -> Hash {
        self.peaks.root()
    }

    /// The current compact state.
    #[inline]
    pub fn peaks(&self) -> &MmrPeaks {
        &self.peaks
    }

    /// Every node, indexed by position.
    #[inline]
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Proof that leaf `leaf_index` is in the MMR at its current size.
    pub fn inclusion_proof(&self, leaf_index: u64) -> Result<InclusionProof, ProofError> {
        let peaks = self.peaks.peaks();
        inclusion_proof_with(self.nodes.as_slice(), self.leaves(), leaf_index, |i, _| peaks.get(i).copied())
    }

    /// Proof that the MMR of its first `old_leaves` leaves is a prefix of the current one.
    pub fn consistency_proof(&self, old_leaves: u64) -> Result<ConsistencyProof, ProofError> {
        consistency_proof(self.nodes.as_slice(), old_leaves, self.leaves())
    }

    /// Proof that leaves `start..end` are in the MMR at its current size.
    pub fn range_proof(&self, start: u64, end: u64) -> Result<RangeProof, ProofError> {
        range_proof(self.nodes.as_slice(), self.leaves(), start, end)
    }
}

impl NodeStore for Mmr {
    #[inline]
    fn node(&self, pos: u64) -> Option<Hash> {
        self.nodes.as_slice().node(pos)
    }
}
