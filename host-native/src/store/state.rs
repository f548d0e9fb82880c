//! State shared by the handle, readers and the writer thread, and the read path.
//!
//! Readers never block the writer for long: they take a feed's read lock only to copy a page
//! location and the published length, then read the mapped bytes without any lock.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard};

use redb::ReadableDatabase as _;
use xaeroflux_core::event::{EventRef, HEADER_LEN, MAX_PAYLOAD_LEN};
use xaeroflux_core::mmr::MmrPeaks;
use xaeroflux_core::page::{PAGE_HEADER_LEN, PageConfig, PageRef};
use xaeroflux_core::{AuthorId, AuthorKey, Hash, SignedHead};

use super::meta::{self, Loc, PageRow, Run};
use super::segments::SegmentMaps;
use super::writer::Batch;
use crate::error::{CorruptReason, IoError, ReadError};

pub(crate) const UNCHECKED: u8 = 0;
pub(crate) const CHECKED: u8 = 1;
pub(crate) const DAMAGED: u8 = 2;

/// Where a page is, and whether its bytes were checked.
pub(crate) struct PageEntry {
    pub first_seq: u64,
    pub loc: Loc,
    pub span: u16,
    pub state: AtomicU8,
    /// Byte offset of each event in the page, built on the first point read of a sealed page.
    pub offsets: OnceLock<Box<[u32]>>,
}

impl PageEntry {
    pub(crate) fn new(first_seq: u64, loc: Loc, span: u16, state: u8) -> Self {
        PageEntry { first_seq, loc, span, state: AtomicU8::new(state), offsets: OnceLock::new() }
    }
}

/// A hasher for author ids, which are uniformly random public keys.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(b);
        }
    }
}

pub(crate) type IdMap<V> = HashMap<AuthorId, V, std::hash::BuildHasherDefault<IdHasher>>;

/// The published state of a feed.
pub(crate) struct FeedInner {
    /// Published (acknowledged) number of events.
    pub len: u64,
    pub peaks: MmrPeaks,
    /// Pages `[0, pages_base)` are only in the index (loaded on first need).
    pub pages_base: u64,
    pub pages: Vec<PageEntry>,
    /// MMR nodes held in memory: positions `node_base ..`; lower ones are in the index.
    pub node_base: u64,
    pub nodes: Vec<Hash>,
    pub head: Option<SignedHead>,
}

impl FeedInner {
    pub(crate) fn page_count(&self) -> u64 {
        self.pages_base + self.pages.len() as u64
    }

    /// Index (in `pages`) of the page holding `seq`; `None` if it is below the loaded range.
    ///
    /// Pages of one feed hold about the same number of events, so the search starts where
    /// `seq` would be if they held exactly the same number, and gallops from there to bracket
    /// the page before a binary search: one or two probes for evenly filled pages instead of
    /// a binary search's dozen (each probe of a large feed's page list is a cache miss).
    fn find(&self, seq: u64) -> Option<usize> {
        let pages = &self.pages;
        let first = pages.first()?.first_seq;
        if seq < first {
            return None;
        }
        let n = pages.len();
        let covered = self.len.saturating_sub(first).max(1);
        let guess = (u128::from(seq - first) * n as u128 / u128::from(covered)).min(n as u128 - 1) as usize;
        // Bracket `lo <= answer < hi` by galloping from the guess, then search inside.
        let (lo, hi) = if pages[guess].first_seq <= seq {
            let (mut lo, mut step) = (guess, 1);
            while lo + step < n && pages[lo + step].first_seq <= seq {
                lo += step;
                step *= 2;
            }
            (lo, (lo + step).min(n))
        } else {
            let (mut hi, mut step) = (guess, 1);
            while hi >= step && pages[hi - step].first_seq > seq {
                hi -= step;
                step *= 2;
            }
            (hi.saturating_sub(step), hi)
        };
        let i = lo + pages[lo..hi].partition_point(|p| p.first_seq <= seq);
        Some(i - 1)
    }

