//! Pipelined commits ([`Core::submit_batch`](crate::Core::submit_batch)): a commit's syncs run
//! on a thread of their own while the writer writes the next commit, and the commit is
//! published (readers and peers see it) and acknowledged once they are done.
//!
//! A commit's work is split in two. [`Writer::submit`] does the first half on the caller's
//! thread: it encodes, hashes and packs the events, writes the new pages and the tail log's
//! records, then completes the commit before it (if any) and starts this one's syncs
//! ([`SegmentIo::start_sync`](super::super::segments::SegmentIo::start_sync)). The second
//! half, [`Writer::drain`], waits for the syncs, makes the in-place page writes the log's
//! records describe (which must follow their records' sync, as in the sequential commit),
//! publishes and replies.
//!
//! Rules that keep this equal to the sequential path:
//! - At most one commit is in flight, and commits complete in order: readers see the store
//!   grow commit by commit, each only once durable.
//! - Every other writer operation (an append through the channel or inline, an import, a
//!   sync, a checkpoint, shutdown) first drains, so it finds the writer as a sequential commit
//!   leaves it. A submit that is due a checkpoint, or finds the tail log full, or a store not
//!   under `EachAppend`, takes the sequential path.
//! - A failed first half drains before it rolls back, so the rollback sees the published
//!   state it expects. A failed sync poisons the store, as it does sequentially; the commit
//!   after it, already written, is refused and never published.
//! - Crash states: the next commit's writes may reach the disk before this one's syncs end.
//!   Those are writes of a commit not yet acknowledged, which the recovery already meets (the
//!   sequential commit syncs its log and its segments at once, in either order), and the power
//!   cut simulation runs pipelined commits too.

use std::ops::Range;
use std::sync::atomic::Ordering;

use xaeroflux_core::Hash;
use xaeroflux_core::mmr::MmrPeaks;

use super::{AppendReply, Batch, Pending, Writer, is_sync_failure};
use crate::Durability;
use crate::error::AppendError;
use crate::store::segments::SyncInFlight;
use crate::store::state::{lock, read};

/// A commit written, its syncs running.
pub(crate) struct InFlight {
    sync: SyncInFlight,
    /// The in-place page writes its log records describe: (segment, offset, bytes range).
    deferred: Vec<(u32, u64, Range<usize>)>,
    deferred_buf: Vec<u8>,
    /// The log's chain when the syncs started: unchanged at the end, the log is all durable.
    log_chain: u64,
    new_len: u64,
    peaks: MmrPeaks,
    pending: Pending,
    range: Range<u64>,
    last: Hash,
    reply: AppendReply,
    batch: Batch,
}

impl Writer {
    /// Whether [`submit`](Self::submit) pipelines: under `EachAppend` only (under group
    /// commit the writer thread must see every commit, to time the delayed sync).
    pub(crate) fn pipelines(&self) -> bool {
        self.durability == Durability::EachAppend
    }

    /// Writes `batch` as a commit of its own and starts its syncs; `reply` gets its seqs once
    /// it is durable and published (see the module docs).
    pub(crate) fn submit(&mut self, batch: Batch, reply: AppendReply) {
        if self.poisoned || self.stopped {
            let err = if self.poisoned { AppendError::Poisoned } else { AppendError::Closed };
            let _ = reply.send(Err(err));
            self.shared.recycle(batch);
            return;
        }
        let sequential = !self.pipelines()
            || !self.space.log.has_room(self.shared.config.page_size())
            || self.sealed_since_ckpt >= self.checkpoint_pages;
        if sequential {
            let mut group = vec![(batch, reply)];
            self.append_group(&mut group);
            return;
        }
        let feed = self.shared.local.clone();
        let (old_len, mut peaks) = match &self.inflight {
            Some(f) => (f.new_len, f.peaks.clone()),
            None => {
                let inner = read(&feed.inner);
                (inner.len, inner.peaks.clone())
            }
        };
        let log_chain = self.space.log.chain;
        let saved = (self.space.next, self.space.seg_slots);
        let mut pending = std::mem::take(&mut self.pending);
        let mut ranges = Vec::with_capacity(1);
        let mut sealed = 0u64;
        let group = [(batch, reply)];
        let r = self.append_inner(&feed, &group, old_len, &mut peaks, &mut pending, &mut ranges, &mut sealed, true);
        let [(batch, reply)] = group;
        // The commit before completes first: published before this one, and before a rollback.
        self.drain();
        let fail = |w: &mut Writer, pending: Pending, err: AppendError, batch: Batch| {
            w.abandon_commit(&feed, log_chain, saved, pending);
            let _ = reply.send(Err(err));
            w.shared.recycle(batch);
        };
        match r {
            Err(e) => {
                if is_sync_failure(&e) {
                    self.poison();
                }
                fail(self, pending, AppendError::Io(e), batch);
            }
            // The commit before failed its sync: nothing more is published until a reopen.
            Ok(()) if self.poisoned => fail(self, pending, AppendError::Poisoned, batch),
            Ok(()) => {
                let dirty = std::mem::take(&mut self.space.dirty);
                let log = self.space.log.unsynced;
                match self.space.io.start_sync(&dirty, log) {
                    Err(e) => {
                        self.poison();
                        fail(self, pending, AppendError::Io(e), batch);
                    }
                    Ok(sync) => {
                        let syncs = dirty.len() as u64 + u64::from(log);
                        self.shared.counters.syncs.fetch_add(syncs, Ordering::Relaxed);
                        self.sealed_since_ckpt += sealed;
                        let (range, last) = ranges.pop().unwrap_or((old_len..old_len, Hash::default()));
                        self.inflight = Some(InFlight {
                            sync,
                            deferred: std::mem::take(&mut self.space.deferred),
                            deferred_buf: std::mem::take(&mut self.space.deferred_buf),
                            log_chain: self.space.log.chain,
                            new_len: range.end,
                            peaks,
                            pending,
                            range,
                            last,
                            reply,
                            batch,
                        });
                    }
                }
            }
        }
    }

    /// Completes the commit in flight, if any: waits for its syncs, makes its deferred
    /// writes, publishes it and replies. A failure poisons the store.
    pub(crate) fn drain(&mut self) {
        let Some(f) = self.inflight.take() else { return };
        let feed = self.shared.local.clone();
        let r = f.sync.wait().and_then(|()| {
            // In-place rewrites of the tail page: a reader checking that page waits for them.
            let _w = lock(&feed.write_lock);
            self.space.write_deferred(&f.deferred, &f.deferred_buf)
        });
        if let Err(e) = r {
            self.poison();
            let _ = f.reply.send(Err(AppendError::Io(e)));
            self.shared.recycle(f.batch);
            return;
        }
        if self.space.log.chain == f.log_chain {
            self.space.log.unsynced = false;
        }
        let spare = self.publish(&feed, f.new_len, f.peaks, f.pending, None);
        if self.pending.pages.capacity() < spare.pages.capacity() {
            self.pending = spare;
        }
        if let Some(wf) = self.feeds.get_mut(&feed.idx) {
            wf.dirty = true;
        }
        self.shared.counters.commits.fetch_add(1, Ordering::Relaxed);
        let _ = f.reply.send(Ok((f.range, f.last)));
        self.shared.recycle(f.batch);
    }
}
