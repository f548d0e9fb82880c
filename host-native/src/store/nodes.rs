//! MMR nodes for proofs: which are stored, and where a proof finds each one.
//!
//! A feed's MMR has about two nodes per event. Storing all of them would write 64 bytes to the
//! index per event (a fifth of a 256-byte event's own size), so the index keeps only the nodes
//! of height [`STORED_MIN_HEIGHT`] and more (about one per 32 events). A proof finds a node:
//!
//! 1. in memory, if it was made since the last checkpoint (the writer keeps those);
//! 2. in the index (`mmr_nodes`), if its height is at least [`STORED_MIN_HEIGHT`];
//! 3. otherwise by recomputing it from the events: it is the root of a perfect subtree of
//!    fewer than [`BLOCK`] leaves, inside one aligned block of [`BLOCK`] events, whose leaf
//!    hashes are hashed from the events read in place. A reader caches the last block, so one
//!    inclusion proof recomputes at most one block (64 leaf hashes and 63 merges).
//!
//! The reader takes the feed's lock only briefly, per node, and never while reading events. The
//! writer trims its in-memory nodes only after the checkpoint that stored them committed, so a
//! node that has left memory is in the index: a miss in an older read transaction is retried
//! once in a new one.

use std::cell::RefCell;
use std::sync::Arc;

use redb::ReadableDatabase as _;
use xaeroflux_core::Hash;
use xaeroflux_core::hash::mmr_node;
use xaeroflux_core::mmr::{self, NodeStore, mmr_size};

use super::meta;
use super::state::{FeedState, Shared, read};
use crate::error::{IoError, ProveError, ReadError};

/// Nodes of this height and more are stored in the index; lower ones are recomputed.
pub(crate) const STORED_MIN_HEIGHT: u32 = 6;

/// Leaves of one aligned block: the subtree under a stored node of the lowest stored height.
pub(crate) const BLOCK: u64 = 1 << STORED_MIN_HEIGHT;

/// Height of the node at post-order position `pos` (0 for a leaf).
pub(crate) fn height(pos: u64) -> u32 {
    // With 1-based positions, the root of a perfect tree of height h is at 2^(h+1) - 1; any
    // other node is found by jumping left over the largest perfect tree before it.
    let mut x = pos.wrapping_add(1);
    loop {
        if x == 0 || x == u64::MAX {
            return 63;
        }
        if (x + 1).is_power_of_two() {
            return 63 - x.leading_zeros();
        }
        let top = 1u64 << (63 - x.leading_zeros());
        x -= top - 1;
    }
}

/// Positions of the stored nodes (those of height [`STORED_MIN_HEIGHT`] and more) among
/// `base..end`, where `base` is the size of an MMR, in increasing order.
///
/// A checkpoint stores about one node per 32 events made since the last one (one node in 64);
/// walking only those, rather than testing each position's height, keeps it off the ingest's
/// profile.
/// Appending the leaf of index `j - 1` makes `j.trailing_zeros()` merges, of heights 1, 2, …,
/// at the positions right after the leaf's; those of height [`STORED_MIN_HEIGHT`] and more
/// come only when `j` is a multiple of [`BLOCK`].
pub(crate) fn stored_positions(base: u64, end: u64) -> impl Iterator<Item = u64> {
    let from = leaves_of_size(base);
    let first = (from / BLOCK).saturating_add(1).saturating_mul(BLOCK);
    let last = leaves_of_size(end);
    (first..=last)
        .step_by(BLOCK as usize)
        .flat_map(|j| {
            let leaf_pos = mmr_size(j - 1);
            (STORED_MIN_HEIGHT..=j.trailing_zeros()).map(move |h| leaf_pos + u64::from(h))
        })
        .filter(move |&pos| pos >= base && pos < end)
}

/// The number of leaves of an MMR of `size` nodes; for a size no MMR has, the number of the
/// smallest MMR larger than `size`.
fn leaves_of_size(size: u64) -> u64 {
    // `mmr_size(i) = 2i - popcount(i)` is increasing in `i`, with `i` within 64 of `size / 2`.
    let mut i = size / 2;
    while mmr_size(i) < size {
        i += 1;
    }
    i
}

