//! Segment files: the writer's I/O trait (so tests can inject failures) and the arena of
//! read-only memory maps that readers borrow from.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use memmap2::Mmap;

use super::files;
use super::logfile::LogFile;
use super::syncer::{Started, SyncWorker};
use crate::error::IoError;

/// What the writer does to segment files. The real implementation is [`FileIo`]; tests wrap
/// it to inject failures (a full disk, a failing sync).
pub(crate) trait SegmentIo: Send {
    /// Creates segment `n` of `len` bytes, allocated and zero-filled, durably.
    fn create(&mut self, n: u32, len: u64) -> Result<(), IoError>;
    /// Writes `buf` at byte `off` of segment `n`.
    fn write_at(&mut self, n: u32, off: u64, buf: &[u8]) -> Result<(), IoError>;
    /// Makes everything written to segment `n` durable (`fdatasync`).
    fn sync(&mut self, n: u32) -> Result<(), IoError>;
    /// Extends segment `n` to `len` bytes (allocated), durably (repair of a short file).
    fn extend(&mut self, n: u32, len: u64) -> Result<(), IoError>;
    /// Makes the tail log at least `len` bytes long, its blocks written with zeros, durably
    /// (creating it if it is missing).
    fn log_prepare(&mut self, len: u64) -> Result<(), IoError>;
    /// Writes `buf` at byte `off` of the tail log.
    fn log_write(&mut self, off: u64, buf: &[u8]) -> Result<(), IoError>;
    /// As [`log_write`](Self::log_write), but the write may be made as late as the next sync
    /// of the log ([`log_sync`](Self::log_sync), [`sync_log_and`](Self::sync_log_and) or a
    /// [`start_sync`](Self::start_sync) of the log, made before it returns or completes), or
    /// the next other log call: for a commit whose log sync follows, so that its caller does
    /// not wait for the write (a process killed before that sync may lose the write, as a
    /// power cut may lose any unsynced one). Writes keep their call order. The default
    /// writes at once.
    fn log_write_before_sync(&mut self, off: u64, buf: &[u8]) -> Result<(), IoError> {
        self.log_write(off, buf)
    }
    /// Makes everything written to the tail log durable (`fdatasync`).
    fn log_sync(&mut self) -> Result<(), IoError>;
    /// Makes everything written to the tail log and to the segments `segs` durable: what
    /// [`log_sync`](Self::log_sync) and [`sync`](Self::sync) of each segment do, in any order
    /// or at once. On an error, any of them may or may not have been made durable.
    fn sync_log_and(&mut self, segs: &[u32]) -> Result<(), IoError> {
        self.log_sync()?;
        segs.iter().try_for_each(|&n| self.sync(n))
    }
    /// Starts what [`sync_log_and`](Self::sync_log_and) does (the log only if `log`), on
    /// another thread where the I/O allows, so the caller can write the next commit
    /// meanwhile; [`SyncInFlight::wait`] tells when it is done. Writes made after this call
    /// may or may not be made durable by it. The default syncs before it returns.
    fn start_sync(&mut self, segs: &[u32], log: bool) -> Result<SyncInFlight, IoError> {
        if log {
            self.sync_log_and(segs)?;
        } else {
            segs.iter().try_for_each(|&n| self.sync(n))?;
        }
        Ok(SyncInFlight::done())
    }
}

/// Syncs started by [`SegmentIo::start_sync`].
pub(crate) struct SyncInFlight(SyncJob);

enum SyncJob {
    Done,
    /// On [`SyncWorker`]s: the log's job and the segments' (either may be absent).
    Workers {
        log: Option<Started>,
        segs: Option<Started>,
    },
    /// Run when waited for (the power-cut simulation's syncs, made as late as they may be).
    #[cfg(test)]
    Later(Box<dyn FnOnce() -> Result<(), IoError> + Send>),
}

impl SyncInFlight {
    /// Syncs already done.
    pub(crate) fn done() -> Self {
        SyncInFlight(SyncJob::Done)
    }

    /// Syncs made when [`wait`](Self::wait) is called.
    #[cfg(test)]
    pub(crate) fn later(f: impl FnOnce() -> Result<(), IoError> + Send + 'static) -> Self {
        SyncInFlight(SyncJob::Later(Box::new(f)))
    }

