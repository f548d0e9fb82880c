//! Zero-copy iterators over stored events.

use std::sync::Arc;

use xaeroflux_core::EventRef;

use crate::error::ReadError;
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

/// All stored events in local arrival order, borrowed from the mapped pages. Made by
/// [`crate::Core::iter_events`].
///
/// It yields the events stored when it was made. A damaged page yields one
/// [`ReadError::Corrupt`] naming its seqs; iteration then goes on after it.
pub struct Events<'a> {
    shared: &'a Shared,
    run: usize,
    runs_end: usize,
    last_end: u64,
    cur: Option<Walker<'a>>,
}

impl<'a> Events<'a> {
    pub(crate) fn new(shared: &'a Shared) -> Self {
        let runs = read(&shared.runs);
        let last_end = runs.last().map_or(0, |r| r.end);
        Events { shared, run: 0, runs_end: runs.len(), last_end, cur: None }
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
            let r = read(&self.shared.runs).get(self.run).copied();
            self.run += 1;
            let mut r = r?;
            if self.run == self.runs_end {
                r.end = r.end.min(self.last_end);
            }
            let feed = self.shared.feed_by_idx(r.feed)?;
            self.cur = Some(Walker::new(self.shared, feed, r.start, r.end));
        }
    }
}
