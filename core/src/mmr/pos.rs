//! Node positions: 0-based post-order, as in Grin and ckb.
//!
//! The MMR of `n` leaves is a list of perfect binary trees ("mountains"), one for each set
//! bit of `n`, highest first. Nodes are numbered in the order they are created by appending:
//! a leaf, then every parent that leaf completes. Inside a mountain this is post-order.

use alloc::vec::Vec;

/// The largest number of leaves an MMR may hold: 2⁶³.
///
/// Every node position of such a range still fits in a `u64` (its size is 2⁶⁴ − 1 nodes).
/// Decoders and verifiers refuse larger counts, so no arithmetic on positions can overflow.
pub const MAX_LEAVES: u64 = 1 << 63;

/// Position of the leaf with index `leaf_index`: `2·i − popcount(i)`.
///
/// Meaningful for `leaf_index < MAX_LEAVES`; larger inputs wrap instead of panicking.
///
/// ```
/// use xaeroflux_core::mmr::leaf_to_pos;
/// assert_eq!([0, 1, 2, 3, 4].map(leaf_to_pos), [0, 1, 3, 4, 7]);
/// ```
#[inline]
pub const fn leaf_to_pos(leaf_index: u64) -> u64 {
    leaf_index.wrapping_mul(2).wrapping_sub(leaf_index.count_ones() as u64)
}

/// Number of nodes of the MMR of `leaves` leaves: `2·n − popcount(n)`.
///
/// This is also the position the next leaf gets. Meaningful for `leaves <= MAX_LEAVES`;
/// larger inputs wrap instead of panicking.
///
/// ```
/// use xaeroflux_core::mmr::mmr_size;
/// assert_eq!([0, 1, 2, 3, 4, 7, 8].map(mmr_size), [0, 1, 3, 4, 7, 11, 15]);
/// ```
#[inline]
pub const fn mmr_size(leaves: u64) -> u64 {
    leaves.wrapping_mul(2).wrapping_sub(leaves.count_ones() as u64)
}

/// Positions of the peaks of the MMR of `leaves` leaves, left (highest mountain) to right.
///
/// ```
/// use xaeroflux_core::mmr::peak_positions;
/// assert_eq!(peak_positions(7), vec![6, 9, 10]);
/// assert_eq!(peak_positions(8), vec![14]);
/// assert!(peak_positions(0).is_empty());
/// ```
pub fn peak_positions(leaves: u64) -> Vec<u64> {
    mountains(leaves).map(|m| m.pos).collect()
}

/// Number of nodes of a perfect tree of height `height` (≤ 63): `2^(height+1) − 1`.
#[inline]
pub(crate) const fn tree_size(height: u32) -> u64 {
    u64::MAX >> (63 - height)
}

/// A node seen as the root of a perfect subtree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    /// Its position.
    pub pos: u64,
    /// Its height (0 for a leaf).
    pub height: u32,
    /// Index of the leftmost leaf under it.
    pub first_leaf: u64,
}

impl Node {
    /// Number of leaves under the node.
    #[inline]
    pub fn leaf_count(&self) -> u64 {
        1 << self.height
    }
    /// One past the index of the rightmost leaf under it.
    #[inline]
    pub fn end_leaf(&self) -> u64 {
        self.first_leaf + self.leaf_count()
    }
    /// Left and right children (only for `height > 0`).
    #[inline]
    pub fn children(&self) -> (Node, Node) {
        let h = self.height - 1;
        let left = Node { pos: self.pos - (1 << self.height), height: h, first_leaf: self.first_leaf };
        let right = Node { pos: self.pos - 1, height: h, first_leaf: self.first_leaf + (1 << h) };
        (left, right)
    }
}

/// The mountains (peaks as subtree roots) of an MMR, left to right.
#[derive(Clone, Debug)]
pub(crate) struct Mountains {
    rest: u64,
    first_leaf: u64,
    first_pos: u64,
}

/// The mountains of the MMR of `leaves` leaves, left to right. Well defined for
/// `leaves <= MAX_LEAVES` (larger inputs wrap, never panic).
#[inline]
pub(crate) fn mountains(leaves: u64) -> Mountains {
    Mountains { rest: leaves, first_leaf: 0, first_pos: 0 }
}

impl Iterator for Mountains {
    type Item = Node;

    #[inline]
    fn next(&mut self) -> Option<Node> {
        if self.rest == 0 {
            return None;
        }
        let height = 63 - self.rest.leading_zeros();
        let size = tree_size(height);
        let node = Node { pos: self.first_pos.wrapping_add(size - 1), height, first_leaf: self.first_leaf };
        self.rest &= !(1u64 << height);
        self.first_leaf = self.first_leaf.wrapping_add(1 << height);
        self.first_pos = self.first_pos.wrapping_add(size);
        Some(node)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Mountains {}

/// The mountain holding leaf `leaf_index` of an MMR of `leaves` leaves and its index among
/// the peaks, or `None` when `leaf_index >= leaves`.
#[inline]
pub(crate) fn mountain_of(leaves: u64, leaf_index: u64) -> Option<(usize, Node)> {
    if leaf_index >= leaves {
        return None;
    }
    // The mountain is found by the highest bit where `leaf_index` and `leaves` differ:
    // above it, leaves are in earlier mountains; that bit is set in `leaves` and not in
    // `leaf_index` (because leaf_index < leaves), so it is the mountain's height.
    let height = 63 - (leaves ^ leaf_index).leading_zeros();
    let above = leaves & !(tree_size(height));
    let index = above.count_ones() as usize;
    let first_pos = mmr_size(above);
    let node = Node { pos: first_pos + tree_size(height) - 1, height, first_leaf: above };
    Some((index, node))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountain_of_matches_scan() {
        for leaves in 0..300u64 {
            for i in 0..leaves + 2 {
                let scan = mountains(leaves).enumerate().find(|(_, m)| m.first_leaf <= i && i < m.end_leaf());
                assert_eq!(mountain_of(leaves, i), scan, "leaves {leaves} leaf {i}");
            }
        }
    }

    #[test]
    fn extremes_do_not_overflow() {
        let m: Vec<Node> = mountains(MAX_LEAVES).collect();
        assert_eq!(m, [Node { pos: u64::MAX - 1, height: 63, first_leaf: 0 }]);
        assert_eq!(mmr_size(MAX_LEAVES), u64::MAX);
        assert_eq!(leaf_to_pos(MAX_LEAVES - 1), u64::MAX - 1 - 63);
        let (i, last) = mountain_of(MAX_LEAVES - 1, MAX_LEAVES - 3).unwrap();
        assert_eq!((i, last.height, last.first_leaf), (61, 1, MAX_LEAVES - 4));
        assert_eq!(mountains(MAX_LEAVES - 1).count(), 63);
        assert_eq!(mountain_of(MAX_LEAVES, MAX_LEAVES - 1).map(|(i, n)| (i, n.pos)), Some((0, u64::MAX - 1)));
    }

    #[test]
    fn children_are_post_order() {
        let root = Node { pos: 6, height: 2, first_leaf: 0 };
        let (l, r) = root.children();
        assert_eq!((l.pos, r.pos, r.first_leaf), (2, 5, 2));
        assert_eq!(l.children().0.pos, 0);
        assert_eq!(r.children().1, Node { pos: 4, height: 0, first_leaf: 3 });
    }
}