    /// Waits until the syncs are done; their result.
    pub(crate) fn wait(self) -> Result<(), IoError> {
        match self.0 {
            SyncJob::Done => Ok(()),
            SyncJob::Workers { log, segs } => {
                let seg_r = segs.map_or(Ok(()), Started::wait);
                let log_r = log.map_or(Ok(()), Started::wait);
                log_r.and(seg_r)
            }
            #[cfg(test)]
            SyncJob::Later(f) => f(),
        }
    }
}

/// Segment I/O with `pwrite` + `fdatasync` on preallocated files.
///
/// The tail log's writes of a commit whose log sync follows
/// ([`SegmentIo::log_write_before_sync`]) are queued and made by the thread that syncs the
/// log, just before its `fdatasync`: the log is written with `O_DIRECT`, so each write waits
/// for the device, and a pipelined commit's caller no longer does; the log's write and flush
/// run beside the segments' sync. The queue keeps the calls' order, and any other log call
/// makes the queued writes first. The log's file is behind a mutex that the thread making
/// its writes holds while it writes (and syncs).
pub(crate) struct FileIo {
    dir: PathBuf,
    files: HashMap<u32, File>,
    log: Option<Arc<Mutex<LogFile>>>,
    /// Log writes not made yet: (offset, bytes), in call order.
    log_queue: Vec<(u64, Vec<u8>)>,
    /// Syncs the segments of a started sync.
    seg_worker: SyncWorker,
    /// Writes and syncs the log, beside the segments' syncs.
    log_worker: SyncWorker,
}

impl FileIo {
    pub(crate) fn new(dir: &Path) -> Self {
        FileIo {
            dir: dir.to_path_buf(),
            files: HashMap::new(),
            log: None,
            log_queue: Vec::new(),
            seg_worker: SyncWorker::new("xaeroflux-sync"),
            log_worker: SyncWorker::new("xaeroflux-logsync"),
        }
    }

    fn file(&mut self, n: u32) -> Result<&File, IoError> {
        if !self.files.contains_key(&n) {
            // Keep few descriptors: the writer only touches the newest segments.
            if self.files.len() >= 4 {
                let oldest = self.files.keys().copied().min();
                if let Some(k) = oldest {
                    self.files.remove(&k);
                }
            }
            let f = files::open_segment(&self.dir, n)?;
            self.files.insert(n, f);
        }
        self.files.get(&n).ok_or_else(|| IoError::new("open segment", None, std::io::Error::other("lost")))
    }

    /// The open tail log, opened if it is not open yet.
    fn open_log(&mut self) -> Result<Arc<Mutex<LogFile>>, IoError> {
        if let Some(log) = &self.log {
            return Ok(Arc::clone(log));
        }
        let path = self.log_path();
        let f = LogFile::open(&path).map_err(files::io("open tail log", &path))?;
        let log = Arc::new(Mutex::new(f));
        self.log = Some(Arc::clone(&log));
        Ok(log)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(super::taillog::LOG_FILE)
    }

    /// The tail log and its queued writes, for the thread that writes and syncs them.
    fn log_job(&mut self) -> Result<LogJob, IoError> {
        let file = self.open_log()?;
        Ok(LogJob { path: self.log_path(), file, writes: std::mem::take(&mut self.log_queue) })
    }

    /// Makes the queued log writes now, on this thread, without a sync.
    fn make_queued_log_writes(&mut self) -> Result<(), IoError> {
        if self.log_queue.is_empty() {
            return Ok(());
        }
        self.log_job()?.run(false)
    }
}

/// Locks the log file. A thread that panicked holding the lock left no partial state the
/// file cares about.
fn lock_log(file: &Mutex<LogFile>) -> std::sync::MutexGuard<'_, LogFile> {
    file.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for FileIo {
    /// Makes the log writes still queued (not synced: they may or may not have reached the
    /// disk, as after a crash, but a store reopened without a crash finds them as written).
    fn drop(&mut self) {
        let _ = self.make_queued_log_writes();
    }
}

/// A file to sync, and its path for errors.
type SyncHandle = (PathBuf, File);

/// The tail log's queued writes, to make and then sync.
struct LogJob {
    path: PathBuf,
    file: Arc<Mutex<LogFile>>,
    writes: Vec<(u64, Vec<u8>)>,
}

