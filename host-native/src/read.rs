//! Zero-copy iterators over stored events.

use std::sync::Arc;

use xaeroflux_core::EventRef;

use redb::ReadableDatabase as _;

use crate::error::{IoError, ReadError};
use crate::store::meta::{self, Run};
use crate::store::state::{FeedState, PageWalk, Shared, read};

/// Walks seqs `[seq, end)` of one feed page by page.
pub(crate) struct Walker<'a> {
    shared: &'a Shared,
    feed: Arc<FeedState>,
    seq: u64,
    end: u64,
    page: Option<(PageWalk<'a>, u64)>,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(shared: &'a Shared, feed: Arc<FeedState>, seq: u64, end: u64) -> Self {
        Walker { shared, feed, seq, end, page: None }
    }

    fn next_item(&mut self) -> Option<Result<EventRef<'a>, ReadError>> {
        loop {
            if self.seq >= self.end {
                return None;
            }
            if let Some((walk, page_no)) = self.page.as_mut() {
                if let Some(ev) = walk.next() {
                    self.seq += 1;
                    return Some(Ok(ev));
                }
                let next_no = *page_no + 1;
                self.page = None;
                match self.shared.locate_page_no(&self.feed, next_no) {
                    Ok(Some(loc)) => {
                        if loc.first_seq != self.seq {
                            return Some(Err(self.damaged_to(loc.first_seq)));
                        }
                        self.page = Some((PageWalk::new(&loc), next_no));
                    }
                    Ok(None) => return Some(Err(self.damaged_to(self.end))),
                    Err(e) => return Some(Err(self.skip(e))),
                }
                continue;
            }
            match self.shared.locate(&self.feed, self.seq) {
                Ok(loc) => {
                    let mut walk = PageWalk::new(&loc);
                    walk.skip_to(self.seq);
                    if walk.seq() != self.seq {
                        return Some(Err(self.damaged_to(loc.end)));
                    }
                    self.page = Some((walk, loc.page_no));
                }
                Err(e) => return Some(Err(self.skip(e))),
            }
        }
    }

    /// After an error: skip the damaged page (or stop), returning the error.
    fn skip(&mut self, e: ReadError) -> ReadError {
        match &e {
            ReadError::Corrupt { seqs, .. } if seqs.end > self.seq => self.seq = seqs.end,
            _ => self.seq = self.end,
        }
        e
    }

    fn damaged_to(&mut self, to: u64) -> ReadError {
        let seqs = self.seq..to.max(self.seq + 1).min(self.end);
        self.seq = seqs.end;
        ReadError::Corrupt {
            author: self.feed.author,
            seqs,
            reason: crate::error::CorruptReason::Truncated { segment: u32::MAX, offset: 0 },
        }
    }
}

/// Events of one feed over a range of seqs, borrowed from the mapped pages (no copy, no
/// allocation per event). Made by [`crate::Core::range`] and [`crate::Core::iter_feed`], which
/// check every page of the range up front, so it yields events, not results.
pub struct FeedRange<'a> {
    walker: Walker<'a>,
}

impl<'a> FeedRange<'a> {
    pub(crate) fn new(walker: Walker<'a>) -> Self {
        FeedRange { walker }
    }
}

impl<'a> Iterator for FeedRange<'a> {
    type Item = EventRef<'a>;

    fn next(&mut self) -> Option<EventRef<'a>> {
        match self.walker.next_item()? {
            Ok(ev) => Some(ev),
            // Pages were checked when the range was made; a failure now means the file changed
            // under the store. End rather than yield anything wrong.
            Err(_) => {
                self.walker.seq = self.walker.end;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.walker.end.saturating_sub(self.walker.seq)).unwrap_or(usize::MAX);
        (0, Some(n))
    }
}

/// Runs read from the index at a time by [`Events`].
const RUN_CHUNK: u64 = 256;