    /// Seq one past the last event of loaded page `i`.
    pub(crate) fn page_end(&self, i: usize) -> u64 {
        self.pages.get(i + 1).map_or(self.len, |p| p.first_seq)
    }
}

pub(crate) struct FeedState {
    pub idx: u32,
    pub author: AuthorId,
    pub local: bool,
    pub inner: RwLock<FeedInner>,
    /// Held by the writer while it writes this feed's pages, and by a reader while it checks
    /// a page, so a check never sees a half-written tail page.
    pub write_lock: Mutex<()>,
}

#[derive(Default)]
pub(crate) struct FeedTable {
    pub by_author: IdMap<Arc<FeedState>>,
    pub list: Vec<Arc<FeedState>>,
}

/// Counters for [`crate::Stats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub commits: AtomicU64,
    pub syncs: AtomicU64,
    pub checkpoints: AtomicU64,
    pub segments: AtomicU64,
    pub recovered_events: AtomicU64,
    pub truncated_bytes: AtomicU64,
    pub open_index_rows: AtomicU64,
    pub open_pages_examined: AtomicU64,
    pub open_bytes_examined: AtomicU64,
}

/// The arrival runs: the newest ones in memory, all older ones only in the index, so opening
/// a store reads one run however long its history is.
///
/// Runs `[base, base + mem.len())` are in `mem`; every run below `base` is in the index and
/// never changes again (only the last run can grow). After a checkpoint `mem` keeps just the
/// last run.
#[derive(Default)]
pub(crate) struct RunLog {
    pub base: u64,
    pub mem: Vec<Run>,
}

impl RunLog {
    /// Number of runs.
    pub(crate) fn len(&self) -> u64 {
        self.base + self.mem.len() as u64
    }

    /// The newest run.
    pub(crate) fn last(&self) -> Option<&Run> {
        self.mem.last()
    }

    /// Records that `feed` committed seqs `[start, end)`: extends the last run when it is the
    /// same feed's and ends at `start`, else starts a new run.
    pub(crate) fn extend(&mut self, feed: u32, start: u64, end: u64) {
        match self.mem.last_mut() {
            Some(r) if r.feed == feed && r.end == start => r.end = end,
            _ => self.mem.push(Run { feed, start, end }),
        }
    }

    /// Run `i` if it is in memory.
    pub(crate) fn get(&self, i: u64) -> Option<Run> {
        let at = usize::try_from(i.checked_sub(self.base)?).ok()?;
        self.mem.get(at).copied()
    }

    /// Forgets the in-memory runs that are in the index, keeping the last one (which may grow).
    pub(crate) fn trim(&mut self) {
        let drop_n = self.mem.len().saturating_sub(1);
        self.mem.drain(..drop_n);
        self.base += drop_n as u64;
    }
}

pub(crate) struct Shared {
    pub dir: PathBuf,
    pub config: PageConfig,
    pub page_size: u64,
    pub segment_pages: u32,
    pub db: redb::Database,
    pub maps: SegmentMaps,
    pub feeds: RwLock<FeedTable>,
    pub runs: RwLock<RunLog>,
    pub key: AuthorKey,
    pub local: Arc<FeedState>,
    pub poisoned: AtomicBool,
    pub counters: Counters,
    pub head_cache: Mutex<Option<SignedHead>>,
    /// Batch buffers the writer is done with, for the next appends (see [`Shared::recycle`]).
    pub batch_pool: Mutex<Vec<Batch>>,
    /// Fork evidence recorded, per author (see [`super::forks`]).
    pub forks: RwLock<super::forks::Forks>,
}

/// Batch buffers kept for reuse, and the largest payload capacity kept.
const BATCH_POOL: usize = 4;
const BATCH_POOL_BYTES: usize = 8 << 20;

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}
pub(crate) fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}
pub(crate) fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|p| p.into_inner())
}

