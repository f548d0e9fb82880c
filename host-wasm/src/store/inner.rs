//! The state behind a `Store`: the in-memory store, what is durable, and the writer that
//! commits changes to IndexedDB in groups.
//!
//! # Writes
//!
//! A write (a local append, a batch a sync session verified) changes the [`MemStore`] at
//! once and marks what it touched as dirty. The writer then commits the dirty pages, feed
//! states and arrival runs in one IndexedDB transaction; writes made while a commit is in
//! flight are committed together by the next one (group commit). A write's promise resolves
//! when the commit holding it is complete, so an acknowledged append survives a reload or a
//! crash of the tab.
//!
//! # What peers see
//!
//! Sync sessions read the local feed only up to its *durable* length: an event is served to
//! a peer only once it is committed. Otherwise a tab that crashed between the two would, on
//! reload, append a different event at the same seq: a fork, as far as the peer could tell.
//!
//! # Failure
//!
//! If a commit fails (quota, private mode), the store stops: every later call throws
//! `CLOSED` and the failed writes' promises reject with the storage error. What was committed
//! before is intact; opening the store again continues from it.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use js_sys::Function;
use wasm_bindgen::JsValue;
use web_sys::IdbDatabase;
use xaeroflux_core::memstore::MemStore;
use xaeroflux_core::xsp::{FetchCache, ForkEvidence, ForkEvidenceError};
use xaeroflux_core::{AuthorId, SignedHead};

use crate::error::{ErrorCode, JsError, make_js_error};
use crate::hex;
use crate::idb::{self, Put};
use crate::persist;

/// A change to announce to subscribers once it is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The feed.
    pub author: AuthorId,
    /// First new seq.
    pub start: u64,
    /// One past the last new seq.
    pub end: u64,
    /// Whether it came from a local append (else from a peer).
    pub local: bool,
}

/// What changed since the last commit.
#[derive(Default)]
pub struct Dirty {
    /// Per feed, the first page to write again (every page after it too).
    pub pages: BTreeMap<AuthorId, u64>,
    /// Feeds whose state record changed (a head without new events, a pending head).
    pub feeds: BTreeSet<AuthorId>,
    /// Fork evidence recorded.
    pub forks: BTreeSet<AuthorId>,
    /// Changes to announce after the commit.
    pub changes: Vec<Change>,
}

impl Dirty {
    fn is_empty(&self) -> bool {
        self.pages.is_empty() && self.feeds.is_empty() && self.forks.is_empty() && self.changes.is_empty()
    }
}

/// The durable state of the local feed, what sessions may serve.
#[derive(Debug, Clone, Copy, Default)]
pub struct Durable {
    /// Events committed.
    pub len: u64,
    /// The head at `len`.
    pub head: Option<SignedHead>,
}

type Waiter = (Function, Function);

/// Something that must hear of every change to a feed: a sync session.
pub trait FeedListener {
    /// `author`'s feed changed (new events, or a new head).
    fn feed_updated(&self, author: &AuthorId);
    /// Whether the store wants `author`'s feed may have changed (fork evidence recorded).
    fn wants_changed(&self, author: &AuthorId);
    /// The store closed: end the session.
    fn store_closed(&self);
}

/// The shared state of one open store.
pub struct Inner {
    /// The store's name (`None` in memory).
    pub name: Option<String>,
    /// Everything held.
    pub mem: RefCell<MemStore>,
    /// The local author.
    pub author: AuthorId,
    /// IndexedDB (`None` in memory).
    pub db: Option<IdbDatabase>,
    /// Commit with `strict` durability.
    pub strict: bool,
    /// The local feed as committed.
    pub durable: Cell<Durable>,
    /// Why the store no longer works, if it does not.
    pub closed: RefCell<Option<String>>,
    dirty: RefCell<Dirty>,
    runs_saved: Cell<usize>,
    waiters: RefCell<Vec<Waiter>>,
    flushing: Cell<bool>,
    /// Releases the cross-tab lock.
    pub release: RefCell<Option<Function>>,
    /// Change listeners, by subscription id.
    pub listeners: RefCell<BTreeMap<u32, Function>>,
    /// The next subscription id.
    pub next_listener: Cell<u32>,
    /// The store's sync sessions.
    pub sessions: RefCell<Vec<std::rc::Weak<dyn FeedListener>>>,
    /// What sessions' reads on demand (`fetchEvents`) verified, kept for later reads.
    pub fetched: RefCell<FetchCache<FetchedRead>>,
    /// Whether those are also kept in IndexedDB across page loads (`super::kept`).
    pub persist_fetched: bool,
}

