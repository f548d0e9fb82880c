//! Consistency proofs: the MMR of `m` leaves is a prefix of the MMR of `n` leaves.

use alloc::vec::Vec;
use core::fmt;

use super::encode::{self, KIND_CONSISTENCY};
use super::multi::{Known, Shape};
use super::pos::mountains;
use super::{MAX_LEAVES, NodeStore, ProofDecodeError, ProofError};
use crate::hash::{Hash, mmr_root};

/// Proof that the MMR of `old_leaves` leaves is a prefix of the MMR of `new_leaves` leaves.
///
/// It holds the old peaks and the nodes that, together with them, determine every new
/// peak (see the multi-proof walk in `docs/formats.md`). `old_leaves == 0` proves the
/// empty prefix (no old peaks; the nodes are the new peaks); `old_leaves == new_leaves`
/// carries the peaks and no nodes.
///
/// ```
/// use xaeroflux_core::hash::leaf_hash;
/// use xaeroflux_core::mmr::{ConsistencyProof, Mmr};
///
/// let mut mmr = Mmr::new();
/// (0..5u8).for_each(|i| { mmr.append(leaf_hash(&[i])); });
/// let old_root = mmr.root();
/// (5..21u8).for_each(|i| { mmr.append(leaf_hash(&[i])); });
///
/// let proof = ConsistencyProof::decode(&mmr.consistency_proof(5).unwrap().encode()).unwrap();
/// proof.verify(&old_root, &mmr.root()).unwrap();
/// // Fork evidence: the prefix root implied by the new root.
/// assert_eq!(proof.prefix_root(&mmr.root()).unwrap(), old_root);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// Size of the prefix.
    pub old_leaves: u64,
    /// Size of the extended MMR.
    pub new_leaves: u64,
    /// The old peaks followed by the nodes.
    hashes: Vec<Hash>,
    old_peaks: usize,
}

impl fmt::Debug for ConsistencyProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsistencyProof")
            .field("old_leaves", &self.old_leaves)
            .field("new_leaves", &self.new_leaves)
            .field("old_peaks", &self.old_peaks())
            .field("nodes", &self.nodes())
            .finish()
    }
}

/// Header: version, kind, old leaves, new leaves, old peak count, node count.
const HEADER_LEN: usize = 2 + 8 + 8 + 1 + 1;

fn check_sizes(old_leaves: u64, new_leaves: u64) -> Result<(), ProofError> {
    if new_leaves > MAX_LEAVES {
        return Err(ProofError::TooManyLeaves(new_leaves));
    }
    if old_leaves > new_leaves {
        return Err(ProofError::OldLargerThanNew { old_leaves, new_leaves });
    }
    Ok(())
}

/// Proof that the MMR of `old_leaves` leaves is a prefix of the MMR of `new_leaves` leaves
/// whose nodes `store` holds.
pub fn consistency_proof<S: NodeStore + ?Sized>(
    store: &S,
    old_leaves: u64,
    new_leaves: u64,
) -> Result<ConsistencyProof, ProofError> {
    check_sizes(old_leaves, new_leaves)?;
    let old_peaks = old_leaves.count_ones() as usize;
    let shape = Shape::Prefix(old_leaves);
    let mut hashes = Vec::with_capacity(old_peaks + shape.node_count(new_leaves));
    for m in mountains(old_leaves) {
        hashes.push(store.node(m.pos).ok_or(ProofError::MissingNode(m.pos))?);
    }
    hashes.extend(shape.collect(store, new_leaves)?);
    Ok(ConsistencyProof { old_leaves, new_leaves, hashes, old_peaks })
}

impl ConsistencyProof {
    /// The peaks of the old MMR, left to right.
    pub fn old_peaks(&self) -> &[Hash] {
        self.hashes.get(..self.old_peaks).unwrap_or(&[])
    }

    /// The extra nodes, in increasing position order.
    pub fn nodes(&self) -> &[Hash] {
        self.hashes.get(self.old_peaks..).unwrap_or(&[])
    }

