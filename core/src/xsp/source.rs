//! What a session needs from the local store: [`FeedSource`].

use crate::head::{AuthorId, SignedHead};
use crate::mmr::{ConsistencyProof, InclusionProof, MmrPeaks, RangeProof};

/// Read access to the local store, for one session.
///
/// The session owns its source (a reference, an `Rc`, an `Arc` or a handle). It only reads
/// through it; the application stores what the session reports and then tells the
/// session with [`Session::feed_updated`](super::Session::feed_updated).
///
/// Call rules:
/// - every method answers about the store *as it is now*; the session calls them from
///   inside its own methods (`new`, `handle_input`, `poll_transmit`, `feed_updated`), never
///   later, so a source may lock briefly inside each call;
/// - [`head`](Self::head) of a feed is a signed head whose events the store holds in full,
///   and [`prefix`](Self::prefix) the peaks of every event it holds, verified (its length
///   may exceed the head's while a sync is under way);
/// - pages, locations and proofs must be of the feed as announced: a failure to serve
///   what was announced closes the session with `INTERNAL`.
pub trait FeedSource {
    /// Calls `f` with the head of every feed of the space this side can serve.
    fn for_each_head(&self, f: &mut dyn FnMut(&SignedHead));

    /// The latest signed head of `author` whose events are all held.
    fn head(&self, author: &AuthorId) -> Option<SignedHead>;

    /// The MMR peaks over every event of `author` held and verified (`None`: none).
    fn prefix(&self, author: &AuthorId) -> Option<MmrPeaks>;

    /// The page holding `seq` of `author`'s feed: `(page number, first seq of the page)`.
    fn locate(&self, author: &AuthorId, seq: u64) -> Option<(u64, u64)>;

    /// Calls `f` with the image of page `page` of `author`'s feed (a whole page as stored,
    /// `span × page_size` bytes). Returns `false` if there is no such page.
    fn with_page(&self, author: &AuthorId, page: u64, f: &mut dyn FnMut(&[u8])) -> bool;

    /// Proof that the feed's first `old` events are a prefix of its first `new`.
    fn consistency_proof(&self, author: &AuthorId, old: u64, new: u64) -> Option<ConsistencyProof>;

    /// Proof that event `index` is in the feed's first `leaves` events.
    fn inclusion_proof(&self, author: &AuthorId, leaves: u64, index: u64) -> Option<InclusionProof>;

    /// Proof that events `[start, end)` are in the feed's first `leaves` events.
    fn range_proof(&self, author: &AuthorId, leaves: u64, start: u64, end: u64) -> Option<RangeProof>;

    /// Whether to fetch `author`'s feed when a peer announces it (default: every feed).
    fn wants(&self, author: &AuthorId) -> bool {
        let _ = author;
        true
    }
}

impl<T: FeedSource + ?Sized> FeedSource for &T {
    fn for_each_head(&self, f: &mut dyn FnMut(&SignedHead)) {
        (**self).for_each_head(f)
    }
    fn head(&self, author: &AuthorId) -> Option<SignedHead> {
        (**self).head(author)
    }
    fn prefix(&self, author: &AuthorId) -> Option<MmrPeaks> {
        (**self).prefix(author)
    }
    fn locate(&self, author: &AuthorId, seq: u64) -> Option<(u64, u64)> {
        (**self).locate(author, seq)
    }
    fn with_page(&self, author: &AuthorId, page: u64, f: &mut dyn FnMut(&[u8])) -> bool {
        (**self).with_page(author, page, f)
    }
    fn consistency_proof(&self, author: &AuthorId, old: u64, new: u64) -> Option<ConsistencyProof> {
        (**self).consistency_proof(author, old, new)
    }
    fn inclusion_proof(&self, author: &AuthorId, leaves: u64, index: u64) -> Option<InclusionProof> {
        (**self).inclusion_proof(author, leaves, index)
    }
    fn range_proof(&self, author: &AuthorId, leaves: u64, start: u64, end: u64) -> Option<RangeProof> {
        (**self).range_proof(author, leaves, start, end)
    }
    fn wants(&self, author: &AuthorId) -> bool {
        (**self).wants(author)
    }
}
