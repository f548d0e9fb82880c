//! Page proofs: the audit path that shows one event is in a page.

use alloc::vec::Vec;
use core::fmt;

use super::tree::{split_point, subtree_top};
use crate::hash::{Hash, page_node, page_root};

/// Format version of an encoded [`PageProof`].
pub const PAGE_PROOF_VERSION: u8 = 1;

/// Bytes before the path in an encoded proof: version, index, count, path length.
const PROOF_PREFIX_LEN: usize = 1 + 4 + 4 + 1;

/// The shape of the audit path of leaf `index` in a tree of `count` leaves
/// (`index < count`): its length and, for each step from the leaf upwards, whether the
/// sibling is on the left (bit set) or on the right.
fn path_shape(index: u32, count: u32) -> (usize, u64) {
    let (mut lo, mut hi, m) = (0u64, u64::from(count), u64::from(index));
    let mut depth = 0usize;
    let mut sibling_left_top_down = 0u64;
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < lo + k {
            hi = lo + k;
        } else {
            lo += k;
            sibling_left_top_down |= 1 << depth;
        }
        depth += 1;
    }
    // Reverse the bit order so that bit i describes step i from the leaf upwards.
    let mut bottom_up = 0u64;
    for i in 0..depth {
        if sibling_left_top_down & (1 << i) != 0 {
            bottom_up |= 1 << (depth - 1 - i);
        }
    }
    (depth, bottom_up)
}

/// A proof that the leaf at `index` is in a page tree of `count` leaves: the sibling
/// hashes from the leaf up to the top node (RFC 6962 audit path).
///
/// The path length is a function of `(index, count)` (at most 32), and both
/// [`PageProof::verify`] and [`PageProof::decode`] insist on it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PageProof {
    /// Position of the event in the page (0-based).
    pub index: u32,
    /// Number of events in the page.
    pub count: u32,
    path: Vec<Hash>,
}

/// Why a page proof could not be made or did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageProofError {
    /// The index is not below the number of leaves.
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The number of leaves.
        count: u64,
    },
    /// More leaves than a page tree can hold (`u32::MAX`).
    TooManyLeaves(usize),
    /// The path does not have the length `(index, count)` implies.
    PathLength {
        /// Hashes in the path.
        actual: usize,
        /// Hashes the shape of the tree requires.
        expected: usize,
    },
    /// The path leads to a different root.
    RootMismatch,
}

impl fmt::Display for PageProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IndexOutOfRange { index, count } => {
                write!(f, "leaf index {index} is out of range for a page of {count} events")
            }
            Self::TooManyLeaves(n) => write!(f, "{n} leaves are more than a page tree can hold"),
            Self::PathLength { actual, expected } => {
                write!(f, "page proof path has {actual} hashes, the tree shape needs {expected}")
            }
            Self::RootMismatch => f.write_str("page proof does not lead to the page root"),
        }
    }
}

impl core::error::Error for PageProofError {}

/// Why bytes could not be decoded as a page proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageProofDecodeError {
    /// Fewer bytes than the fixed prefix.
    TooShort(usize),
    /// A version this crate does not read.
    BadVersion(u8),
    /// The index is not below the count.
    IndexOutOfRange {
        /// Encoded index.
        index: u32,
        /// Encoded count.
        count: u32,
    },
    /// The declared path length is not the one `(index, count)` implies.
    PathLength {
        /// Declared number of hashes.
        declared: u8,
        /// Number the tree shape requires.
        expected: usize,
    },
    /// The byte length disagrees with the declared path length.
    WrongLength {
        /// Bytes the proof needs.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
}

impl fmt::Display for PageProofDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort(n) => {
                write!(f, "page proof of {n} bytes is shorter than its {PROOF_PREFIX_LEN}-byte prefix")
            }
            Self::BadVersion(v) => {
                write!(f, "unsupported page proof version {v} (this build reads {PAGE_PROOF_VERSION})")
            }
            Self::IndexOutOfRange { index, count } => {
                write!(f, "page proof index {index} is out of range for a page of {count} events")
            }
            Self::PathLength { declared, expected } => {
                write!(f, "page proof declares {declared} path hashes, the tree shape needs {expected}")
            }
            Self::WrongLength { expected, actual } => {
                write!(f, "page proof needs {expected} bytes, got {actual}")
            }
        }
    }
}

impl core::error::Error for PageProofDecodeError {}

/// The proof that `leaves[index]` is in the page tree over `leaves`.
///
/// Costs one pass over the leaves (`count - 1` node hashes at most) and allocates only
/// the path.
pub fn page_proof(leaves: &[Hash], index: u32) -> Result<PageProof, PageProofError> {
    let count = u32::try_from(leaves.len()).map_err(|_| PageProofError::TooManyLeaves(leaves.len()))?;
    if index >= count {
        return Err(PageProofError::IndexOutOfRange { index: u64::from(index), count: u64::from(count) });
    }
    let (depth, _) = path_shape(index, count);
    let mut path = Vec::with_capacity(depth);
    let (mut lo, mut hi, m) = (0usize, leaves.len(), index as usize);
    while hi - lo > 1 {
        let k = split_point((hi - lo) as u64) as usize;
        let mid = lo + k;
        if m < mid {
            path.push(subtree_top(&leaves[mid..hi]));
            hi = mid;
        } else {
            path.push(subtree_top(&leaves[lo..mid]));
            lo = mid;
        }
    }
    path.reverse();
    Ok(PageProof { index, count, path })
}