/// Index of the leftmost leaf under the node at `pos` of height `h`.
fn first_leaf(pos: u64, h: u32) -> Option<u64> {
    let leaf_pos = pos.checked_sub((1u64 << (h + 1)) - 2)?;
    // The leaf of index i is at mmr_size(i) = 2i - popcount(i), strictly increasing in i, and
    // i lies in leaf_pos/2 ..= leaf_pos/2 + 32.
    let mut i = leaf_pos / 2;
    while mmr_size(i) < leaf_pos {
        i += 1;
    }
    (mmr_size(i) == leaf_pos).then_some(i)
}

/// The index's node table, as a reader holds it.
type NodeTable = redb::ReadOnlyTable<(u32, u64), &'static [u8]>;

/// The recomputed nodes of one block: `levels[h][k]` is the node of height `h` over leaves
/// `start + k·2^h ..`.
#[derive(Default)]
struct Block {
    start: u64,
    levels: Vec<Vec<Hash>>,
}

/// The nodes of one feed's MMR of `leaves` leaves, for [`mmr`]'s proof functions.
pub(crate) struct NodeReader<'a> {
    shared: &'a Shared,
    feed: Arc<FeedState>,
    leaves: u64,
    size: u64,
    table: RefCell<Option<NodeTable>>,
    block: RefCell<Option<Block>>,
    error: RefCell<Option<ProveError>>,
}

impl<'a> NodeReader<'a> {
    /// A reader of the first `leaves` leaves' nodes (`leaves` at most the published length).
    pub(crate) fn new(shared: &'a Shared, feed: Arc<FeedState>, leaves: u64) -> Self {
        NodeReader {
            shared,
            feed,
            leaves,
            size: mmr_size(leaves),
            table: RefCell::new(None),
            block: RefCell::new(None),
            error: RefCell::new(None),
        }
    }

    /// The proof function's result, or the error that made a node unavailable.
    pub(crate) fn result<T>(&self, r: Result<T, mmr::ProofError>) -> Result<T, ProveError> {
        if let Some(e) = self.error.borrow_mut().take() {
            return Err(e);
        }
        r.map_err(ProveError::Mmr)
    }

    fn fail(&self, e: ProveError) -> Option<Hash> {
        self.error.borrow_mut().get_or_insert(e);
        None
    }

    /// A stored node, from the index.
    fn stored(&self, pos: u64) -> Option<Hash> {
        let ix = |e: redb::Error| ProveError::Io(IoError::index("read MMR nodes", e));
        for fresh in [false, true] {
            let mut table = self.table.borrow_mut();
            if fresh || table.is_none() {
                let txn = match self.shared.db.begin_read() {
                    Ok(t) => t,
                    Err(e) => return self.fail(ix(e.into())),
                };
                match txn.open_table(meta::NODES) {
                    Ok(t) => *table = Some(t),
                    Err(e) => return self.fail(ix(e.into())),
                }
            }
            let t = table.as_ref()?;
            match t.get((self.feed.idx, pos)) {
                Ok(Some(v)) => return v.value().try_into().ok().map(Hash),
                Ok(None) => continue,
                Err(e) => return self.fail(ix(e.into())),
            }
        }
        None
    }

    /// A low node, recomputed from the events of its block.
    fn recomputed(&self, pos: u64, h: u32) -> Option<Hash> {
        let first = first_leaf(pos, h)?;
        let start = first - first % BLOCK;
        let mut cache = self.block.borrow_mut();
        if cache.as_ref().is_none_or(|b| b.start != start) {
            let mut b = cache.take().unwrap_or_default();
            if let Err(e) = self.compute(&mut b, start) {
                return self.fail(e);
            }
            *cache = Some(b);
        }
        let b = cache.as_ref()?;
        b.levels.get(h as usize)?.get(usize::try_from((first - start) >> h).ok()?).copied()
    }

