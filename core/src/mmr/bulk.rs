//! Appending many leaves at once: the new nodes are computed level by level, each level's
//! merges side by side across SIMD lanes ([`mmr_nodes_into`]), instead of one merge after
//! another as [`MmrPeaks::append`] must.
//!
//! At height `h`, the nodes that exist are indices `0..(leaves >> h)`; appending leaves
//! `old..new` adds indices `(old >> h)..(new >> h)`. Nodes `2m` and `2m + 1` of height `h`
//! merge into node `m` of height `h + 1`. The first new node of a level pairs with the old
//! peak of that height when the old MMR has one (bit `h` of `old`); an unpaired last node is
//! a peak of the new MMR. A level with no new node leaves everything above it unchanged.

use alloc::vec::Vec;

use super::pos::mmr_size;
use super::{MAX_LEAVES, MmrError, MmrPeaks};
use crate::hash::{Hash, mmr_nodes_into};

/// Leaves taken per pass: a pass works in two stack arrays of this many hashes (4 KiB), so
/// bulk appends never allocate (except the peak list, as [`MmrPeaks::append`]).
const PASS: usize = 64;

/// Position of node `index` of height `height`: it is created by appending leaf
/// `((index + 1) << height) - 1`, whose position is `mmr_size` of that leaf index, and
/// `height` merges follow it.
fn node_pos(height: u32, index: u64) -> u64 {
    mmr_size(((index + 1) << height) - 1) + u64::from(height)
}

impl MmrPeaks {
    /// Appends every leaf of `leaves`, as many [`MmrPeaks::append`] calls would, but merging
    /// nodes many at a time across SIMD lanes: several times faster for long runs.
    ///
    /// Fails with [`MmrError::Full`], changing nothing, if the result would hold more than
    /// [`MAX_LEAVES`] leaves.
    pub fn extend_from_slice(&mut self, leaves: &[Hash]) -> Result<(), MmrError> {
        self.extend_with(leaves, |_, _| {})
    }

    /// [`MmrPeaks::extend_from_slice`], reporting every node it creates as `(position,
    /// hash)`, as [`MmrPeaks::append_with`] does — each node exactly once, but in level
    /// order within runs of up to 64 leaves rather than in position order.
    pub fn extend_with(&mut self, leaves: &[Hash], mut new_node: impl FnMut(u64, &Hash)) -> Result<(), MmrError> {
        let added = u64::try_from(leaves.len()).unwrap_or(u64::MAX);
        if self.leaves.checked_add(added).is_none_or(|n| n > MAX_LEAVES) {
            return Err(MmrError::Full);
        }
        for run in leaves.chunks(PASS) {
            self.extend_run(run, &mut new_node);
        }
        Ok(())
    }

    /// [`MmrPeaks::extend_from_slice`], keeping every new node in `nodes`: the MMR's nodes in
    /// position order, all of them or the last `nodes.len()` (those since some position),
    /// up to the current size. The list grows by exactly the new nodes, each at its position.
    ///
    /// Fails, changing nothing, with [`MmrError::Full`] past [`MAX_LEAVES`] leaves, or with
    /// [`MmrError::NodeListTooLong`] if `nodes` holds more nodes than the MMR has.
    pub fn extend_node_list(&mut self, leaves: &[Hash], nodes: &mut Vec<Hash>) -> Result<(), MmrError> {
        let added = u64::try_from(leaves.len()).unwrap_or(u64::MAX);
        let new = self.leaves.checked_add(added).filter(|&n| n <= MAX_LEAVES).ok_or(MmrError::Full)?;
        let size = mmr_size(self.leaves);
        let held = nodes.len();
        // Position of `nodes[0]`.
        let first = usize::try_from(size)
            .ok()
            .and_then(|s| s.checked_sub(held))
            .ok_or(MmrError::NodeListTooLong { nodes: held, size })?;
        let new_size = usize::try_from(mmr_size(new)).map_err(|_| MmrError::Full)?;
        nodes.resize(new_size - first, Hash::ZERO);
        let result = self.extend_with(leaves, |pos, h| {
            // Every position in `size..mmr_size(new)` is reported once.
            if let Some(slot) = usize::try_from(pos).ok().and_then(|p| nodes.get_mut(p.checked_sub(first)?)) {
                *slot = *h;
            }
        });
        if result.is_err() {
            nodes.truncate(held);
        }
        result
    }

