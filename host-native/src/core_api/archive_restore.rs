//! Restoring an archive file into a new store ([`Core::restore_archive`]), in the memory of a
//! few pages, whatever the archive's size.
//!
//! Two passes over the file. The first reads it record by record and checks everything with
//! the core's [`ArchiveCheck`] (the checksum, every page, head, proof, fork evidence and the
//! arrival runs) while noting where each page record is; nothing is written unless all of it
//! checks out. The second reads the pages again, in the archive's arrival order, a window of
//! about [`WINDOW_BYTES`] at a time, and writes their events into the new store through the
//! backup's copy ([`EventCopy`]), which hashes every feed again and checks it against the
//! root the first pass computed: a file changed between the passes fails the restore
//! ([`RestoreArchiveError::Changed`]), never restores something unchecked.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use xaeroflux_core::memstore::{ArchiveCheck, ArchiveError, ArrivalRun, Checked, CheckedArchive, RECORD_HEADER_LEN};
use xaeroflux_core::page::PageRef;
use xaeroflux_core::{AuthorId, AuthorKey, EventRef};

use super::archive::ArchiveReport;
use super::backup::{BackupError, BackupProgress, EventCopy, FeedCopy, Window, write_then_rename};
use super::{Core, Durability};
use crate::error::IoError;
use crate::store::files;

/// Bytes of page images read for one window of the second pass.
const WINDOW_BYTES: usize = 8 << 20;
/// Bytes read for the header (the longest, with a sealed key, is 147).
const HEADER_READ: u64 = 256;
/// The first pass's read buffer.
const READ_BUFFER: usize = 1 << 20;
/// Bytes of one encoded arrival run.
const RUN_LEN: usize = 48;

/// Why [`Core::restore_archive`] failed. Nothing is left at the destination.
#[derive(Debug)]
#[non_exhaustive]
pub enum RestoreArchiveError {
    /// Reading the archive file failed.
    Io(IoError),
    /// The archive does not verify (damaged, cut off, tampered, or not an archive).
    Archive(ArchiveError),
    /// The archive file changed while it was restored (its pages no longer are the ones
    /// checked).
    Changed {
        /// The archive file.
        path: PathBuf,
    },
    /// Writing the new store failed (its destination exists, a disk error, ...).
    Write(BackupError),
}

impl From<BackupError> for RestoreArchiveError {
    fn from(e: BackupError) -> Self {
        RestoreArchiveError::Write(e)
    }
}

impl fmt::Display for RestoreArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "restore failed reading the archive: {e}"),
            Self::Archive(e) => write!(f, "restore refused: {e}"),
            Self::Changed { path } => {
                write!(f, "restore failed: {} changed while it was restored", path.display())
            }
            Self::Write(BackupError::DestinationExists { path }) => {
                write!(f, "restore refused: {} exists (a restore writes over nothing)", path.display())
            }
            Self::Write(e) => write!(f, "restore failed: {e}"),
        }
    }
}

impl core::error::Error for RestoreArchiveError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Archive(e) => Some(e),
            Self::Write(e) => Some(e),
            Self::Changed { .. } => None,
        }
    }
}

/// How far [`Core::restore_archive_with`] has got: first it checks the archive (bytes read of
/// the file), then it writes the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestoreProgress {
    /// Checking the archive: `bytes` of its `total` read and checked.
    Checking {
        /// Bytes read and checked so far.
        bytes: u64,
        /// The archive file's size.
        total: u64,
    },
    /// Writing the new store: events written so far, of all the archive holds.
    Writing(BackupProgress),
}

/// Bytes of the archive checked between two progress callbacks of the first pass.
const CHECK_PROGRESS_EVERY: u64 = 4 << 20;

/// Where a page record's body is in the file.
#[derive(Clone, Copy, Debug)]
struct PageAt {
    offset: u64,
    len: usize,
    first_seq: u64,
}