    /// Recomputes the new root; returns it with the old root the old peaks imply.
    fn roots(&self) -> Result<(Hash, Hash), ProofError> {
        check_sizes(self.old_leaves, self.new_leaves)?;
        let (old, nodes) = (self.old_peaks(), self.nodes());
        let expected_peaks = self.old_leaves.count_ones() as usize;
        if old.len() != expected_peaks {
            return Err(ProofError::WrongPeakCount { expected: expected_peaks, found: old.len() });
        }
        let shape = Shape::Prefix(self.old_leaves);
        let expected_nodes = shape.node_count(self.new_leaves);
        if nodes.len() != expected_nodes {
            return Err(ProofError::WrongNodeCount { expected: expected_nodes, found: nodes.len() });
        }
        let count = self.new_leaves.count_ones() as usize;
        let mut peaks = [Hash::ZERO; 64];
        let mut known = Known::Peaks(old.iter());
        shape.compute(self.new_leaves, &mut known, nodes, &mut peaks, None)?;
        if let Known::Peaks(rest) = known
            && rest.len() != 0
        {
            return Err(ProofError::WrongPeakCount { expected: expected_peaks - rest.len(), found: old.len() });
        }
        let new_root = mmr_root(self.new_leaves, peaks.get(..count).unwrap_or(&[]));
        Ok((mmr_root(self.old_leaves, old), new_root))
    }

    /// Checks that the MMR with root `old_root` (of `old_leaves` leaves) is a prefix of the
    /// MMR with root `new_root` (of `new_leaves` leaves).
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofError> {
        let (old, new) = self.roots()?;
        if old != *old_root {
            return Err(ProofError::OldRootMismatch);
        }
        if new != *new_root {
            return Err(ProofError::NewRootMismatch);
        }
        Ok(())
    }

    /// The root of the `old_leaves` prefix implied by `new_root`: if the proof checks out
    /// against `new_root`, any MMR with that root has this prefix root.
    ///
    /// Two signed heads of one author, `(m, r_m)` and `(n, r_n)` with `m <= n`, are a fork
    /// proof when a consistency proof `m → n` yields `prefix_root(r_n) != r_m`.
    pub fn prefix_root(&self, new_root: &Hash) -> Result<Hash, ProofError> {
        let (old, new) = self.roots()?;
        if new != *new_root {
            return Err(ProofError::NewRootMismatch);
        }
        Ok(old)
    }

    /// The encoding: version 1 ‖ kind 2 ‖ old leaves (u64 LE) ‖ new leaves (u64 LE) ‖ old
    /// peak count (u8) ‖ node count (u8) ‖ old peaks ‖ nodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = encode::start(HEADER_LEN, KIND_CONSISTENCY, self.hashes.len());
        out.extend_from_slice(&self.old_leaves.to_le_bytes());
        out.extend_from_slice(&self.new_leaves.to_le_bytes());
        out.push(encode::count_byte(self.old_peaks().len()));
        out.push(encode::count_byte(self.nodes().len()));
        encode::put_hashes(&mut out, &self.hashes);
        out
    }

    /// Decodes [`ConsistencyProof::encode`]'s bytes, checking every count against the sizes.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProofDecodeError> {
        encode::check_header(bytes, HEADER_LEN, KIND_CONSISTENCY)?;
        let old_leaves = encode::read_u64(bytes, 2);
        let new_leaves = encode::read_u64(bytes, 10);
        encode::check_leaves(new_leaves)?;
        if old_leaves > new_leaves {
            return Err(ProofDecodeError::OldLargerThanNew { old_leaves, new_leaves });
        }
        let old_peaks = usize::from(encode::read_u8(bytes, 18));
        let nodes = usize::from(encode::read_u8(bytes, 19));
        let expected_peaks = old_leaves.count_ones() as usize;
        if old_peaks != expected_peaks {
            return Err(ProofDecodeError::WrongPeakCount { expected: expected_peaks, found: old_peaks });
        }
        let expected_nodes = Shape::Prefix(old_leaves).node_count(new_leaves);
        if nodes != expected_nodes {
            return Err(ProofDecodeError::WrongNodeCount { expected: expected_nodes, found: nodes });
        }
        let hashes = encode::read_hashes(bytes, HEADER_LEN, old_peaks + nodes)?;
        Ok(ConsistencyProof { old_leaves, new_leaves, hashes, old_peaks })
    }
}
