//! [`MemStore`] as the [`FeedSource`] of XSP sessions.

use super::MemStore;
use crate::head::{AuthorId, SignedHead};
use crate::mmr::{ConsistencyProof, InclusionProof, MmrPeaks, RangeProof};
use crate::xsp::FeedSource;

/// Serves every feed held that is not forked and has a signed head; fetches what
/// [`MemStore::wants`] says.
impl FeedSource for MemStore {
    fn for_each_head(&self, f: &mut dyn FnMut(&SignedHead)) {
        for feed in self.feeds.iter().filter(|feed| !feed.forked) {
            if let Some(h) = &feed.head {
                f(h);
            }
        }
    }

    fn head(&self, author: &AuthorId) -> Option<SignedHead> {
        self.feed(author).filter(|f| !f.forked).and_then(|f| f.head)
    }

    fn prefix(&self, author: &AuthorId) -> Option<MmrPeaks> {
        self.feed(author).filter(|f| f.len() > 0).map(|f| f.peaks().clone())
    }

    fn locate(&self, author: &AuthorId, seq: u64) -> Option<(u64, u64)> {
        self.feed(author)?.locate(seq)
    }

    fn with_page(&self, author: &AuthorId, page: u64, f: &mut dyn FnMut(&[u8])) -> bool {
        self.feed(author).is_some_and(|feed| feed.with_page(page, f))
    }

    fn consistency_proof(&self, author: &AuthorId, old: u64, new: u64) -> Option<ConsistencyProof> {
        self.feed(author)?.consistency_proof(old, new).ok()
    }

    fn inclusion_proof(&self, author: &AuthorId, leaves: u64, index: u64) -> Option<InclusionProof> {
        self.feed(author)?.inclusion_proof(leaves, index).ok()
    }

    fn range_proof(&self, author: &AuthorId, leaves: u64, start: u64, end: u64) -> Option<RangeProof> {
        self.feed(author)?.range_proof(leaves, start, end).ok()
    }

    fn pending_head(&self, author: &AuthorId) -> Option<SignedHead> {
        self.feed(author).filter(|f| !f.forked).and_then(|f| f.pending.as_ref()).map(|p| p.head)
    }

    fn wants(&self, author: &AuthorId) -> bool {
        MemStore::wants(self, author)
    }

    /// Pages are built in memory (a restore checks the images it is given, checksums
    /// included), so their checksums need no recomputing when served.
    fn pages_checksum_verified(&self) -> bool {
        true
    }
}
