//! Backups of a live store: [`Core::backup_to`].
//!
//! A backup is a new store, written beside the source under a temporary name and renamed to
//! its destination only when complete, that holds what the source held when the backup
//! started: every feed's events (byte for byte), each other author's signed head, the fork
//! evidence, the author key, and the sync's choices (`net.follows`, the peer book, the kept
//! reads on demand). It is a logical copy, not a copy of files: the source keeps taking
//! appends and imports while it runs (readers work beside the writer), and every event is
//! hashed again on the way, so the backup's feeds are checked against the source's signed
//! heads and MMR roots before it is renamed into place. A damaged page of the source fails
//! the backup with its seqs, rather than copying damage.
//!
//! Not copied: the node's network key and port (`net.key`, `net.port`): a restored backup
//! running beside its source must not be the same node; it makes its own on first sync.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use xaeroflux_core::mmr::MmrPeaks;
use xaeroflux_core::xsp::ForkEvidence;
use xaeroflux_core::{AuthorId, EventFlags, EventRef, Hash, SignedHead};

use super::{BatchItem, Core};
use crate::error::{AppendError, ImportError, IoError, OpenError, ReadError, RecordForkError, SyncError};
use crate::store::files::{self, DirState};
use crate::store::state::read;
use crate::store::writer::Import;

/// Encoded bytes of events gathered before they are written to the backup: one commit each
/// (a larger window means fewer commits; each feed's events of a window are stored together).
const WINDOW_BYTES: usize = 8 << 20;
/// Events between two progress callbacks.
const PROGRESS_EVERY: u64 = 1 << 16;
/// The sync's files a backup copies (what the user chose and learnt; see the module docs).
const NET_FILES: [&str; 2] = ["net.follows", "net.peers"];
/// The directory of kept reads on demand (verified again when the backup is next synced).
const KEPT_DIR: &str = "net.fetched";

/// How far a backup has got, given to the callback of [`Core::backup_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupProgress {
    /// Events copied so far.
    pub events_copied: u64,
    /// Events the backup copies (the feeds' lengths when it started).
    pub events_total: u64,
}

/// What [`Core::backup_to`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupReport {
    /// The backup's directory.
    pub path: PathBuf,
    /// Feeds copied (the local one included).
    pub feeds: u64,
    /// Events copied by this call.
    pub events: u64,
    /// Events the backup held before ([`Core::update_backup`]; 0 for a new backup).
    pub events_before: u64,
    /// Encoded bytes of those events (headers and payloads).
    pub event_bytes: u64,
    /// Fork evidence recorded in the backup by this call.
    pub forks: u64,
    /// Time the backup took.
    pub elapsed: Duration,
}

/// Why a backup failed. The destination is then left as it was (absent); the partial copy is
/// removed.
#[derive(Debug)]
#[non_exhaustive]
pub enum BackupError {
    /// Something exists at the destination: a backup writes over nothing.
    DestinationExists {
        /// The destination.
        path: PathBuf,
    },
    /// The destination has no parent directory and file name to write beside.
    BadDestination {
        /// The destination.
        path: PathBuf,
    },
    /// The path to update is not a backup of this store (no store, another author, another
    /// page size).
    NotABackup {
        /// The path.
        path: PathBuf,
    },
    /// Creating or opening the backup's store failed.
    Create(OpenError),
    /// Reading the source failed (a damaged page names its seqs).
    Read(ReadError),
    /// Writing the local feed's events to the backup failed.
    Append(AppendError),
    /// Storing another feed's events in the backup failed.
    Store(ImportError),
    /// Recording fork evidence in the backup failed.
    Fork(RecordForkError),
    /// A feed of the backup does not agree with the source: the events copied do not give the
    /// source's signed head or MMR root (the source's pages changed under it; nothing was
    /// renamed into place), or, updating, the backup's feed is not a prefix of the source's
    /// (the backup was written to, or is another store's; nothing was written).
    Mismatch {
        /// The feed's author.
        author: AuthorId,
        /// Events of it in the backup.
        len: u64,
    },
    /// Making the backup durable failed.
    Sync(SyncError),
    /// A file operation failed (the temporary directory, the sync's files, the final rename).
    Io(IoError),
}

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DestinationExists { path } => {
                write!(f, "backup refused: {} exists (a backup writes over nothing)", path.display())
            }
            Self::BadDestination { path } => write!(f, "backup refused: {} names no directory entry", path.display()),
            Self::NotABackup { path } => write!(f, "{} is not a backup of this store", path.display()),
            Self::Create(e) => write!(f, "backup failed opening its store: {e}"),
            Self::Read(e) => write!(f, "backup failed reading the source: {e}"),
            Self::Append(e) => write!(f, "backup failed writing the local feed: {e}"),
            Self::Store(e) => write!(f, "backup failed storing a feed: {e}"),
            Self::Fork(e) => write!(f, "backup failed recording fork evidence: {e}"),
            Self::Mismatch { author, len } => write!(
                f,
                "backup failed: feed {author} at {len} events does not agree with the source's signed head and root"
            ),
            Self::Sync(e) => write!(f, "backup failed making its store durable: {e}"),
            Self::Io(e) => write!(f, "backup failed: {e}"),
        }
    }
}