/// One verified answer of `fetchEvents`, kept for later reads ([`Inner::fetched`]).
pub struct FetchedRead {
    /// The signed head the events were verified against.
    pub head: SignedHead,
    /// The verified answers, in seq order, each with the head and the range proof it was
    /// verified with (which prove any of its events later). Kept as bytes, not as the objects
    /// handed out: each answer gets objects of its own, so an application changing one changes
    /// no later answer.
    pub blocks: Vec<xaeroflux_core::xsp::VerifiedRange>,
}

/// The default budget of [`Inner::fetched`] (the store option `fetchCache`).
pub const FETCH_CACHE: usize = 4 << 20;

/// The store is closed or stopped.
pub struct ClosedError(pub String);

impl core::fmt::Display for ClosedError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsError for ClosedError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Closed
    }
}

impl Inner {
    /// A store around `mem`, whose arrival runs up to `runs_saved` are already persisted.
    /// It keeps at most `fetch_cache` bytes of events read on demand ([`Inner::fetched`]).
    pub fn new(
        name: Option<String>,
        mem: MemStore,
        db: Option<IdbDatabase>,
        strict: bool,
        runs_saved: usize,
        fetch_cache: usize,
        persist_fetched: bool,
    ) -> Self {
        let author = mem.author().unwrap_or_default();
        let persist_fetched = persist_fetched && db.is_some();
        let durable = Durable { len: mem.feed_len(&author), head: mem.local_head() };
        Inner {
            name,
            mem: RefCell::new(mem),
            author,
            db,
            strict,
            durable: Cell::new(durable),
            closed: RefCell::new(None),
            dirty: RefCell::new(Dirty::default()),
            runs_saved: Cell::new(runs_saved),
            waiters: RefCell::new(Vec::new()),
            flushing: Cell::new(false),
            release: RefCell::new(None),
            listeners: RefCell::new(BTreeMap::new()),
            next_listener: Cell::new(1),
            sessions: RefCell::new(Vec::new()),
            fetched: RefCell::new(FetchCache::new(fetch_cache)),
            persist_fetched,
        }
    }

    /// Fails with `CLOSED` if the store no longer works.
    pub fn check_open(&self) -> Result<(), JsValue> {
        match &*self.closed.borrow() {
            Some(why) => Err(ClosedError(why.clone()).to_js()),
            None => Ok(()),
        }
    }

    /// Records that `author`'s events from `first_seq` on changed (and announces `change`).
    pub fn touch(&self, author: AuthorId, first_seq: u64, change: Option<Change>) {
        let page = self.mem.borrow().locate(&author, first_seq).map_or(0, |(p, _)| p);
        let mut d = self.dirty.borrow_mut();
        let e = d.pages.entry(author).or_insert(page);
        *e = (*e).min(page);
        d.feeds.insert(author);
        if let Some(c) = change {
            d.changes.push(c);
        }
    }

    /// Records that `author`'s state record changed (a head adopted, no new events).
    pub fn touch_state(&self, author: AuthorId) {
        self.dirty.borrow_mut().feeds.insert(author);
    }

    /// Records new fork evidence against `author`.
    pub fn touch_fork(&self, author: AuthorId) {
        let mut d = self.dirty.borrow_mut();
        d.forks.insert(author);
        d.feeds.insert(author);
    }

    /// The writes that persist the dirty state (and clears it), with the changes to announce.
    fn take_dirty(&self) -> (Vec<Put>, Vec<Change>) {
        let d = std::mem::take(&mut *self.dirty.borrow_mut());
        let mem = self.mem.borrow();
        let mut puts = Vec::new();
        for (author, first) in &d.pages {
            let a = hex::encode(author.as_bytes());
            for p in *first..mem.page_count(author) {
                if let Some(img) = mem.page(author, p) {
                    puts.push(Put::Page(a.clone(), p, img.into_owned()));
                }
            }
        }
        for author in &d.feeds {
            if let Some(state) = mem.feed_state(author) {
                puts.push(Put::Feed(hex::encode(author.as_bytes()), persist::encode_feed_state(&state)));
            }
        }
        for author in &d.forks {
            if let Some(ev) = mem.fork(author) {
                puts.push(Put::Fork(hex::encode(author.as_bytes()), persist::encode_fork(ev)));
            }
        }
        // Runs only grow at the end, and the last one may have been extended.
        let saved = self.runs_saved.get();
        let runs = mem.arrival_runs();
        let total = runs.len();
        for (i, run) in runs.enumerate().skip(saved.saturating_sub(1)) {
            puts.push(Put::Arrival(i as u64, persist::encode_run(&run)));
        }
        self.runs_saved.set(total);
        (puts, d.changes)
    }

    /// The durable state of the local feed as the in-memory store has it now.
    fn durable_now(&self) -> Durable {
        let mem = self.mem.borrow();
        Durable { len: mem.feed_len(&self.author), head: mem.local_head() }
    }

