//! Error types of the MMR module.

use core::fmt;

use super::MAX_LEAVES;

/// Why a compact MMR state ([`MmrPeaks`](super::MmrPeaks)) could not be built or extended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MmrError {
    /// More leaves than [`MAX_LEAVES`].
    TooManyLeaves(u64),
    /// The number of peaks is not `popcount(leaves)`.
    PeakCountMismatch {
        /// The stated number of leaves.
        leaves: u64,
        /// The number of peaks an MMR of that many leaves has.
        expected: usize,
        /// The number of peaks given.
        found: usize,
    },
    /// The range already holds [`MAX_LEAVES`] leaves: nothing more can be appended.
    Full,
    /// A node list handed to [`MmrPeaks::extend_node_list`](super::MmrPeaks::extend_node_list)
    /// holds more nodes than the MMR has.
    NodeListTooLong {
        /// Nodes in the list.
        nodes: usize,
        /// Nodes of the MMR.
        size: u64,
    },
}

impl fmt::Display for MmrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyLeaves(n) => write!(f, "{n} leaves is more than the maximum of {MAX_LEAVES}"),
            Self::PeakCountMismatch { leaves, expected, found } => {
                write!(f, "an MMR of {leaves} leaves has {expected} peaks, got {found}")
            }
            Self::Full => write!(f, "the MMR already holds the maximum of {MAX_LEAVES} leaves"),
            Self::NodeListTooLong { nodes, size } => {
                write!(f, "a node list of {nodes} nodes is longer than the MMR's {size} nodes")
            }
        }
    }
}

impl core::error::Error for MmrError {}

/// Why a proof could not be generated, or why it does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// A stated leaf count is larger than [`MAX_LEAVES`].
    TooManyLeaves(u64),
    /// The leaf index is not below the number of leaves.
    LeafIndexOutOfRange {
        /// The leaf index asked for.
        leaf_index: u64,
        /// The number of leaves of the range.
        leaves: u64,
    },
    /// The leaf range `start..end` is empty or does not lie within `0..leaves`.
    BadRange {
        /// First leaf of the range.
        start: u64,
        /// One past the last leaf.
        end: u64,
        /// The number of leaves of the MMR.
        leaves: u64,
    },
    /// A consistency proof from a larger size to a smaller one.
    OldLargerThanNew {
        /// The old (prefix) size.
        old_leaves: u64,
        /// The new size.
        new_leaves: u64,
    },
    /// The node store has no node at this position (generation only).
    MissingNode(u64),
    /// The inclusion path does not have the length of the leaf's mountain height.
    WrongPathLength {
        /// The height of the leaf's mountain.
        expected: usize,
        /// The path length found.
        found: usize,
    },
    /// The proof carries the wrong number of peaks for the stated sizes.
    WrongPeakCount {
        /// The number the sizes imply.
        expected: usize,
        /// The number found.
        found: usize,
    },
    /// The proof carries the wrong number of interior nodes for the stated sizes.
    WrongNodeCount {
        /// The number the sizes imply.
        expected: usize,
        /// The number found.
        found: usize,
    },
    /// The number of leaf hashes given does not match the proof's range.
    WrongLeafCount {
        /// `end - start` of the proof.
        expected: u64,
        /// The number of leaf hashes given.
        found: u64,
    },
    /// The recomputed root differs from the expected root.
    RootMismatch,
    /// Consistency proof: the old peaks do not hash to the old root.
    OldRootMismatch,
    /// Consistency proof: the recomputed new root differs from the new root.
    NewRootMismatch,
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyLeaves(n) => write!(f, "{n} leaves is more than the maximum of {MAX_LEAVES}"),
            Self::LeafIndexOutOfRange { leaf_index, leaves } => {
                write!(f, "leaf {leaf_index} is out of range for an MMR of {leaves} leaves")
            }
            Self::BadRange { start, end, leaves } => {
                write!(f, "leaf range {start}..{end} is empty or not within an MMR of {leaves} leaves")
            }
            Self::OldLargerThanNew { old_leaves, new_leaves } => {
                write!(f, "old size {old_leaves} is larger than new size {new_leaves}")
            }
            Self::MissingNode(pos) => write!(f, "the node store has no node at position {pos}"),
            Self::WrongPathLength { expected, found } => {
                write!(f, "inclusion path must have {expected} nodes, got {found}")
            }
            Self::WrongPeakCount { expected, found } => write!(f, "proof must carry {expected} peaks, got {found}"),
            Self::WrongNodeCount { expected, found } => write!(f, "proof must carry {expected} nodes, got {found}"),
            Self::WrongLeafCount { expected, found } => write!(f, "proof covers {expected} leaves, got {found}"),
            Self::RootMismatch => f.write_str("proof does not lead to the expected root"),
            Self::OldRootMismatch => f.write_str("old peaks do not hash to the old root"),
            Self::NewRootMismatch => f.write_str("proof does not lead to the new root"),
        }
    }
}

