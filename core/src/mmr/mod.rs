//! Merkle Mountain Ranges: append-only accumulators with inclusion, consistency and range
//! proofs.
//!
//! An MMR of `n` leaves is a list of perfect binary trees ("mountains"), one per set bit
//! of `n`, highest on the left. Nodes have 0-based post-order positions (as in Grin and
//! ckb): leaf `i` is at [`leaf_to_pos`]`(i) = 2i − popcount(i)` and the MMR has
//! [`mmr_size`]`(n) = 2n − popcount(n)` nodes. For 7 leaves:
//!
//! ```text
//!          6
//!        /   \
//!       2     5     9
//!      / \   / \   / \
//!     0   1 3   4 7   8 10
//! ```
//!
//! Interior nodes are [`mmr_node`](crate::hash::mmr_node)`(left, right)`; the root is
//! [`mmr_root`](crate::hash::mmr_root)`(n, peaks)` over the peaks left to right (the empty
//! MMR's root is `mmr_root(0, &[])`). The byte formats of the proofs are in
//! `docs/formats.md`.
//!
//! - [`MmrPeaks`]: the compact state (leaf count and peaks): append, root, restore.
//! - [`Mmr`]: all nodes in memory, proofs at the current size.
//! - [`inclusion_proof`], [`consistency_proof`], [`range_proof`]: the same proofs over any
//!   [`NodeStore`] (the host's storage), for any size it holds.
//! - [`verify_extension`]: the bulk check "these leaves extend this MMR to that root".
//!
//! ```
//! use xaeroflux_core::hash::leaf_hash;
//! use xaeroflux_core::mmr::{Mmr, inclusion_proof};
//!
//! let mut mmr = Mmr::new();
//! for i in 0..1000u32 {
//!     mmr.append(leaf_hash(&i.to_le_bytes()));
//! }
//! let root = mmr.root();
//! // Proofs over the node list for an older size:
//! let proof = inclusion_proof(mmr.nodes(), 600, 17).unwrap();
//! assert_eq!(proof.leaves, 600);
//! // Prove that the 600-leaf MMR is a prefix of the current one, and leaf 17 in it:
//! let old_root = mmr.consistency_proof(600).unwrap().prefix_root(&root).unwrap();
//! proof.verify(&leaf_hash(&17u32.to_le_bytes()), &old_root).unwrap();
//! ```

mod bulk;
mod consistency;
mod encode;
mod error;
mod inclusion;
mod mem;
mod multi;
mod peaks;
mod pos;
mod range;

pub use consistency::{ConsistencyProof, consistency_proof};
pub use encode::{KIND_CONSISTENCY, KIND_INCLUSION, KIND_RANGE, PROOF_VERSION};
pub use error::{MmrError, ProofDecodeError, ProofError};
pub use inclusion::{InclusionProof, inclusion_proof};
pub use mem::Mmr;
pub use peaks::{MmrPeaks, verify_extension};
pub use pos::{MAX_LEAVES, leaf_to_pos, mmr_size, peak_positions};
pub use range::{RangeProof, range_proof};

use alloc::vec::Vec;

use crate::hash::Hash;

/// Read access to the nodes of an MMR by position (the host's storage, or a slice).
///
/// Proof generation reads only nodes of the size it proves for, so a store that holds a
/// larger MMR serves every smaller size too.
pub trait NodeStore {
    /// The node at `pos`, or `None` if the store does not hold it.
    fn node(&self, pos: u64) -> Option<Hash>;
}

impl NodeStore for [Hash] {
    #[inline]
    fn node(&self, pos: u64) -> Option<Hash> {
        usize::try_from(pos).ok().and_then(|i| self.get(i)).copied()
    }
}

impl NodeStore for Vec<Hash> {
    #[inline]
    fn node(&self, pos: u64) -> Option<Hash> {
        self.as_slice().node(pos)
    }
}
