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

/// `records` records written `per_sync` at a time, one `fdatasync` after each write.
fn run(cfg: &Config, name: &str, records: u64, per_sync: u64) -> BenchResult<Measured> {
    let path = cfg.dir.join(name);
    let f = preallocated(&path, records * RECORD_LEN as u64)?;
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
