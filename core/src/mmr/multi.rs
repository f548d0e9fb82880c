//! The general multi-proof engine behind consistency and range proofs.
//!
//! The verifier knows some disjoint subtrees of the MMR (the old peaks of a prefix, or the
//! leaves of a range). It walks every mountain from its peak down: a node whose leaves it
//! knows entirely is computed from what it knows (`Inside`), a node with none of its leaves
//! known is taken from the proof (`Outside`), and any other node is split into its two
//! children (`Split`). The proof is therefore the list of `Outside` nodes in left-to-right
//! (depth-first, which is increasing position) order, and the walk recomputes every peak.
//! Only nodes on the boundaries of the known set are split, at most two per level, so
//! counting and generating take O(log n) steps.

use alloc::vec::Vec;

use super::pos::{Node, mountains};
use super::{NodeStore, ProofError};
use crate::hash::{Hash, mmr_node};

/// What the verifier knows.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    /// The subtrees covering leaves `0..m` (the peaks of the MMR of `m` leaves).
    Prefix(u64),
    /// The leaves `start..end`.
    Range(u64, u64),
}

enum Class {
    Inside,
    Outside,
    Split,
}

impl Shape {
    #[inline]
    fn classify(self, node: &Node) -> Class {
        let (a, b) = (node.first_leaf, node.end_leaf());
        match self {
            Shape::Prefix(m) => {
                if b <= m {
                    Class::Inside
                } else if a >= m {
                    Class::Outside
                } else {
                    Class::Split
                }
            }
            Shape::Range(s, e) => {
                if b <= s || a >= e {
                    Class::Outside
                } else if s <= a && b <= e {
                    Class::Inside
                } else {
                    Class::Split
                }
            }
        }
    }

    /// Number of proof nodes for the MMR of `leaves` leaves.
    pub(crate) fn node_count(self, leaves: u64) -> usize {
        fn count(shape: Shape, node: Node) -> usize {
            match shape.classify(&node) {
                Class::Inside => 0,
                Class::Outside => 1,
                Class::Split => {
                    let (l, r) = node.children();
                    count(shape, l) + count(shape, r)
                }
            }
        }
        mountains(leaves).map(|m| count(self, m)).sum()
    }

    /// The proof nodes for the MMR of `leaves` leaves, read from `store`.
    pub(crate) fn collect<S: NodeStore + ?Sized>(self, store: &S, leaves: u64) -> Result<Vec<Hash>, ProofError> {
        fn walk<S: NodeStore + ?Sized>(
            shape: Shape,
            store: &S,
            node: Node,
            out: &mut Vec<Hash>,
        ) -> Result<(), ProofError> {
            match shape.classify(&node) {
                Class::Inside => Ok(()),
                Class::Outside => {
                    out.push(store.node(node.pos).ok_or(ProofError::MissingNode(node.pos))?);
                    Ok(())
                }
                Class::Split => {
                    let (l, r) = node.children();
                    walk(shape, store, l, out)?;
                    walk(shape, store, r, out)
                }
            }
        }
        let mut out = Vec::with_capacity(self.node_count(leaves));
        for m in mountains(leaves) {
            walk(self, store, m, &mut out)?;
        }
        Ok(out)
    }

    /// Recomputes every peak of the MMR of `leaves` leaves into `peaks` (which must have room
    /// for `popcount(leaves)` hashes) from what is known and the proof nodes; with `path`
    /// (a leaf that is known, and where to put its path), also collects that leaf's siblings,
    /// bottom up. Callers check the counts first; running short still returns an error rather
    /// than panicking.
    pub(crate) fn compute(
        self,
        leaves: u64,
        known: &mut Known<'_>,
        nodes: &[Hash],
        peaks: &mut [Hash],
        mut path: Option<(u64, &mut Vec<Hash>)>,
    ) -> Result<(), ProofError> {
        let expected = self.node_count(leaves);
        let mut nodes = nodes.iter();
        for (slot, m) in peaks.iter_mut().zip(mountains(leaves)) {
            *slot = match &mut path {
                Some((target, path)) if holds(&m, *target) => {
                    self.hash_on_path(m, known, &mut nodes, expected, *target, path)?
                }
                _ => self.hash(m, known, &mut nodes, expected)?,
            };
        }
        if nodes.len() != 0 {
            return Err(ProofError::WrongNodeCount { expected, found: expected + nodes.len() });
        }
        Ok(())
    }