/// What the first pass learnt: the checked archive, and where its pages and arrival runs are.
struct Scanned {
    checked: CheckedArchive,
    /// The author's key: the archive's in clear, or unsealed with the password.
    key: Option<AuthorKey>,
    /// Per feed (the order of `checked.feeds`), its pages.
    pages: Vec<Vec<PageAt>>,
    /// The arrival records' bodies (offset, length).
    arrival: Vec<(u64, usize)>,
    size: u64,
}

/// The archive file.
struct ArchiveFile {
    file: File,
    path: PathBuf,
}

impl ArchiveFile {
    fn io(&self, what: &'static str, e: std::io::Error) -> RestoreArchiveError {
        RestoreArchiveError::Io(IoError::new(what, Some(self.path.clone()), e))
    }

    /// The first pass: every record through [`ArchiveCheck`], noting where the pages are.
    /// `password` unseals a sealed key; without one, a sealed archive is refused
    /// ([`ArchiveError::PasswordNeeded`]) unless `sealed_ok` (a check only).
    fn scan(
        &self,
        password: Option<&[u8]>,
        sealed_ok: bool,
        progress: &mut dyn FnMut(RestoreProgress),
    ) -> Result<Scanned, RestoreArchiveError> {
        let size = self.file.metadata().map_err(|e| self.io("read archive", e))?.len();
        let mut reader = BufReader::with_capacity(READ_BUFFER, &self.file);
        let mut start = Vec::with_capacity(HEADER_READ as usize);
        (&mut reader).take(HEADER_READ).read_to_end(&mut start).map_err(|e| self.io("read archive", e))?;
        let mut check = ArchiveCheck::start(&start).map_err(RestoreArchiveError::Archive)?;
        // A sealed key is unsealed first: a wrong password fails before the file is read.
        let header = check.header();
        let key = match (&header.sealed, password) {
            (Some(sealed), Some(password)) => Some(sealed.open(password).map_err(RestoreArchiveError::Archive)?),
            (Some(_), None) if sealed_ok => None,
            (Some(_), None) => return Err(RestoreArchiveError::Archive(ArchiveError::PasswordNeeded)),
            (None, _) => header.key.clone(),
        };
        let records_at = check.records_at();
        let mut at = records_at as u64;
        // The records begin inside the bytes read for the header.
        let mut pending = std::io::Cursor::new(start.split_off(records_at));
        let mut reader = (&mut pending).chain(reader);
        let (mut pages, mut arrival) = (Vec::<Vec<PageAt>>::new(), Vec::new());
        let mut body = Vec::new();
        loop {
            let mut head = [0u8; RECORD_HEADER_LEN];
            match reader.read_exact(&mut head) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(self.io("read archive", e)),
            }
            let len = check.body_len(&head).map_err(RestoreArchiveError::Archive)?;
            body.resize(len, 0);
            reader.read_exact(&mut body).map_err(|e| match e.kind() {
                ErrorKind::UnexpectedEof => RestoreArchiveError::Archive(ArchiveError::Truncated),
                _ => self.io("read archive", e),
            })?;
            let body_at = at + RECORD_HEADER_LEN as u64;
            match check.record(&head, &body, at) {
                Checked::Feed(_) => pages.push(Vec::new()),
                Checked::Page(p) => {
                    if let Some(feed) = pages.last_mut() {
                        feed.push(PageAt { offset: body_at, len, first_seq: p.first_seq() });
                    }
                }
                Checked::Arrival => arrival.push((body_at, len)),
                _ => {}
            }
            at = body_at + len as u64;
            if at / CHECK_PROGRESS_EVERY != (at - (RECORD_HEADER_LEN + len) as u64) / CHECK_PROGRESS_EVERY {
                progress(RestoreProgress::Checking { bytes: at, total: size });
            }
            if head[0] == 0 {
                // The end record: nothing may follow it.
                if at < size {
                    return Err(RestoreArchiveError::Archive(ArchiveError::TrailingBytes(
                        usize::try_from(size - at).unwrap_or(usize::MAX),
                    )));
                }
                break;
            }
        }
        let checked = check.finish().map_err(RestoreArchiveError::Archive)?;
        progress(RestoreProgress::Checking { bytes: at, total: size });
        Ok(Scanned { checked, key, pages, arrival, size })
    }

    /// Reads `len` bytes at `offset` into `out` (appended).
    fn read_at(&self, offset: u64, len: usize, out: &mut Vec<u8>) -> Result<(), RestoreArchiveError> {
        let start = out.len();
        out.resize(start + len, 0);
        let mut file = &self.file;
        file.seek(SeekFrom::Start(offset)).map_err(|e| self.io("read archive", e))?;
        file.read_exact(&mut out[start..]).map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof => self.changed(),
            _ => self.io("read archive", e),
        })
    }

    fn changed(&self) -> RestoreArchiveError {
        RestoreArchiveError::Changed { path: self.path.clone() }
    }

    /// The second pass: every event into `copier`, in the archive's arrival order (or the
    /// feeds' order for an archive without arrival runs).
    fn copy(
        &self,
        scan: &Scanned,
        window_bytes: usize,
        copier: &mut EventCopy<'_>,
        progress: &mut dyn FnMut(BackupProgress),
    ) -> Result<(), RestoreArchiveError> {
        let feeds = &scan.checked.feeds;
        let index: HashMap<AuthorId, usize> = feeds.iter().enumerate().map(|(i, f)| (f.author, i)).collect();
        let mut runs = Runs { file: self, records: scan.arrival.iter(), queue: VecDeque::new(), buf: Vec::new() };
        if scan.arrival.is_empty() {
            runs.queue
                .extend(feeds.iter().filter(|f| f.len > 0).map(|f| ArrivalRun { author: f.author, seqs: 0..f.len }));
        }
        let mut arena = Vec::with_capacity(window_bytes + (1 << 20));
        let mut next: Option<(usize, Range<u64>)> = None;
        loop {
            // Plan a window: pieces of runs, and the pages they need, up to `window_bytes`.
            arena.clear();
            let mut slots: Vec<(usize, usize, Range<usize>)> = Vec::new();
            let mut slot_of: HashMap<(usize, usize), usize> = HashMap::new();
            let mut pieces: Vec<(usize, Range<u64>)> = Vec::new();
            while arena.len() < window_bytes {
                let (f, seqs) = match next.take() {
                    Some(piece) => piece,
                    None => match runs.next()? {
                        Some(run) => (*index.get(&run.author).ok_or_else(|| self.changed())?, run.seqs),
                        None => break,
                    },
                };
                let pages = &scan.pages[f];
                if seqs.start >= seqs.end || seqs.end > feeds[f].len {
                    return Err(self.changed());
                }
                let mut p = pages.partition_point(|pg| pg.first_seq <= seqs.start).saturating_sub(1);
                let mut end = seqs.start;
                while end < seqs.end && arena.len() < window_bytes {
                    let page = pages.get(p).ok_or_else(|| self.changed())?;
                    if let std::collections::hash_map::Entry::Vacant(v) = slot_of.entry((f, p)) {
                        let start = arena.len();
                        self.read_at(page.offset, page.len, &mut arena)?;
                        v.insert(slots.len());
                        slots.push((f, p, start..arena.len()));
                    }
                    end = pages.get(p + 1).map_or(feeds[f].len, |n| n.first_seq).min(seqs.end);
                    p += 1;
                }
                pieces.push((f, seqs.start..end));
                if end < seqs.end {
                    next = Some((f, end..seqs.end));
                }
            }
            if pieces.is_empty() {
                return Ok(());
            }
            // Parse each page once; write the pieces' events in order.
            let config = scan.checked.header.config;
            let mut events: HashMap<(usize, usize), (u64, Vec<EventRef<'_>>)> = HashMap::new();
            for (f, p, range) in &slots {
                let page = PageRef::parse(&arena[range.clone()], &config).map_err(|_| self.changed())?;
                events.insert((*f, *p), (page.first_seq(), page.events().collect()));
            }
            let mut window = Window::default();
            for (f, seqs) in pieces {
                let pages = &scan.pages[f];
                let mut seq = seqs.start;
                while seq < seqs.end {
                    let p = pages.partition_point(|pg| pg.first_seq <= seq).saturating_sub(1);
                    let (first, evs) = events.get(&(f, p)).ok_or_else(|| self.changed())?;
                    let from = usize::try_from(seq - first).map_err(|_| self.changed())?;
                    let upto = usize::try_from(seqs.end - first).map_or(evs.len(), |n| n.min(evs.len()));
                    if from >= upto {
                        return Err(self.changed());
                    }
                    for ev in &evs[from..upto] {
                        if ev.author() != feeds[f].author || ev.seq() != seq {
                            return Err(self.changed());
                        }
                        copier.push(&mut window, *ev, progress)?;
                        seq += 1;
                    }
                }
            }
            copier.flush(window)?;
        }
    }
}