    fn compute(&self, b: &mut Block, start: u64) -> Result<(), ProveError> {
        let end = (start + BLOCK).min(self.leaves);
        b.start = start;
        b.levels.resize_with(STORED_MIN_HEIGHT as usize, Vec::new);
        let (first, rest) = b.levels.split_first_mut().ok_or(ProveError::Mmr(mmr::ProofError::MissingNode(0)))?;
        first.clear();
        for seq in start..end {
            match self.shared.event(&self.feed, seq) {
                Ok(Some(ev)) => first.push(ev.leaf_hash()),
                Ok(None) => {
                    return Err(ProveError::Read(ReadError::OutOfRange { requested: seq..seq + 1, len: self.leaves }));
                }
                Err(e) => return Err(ProveError::Read(e)),
            }
        }
        let mut below: &Vec<Hash> = first;
        for level in rest.iter_mut() {
            level.clear();
            level.extend(below.chunks_exact(2).map(|p| mmr_node(&p[0], &p[1])));
            below = level;
        }
        Ok(())
    }
}

impl NodeStore for NodeReader<'_> {
    fn node(&self, pos: u64) -> Option<Hash> {
        if pos >= self.size {
            return None;
        }
        {
            let inner = read(&self.feed.inner);
            if pos >= inner.node_base {
                return inner.nodes.get(usize::try_from(pos - inner.node_base).ok()?).copied();
            }
        }
        match height(pos) {
            h if h >= STORED_MIN_HEIGHT => self.stored(pos),
            h => self.recomputed(pos, h),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xaeroflux_core::mmr::leaf_to_pos;

    /// Heights and leftmost leaves from a naive walk of the post-order numbering.
    #[test]
    fn height_and_first_leaf_match_a_naive_numbering() {
        // Build positions by appending leaves and their completed parents.
        let mut naive: Vec<(u32, u64)> = Vec::new(); // per position: (height, first leaf)
        let mut stack: Vec<(u32, u64)> = Vec::new();
        for leaf in 0..5000u64 {
            assert_eq!(leaf_to_pos(leaf), naive.len() as u64);
            naive.push((0, leaf));
            stack.push((0, leaf));
            while stack.len() >= 2 && stack[stack.len() - 1].0 == stack[stack.len() - 2].0 {
                let (h, _) = stack.pop().unwrap();
                let (_, first) = stack.pop().unwrap();
                naive.push((h + 1, first));
                stack.push((h + 1, first));
            }
        }
        for (pos, &(h, first)) in naive.iter().enumerate() {
            let pos = pos as u64;
            assert_eq!(height(pos), h, "height of {pos}");
            assert_eq!(first_leaf(pos, h), Some(first), "first leaf of {pos}");
        }
        assert_eq!(height(u64::MAX), 63);
        assert_eq!(height(u64::MAX - 1), 63);
    }

    fn stored_naive(base: u64, end: u64) -> Vec<u64> {
        (base..end).filter(|&p| height(p) >= STORED_MIN_HEIGHT).collect()
    }

    /// Every pair of MMR sizes up to 700 leaves (ten blocks and more), and sizes no MMR has.
    #[test]
    fn stored_positions_match_a_scan_of_heights() {
        let sizes: Vec<u64> = (0..=700).map(mmr_size).collect();
        for (a, &base) in sizes.iter().enumerate().step_by(7) {
            for &end in &sizes[a..] {
                assert_eq!(stored_positions(base, end).collect::<Vec<_>>(), stored_naive(base, end), "{base}..{end}");
            }
        }
        for end in 0..2000 {
            assert_eq!(stored_positions(0, end).collect::<Vec<_>>(), stored_naive(0, end), "0..{end}");
        }
    }

    proptest::proptest! {
        /// Large MMRs (sizes near 2^40 and beyond), where a checkpoint spans many blocks.
        #[test]
        fn stored_positions_match_a_scan_far_out(from in 0u64..1 << 40, more in 0u64..3000) {
            let (base, end) = (mmr_size(from), mmr_size(from + more));
            proptest::prop_assert_eq!(stored_positions(base, end).collect::<Vec<_>>(), stored_naive(base, end));
        }
    }
}
