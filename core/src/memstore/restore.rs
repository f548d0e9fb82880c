//! Persisting a [`MemStore`] and rebuilding it: [`FeedState`] and [`Restore`].
//!
//! What to save, per feed: its page images ([`MemStore::page`]; page *k* changes only while
//! it is the last page, so after a write save the pages from the one holding the first new
//! event on) and its [`FeedState`] (the signed head and the pending head,
//! [`FeedState::encode`]). Per store: the fork evidence ([`MemStore::forks`],
//! `ForkEvidence::encode`) and, to keep the local arrival order, the
//! [`arrival runs`](MemStore::arrival_runs) ([`ArrivalRun::encode`]). Rebuilding verifies all of
//! it again, so a damaged or tampered copy is refused rather than served. The byte formats
//! and the checks are in `docs/memstore.md` of the repository.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use super::feed::{Feed, PendingHead};
use super::{ArrivalRun, FeedStateDecodeError, MemStore, RestoreError, Run};
use crate::hash::Hash;
use crate::head::{AuthorId, AuthorKey, SIGNED_HEAD_LEN, SignedHead};
use crate::mmr::ConsistencyProof;
use crate::page::{PageConfig, PageRef};
use crate::xsp::{ForkEvidence, ForkEvidenceError};

/// What a store knows about one feed besides its pages: save it with the pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedState {
    /// The author.
    pub author: AuthorId,
    /// Events held (a cross-check for the pages).
    pub len: u64,
    /// The latest signed head whose events are all held.
    pub head: Option<SignedHead>,
    /// A head past the events held, with its proof (an interrupted sync).
    pub pending: Option<PendingHead>,
}

/// Version byte of [`FeedState::encode`].
pub const FEED_STATE_VERSION: u8 = 1;

const HAS_HEAD: u8 = 1;
const HAS_PENDING: u8 = 2;

impl FeedState {
    /// Encodes the state (docs/memstore.md): version ‖ author ‖ len (u64 LE) ‖ flags ‖
    /// [head: 137-byte signed head] ‖ [pending head: 137 bytes ‖ proof length (u32 LE) ‖
    /// consistency proof].
    ///
    /// ```
    /// use xaeroflux_core::memstore::{FeedState, MemStore, NewEvent};
    /// use xaeroflux_core::page::PageConfig;
    /// use xaeroflux_core::AuthorKey;
    ///
    /// let key = AuthorKey::from_secret_bytes(&[1; 32]);
    /// let mut store = MemStore::new(key.clone(), PageConfig::default());
    /// store.append(NewEvent::new(1, b"x"))?;
    /// let state = store.feed_state(&key.author()).unwrap();
    /// assert_eq!(FeedState::decode(&state.encode()), Ok(state));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(42 + 2 * SIGNED_HEAD_LEN);
        out.push(FEED_STATE_VERSION);
        out.extend_from_slice(&self.author.0);
        out.extend_from_slice(&self.len.to_le_bytes());
        let flags =
            if self.head.is_some() { HAS_HEAD } else { 0 } | if self.pending.is_some() { HAS_PENDING } else { 0 };
        out.push(flags);
        if let Some(h) = &self.head {
            out.extend_from_slice(&h.encode());
        }
        if let Some(p) = &self.pending {
            out.extend_from_slice(&p.head.encode());
            let proof = p.proof.encode();
            out.extend_from_slice(&(proof.len() as u32).to_le_bytes());
            out.extend_from_slice(&proof);
        }
        out
    }

    /// Decodes [`encode`](Self::encode)'s bytes. Signatures and proofs are checked when the
    /// state is given to [`Restore::feed`], not here.
    pub fn decode(bytes: &[u8]) -> Result<FeedState, FeedStateDecodeError> {
        let mut r = bytes;
        let mut take = |n: usize| -> Result<&[u8], FeedStateDecodeError> {
            let (head, rest) = r.split_at_checked(n).ok_or(FeedStateDecodeError::Truncated)?;
            r = rest;
            Ok(head)
        };
        let version = take(1)?[0];
        if version != FEED_STATE_VERSION {
            return Err(FeedStateDecodeError::BadVersion(version));
        }
        let mut author = [0u8; 32];
        author.copy_from_slice(take(32)?);
        let mut len = [0u8; 8];
        len.copy_from_slice(take(8)?);
        let flags = take(1)?[0];
        if flags & !(HAS_HEAD | HAS_PENDING) != 0 {
            return Err(FeedStateDecodeError::ReservedFlags(flags));
        }
        let head = if flags & HAS_HEAD != 0 {
            Some(SignedHead::decode(take(SIGNED_HEAD_LEN)?).map_err(FeedStateDecodeError::Head)?)
        } else {
            None
        };
        let pending = if flags & HAS_PENDING != 0 {
            let head = SignedHead::decode(take(SIGNED_HEAD_LEN)?).map_err(FeedStateDecodeError::Head)?;
            let mut n = [0u8; 4];
            n.copy_from_slice(take(4)?);
            let proof =
                ConsistencyProof::decode(take(u32::from_le_bytes(n) as usize)?).map_err(FeedStateDecodeError::Proof)?;
            Some(PendingHead { head, proof })
        } else {
            None
        };
        if !r.is_empty() {
            return Err(FeedStateDecodeError::TrailingBytes(r.len()));
        }
        Ok(FeedState { author: AuthorId(author), len: u64::from_le_bytes(len), head, pending })
    }
}