impl LogJob {
    /// Makes the queued writes, in order; then `fdatasync` if `sync`.
    fn run(self, sync: bool) -> Result<(), IoError> {
        let mut log = lock_log(&self.file);
        for (off, buf) in &self.writes {
            log.write_at(*off, buf).map_err(|e| IoError::new("write tail log", Some(self.path.clone()), e))?;
        }
        if sync {
            log.sync().map_err(|e| IoError::new("sync tail log", Some(self.path.clone()), e))?;
        }
        Ok(())
    }
}

impl FileIo {
    /// The tail log's job (if `log`) and handles of their own (duplicated descriptors: an
    /// `fdatasync` of any of them syncs the file) of the segments `segs`, so that opening one
    /// segment cannot close another in the cache of open files ([`FileIo::file`]), and so
    /// that another thread may sync them.
    fn sync_handles(&mut self, segs: &[u32], log: bool) -> Result<(Option<LogJob>, Vec<SyncHandle>), IoError> {
        let log = if log || !self.log_queue.is_empty() { Some(self.log_job()?) } else { None };
        let mut handles = Vec::with_capacity(segs.len());
        for &n in segs {
            let path = files::segment_path(&self.dir, n);
            let f = self.file(n)?.try_clone().map_err(files::io("open segment", &path))?;
            handles.push((path, f));
        }
        Ok((log, handles))
    }
}

/// `fdatasync` of each segment handle; the first error.
fn sync_segments(segs: &[SyncHandle]) -> Result<(), IoError> {
    segs.iter().try_for_each(|(path, f)| f.sync_data().map_err(|e| IoError::new("sync segment", Some(path.clone()), e)))
}

impl FileIo {
    /// Hands the log's job (if any) to the log's worker: its writes and `fdatasync` run at
    /// once with the segments' syncs (two files' flushes in flight instead of one after the
    /// other).
    fn start_log(&mut self, log: Option<LogJob>) -> Result<Option<Started>, IoError> {
        log.map(|job| self.log_worker.start(Box::new(move || job.run(true)))).transpose()
    }
}

impl SegmentIo for FileIo {
    fn create(&mut self, n: u32, len: u64) -> Result<(), IoError> {
        let f = files::create_segment(&self.dir, n, len)?;
        self.files.insert(n, f);
        Ok(())
    }

    fn write_at(&mut self, n: u32, off: u64, buf: &[u8]) -> Result<(), IoError> {
        use std::os::unix::fs::FileExt;
        let dir = self.dir.clone();
        self.file(n)?
            .write_all_at(buf, off)
            .map_err(|e| IoError::new("write segment", Some(files::segment_path(&dir, n)), e))
    }

    fn sync(&mut self, n: u32) -> Result<(), IoError> {
        let dir = self.dir.clone();
        self.file(n)?.sync_data().map_err(|e| IoError::new("sync segment", Some(files::segment_path(&dir, n)), e))
    }

    fn log_prepare(&mut self, len: u64) -> Result<(), IoError> {
        // Writes queued before come first, as their calls did.
        self.make_queued_log_writes()?;
        files::prepare_log(&self.dir, len)?;
        self.log = None;
        self.open_log().map(drop)
    }

    /// Makes the queued writes first, then this one.
    fn log_write(&mut self, off: u64, buf: &[u8]) -> Result<(), IoError> {
        self.make_queued_log_writes()?;
        let file = self.open_log()?;
        lock_log(&file).write_at(off, buf).map_err(|e| IoError::new("write tail log", Some(self.log_path()), e))
    }

    /// Queues the write; the thread that syncs the log makes it (see [`FileIo`]).
    fn log_write_before_sync(&mut self, off: u64, buf: &[u8]) -> Result<(), IoError> {
        self.open_log()?;
        self.log_queue.push((off, buf.to_vec()));
        Ok(())
    }

    fn log_sync(&mut self) -> Result<(), IoError> {
        self.log_job()?.run(true)
    }