/// A page located for reading: its bytes and the seqs a reader may take from it.
#[derive(Clone, Copy)]
pub(crate) struct Located<'a> {
    pub bytes: &'a [u8],
    pub first_seq: u64,
    /// One past the last published event of the page.
    pub end: u64,
    pub page_no: u64,
}

impl Shared {
    /// An empty batch, with the capacity of an earlier one when there is one.
    pub(crate) fn take_batch(&self) -> Batch {
        lock(&self.batch_pool).pop().unwrap_or_default()
    }

    /// Keeps a used batch's buffers for a later append (a few, of bounded size).
    pub(crate) fn recycle(&self, mut batch: Batch) {
        if batch.payload.capacity() > BATCH_POOL_BYTES {
            return;
        }
        let mut pool = lock(&self.batch_pool);
        if pool.len() < BATCH_POOL {
            batch.payload.clear();
            batch.items.clear();
            pool.push(batch);
        }
    }

    pub(crate) fn feed(&self, author: &AuthorId) -> Option<Arc<FeedState>> {
        read(&self.feeds).by_author.get(author).cloned()
    }

    pub(crate) fn feed_by_idx(&self, idx: u32) -> Option<Arc<FeedState>> {
        read(&self.feeds).list.get(idx as usize).cloned()
    }

    /// The mapped bytes of a page, or why they are missing.
    pub(crate) fn page_bytes(&self, loc: Loc, span: u16) -> Result<&[u8], CorruptReason> {
        let start = u64::from(loc.slot) * self.page_size;
        let end = start + u64::from(span) * self.page_size;
        let truncated = CorruptReason::Truncated { segment: loc.seg, offset: start };
        let map = self.maps.get(loc.seg).ok_or(truncated.clone())?;
        let (Ok(s), Ok(e)) = (usize::try_from(start), usize::try_from(end)) else { return Err(truncated) };
        map.bytes().get(s..e).ok_or(truncated)
    }

    /// Loads the whole page index of a feed from redb if part of it is not in memory yet.
    pub(crate) fn ensure_pages(&self, feed: &FeedState) -> Result<(), IoError> {
        if read(&feed.inner).pages_base == 0 {
            return Ok(());
        }
        let mut inner = write(&feed.inner);
        let base = inner.pages_base;
        if base == 0 {
            return Ok(());
        }
        let txn = self.db.begin_read().map_err(|e| IoError::index("read page index", e))?;
        let table = txn.open_table(meta::PAGES).map_err(|e| IoError::index("read page index", e))?;
        let mut loaded = Vec::with_capacity(base as usize + inner.pages.len());
        let range = table.range((feed.idx, 0)..(feed.idx, base)).map_err(|e| IoError::index("read page index", e))?;
        for item in range {
            let (_, v) = item.map_err(|e| IoError::index("read page index", e))?;
            let row = PageRow::decode(v.value())
                .ok_or_else(|| IoError::new("read page index", None, std::io::Error::other("malformed page row")))?;
            loaded.push(PageEntry::new(row.first_seq, row.loc, row.span, UNCHECKED));
        }
        if loaded.len() as u64 != base {
            return Err(IoError::new("read page index", None, std::io::Error::other("page rows missing")));
        }
        loaded.append(&mut inner.pages);
        inner.pages = loaded;
        inner.pages_base = 0;
        Ok(())
    }

