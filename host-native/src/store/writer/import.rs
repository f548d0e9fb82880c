//! Imports of other authors' events ([`Core::store_verified`](crate::Core::store_verified),
//! [`Core::store_batches`](crate::Core::store_batches),
//! [`Core::store_batch_runs`](crate::Core::store_batch_runs)): the caller checked them
//! against their signed head; the writer stores them, checks that they extend the stored MMR
//! to the expected peaks, publishes and checkpoints. See "Commits and durability" in
//! `docs/storage.md`.

use super::*;

impl Writer {
    /// Imports of distinct feeds, each written, synced and published as [`import`]
    /// (Self::import) does alone (but for a feed new to the store, which the checkpoint
    /// syncs), then one index checkpoint for all (the caller is answered after it, so an
    /// import is acknowledged only once durable and indexed, as alone). If the checkpoint
    /// fails, every import published since the last one fails too: the store is poisoned.
    pub(super) fn import_group(&mut self, imps: Vec<Import>) -> Vec<Result<(), ImportError>> {
        let mut results: Vec<Result<(), ImportError>> = imps
            .into_iter()
            .map(|imp| if self.poisoned { Err(ImportError::Poisoned) } else { self.import(imp, false) })
            .collect();
        if results.iter().any(Result::is_ok)
            && let Err(e) = self.checkpoint()
        {
            self.poison();
            let mut e = Some(e);
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(e.take().map_or(ImportError::Poisoned, ImportError::Io));
            }
        }
        results
    }

    /// Imports `imp` (checked by the caller): writes its pages, syncs, publishes, and with
    /// `checkpoint` commits the index (a group of imports commits it once, after the last).
    pub(super) fn import(&mut self, imp: Import, checkpoint: bool) -> Result<(), ImportError> {
        let author = imp.head.author;
        let existing = self.shared.feed(&author);
        let feed = match existing {
            Some(f) => f,
            None => {
                if imp.expect_len != 0 {
                    return Err(ImportError::Conflict);
                }
                let idx = u32::try_from(read(&self.shared.feeds).list.len())
                    .map_err(|_| ImportError::Io(other("import", "too many feeds")))?;
                Arc::new(FeedState {
                    idx,
                    author,
                    local: false,
                    inner: RwLock::new(FeedInner {
                        len: 0,
                        peaks: MmrPeaks::new(),
                        pages_base: 0,
                        pages: Vec::new(),
                        node_base: 0,
                        nodes: Vec::new(),
                        head: None,
                    }),
                    write_lock: Default::default(),
                })
            }
        };
        let (old_len, mut peaks) = {
            let inner = read(&feed.inner);
            (inner.len, inner.peaks.clone())
        };
        if old_len != imp.expect_len {
            return Err(ImportError::Conflict);
        }
        self.make_log_room().map_err(|e| {
            self.poison();
            ImportError::Io(e)
        })?;
        let log_chain = self.space.log.chain;
        let saved = (self.space.next, self.space.seg_slots);
        // The writer's spare buffers, for their capacity (given back on success and failure).
        let mut pending = std::mem::take(&mut self.pending);
        let mut sealed = 0u64;
        // In a group, a feed new to the store is not synced alone: its pages are all fresh
        // (no page holding committed events is rewritten), so nothing of it is needed before
        // the group's checkpoint, which syncs everything before committing the index.
        let sync = checkpoint || old_len != 0;
        let r = self.import_inner(&feed, &imp, &mut peaks, &mut pending, &mut sealed, sync);
        if let Err(e) = r {
            self.abandon_commit(&feed, log_chain, saved, pending);
            self.forget_if_new(&feed);
            if matches!(&e, ImportError::Io(io) if is_sync_failure(io)) {
                self.poison();
            }
            return Err(e);
        }
        let (want_root, want_len) = match &imp.partial {
            Some(p) => (p.root(), p.leaves()),
            None => (imp.head.root, imp.head.length),
        };
        if peaks.root() != want_root || peaks.leaves() != want_len {
            // The pages are written and the log record may be durable, but nothing is
            // published or checkpointed: the index still ends before them.
            self.rollback(&feed, saved.0, saved.1);
            self.forget_if_new(&feed);
            pending.pages.clear();
            pending.nodes.clear();
            self.pending = pending;
            return Err(ImportError::LengthMismatch { head: imp.head.length, computed: peaks.leaves() });
        }
        if existing_is_new(&self.shared, &feed) {
            let mut t = write(&self.shared.feeds);
            t.by_author.insert(author, feed.clone());
            t.list.push(feed.clone());
        }
        let new_len = peaks.leaves();
        self.pending = self.publish(&feed, new_len, peaks, pending, imp.partial.is_none().then_some(imp.head));
        self.sealed_since_ckpt += sealed;
        if let Some(wf) = self.feeds.get_mut(&feed.idx) {
            wf.dirty = true;
        }
        self.shared.counters.commits.fetch_add(1, Ordering::Relaxed);
        if checkpoint && let Err(e) = self.checkpoint() {
            self.poison();
            return Err(ImportError::Io(e));
        }
        Ok(())
    }

    /// After a failed import: the writer's state of a feed the store did not have before.
    fn forget_if_new(&mut self, feed: &Arc<FeedState>) {
        if existing_is_new(&self.shared, feed) {
            self.feeds.remove(&feed.idx);
        }
    }

    fn import_inner(
        &mut self,
        feed: &Arc<FeedState>,
        imp: &Import,
        peaks: &mut MmrPeaks,
        pending: &mut Pending,
        sealed: &mut u64,
        sync: bool,
    ) -> Result<(), ImportError> {
        let shared = self.shared.clone();
        if !self.feeds.contains_key(&feed.idx) && read(&feed.inner).len == 0 {
            let tail = Tail::empty(shared.config, feed.author);
            self.feeds.insert(feed.idx, WFeed { feed: feed.clone(), tail: Some(tail), rows: Vec::new(), dirty: false });
        }
        let wf = wfeed(&shared, &mut self.feeds, feed)
            .map_err(|_| ImportError::Io(other("import", "the feed's stored tail page is damaged")))?;
        let _w = lock(&feed.write_lock);
        let mut rest: &[u8] = &imp.events;
        self.leaves.clear();
        for index in 0..imp.count {
            let (ev, used) =
                EventRef::parse_prefix(rest, MAX_PAYLOAD_LEN).map_err(|_| ImportError::BadEvent { index })?;
            rest = rest.get(used..).unwrap_or_default();
            let leaf = imp.leaves.get(index).copied();
            let leaf = Self::push(&mut self.space, &shared, &mut self.scratch, wf, ev, leaf, pending, sealed)
                .map_err(ImportError::Io)?;
            self.leaves.push(leaf);
        }
        Self::extend_mmr(peaks, pending, &self.leaves).map_err(ImportError::Io)?;
        if let Some(tail) = wf.tail.as_mut() {
            write_tail(&mut self.space, &shared, &mut self.scratch, tail, false).map_err(ImportError::Io)?;
        }
        self.space.finish_writes(&shared, sync).map_err(ImportError::Io)?;
        if sync {
            self.space.sync(&shared).map_err(ImportError::Io)?;
        }
        Ok(())
    }
}