    /// The log's queued writes and `fdatasync` on the log's worker while this thread makes
    /// the segments' (two files' flushes in flight at once instead of one after the other:
    /// the log's cost is hidden behind the segments' on the disks of our benchmarks). The two
    /// orders add no crash state: the kernel's write-back may already make new pages durable
    /// before the log's record.
    fn sync_log_and(&mut self, segs: &[u32]) -> Result<(), IoError> {
        if segs.is_empty() {
            return self.log_sync();
        }
        let (log, segs) = self.sync_handles(segs, true)?;
        let log = self.start_log(log)?;
        let seg_r = sync_segments(&segs);
        let log_r = log.map_or(Ok(()), Started::wait);
        log_r.and(seg_r)
    }

    /// The syncs on the workers' threads (the segments' on one, the log's writes and sync on
    /// the other, at once), through the same handles of their own as
    /// [`sync_log_and`](SegmentIo::sync_log_and).
    fn start_sync(&mut self, segs: &[u32], log: bool) -> Result<SyncInFlight, IoError> {
        let (log, segs) = self.sync_handles(segs, log)?;
        let log = self.start_log(log)?;
        let segs =
            if segs.is_empty() { None } else { Some(self.seg_worker.start(Box::new(move || sync_segments(&segs)))?) };
        Ok(SyncInFlight(SyncJob::Workers { log, segs }))
    }

    fn extend(&mut self, n: u32, len: u64) -> Result<(), IoError> {
        let dir = self.dir.clone();
        let path = files::segment_path(&dir, n);
        let f = self.file(n)?;
        let cur = f.metadata().map_err(files::io("stat segment", &path))?.len();
        if cur < len {
            f.set_len(len).map_err(files::io("extend segment", &path))?;
            f.sync_all().map_err(files::io("sync segment", &path))?;
        }
        Ok(())
    }
}

/// One mapped segment. A zero-length file has no map.
pub(crate) struct Mapped {
    map: Option<Mmap>,
}