impl ArrivalRun {
    /// The 48-byte encoding: author ‖ first seq (u64 LE) ‖ end seq (u64 LE).
    pub fn encode(&self) -> [u8; 48] {
        let mut out = [0u8; 48];
        out[..32].copy_from_slice(&self.author.0);
        out[32..40].copy_from_slice(&self.seqs.start.to_le_bytes());
        out[40..].copy_from_slice(&self.seqs.end.to_le_bytes());
        out
    }

    /// Decodes [`encode`](Self::encode)'s bytes (`None` unless exactly 48 bytes).
    pub fn decode(bytes: &[u8]) -> Option<ArrivalRun> {
        let b: &[u8; 48] = bytes.try_into().ok()?;
        let mut author = [0u8; 32];
        author.copy_from_slice(&b[..32]);
        let mut start = [0u8; 8];
        start.copy_from_slice(&b[32..40]);
        let mut end = [0u8; 8];
        end.copy_from_slice(&b[40..]);
        Some(ArrivalRun { author: AuthorId(author), seqs: u64::from_le_bytes(start)..u64::from_le_bytes(end) })
    }
}

impl MemStore {
    /// The state to persist with `author`'s pages.
    pub fn feed_state(&self, author: &AuthorId) -> Option<FeedState> {
        let f = self.feed(author)?;
        Some(FeedState { author: f.author, len: f.len(), head: f.head, pending: f.pending.clone() })
    }
}

/// Rebuilds a [`MemStore`] from persisted data, verifying every page, head and proof.
///
/// ```
/// use xaeroflux_core::memstore::{MemStore, NewEvent, Restore};
/// use xaeroflux_core::page::PageConfig;
/// use xaeroflux_core::AuthorKey;
///
/// let key = AuthorKey::from_secret_bytes(&[3; 32]);
/// let config = PageConfig::new(1024)?;
/// let mut store = MemStore::new(key.clone(), config);
/// store.append_batch((0..20u64).map(|i| NewEvent::new(i, b"a payload of some bytes")))?;
///
/// // Persist: the feed state and the page images.
/// let me = key.author();
/// let state = store.feed_state(&me).unwrap();
/// let pages: Vec<Vec<u8>> = (0..store.page_count(&me)).map(|p| store.page(&me, p).unwrap().into_owned()).collect();
///
/// // Reload.
/// let mut restore = Restore::new(Some(key), config);
/// restore.feed(&state, pages.iter().map(|p| &p[..]))?;
/// let back = restore.finish();
/// assert_eq!(back.local_head(), store.local_head());
/// assert!(back.iter_events().eq(store.iter_events()));
///
/// // A flipped byte is caught.
/// let mut bad = pages.clone();
/// bad[1][200] ^= 1;
/// let mut restore = Restore::new(None, config);
/// assert!(restore.feed(&state, bad.iter().map(|p| &p[..])).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Restore {
    store: MemStore,
    restored: BTreeSet<AuthorId>,
}

