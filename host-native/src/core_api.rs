//! The [`Core`] handle.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Sender, bounded};
use xaeroflux_core::event::{EventFlags, MAX_PAYLOAD_LEN};
use xaeroflux_core::mmr::{self, ConsistencyProof, InclusionProof, MmrPeaks};
use xaeroflux_core::sealed::{self, SpaceSecret};
use xaeroflux_core::{AuthorId, EventRef, Hash, SignedHead};

use crate::error::{AppendError, ProveError, ReadError, SyncError};
use crate::read::{Events, FeedRange, Walker};
use crate::secret::EncryptError;
use crate::store::nodes::NodeReader;
use crate::store::state::{FeedInner, Shared, lock, read};
use crate::store::wait::{SPIN, recv_spin};
use crate::store::writer::{Batch, Item, Request, SharedWriter, Writer};

mod archive;
mod archive_restore;
mod backup;
mod builder;
mod forks;
mod import;
mod pipelined;
pub use archive::{ArchiveReport, ArchiveWriteError};
pub use archive_restore::{RestoreArchiveError, RestoreProgress};
pub use backup::{BackupError, BackupProgress, BackupReport};
pub use builder::{CoreBuilder, Durability};
pub use pipelined::PendingAppend;

/// An event to append to the local feed. Made by [`Core::new_event`].
#[derive(Clone, Debug)]
pub struct NewEvent {
    author: AuthorId,
    payload: Vec<u8>,
    kind: u16,
    flags: EventFlags,
    timestamp_us: Option<u64>,
}

/// What [`Core::batch_of`] takes: a bare payload, or a [`NewEvent`].
pub(crate) trait BatchItem {
    fn payload(&self) -> &[u8];
    fn kind(&self) -> u16 {
        0
    }
    fn flags(&self) -> EventFlags {
        EventFlags::NONE
    }
    fn timestamp_us(&self) -> Option<u64> {
        None
    }
}

impl BatchItem for &[u8] {
    fn payload(&self) -> &[u8] {
        self
    }
}

impl BatchItem for NewEvent {
    fn payload(&self) -> &[u8] {
        &self.payload
    }
    fn kind(&self) -> u16 {
        self.kind
    }
    fn flags(&self) -> EventFlags {
        self.flags
    }
    fn timestamp_us(&self) -> Option<u64> {
        self.timestamp_us
    }
}

impl NewEvent {
    /// Sets the application-defined kind (default 0).
    pub fn kind(mut self, kind: u16) -> Self {
        self.kind = kind;
        self
    }
    /// Sets the flags (default none).
    pub fn flags(mut self, flags: EventFlags) -> Self {
        self.flags = flags;
        self
    }
    /// Sets the timestamp in microseconds since the Unix epoch (default: the clock at append).
    pub fn timestamp_us(mut self, us: u64) -> Self {
        self.timestamp_us = Some(us);
        self
    }
    /// The payload (sealed, after [`NewEvent::encrypt`]).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
    /// Encrypts the payload for the members of a space: seals it with `secret` (XChaCha20-
    /// Poly1305, bound to the local author; see [`crate::secret`]) and sets
    /// [`EventFlags::ENCRYPTED`]. Call it after [`NewEvent::flags`], which replaces the flags.
    /// Members read the event with [`EventRef::decrypt`](crate::EventRef::decrypt); everyone
    /// else stores, verifies and syncs it without reading it.
    ///
    /// ```
    /// use xaeroflux::{Core, new_space_secret};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let core = Core::builder().open(dir.path())?;
    /// let secret = new_space_secret()?;
    /// core.append(core.new_event(b"for members only").kind(7).encrypt(&secret)?)?;
    /// let ev = core.get(&core.author(), 0)?.expect("just appended");
    /// assert_ne!(ev.payload(), b"for members only");
    /// assert_eq!(ev.decrypt(&secret)?, b"for members only");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encrypt(mut self, secret: &SpaceSecret) -> Result<NewEvent, EncryptError> {
        if self.flags.contains(EventFlags::ENCRYPTED) {
            return Err(EncryptError::AlreadyEncrypted);
        }
        let random = crate::secret::os_random::<24>().map_err(|_| EncryptError::Random)?;
        let mut sealed_payload = Vec::with_capacity(sealed::sealed_len(self.payload.len()));
        sealed::seal(secret, &self.author, &self.payload, &random, &mut sealed_payload).map_err(EncryptError::Seal)?;
        self.payload.fill(0);
        self.payload = sealed_payload;
        self.flags = self.flags.union(EventFlags::ENCRYPTED);
        Ok(self)
    }
}