    /// Locates the page of `feed` holding `seq` (which must be below the published length),
    /// checking the page's bytes the first time it is read.
    pub(crate) fn locate(&self, feed: &FeedState, seq: u64) -> Result<Located<'_>, ReadError> {
        loop {
            let inner = read(&feed.inner);
            let Some(i) = inner.find(seq) else {
                let need_load = inner.pages_base > 0;
                drop(inner);
                if need_load {
                    self.ensure_pages(feed)?;
                    continue;
                }
                return Err(ReadError::OutOfRange { requested: seq..seq + 1, len: read(&feed.inner).len });
            };
            let p = &inner.pages[i];
            let end = inner.page_end(i);
            let page_no = inner.pages_base + i as u64;
            let (first_seq, loc, span) = (p.first_seq, p.loc, p.span);
            let state = p.state.load(Ordering::Acquire);
            drop(inner);
            let corrupt = |reason| ReadError::Corrupt { author: feed.author, seqs: first_seq..end, reason };
            let bytes = self.page_bytes(loc, span).map_err(corrupt)?;
            match state {
                CHECKED => {}
                _ => self.check_page(feed, first_seq, bytes).map_err(|e| corrupt(CorruptReason::Page(e)))?,
            }
            return Ok(Located { bytes, first_seq, end, page_no });
        }
    }

    /// Full check of a page (checksum, encoding); remembers the outcome.
    fn check_page(
        &self,
        feed: &FeedState,
        first_seq: u64,
        bytes: &[u8],
    ) -> Result<(), xaeroflux_core::page::PageDecodeError> {
        let _w = lock(&feed.write_lock);
        let r = PageRef::parse(bytes, &self.config).map(|_| ());
        let inner = read(&feed.inner);
        if let Some(p) = inner.find(first_seq).and_then(|i| inner.pages.get(i)) {
            p.state.store(if r.is_ok() { CHECKED } else { DAMAGED }, Ordering::Release);
        }
        r
    }

    /// Event `seq` of `feed`, `None` at or past its published length. A sealed page's events
    /// are found by its offset table (built on its first point read); one read lock, no
    /// allocation.
    pub(crate) fn event(&self, feed: &FeedState, seq: u64) -> Result<Option<EventRef<'_>>, ReadError> {
        {
            let inner = read(&feed.inner);
            if seq >= inner.len {
                return Ok(None);
            }
            if let Some(p) = inner.find(seq).and_then(|i| inner.pages.get(i))
                && p.state.load(Ordering::Acquire) == CHECKED
                && let Some(off) = p.offsets.get().and_then(|o| o.get((seq - p.first_seq) as usize))
            {
                let (loc, span) = (p.loc, p.span);
                let off = *off as usize;
                drop(inner);
                if let Ok(bytes) = self.page_bytes(loc, span)
                    && let Some(Ok((ev, _))) = bytes.get(off..).map(|b| EventRef::parse_prefix(b, MAX_PAYLOAD_LEN))
                {
                    return Ok(Some(ev));
                }
            }
        }
        let loc = self.locate(feed, seq)?;
        let corrupt = || ReadError::Corrupt {
            author: feed.author,
            seqs: loc.first_seq..loc.end,
            reason: CorruptReason::Truncated { segment: u32::MAX, offset: 0 },
        };
        let sealed = loc.page_no + 1 < read(&feed.inner).page_count();
        if !sealed {
            // The tail page still grows: walk to the event (headers only), no offset table.
            let mut walk = PageWalk::new(&loc);
            walk.skip_to(seq);
            return walk.next().filter(|ev| ev.seq() == seq).map(Some).ok_or_else(corrupt);
        }
        let mut walk = PageWalk::new(&loc);
        let base = loc.bytes.len() - walk.body.len();
        let mut found = None;
        let mut offsets = Vec::new();
        while walk.seq < walk.end {
            let off = loc.bytes.len() - walk.body.len() - base + PAGE_HEADER_LEN;
            let this = walk.seq;
            let Some(ev) = walk.next() else { break };
            offsets.push(u32::try_from(off).unwrap_or(u32::MAX));
            if this == seq {
                found = Some(ev);
            }
        }
        if offsets.len() as u64 == loc.end - loc.first_seq {
            let inner = read(&feed.inner);
            if let Some(p) = inner.find(loc.first_seq).and_then(|i| inner.pages.get(i)) {
                let _ = p.offsets.set(offsets.into_boxed_slice());
            }
        }
        found.map(Some).ok_or_else(corrupt)
    }

    /// The page holding `seq` located by page number (for sequential walks).
    pub(crate) fn locate_page_no(&self, feed: &FeedState, page_no: u64) -> Result<Option<Located<'_>>, ReadError> {
        let first = {
            let inner = read(&feed.inner);
            if page_no >= inner.page_count() {
                return Ok(None);
            }
            if page_no < inner.pages_base {
                None
            } else {
                inner.pages.get((page_no - inner.pages_base) as usize).map(|p| p.first_seq)
            }
        };
        let first = match first {
            Some(f) => f,
            None => {
                self.ensure_pages(feed)?;
                let inner = read(&feed.inner);
                match inner.pages.get(page_no as usize) {
                    Some(p) => p.first_seq,
                    None => return Ok(None),
                }
            }
        };
        self.locate(feed, first).map(Some)
    }
}

