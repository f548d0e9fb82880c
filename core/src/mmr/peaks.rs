//! The compact state of an MMR: its leaf count and its peaks.

use alloc::vec::Vec;

use super::pos::{mmr_size, mountains};
use super::{MAX_LEAVES, MmrError, NodeStore, ProofError};
use crate::hash::{Hash, mmr_node, mmr_root};

/// The compact state of a Merkle Mountain Range: the number of leaves and the peaks.
///
/// That is enough to compute the root and to keep appending (at most 63 peaks, about
/// 2 KiB), without any of the other nodes. A host persists it to restore an MMR with
/// [`MmrPeaks::from_parts`].
///
/// ```
/// use xaeroflux_core::hash::leaf_hash;
/// use xaeroflux_core::mmr::MmrPeaks;
///
/// let mut a = MmrPeaks::new();
/// for i in 0..5u8 {
///     a.append(leaf_hash(&[i]));
/// }
/// // Restore from the persisted parts and keep going: same roots.
/// let mut b = MmrPeaks::from_parts(a.leaves(), a.peaks().to_vec()).unwrap();
/// a.append(leaf_hash(b"six"));
/// b.append(leaf_hash(b"six"));
/// assert_eq!(a.root(), b.root());
/// assert_eq!(a.peaks().len(), 2); // 6 = 0b110
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MmrPeaks {
    pub(super) leaves: u64,
    pub(super) peaks: Vec<Hash>,
}

impl MmrPeaks {
    /// The empty MMR.
    pub const fn new() -> Self {
        MmrPeaks { leaves: 0, peaks: Vec::new() }
    }

    /// Restores a state from a leaf count and its peaks (left to right).
    ///
    /// Fails unless `leaves <= MAX_LEAVES` and `peaks.len() == popcount(leaves)`. The
    /// hashes themselves cannot be checked here: they are what the root commits to.
    pub fn from_parts(leaves: u64, peaks: Vec<Hash>) -> Result<Self, MmrError> {
        if leaves > MAX_LEAVES {
            return Err(MmrError::TooManyLeaves(leaves));
        }
        let expected = leaves.count_ones() as usize;
        if peaks.len() != expected {
            return Err(MmrError::PeakCountMismatch { leaves, expected, found: peaks.len() });
        }
        Ok(MmrPeaks { leaves, peaks })
    }

    /// Reads the peaks of the MMR of `leaves` leaves from a node store.
    pub fn from_store<S: NodeStore + ?Sized>(store: &S, leaves: u64) -> Result<Self, ProofError> {
        if leaves > MAX_LEAVES {
            return Err(ProofError::TooManyLeaves(leaves));
        }
        let peaks = mountains(leaves)
            .map(|m| store.node(m.pos).ok_or(ProofError::MissingNode(m.pos)))
            .collect::<Result<Vec<Hash>, ProofError>>()?;
        Ok(MmrPeaks { leaves, peaks })
    }

    /// Number of leaves.
    #[inline]
    pub fn leaves(&self) -> u64 {
        self.leaves
    }

    /// The peaks, left (highest mountain) to right.
    #[inline]
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// The root: [`mmr_root`]`(leaves, peaks)`. The empty MMR's root is `mmr_root(0, &[])`.
    #[inline]
    pub fn root(&self) -> Hash {
        mmr_root(self.leaves, &self.peaks)
    }

    /// Appends a leaf hash. Amortized one [`mmr_node`] per leaf; allocates only when the
    /// peak list grows past its capacity (at most 63 peaks).
    ///
    /// # Panics
    ///
    /// If the range already holds [`MAX_LEAVES`] leaves, which appending cannot reach in
    /// practice; use [`MmrPeaks::try_append`] when the state was restored from outside.
    #[inline]
    pub fn append(&mut self, leaf: Hash) {
        self.append_with(leaf, |_, _| {});
    }

    /// Appends a leaf hash, or fails with [`MmrError::Full`] at [`MAX_LEAVES`] leaves.
    pub fn try_append(&mut self, leaf: Hash) -> Result<(), MmrError> {
        if self.leaves >= MAX_LEAVES {
            return Err(MmrError::Full);
        }
        self.append(leaf);
        Ok(())
    }

