//! [`CoreSource`]: the native store read through XSP's [`FeedSource`] trait.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use xaeroflux_core::mmr::{ConsistencyProof, InclusionProof, MmrPeaks, RangeProof};
use xaeroflux_core::xsp::FeedSource;
use xaeroflux_core::{AuthorId, SignedHead};

use super::claims::ClaimHandle;
use super::follow::Follows;
use crate::Core;
use crate::store::state::read;

/// A session's view of the store: every feed it holds with a signed head is served; a feed a
/// peer announces is fetched as [`fetches`] says.
///
/// Each call reads the store as it is now (the session calls it only inside its own methods):
/// pages come from the memory maps, proofs from the MMR nodes, and nothing is cached here.
pub(crate) struct CoreSource {
    core: Arc<Core>,
    forked: Forked,
    follows: Follows,
    /// The session's claims on the feeds it fetches (shared with the node's other sessions).
    claims: ClaimHandle,
}

impl CoreSource {
    pub(crate) fn new(core: Arc<Core>, forked: Forked, follows: Follows, claims: ClaimHandle) -> Self {
        CoreSource { core, forked, follows, claims }
    }
}

/// Whether sync fetches `author`'s feed into `core`: not the store's own feed, not a forked
/// author's, and (with [`Replication::Followed`](super::Replication::Followed)) only a followed
/// author's.
pub(crate) fn fetches(core: &Core, forked: &Forked, follows: &Follows, author: &AuthorId) -> bool {
    *author != core.author() && !forked.contains(author) && follows.allows(author)
}

/// The authors this node knows to have forked: found by one of its sessions in this run
/// (known at once, while the evidence is being recorded), or recorded in the store (by a
/// session, by the application with [`Core::record_fork`], or in an earlier run). Their feeds
/// are neither fetched nor served nor announced.
#[derive(Clone)]
pub(crate) struct Forked {
    found: Arc<RwLock<HashSet<AuthorId>>>,
    core: Arc<Core>,
}

impl Forked {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Forked { found: Arc::default(), core }
    }

    /// Notes that a session found `author` forked.
    pub(crate) fn found(&self, author: AuthorId) {
        self.found.write().unwrap_or_else(|p| p.into_inner()).insert(author);
    }

    pub(crate) fn contains(&self, author: &AuthorId) -> bool {
        read(&self.found).contains(author) || self.core.is_forked(author)
    }
}

impl FeedSource for CoreSource {
    fn for_each_head(&self, f: &mut dyn FnMut(&SignedHead)) {
        for info in self.core.feeds() {
            if self.forked.contains(&info.author) {
                continue;
            }
            if let Some(h) = self.core.feed_head(&info.author) {
                f(&h);
            }
        }
    }

    fn head(&self, author: &AuthorId) -> Option<SignedHead> {
        self.core.feed_head(author)
    }

    fn prefix(&self, author: &AuthorId) -> Option<MmrPeaks> {
        self.core.feed_peaks(author)
    }

    fn locate(&self, author: &AuthorId, seq: u64) -> Option<(u64, u64)> {
        self.core.locate_page(author, seq).ok()
    }

    fn with_page(&self, author: &AuthorId, page: u64, f: &mut dyn FnMut(&[u8])) -> bool {
        matches!(self.core.with_page_image(author, page, |img| f(img)), Ok(Some(())))
    }

    /// The store checks a page (checksum included) the first time it reads it from disk,
    /// and reports a damaged one as an error instead of handing it out; pages it wrote
    /// itself were checksummed as they were written.
    fn pages_checksum_verified(&self) -> bool {
        true
    }

    fn consistency_proof(&self, author: &AuthorId, old: u64, new: u64) -> Option<ConsistencyProof> {
        self.core.consistency_proof_between(author, old, new).ok()
    }

    fn inclusion_proof(&self, author: &AuthorId, leaves: u64, index: u64) -> Option<InclusionProof> {
        self.core.inclusion_proof_at(author, leaves, index).ok()
    }

    fn range_proof(&self, author: &AuthorId, leaves: u64, start: u64, end: u64) -> Option<RangeProof> {
        self.core.range_proof_at(author, leaves, start, end).ok()
    }

    fn wants(&self, author: &AuthorId) -> bool {
        fetches(&self.core, &self.forked, &self.follows, author)
    }

    fn claim_want(&self, author: &AuthorId, length: u64) -> bool {
        self.claims.claim(author, length, self.core.feed_len(author), std::time::Instant::now())
    }
}