/// What an append stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The event's seq in the local feed.
    pub seq: u64,
    /// The event's leaf hash.
    pub leaf: Hash,
}

/// One feed held by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedInfo {
    /// The feed's author.
    pub author: AuthorId,
    /// Number of events stored.
    pub len: u64,
    /// MMR root over them.
    pub root: Hash,
    /// Whether this is the store's own feed.
    pub local: bool,
    /// Whether fork evidence against the author is recorded ([`Core::record_fork`]).
    pub forked: bool,
}

/// Counters and sizes, for monitoring and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Events in the local feed.
    pub local_events: u64,
    /// Events in all feeds.
    pub total_events: u64,
    /// Feeds held.
    pub feeds: u64,
    /// Segment files.
    pub segments: u64,
    /// Commits (appends and imports) since open.
    pub commits: u64,
    /// `fdatasync` calls on segments since open.
    pub syncs: u64,
    /// Index checkpoints since open.
    pub checkpoints: u64,
    /// Events recovered from pages past the last checkpoint when the store was opened.
    pub recovered_events: u64,
    /// Bytes of an interrupted commit's leftovers zeroed when the store was opened.
    pub repaired_bytes: u64,
    /// Rows the open read from the index. It depends on the number of feeds, not on the
    /// number of events: older pages, MMR nodes and arrival runs are read when needed.
    pub open_index_rows: u64,
    /// Pages of segment files the open checked (the local feed's last page, and the pages
    /// appended after the last checkpoint). Bounded by the checkpoint interval and the size
    /// of one commit, not by the number of events.
    pub open_pages_examined: u64,
    /// Bytes of segment files the open read: the pages it checked, and the rest of the
    /// segment holding the end of the local feed (scanned for an interrupted commit's
    /// leftovers). At most one segment plus the pages checked.
    pub open_bytes_examined: u64,
    /// Page size in bytes.
    pub page_size: u32,
}

