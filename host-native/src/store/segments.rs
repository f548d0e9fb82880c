//! Segment files: the writer's I/O trait (so tests can inject failures) and the arena of
//! read-only memory maps that readers borrow from.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use memmap2::Mmap;

use super::files;
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
    Thread(std::thread::JoinHandle<Result<(), IoError>>),
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
            SyncJob::Thread(t) => t
                .join()
                .unwrap_or_else(|_| Err(IoError::new("sync", None, std::io::Error::other("sync thread panicked")))),
            #[cfg(test)]
            SyncJob::Later(f) => f(),
        }
    }
}

/// Segment I/O with `pwrite` + `fdatasync` on preallocated files.
pub(crate) struct FileIo {
    dir: PathBuf,
    files: HashMap<u32, File>,
    log: Option<super::logfile::LogFile>,
}

impl FileIo {
    pub(crate) fn new(dir: &Path) -> Self {
        FileIo { dir: dir.to_path_buf(), files: HashMap::new(), log: None }
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

    /// Opens the tail log if it is not open yet.
    fn open_log(&mut self) -> Result<(), IoError> {
        if self.log.is_none() {
            let path = self.dir.join(super::taillog::LOG_FILE);
            let f = super::logfile::LogFile::open(&path).map_err(files::io("open tail log", &path))?;
            self.log = Some(f);
        }
        Ok(())
    }

    /// Runs `op` on the open tail log; the error names the file (built only on failure).
    fn on_log(
        &mut self,
        what: &'static str,
        op: impl FnOnce(&mut super::logfile::LogFile) -> std::io::Result<()>,
    ) -> Result<(), IoError> {
        self.open_log()?;
        let lost = || std::io::Error::other("tail log not open");
        let r = self.log.as_mut().map_or_else(|| Err(lost()), op);
        r.map_err(|e| IoError::new(what, Some(self.dir.join(super::taillog::LOG_FILE)), e))
    }
}

/// A file to sync, and its path for errors.
type SyncHandle = (PathBuf, File);

impl FileIo {
    /// Handles of their own (duplicated descriptors: an `fdatasync` of any of them syncs the
    /// file) of the tail log (if `log`) and of the segments `segs`, so that opening one
    /// segment cannot close another in the cache of open files ([`FileIo::file`]), and so
    /// that another thread may sync them.
    fn sync_handles(&mut self, segs: &[u32], log: bool) -> Result<(Option<SyncHandle>, Vec<SyncHandle>), IoError> {
        let log = if log {
            self.open_log()?;
            let path = self.dir.join(super::taillog::LOG_FILE);
            let f = self.log.as_ref().map(|l| l.duplicate());
            let f = f.ok_or_else(|| IoError::new("sync tail log", None, std::io::Error::other("tail log not open")))?;
            Some((path.clone(), f.map_err(files::io("open tail log", &path))?))
        } else {
            None
        };
        let mut handles = Vec::with_capacity(segs.len());
        for &n in segs {
            let path = files::segment_path(&self.dir, n);
            let f = self.file(n)?.try_clone().map_err(files::io("open segment", &path))?;
            handles.push((path, f));
        }
        Ok((log, handles))
    }
}

/// `fdatasync` of the log (on a scoped helper thread) at once with the segments' (two
/// devices' flushes in flight at once instead of one after the other); the log's error first.
fn sync_files(log: Option<&SyncHandle>, segs: &[SyncHandle]) -> Result<(), IoError> {
    std::thread::scope(|scope| {
        let helper = log.map(|(path, f)| {
            scope.spawn(move || f.sync_data().map_err(|e| IoError::new("sync tail log", Some(path.clone()), e)))
        });
        let seg_r = segs
            .iter()
            .try_for_each(|(path, f)| f.sync_data().map_err(|e| IoError::new("sync segment", Some(path.clone()), e)));
        let log_r = helper.map_or(Ok(()), |h| {
            h.join().unwrap_or_else(|_| {
                Err(IoError::new("sync tail log", None, std::io::Error::other("tail log sync thread panicked")))
            })
        });
        log_r.and(seg_r)
    })
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
        files::prepare_log(&self.dir, len)?;
        self.log = None;
        self.open_log()
    }

    fn log_write(&mut self, off: u64, buf: &[u8]) -> Result<(), IoError> {
        self.on_log("write tail log", |f| f.write_at(off, buf))
    }

    fn log_sync(&mut self) -> Result<(), IoError> {
        self.on_log("sync tail log", |f| f.sync())
    }

    /// The log's `fdatasync` on a scoped helper thread while this thread makes the segments'
    /// (two devices' flushes in flight at once instead of one after the other: the log's
    /// cost is hidden behind the segments' on the disks of our benchmarks). The two orders
    /// add no crash state: the kernel's write-back may already make new pages durable before
    /// the log's record.
    fn sync_log_and(&mut self, segs: &[u32]) -> Result<(), IoError> {
        if segs.is_empty() {
            return self.log_sync();
        }
        let (log, segs) = self.sync_handles(segs, true)?;
        sync_files(log.as_ref(), &segs)
    }

    /// The syncs on a thread of their own, through the same handles of their own as
    /// [`sync_log_and`](SegmentIo::sync_log_and), the log's at once with the segments'.
    fn start_sync(&mut self, segs: &[u32], log: bool) -> Result<SyncInFlight, IoError> {
        let (log, segs) = self.sync_handles(segs, log)?;
        let t = std::thread::Builder::new()
            .name("xaeroflux-sync".into())
            .spawn(move || sync_files(log.as_ref(), &segs))
            .map_err(|e| IoError::new("start sync thread", None, e))?;
        Ok(SyncInFlight(SyncJob::Thread(t)))
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
