//! The tail log's open file: written with `O_DIRECT` where the file system takes it.
//!
//! [`super::taillog::TailLog::flush`] writes whole 4 KiB blocks at block offsets, which is
//! what direct I/O asks for, so the log bypasses the page cache: a commit's `pwrite` hands its
//! block to the device at once, and its `fdatasync` then has no dirty page to write back, only
//! the device's cache to flush. That saves the kernel the buffered write and its writeback
//! (page-cache lookups, buffer heads, building the bio): on the ext4 VMs of our benchmarks
//! about a fifth of the CPU time of a one-event durable commit (`docs/benchmarks.md`).
//! Durability is the same: `fdatasync` still issues the cache flush.
//!
//! Where the file system refuses `O_DIRECT` (tmpfs, some FUSE and network file systems) at
//! open, or refuses a direct write (`EINVAL`: an alignment it does not take), the log falls back
//! to buffered writes for good. Reads (at open, before replay) go through another descriptor
//! and the page cache.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Alignment of direct writes: offsets, lengths and buffer addresses.
const ALIGN: usize = 4096;

/// The log file, and how it is written.
pub(crate) struct LogFile {
    path: PathBuf,
    file: File,
    /// Writes go around the page cache (`O_DIRECT`).
    direct: bool,
    /// Holds a write's bytes at an aligned address (direct writes only).
    aligned: Vec<u8>,
}

impl LogFile {
    /// Opens the existing log at `path` for writing, direct if the file system allows it.
    pub(crate) fn open(path: &Path) -> io::Result<LogFile> {
        let path = path.to_path_buf();
        if let Some(file) = open_direct(&path) {
            return Ok(LogFile { path, file, direct: true, aligned: Vec::new() });
        }
        let file = open_buffered(&path)?;
        Ok(LogFile { path, file, direct: false, aligned: Vec::new() })
    }

    /// From now on, writes through the page cache.
    fn go_buffered(&mut self) -> io::Result<()> {
        self.file = open_buffered(&self.path)?;
        self.direct = false;
        Ok(())
    }

    /// Whether writes bypass the page cache.
    #[cfg(test)]
    pub(crate) fn is_direct(&self) -> bool {
        self.direct
    }

    /// Writes `buf` at `off`. A write that is not whole aligned blocks (the end of a log
    /// whose size is not a multiple of the block) switches the log to buffered writes.
    pub(crate) fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()> {
        if self.direct {
            if off.is_multiple_of(ALIGN as u64) && buf.len().is_multiple_of(ALIGN) {
                let start = aligned_start(&mut self.aligned, buf.len());
                let dst = &mut self.aligned[start..start + buf.len()];
                dst.copy_from_slice(buf);
                match self.file.write_all_at(dst, off) {
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                    r => return r,
                }
            }
            self.go_buffered()?;
        }
        self.file.write_all_at(buf, off)
    }

    /// `fdatasync`: everything written is durable when it returns.
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Opens `path` for direct writes, or `None` where that is not possible.
#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new().read(true).write(true).custom_flags(libc::O_DIRECT).open(path).ok()?;
    // Pages cached by the log's preparation or by the open's reads are not needed: direct
    // writes would have to invalidate them one by one.
    super::files::drop_cached(&file);
    Some(file)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> Option<File> {
    None
}

fn open_buffered(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    super::files::drop_cached(&file);
    Ok(file)
}

/// Grows `buf` so that `len` bytes fit from an [`ALIGN`]-aligned address in it; returns that
/// address's index.
fn aligned_start(buf: &mut Vec<u8>, len: usize) -> usize {
    if buf.len() < len + ALIGN {
        buf.resize(len + ALIGN, 0);
    }
    buf.as_ptr().align_offset(ALIGN).min(ALIGN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_and_buffered_writes_land_alike() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, vec![0u8; 4 * ALIGN]).unwrap();
        let mut log = LogFile::open(&path).unwrap();
        let direct_here = log.is_direct();
        let block: Vec<u8> = (0..ALIGN).map(|i| (i % 251) as u8).collect();
        // Aligned: direct where the file system takes it; unaligned: always buffered.
        log.write_at(ALIGN as u64, &block).unwrap();
        assert_eq!(log.is_direct(), direct_here);
        log.write_at(3 * ALIGN as u64 + 5, &block[..100]).unwrap();
        assert!(!log.is_direct(), "an unaligned write goes through the page cache");
        log.sync().unwrap();
        let got = std::fs::read(&path).unwrap();
        assert_eq!(&got[ALIGN..2 * ALIGN], &block[..]);
        assert_eq!(&got[3 * ALIGN + 5..3 * ALIGN + 105], &block[..100]);
        assert!(got[..ALIGN].iter().all(|&b| b == 0));
    }

    #[test]
    fn aligned_start_is_aligned_and_fits() {
        let mut buf = Vec::new();
        for len in [0, 1, ALIGN, 3 * ALIGN] {
            let s = aligned_start(&mut buf, len);
            assert_eq!((buf.as_ptr() as usize + s) % ALIGN, 0);
            assert!(s + len <= buf.len());
        }
    }
}