/// The arrival runs of the second pass, read a record at a time.
struct Runs<'f, 'r> {
    file: &'f ArchiveFile,
    records: std::slice::Iter<'r, (u64, usize)>,
    queue: VecDeque<ArrivalRun>,
    buf: Vec<u8>,
}

impl Runs<'_, '_> {
    fn next(&mut self) -> Result<Option<ArrivalRun>, RestoreArchiveError> {
        while self.queue.is_empty() {
            let Some(&(offset, len)) = self.records.next() else { return Ok(None) };
            self.buf.clear();
            self.file.read_at(offset, len, &mut self.buf)?;
            self.queue.extend(self.buf.chunks_exact(RUN_LEN).filter_map(ArrivalRun::decode));
        }
        Ok(self.queue.pop_front())
    }
}

impl Core {
    /// Makes a new store at `dest` (a path that must not exist) from the archive file
    /// `archive`: everything in it is verified first (checksum, pages, signatures, proofs),
    /// then each feed is written and checked again against its signed head. An archive with
    /// the key gives a store of that author, which goes on appending where the archive
    /// stopped; one without gives a store of a new author holding the feeds as replicas. The
    /// page size is the archive's; the events keep the archive's arrival order.
    ///
    /// It reads the archive twice (checking it, then writing its events) and holds a few
    /// pages of it at a time, whatever its size. The store is built under a temporary name
    /// beside `dest` and renamed into place once durable: `dest` is a whole store or absent.
    pub fn restore_archive(
        archive: impl AsRef<Path>,
        dest: impl AsRef<Path>,
    ) -> Result<ArchiveReport, RestoreArchiveError> {
        Self::restore_archive_with(archive, dest, |_| {})
    }