impl core::error::Error for BackupError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Create(e) => Some(e),
            Self::Read(e) => Some(e),
            Self::Append(e) => Some(e),
            Self::Store(e) => Some(e),
            Self::Fork(e) => Some(e),
            Self::Sync(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::DestinationExists { .. }
            | Self::BadDestination { .. }
            | Self::NotABackup { .. }
            | Self::Mismatch { .. } => None,
        }
    }
}

/// A feed as the backup found it when it started, and how far its copy has got.
pub(super) struct FeedCopy {
    pub(super) author: AuthorId,
    pub(super) local: bool,
    /// Events to copy.
    pub(super) len: u64,
    /// The source's MMR root over them.
    pub(super) root: Hash,
    /// The source's stored signed head (other authors' feeds); its length is at most `len`.
    pub(super) head: Option<SignedHead>,
    /// Where the copy starts: 0, or the length an earlier backup holds.
    pub(super) start: u64,
    /// Events handed to the backup's writer so far.
    pub(super) copied: u64,
    /// MMR peaks over the events copied, hashed again here.
    pub(super) peaks: MmrPeaks,
}

/// An event of the source appended to the backup's local feed as it is.
struct Copied<'a>(EventRef<'a>);

impl BatchItem for Copied<'_> {
    fn payload(&self) -> &[u8] {
        self.0.payload()
    }
    fn kind(&self) -> u16 {
        self.0.kind()
    }
    fn flags(&self) -> EventFlags {
        self.0.flags()
    }
    fn timestamp_us(&self) -> Option<u64> {
        Some(self.0.timestamp_us())
    }
}

/// Events gathered for one commit: each feed's in the order the feeds first came.
#[derive(Default)]
pub(super) struct Window<'a> {
    feeds: Vec<(usize, Vec<EventRef<'a>>)>,
    /// Where each feed is in `feeds`.
    slots: HashMap<usize, usize>,
    bytes: usize,
}

impl<'a> Window<'a> {
    fn push(&mut self, feed: usize, ev: EventRef<'a>) {
        self.bytes += ev.encoded().len();
        let slot = *self.slots.entry(feed).or_insert_with(|| {
            self.feeds.push((feed, Vec::new()));
            self.feeds.len() - 1
        });
        if let Some((_, evs)) = self.feeds.get_mut(slot) {
            evs.push(ev);
        }
    }
}