impl Mapped {
    /// Maps the whole file read-only.
    pub(crate) fn map(dir: &Path, n: u32) -> Result<Mapped, IoError> {
        let path = files::segment_path(dir, n);
        let f = File::open(&path).map_err(files::io("open segment for reading", &path))?;
        let len = f.metadata().map_err(files::io("stat segment", &path))?.len();
        if len == 0 {
            return Ok(Mapped { map: None });
        }
        // SAFETY: the map is read-only and shared. The store never truncates a mapped segment
        // and only writes bytes that no reader has been handed yet (new events past the
        // published length, and page headers, which readers of unsealed pages never read);
        // bytes already published are only ever rewritten with the same values.
        let map = unsafe { Mmap::map(&f) }.map_err(files::io("map segment", &path))?;
        Ok(Mapped { map: Some(map) })
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

const L2: usize = 1024;
type Level2 = Box<[OnceLock<Mapped>]>;
const L1: usize = 4096;

/// Append-only arena of mapped segments: a segment, once mapped, stays mapped (at the same
/// address) until the store is dropped, so readers can hand out `&'store [u8]` without locks.
pub(crate) struct SegmentMaps {
    l1: Box<[OnceLock<Level2>]>,
}

impl SegmentMaps {
    pub(crate) fn new() -> Self {
        SegmentMaps { l1: (0..L1).map(|_| OnceLock::new()).collect() }
    }

    /// The map of segment `n`, if mapped.
    pub(crate) fn get(&self, n: u32) -> Option<&Mapped> {
        let n = n as usize;
        self.l1.get(n / L2)?.get()?.get(n % L2)?.get()
    }

    /// Installs the map of segment `n` (no effect if it is already mapped).
    pub(crate) fn set(&self, n: u32, m: Mapped) -> bool {
        let n = n as usize;
        let Some(slot) = self.l1.get(n / L2) else { return false };
        let l2 = slot.get_or_init(|| (0..L2).map(|_| OnceLock::new()).collect());
        match l2.get(n % L2) {
            Some(cell) => cell.set(m).is_ok(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `FileIo` over a fresh directory with segments `0..segs` of one 4 KiB page each, and
    /// a prepared tail log.
    fn io_with(segs: u32) -> (tempfile::TempDir, FileIo) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(files::SEGMENT_DIR)).unwrap();
        let mut io = FileIo::new(dir.path());
        for n in 0..segs {
            io.create(n, 4096).unwrap();
        }
        io.log_prepare(1 << 16).unwrap();
        (dir, io)
    }

    fn log_bytes(dir: &Path) -> Vec<u8> {
        std::fs::read(dir.join(super::super::taillog::LOG_FILE)).unwrap()
    }

    /// Queued log writes are made in call order (a later write over an earlier one wins) by
    /// whichever comes first: a log sync, a started sync (with or without segments), the
    /// sequential sync of the log and segments, a new log's preparation, or the drop.
    #[test]
    fn queued_log_writes_are_made_in_order_by_every_path() {
        let block = |b: u8| vec![b; 4096];
        type MakeWrites = fn(&mut FileIo);
        let paths: [(&str, MakeWrites); 5] = [
            ("log_sync", |io| io.log_sync().unwrap()),
            ("start_sync log only", |io| io.start_sync(&[], true).unwrap().wait().unwrap()),
            ("start_sync with segments", |io| io.start_sync(&[0, 1], true).unwrap().wait().unwrap()),
            ("sync_log_and", |io| io.sync_log_and(&[1]).unwrap()),
            ("drop", |io| {
                let dir = io.dir.clone();
                drop(std::mem::replace(io, FileIo::new(&dir)));
            }),
        ];
        for (name, make) in paths {
            let (dir, mut io) = io_with(2);
            io.log_write_before_sync(0, &block(1)).unwrap();
            io.log_write_before_sync(4096, &block(2)).unwrap();
            io.log_write_before_sync(0, &block(3)).unwrap();
            io.write_at(0, 0, &[9; 512]).unwrap();
            make(&mut io);
            let got = log_bytes(dir.path());
            assert_eq!(&got[..4096], &block(3)[..], "{name}");
            assert_eq!(&got[4096..8192], &block(2)[..], "{name}");
        }
        // A log's preparation comes after the writes queued before it: they reach the old
        // log, which the preparation then keeps at least as long.
        let (dir, mut io) = io_with(0);
        io.log_write_before_sync(8192, &block(5)).unwrap();
        io.log_prepare(1 << 16).unwrap();
        assert_eq!(&log_bytes(dir.path())[8192..12288], &block(5)[..]);
        // A plain write is made at once, after the queued ones (a later one over them wins).
        io.log_write_before_sync(0, &block(6)).unwrap();
        io.log_write_before_sync(4096, &block(7)).unwrap();
        io.log_write(0, &block(8)).unwrap();
        let got = log_bytes(dir.path());
        assert_eq!((&got[..4096], &got[4096..8192]), (&block(8)[..], &block(7)[..]));
        // Started syncs complete in order, each making its own writes only once handed over.
        let (dir, mut io) = io_with(1);
        let mut started = Vec::new();
        for b in 1..=20u8 {
            io.log_write_before_sync(0, &block(b)).unwrap();
            started.push(io.start_sync(&[0], true).unwrap());
        }
        started.into_iter().for_each(|s| s.wait().unwrap());
        assert_eq!(&log_bytes(dir.path())[..4096], &block(20)[..]);
    }

    #[test]
    fn sync_log_and_syncs_what_was_written_and_names_what_failed() {
        let (dir, mut io) = io_with(5);
        // One or two segments, as a commit has, more, and none.
        for segs in [&[0u32][..], &[1, 2], &[0, 1, 2, 3, 4], &[]] {
            for &n in segs {
                io.write_at(n, 0, &[n as u8 + 1; 512]).unwrap();
            }
            io.log_write(0, &[7u8; 4096]).unwrap();
            io.sync_log_and(segs).unwrap();
        }
        for n in 0..5u32 {
            let bytes = std::fs::read(files::segment_path(dir.path(), n)).unwrap();
            assert_eq!(&bytes[..512], &[n as u8 + 1; 512][..], "segment {n}");
        }
        // Four other segments open in the cache, then two of which the first is the oldest:
        // opening the second must not lose the first.
        let (dir2, created) = io_with(8);
        drop(created);
        let mut io2 = FileIo::new(dir2.path());
        for n in 4..8 {
            io2.write_at(n, 0, &[1; 8]).unwrap();
        }
        io2.log_write(0, &[7u8; 4096]).unwrap();
        io2.sync_log_and(&[4, 1]).unwrap();
        // A segment that does not exist: the error says which file.
        let e = io.sync_log_and(&[0, 9]).unwrap_err();
        assert_eq!(e.op, "open segment");
        assert_eq!(e.path, Some(files::segment_path(dir.path(), 9)));
    }
}