    /// [`Core::restore_archive`], calling `progress` as it checks the archive (every 4 MiB or
    /// so, and once at the end of the check) and as it writes the events (every 65 536 events
    /// or so, and once at the end).
    pub fn restore_archive_with(
        archive: impl AsRef<Path>,
        dest: impl AsRef<Path>,
        mut progress: impl FnMut(RestoreProgress),
    ) -> Result<ArchiveReport, RestoreArchiveError> {
        restore_in_windows(archive.as_ref(), dest.as_ref(), None, WINDOW_BYTES, &mut progress)
    }

    /// [`Core::restore_archive_with`] of an archive whose key is sealed with a password
    /// ([`Core::archive_sealed`], or `store.exportArchive({ password })` in a browser): the new
    /// store is of that author. A wrong password fails at once
    /// ([`ArchiveError::WrongPassword`]), before the file is read. An archive whose key is in
    /// clear, or that has none, restores as [`Core::restore_archive`] restores it.
    pub fn restore_archive_with_password(
        archive: impl AsRef<Path>,
        dest: impl AsRef<Path>,
        password: &[u8],
        mut progress: impl FnMut(RestoreProgress),
    ) -> Result<ArchiveReport, RestoreArchiveError> {
        restore_in_windows(archive.as_ref(), dest.as_ref(), Some(password), WINDOW_BYTES, &mut progress)
    }
}

