//! Xaeroflux (`xaeroflux::Core`): the same records as event payloads of the local feed.

use std::path::PathBuf;
use std::time::Instant;

use xaeroflux::{Core, Durability};

use crate::util::{self, BenchResult, Config, Measured, RECORD_LEN, Rng, fill_record};

/// The store the batched ingest leaves behind for the read cases.
pub fn batch_store(cfg: &Config) -> PathBuf {
    cfg.dir.join("ours-batch")
}

fn fresh(path: &PathBuf) -> BenchResult<()> {
    if path.exists() {
        std::fs::remove_dir_all(path)?;
    }
    Ok(())
}

/// One durable commit (`append_batch`) per batch of `cfg.batch` events.
pub fn batch(cfg: &Config) -> BenchResult<Measured> {
    let path = batch_store(cfg);
    fresh(&path)?;
    let helper = std::env::var("XF_BENCH_HASH_HELPER").map_or(true, |v| v != "0");
    let core = Core::builder().with_hash_helper(helper).open(&path)?;
    let mut buf = vec![0u8; cfg.batch as usize * RECORD_LEN];
    let start = Instant::now();
    let mut seq = 0u64;
    while seq < cfg.n {
        let k = cfg.batch.min(cfg.n - seq) as usize;
        for (i, rec) in buf[..k * RECORD_LEN].chunks_exact_mut(RECORD_LEN).enumerate() {
            fill_record(seq + i as u64, rec);
        }
        let range = core.append_batch(buf[..k * RECORD_LEN].chunks_exact(RECORD_LEN))?;
        if range.start != seq || range.end != seq + k as u64 {
            return Err(format!("append_batch gave {range:?}, expected {seq}..{}", seq + k as u64).into());
        }
        seq += k as u64;
    }
    let m = Measured::since(start, cfg.n);
    drop(core);
    Ok(m)
}

/// The batched ingest pipelined (`Core::submit_batch`): batch *n* is submitted, then batch
/// *n − 1* waited for, so one batch's `fdatasync`s run while the next one is prepared and
/// written. Each batch is still one durable commit, acknowledged (and visible) only once
/// durable.
pub fn pipelined(cfg: &Config) -> BenchResult<Measured> {
    let path = cfg.dir.join("ours-pipelined");
    fresh(&path)?;
    let core = Core::builder().open(&path)?;
    // `submit_batch` copies the payloads into its batch: the buffer is free once it returns.
    let mut buf = vec![0u8; cfg.batch as usize * RECORD_LEN];
    let acknowledged = |p: xaeroflux::PendingAppend<'_>, want: std::ops::Range<u64>| -> BenchResult<()> {
        let got = p.wait()?;
        if got != want {
            return Err(format!("submit_batch gave {got:?}, expected {want:?}").into());
        }
        Ok(())
    };
    let start = Instant::now();
    let mut seq = 0u64;
    let mut in_flight = None;
    while seq < cfg.n {
        let k = cfg.batch.min(cfg.n - seq) as usize;
        for (i, rec) in buf[..k * RECORD_LEN].chunks_exact_mut(RECORD_LEN).enumerate() {
            fill_record(seq + i as u64, rec);
        }
        let pending = core.submit_batch(buf[..k * RECORD_LEN].chunks_exact(RECORD_LEN))?;
        if let Some((before, want)) = in_flight.replace((pending, seq..seq + k as u64)) {
            acknowledged(before, want)?;
        }
        seq += k as u64;
    }
    if let Some((last, want)) = in_flight.take() {
        acknowledged(last, want)?;
    }
    let m = Measured::since(start, cfg.n);
    drop(in_flight);
    if core.feed_len(&core.author()) != cfg.n {
        return Err("the pipelined ingest lost events".into());
    }
    drop(core);
    if !cfg.keep {
        std::fs::remove_dir_all(&path)?;
    }
    Ok(m)
}