    /// The hash of `node`, which holds leaf `target`, pushing the sibling of every node on the
    /// way down to it into `path` (bottom up, as the recursion returns).
    fn hash_on_path(
        self,
        node: Node,
        known: &mut Known<'_>,
        nodes: &mut core::slice::Iter<'_, Hash>,
        expected: usize,
        target: u64,
        path: &mut Vec<Hash>,
    ) -> Result<Hash, ProofError> {
        if node.height == 0 {
            return self.hash(node, known, nodes, expected);
        }
        let (l, r) = node.children();
        let on_left = holds(&l, target);
        let left = if on_left {
            self.hash_on_path(l, known, nodes, expected, target, path)?
        } else {
            self.hash(l, known, nodes, expected)?
        };
        let right = if on_left {
            self.hash(r, known, nodes, expected)?
        } else {
            self.hash_on_path(r, known, nodes, expected, target, path)?
        };
        path.push(if on_left { right } else { left });
        Ok(mmr_node(&left, &right))
    }

    fn hash(
        self,
        node: Node,
        known: &mut Known<'_>,
        nodes: &mut core::slice::Iter<'_, Hash>,
        expected: usize,
    ) -> Result<Hash, ProofError> {
        match self.classify(&node) {
            Class::Inside => known.subtree(node),
            Class::Outside => {
                nodes.next().copied().ok_or(ProofError::WrongNodeCount { expected, found: expected - nodes.len() })
            }
            Class::Split => {
                let (l, r) = node.children();
                let left = self.hash(l, known, nodes, expected)?;
                let right = self.hash(r, known, nodes, expected)?;
                Ok(mmr_node(&left, &right))
            }
        }
    }
}

/// Whether leaf `leaf` is under `node`.
fn holds(node: &Node, leaf: u64) -> bool {
    node.first_leaf <= leaf && leaf < node.end_leaf()
}

/// The verifier's known subtrees.
pub(crate) enum Known<'a> {
    /// Old peaks, consumed left to right.
    Peaks(core::slice::Iter<'a, Hash>),
    /// The leaf hashes of `start..`.
    Leaves {
        /// Index of the first leaf.
        start: u64,
        /// Their hashes.
        hashes: &'a [Hash],
    },
}

impl Known<'_> {
    fn subtree(&mut self, node: Node) -> Result<Hash, ProofError> {
        match self {
            Known::Peaks(it) => {
                let found = it.len();
                it.next().copied().ok_or(ProofError::WrongPeakCount { expected: found + 1, found })
            }
            Known::Leaves { start, hashes } => {
                let from = usize::try_from(node.first_leaf - *start).unwrap_or(usize::MAX);
                let to = from.saturating_add(usize::try_from(node.leaf_count()).unwrap_or(usize::MAX));
                let leaves = hashes.get(from..to).ok_or(ProofError::WrongLeafCount {
                    expected: node.end_leaf() - *start,
                    found: hashes.len() as u64,
                })?;
                Ok(subtree_root(leaves))
            }
        }
    }
}

/// Root of the perfect tree over `leaves` (a power of two, at least one).
fn subtree_root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => Hash::ZERO,
        [one] => *one,
        [a, b] => mmr_node(a, b),
        _ => {
            let (l, r) = leaves.split_at(leaves.len() / 2);
            mmr_node(&subtree_root(l), &subtree_root(r))
        }
    }
}