impl Core {
    /// Writes a backup of this store to `dest`, a path that must not exist: a new store
    /// holding every feed's events as they were when the backup started (byte for byte, so the
    /// same MMR roots), the other authors' signed heads, fork evidence, the author key, and the
    /// sync's followed feeds, peer book and kept reads. Open it like any store; copy it back
    /// to restore. It runs while the store is used (appends made meanwhile are not in it).
    ///
    /// Every event is hashed again on the way and each feed checked against the source's
    /// signed head and root; the copy is built under a temporary name beside `dest`
    /// (`.<name>.backup-partial`) and renamed to `dest` only once complete and durable, so
    /// `dest` is either a whole backup or absent. See [`BackupError`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let core = xaeroflux::Core::open(dir.path().join("store"))?;
    /// core.append_batch([&b"one"[..], b"two"])?;
    /// let report = core.backup_to(dir.path().join("backup"))?;
    /// assert_eq!(report.events, 2);
    ///
    /// let copy = xaeroflux::Core::open(dir.path().join("backup"))?;
    /// assert_eq!((copy.author(), copy.mmr_root()), (core.author(), core.mmr_root()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<BackupReport, BackupError> {
        self.backup_with(dest, |_| {})
    }

    /// [`Core::backup_to`], calling `progress` as it goes (every 65 536 events or so, and once
    /// at the end): for a progress bar.
    pub fn backup_with(
        &self,
        dest: impl AsRef<Path>,
        mut progress: impl FnMut(BackupProgress),
    ) -> Result<BackupReport, BackupError> {
        let t0 = Instant::now();
        let dest = dest.as_ref().to_path_buf();
        let report = write_then_rename(&dest, |partial| self.write_backup(partial, &mut progress))?;
        Ok(BackupReport { path: dest, elapsed: t0.elapsed(), ..report })
    }

    /// Writes the backup's store at `at` (which does not exist).
    fn write_backup(&self, at: &Path, progress: &mut dyn FnMut(BackupProgress)) -> Result<BackupReport, BackupError> {
        let copy = self.open_copy(at, true)?;
        let feeds = self.snapshot();
        let report = self.copy_feeds(&copy, feeds, progress)?;
        self.finish_copy(copy, at)?;
        Ok(report)
    }

    /// Brings the backup at `dest` (made by [`Core::backup_to`] of this store, or updated
    /// since) up to this store's state: only what the backup lacks is copied, each feed's
    /// events past the backup's length, new feeds, newer signed heads and fork evidence. Every
    /// feed the backup holds must be a prefix of this store's (checked with a consistency
    /// proof against the backup's root) and the backup of this store's author, or nothing is
    /// written ([`BackupError::NotABackup`], [`BackupError::Mismatch`]).
    ///
    /// It writes into the backup in place, a commit at a time (not under a temporary name):
    /// interrupted, the backup is still a store that opens, holding each feed up to some
    /// length between what it held and what this store held; the next update goes on from
    /// there. The report counts the events copied by this call.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let core = xaeroflux::Core::open(dir.path().join("store"))?;
    /// core.append_batch([&b"one"[..], b"two"])?;
    /// core.backup_to(dir.path().join("backup"))?;
    /// core.append(core.new_event(b"three"))?;
    /// let report = core.update_backup(dir.path().join("backup"))?;
    /// assert_eq!((report.events, report.events_before), (1, 2));
    /// # Ok(())
    /// # }
    /// ```
    pub fn update_backup(&self, dest: impl AsRef<Path>) -> Result<BackupReport, BackupError> {
        self.update_backup_with(dest, |_| {})
    }

    /// [`Core::update_backup`], calling `progress` as it goes (events to copy only).
    pub fn update_backup_with(
        &self,
        dest: impl AsRef<Path>,
        mut progress: impl FnMut(BackupProgress),
    ) -> Result<BackupReport, BackupError> {
        let t0 = Instant::now();
        let dest = dest.as_ref();
        let not_a_backup = || BackupError::NotABackup { path: dest.to_path_buf() };
        if !matches!(files::inspect(dest), Ok(DirState::Store(_))) {
            return Err(not_a_backup());
        }
        let copy = self.open_copy(dest, false)?;
        if copy.author() != self.author() || copy.page_size() != self.page_size() {
            return Err(not_a_backup());
        }
        let mut feeds = self.snapshot();
        for f in &mut feeds {
            self.resume(&copy, f)?;
        }
        if let Some(extra) = copy.feeds().iter().find(|g| !feeds.iter().any(|f| f.author == g.author)) {
            return Err(BackupError::Mismatch { author: extra.author, len: extra.len });
        }
        let before: u64 = feeds.iter().map(|f| f.start).sum();
        let mut report = self.copy_feeds(&copy, feeds, &mut progress)?;
        self.finish_copy(copy, dest)?;
        report.events_before = before;
        report.elapsed = t0.elapsed();
        Ok(report)
    }

    /// Opens (`create`: creates) the store of a backup at `at`, with this store's settings and,
    /// when creating, its author key. Written with group commit: made durable at its close
    /// (and by imports, which commit durably).
    fn open_copy(&self, at: &Path, create: bool) -> Result<Core, BackupError> {
        let mut builder = Core::builder()
            .with_segment_pages(self.shared.segment_pages)
            .with_durability(super::Durability::GroupCommit { max_delay: Duration::from_secs(3600) });
        if create {
            builder = builder.with_page_size(self.page_size()).with_author_key(self.shared.key.clone());
        }
        builder.open(at).map_err(BackupError::Create)
    }

    /// Where `feed`'s copy into the backup `copy` starts: the backup's length, once checked
    /// to be a prefix of the feed (the backup's root at it, proven consistent with the
    /// source's root).
    fn resume(&self, copy: &Core, feed: &mut FeedCopy) -> Result<(), BackupError> {
        let Some(peaks) = copy.feed_peaks(&feed.author).filter(|p| p.leaves() > 0) else { return Ok(()) };
        let at = peaks.leaves();
        let mismatch = || BackupError::Mismatch { author: feed.author, len: at };
        if at > feed.len {
            return Err(mismatch());
        }
        if at < feed.len {
            let proof = self.consistency_proof_between(&feed.author, at, feed.len).map_err(|_| mismatch())?;
            proof.verify(&peaks.root(), &feed.root).map_err(|_| mismatch())?;
        } else if peaks.root() != feed.root {
            return Err(mismatch());
        }
        feed.start = at;
        feed.copied = at;
        feed.peaks = peaks;
        Ok(())
    }

    /// Copies every feed of `feeds` (from each one's `start`) into the backup `copy`, checks
    /// each against the source's root, and stores newer signed heads and the fork evidence.
    fn copy_feeds(
        &self,
        copy: &Core,
        feeds: Vec<FeedCopy>,
        progress: &mut dyn FnMut(BackupProgress),
    ) -> Result<BackupReport, BackupError> {
        let forks = self.forks();
        // Made after the snapshot, so it yields every event the snapshot counts (and maybe
        // newer ones, skipped).
        let events = self.iter_events().map(|ev| ev.map_err(BackupError::Read));
        copy_events(copy, feeds, events, &forks, progress)
    }
}