    /// Appends a leaf hash and reports every node it creates, as `(position, hash)`: the
    /// leaf first, then each parent it completes, in position order. A host uses it to
    /// persist the nodes a proof generator reads back through [`NodeStore`].
    ///
    /// # Panics
    ///
    /// As [`MmrPeaks::append`].
    #[inline]
    pub fn append_with(&mut self, leaf: Hash, mut new_node: impl FnMut(u64, &Hash)) {
        assert!(self.leaves < MAX_LEAVES, "MMR is full");
        let mut pos = mmr_size(self.leaves);
        let mut cur = leaf;
        new_node(pos, &cur);
        // One merge per trailing one bit of the old leaf count: each completes a mountain
        // with the peak to its left.
        for _ in 0..self.leaves.trailing_ones() {
            let Some(left) = self.peaks.pop() else { break };
            cur = mmr_node(&left, &cur);
            pos += 1;
            new_node(pos, &cur);
        }
        self.peaks.push(cur);
        self.leaves += 1;
    }
}

/// Bulk check that `new_leaves` extend the MMR `old` to an MMR whose root is `new_root`
/// (for instance a signed head's root), returning the extended state.
///
/// It costs one [`mmr_node`] per new leaf (amortized, computed many at once across SIMD
/// lanes, see [`MmrPeaks::extend_from_slice`]) plus one root, and no proof is needed: the
/// old peaks and the new leaves determine every new peak.
///
/// ```
/// use xaeroflux_core::hash::leaf_hash;
/// use xaeroflux_core::mmr::{MmrPeaks, verify_extension};
///
/// let leaves: Vec<_> = (0..10u8).map(|i| leaf_hash(&[i])).collect();
/// let mut old = MmrPeaks::new();
/// leaves[..4].iter().for_each(|l| old.append(*l));
/// let mut full = old.clone();
/// leaves[4..].iter().for_each(|l| full.append(*l));
///
/// let checked = verify_extension(&old, &leaves[4..], &full.root()).unwrap();
/// assert_eq!(checked, full);
/// assert!(verify_extension(&old, &leaves[5..], &full.root()).is_err());
/// ```
pub fn verify_extension(old: &MmrPeaks, new_leaves: &[Hash], new_root: &Hash) -> Result<MmrPeaks, ProofError> {
    let added = u64::try_from(new_leaves.len()).unwrap_or(u64::MAX);
    let total = old.leaves.saturating_add(added);
    if total > MAX_LEAVES {
        return Err(ProofError::TooManyLeaves(total));
    }
    let mut state = old.clone();
    state.extend_from_slice(new_leaves).map_err(|_| ProofError::TooManyLeaves(total))?;
    if state.root() == *new_root { Ok(state) } else { Err(ProofError::RootMismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn append_reports_nodes_in_position_order() {
        let mut p = MmrPeaks::new();
        let mut seen = Vec::new();
        for i in 0..20u64 {
            p.append_with(leaf_hash(&i.to_le_bytes()), |pos, h| seen.push((pos, *h)));
            assert_eq!(seen.len() as u64, mmr_size(i + 1));
        }
        for (i, (pos, _)) in seen.iter().enumerate() {
            assert_eq!(*pos, i as u64);
        }
        let store: Vec<Hash> = seen.iter().map(|(_, h)| *h).collect();
        assert_eq!(MmrPeaks::from_store(&store, 20).unwrap(), p);
        assert_eq!(MmrPeaks::from_store(&store[..10], 20), Err(ProofError::MissingNode(30)));
    }

    #[test]
    fn from_parts_checks() {
        assert_eq!(
            MmrPeaks::from_parts(3, alloc::vec![Hash::ZERO]),
            Err(MmrError::PeakCountMismatch { leaves: 3, expected: 2, found: 1 })
        );
        assert_eq!(MmrPeaks::from_parts(MAX_LEAVES + 1, Vec::new()), Err(MmrError::TooManyLeaves(MAX_LEAVES + 1)));
        let mut full = MmrPeaks::from_parts(MAX_LEAVES, alloc::vec![Hash::ZERO]).unwrap();
        assert_eq!(full.try_append(Hash::ZERO), Err(MmrError::Full));
        let mut almost = MmrPeaks::from_parts(MAX_LEAVES - 1, alloc::vec![Hash::ZERO; 63]).unwrap();
        almost.try_append(Hash::ZERO).unwrap();
        assert_eq!(almost.peaks().len(), 1);
        assert_eq!(
            verify_extension(&almost, &[Hash::ZERO], &Hash::ZERO),
            Err(ProofError::TooManyLeaves(MAX_LEAVES + 1))
        );
    }

    #[test]
    fn empty_root() {
        assert_eq!(MmrPeaks::new().root(), mmr_root(0, &[]));
    }
}
