//! The floor: what the disk allows for durable appends of 256-byte records.
//!
//! A file preallocated with real zero blocks (written and synced before the clock starts,
//! so no extent allocation or size change happens in the timed part), then overwritten in
//! place with `pwrite` + `fdatasync`: once per batch, or once per record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use crate::util::{BenchResult, Config, Measured, RECORD_LEN, fill_record};

fn preallocated(path: &Path, len: u64) -> BenchResult<File> {
    let mut f = OpenOptions::new().create(true).truncate(true).read(true).write(true).open(path)?;
    let zeros = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    f.sync_all()?;
    Ok(f)
}

/// A file whose blocks are reserved with `posix_fallocate` (ext4 marks them *unwritten*: they
/// read as zeros, and the first write to each converts it, a metadata change the next
/// `fdatasync` must commit). This is how the store preallocates its segments: an append-only
/// store cannot pre-write every block once with zeros without doubling its writes.
fn fallocated(path: &Path, len: u64) -> BenchResult<File> {
    use std::os::fd::AsRawFd;
    let f = OpenOptions::new().create(true).truncate(true).read(true).write(true).open(path)?;
    // SAFETY: plain syscall on a valid descriptor we own.
    let r = unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, libc::off_t::try_from(len)?) };
    if r != 0 {
        return Err(std::io::Error::from_raw_os_error(r).into());
    }
    f.sync_all()?;
    Ok(f)
}

/// `records` records written `per_sync` at a time, one `fdatasync` after each write.
fn run(cfg: &Config, name: &str, records: u64, per_sync: u64) -> BenchResult<Measured> {
    run_on(cfg, name, records, per_sync, preallocated)
}

fn run_on(
    cfg: &Config,
    name: &str,
    records: u64,
    per_sync: u64,
    prepare: fn(&Path, u64) -> BenchResult<File>,
) -> BenchResult<Measured> {
    let path = cfg.dir.join(name);
    let f = prepare(&path, records * RECORD_LEN as u64)?;
    let mut buf = vec![0u8; per_sync as usize * RECORD_LEN];
    let start = Instant::now();
    let mut seq = 0u64;
    while seq < records {
        let k = per_sync.min(records - seq) as usize;
        for (i, rec) in buf[..k * RECORD_LEN].chunks_exact_mut(RECORD_LEN).enumerate() {
            fill_record(seq + i as u64, rec);
        }
        f.write_all_at(&buf[..k * RECORD_LEN], seq * RECORD_LEN as u64)?;
        f.sync_data()?;
        seq += k as u64;
    }
    let m = Measured::since(start, records);
    drop(f);
    if !cfg.keep {
        std::fs::remove_file(&path)?;
    }
    Ok(m)
}

/// One `fdatasync` per batch of `cfg.batch` records.
pub fn batch(cfg: &Config) -> BenchResult<Measured> {
    run(cfg, "floor-batch.bin", cfg.n, cfg.batch)
}

/// One `fdatasync` per record.
pub fn per_event(cfg: &Config) -> BenchResult<Measured> {
    run(cfg, "floor-event.bin", cfg.n_event, 1)
}

/// As [`per_event`], plus what a store that keeps a header at the start of each page must
/// write besides the record: the 64-byte header of the record's 16 KiB page, rewritten before
/// each `fdatasync` (two dirty blocks per sync instead of one, as in our tail commits).
pub fn per_event_with_header(cfg: &Config) -> BenchResult<Measured> {
    const PAGE: u64 = 16 * 1024;
    let path = cfg.dir.join("floor-hdr-event.bin");
    let records = cfg.n_event;
    let f = preallocated(&path, records * RECORD_LEN as u64 + PAGE)?;
    let mut rec = [0u8; RECORD_LEN];
    let mut header = [0u8; 64];
    let start = Instant::now();
    for seq in 0..records {
        fill_record(seq, &mut rec);
        let off = seq * RECORD_LEN as u64;
        f.write_all_at(&rec, off)?;
        header[..8].copy_from_slice(&seq.to_le_bytes());
        f.write_all_at(&header, off / PAGE * PAGE)?;
        f.sync_data()?;
    }
    let m = Measured::since(start, records);
    drop(f);
    if !cfg.keep {
        std::fs::remove_file(&path)?;
    }
    Ok(m)
}

/// As [`batch`], on a file preallocated with `posix_fallocate` (unwritten extents).
pub fn batch_fallocated(cfg: &Config) -> BenchResult<Measured> {
    run_on(cfg, "floor-fa-batch.bin", cfg.n, cfg.batch, fallocated)
}

/// As [`per_event`], on a file preallocated with `posix_fallocate` (unwritten extents).
pub fn per_event_fallocated(cfg: &Config) -> BenchResult<Measured> {
    run_on(cfg, "floor-fa-event.bin", cfg.n_event, 1, fallocated)
}

/// The floor of a backup: the files of the store the batched ingest left (closed, so a copy
/// of its files is a store) copied to a new directory with `std::fs::copy` (the kernel's
/// `copy_file_range`), each synced, then the directories. It reads the source first, as the
/// other systems' backups do, so all start from the page cache.
pub fn backup(cfg: &Config) -> BenchResult<Measured> {
    let src = crate::ours::batch_store(cfg);
    let dest = cfg.dir.join("floor-backup");
    if dest.exists() {
        std::fs::remove_dir_all(&dest)?;
    }
    let mut bytes = 0u64;
    visit(&src, &mut |p| {
        bytes += std::fs::read(p)?.len() as u64;
        Ok(())
    })?;
    let start = Instant::now();
    copy_tree(&src, &dest)?;
    let m = Measured::since(start, cfg.n);
    std::fs::remove_dir_all(&dest)?;
    std::hint::black_box(bytes);
    Ok(m)
}

/// The floor of an archive: the files of the store the batched ingest left concatenated into
/// one new file, written in 1 MiB chunks and synced (read once first, from the page cache, as
/// ours is).
pub fn archive(cfg: &Config) -> BenchResult<Measured> {
    let src = crate::ours::batch_store(cfg);
    let dest = cfg.dir.join("floor-archive.bin");
    if dest.exists() {
        std::fs::remove_file(&dest)?;
    }
    let mut files = Vec::new();
    visit(&src, &mut |p| {
        files.push(p.to_path_buf());
        std::hint::black_box(std::fs::read(p)?.len());
        Ok(())
    })?;
    let start = Instant::now();
    let mut out = File::create(&dest)?;
    let mut buf = vec![0u8; 1 << 20];
    for p in &files {
        let mut f = File::open(p)?;
        loop {
            let n = std::io::Read::read(&mut f, &mut buf)?;
            if n == 0 {
                break;
            }
            std::io::Write::write_all(&mut out, &buf[..n])?;
        }
    }
    out.sync_all()?;
    let m = Measured::since(start, cfg.n);
    std::fs::remove_file(&dest)?;
    Ok(m)
}

/// Calls `f` on every file under `dir`.
fn visit(dir: &Path, f: &mut dyn FnMut(&Path) -> BenchResult<()>) -> BenchResult<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() { visit(&path, f)? } else { f(&path)? }
    }
    Ok(())
}

/// Copies `from` to `to` recursively, syncing every file and directory.
fn copy_tree(from: &Path, to: &Path) -> BenchResult<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let Some(name) = path.file_name() else { continue };
        let target = to.join(name);
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)?;
            File::open(&target)?.sync_all()?;
        }
    }
    File::open(to)?.sync_all()?;
    Ok(())
}
