//! The writer: the only code that writes segments and the index, its state behind one lock.
//!
//! Requests arrive on a crossbeam channel, served by the writer thread. Appends queued together
//! are committed together (one `fdatasync` for all of them). Under `EachAppend`, an append that
//! finds the writer idle commits on its own thread ([`Writer::append_inline`]). Slot allocation
//! and the commit's writes and syncs are in `space`, the tail page in `tail`. See
//! `docs/storage.md` for the commit and checkpoint rules.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use xaeroflux_core::event::{EventFlags, EventHeader, EventRef, MAX_PAYLOAD_LEN};
use xaeroflux_core::mmr::{self, MmrPeaks};
use xaeroflux_core::{Hash, SignedHead};

use super::hasher::LeafHasher;
use super::meta::{self, FeedRow, Loc, PageRow};
use super::nodes::stored_positions;
use super::space::{Space, other};
use super::state::{CHECKED, FeedInner, FeedState, PageEntry, Shared, lock, read, write};
use super::tail::{Tail, load_tail, write_tail};
use super::wait::{SPIN, recv_spin};
use crate::Durability;
use crate::error::{AppendError, CorruptReason, ImportError, IoError, SyncError};

mod import;
mod pipeline;

/// Checkpoint (index commit) after this many pages were sealed since the last one, by default
/// (`CoreBuilder::with_checkpoint_pages`). Each checkpoint syncs the segments and commits redb
/// durably: at 256 pages (one per ≈ 13 000 events of 256 bytes) the batched ingest took about
/// 8 % longer than at 1 024 (two A/B runs of six rounds, `docs/benchmarks.md`, seventh
/// session); the price is the work a recovery after a crash may do (the pages since the
/// checkpoint, 16 MiB at 16 KiB pages) and the MMR nodes held in memory until it (≈ 3 MiB more
/// at 256-byte events).
pub(crate) const CHECKPOINT_PAGES: u32 = 1024;

/// Most appends committed together.
const MAX_GROUP: usize = 256;

/// Events of a batch encoded and hashed at a time (bounds the writer's buffers).
const ENCODE_CHUNK: usize = 4096;

pub(crate) struct Item {
    pub len: u32,
    pub kind: u16,
    pub flags: u8,
    pub ts: u64,
}

/// Payloads back to back, and how to cut them. Recycled through [`Shared::recycle`], so a
/// stream of batches does not allocate (or page-fault in) fresh buffers each time.
#[derive(Default)]
pub(crate) struct Batch {
    pub payload: Vec<u8>,
    pub items: Vec<Item>,
}

pub(crate) struct Import {
    pub head: SignedHead,
    /// Encoded events back to back.
    pub events: Vec<u8>,
    pub count: usize,
    pub expect_len: u64,
    /// `Some(peaks)`: the events are a verified prefix that ends before `head` (an XSP batch
    /// checked with a consistency proof): they must reach exactly these peaks, and the
    /// stored head is kept.
    pub partial: Option<MmrPeaks>,
    /// The events' leaf hashes when the caller computed them from these very bytes (the
    /// events of a verified XSP batch); empty: the writer hashes the events.
    pub leaves: Vec<Hash>,
}

/// The seqs appended and the leaf hash of the last one.
pub(crate) type AppendReply = Sender<Result<(Range<u64>, Hash), AppendError>>;

pub(crate) enum Request {
    Append(Batch, AppendReply),
    /// Imports of distinct feeds, committed as one (see [`Writer::import_group`]).
    Imports(Vec<Import>, Sender<Vec<Result<(), ImportError>>>),
    Sync(Sender<Result<(), SyncError>>),
    Checkpoint(Sender<Result<(), SyncError>>),
    Shutdown(Sender<Result<(), SyncError>>),
}

/// Writer-side state of a feed.
pub(crate) struct WFeed {
    pub feed: Arc<FeedState>,
    pub tail: Option<Tail>,
    /// Rows of pages sealed since the last checkpoint.
    pub rows: Vec<(u64, PageRow)>,
    pub dirty: bool,
}

pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    pub space: Space,
    pub durability: Durability,
    pub feeds: HashMap<u32, WFeed>,
    /// Number of runs already in the index (the last one may grow).
    pub runs_ckpt: u64,
    pub sealed_since_ckpt: u64,
    /// Checkpoint after this many sealed pages.
    pub checkpoint_pages: u64,
    pub poisoned: bool,
    /// The writer thread has stopped (shutdown): no commit may follow its last checkpoint.
    pub stopped: bool,
    pub scratch: Vec<u8>,
    /// Leaf hashing of the events being appended (with a helper thread for large commits).
    pub hasher: LeafHasher,
    /// A commit's new pages and nodes, kept between commits for their capacity.
    pub(crate) pending: Pending,
    /// The leaf hashes of the events just packed, for one bulk MMR extension.
    pub(crate) leaves: Vec<Hash>,
    /// A pipelined commit written, its syncs running (see [`pipeline`]).
    pub(crate) inflight: Option<pipeline::InFlight>,
}

/// Whether a failed commit failed to make its writes durable (the writer then poisons: what
/// reached the disk is unknown until a reopen recovers).
fn is_sync_failure(e: &IoError) -> bool {
    e.op == "sync segment" || e.op == "sync tail log"
}

fn wfeed<'f>(
    shared: &Shared,
    feeds: &'f mut HashMap<u32, WFeed>,
    feed: &Arc<FeedState>,
) -> Result<&'f mut WFeed, CorruptReason> {
    let wf = match feeds.entry(feed.idx) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(v) => {
            let tail = load_tail(shared, feed)?;
            v.insert(WFeed { feed: feed.clone(), tail: Some(tail), rows: Vec::new(), dirty: false })
        }
    };
    if wf.tail.is_none() {
        wf.tail = Some(load_tail(shared, feed)?);
    }
    Ok(wf)
}

/// What a commit adds to a feed before it is published.
#[derive(Default)]
pub(crate) struct Pending {
    pages: Vec<PageEntry>,
    nodes: Vec<Hash>,
}

/// The writer's state behind its lock: the writer thread takes it for each request it
/// serves, an appender that finds it free commits on its own thread (see [`Writer::append_inline`]).
pub(crate) type SharedWriter = Arc<Mutex<Writer>>;