/// Copies the events of `feeds` (from each one's `start`) that `events` yields, in its order,
/// into the store `copy`; checks each feed against its source root, and stores newer signed
/// heads and the fork evidence. Events of other feeds or past a feed's length are skipped.
pub(super) fn copy_events<'a>(
    copy: &Core,
    feeds: Vec<FeedCopy>,
    events: impl Iterator<Item = Result<EventRef<'a>, BackupError>>,
    forks: &[ForkEvidence],
    progress: &mut dyn FnMut(BackupProgress),
) -> Result<BackupReport, BackupError> {
    let mut copier = EventCopy::new(copy, feeds);
    let mut window = Window::default();
    for ev in events {
        copier.push(&mut window, ev?, progress)?;
    }
    copier.flush(window)?;
    copier.finish(forks, progress)
}

/// Events copied into a new store (a backup, a restored archive) a window at a time, each
/// feed hashed again on the way: [`copy_events`] over one iterator, or a caller that reads
/// its events in pieces ([`push`](Self::push) each piece's events into a window,
/// [`flush`](Self::flush) it before the piece's memory goes), then [`finish`](Self::finish).
pub(super) struct EventCopy<'c> {
    copy: &'c Core,
    feeds: Vec<FeedCopy>,
    index: HashMap<AuthorId, usize>,
    total: u64,
    reported: u64,
    event_bytes: u64,
}

