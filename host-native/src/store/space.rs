//! Allocation of page slots in segment files, and a commit's writes: the tail log's records,
//! the page writes they describe (made after them), and the syncs that make them durable.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::meta::Loc;
use super::segments::{Mapped, SegmentIo};
use super::state::Shared;
use super::taillog::TailLog;
use crate::error::IoError;

/// An I/O error of the writer's own making (no OS error behind it).
pub(crate) fn other(op: &'static str, what: &'static str) -> IoError {
    IoError::new(op, None, std::io::Error::other(what))
}

/// Allocation of page slots in segment files.
pub(crate) struct Space {
    pub io: Box<dyn SegmentIo>,
    /// Next free slot.
    pub next: Loc,
    /// Slots of segment `next.seg`, 0 if it does not exist yet.
    pub seg_slots: u32,
    /// Existing segments and their slot counts.
    pub known: HashMap<u32, u32>,
    /// Segments with writes to sync at the commit.
    pub dirty: Vec<u32>,
    /// Segments with writes the tail log covers, synced at the next checkpoint.
    pub logged: Vec<u32>,
    pub log: TailLog,
    /// Slots from this one on, in its segment, are zeros: the segment was created by this
    /// process and they were never handed out (a rollback does not lower it).
    pub zero_from: Option<Loc>,
    /// Writes the commit's log records describe, made after those records are written (and
    /// synced first when a page has no durable record yet): (segment, offset, bytes).
    pub deferred: Vec<(u32, u64, std::ops::Range<usize>)>,
    pub deferred_buf: Vec<u8>,
    /// The commit's records must be durable before its deferred writes.
    pub sync_log_first: bool,
    pub unsynced_since: Option<Instant>,
}

/// See [`Space::mark`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct WriteMark {
    log: (usize, u64),
    deferred: usize,
    deferred_buf: usize,
    sync_log_first: bool,
}