    /// One pass over at most [`PASS`] leaves (the caller checked the leaf limit).
    fn extend_run(&mut self, leaves: &[Hash], new_node: &mut impl FnMut(u64, &Hash)) {
        let old = self.leaves;
        let new = old + leaves.len() as u64;
        // `level[1..=len]` holds the new nodes of the current height; `level[0]` takes the
        // old peak of that height when there is one, so that pairs are adjacent.
        let mut level = [Hash::ZERO; PASS + 1];
        let mut merged = [Hash::ZERO; PASS / 2];
        let mut unpaired = [Hash::ZERO; 64];
        level[1..=leaves.len()].copy_from_slice(leaves);
        let mut len = leaves.len();
        let mut height = 0u32;
        while len > 0 {
            let first = old >> height;
            for (i, node) in level[1..=len].iter().enumerate() {
                new_node(node_pos(height, first + i as u64), node);
            }
            let start = if (old >> height) & 1 == 1 {
                // The old peak of this height is the last entry of the peak list: every
                // lower peak was consumed by the levels below.
                level[0] = self.peaks.pop().unwrap_or(Hash::ZERO);
                0
            } else {
                1
            };
            let run = &level[start..=len];
            let pairs = run.len() / 2;
            if run.len() % 2 == 1 {
                unpaired[height as usize] = run[run.len() - 1];
            }
            mmr_nodes_into(&run[..2 * pairs], &mut merged[..pairs]);
            level[1..=pairs].copy_from_slice(&merged[..pairs]);
            len = pairs;
            height += 1;
        }
        // Heights at and above `height` are unchanged; below, the new peaks are the
        // unpaired nodes, highest first.
        for h in (0..height).rev() {
            if (new >> h) & 1 == 1 {
                self.peaks.push(unpaired[h as usize]);
            }
        }
        self.leaves = new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn leaves(n: u64, salt: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&(i ^ (salt << 32)).to_le_bytes())).collect()
    }

    /// One leaf at a time, nodes in position order: the model.
    fn one_by_one(start: &MmrPeaks, new: &[Hash]) -> (MmrPeaks, Vec<(u64, Hash)>) {
        let mut p = start.clone();
        let mut nodes = Vec::new();
        for l in new {
            p.append_with(*l, |pos, h| nodes.push((pos, *h)));
        }
        (p, nodes)
    }

    fn check(old: u64, added: u64) {
        let mut start = MmrPeaks::new();
        start.extend_from_slice(&leaves(old, 1)).unwrap();
        assert_eq!(start, one_by_one(&MmrPeaks::new(), &leaves(old, 1)).0, "old = {old}");
        let new = leaves(added, 2);
        let (expected, mut expected_nodes) = one_by_one(&start, &new);
        let mut bulk = start.clone();
        let mut nodes = Vec::new();
        bulk.extend_with(&new, |pos, h| nodes.push((pos, *h))).unwrap();
        assert_eq!(bulk, expected, "old = {old}, added = {added}");
        nodes.sort_by_key(|n| n.0);
        expected_nodes.sort_by_key(|n| n.0);
        assert_eq!(nodes, expected_nodes, "old = {old}, added = {added}");
    }

    #[test]
    fn matches_one_by_one_on_every_small_size() {
        for old in 0..70 {
            for added in 0..140 {
                check(old, added);
            }
        }
    }

    #[test]
    fn matches_one_by_one_past_a_pass() {
        for (old, added) in [(0, 1000), (1, 1000), (63, 129), (1023, 1), (1023, 2), (4095, 4097), (12345, 777)] {
            check(old, added);
        }
    }

    #[test]
    fn node_list_from_any_position_grows_by_the_new_nodes() {
        let (a, b) = (leaves(100, 5), leaves(300, 6));
        let mut full = super::super::Mmr::new();
        a.iter().chain(&b).for_each(|l| {
            full.append(*l);
        });
        for kept in [0usize, 1, 50, 197] {
            let mut peaks = MmrPeaks::new();
            let mut all = Vec::new();
            peaks.extend_node_list(&a, &mut all).unwrap();
            let mut tail = all[all.len() - kept..].to_vec();
            peaks.extend_node_list(&b, &mut tail).unwrap();
            let start = full.nodes().len() - tail.len();
            assert_eq!(tail.as_slice(), &full.nodes()[start..], "kept {kept}");
            assert_eq!(tail.len() - kept, full.nodes().len() - all.len());
            assert_eq!(peaks, *full.peaks());
        }
        // A list longer than the MMR is refused, and nothing changes.
        let mut peaks = MmrPeaks::new();
        peaks.extend_from_slice(&a).unwrap();
        let before = peaks.clone();
        let mut too_long = alloc::vec![Hash::ZERO; 198];
        assert_eq!(peaks.extend_node_list(&b, &mut too_long), Err(MmrError::NodeListTooLong { nodes: 198, size: 197 }));
        assert_eq!((peaks, too_long.len()), (before, 198));
    }

    #[test]
    fn refuses_to_pass_the_limit_and_changes_nothing() {
        let mut almost = MmrPeaks::from_parts(MAX_LEAVES - 1, alloc::vec![Hash::ZERO; 63]).unwrap();
        let before = almost.clone();
        assert_eq!(almost.extend_from_slice(&[Hash::ZERO, Hash::ZERO]), Err(MmrError::Full));
        assert_eq!(almost, before);
        almost.extend_from_slice(&[Hash::ZERO]).unwrap();
        assert_eq!(almost.leaves(), MAX_LEAVES);
        assert_eq!(almost.peaks().len(), 1);
    }

    #[test]
    fn mmr_extend_keeps_every_node_at_its_position() {
        for (old, added) in [(0, 0), (0, 1), (5, 60), (64, 64), (100, 1000)] {
            let (a, b) = (leaves(old, 3), leaves(added, 4));
            let mut one = super::super::Mmr::new();
            a.iter().chain(&b).for_each(|l| {
                one.append(*l);
            });
            let mut bulk = super::super::Mmr::new();
            bulk.extend_from_slice(&a).unwrap();
            bulk.extend_from_slice(&b).unwrap();
            assert_eq!(bulk, one, "old = {old}, added = {added}");
        }
    }

    proptest! {
        #[test]
        fn any_split_matches(old in 0u64..5000, added in 0u64..600) {
            check(old, added);
        }
    }
}
