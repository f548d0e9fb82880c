//! Store archives: [`Core::archive_to`] writes this store as one file, and
//! [`Core::restore_archive`] makes a new store of one, written here or by the browser package
//! (`store.exportArchive()`). The format is in `docs/formats.md` ("Store archives"); the core
//! reads and checks it (`xaeroflux_core::memstore::archive`).
//!
//! What an archive of a native store holds: the local feed up to its signed head when the
//! archive started (every acknowledged append made durable first), every other feed up to its
//! signed head, the fork evidence and the arrival order. Not: events a sync left past a feed's
//! signed head (an interrupted transfer, which the sync fetches again), the sync's follows,
//! peer book and kept reads, the node's key. A store restored from an archive is built under a
//! temporary name and renamed into place once durable, as a backup is
//! ([`Core::backup_to`]); each of its feeds is checked against the archive's signed heads and
//! roots on the way.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use xaeroflux_core::memstore::archive::ArchiveWriter;
use xaeroflux_core::memstore::{ArrivalRun, FeedState, KdfParams, KeySeal, SealError};
use xaeroflux_core::page::{PageBuilder, PageConfig, PagePushError};
use xaeroflux_core::{AuthorId, SignedHead};

use super::Core;
use super::backup::BackupProgress;
use crate::error::{IoError, ReadError, SyncError};
use crate::store::files;

/// Arrival runs per record.
const RUNS_PER_RECORD: usize = 4096;
/// Progress is reported about this often (events).
const PROGRESS_EVERY: u64 = 65_536;
/// Events whose leaves are hashed together.
const HASH_GROUP: usize = 256;
/// Bytes gathered before they are written to the archive file.
const WRITE_CHUNK: usize = 1 << 20;

/// What [`Core::archive_to`] wrote, or [`Core::restore_archive`] made.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchiveReport {
    /// The archive file written, or the store made.
    pub path: PathBuf,
    /// Feeds in the archive.
    pub feeds: u64,
    /// Events in the archive.
    pub events: u64,
    /// Size of the archive file.
    pub bytes: u64,
    /// The author whose key the archive holds (`None`: an archive without the key).
    pub key_of: Option<AuthorId>,
    /// Whether that key is sealed with a password.
    pub sealed: bool,
    /// Time it took.
    pub elapsed: Duration,
}

/// Why [`Core::archive_to`] failed. Nothing is left at the destination.
#[derive(Debug)]
#[non_exhaustive]
pub enum ArchiveWriteError {
    /// Something exists at the destination: an archive writes over nothing.
    DestinationExists {
        /// The destination.
        path: PathBuf,
    },
    /// Making the acknowledged appends durable first failed.
    Sync(SyncError),
    /// Reading the store failed (a damaged page names its seqs).
    Read(ReadError),
    /// The store's page size is not one an archive can hold (over 1 MiB).
    PageSize(u32),
    /// An event read from the store does not go into the next page (the store returned
    /// events out of order: never expected).
    Page(PagePushError),
    /// Writing the file failed.
    Io(IoError),
    /// The key could not be sealed (an empty password).
    Seal(SealError),
    /// The OS gave no randomness for the seal's salt and nonce.
    Random,
}

impl fmt::Display for ArchiveWriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DestinationExists { path } => {
                write!(f, "archive refused: {} exists (an archive writes over nothing)", path.display())
            }
            Self::Sync(e) => write!(f, "archive failed making the store durable first: {e}"),
            Self::Read(e) => write!(f, "archive failed reading the store: {e}"),
            Self::PageSize(n) => write!(f, "archive refused: the store's page size {n} is over 1 MiB"),
            Self::Page(e) => write!(f, "archive failed packing a page: {e}"),
            Self::Io(e) => write!(f, "archive failed: {e}"),
            Self::Seal(e) => write!(f, "archive refused: {e}"),
            Self::Random => f.write_str("archive failed: the OS gave no randomness to seal the key with"),
        }
    }
}

impl core::error::Error for ArchiveWriteError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Sync(e) => Some(e),
            Self::Read(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Page(e) => Some(e),
            Self::Seal(e) => Some(e),
            Self::DestinationExists { .. } | Self::PageSize(_) | Self::Random => None,
        }
    }
}

/// What an archive holds of the author's key.
#[derive(Clone, Copy)]
enum KeyMode<'p> {
    None,
    Plain,
    Sealed(&'p [u8]),
}

/// A feed as the archive takes it.
struct Archived {
    author: AuthorId,
    /// Events archived: up to the signed head.
    len: u64,
    head: Option<SignedHead>,
}

/// The archive file being written: the records gathered, then written in chunks.
struct Sink {
    file: File,
    path: PathBuf,
    buf: Vec<u8>,
    written: u64,
}