impl PageProof {
    /// A proof from its parts, checking that the path has the length the tree shape
    /// requires (for hosts that keep tree nodes themselves).
    pub fn from_parts(index: u32, count: u32, path: Vec<Hash>) -> Result<Self, PageProofError> {
        if index >= count {
            return Err(PageProofError::IndexOutOfRange { index: u64::from(index), count: u64::from(count) });
        }
        let (expected, _) = path_shape(index, count);
        if path.len() != expected {
            return Err(PageProofError::PathLength { actual: path.len(), expected });
        }
        Ok(PageProof { index, count, path })
    }

    /// The sibling hashes, from the leaf upwards.
    pub fn path(&self) -> &[Hash] {
        &self.path
    }

    /// The page root the proof leads to from `leaf`.
    pub fn root_from(&self, leaf: &Hash) -> Result<Hash, PageProofError> {
        if self.index >= self.count {
            return Err(PageProofError::IndexOutOfRange { index: u64::from(self.index), count: u64::from(self.count) });
        }
        let (expected, sibling_left) = path_shape(self.index, self.count);
        if self.path.len() != expected {
            return Err(PageProofError::PathLength { actual: self.path.len(), expected });
        }
        let mut acc = *leaf;
        for (i, sibling) in self.path.iter().enumerate() {
            acc = if sibling_left & (1 << i) != 0 { page_node(sibling, &acc) } else { page_node(&acc, sibling) };
        }
        Ok(page_root(self.count, &acc))
    }

    /// Checks that `leaf` (an event's leaf hash) is at `index` in the page whose root is
    /// `page_root`.
    pub fn verify(&self, leaf: &Hash, page_root: &Hash) -> Result<(), PageProofError> {
        if self.root_from(leaf)? == *page_root { Ok(()) } else { Err(PageProofError::RootMismatch) }
    }

    /// Length of [`PageProof::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        PROOF_PREFIX_LEN + 32 * self.path.len()
    }

    /// The encoding: version (1) ‖ index (u32 LE) ‖ count (u32 LE) ‖ path length (u8) ‖
    /// path hashes (32 bytes each, from the leaf upwards).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.push(PAGE_PROOF_VERSION);
        out.extend_from_slice(&self.index.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        // At most 32 hashes: a tree of u32::MAX leaves is 32 levels deep.
        out.push(u8::try_from(self.path.len()).unwrap_or(u8::MAX));
        for h in &self.path {
            out.extend_from_slice(&h.0);
        }
        out
    }

    /// Decodes [`PageProof::encode`]'s output. Every field is checked before anything
    /// is allocated, and the allocation is at most 32 hashes. This does not verify the
    /// proof: call [`PageProof::verify`].
    pub fn decode(bytes: &[u8]) -> Result<Self, PageProofDecodeError> {
        let Some((prefix, rest)) = bytes.split_first_chunk::<PROOF_PREFIX_LEN>() else {
            return Err(PageProofDecodeError::TooShort(bytes.len()));
        };
        let [version, i0, i1, i2, i3, c0, c1, c2, c3, declared] = *prefix;
        if version != PAGE_PROOF_VERSION {
            return Err(PageProofDecodeError::BadVersion(version));
        }
        let index = u32::from_le_bytes([i0, i1, i2, i3]);
        let count = u32::from_le_bytes([c0, c1, c2, c3]);
        if index >= count {
            return Err(PageProofDecodeError::IndexOutOfRange { index, count });
        }
        let (expected, _) = path_shape(index, count);
        if usize::from(declared) != expected {
            return Err(PageProofDecodeError::PathLength { declared, expected });
        }
        if rest.len() != 32 * expected {
            return Err(PageProofDecodeError::WrongLength {
                expected: PROOF_PREFIX_LEN + 32 * expected,
                actual: bytes.len(),
            });
        }
        let mut path = Vec::with_capacity(expected);
        for chunk in rest.chunks_exact(32) {
            let mut h = [0u8; 32];
            h.copy_from_slice(chunk);
            path.push(Hash(h));
        }
        Ok(PageProof { index, count, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::page::page_tree_root;

    #[test]
    fn every_index_of_small_trees() {
        let leaves: Vec<Hash> = (0u32..40).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for n in 1..=leaves.len() {
            let root = page_tree_root(&leaves[..n]);
            for i in 0..n {
                let p = page_proof(&leaves[..n], i as u32).unwrap();
                p.verify(&leaves[i], &root).unwrap();
                assert_eq!(PageProof::decode(&p.encode()).unwrap(), p);
                if n > 1 {
                    let other = (i + 1) % n;
                    assert_eq!(p.verify(&leaves[other], &root), Err(PageProofError::RootMismatch));
                }
            }
        }
    }

    #[test]
    fn shapes() {
        assert_eq!(path_shape(0, 1), (0, 0));
        assert_eq!(path_shape(0, 2), (1, 0));
        assert_eq!(path_shape(1, 2), (1, 1));
        // 5 leaves: leaf 4 hangs directly under the top, beside the subtree of 4.
        assert_eq!(path_shape(4, 5), (1, 1));
        assert_eq!(path_shape(3, 5), (3, 0b011));
        assert_eq!(path_shape(u32::MAX - 1, u32::MAX).0, 31);
        assert_eq!(path_shape(0, u32::MAX).0, 32);
    }
}