impl<'c> EventCopy<'c> {
    /// Copies into `copy` the events of `feeds` (from each one's `start`).
    pub(super) fn new(copy: &'c Core, feeds: Vec<FeedCopy>) -> Self {
        let index = feeds.iter().enumerate().map(|(i, f)| (f.author, i)).collect();
        let total = feeds.iter().map(|f| f.len - f.start).sum();
        EventCopy { copy, feeds, index, total, reported: 0, event_bytes: 0 }
    }

    /// Adds `ev` to `window` if it is an event to copy (of one of the feeds, from its start,
    /// before its length), and writes the window once it holds [`WINDOW_BYTES`] (what the
    /// write leaves for the next commit stays in it).
    pub(super) fn push<'a>(
        &mut self,
        window: &mut Window<'a>,
        ev: EventRef<'a>,
        progress: &mut dyn FnMut(BackupProgress),
    ) -> Result<(), BackupError> {
        let Some(&i) = self.index.get(&ev.author()) else { return Ok(()) };
        if ev.seq() < self.feeds[i].start || ev.seq() >= self.feeds[i].len {
            return Ok(());
        }
        self.event_bytes += ev.encoded().len() as u64;
        window.push(i, ev);
        if window.bytes >= WINDOW_BYTES {
            *window = self.copy.write_window(&mut self.feeds, std::mem::take(window))?;
            let copied = self.copied();
            if copied - self.reported >= PROGRESS_EVERY {
                self.reported = copied;
                progress(BackupProgress { events_copied: copied, events_total: self.total });
            }
        }
        Ok(())
    }

    /// Writes everything `window` holds.
    pub(super) fn flush(&mut self, mut window: Window<'_>) -> Result<(), BackupError> {
        // A window's leftovers (events past a feed's head) go in the next commit.
        while !window.feeds.is_empty() {
            window = self.copy.write_window(&mut self.feeds, window)?;
        }
        Ok(())
    }

    fn copied(&self) -> u64 {
        self.feeds.iter().map(|f| f.copied - f.start).sum()
    }

    /// Ends the copy (every window flushed): stores newer signed heads of events the copy
    /// held already, checks every feed against its source root, records `forks`.
    pub(super) fn finish(
        self,
        forks: &[ForkEvidence],
        progress: &mut dyn FnMut(BackupProgress),
    ) -> Result<BackupReport, BackupError> {
        let (copy, feeds) = (self.copy, &self.feeds);
        // A newer signed head of events the backup held already (an update).
        let heads: Vec<Import> = feeds
            .iter()
            .filter_map(FeedCopy::head_alone)
            .filter(|imp| copy.feed_head(&imp.head.author) != Some(imp.head))
            .collect();
        copy.commit_backup_imports(heads)?;
        for f in feeds {
            let root = copy.feed_peaks(&f.author).map(|p| p.root());
            if f.copied != f.len || copy.feed_len(&f.author) != f.len || root != Some(f.root) {
                return Err(BackupError::Mismatch { author: f.author, len: f.copied });
            }
        }
        let mut recorded = 0;
        for evidence in forks {
            recorded += u64::from(copy.record_fork(evidence).map_err(BackupError::Fork)?);
        }
        progress(BackupProgress { events_copied: self.total, events_total: self.total });
        Ok(BackupReport {
            path: copy.path().to_path_buf(),
            feeds: feeds.len() as u64,
            events: self.total,
            events_before: 0,
            event_bytes: self.event_bytes,
            forks: recorded,
            elapsed: Duration::ZERO,
        })
    }
}

impl Core {
    /// Closes the backup's store (durably) and copies the sync's files into it.
    fn finish_copy(&self, copy: Core, at: &Path) -> Result<(), BackupError> {
        copy.close().map_err(BackupError::Sync)?;
        self.copy_net_files(at)?;
        files::sync_dir(at).map_err(BackupError::Io)
    }

    /// Every feed's length, root and signed head now (each read under its feed's lock).
    fn snapshot(&self) -> Vec<FeedCopy> {
        let list = read(&self.shared.feeds).list.clone();
        list.iter()
            .map(|f| {
                let inner = read(&f.inner);
                FeedCopy::new(f.author, f.local, inner.len, inner.peaks.root(), inner.head)
            })
            .collect()
    }

