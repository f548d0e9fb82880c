//! Imports of other authors' events ([`Core::store_verified`](crate::Core::store_verified),
//! [`Core::store_batches`](crate::Core::store_batches),
//! [`Core::store_batch_runs`](crate::Core::store_batch_runs)): the caller checked them
//! against their signed head; the writer stores them, checks that they extend the stored MMR
//! to the expected peaks, publishes and checkpoints. See "Commits and durability" in
//! `docs/storage.md`.

use super::*;

/// A member of a group of imports: written (pages, log records, deferred in-place writes)
/// but neither synced nor published.
struct Staged {
    feed: Arc<FeedState>,
    peaks: MmrPeaks,
    pending: Pending,
    sealed: u64,
    /// The head to store (`None` for a batch that ends before its head).
    head: Option<SignedHead>,
}

impl Writer {
    /// Imports of distinct feeds (checked by their callers) in one commit: each is written
    /// in turn (its new pages, its tail page's log record and in-place rewrite, deferred);
    /// then one durable sync of the log and the segments, the in-place writes, and every
    /// import is published; then one index checkpoint. The caller is answered after it, so
    /// an import is acknowledged only once durable and indexed, as a commit of its own would
    /// be. An import that fails while written (a damaged tail page, a write error, events
    /// that do not give the expected peaks) is forgotten alone. If the log may not hold one
    /// more record, what is written so far is committed first and the log checkpointed. A
    /// failed sync or checkpoint fails every import of the group not refused before, and
    /// poisons the store.
    pub(super) fn import_group(&mut self, imps: Vec<Import>) -> Vec<Result<(), ImportError>> {
        let page_size = self.shared.config.page_size();
        let mut results: Vec<Result<(), ImportError>> = Vec::with_capacity(imps.len());
        let mut staged: Vec<(usize, Staged)> = Vec::new();
        for imp in imps {
            // A feed staged already (callers send distinct feeds; this keeps it safe if not):
            // its first import is committed before the next is written over its state.
            let again = staged.iter().any(|(_, s)| s.feed.author == imp.head.author);
            if !self.poisoned && (again || !self.space.log.has_room(page_size)) {
                self.commit_staged(&mut staged, &mut results);
                if let Err(e) = self.make_log_room() {
                    self.poison();
                    results.push(Err(ImportError::Io(e)));
                    continue;
                }
            }
            if self.poisoned {
                results.push(Err(ImportError::Poisoned));
                continue;
            }
            let new_feeds = staged.iter().filter(|(_, s)| existing_is_new(&self.shared, &s.feed)).count();
            match self.stage(imp, new_feeds) {
                Ok(s) => {
                    staged.push((results.len(), s));
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        self.commit_staged(&mut staged, &mut results);
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

    /// Writes one import of a group (see [`import_group`](Self::import_group)); `new_feeds`
    /// feeds new to the store are staged before it (each gets its own index).
    fn stage(&mut self, imp: Import, new_feeds: usize) -> Result<Staged, ImportError> {
        let author = imp.head.author;
        let feed = match self.shared.feed(&author) {
            Some(f) => f,
            None => {
                if imp.expect_len != 0 {
                    return Err(ImportError::Conflict);
                }
                let idx = u32::try_from(read(&self.shared.feeds).list.len() + new_feeds)
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
        let mark = self.space.mark();
        let saved = (self.space.next, self.space.seg_slots);
        let mut pending = Pending::default();
        let mut sealed = 0u64;
        let r = self.import_inner(&feed, &imp, &mut peaks, &mut pending, &mut sealed).and_then(|()| {
            let (want_root, want_len) = match &imp.partial {
                Some(p) => (p.root(), p.leaves()),
                None => (imp.head.root, imp.head.length),
            };
            if peaks.root() != want_root || peaks.leaves() != want_len {
                return Err(ImportError::LengthMismatch { head: imp.head.length, computed: peaks.leaves() });
            }
            Ok(())
        });
        if let Err(e) = r {
            // Nothing of it is synced or published: its records and in-place writes are
            // dropped, and its slots handed out again (it is the latest thing written).
            self.space.abandon_to(mark);
            self.rollback(&feed, saved.0, saved.1);
            self.forget_if_new(&feed);
            return Err(e);
        }
        Ok(Staged { feed, peaks, pending, sealed, head: imp.partial.is_none().then_some(imp.head) })
    }

    /// Makes the staged imports durable (their records, then their in-place writes, under
    /// each feed's write lock so that no reader checks a half-rewritten page) and publishes
    /// them, in order. A failure fails them all and poisons the store.
    fn commit_staged(&mut self, staged: &mut Vec<(usize, Staged)>, results: &mut [Result<(), ImportError>]) {
        if staged.is_empty() {
            return;
        }
        let shared = self.shared.clone();
        let r = {
            let _locks: Vec<_> = staged.iter().map(|(_, s)| lock(&s.feed.write_lock)).collect();
            self.space.finish_writes(&shared, true).and_then(|()| self.space.sync(&shared))
        };
        if let Err(e) = r {
            self.poison();
            let mut e = Some(e);
            for (i, s) in staged.drain(..) {
                results[i] = Err(e.take().map_or(ImportError::Poisoned, ImportError::Io));
                self.forget_if_new(&s.feed);
            }
            return;
        }
        for (_, s) in staged.drain(..) {
            if existing_is_new(&self.shared, &s.feed) {
                let mut t = write(&self.shared.feeds);
                t.by_author.insert(s.feed.author, s.feed.clone());
                t.list.push(s.feed.clone());
            }
            let new_len = s.peaks.leaves();
            let spare = self.publish(&s.feed, new_len, s.peaks, s.pending, s.head);
            if self.pending.pages.capacity() < spare.pages.capacity() {
                self.pending = spare;
            }
            self.sealed_since_ckpt += s.sealed;
            if let Some(wf) = self.feeds.get_mut(&s.feed.idx) {
                wf.dirty = true;
            }
            self.shared.counters.commits.fetch_add(1, Ordering::Relaxed);
        }
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
        Ok(())
    }
}