impl Core {
    /// Checks the archive file `archive` as [`Core::restore_archive`] does before it writes
    /// anything (the checksum, every page, leaf, root, signature, proof, fork evidence and the
    /// arrival runs; one pass, a few pages in memory), without making a store: to know an
    /// archive kept somewhere is whole before it is needed. With `password`, a sealed key is
    /// unsealed too ([`ArchiveError::WrongPassword`] if it does not); without, a sealed archive's
    /// feeds are checked all the same. The report names the archive file; `progress` gets
    /// [`RestoreProgress::Checking`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let core = xaeroflux::Core::open(dir.path().join("store"))?;
    /// core.append_batch([&b"one"[..], b"two"])?;
    /// core.archive_to(dir.path().join("store.xfa"), true)?;
    /// let report = xaeroflux::Core::check_archive(dir.path().join("store.xfa"), None, |_| {})?;
    /// assert_eq!((report.events, report.key_of), (2, Some(core.author())));
    /// # Ok(())
    /// # }
    /// ```
    pub fn check_archive(
        archive: impl AsRef<Path>,
        password: Option<&[u8]>,
        mut progress: impl FnMut(RestoreProgress),
    ) -> Result<ArchiveReport, RestoreArchiveError> {
        let t0 = Instant::now();
        let path = archive.as_ref();
        let file = File::open(path)
            .map_err(|e| RestoreArchiveError::Io(IoError::new("open archive", Some(path.to_path_buf()), e)))?;
        let archive = ArchiveFile { file, path: path.to_path_buf() };
        let scan = archive.scan(password, true, &mut progress)?;
        let header = &scan.checked.header;
        Ok(ArchiveReport {
            path: path.to_path_buf(),
            feeds: scan.checked.feeds.len() as u64,
            events: scan.checked.feeds.iter().map(|f| f.len).sum(),
            bytes: scan.size,
            key_of: scan.key.as_ref().map(|k| k.author()).or(header.sealed.as_ref().map(|s| s.author)),
            sealed: header.sealed.is_some(),
            elapsed: t0.elapsed(),
        })
    }
}

/// [`Core::restore_archive_with`], reading about `window_bytes` of pages per window.
fn restore_in_windows(
    path: &Path,
    dest: &Path,
    password: Option<&[u8]>,
    window_bytes: usize,
    progress: &mut dyn FnMut(RestoreProgress),
) -> Result<ArchiveReport, RestoreArchiveError> {
    let t0 = Instant::now();
    if dest.symlink_metadata().is_ok() {
        return Err(RestoreArchiveError::Write(BackupError::DestinationExists { path: dest.to_path_buf() }));
    }
    let file = File::open(path)
        .map_err(|e| RestoreArchiveError::Io(IoError::new("open archive", Some(path.to_path_buf()), e)))?;
    let archive = ArchiveFile { file, path: path.to_path_buf() };
    let scan = archive.scan(password, false, progress)?;
    let header = &scan.checked.header;
    let key_of = scan.key.as_ref().map(|k| k.author());
    let report = write_then_rename(dest, |partial| {
        let mut builder = Core::builder()
            .with_page_size(header.config.page_size())
            .with_durability(Durability::GroupCommit { max_delay: Duration::from_secs(3600) });
        if let Some(key) = &scan.key {
            builder = builder.with_author_key(key.clone());
        }
        let copy = builder.open(partial).map_err(BackupError::Create)?;
        let feeds: Vec<FeedCopy> = scan
            .checked
            .feeds
            .iter()
            .map(|f| FeedCopy::new(f.author, Some(f.author) == key_of, f.len, f.root, f.head))
            .collect();
        let mut copier = EventCopy::new(&copy, feeds);
        let mut writing = |p: BackupProgress| progress(RestoreProgress::Writing(p));
        archive.copy(&scan, window_bytes, &mut copier, &mut writing)?;
        let report = copier.finish(&scan.checked.forks, &mut writing)?;
        copy.close().map_err(BackupError::Sync)?;
        files::sync_dir(partial).map_err(BackupError::Io)?;
        Ok::<_, RestoreArchiveError>(report)
    })?;
    Ok(ArchiveReport {
        path: dest.to_path_buf(),
        feeds: report.feeds,
        events: report.events,
        bytes: scan.size,
        key_of,
        sealed: header.sealed.is_some(),
        elapsed: t0.elapsed(),
    })
}

#[cfg(test)]
#[path = "archive_restore_tests.rs"]
mod tests;