impl Sink {
    fn drain(&mut self, force: bool) -> Result<(), ArchiveWriteError> {
        if self.buf.len() >= WRITE_CHUNK || (force && !self.buf.is_empty()) {
            self.file
                .write_all(&self.buf)
                .map_err(|e| ArchiveWriteError::Io(IoError::new("write archive", Some(self.path.clone()), e)))?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

impl Core {
    /// Writes this store as an archive file at `dest` (a path that must not exist): every
    /// feed up to its signed head, the fork evidence, the arrival order, and the author's
    /// secret key if `with_key` (then the file is made readable by its owner only: whoever has
    /// it can append as this author). An archive without the key restores every feed as a
    /// replica in a store of another author. It runs while the store is used.
    ///
    /// The file is written under a temporary name beside `dest` (`.<name>.archive-partial`)
    /// and renamed once complete and durable. [`Core::restore_archive`] (or, in a browser,
    /// `Store.restoreArchive`) reads it.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let core = xaeroflux::Core::open(dir.path().join("store"))?;
    /// core.append_batch([&b"one"[..], b"two"])?;
    /// let report = core.archive_to(dir.path().join("store.xfa"), true)?;
    /// assert_eq!((report.events, report.key_of), (2, Some(core.author())));
    ///
    /// let back = xaeroflux::Core::restore_archive(dir.path().join("store.xfa"), dir.path().join("copy"))?;
    /// let copy = xaeroflux::Core::open(dir.path().join("copy"))?;
    /// assert_eq!((copy.author(), copy.mmr_root()), (core.author(), core.mmr_root()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn archive_to(&self, dest: impl AsRef<Path>, with_key: bool) -> Result<ArchiveReport, ArchiveWriteError> {
        self.archive_with(dest, with_key, |_| {})
    }

    /// [`Core::archive_to`], calling `progress` as it goes (every 65 536 events or so, and once
    /// at the end).
    pub fn archive_with(
        &self,
        dest: impl AsRef<Path>,
        with_key: bool,
        progress: impl FnMut(BackupProgress),
    ) -> Result<ArchiveReport, ArchiveWriteError> {
        self.archive_keyed(dest.as_ref(), if with_key { KeyMode::Plain } else { KeyMode::None }, progress)
    }

    /// [`Core::archive_to`] with the author's key sealed with `password` (Argon2id and
    /// XChaCha20-Poly1305; `docs/formats.md`, "Store archives"): the archive restores as this
    /// author only with the password ([`Core::restore_archive_with_password`], or
    /// `Store.restoreArchive(name, bytes, { password })` in a browser); without it, anyone
    /// holding the file can still read and check every feed. `progress` as in
    /// [`Core::archive_with`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let core = xaeroflux::Core::open(dir.path().join("store"))?;
    /// core.append(core.new_event(b"mine"))?;
    /// let file = dir.path().join("store.xfa");
    /// core.archive_sealed(&file, b"correct horse battery staple", |_| {})?;
    ///
    /// let copy = dir.path().join("copy");
    /// assert!(xaeroflux::Core::restore_archive(&file, &copy).is_err()); // the password is needed
    /// xaeroflux::Core::restore_archive_with_password(&file, &copy, b"correct horse battery staple", |_| {})?;
    /// assert_eq!(xaeroflux::Core::open(&copy)?.author(), core.author());
    /// # Ok(())
    /// # }
    /// ```
    pub fn archive_sealed(
        &self,
        dest: impl AsRef<Path>,
        password: &[u8],
        progress: impl FnMut(BackupProgress),
    ) -> Result<ArchiveReport, ArchiveWriteError> {
        if password.is_empty() {
            return Err(ArchiveWriteError::Seal(SealError::EmptyPassword));
        }
        self.archive_keyed(dest.as_ref(), KeyMode::Sealed(password), progress)
    }

    fn archive_keyed(
        &self,
        dest: &Path,
        key: KeyMode<'_>,
        mut progress: impl FnMut(BackupProgress),
    ) -> Result<ArchiveReport, ArchiveWriteError> {
        let t0 = Instant::now();
        if dest.symlink_metadata().is_ok() {
            return Err(ArchiveWriteError::DestinationExists { path: dest.to_path_buf() });
        }
        let partial = archive_partial(dest)?;
        let _ = std::fs::remove_file(&partial);
        let result = self.write_archive(&partial, key, &mut progress);
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        files::rename_into_place(&partial, dest, "rename archive into place", |p| std::fs::remove_file(p))
            .map_err(ArchiveWriteError::Io)?;
        Ok(ArchiveReport { path: dest.to_path_buf(), elapsed: t0.elapsed(), ..report })
    }

    fn write_archive(
        &self,
        at: &Path,
        key: KeyMode<'_>,
        progress: &mut dyn FnMut(BackupProgress),
    ) -> Result<ArchiveReport, ArchiveWriteError> {
        let config = PageConfig::new(self.page_size()).map_err(|_| ArchiveWriteError::PageSize(self.page_size()))?;
        // Listed first, then made durable: the local feed's head covers only events the sync
        // makes durable (an event a crash could still lose must not be in an archive, or the
        // author could sign another event at its seq).
        let feeds = self.archived_feeds();
        self.sync().map_err(ArchiveWriteError::Sync)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if !matches!(key, KeyMode::None) {
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        }
        let file =
            options.open(at).map_err(|e| ArchiveWriteError::Io(IoError::new("create archive", Some(at.into()), e)))?;
        let mut sink = Sink { file, path: at.to_path_buf(), buf: Vec::with_capacity(WRITE_CHUNK * 2), written: 0 };
        let mut w = match key {
            KeyMode::None => ArchiveWriter::new(config, None, &mut sink.buf),
            KeyMode::Plain => ArchiveWriter::new(config, Some(&self.shared.key), &mut sink.buf),
            KeyMode::Sealed(password) => {
                let (mut salt, mut nonce) = ([0u8; 16], [0u8; 24]);
                getrandom::fill(&mut salt).map_err(|_| ArchiveWriteError::Random)?;
                getrandom::fill(&mut nonce).map_err(|_| ArchiveWriteError::Random)?;
                let seal = KeySeal { password, salt, nonce, params: KdfParams::DEFAULT };
                ArchiveWriter::sealed(config, &self.shared.key, &seal, &mut sink.buf)
                    .map_err(ArchiveWriteError::Seal)?
            }
        };
        for evidence in self.forks() {
            w.fork(&evidence, &mut sink.buf);
        }
        let total: u64 = feeds.iter().map(|f| f.len).sum();
        let mut p = BackupProgress { events_copied: 0, events_total: total };
        let mut reported = 0;
        for f in &feeds {
            let state = FeedState { author: f.author, len: f.len, head: f.head, pending: None };
            w.feed(&state, &mut sink.buf);
            let mut page = PageBuilder::new(config, f.author, 0);
            let mut events = self.range(&f.author, 0..f.len).map_err(ArchiveWriteError::Read)?.peekable();
            let (mut group, mut leaves) = (Vec::with_capacity(HASH_GROUP), Vec::with_capacity(HASH_GROUP));
            while events.peek().is_some() {
                // Leaves hashed a group at a time, across SIMD lanes.
                group.clear();
                group.extend(events.by_ref().take(HASH_GROUP));
                leaves.clear();
                xaeroflux_core::hash::leaf_hashes(group.iter().map(|ev| ev.encoded()), &mut leaves);
                for (ev, leaf) in group.iter().zip(leaves.iter().copied()) {
                    if !page.fits(ev.encoded().len()) {
                        w.page(&page.finish(), &mut sink.buf);
                        let next = page.next_seq();
                        page.reset(next);
                        sink.drain(false)?;
                    }
                    page.push_hashed(*ev, leaf).map_err(ArchiveWriteError::Page)?;
                }
                p.events_copied += group.len() as u64;
                if p.events_copied - reported >= PROGRESS_EVERY {
                    reported = p.events_copied;
                    progress(p);
                }
            }
            if !page.is_empty() {
                w.page(&page.finish(), &mut sink.buf);
            }
            sink.drain(false)?;
        }
        // The arrival order of what is archived.
        let lens: HashMap<AuthorId, u64> = feeds.iter().map(|f| (f.author, f.len)).collect();
        let mut runs: Vec<ArrivalRun> = Vec::new();
        for ev in self.iter_events() {
            let ev = ev.map_err(ArchiveWriteError::Read)?;
            let (author, seq) = (ev.author(), ev.seq());
            if lens.get(&author).is_none_or(|&len| seq >= len) {
                continue;
            }
            match runs.last_mut() {
                Some(r) if r.author == author && r.seqs.end == seq => r.seqs.end += 1,
                _ => runs.push(ArrivalRun { author, seqs: seq..seq + 1 }),
            }
            if runs.len() > RUNS_PER_RECORD {
                w.arrival(&runs[..RUNS_PER_RECORD], &mut sink.buf);
                runs.drain(..RUNS_PER_RECORD);
                sink.drain(false)?;
            }
        }
        if !runs.is_empty() {
            w.arrival(&runs, &mut sink.buf);
        }
        w.finish(&mut sink.buf);
        sink.drain(true)?;
        sink.file.sync_all().map_err(|e| ArchiveWriteError::Io(IoError::new("sync archive", Some(at.into()), e)))?;
        progress(p);
        Ok(ArchiveReport {
            path: at.to_path_buf(),
            feeds: feeds.len() as u64,
            events: total,
            bytes: sink.written,
            key_of: (!matches!(key, KeyMode::None)).then(|| self.author()),
            sealed: matches!(key, KeyMode::Sealed(_)),
            elapsed: Duration::ZERO,
        })
    }

    /// The feeds to archive, each up to its signed head (the local one: signed now).
    fn archived_feeds(&self) -> Vec<Archived> {
        let local = self.head();
        self.feeds()
            .into_iter()
            .filter_map(|f| {
                let head = if f.local { Some(local) } else { self.feed_head(&f.author) };
                let len = head.map_or(0, |h| h.length);
                (len > 0 || head.is_some()).then_some(Archived { author: f.author, len, head })
            })
            .collect()
    }
}

/// `.<name>.archive-partial` beside `dest`.
fn archive_partial(dest: &Path) -> Result<PathBuf, ArchiveWriteError> {
    files::partial_beside(dest, ".archive-partial").ok_or_else(|| {
        ArchiveWriteError::Io(IoError::new(
            "name archive",
            Some(dest.to_path_buf()),
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file"),
        ))
    })
}