/// Walks the events of one page from its start, up to `end` (exclusive seq).
#[derive(Clone)]
pub(crate) struct PageWalk<'a> {
    body: &'a [u8],
    seq: u64,
    end: u64,
}

impl<'a> PageWalk<'a> {
    pub(crate) fn new(page: &Located<'a>) -> Self {
        PageWalk { body: page.bytes.get(PAGE_HEADER_LEN..).unwrap_or_default(), seq: page.first_seq, end: page.end }
    }

    /// Skips to `seq` (reading only headers).
    pub(crate) fn skip_to(&mut self, seq: u64) {
        while self.seq < seq && self.seq < self.end {
            let Some(len) = self
                .body
                .get(4..8)
                .and_then(|b| b.try_into().ok())
                .map(|b: [u8; 4]| HEADER_LEN + u32::from_le_bytes(b) as usize)
            else {
                self.end = self.seq;
                return;
            };
            self.body = self.body.get(len..).unwrap_or_default();
            self.seq += 1;
        }
    }

    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }
}

impl<'a> Iterator for PageWalk<'a> {
    type Item = EventRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<EventRef<'a>> {
        if self.seq >= self.end {
            return None;
        }
        match EventRef::parse_prefix(self.body, MAX_PAYLOAD_LEN) {
            Ok((ev, used)) => {
                self.body = self.body.get(used..).unwrap_or_default();
                self.seq += 1;
                Some(ev)
            }
            // The page was checked (or written by this process), so this cannot happen unless
            // the file changed under the store: end the walk rather than return garbage.
            Err(_) => {
                self.end = self.seq;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inner(firsts: &[u64], len: u64) -> FeedInner {
        FeedInner {
            len,
            peaks: MmrPeaks::new(),
            pages_base: 0,
            pages: firsts.iter().map(|&f| PageEntry::new(f, Loc::default(), 1, CHECKED)).collect(),
            node_base: 0,
            nodes: Vec::new(),
            head: None,
        }
    }

    /// The model: the last page whose first seq is at most `seq`.
    fn naive(firsts: &[u64], seq: u64) -> Option<usize> {
        firsts.iter().rposition(|&f| f <= seq)
    }

    #[test]
    fn find_on_even_pages_and_edges() {
        let firsts: Vec<u64> = (0..1000).map(|i| i * 52).collect();
        let f = inner(&firsts, 52_000);
        for seq in 0..52_000 {
            assert_eq!(f.find(seq), naive(&firsts, seq), "seq {seq}");
        }
        assert_eq!(inner(&[], 0).find(0), None);
        assert_eq!(inner(&[10, 20], 30).find(5), None, "below the loaded pages");
        assert_eq!(inner(&[10], 10).find(10), Some(0), "one empty page");
    }

    proptest! {
        #[test]
        fn find_matches_the_model(
            start in 0u64..1000,
            sizes in proptest::collection::vec(1u64..400, 1..300),
            probes in proptest::collection::vec(0u64..200_000, 1..50),
        ) {
            let mut firsts = Vec::new();
            let mut at = start;
            for s in &sizes {
                firsts.push(at);
                at += s;
            }
            let f = inner(&firsts, at);
            for p in probes {
                let seq = p % (at + 10);
                prop_assert_eq!(f.find(seq), naive(&firsts, seq));
            }
        }
    }
}