/// One durable append per event (`Durability::EachAppend`).
pub fn per_event(cfg: &Config) -> BenchResult<Measured> {
    let path = cfg.dir.join("ours-event");
    fresh(&path)?;
    let mut builder = Core::builder().with_durability(Durability::EachAppend);
    if let Some(ps) = std::env::var("XF_BENCH_EVENT_PAGE_SIZE").ok().and_then(|v| v.parse().ok()) {
        builder = builder.with_page_size(ps);
    }
    let core = builder.open(&path)?;
    let mut rec = [0u8; RECORD_LEN];
    let start = Instant::now();
    for seq in 0..cfg.n_event {
        fill_record(seq, &mut rec);
        core.append(core.new_event(&rec))?;
    }
    let m = Measured::since(start, cfg.n_event);
    drop(core);
    if !cfg.keep {
        std::fs::remove_dir_all(&path)?;
    }
    Ok(m)
}

fn scan_once(core: &Core) -> (u64, u64) {
    let (mut count, mut sum) = (0u64, 0u64);
    for ev in core.iter_events() {
        let Ok(ev) = ev else { continue };
        let p = ev.payload();
        sum = sum.wrapping_add(p.len() as u64).wrapping_add(u64::from(p.first().copied().unwrap_or(0)));
        count += 1;
    }
    (count, sum)
}

/// `iter_events` over the whole store (one untimed warm-up pass, then a timed pass).
pub fn scan(cfg: &Config) -> BenchResult<Measured> {
    let core = Core::builder().open(batch_store(cfg))?;
    scan_once(&core);
    let start = Instant::now();
    let (count, sum) = scan_once(&core);
    let m = Measured::since(start, count);
    if count != cfg.n {
        return Err(format!("scan saw {count} events, expected {}", cfg.n).into());
    }
    std::hint::black_box(sum);
    Ok(m)
}

/// `Core::check_integrity` of the store the batched ingest left (after one untimed run, so
/// both systems are checked from the page cache): every page parsed and checksummed, every
/// leaf hashed, the MMR rebuilt and compared with its stored nodes and root.
pub fn check(cfg: &Config) -> BenchResult<Measured> {
    let core = Core::builder().open(batch_store(cfg))?;
    core.check_integrity()?;
    let start = Instant::now();
    let report = core.check_integrity()?;
    let m = Measured::since(start, report.events);
    if !report.is_ok() || report.events != cfg.n {
        return Err(format!("check of {} events found {:?}", report.events, report.problems.first()).into());
    }
    Ok(m)
}

/// `Core::backup_to` of the store the batched ingest left: a new store holding every event,
/// each hashed again and checked against the feed's root, durable and renamed into place.
pub fn backup(cfg: &Config) -> BenchResult<Measured> {
    let core = Core::builder().open(batch_store(cfg))?;
    let dest = cfg.dir.join("ours-backup");
    fresh(&dest)?;
    scan_once(&core);
    let start = Instant::now();
    let report = core.backup_to(&dest)?;
    let mut m = Measured::since(start, report.events);
    if report.events != cfg.n {
        return Err(format!("backup copied {} events, expected {}", report.events, cfg.n).into());
    }
    // Bringing it up to date with nothing new: every feed checked, the source walked.
    let update = Instant::now();
    let again = core.update_backup(&dest)?;
    let secs = update.elapsed().as_secs_f64();
    if again.events != 0 || again.events_before != cfg.n {
        return Err(format!("update copied {} events onto {}", again.events, again.events_before).into());
    }
    m.note = Some(format!("backup update with nothing new ({} events held): {:.1} ms", cfg.n, secs * 1e3));
    std::fs::remove_dir_all(&dest)?;
    Ok(m)
}