/// An open store. See the [crate documentation](crate) for the design and the call rules.
///
/// Every method takes `&self`: share a `Core` between threads with an `Arc`. Reads run
/// concurrently with each other and with the writer thread.
pub struct Core {
    pub(crate) shared: Arc<Shared>,
    tx: Sender<Request>,
    /// The writer's state, for appends committed on the caller's thread when the writer is
    /// idle (see `Writer::append_inline`).
    inline: SharedWriter,
    /// How long the last append waited for its reply, in ns: an appender spins on its reply
    /// only while replies come faster than the spin budget (see `store::wait`).
    last_reply_ns: AtomicU64,
    writer: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
    #[cfg(feature = "net")]
    net: crate::net::NetSlot,
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn root_of(inner: &FeedInner) -> Hash {
    inner.peaks.root()
}

impl Core {
    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The local author (the public key of the store's persisted key).
    pub fn author(&self) -> AuthorId {
        self.shared.local.author
    }

    /// The page size of the store in bytes.
    pub fn page_size(&self) -> u32 {
        self.shared.config.page_size()
    }

    /// A new event of the local author with this payload (kind 0, no flags, timestamped at
    /// append). Nothing is stored until [`Core::append`].
    pub fn new_event(&self, payload: &[u8]) -> NewEvent {
        NewEvent {
            author: self.author(),
            payload: payload.to_vec(),
            kind: 0,
            flags: EventFlags::NONE,
            timestamp_us: None,
        }
    }

    fn send_append(&self, batch: Batch) -> Result<(Range<u64>, Hash), AppendError> {
        let r = self.commit(batch);
        self.appended(r)
    }

    /// Commits `batch` (on this thread if the writer is idle, else through the writer thread)
    /// and waits for it; the sync layer is not told.
    fn commit(&self, batch: Batch) -> Result<(Range<u64>, Hash), AppendError> {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return Err(AppendError::Poisoned);
        }
        let batch = match Writer::append_inline(&self.inline, &self.tx, batch) {
            Ok(r) => return r,
            Err(batch) => batch,
        };
        let (rtx, rrx) = bounded(1);
        self.tx.send(Request::Append(batch, rtx)).map_err(|_| AppendError::Closed)?;
        let t0 = Instant::now();
        let spin =
            if self.last_reply_ns.load(Ordering::Relaxed) < SPIN.as_nanos() as u64 { SPIN } else { Duration::ZERO };
        let r = recv_spin(&rrx, spin).map_err(|_| AppendError::Closed)?;
        self.last_reply_ns.store(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        r
    }

    /// Tells the sync layer about a successful append.
    fn appended(&self, r: Result<(Range<u64>, Hash), AppendError>) -> Result<(Range<u64>, Hash), AppendError> {
        #[cfg(feature = "net")]
        if r.is_ok() {
            self.net.feed_changed(&self.author());
        }
        r
    }

    fn item(payload: &[u8], kind: u16, flags: EventFlags, ts: u64) -> Result<Item, AppendError> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&l| l <= MAX_PAYLOAD_LEN)
            .ok_or(AppendError::TooLarge { len: payload.len(), limit: MAX_PAYLOAD_LEN })?;
        if flags.0 & !EventFlags::KNOWN != 0 {
            return Err(AppendError::ReservedFlags(flags.0 & !EventFlags::KNOWN));
        }
        // The flag alone encrypts nothing: an ENCRYPTED event must carry a sealed payload
        // (`NewEvent::encrypt` makes one), or the plaintext would go out marked as sealed.
        if flags.contains(EventFlags::ENCRYPTED) && sealed::key_id_of(payload).is_none() {
            return Err(AppendError::NotSealed);
        }
        Ok(Item { len, kind, flags: flags.0, ts })
    }

    /// Appends one event to the local feed; durable before it returns under
    /// [`Durability::EachAppend`].
    pub fn append(&self, ev: NewEvent) -> Result<Appended, AppendError> {
        let item = Self::item(&ev.payload, ev.kind, ev.flags, ev.timestamp_us.unwrap_or_else(now_us))?;
        let (range, leaf) = self.send_append(Batch { payload: ev.payload, items: vec![item] })?;
        Ok(Appended { seq: range.start, leaf })
    }

