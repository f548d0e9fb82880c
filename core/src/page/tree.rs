//! The page tree: an RFC 6962-style left-balanced binary Merkle tree over the leaf
//! hashes of a page's events.
//!
//! For `n` leaves `D[0..n]`, the top node is
//!
//! - `MTH(D[0..1]) = D[0]` (a single leaf is its own top node; no extra hashing),
//! - `MTH(D[0..n]) = page_node(MTH(D[0..k]), MTH(D[k..n]))` for `n > 1`, where `k` is
//!   the largest power of two strictly smaller than `n`,
//!
//! and the page root is `page_root(n, top)` ([`crate::hash::page_root`]), which binds the
//! event count. An empty page (`n = 0`) has `top = Hash::ZERO`, so its root is
//! `page_root(0, [0; 32])`.
//!
//! Equivalently, the tree is the perfect subtrees given by the binary digits of `n`
//! (largest, i.e. leftmost, first) folded from the right: with subtrees
//! `P1, P2, …, Pm`, `top = page_node(P1, page_node(P2, … page_node(Pm-1, Pm)))`.
//! [`PageTreeHasher`] computes it this way, streaming, with no allocation.

use crate::hash::{Hash, page_node, page_nodes_into, page_root};

/// Streaming computation of a page root: push leaves one by one, read the root at any
/// time. Uses a fixed array of at most 32 subtree roots; never allocates.
///
/// ```
/// use xaeroflux_core::page::{page_tree_root, PageTreeHasher};
/// use xaeroflux_core::hash::leaf_hash;
///
/// let leaves: Vec<_> = (0u8..7).map(|i| leaf_hash(&[i])).collect();
/// let mut t = PageTreeHasher::new();
/// for l in &leaves {
///     t.push(*l);
/// }
/// assert_eq!(t.count(), 7);
/// assert_eq!(t.root(), page_tree_root(&leaves));
/// ```
#[derive(Clone, Debug)]
pub struct PageTreeHasher {
    /// Roots of the perfect subtrees, largest first; `peaks[..popcount(count)]` are live.
    peaks: [Hash; 32],
    count: u32,
}

impl Default for PageTreeHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PageTreeHasher {
    /// An empty tree.
    pub const fn new() -> Self {
        PageTreeHasher { peaks: [Hash::ZERO; 32], count: 0 }
    }

    /// Number of leaves pushed.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// Whether another leaf can be pushed (a page tree holds at most `u32::MAX` leaves).
    pub const fn is_full(&self) -> bool {
        self.count == u32::MAX
    }

    /// Appends a leaf. Returns `false` (and changes nothing) if the tree already holds
    /// `u32::MAX` leaves.
    pub fn push(&mut self, leaf: Hash) -> bool {
        if self.is_full() {
            return false;
        }
        let mut live = self.count.count_ones() as usize;
        let mut node = leaf;
        // Each trailing one bit of the old count is a subtree of the same size as
        // `node` that now merges with it.
        let mut c = self.count;
        while c & 1 == 1 {
            live -= 1;
            node = page_node(&self.peaks[live], &node);
            c >>= 1;
        }
        self.peaks[live] = node;
        self.count += 1;
        true
    }

    /// The top node of the tree (see the module docs; `Hash::ZERO` when empty).
    pub fn top(&self) -> Hash {
        let live = self.count.count_ones() as usize;
        let Some((last, rest)) = self.peaks[..live].split_last() else {
            return Hash::ZERO;
        };
        rest.iter().rev().fold(*last, |acc, p| page_node(p, &acc))
    }

    /// The page root: `page_root(count, top)`.
    pub fn root(&self) -> Hash {
        page_root(self.count, &self.top())
    }
}

/// Top node of the tree over `leaves` (no allocation). `leaves.len()` must be at most
/// `u32::MAX`; callers check.
pub(crate) fn subtree_top(leaves: &[Hash]) -> Hash {
    let mut t = PageTreeHasher::new();
    for l in leaves {
        t.push(*l);
    }
    t.top()
}

/// The root of the page tree over `leaves` (the leaf hashes of a page's events, in
/// order): `page_root(n, top)`, see the module docs.
///
/// Only the first `u32::MAX` leaves are taken, which no page can exceed (a page holds at
/// most one event per 56 bytes of a 1 MiB page).
///
/// The nodes are computed level by level, each level's nodes many at once across SIMD lanes
/// ([`page_nodes_into`]): pairing adjacent nodes and carrying an unpaired last one up a
/// level builds exactly the left-balanced tree above. That takes one copy of the leaves to
/// work in; [`PageTreeHasher`] computes the same root streaming, without allocating.
pub fn page_tree_root(leaves: &[Hash]) -> Hash {
    let leaves = &leaves[..leaves.len().min(u32::MAX as usize)];
    let top = match leaves {
        [] => Hash::ZERO,
        [one] => *one,
        _ => {
            const GROUP: usize = 16;
            let mut level = leaves.to_vec();
            let mut merged = [Hash::ZERO; GROUP];
            // Each level shrinks `level` in place: a group of 16 pairs read from `start` is
            // written at `written <= start / 2`, never ahead of what is still to be read.
            while level.len() > 1 {
                let len = level.len();
                let mut written = 0;
                for start in (0..len).step_by(2 * GROUP) {
                    let end = (start + 2 * GROUP).min(len);
                    let n = (end - start) / 2;
                    page_nodes_into(&level[start..start + 2 * n], &mut merged[..n]);
                    level[written..written + n].copy_from_slice(&merged[..n]);
                    written += n;
                    if (end - start) % 2 == 1 {
                        level[written] = level[end - 1];
                        written += 1;
                    }
                }
                level.truncate(written);
            }
            level[0]
        }
    };
    page_root(leaves.len() as u32, &top)
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use alloc::vec::Vec;

    fn reference_top(d: &[Hash]) -> Hash {
        match d.len() {
            0 => Hash::ZERO,
            1 => d[0],
            n => {
                let k = split_point(n as u64) as usize;
                page_node(&reference_top(&d[..k]), &reference_top(&d[k..]))
            }
        }
    }

    #[test]
    fn streaming_matches_recursive() {
        let leaves: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for n in 0..=leaves.len() {
            let mut t = PageTreeHasher::new();
            for l in &leaves[..n] {
                t.push(*l);
            }
            assert_eq!(t.top(), reference_top(&leaves[..n]), "n = {n}");
            assert_eq!(page_tree_root(&leaves[..n]), page_root(n as u32, &reference_top(&leaves[..n])));
        }
    }

    #[test]
    fn level_by_level_matches_streaming_on_large_pages() {
        let leaves: Vec<Hash> = (0u32..1100).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for n in [31, 32, 33, 63, 64, 65, 100, 291, 292, 1000, 1024, 1025, 1100] {
            let mut t = PageTreeHasher::new();
            leaves[..n].iter().for_each(|l| {
                t.push(*l);
            });
            assert_eq!(page_tree_root(&leaves[..n]), t.root(), "n = {n}");
        }
    }

    #[test]
    fn split_points() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
        assert_eq!(split_point(u64::from(u32::MAX)), 1 << 31);
    }
}