impl Restore {
    /// Starts rebuilding a store of the given local author (or a replica store) and pages.
    pub fn new(key: Option<AuthorKey>, config: PageConfig) -> Self {
        let store = match key {
            Some(k) => MemStore::new(k, config),
            None => MemStore::replica(config),
        };
        Restore { store, restored: BTreeSet::new() }
    }

    /// Restores one feed from its state and its page images in page order. Returns the
    /// number of events. On error the store being rebuilt is unchanged.
    ///
    /// Checked: every page parses (checksum, header, events), is of the author, continues
    /// the previous page, and is packed by the packing rule; the head verifies and its root
    /// is the root of the events at its length; events past it are proved by the pending
    /// head (or, for the local author, a new head is signed over them).
    pub fn feed<'p>(
        &mut self,
        state: &FeedState,
        pages: impl IntoIterator<Item = &'p [u8]>,
    ) -> Result<u64, RestoreError> {
        let author = state.author;
        if !self.restored.insert(author) {
            return Err(RestoreError::Duplicate(author));
        }
        let result = self.build(state, pages);
        let feed = match result {
            Ok(f) => f,
            Err(e) => {
                self.restored.remove(&author);
                return Err(e);
            }
        };
        let len = feed.len();
        let s = &mut self.store;
        let fi = match s.index.get(&author) {
            Some(&fi) => {
                s.feeds[fi as usize] = feed;
                fi
            }
            None => {
                let fi = s.feeds.len() as u32;
                s.feeds.push(feed);
                s.index.insert(author, fi);
                fi
            }
        };
        s.arrived(fi, 0, len);
        Ok(len)
    }

    fn build<'p>(&self, state: &FeedState, pages: impl IntoIterator<Item = &'p [u8]>) -> Result<Feed, RestoreError> {
        let author = state.author;
        let config: PageConfig = self.store.config;
        let local = self.store.author() == Some(author);
        let mut feed = Feed::new(config, author, local);
        feed.forked = self.store.forks.contains_key(&author);
        let images: Vec<&[u8]> = pages.into_iter().collect();
        let mut leaves = Vec::new();
        for (i, img) in images.iter().enumerate() {
            let page = i as u64;
            let p = PageRef::parse(img, &config).map_err(|error| RestoreError::Page { page, error })?;
            if p.author() != author {
                return Err(RestoreError::WrongAuthor { page });
            }
            if p.first_seq() != feed.len() {
                return Err(RestoreError::NotConsecutive { page, expected: feed.len(), found: p.first_seq() });
            }
            // A page's leaves hashed together, across SIMD lanes.
            leaves.clear();
            crate::hash::leaf_hashes(p.events().map(|ev| ev.encoded()), &mut leaves);
            for (ev, leaf) in p.events().zip(leaves.iter().copied()) {
                feed.push(ev, leaf).map_err(|_| RestoreError::Packing { page })?;
            }
        }
        for (i, img) in images.iter().enumerate() {
            if !feed.page(i as u64).is_some_and(|rebuilt| crate::page::same_page(&rebuilt, img)) {
                return Err(RestoreError::Packing { page: i as u64 });
            }
        }
        let len = feed.len();
        if len != state.len {
            return Err(RestoreError::StateMismatch { state: state.len, events: len });
        }
        let signer = if local { self.store.key.as_ref() } else { None };
        let root = feed.peaks().root();
        let heads = check_heads(state, len, root, |n| feed.peaks_at(n).ok().map(|p| p.root()), signer)?;
        feed.head = heads.head;
        feed.pending = heads.pending;
        Ok(feed)
    }

    /// Restores recorded fork evidence (checked again).
    pub fn fork(&mut self, evidence: &ForkEvidence) -> Result<bool, ForkEvidenceError> {
        self.store.record_fork(evidence)
    }

    /// Restores the local arrival order saved from [`MemStore::arrival_runs`], after every
    /// feed. Without it, the arrival order is the order the feeds were restored in.
    ///
    /// The runs must cover every event restored exactly once, each feed in seq order.
    pub fn arrival(&mut self, runs: impl IntoIterator<Item = ArrivalRun>) -> Result<(), RestoreError> {
        let s = &self.store;
        let mut next: Vec<u64> = alloc::vec![0; s.feeds.len()];
        let mut out: Vec<Run> = Vec::new();
        for run in runs {
            let fi = *s.index.get(&run.author).ok_or(RestoreError::Arrival)?;
            let cursor = &mut next[fi as usize];
            let len = s.feeds[fi as usize].len();
            if run.seqs.start != *cursor || run.seqs.end <= run.seqs.start || run.seqs.end > len {
                return Err(RestoreError::Arrival);
            }
            *cursor = run.seqs.end;
            match out.last_mut() {
                Some(last) if last.feed == fi && last.end == run.seqs.start => last.end = run.seqs.end,
                _ => out.push(Run { feed: fi, start: run.seqs.start, end: run.seqs.end }),
            }
        }
        if next.iter().zip(&s.feeds).any(|(n, f)| *n != f.len()) {
            return Err(RestoreError::Arrival);
        }
        self.store.arrival = out;
        Ok(())
    }

    /// The rebuilt store.
    pub fn finish(self) -> MemStore {
        self.store
    }
}

