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

    /// The signed head that the events held past [`head`](Self::head) were verified against,
    /// if the store keeps it: an interrupted sync leaves events past the latest complete head,
    /// verified against a longer head of the peer (the memstore's pending head). The session
    /// checks the peer's heads against it as against `head`, so a peer's head that contradicts
    /// the events held is a fork, not a failed verification. Default: `None`.
    fn pending_head(&self, author: &AuthorId) -> Option<SignedHead> {
        let _ = author;
        None
    }

    /// Whether to fetch `author`'s feed when a peer announces it (default: every feed).
    fn wants(&self, author: &AuthorId) -> bool {
        let _ = author;
        true
    }

    /// Whether this session may fetch `author`'s feed up to `length` events now. A host that
    /// runs several sessions at once answers `false` while another of its sessions is
    /// fetching that feed at least as far, so the events are not downloaded twice; the want
    /// is then deferred, and tried again on the next [`Session::feed_updated`] of `author`
    /// (which the host calls as the other session stores events, and when that session ends)
    /// or the next head of `author` from the peer. The session asks once per want it sends,
    /// and again, ignoring the answer, when the peer of a live want announces a longer head
    /// (the peer pushes those events on that want: the host extends the claim to them).
    /// Default: `true` (every want goes out).
    ///
    /// [`Session::feed_updated`]: super::Session::feed_updated
    fn claim_want(&self, author: &AuthorId, length: u64) -> bool {
        let _ = (author, length);
        true
    }

    /// Whether every image [`with_page`](Self::with_page) hands out has had its checksum
    /// verified by the store already (a store that checks each page when it first reads it
    /// from disk, or one that builds its pages in memory). The session then does not
    /// recompute page checksums when it serves pages ([`PageRef::parse_checksum_verified`]);
    /// every other check of a page is still made, and the receiving side verifies every event
    /// against a signed head either way. Default: `false`.
    ///
    /// [`PageRef::parse_checksum_verified`]: crate::page::PageRef::parse_checksum_verified
    fn pages_checksum_verified(&self) -> bool {
        false
    }
}

/// Forwards every method through a pointer-like wrapper.
macro_rules! forward {
    ($($(#[$m:meta])* [$($gen:tt)*] $ty:ty => |$s:ident| $inner:expr;)*) => {$(
        $(#[$m])*
        impl<$($gen)*> FeedSource for $ty {
            fn for_each_head(&self, f: &mut dyn FnMut(&SignedHead)) {
                let $s = self;
                $inner.for_each_head(f)
            }
            fn head(&self, author: &AuthorId) -> Option<SignedHead> {
                let $s = self;
                $inner.head(author)
            }
            fn prefix(&self, author: &AuthorId) -> Option<MmrPeaks> {
                let $s = self;
                $inner.prefix(author)
            }
            fn locate(&self, author: &AuthorId, seq: u64) -> Option<(u64, u64)> {
                let $s = self;
                $inner.locate(author, seq)
            }
            fn with_page(&self, author: &AuthorId, page: u64, f: &mut dyn FnMut(&[u8])) -> bool {
                let $s = self;
                $inner.with_page(author, page, f)
            }
            fn consistency_proof(&self, author: &AuthorId, old: u64, new: u64) -> Option<ConsistencyProof> {
                let $s = self;
                $inner.consistency_proof(author, old, new)
            }
            fn inclusion_proof(&self, author: &AuthorId, leaves: u64, index: u64) -> Option<InclusionProof> {
                let $s = self;
                $inner.inclusion_proof(author, leaves, index)
            }
            fn range_proof(&self, author: &AuthorId, leaves: u64, start: u64, end: u64) -> Option<RangeProof> {
                let $s = self;
                $inner.range_proof(author, leaves, start, end)
            }
            fn pending_head(&self, author: &AuthorId) -> Option<SignedHead> {
                let $s = self;
                $inner.pending_head(author)
            }
            fn wants(&self, author: &AuthorId) -> bool {
                let $s = self;
                $inner.wants(author)
            }
            fn claim_want(&self, author: &AuthorId, length: u64) -> bool {
                let $s = self;
                $inner.claim_want(author, length)
            }
            fn pages_checksum_verified(&self) -> bool {
                let $s = self;
                $inner.pages_checksum_verified()
            }
        }
    )*};
}

forward! {
    [T: FeedSource + ?Sized] &T => |s| (**s);
    [T: FeedSource + ?Sized] alloc::boxed::Box<T> => |s| (**s);
    [T: FeedSource + ?Sized] alloc::rc::Rc<T> => |s| (**s);
    #[cfg(target_has_atomic = "ptr")]
    [T: FeedSource + ?Sized] alloc::sync::Arc<T> => |s| (**s);
    /// Borrows the cell inside each call (the session only reads its source inside its own
    /// calls, so a store shared by several sessions as `Rc<RefCell<_>>` is written between
    /// them). Panics if the cell is mutably borrowed during a session call: a bug of the host.
    [T: FeedSource + ?Sized] core::cell::RefCell<T> => |s| s.borrow();
}