    /// Writes a window of the source's events to this store (the backup): the local feed's
    /// as appends, the other feeds' as imports, all the imports between two local runs in one
    /// commit. Returns what is left for the next commit: a feed's events past its signed head
    /// when the window also reaches that head (the head is stored with the events that reach
    /// it, and a feed is stored once per commit).
    fn write_window<'a>(&self, feeds: &mut [FeedCopy], window: Window<'a>) -> Result<Window<'a>, BackupError> {
        let mut left = Window::default();
        let mut imports: Vec<Import> = Vec::new();
        for (i, mut evs) in window.feeds {
            let feed = &mut feeds[i];
            if feed.local {
                self.commit_backup_imports(std::mem::take(&mut imports))?;
                let start = feed.copied;
                let n = evs.len() as u64;
                let batch = self.batch_of(evs.into_iter().map(Copied)).map_err(BackupError::Append)?;
                let seqs = self.append_prepared(batch).map_err(BackupError::Append)?;
                if seqs != (start..start + n) {
                    return Err(BackupError::Mismatch { author: feed.author, len: start });
                }
                feed.copied += n;
                continue;
            }
            let head_len = feed.head.map_or(0, |h| h.length);
            if feed.copied < head_len && feed.copied + evs.len() as u64 > head_len {
                let past = evs.split_off(usize::try_from(head_len - feed.copied).unwrap_or(usize::MAX));
                for ev in past {
                    left.push(i, ev);
                }
            }
            imports.push(feed.import(&evs)?);
        }
        self.commit_backup_imports(imports)?;
        Ok(left)
    }

    fn commit_backup_imports(&self, imports: Vec<Import>) -> Result<(), BackupError> {
        for r in self.commit_imports(imports) {
            r.map_err(BackupError::Store)?;
        }
        Ok(())
    }
}

impl FeedCopy {
    /// A feed of `len` events with MMR root `root` and, for another author's feed, its stored
    /// signed `head` (ignored for the local feed), none of it copied yet.
    pub(super) fn new(author: AuthorId, local: bool, len: u64, root: Hash, head: Option<SignedHead>) -> Self {
        let head = if local { None } else { head };
        FeedCopy { author, local, len, root, head, start: 0, copied: 0, peaks: MmrPeaks::new() }
    }

    /// The writer's request storing the feed's signed head alone, if the copy holds exactly
    /// its events but none of this copy's imports stored it (an update whose backup held the
    /// events, not the head).
    fn head_alone(&self) -> Option<Import> {
        let head = self.head.filter(|h| h.length == self.copied && self.copied == self.start && h.length > 0)?;
        Some(Import { head, events: Vec::new(), count: 0, expect_len: self.copied, partial: None, leaves: Vec::new() })
    }