/// A restored feed's heads, checked by [`check_heads`].
pub(super) struct Heads {
    /// The latest signed head whose events are all held.
    pub(super) head: Option<SignedHead>,
    /// A head past the events held, with its proof.
    pub(super) pending: Option<PendingHead>,
}

/// Checks the heads `state` names for a feed rebuilt with `len` events whose MMR root is
/// `root`, with `root_at(n)` the root over its first `n` events (asked only for the signed
/// head's length, at most `len`): the signed head verifies and its root is the events';
/// events past it are proved by the pending head, or, for the local author's feed
/// (`signer` given), covered by a head signed now. [`Restore`] and
/// [`FeedCheck`](super::FeedCheck) both check a feed's heads with it.
pub(super) fn check_heads(
    state: &FeedState,
    len: u64,
    root: Hash,
    root_at: impl FnOnce(u64) -> Option<Hash>,
    signer: Option<&AuthorKey>,
) -> Result<Heads, RestoreError> {
    let author = state.author;
    let mut heads = Heads { head: None, pending: None };
    let mut covered = 0;
    if let Some(h) = state.head {
        if h.author != author {
            return Err(RestoreError::HeadAuthor);
        }
        h.verify().map_err(RestoreError::BadHead)?;
        if h.length > len {
            return Err(RestoreError::HeadBeyondEvents { length: h.length, events: len });
        }
        if root_at(h.length) != Some(h.root) {
            return Err(RestoreError::RootMismatch);
        }
        heads.head = Some(h);
        covered = h.length;
    }
    if covered < len {
        match (signer, &state.pending) {
            (Some(key), _) => heads.head = Some(key.sign_head(len, root)),
            (None, Some(p)) => {
                if p.head.author != author {
                    return Err(RestoreError::HeadAuthor);
                }
                p.head.verify().map_err(RestoreError::BadHead)?;
                let proof = &p.proof;
                if proof.old_leaves != len || proof.new_leaves != p.head.length {
                    return Err(RestoreError::BadPending(crate::mmr::ProofError::WrongLeafCount {
                        expected: len,
                        found: proof.old_leaves,
                    }));
                }
                proof.verify(&root, &p.head.root).map_err(RestoreError::BadPending)?;
                heads.pending = Some(p.clone());
            }
            (None, None) if state.head.is_none() => return Err(RestoreError::NoHead),
            (None, None) => return Err(RestoreError::Unverified { head: covered, events: len }),
        }
    }
    Ok(heads)
}