impl Writer {
    /// The writer thread: serves requests until a shutdown request or until every sender is
    /// gone. It holds the writer's lock only while it serves requests, never while it waits.
    pub(crate) fn run(writer: SharedWriter, rx: Receiver<Request>) {
        let mut group: Vec<(Batch, AppendReply)> = Vec::new();
        loop {
            let (durability, unsynced_since) = {
                let w = lock(&writer);
                (w.durability, w.space.unsynced_since)
            };
            let req = match (durability, unsynced_since) {
                (Durability::GroupCommit { max_delay }, Some(since)) => match rx.recv_deadline(since + max_delay) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => {
                        let mut guard = lock(&writer);
                        let w = &mut *guard;
                        if !w.poisoned
                            && w.space.unsynced_since.is_some()
                            && let Err(_e) = w.space.sync(&w.shared)
                        {
                            w.poison();
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                _ => match recv_spin(&rx, SPIN) {
                    Ok(r) => r,
                    Err(_) => break,
                },
            };
            let mut w = lock(&writer);
            let mut next = Some(req);
            while let Some(req) = next.take() {
                match req {
                    Request::Append(b, reply) => {
                        group.push((b, reply));
                        if group.len() < MAX_GROUP
                            && let Ok(r) = rx.try_recv()
                        {
                            next = Some(r);
                            continue;
                        }
                        w.append_group(&mut group);
                    }
                    other => {
                        if !group.is_empty() {
                            w.append_group(&mut group);
                        }
                        if w.handle(other) {
                            w.stopped = true;
                            return;
                        }
                    }
                }
            }
            if !group.is_empty() {
                w.append_group(&mut group);
            }
        }
        // All handles are gone without a shutdown request: leave a clean checkpoint anyway.
        let mut w = lock(&writer);
        w.stopped = true;
        if !w.poisoned {
            let _ = w.checkpoint();
        }
    }

    /// Commits `batch` on the calling thread when the writer is idle: its lock is free and it
    /// has no request queued. This spares a one-event durable append the two thread hand-offs
    /// of the channel (on the VMs of our benchmarks, waking a blocked thread on the other vCPU
    /// cost 10–30 µs each way). Returns the batch back when the writer is busy or the store
    /// is under [`Durability::GroupCommit`] (whose delayed sync the writer thread times);
    /// the caller then sends it through the channel, where it joins a group commit.
    pub(crate) fn append_inline(
        writer: &Mutex<Writer>,
        queued: &Sender<Request>,
        batch: Batch,
    ) -> Result<Result<(Range<u64>, Hash), AppendError>, Batch> {
        let Ok(mut w) = writer.try_lock() else { return Err(batch) };
        if w.durability != Durability::EachAppend || !queued.is_empty() {
            return Err(batch);
        }
        if w.stopped {
            return Ok(Err(AppendError::Closed));
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let mut group = vec![(batch, tx)];
        w.append_group(&mut group);
        drop(w);
        Ok(rx.try_recv().unwrap_or(Err(AppendError::Closed)))
    }

    fn poison(&mut self) {
        self.poisoned = true;
        self.shared.poisoned.store(true, Ordering::Release);
    }

    /// Handles a non-append request; returns whether to stop.
    fn handle(&mut self, req: Request) -> bool {
        self.drain();
        match req {
            Request::Append(..) => false,
            Request::Imports(imps, reply) => {
                let _ = reply.send(self.import_group(imps));
                false
            }
            Request::Sync(reply) => {
                let r = self.sync_now();
                let _ = reply.send(r);
                false
            }
            Request::Checkpoint(reply) => {
                let r = if self.poisoned { Err(SyncError::Poisoned) } else { self.checkpoint().map_err(SyncError::Io) };
                let _ = reply.send(r);
                false
            }
            Request::Shutdown(reply) => {
                let r = if self.poisoned { Err(SyncError::Poisoned) } else { self.checkpoint().map_err(SyncError::Io) };
                let _ = reply.send(r);
                true
            }
        }
    }

    fn sync_now(&mut self) -> Result<(), SyncError> {
        if self.poisoned {
            return Err(SyncError::Poisoned);
        }
        if let Err(e) = self.space.sync(&self.shared) {
            self.poison();
            return Err(SyncError::Io(e));
        }
        Ok(())
    }

    /// Pushes one event into a feed's tail, sealing and allocating pages as needed.
    #[allow(clippy::too_many_arguments)]
    fn push(
        space: &mut Space,
        shared: &Shared,
        scratch: &mut Vec<u8>,
        wf: &mut WFeed,
        ev: EventRef<'_>,
        leaf: Option<Hash>,
        pending: &mut Pending,
        sealed: &mut u64,
    ) -> Result<Hash, IoError> {
        let tail = wf.tail.as_mut().ok_or_else(|| other("append", "tail not loaded"))?;
        if !tail.b.fits(ev.encoded().len()) {
            write_tail(space, shared, scratch, tail, false)?;
            if let Some(loc) = tail.loc {
                let row = PageRow {
                    first_seq: tail.b.first_seq(),
                    loc,
                    span: tail.b.span(),
                    count: tail.b.count(),
                    root: tail.b.root(),
                };
                wf.rows.push((tail.page_no, row));
            }
            *sealed += 1;
            let next = tail.b.next_seq();
            tail.b.reset(next);
            tail.loc = None;
            tail.written = 0;
            tail.on_disk = false;
            tail.covered = false;
            tail.page_no += 1;
        }
        match leaf {
            Some(l) => tail.b.push_hashed(ev, l),
            None => tail.b.push(ev),
        }
        .map_err(|_| other("append", "event does not continue the feed"))?;
        if tail.loc.is_none() {
            let loc = space.alloc(shared, tail.b.span())?;
            tail.loc = Some(loc);
            // A slot known to hold zeros needs no zero padding written after the events.
            tail.full = !space.take_zeroed(loc, tail.b.span());
            tail.on_disk = false;
            tail.covered = false;
            pending.pages.push(PageEntry::new(tail.b.first_seq(), loc, tail.b.span(), CHECKED));
        }
        Ok(tail.b.leaf_hashes().last().copied().unwrap_or_default())
    }

    /// Extends `peaks` by `leaves` (many nodes at once), keeping every new node in
    /// `pending.nodes`, which holds the nodes of the commit in position order.
    fn extend_mmr(peaks: &mut MmrPeaks, pending: &mut Pending, leaves: &[Hash]) -> Result<(), IoError> {
        peaks.extend_node_list(leaves, &mut pending.nodes).map_err(|e| match e {
            mmr::MmrError::Full => other("append", "the feed is at the maximum MMR size"),
            _ => other("append", "pending MMR nodes out of step"),
        })
    }

    fn rollback(&mut self, feed: &Arc<FeedState>, saved_next: Loc, saved_slots: u32) {
        self.space.next = saved_next;
        self.space.seg_slots = saved_slots;
        if let Some(wf) = self.feeds.get_mut(&feed.idx) {
            wf.tail = None;
            // Rows of pages sealed in the failed commit: drop those past the published pages.
            let published = read(&feed.inner).page_count();
            wf.rows.retain(|(no, _)| *no < published);
        }
    }

    /// Forgets a commit that failed before it was published: its log records and deferred
    /// writes, its slots and tail (see [`rollback`](Self::rollback)); `pending` is kept, empty,
    /// for its capacity.
    fn abandon_commit(&mut self, feed: &Arc<FeedState>, log_chain: u64, saved: (Loc, u32), mut pending: Pending) {
        self.space.abandon_writes(log_chain);
        self.rollback(feed, saved.0, saved.1);
        pending.pages.clear();
        pending.nodes.clear();
        self.pending = pending;
    }

    fn append_group(&mut self, group: &mut Vec<(Batch, AppendReply)>) {
        self.drain();
        if self.poisoned {
            for (_, reply) in group.drain(..) {
                let _ = reply.send(Err(AppendError::Poisoned));
            }
            return;
        }
        if let Err(e) = self.make_log_room() {
            self.poison();
            let mut e = Some(e);
            for (batch, reply) in group.drain(..) {
                let err = e.take().map_or(AppendError::Poisoned, AppendError::Io);
                let _ = reply.send(Err(err));
                self.shared.recycle(batch);
            }
            return;
        }
        let log_chain = self.space.log.chain;
        let feed = self.shared.local.clone();
        let (old_len, mut peaks) = {
            let inner = read(&feed.inner);
            (inner.len, inner.peaks.clone())
        };
        let saved = (self.space.next, self.space.seg_slots, self.sealed_since_ckpt);
        let mut pending = std::mem::take(&mut self.pending);
        let mut ranges: Vec<(Range<u64>, Hash)> = Vec::with_capacity(group.len());
        let mut sealed = 0u64;
        let r = self.append_inner(&feed, group, old_len, &mut peaks, &mut pending, &mut ranges, &mut sealed, false);
        match r {
            Err(e) => {
                let sync_failed = is_sync_failure(&e);
                self.abandon_commit(&feed, log_chain, (saved.0, saved.1), pending);
                if sync_failed {
                    self.poison();
                }
                let mut e = Some(e);
                for (batch, reply) in group.drain(..) {
                    let err = match e.take() {
                        Some(e) => AppendError::Io(e),
                        None if sync_failed => AppendError::Poisoned,
                        None => AppendError::Io(other("append", "failed with an earlier append of the same commit")),
                    };
                    let _ = reply.send(Err(err));
                    self.shared.recycle(batch);
                }
            }
            Ok(()) => {
                let new_len = old_len + ranges.iter().map(|(r, _)| r.end - r.start).sum::<u64>();
                self.pending = self.publish(&feed, new_len, peaks, pending, None);
                self.sealed_since_ckpt += sealed;
                if let Some(wf) = self.feeds.get_mut(&feed.idx) {
                    wf.dirty = true;
                }
                self.shared.counters.commits.fetch_add(1, Ordering::Relaxed);
                for ((batch, reply), range) in group.drain(..).zip(ranges) {
                    let _ = reply.send(Ok(range));
                    self.shared.recycle(batch);
                }
                if self.sealed_since_ckpt >= self.checkpoint_pages
                    && let Err(_e) = self.checkpoint()
                {
                    self.poison();
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn append_inner(
        &mut self,
        feed: &Arc<FeedState>,
        group: &[(Batch, AppendReply)],
        old_len: u64,
        peaks: &mut MmrPeaks,
        pending: &mut Pending,
        ranges: &mut Vec<(Range<u64>, Hash)>,
        sealed: &mut u64,
        pipelined: bool,
    ) -> Result<(), IoError> {
        let shared = self.shared.clone();
        let author = feed.author;
        let wf = wfeed(&shared, &mut self.feeds, feed)
            .map_err(|_| other("append", "the local feed's tail page is damaged"))?;
        let _w = lock(&feed.write_lock);
        let mut seq = old_len;
        for (batch, _) in group {
            let start = seq;
            let mut off = 0usize;
            for chunk in batch.items.chunks(ENCODE_CHUNK) {
                // Encode the events back to back, hash their leaves (see `hasher`), then pack
                // them into pages.
                let mut job = self.hasher.job();
                for (k, item) in chunk.iter().enumerate() {
                    let end = off + item.len as usize;
                    let payload = batch.payload.get(off..end).ok_or_else(|| other("append", "batch payload cut"))?;
                    off = end;
                    let s = seq + k as u64;
                    let header = EventHeader::new(author, s, item.ts, item.kind, EventFlags(item.flags), item.len);
                    job.offs.push(job.enc.len());
                    job.enc.extend_from_slice(header.as_bytes());
                    job.enc.extend_from_slice(payload);
                }
                job.offs.push(job.enc.len());
                let job = self.hasher.hash(job);
                self.leaves.clear();
                for k in 0..chunk.len() {
                    let ev = EventRef::parse_prefix(job.event(k), MAX_PAYLOAD_LEN)
                        .map_err(|_| other("append", "event encoding"))?
                        .0;
                    let leaf = Some(job.leaf(k));
                    let leaf = Self::push(&mut self.space, &shared, &mut self.scratch, wf, ev, leaf, pending, sealed)?;
                    self.leaves.push(leaf);
                    seq += 1;
                }
                Self::extend_mmr(peaks, pending, &self.leaves)?;
                self.hasher.recycle(job);
            }
            let last = wf.tail.as_ref().and_then(|t| t.b.leaf_hashes().last().copied()).unwrap_or_default();
            ranges.push((start..seq, last));
        }
        let durable = self.durability == Durability::EachAppend;
        if let Some(tail) = wf.tail.as_mut() {
            let log_fresh = durable && self.space.dirty.is_empty();
            write_tail(&mut self.space, &shared, &mut self.scratch, tail, log_fresh)?;
        }
        if pipelined {
            return self.space.flush_log();
        }
        self.space.finish_writes(&shared, durable)?;
        if durable {
            self.space.sync(&shared)?;
        }
        Ok(())
    }

    /// Makes a commit visible to readers.
    fn publish(
        &mut self,
        feed: &Arc<FeedState>,
        new_len: u64,
        peaks: MmrPeaks,
        pending: Pending,
        head: Option<SignedHead>,
    ) -> Pending {
        // The arrival runs' lock is held across both updates, so a reader that saw the new
        // length and then makes an iterator sees the new run too (lock order: runs, then feed).
        let Pending { mut pages, mut nodes } = pending;
        let mut runs = write(&self.shared.runs);
        let old_len;
        {
            let mut inner = write(&feed.inner);
            old_len = inner.len;
            inner.len = new_len;
            inner.peaks = peaks;
            inner.pages.append(&mut pages);
            inner.nodes.extend_from_slice(&nodes);
            nodes.clear();
            if head.is_some() {
                inner.head = head;
            }
        }
        if new_len > old_len {
            runs.extend(feed.idx, old_len, new_len);
        }
        drop(runs);
        if feed.local {
            *lock(&self.shared.head_cache) = None;
        }
        Pending { pages, nodes }
    }

    /// Checkpoints first if the tail log may not hold one more commit's record.
    fn make_log_room(&mut self) -> Result<(), IoError> {
        if self.space.log.has_room(self.shared.config.page_size()) { Ok(()) } else { self.checkpoint() }
    }

    /// Syncs the segments, then commits the index: feeds, new page rows, MMR nodes, arrival
    /// runs and the frontier. See "Checkpoints" in `docs/storage.md`.
    pub(crate) fn checkpoint(&mut self) -> Result<(), IoError> {
        self.drain();
        if self.poisoned {
            return Err(other("checkpoint", "an earlier sync failed"));
        }
        self.space.sync_all(&self.shared)?;
        let shared = self.shared.clone();
        // A feed whose last commit failed has no tail loaded; its published tail page still
        // needs its row (count and root), so load it from the published bytes.
        for wf in self.feeds.values_mut().filter(|w| w.dirty && w.tail.is_none()) {
            wf.tail = Some(load_tail(&shared, &wf.feed).map_err(|_| other("checkpoint", "the tail page is damaged"))?);
        }
        let ix = |e: redb::Error| IoError::index("commit index", e);
        let txn = shared.db.begin_write().map_err(|e| ix(e.into()))?;
        {
            let mut feeds = txn.open_table(meta::FEEDS).map_err(|e| ix(e.into()))?;
            let mut pages = txn.open_table(meta::PAGES).map_err(|e| ix(e.into()))?;
            let mut nodes = txn.open_table(meta::NODES).map_err(|e| ix(e.into()))?;
            let mut runs = txn.open_table(meta::RUNS).map_err(|e| ix(e.into()))?;
            let mut settings = txn.open_table(meta::SETTINGS).map_err(|e| ix(e.into()))?;
            for wf in self.feeds.values().filter(|w| w.dirty) {
                let f = &wf.feed;
                let inner = read(&f.inner);
                let row = FeedRow {
                    author: f.author,
                    local: f.local,
                    len: inner.len,
                    pages: inner.page_count(),
                    peaks: inner.peaks.clone(),
                    head: inner.head,
                };
                feeds.insert(f.idx, row.encode().as_slice()).map_err(|e| ix(e.into()))?;
                for (no, r) in &wf.rows {
                    pages.insert((f.idx, *no), r.encode().as_slice()).map_err(|e| ix(e.into()))?;
                }
                if let Some(t) = wf.tail.as_ref().filter(|t| !t.b.is_empty())
                    && let Some(loc) = t.loc
                {
                    let r = PageRow {
                        first_seq: t.b.first_seq(),
                        loc,
                        span: t.b.span(),
                        count: t.b.count(),
                        root: t.b.root(),
                    };
                    pages.insert((f.idx, t.page_no), r.encode().as_slice()).map_err(|e| ix(e.into()))?;
                }
                let (base, end) = (inner.node_base, inner.node_base + inner.nodes.len() as u64);
                for pos in stored_positions(base, end) {
                    let node = inner.nodes.get((pos - base) as usize).ok_or_else(|| other("checkpoint", "MMR node"))?;
                    nodes.insert((f.idx, pos), node.0.as_slice()).map_err(|e| ix(e.into()))?;
                }
            }
            let log = read(&shared.runs);
            for i in self.runs_ckpt.saturating_sub(1)..log.len() {
                if let Some(r) = log.get(i) {
                    runs.insert(i, r.encode().as_slice()).map_err(|e| ix(e.into()))?;
                }
            }
            settings.insert(meta::K_FRONTIER, self.space.next.encode().as_slice()).map_err(|e| ix(e.into()))?;
            // Every write the log describes is durable now: its records are no longer needed.
            let epoch = self.space.log.epoch + 1;
            settings.insert(meta::K_LOG_EPOCH, epoch.to_le_bytes().as_slice()).map_err(|e| ix(e.into()))?;
        }
        txn.commit().map_err(|e| ix(e.into()))?;
        self.space.log.restart();
        for t in self.feeds.values_mut().filter_map(|w| w.tail.as_mut()) {
            t.covered = false;
        }
        {
            let mut log = write(&shared.runs);
            self.runs_ckpt = log.len();
            log.trim();
        }
        self.sealed_since_ckpt = 0;
        for wf in self.feeds.values_mut().filter(|w| w.dirty) {
            wf.dirty = false;
            wf.rows.clear();
            // The stored nodes are committed; the others are recomputed from the events.
            let mut inner = write(&wf.feed.inner);
            inner.node_base += inner.nodes.len() as u64;
            inner.nodes.clear();
        }
        // Keep the writer's memory small: tails of other feeds are reloaded when needed.
        self.feeds.retain(|_, w| w.feed.local);
        shared.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn existing_is_new(shared: &Shared, feed: &Arc<FeedState>) -> bool {
    !read(&shared.feeds).by_author.contains_key(&feed.author)
}