    /// Appends many events (kind 0, no flags) in one commit: one `fdatasync` for all.
    /// Returns their seqs.
    pub fn append_batch<'a>(&self, payloads: impl IntoIterator<Item = &'a [u8]>) -> Result<Range<u64>, AppendError> {
        self.append_prepared(self.batch_of(payloads)?)
    }

    /// Commits a batch made by `batch_of` (nothing if it is empty).
    fn append_prepared(&self, batch: Batch) -> Result<Range<u64>, AppendError> {
        if batch.items.is_empty() {
            return Ok(self.nothing_to_append(batch));
        }
        self.send_append(batch).map(|(r, _)| r)
    }

    /// An empty batch: recycled; the local feed's length, as an empty range of seqs.
    fn nothing_to_append(&self, batch: Batch) -> Range<u64> {
        self.shared.recycle(batch);
        let len = self.feed_len(&self.author());
        len..len
    }

    /// Payloads or events as a batch (their kinds, flags and timestamps; now for those without
    /// one); an item that cannot be appended is the error and nothing is kept.
    fn batch_of<T: BatchItem>(&self, items: impl IntoIterator<Item = T>) -> Result<Batch, AppendError> {
        let ts = now_us();
        let mut batch = self.shared.take_batch();
        for it in items {
            let payload = it.payload();
            match Self::item(payload, it.kind(), it.flags(), it.timestamp_us().unwrap_or(ts)) {
                Ok(item) => batch.items.push(item),
                Err(e) => {
                    self.shared.recycle(batch);
                    return Err(e);
                }
            }
            batch.payload.extend_from_slice(payload);
        }
        Ok(batch)
    }

    /// Appends prepared events in one commit (as [`Core::append_batch`], with kinds, flags and
    /// timestamps).
    pub fn append_events(&self, events: impl IntoIterator<Item = NewEvent>) -> Result<Range<u64>, AppendError> {
        self.append_prepared(self.batch_of(events)?)
    }

    /// All events in local arrival order (the order this store committed them), borrowed from
    /// the mapped pages. See [`Events`].
    ///
    /// Each item is a `Result`: a page that fails its checks is an error for its events, and
    /// the iteration goes on past it. The original Xaeroflux quickstart, with that `?`:
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// use xaeroflux::Core;
    ///
    /// let mut core = Core::builder()
    ///     .with_page_size(16 * 1024)
    ///     .with_segment_pages(1024)
    ///     .open(dir.path().join("xaeroflux.db"))?;
    /// let ev = core.new_event(b"Hello, Xaeroflux!");
    /// core.append(ev)?;
    /// for event in core.iter_events() {
    ///     println!("{:?}", event?.data());
    /// }
    /// let root = core.mmr_root();
    /// # assert_eq!(root, core.head().root);
    /// # let _ = &mut core;
    /// # Ok(())
    /// # }
    /// ```
    pub fn iter_events(&self) -> Events<'_> {
        Events::new(&self.shared)
    }

    /// The event `seq` of `author`'s feed, borrowed from its page; `None` if not stored.
    pub fn get(&self, author: &AuthorId, seq: u64) -> Result<Option<EventRef<'_>>, ReadError> {
        if *author == self.shared.local.author {
            return self.shared.event(&self.shared.local, seq);
        }
        let feeds = read(&self.shared.feeds);
        let Some(feed) = feeds.by_author.get(author) else { return Ok(None) };
        self.shared.event(feed, seq)
    }

    /// Events `seqs` of `author`'s feed, borrowed from the pages. Every page of the range is
    /// checked first, so a damaged page is reported here, as [`ReadError::Corrupt`].
    pub fn range(&self, author: &AuthorId, seqs: Range<u64>) -> Result<FeedRange<'_>, ReadError> {
        let len = self.feed_len(author);
        if seqs.end > len || seqs.start > seqs.end {
            return Err(ReadError::OutOfRange { requested: seqs, len });
        }
        let Some(feed) = self.shared.feed(author) else {
            return Ok(FeedRange::new(Walker::new(&self.shared, self.shared.local.clone(), 0, 0)));
        };
        let mut seq = seqs.start;
        while seq < seqs.end {
            let loc = self.shared.locate(&feed, seq)?;
            seq = loc.end.max(seq + 1);
        }
        Ok(FeedRange::new(Walker::new(&self.shared, feed, seqs.start, seqs.end)))
    }

    /// The whole feed of `author` (empty if unknown). As [`Core::range`].
    pub fn iter_feed(&self, author: &AuthorId) -> Result<FeedRange<'_>, ReadError> {
        self.range(author, 0..self.feed_len(author))
    }

    /// Number of events stored of `author`'s feed (0 if unknown).
    pub fn feed_len(&self, author: &AuthorId) -> u64 {
        self.shared.feed(author).map_or(0, |f| read(&f.inner).len)
    }

    /// The feeds held, the local one first.
    pub fn feeds(&self) -> Vec<FeedInfo> {
        let list: Vec<_> = read(&self.shared.feeds).list.clone();
        let forks = read(&self.shared.forks);
        let mut out: Vec<FeedInfo> = list
            .iter()
            .map(|f| {
                let inner = read(&f.inner);
                let forked = forks.contains_key(&f.author);
                FeedInfo { author: f.author, len: inner.len, root: root_of(&inner), local: f.local, forked }
            })
            .collect();
        out.sort_by_key(|f| !f.local);
        out
    }

    /// MMR root of the local feed.
    pub fn mmr_root(&self) -> Hash {
        root_of(&read(&self.shared.local.inner))
    }

    /// MMR peaks (and length) of a feed: what a peer needs to check an extension.
    pub fn feed_peaks(&self, author: &AuthorId) -> Option<MmrPeaks> {
        self.shared.feed(author).map(|f| read(&f.inner).peaks.clone())
    }

    /// The local feed's head `(author, length, root)`, signed with the local key.
    pub fn head(&self) -> SignedHead {
        let (len, root) = {
            let inner = read(&self.shared.local.inner);
            (inner.len, root_of(&inner))
        };
        let mut cache = lock(&self.shared.head_cache);
        if let Some(h) = cache.as_ref().filter(|h| h.length == len && h.root == root) {
            return *h;
        }
        let h = self.shared.key.sign_head(len, root);
        *cache = Some(h);
        h
    }

    /// The newest signed head stored for `author`'s feed (the local head for the local author).
    pub fn feed_head(&self, author: &AuthorId) -> Option<SignedHead> {
        if *author == self.author() {
            return Some(self.head());
        }
        self.shared.feed(author).and_then(|f| read(&f.inner).head)
    }

    /// Proof that event `seq` is in `author`'s feed at its current length (verify it against the
    /// root of [`Core::feed_head`] with [`crate::verify_event`]).
    pub fn inclusion_proof(&self, author: &AuthorId, seq: u64) -> Result<InclusionProof, ProveError> {
        let feed = self.shared.feed(author).ok_or(ProveError::UnknownFeed(*author))?;
        let len = read(&feed.inner).len;
        if seq >= len {
            return Err(ProveError::OutOfRange { requested: seq, len });
        }
        self.with_nodes(author, len, |n| mmr::inclusion_proof(n, len, seq))
    }

    /// Proof that `author`'s feed of length `old_len` is a prefix of the feed now.
    pub fn consistency_proof(&self, author: &AuthorId, old_len: u64) -> Result<ConsistencyProof, ProveError> {
        let feed = self.shared.feed(author).ok_or(ProveError::UnknownFeed(*author))?;
        let len = read(&feed.inner).len;
        if old_len > len {
            return Err(ProveError::OutOfRange { requested: old_len, len });
        }
        self.with_nodes(author, len, |n| mmr::consistency_proof(n, old_len, len))
    }

    fn call(&self, make: impl FnOnce(Sender<Result<(), SyncError>>) -> Request) -> Result<(), SyncError> {
        let (rtx, rrx) = bounded(1);
        self.tx.send(make(rtx)).map_err(|_| SyncError::Closed)?;
        rrx.recv().map_err(|_| SyncError::Closed)?
    }

    /// Makes every acknowledged append durable now (useful under [`Durability::GroupCommit`]).
    pub fn sync(&self) -> Result<(), SyncError> {
        self.call(Request::Sync)
    }

    /// Syncs and commits the index, so the next open has nothing to recover.
    pub fn checkpoint(&self) -> Result<(), SyncError> {
        self.call(Request::Checkpoint)
    }

    /// Checkpoints and stops the writer. Dropping a `Core` does the same, ignoring errors.
    pub fn close(self) -> Result<(), SyncError> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<(), SyncError> {
        #[cfg(feature = "net")]
        self.net.stop();
        let Some(handle) = lock(&self.writer).take() else { return Ok(()) };
        let r = self.call(Request::Shutdown);
        let _ = handle.join();
        r
    }

    /// Counters and sizes.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let feeds = self.feeds();
        Stats {
            local_events: self.feed_len(&self.author()),
            total_events: feeds.iter().map(|f| f.len).sum(),
            feeds: feeds.len() as u64,
            segments: c.segments.load(Ordering::Relaxed),
            commits: c.commits.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            checkpoints: c.checkpoints.load(Ordering::Relaxed),
            recovered_events: c.recovered_events.load(Ordering::Relaxed),
            repaired_bytes: c.truncated_bytes.load(Ordering::Relaxed),
            open_index_rows: c.open_index_rows.load(Ordering::Relaxed),
            open_pages_examined: c.open_pages_examined.load(Ordering::Relaxed),
            open_bytes_examined: c.open_bytes_examined.load(Ordering::Relaxed),
            page_size: self.page_size(),
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("path", &self.path).field("author", &self.author()).finish_non_exhaustive()
    }
}