/// All stored events in local arrival order, borrowed from the mapped pages. Made by
/// [`crate::Core::iter_events`].
///
/// It yields the events stored when it was made. A damaged page yields one
/// [`ReadError::Corrupt`] naming its seqs; iteration then goes on after it. An error reading
/// the index (where older arrival runs are kept) is yielded once and ends the iteration.
///
/// No allocation per event: the order is kept as *runs* (consecutive seqs of one feed), and
/// runs older than the last checkpoint are read from the index 256 at a time.
pub struct Events<'a> {
    shared: &'a Shared,
    /// Next run to walk.
    run: u64,
    /// Number of runs when the iterator was made.
    runs_end: u64,
    /// Where the last of those runs ended then.
    last_end: u64,
    cur: Option<Walker<'a>>,
    /// Runs `[buf_start, buf_start + buf.len())`, read from the index.
    buf: Vec<Run>,
    buf_start: u64,
}

impl<'a> Events<'a> {
    pub(crate) fn new(shared: &'a Shared) -> Self {
        let runs = read(&shared.runs);
        let last_end = runs.last().map_or(0, |r| r.end);
        Events { shared, run: 0, runs_end: runs.len(), last_end, cur: None, buf: Vec::new(), buf_start: 0 }
    }

    /// Number of arrival runs this iterator walks.
    pub(crate) fn runs_len(&self) -> u64 {
        self.runs_end
    }

    /// Run `i` (below [`Events::runs_len`]) as this iterator walks it: the last one ends where
    /// it ended when the iterator was made.
    pub(crate) fn run(&mut self, i: u64) -> Result<Run, ReadError> {
        let mut r = self.run_at(i)?;
        if i + 1 == self.runs_end {
            r.end = r.end.min(self.last_end);
        }
        Ok(r)
    }

    /// Run `i` (below `runs_end`): from memory, or from the index.
    fn run_at(&mut self, i: u64) -> Result<Run, ReadError> {
        if let Some(r) = read(&self.shared.runs).get(i) {
            return Ok(r);
        }
        if let Some(r) = i.checked_sub(self.buf_start).and_then(|k| self.buf.get(usize::try_from(k).ok()?)) {
            return Ok(*r);
        }
        let malformed = || ReadError::Io(IoError::new("read arrival runs", None, std::io::Error::other("malformed")));
        let ix = |e: redb::Error| ReadError::Io(IoError::index("read arrival runs", e));
        let txn = self.shared.db.begin_read().map_err(|e| ix(e.into()))?;
        let table = txn.open_table(meta::RUNS).map_err(|e| ix(e.into()))?;
        let end = (i + RUN_CHUNK).min(self.runs_end);
        self.buf.clear();
        self.buf_start = i;
        for item in table.range(i..end).map_err(|e| ix(e.into()))? {
            let (k, v) = item.map_err(|e| ix(e.into()))?;
            if k.value() != self.buf_start + self.buf.len() as u64 {
                return Err(malformed());
            }
            self.buf.push(Run::decode(v.value()).ok_or_else(malformed)?);
        }
        self.buf.first().copied().ok_or_else(malformed)
    }
}

impl<'a> Iterator for Events<'a> {
    type Item = Result<EventRef<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(w) = self.cur.as_mut() {
                if let Some(item) = w.next_item() {
                    return Some(item);
                }
                self.cur = None;
            }
            if self.run >= self.runs_end {
                return None;
            }
            let found = self.run(self.run).and_then(|r| {
                let feed = self.shared.feed_by_idx(r.feed).ok_or_else(|| {
                    ReadError::Io(IoError::new("read arrival runs", None, std::io::Error::other("unknown feed")))
                })?;
                Ok((r, feed))
            });
            let (r, feed) = match found {
                Ok(x) => x,
                Err(e) => {
                    self.run = self.runs_end;
                    return Some(Err(e));
                }
            };
            self.run += 1;
            self.cur = Some(Walker::new(self.shared, feed, r.start, r.end));
        }
    }
}