    /// Stops the store for good (until it is opened again).
    pub fn stop(&self, why: String) {
        let mut c = self.closed.borrow_mut();
        if c.is_none() {
            *c = Some(why);
        }
        drop(c);
        if let Some(release) = self.release.borrow_mut().take() {
            let _ = release.call0(&JsValue::NULL);
        }
        if let Some(db) = &self.db {
            db.close();
        }
        let sessions: Vec<_> = self.sessions.borrow().iter().filter_map(std::rc::Weak::upgrade).collect();
        for s in sessions {
            s.store_closed();
        }
    }

    /// Tells every sync session that `author`'s feed changed.
    pub fn notify_sessions(&self, author: &AuthorId) {
        self.sessions.borrow_mut().retain(|w| w.strong_count() > 0);
        let sessions: Vec<_> = self.sessions.borrow().iter().filter_map(std::rc::Weak::upgrade).collect();
        for s in sessions {
            s.feed_updated(author);
        }
    }

    /// Records fork evidence (checked): if new, marks it to persist (the caller commits) and
    /// tells every session to stop fetching the feed.
    pub fn record_fork(&self, ev: &ForkEvidence) -> Result<bool, ForkEvidenceError> {
        let new = self.mem.borrow_mut().record_fork(ev)?;
        if new {
            self.touch_fork(ev.author());
            self.notify_wants(&ev.author());
        }
        Ok(new)
    }

    /// Tells every sync session that whether the store wants `author`'s feed may have changed.
    pub fn notify_wants(&self, author: &AuthorId) {
        self.sessions.borrow_mut().retain(|w| w.strong_count() > 0);
        let sessions: Vec<_> = self.sessions.borrow().iter().filter_map(std::rc::Weak::upgrade).collect();
        for s in sessions {
            s.wants_changed(author);
        }
    }

    fn announce(&self, changes: &[Change], local_durable: bool) {
        // Sessions serve the local feed only once it is durable: now it is.
        if local_durable {
            self.notify_sessions(&self.author);
        }
        if changes.is_empty() {
            return;
        }
        let listeners: Vec<Function> = self.listeners.borrow().values().cloned().collect();
        for c in changes {
            let v = crate::js::Obj::new()
                .set("author", hex::encode(c.author.as_bytes()))
                .num("start", c.start)
                .num("end", c.end)
                .set("origin", if c.local { "local" } else { "sync" })
                .build();
            for l in &listeners {
                // A listener that throws must not stop the others, nor the store.
                let _ = l.call1(&JsValue::NULL, &v);
            }
        }
    }
}

/// Starts a commit of what is dirty without waiting for it (a failure stops the store).
pub fn commit_later(inner: &Rc<Inner>) {
    let inner = inner.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let _ = commit(&inner).await;
    });
}

/// Commits what is dirty; resolves when a commit holding every write made so far is
/// complete. Starts the writer if it is idle.
pub async fn commit(inner: &Rc<Inner>) -> Result<(), JsValue> {
    inner.check_open()?;
    let mut waiter = None;
    let p = js_sys::Promise::new(&mut |resolve, reject| waiter = Some((resolve, reject)));
    if let Some(w) = waiter {
        inner.waiters.borrow_mut().push(w);
    }
    if !inner.flushing.get() {
        inner.flushing.set(true);
        wasm_bindgen_futures::spawn_local(writer(inner.clone()));
    }
    wasm_bindgen_futures::JsFuture::from(p).await.map(|_| ())
}

/// The writer: commits until nothing is dirty and nobody waits.
async fn writer(inner: Rc<Inner>) {
    loop {
        let waiters = std::mem::take(&mut *inner.waiters.borrow_mut());
        let is_clean = inner.dirty.borrow().is_empty();
        if waiters.is_empty() && is_clean {
            break;
        }
        let durable = inner.durable_now();
        let grew = durable.len != inner.durable.get().len;
        let (puts, changes) = inner.take_dirty();
        let result = match (&inner.db, puts.is_empty()) {
            (Some(db), false) => idb::commit(db, puts, inner.strict).await,
            _ => Ok(()),
        };
        match result {
            Ok(()) => {
                inner.durable.set(durable);
                for (resolve, _) in &waiters {
                    let _ = resolve.call0(&JsValue::NULL);
                }
                inner.announce(&changes, grew);
            }
            Err(e) => {
                let err = e.to_js();
                inner.stop(format!("the store stopped after a failed write ({e}); open it again"));
                for (_, reject) in &waiters {
                    let _ = reject.call1(&JsValue::NULL, &err);
                }
                let later = std::mem::take(&mut *inner.waiters.borrow_mut());
                let closed = make_js_error(ErrorCode::Closed, "the store stopped after a failed write; open it again");
                for (_, reject) in later {
                    let _ = reject.call1(&JsValue::NULL, &closed);
                }
                break;
            }
        }
    }
    inner.flushing.set(false);
}