impl core::error::Error for ProofError {}

/// Why the bytes of an encoded proof were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofDecodeError {
    /// Shorter than the fixed header of this proof kind.
    TooShort {
        /// Header length.
        needed: usize,
        /// Input length.
        found: usize,
    },
    /// A format version this crate does not read.
    BadVersion(u8),
    /// The kind byte names another proof kind (or none).
    WrongKind {
        /// The kind this decoder reads.
        expected: u8,
        /// The kind byte found.
        found: u8,
    },
    /// A stated leaf count is larger than [`MAX_LEAVES`].
    TooManyLeaves(u64),
    /// Inclusion proof: the leaf index is not below the number of leaves.
    LeafIndexOutOfRange {
        /// Stated leaf index.
        leaf_index: u64,
        /// Stated number of leaves.
        leaves: u64,
    },
    /// Range proof: the range is empty or not within `0..leaves`.
    BadRange {
        /// Stated start.
        start: u64,
        /// Stated end.
        end: u64,
        /// Stated number of leaves.
        leaves: u64,
    },
    /// Consistency proof: the old size is larger than the new size.
    OldLargerThanNew {
        /// Stated old size.
        old_leaves: u64,
        /// Stated new size.
        new_leaves: u64,
    },
    /// The stated path length is not what the stated sizes imply.
    WrongPathLength {
        /// Implied by the sizes.
        expected: usize,
        /// Stated.
        found: usize,
    },
    /// The stated peak count is not what the stated sizes imply.
    WrongPeakCount {
        /// Implied by the sizes.
        expected: usize,
        /// Stated.
        found: usize,
    },
    /// The stated node count is not what the stated sizes imply.
    WrongNodeCount {
        /// Implied by the sizes.
        expected: usize,
        /// Stated.
        found: usize,
    },
    /// The input is not exactly the header plus the stated number of hashes.
    LengthMismatch {
        /// Header plus 32 bytes per stated hash.
        expected: usize,
        /// Input length.
        found: usize,
    },
}

impl fmt::Display for ProofDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { needed, found } => {
                write!(f, "encoded proof needs at least {needed} bytes, got {found}")
            }
            Self::BadVersion(v) => write!(f, "unsupported proof format version {v}"),
            Self::WrongKind { expected, found } => write!(f, "expected proof kind {expected}, found {found}"),
            Self::TooManyLeaves(n) => write!(f, "{n} leaves is more than the maximum of {MAX_LEAVES}"),
            Self::LeafIndexOutOfRange { leaf_index, leaves } => {
                write!(f, "leaf {leaf_index} is out of range for an MMR of {leaves} leaves")
            }
            Self::BadRange { start, end, leaves } => {
                write!(f, "leaf range {start}..{end} is empty or not within an MMR of {leaves} leaves")
            }
            Self::OldLargerThanNew { old_leaves, new_leaves } => {
                write!(f, "old size {old_leaves} is larger than new size {new_leaves}")
            }
            Self::WrongPathLength { expected, found } => {
                write!(f, "stated path length {found}, the sizes imply {expected}")
            }
            Self::WrongPeakCount { expected, found } => {
                write!(f, "stated peak count {found}, the sizes imply {expected}")
            }
            Self::WrongNodeCount { expected, found } => {
                write!(f, "stated node count {found}, the sizes imply {expected}")
            }
            Self::LengthMismatch { expected, found } => {
                write!(f, "encoded proof must be {expected} bytes, got {found}")
            }
        }
    }
}

impl core::error::Error for ProofDecodeError {}