/// Reads and writes the sync protocol needs ([`xaeroflux_core::xsp::FeedSource`] and the
/// storing of what a session verified). They are public so other transports can drive XSP
/// over a native store too.
impl Core {
    /// The page of `author`'s feed holding `seq`: `(page number, seq of the page's first event)`.
    pub fn locate_page(&self, author: &AuthorId, seq: u64) -> Result<(u64, u64), ReadError> {
        let len = self.feed_len(author);
        let feed = self.shared.feed(author).filter(|_| seq < len);
        let feed = feed.ok_or(ReadError::OutOfRange { requested: seq..seq + 1, len })?;
        let loc = self.shared.locate(&feed, seq)?;
        Ok((loc.page_no, loc.first_seq))
    }

    /// Calls `f` with the image of page `page` of `author`'s feed as stored (`span ×
    /// page_size` bytes, header first; see `docs/formats.md`); `Ok(None)` if there is no
    /// such page. The last page of a feed is read under the feed's write lock, so `f` sees a
    /// consistent image (it may hold events past the published length: use the length).
    /// A page is checked (checksum and encoding) the first time it is read from disk: a
    /// damaged one is [`ReadError::Corrupt`], never handed to `f`.
    pub fn with_page_image<R>(
        &self,
        author: &AuthorId,
        page: u64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, ReadError> {
        let Some(feed) = self.shared.feed(author) else { return Ok(None) };
        let Some(loc) = self.shared.locate_page_no(&feed, page)? else { return Ok(None) };
        if page + 1 >= read(&feed.inner).page_count() {
            let _w = lock(&feed.write_lock);
            return Ok(Some(f(loc.bytes)));
        }
        Ok(Some(f(loc.bytes)))
    }

    fn with_nodes<T>(
        &self,
        author: &AuthorId,
        leaves: u64,
        make: impl FnOnce(&NodeReader<'_>) -> Result<T, mmr::ProofError>,
    ) -> Result<T, ProveError> {
        let feed = self.shared.feed(author).ok_or(ProveError::UnknownFeed(*author))?;
        let len = read(&feed.inner).len;
        if leaves > len {
            return Err(ProveError::OutOfRange { requested: leaves, len });
        }
        // No lock is held while the proof reads nodes (it may read events): see `store::nodes`.
        let nodes = NodeReader::new(&self.shared, feed, leaves);
        let r = make(&nodes);
        nodes.result(r)
    }

    /// Proof that `author`'s feed of length `old_len` is a prefix of its first `new_len`
    /// events (`new_len` at most the stored length).
    pub fn consistency_proof_between(
        &self,
        author: &AuthorId,
        old_len: u64,
        new_len: u64,
    ) -> Result<ConsistencyProof, ProveError> {
        self.with_nodes(author, new_len, |n| mmr::consistency_proof(n, old_len, new_len))
    }

    /// Proof that event `seq` is in the first `leaves` events of `author`'s feed.
    pub fn inclusion_proof_at(&self, author: &AuthorId, leaves: u64, seq: u64) -> Result<InclusionProof, ProveError> {
        self.with_nodes(author, leaves, |n| mmr::inclusion_proof(n, leaves, seq))
    }

    /// Proof that events `start..end` are in the first `leaves` events of `author`'s feed.
    pub fn range_proof_at(
        &self,
        author: &AuthorId,
        leaves: u64,
        start: u64,
        end: u64,
    ) -> Result<mmr::RangeProof, ProveError> {
        self.with_nodes(author, leaves, |n| mmr::range_proof(n, leaves, start, end))
    }

    /// A second handle on the same open store for the sync layer's threads: same state and
    /// writer, but dropping it neither stops the writer nor the sync.
    #[cfg(feature = "net")]
    pub(crate) fn sibling(&self) -> Core {
        Core {
            shared: self.shared.clone(),
            tx: self.tx.clone(),
            inline: self.inline.clone(),
            last_reply_ns: AtomicU64::new(0),
            writer: Mutex::new(None),
            path: self.path.clone(),
            net: Default::default(),
        }
    }

    /// The running sync, if any.
    #[cfg(feature = "net")]
    pub(crate) fn net_slot(&self) -> &crate::net::NetSlot {
        &self.net
    }
}