    /// The writer's request storing `evs`, the feed's next events: with the signed head if
    /// they reach it (checked here against the events hashed again), else as a verified prefix
    /// ending at the peaks they give.
    fn import(&mut self, evs: &[EventRef<'_>]) -> Result<Import, BackupError> {
        let mismatch = |f: &FeedCopy| BackupError::Mismatch { author: f.author, len: f.copied };
        let mut leaves = Vec::with_capacity(evs.len());
        xaeroflux_core::hash::leaf_hashes(evs.iter().map(EventRef::encoded), &mut leaves);
        let mut bytes = Vec::with_capacity(evs.iter().map(|e| e.encoded().len()).sum());
        for (k, ev) in evs.iter().enumerate() {
            if ev.seq() != self.copied + k as u64 {
                return Err(mismatch(self));
            }
            bytes.extend_from_slice(ev.encoded());
        }
        self.peaks.extend_from_slice(&leaves).map_err(|_| mismatch(self))?;
        let expect_len = self.copied;
        self.copied += evs.len() as u64;
        let reaches_head = self.head.filter(|h| h.length == self.copied && !evs.is_empty());
        if let Some(head) = reaches_head
            && head.root != self.peaks.root()
        {
            return Err(mismatch(self));
        }
        Ok(Import {
            // Only its author is read when `partial` is set (the stored head is kept).
            head: self.head.unwrap_or(SignedHead {
                author: self.author,
                length: 0,
                root: Hash([0; 32]),
                signature: [0; 64],
            }),
            events: bytes,
            count: evs.len(),
            expect_len,
            partial: if reaches_head.is_some() { None } else { Some(self.peaks.clone()) },
            leaves,
        })
    }
}

impl Core {
    /// Copies the sync's files into the backup at `at` (see the module docs).
    fn copy_net_files(&self, at: &Path) -> Result<(), BackupError> {
        let src = self.path();
        for name in NET_FILES {
            copy_if_present(&src.join(name), &at.join(name))?;
        }
        let kept = src.join(KEPT_DIR);
        let entries = match std::fs::read_dir(&kept) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(BackupError::Io(IoError::new("list kept reads", Some(kept), e))),
        };
        let to = at.join(KEPT_DIR);
        std::fs::create_dir_all(&to)
            .map_err(|e| BackupError::Io(IoError::new("create kept reads", Some(to.clone()), e)))?;
        for entry in entries {
            let entry = entry.map_err(|e| BackupError::Io(IoError::new("list kept reads", Some(kept.clone()), e)))?;
            let name = entry.file_name();
            // Temporary files of a write in progress are not copied.
            if name.to_str().is_some_and(|n| !n.starts_with('.') && !n.ends_with(".tmp")) {
                copy_if_present(&entry.path(), &to.join(&name))?;
            }
        }
        files::sync_dir(&to).map_err(BackupError::Io)
    }
}

/// Copies `from` to `to` and syncs it; a file gone meanwhile (the sync replaced or dropped
/// it) is skipped.
fn copy_if_present(from: &Path, to: &Path) -> Result<(), BackupError> {
    match std::fs::copy(from, to) {
        Ok(_) => std::fs::File::open(to)
            .and_then(|f| f.sync_all())
            .map_err(|e| BackupError::Io(IoError::new("sync copied file", Some(to.to_path_buf()), e))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BackupError::Io(IoError::new("copy file", Some(from.to_path_buf()), e))),
    }
}

/// Writes a new store for `dest` (which must not exist) with `write`, under the temporary
/// name `.<name>.backup-partial` beside it, then renames it into place and syncs the parent
/// directory: `dest` is a whole store or absent. A failure removes the partial directory.
pub(super) fn write_then_rename<R, E: From<BackupError>>(
    dest: &Path,
    write: impl FnOnce(&Path) -> Result<R, E>,
) -> Result<R, E> {
    let partial = partial_path(dest)?;
    if dest.symlink_metadata().is_ok() {
        return Err(BackupError::DestinationExists { path: dest.to_path_buf() }.into());
    }
    remove_leftover(&partial)?;
    let r = match write(&partial) {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    files::rename_into_place(&partial, dest, "rename backup into place", |p| std::fs::remove_dir_all(p))
        .map_err(BackupError::Io)?;
    Ok(r)
}

/// `.<name>.backup-partial` beside `dest`.
fn partial_path(dest: &Path) -> Result<PathBuf, BackupError> {
    files::partial_beside(dest, ".backup-partial")
        .ok_or_else(|| BackupError::BadDestination { path: dest.to_path_buf() })
}

/// Removes the temporary directory of an interrupted backup, if it holds nothing but a store
/// (or a store's beginning); anything else there is refused.
fn remove_leftover(partial: &Path) -> Result<(), BackupError> {
    if partial.symlink_metadata().is_err() {
        return Ok(());
    }
    match files::inspect(partial) {
        Ok(DirState::Store(_) | DirState::Fresh) => std::fs::remove_dir_all(partial)
            .map_err(|e| BackupError::Io(IoError::new("remove an interrupted backup", Some(partial.to_path_buf()), e))),
        Err(_) => Err(BackupError::DestinationExists { path: partial.to_path_buf() }),
    }
}