impl Space {
    pub(crate) fn alloc(&mut self, shared: &Shared, span: u16) -> Result<Loc, IoError> {
        let span = u32::from(span);
        if self.seg_slots == 0 || self.next.slot.saturating_add(span) > self.seg_slots {
            let n = if self.seg_slots == 0 { self.next.seg } else { self.next.seg + 1 };
            let slots = shared.segment_pages.max(span);
            match self.known.get(&n) {
                Some(&have) if have >= slots => {}
                Some(_) => return Err(other("roll over segment", "a leftover segment is too small for this page")),
                None => {
                    self.io.create(n, u64::from(slots) * shared.page_size)?;
                    self.zero_from = Some(Loc { seg: n, slot: 0 });
                    self.known.insert(n, slots);
                    shared.maps.set(n, Mapped::map(&shared.dir, n)?);
                    shared.counters.segments.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.next = Loc { seg: n, slot: 0 };
            self.seg_slots = self.known.get(&n).copied().unwrap_or(slots);
        }
        let loc = self.next;
        self.next.slot += span;
        Ok(loc)
    }

    /// Whether the slot `loc`, just allocated with `span`, holds only zeros; it is then no
    /// longer counted as zeros for a later allocation.
    pub(crate) fn take_zeroed(&mut self, loc: Loc, span: u16) -> bool {
        let zero = self.zero_from.is_some_and(|z| z.seg == loc.seg && loc.slot >= z.slot);
        if zero {
            self.zero_from = Some(Loc { seg: loc.seg, slot: loc.slot + u32::from(span) });
        }
        zero
    }

    pub(crate) fn write(&mut self, seg: u32, off: u64, buf: &[u8]) -> Result<(), IoError> {
        if !self.dirty.contains(&seg) {
            self.dirty.push(seg);
        }
        self.unsynced_since.get_or_insert_with(Instant::now);
        self.io.write_at(seg, off, buf)
    }

    /// Ends a commit's writes: the tail log records, then the page writes they describe, into
    /// pages that hold committed events (synced at the next checkpoint). Before those: if
    /// `durable`, the records and the commit's other segment writes are made durable (at once,
    /// see [`SegmentIo::sync_log_and`]); otherwise the records alone when a page had no
    /// durable record yet.
    pub(crate) fn finish_writes(&mut self, shared: &Shared, durable: bool) -> Result<(), IoError> {
        self.log.flush(self.io.as_mut(), durable || self.sync_log_first)?;
        if durable {
            self.sync_log_and_segments(shared)?;
        } else if self.sync_log_first {
            self.sync_log(shared)?;
        }
        self.sync_log_first = false;
        let deferred = std::mem::take(&mut self.deferred);
        let buf = std::mem::take(&mut self.deferred_buf);
        let r = self.write_deferred(&deferred, &buf);
        (self.deferred, self.deferred_buf) = (deferred, buf);
        self.deferred.clear();
        self.deferred_buf.clear();
        r
    }

    /// Makes the in-place page writes a commit deferred (`list`, their bytes in `buf`), once
    /// the log records that describe them are durable; their segments are synced at the
    /// next checkpoint.
    pub(crate) fn write_deferred(
        &mut self,
        list: &[(u32, u64, std::ops::Range<usize>)],
        buf: &[u8],
    ) -> Result<(), IoError> {
        if !list.is_empty() {
            self.unsynced_since.get_or_insert_with(Instant::now);
        }
        list.iter().try_for_each(|(seg, off, range)| {
            if !self.logged.contains(seg) {
                self.logged.push(*seg);
            }
            self.io.write_at(*seg, *off, buf.get(range.clone()).unwrap_or_default())
        })
    }

    /// Writes the commit's log records (not synced): the first half of
    /// [`finish_writes`](Self::finish_writes), for a pipelined commit whose syncs and
    /// deferred writes come later.
    pub(crate) fn flush_log(&mut self) -> Result<(), IoError> {
        self.log.flush(self.io.as_mut(), true)?;
        self.sync_log_first = false;
        Ok(())
    }

    /// Makes the commit's log records and its segment writes (not the deferred ones) durable,
    /// both at once where the I/O allows (see [`SegmentIo::sync_log_and`]).
    fn sync_log_and_segments(&mut self, shared: &Shared) -> Result<(), IoError> {
        if !self.log.unsynced {
            return sync_segments(self.io.as_mut(), &mut self.dirty, shared);
        }
        self.io.sync_log_and(&self.dirty)?;
        self.log.unsynced = false;
        let n = 1 + self.dirty.len() as u64;
        self.dirty.clear();
        shared.counters.syncs.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Makes the tail log's written records durable, if any are not.
    pub(crate) fn sync_log(&mut self, shared: &Shared) -> Result<(), IoError> {
        if self.log.unsynced {
            self.io.log_sync()?;
            self.log.unsynced = false;
            shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Forgets what a failed commit left to write.
    /// Where the commit's pending records and deferred writes stand, for
    /// [`abandon_to`](Self::abandon_to).
    pub(crate) fn mark(&self) -> WriteMark {
        WriteMark {
            log: self.log.mark(),
            deferred: self.deferred.len(),
            deferred_buf: self.deferred_buf.len(),
            sync_log_first: self.sync_log_first,
        }
    }

    /// Forgets the records and deferred writes added since `mark` (a failed member of a group
    /// of imports), keeping those before it.
    pub(crate) fn abandon_to(&mut self, mark: WriteMark) {
        self.log.discard_to(mark.log);
        self.deferred.truncate(mark.deferred);
        self.deferred_buf.truncate(mark.deferred_buf);
        self.sync_log_first = mark.sync_log_first;
    }

    pub(crate) fn abandon_writes(&mut self, chain_before: u64) {
        self.log.discard(chain_before);
        self.deferred.clear();
        self.deferred_buf.clear();
        self.sync_log_first = false;
    }

    pub(crate) fn defer(&mut self, seg: u32, off: u64, bytes: &[u8]) {
        let start = self.deferred_buf.len();
        self.deferred_buf.extend_from_slice(bytes);
        self.deferred.push((seg, off, start..self.deferred_buf.len()));
    }

    /// Makes a commit durable: its records in the tail log and its new pages.
    pub(crate) fn sync(&mut self, shared: &Shared) -> Result<(), IoError> {
        self.sync_log(shared)?;
        sync_segments(self.io.as_mut(), &mut self.dirty, shared)?;
        self.unsynced_since = None;
        Ok(())
    }

    /// Makes every write durable, those the tail log covers included (before a checkpoint).
    pub(crate) fn sync_all(&mut self, shared: &Shared) -> Result<(), IoError> {
        self.sync(shared)?;
        sync_segments(self.io.as_mut(), &mut self.logged, shared)
    }
}

/// Syncs the segments of `list`, removing each once it is synced (a failure leaves it and
/// those after it listed).
fn sync_segments(io: &mut dyn SegmentIo, list: &mut Vec<u32>, shared: &Shared) -> Result<(), IoError> {
    while let Some(&seg) = list.last() {
        io.sync(seg)?;
        list.pop();
        shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}