/// `Core::archive_to` of the store the batched ingest left (with the key): one file, every
/// event read, packed into pages again and written in 1 MiB chunks, synced, renamed into
/// place. The note times restoring it (`Core::restore_archive`: the archive checked in one
/// pass, then its pages read again in 8 MiB windows and written as a new durable store).
pub fn archive(cfg: &Config) -> BenchResult<Measured> {
    let core = Core::builder().open(batch_store(cfg))?;
    let file = cfg.dir.join("ours-archive.xfa");
    let restored = cfg.dir.join("ours-restored");
    if file.exists() {
        std::fs::remove_file(&file)?;
    }
    fresh(&restored)?;
    scan_once(&core);
    let start = Instant::now();
    let report = core.archive_to(&file, true)?;
    let mut m = Measured::since(start, report.events);
    if report.events != cfg.n {
        return Err(format!("archive holds {} events, expected {}", report.events, cfg.n).into());
    }
    let root = core.mmr_root();
    drop(core);
    // The restore's own peak RSS: the archive's (the source store's mapped pages) kept as the
    // row's, then forgotten.
    m.rss_kib = util::peak_rss_kib();
    let reset = util::reset_peak_rss();
    let t = Instant::now();
    let back = Core::restore_archive(&file, &restored)?;
    let secs = t.elapsed().as_secs_f64();
    let restore_rss = if reset { format!("{:.1} MiB", util::peak_rss_kib() as f64 / 1024.0) } else { "?".into() };
    if back.events != cfg.n || Core::open(&restored)?.mmr_root() != root {
        return Err(format!("restore made {} events, expected {}", back.events, cfg.n).into());
    }
    m.note = Some(format!(
        "archive of {} events: {:.1} MB file; restored into a new store in {:.2} s ({:.0} events/s), \
         the restore's peak RSS {restore_rss}",
        cfg.n,
        report.bytes as f64 / 1e6,
        secs,
        cfg.n as f64 / secs
    ));
    std::fs::remove_file(&file)?;
    std::fs::remove_dir_all(&restored)?;
    Ok(m)
}

/// `cfg.reads` random `get(author, seq)` (after one untimed warm-up scan).
pub fn get(cfg: &Config) -> BenchResult<Measured> {
    let core = Core::builder().open(batch_store(cfg))?;
    scan_once(&core);
    let author = core.author();
    let mut rng = Rng::new(0x5EED);
    let mut sum = 0u64;
    let start = Instant::now();
    for _ in 0..cfg.reads {
        let seq = rng.below(cfg.n);
        let ev = core.get(&author, seq)?.ok_or_else(|| format!("lost event {seq}"))?;
        sum = sum.wrapping_add(u64::from(ev.payload().first().copied().unwrap_or(0)));
    }
    let m = Measured::since(start, cfg.reads);
    std::hint::black_box(sum);
    Ok(m)
}

/// Opens the batched store (closed cleanly by the ingest): how long the open took, and the
/// work it did (the open counters of [`xaeroflux::Stats`]), which does not grow with the
/// number of events (`tests/tests/store_reopen.rs` checks that).
pub fn reopen(cfg: &Config) -> BenchResult<Measured> {
    let path = batch_store(cfg);
    let start = Instant::now();
    let core = Core::builder().open(&path)?;
    let mut m = Measured::since(start, 1);
    let s = core.stats();
    if s.local_events != cfg.n {
        return Err(format!("reopened store has {} events, expected {}", s.local_events, cfg.n).into());
    }
    m.bytes = 0;
    m.note = Some(format!(
        "reopen of {} events: {:.2} ms, {} index rows, {} pages checked, {} KiB of segments read",
        cfg.n,
        m.secs * 1e3,
        s.open_index_rows,
        s.open_pages_examined,
        s.open_bytes_examined / 1024
    ));
    Ok(m)
}

/// Random inclusion proofs of the batched store (`min(reads, 20 000)` of them): each recomputes
/// the low MMR nodes of one 64-event block from the events and reads the high ones from the
/// index (see `docs/storage.md`).
pub fn prove(cfg: &Config) -> BenchResult<Measured> {
    let core = Core::builder().open(batch_store(cfg))?;
    let author = core.author();
    let n = cfg.reads.min(20_000);
    let mut rng = Rng::new(0x9800F);
    let mut sum = 0u64;
    let start = Instant::now();
    for _ in 0..n {
        let seq = rng.below(cfg.n);
        let proof = core.inclusion_proof(&author, seq)?;
        sum = sum.wrapping_add(proof.leaf_index);
    }
    let mut m = Measured::since(start, n);
    m.bytes = 0;
    std::hint::black_box(sum);
    Ok(m)
}
