//! Power cuts at every point of the write path, simulated under the writer's I/O trait.
//!
//! [`PowerCutIo`] writes through to the real files (so readers' maps see the writes) but
//! remembers, for every 512-byte sector written since its file was last synced, the sector's
//! content at that sync. After a countdown of I/O calls the power goes: every later call fails
//! without touching the disk, the store is dropped (its closing checkpoint fails), and each
//! sector not synced since it was written is rolled back to its synced content or kept, at
//! random, sector by sector: what a disk that persists unsynced writes in any order, 512-byte
//! sectors atomically, can leave behind. Reopened with real I/O, the store must hold every
//! acknowledged append, in order, with an MMR root equal to a recomputation.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use xaeroflux_core::mmr::Mmr;
use xaeroflux_core::{Event, EventFlags, EventRef, SignedHead};

use crate::store::files::segment_path;
use crate::store::segments::{FileIo, SegmentIo, SyncInFlight};
use crate::store::taillog::LOG_FILE;
use crate::{Core, CoreBuilder, Durability};

const SECTOR: u64 = 512;

/// Which file a write went to.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
enum Target {
    Segment(u32),
    Log,
}

impl Target {
    fn path(self, dir: &Path) -> PathBuf {
        match self {
            Target::Segment(n) => segment_path(dir, n),
            Target::Log => dir.join(LOG_FILE),
        }
    }
}

#[derive(Default)]
struct Disk {
    /// I/O calls left before the power goes (`None`: never).
    calls_left: Option<u64>,
    /// Unsynced sectors: their content at the file's last sync.
    unsynced: HashMap<(Target, u64), Vec<u8>>,
}

struct PowerCutIo {
    inner: FileIo,
    dir: PathBuf,
    disk: Arc<Mutex<Disk>>,
}

fn cut() -> crate::IoError {
    crate::IoError::new("power cut", None, io::Error::from_raw_os_error(libc::EIO))
}

/// Counts one I/O call on `disk`; fails it once the power is gone.
fn tick(disk: &Mutex<Disk>) -> Result<(), crate::IoError> {
    let mut d = disk.lock().unwrap();
    match d.calls_left {
        Some(0) => Err(cut()),
        Some(ref mut n) => {
            *n -= 1;
            Ok(())
        }
        None => Ok(()),
    }
}

impl PowerCutIo {
    /// Counts one I/O call; fails it once the power is gone.
    fn tick(&self) -> Result<(), crate::IoError> {
        tick(&self.disk)
    }

    /// Remembers the synced content of the sectors `off..off + len` of `t` before a write.
    fn before_write(&self, t: Target, off: u64, len: usize) {
        let f = File::open(t.path(&self.dir)).unwrap();
        let mut d = self.disk.lock().unwrap();
        let mut s = off / SECTOR * SECTOR;
        while s < off + len as u64 {
            d.unsynced.entry((t, s)).or_insert_with(|| {
                let mut buf = vec![0u8; SECTOR as usize];
                let n = f.read_at(&mut buf, s).unwrap_or(0);
                buf.truncate(n);
                buf
            });
            s += SECTOR;
        }
    }

    fn synced(&self, t: Target) {
        self.disk.lock().unwrap().unsynced.retain(|(x, _), _| *x != t);
    }
}

impl SegmentIo for PowerCutIo {
    fn create(&mut self, n: u32, len: u64) -> Result<(), crate::IoError> {
        self.tick()?;
        self.inner.create(n, len)
    }
    fn write_at(&mut self, n: u32, off: u64, buf: &[u8]) -> Result<(), crate::IoError> {
        self.tick()?;
        self.before_write(Target::Segment(n), off, buf.len());
        self.inner.write_at(n, off, buf)
    }
    fn sync(&mut self, n: u32) -> Result<(), crate::IoError> {
        self.tick()?;
        self.inner.sync(n)?;
        self.synced(Target::Segment(n));
        Ok(())
    }
    fn extend(&mut self, n: u32, len: u64) -> Result<(), crate::IoError> {
        self.tick()?;
        self.inner.extend(n, len)
    }
    fn log_prepare(&mut self, len: u64) -> Result<(), crate::IoError> {
        self.tick()?;
        self.inner.log_prepare(len)
    }
    fn log_write(&mut self, off: u64, buf: &[u8]) -> Result<(), crate::IoError> {
        self.tick()?;
        self.before_write(Target::Log, off, buf.len());
        self.inner.log_write(off, buf)
    }
    fn log_sync(&mut self) -> Result<(), crate::IoError> {
        self.tick()?;
        self.inner.log_sync()?;
        self.synced(Target::Log);
        Ok(())
    }
    /// The syncs happen when the pipelined commit is completed, as late as a real sync
    /// thread may end: after the next commit's writes, which they then cover too.
    fn start_sync(&mut self, segs: &[u32], log: bool) -> Result<SyncInFlight, crate::IoError> {
        let (disk, dir) = (self.disk.clone(), self.dir.clone());
        let mut targets: Vec<Target> = segs.iter().map(|&n| Target::Segment(n)).collect();
        if log {
            targets.push(Target::Log);
        }
        Ok(SyncInFlight::later(move || {
            for t in targets {
                tick(&disk)?;
                let synced = File::open(t.path(&dir)).and_then(|f| f.sync_data());
                synced.map_err(|e| crate::IoError::new("sync segment", None, e))?;
                disk.lock().unwrap().unsynced.retain(|(x, _), _| *x != t);
            }
            Ok(())
        }))
    }
}

/// The stores of these runs: small pages and segments, so that a few hundred events fill
/// pages and roll segments over.
fn small_store() -> CoreBuilder {
    Core::builder().with_page_size(1024).with_segment_pages(8)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn payload(i: u64) -> Vec<u8> {
    let mut p = i.to_le_bytes().to_vec();
    p.resize(20 + (i.wrapping_mul(37) % 230) as usize, (i % 251) as u8);
    p
}

/// Rolls back each unsynced sector or keeps it, at random.
fn lose_unsynced(dir: &Path, disk: &Mutex<Disk>, rng: &mut Rng) -> usize {
    let d = disk.lock().unwrap();
    let mut lost = 0;
    let mut keys: Vec<_> = d.unsynced.keys().copied().collect();
    keys.sort();
    for key in keys {
        if rng.below(2) == 0 {
            continue;
        }
        let f = std::fs::OpenOptions::new().write(true).open(key.0.path(dir)).unwrap();
        f.write_all_at(&d.unsynced[&key], key.1).unwrap();
        lost += 1;
    }
    lost
}

/// The recovered store passes the full integrity check: pages, index rows, MMR nodes and
/// roots, heads and arrival runs all agree.
fn assert_sound(core: &Core, ctx: &str) {
    let report = core.check_integrity().unwrap_or_else(|e| panic!("{ctx}: integrity check failed: {e}"));
    assert!(report.is_ok(), "{ctx}: the recovered store has problems: {:?}", report.problems);
}

/// Checks the reopened local feed: at least `at_least` events, each `payload(seq)`, and an
/// MMR root equal to a recomputation. Returns its length.
fn check_local_feed(core: &Core, at_least: u64, ctx: &str) -> u64 {
    let me = core.author();
    let len = core.feed_len(&me);
    assert!(len >= at_least, "{ctx}: {len} events after reopening, {at_least} acknowledged");
    let mut mmr = Mmr::new();
    let mut n = 0u64;
    for ev in core.iter_feed(&me).unwrap() {
        assert_eq!(ev.payload(), payload(n).as_slice(), "{ctx}: event {n}");
        mmr.append(ev.leaf_hash());
        n += 1;
    }
    assert_eq!(n, len, "{ctx}");
    assert_eq!(mmr.root(), core.mmr_root(), "{ctx}");
    len
}

/// A store's first life, up to `most` single appends, that ends cleanly (so the power cut
/// also meets a checkpointed store); then the I/O for its second life, whose power goes after
/// `calls` I/O calls. Returns the directory, the simulated disk, that I/O and the events
/// appended.
fn first_life(rng: &mut Rng, most: u64, calls: u64) -> (tempfile::TempDir, Arc<Mutex<Disk>>, PowerCutIo, u64) {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(Mutex::new(Disk::default()));
    let prefix = rng.below(most);
    {
        let core = small_store().open(dir.path()).unwrap();
        for i in 0..prefix {
            core.append(core.new_event(&payload(i))).unwrap();
        }
    }
    let io = PowerCutIo { inner: FileIo::new(dir.path()), dir: dir.path().to_path_buf(), disk: disk.clone() };
    disk.lock().unwrap().calls_left = Some(calls);
    (dir, disk, io, prefix)
}

/// One run: appends (single events and batches) until the power goes after `calls` I/O
/// calls, then checks the reopened store. Returns (acknowledged events, sectors rolled back).
fn run(seed: u64, calls: u64, durability: Durability) -> (u64, usize) {
    let mut rng = Rng(seed | 1);
    let (dir, disk, io, prefix) = first_life(&mut rng, 40, calls);
    let mut acked = prefix;
    let opened = small_store().with_durability(durability).with_io(Box::new(io)).open(dir.path());
    if let Ok(core) = opened {
        loop {
            let r = if rng.below(4) == 0 {
                let k = 1 + rng.below(30);
                let batch: Vec<Vec<u8>> = (acked..acked + k).map(payload).collect();
                core.append_batch(batch.iter().map(|p| p.as_slice())).map(|r| r.end - r.start)
            } else {
                core.append(core.new_event(&payload(acked))).map(|_| 1)
            };
            match r {
                Ok(k) if durability == Durability::EachAppend => acked += k,
                Ok(k) => {
                    // Group commit: acknowledged is not durable until a sync.
                    acked += k;
                    if rng.below(3) == 0 && core.sync().is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
            assert!(acked < 5_000, "the power never went");
        }
        drop(core);
    }
    let durable_floor = match durability {
        Durability::EachAppend => acked,
        // Under group commit only what a sync covered is promised; the check below still
        // requires a prefix of what was appended, ending on a whole event.
        _ => prefix,
    };
    let lost = lose_unsynced(dir.path(), &disk, &mut rng);

    let core = Core::open(dir.path()).unwrap_or_else(|e| panic!("seed {seed}, {calls} calls: open failed: {e}"));
    assert_sound(&core, &format!("seed {seed}, {calls} calls"));
    let len = check_local_feed(&core, durable_floor, &format!("seed {seed}, {calls} calls"));
    // And the store goes on.
    core.append(core.new_event(&payload(len))).unwrap();
    (acked, lost)
}

/// As [`run`], with pipelined batches ([`Core::submit_batch`], the next one submitted before
/// the one before is waited for) between single appends and ordinary batches. A batch counts
/// as acknowledged once its `wait` returned.
fn run_pipelined(seed: u64, calls: u64) -> (u64, usize) {
    let mut rng = Rng(seed | 1);
    let (dir, disk, io, prefix) = first_life(&mut rng, 20, calls);
    let mut acked = prefix;
    let opened = small_store().with_checkpoint_pages(4 + rng.below(12) as u32).with_io(Box::new(io)).open(dir.path());
    if let Ok(core) = opened {
        // The next seq to give a payload to (acknowledged or in flight).
        let mut next = acked;
        let mut in_flight: Option<crate::PendingAppend<'_>> = None;
        loop {
            let k = 1 + rng.below(40);
            let batch: Vec<Vec<u8>> = (next..next + k).map(payload).collect();
            let sequential = match rng.below(6) {
                // A sequential append completes the batch in flight first.
                0 => Some(core.append(core.new_event(&batch[0])).map(|_| 1)),
                1 => Some(core.append_batch(batch.iter().map(|p| p.as_slice())).map(|r| r.end - r.start)),
                _ => None,
            };
            let done = match sequential {
                Some(Ok(k)) => {
                    next += k;
                    in_flight.take().map_or(Ok(next), |p| p.wait().map(|_| next))
                }
                Some(Err(e)) => Err(e),
                None => match core.submit_batch(batch.iter().map(|p| p.as_slice())) {
                    Ok(p) => {
                        next += k;
                        // Submitting completed the batch before: its wait returns at once.
                        in_flight.replace(p).map_or(Ok(acked), |before| before.wait().map(|r| r.end))
                    }
                    Err(e) => Err(e),
                },
            };
            match done {
                Ok(a) => acked = a,
                Err(_) => break,
            }
            if rng.below(4) == 0
                && let Some(p) = in_flight.take()
            {
                match p.wait() {
                    Ok(r) => acked = r.end,
                    Err(_) => break,
                }
            }
            assert!(next < 5_000, "the power never went");
        }
        drop(in_flight);
        drop(core);
    }
    let lost = lose_unsynced(dir.path(), &disk, &mut rng);

    let core = Core::open(dir.path()).unwrap_or_else(|e| panic!("seed {seed}, {calls} calls: open failed: {e}"));
    assert_sound(&core, &format!("seed {seed}, {calls} calls"));
    let len = check_local_feed(&core, acked, &format!("pipelined, seed {seed}, {calls} calls"));
    core.append(core.new_event(&payload(len))).unwrap();
    (acked, lost)
}

/// Runs `one(seed, calls)` for every seed and cut point; returns the sectors rolled back over
/// all runs and the most events one run had acknowledged.
fn sweep(
    seeds: std::ops::RangeInclusive<u64>,
    cuts: impl Iterator<Item = u64> + Clone,
    mut one: impl FnMut(u64, u64) -> (u64, usize),
) -> (usize, u64) {
    let (mut rolled_back, mut max_acked) = (0, 0);
    for seed in seeds {
        for calls in cuts.clone() {
            let (acked, lost) = one(seed, calls);
            rolled_back += lost;
            max_acked = max_acked.max(acked);
        }
    }
    (rolled_back, max_acked)
}

const GROUP_COMMIT: Durability = Durability::GroupCommit { max_delay: std::time::Duration::from_millis(2) };

#[test]
fn every_acknowledged_append_survives_a_power_cut_at_any_call() {
    let cuts = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144];
    let (rolled_back, max_acked) =
        sweep(1..=40, cuts.into_iter(), |seed, calls| run(seed * 7919 + calls, calls, Durability::EachAppend));
    // The simulation did roll sectors back and runs did get far.
    assert!(rolled_back > 100, "{rolled_back} sectors rolled back");
    assert!(max_acked > 60, "{max_acked}");
}

/// A longer sweep of the same check, run by hand after a change to the write path:
/// `XF_POWER_CUT_SEEDS=500 cargo test -p xaeroflux --lib power_cut_sweep -- --ignored`
/// (default 200 seeds, every cut point from 0 to 199 I/O calls in steps of 7; every third
/// seed under group commit, of the others every fourth with pipelined batches, and of the rest
/// every fifth importing three feeds in groups).
#[test]
#[ignore = "long: run by hand after a change to the write path"]
fn power_cut_sweep() {
    let seeds: u64 = std::env::var("XF_POWER_CUT_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let (rolled_back, max_acked) = sweep(1..=seeds, (0..200u64).step_by(7), |seed, calls| {
        if seed % 3 == 0 {
            run(seed * 1_000_003 + calls, calls, GROUP_COMMIT)
        } else if seed % 4 == 1 {
            run_pipelined(seed * 1_000_003 + calls, calls)
        } else if seed % 5 == 2 {
            run_imports(seed * 1_000_003 + calls, calls, 3)
        } else {
            run(seed * 1_000_003 + calls, calls, Durability::EachAppend)
        }
    });
    assert!(rolled_back > 100, "{rolled_back} sectors rolled back");
    assert!(max_acked > 60, "{max_acked}");
}

#[test]
fn every_acknowledged_pipelined_batch_survives_a_power_cut_at_any_call() {
    let cuts = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144];
    let (rolled_back, max_acked) =
        sweep(1..=30, cuts.into_iter(), |seed, calls| run_pipelined(seed * 6_700_417 + calls, calls));
    assert!(rolled_back > 100, "{rolled_back} sectors rolled back");
    assert!(max_acked > 100, "{max_acked}");
}

#[test]
fn group_commit_keeps_a_whole_prefix_after_a_power_cut() {
    let cuts = [1, 4, 9, 16, 25, 36, 49, 64, 81, 100];
    sweep(1..=20, cuts.into_iter(), |seed, calls| run(seed * 104_729 + calls, calls, GROUP_COMMIT));
}

/// Imports under power cuts: other authors' events stored in small steps, so each import
/// extends that feed's tail page here (through the tail log), between single local appends.
/// With one source feed each step is a `store_verified`; with more, each step imports the
/// next events of every source feed in one group (`store_verified_group`: one index
/// checkpoint for all). Returns (events imported with an acknowledgement, sectors rolled back).
fn run_imports(seed: u64, calls: u64, sources: usize) -> (u64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let src_dirs: Vec<_> = (0..sources).map(|_| tempfile::tempdir().unwrap()).collect();
    let srcs: Vec<Core> =
        src_dirs.iter().map(|d| Core::builder().with_page_size(1024).open(d.path()).unwrap()).collect();
    let disk = Arc::new(Mutex::new(Disk::default()));
    let mut rng = Rng(seed | 1);
    // Feeds new to the store, imported whole in a group (the writer does not sync them
    // alone): their events, and whether the import was acknowledged.
    let mut fresh: Vec<(SignedHead, Vec<Vec<u8>>, bool)> = Vec::new();
    // One step: the next 1–12 events of each source, acknowledged lengths in `imported`;
    // in groups, now and then a new feed too.
    let step = |core: &Core, rng: &mut Rng, imported: &mut [u64], fresh: &mut Vec<(SignedHead, Vec<Vec<u8>>, bool)>| {
        let mut feeds = Vec::new();
        for (src, &from) in srcs.iter().zip(imported.iter()) {
            let k = 1 + rng.below(12);
            let batch: Vec<Vec<u8>> = (from..from + k).map(|i| payload(i + 10_000)).collect();
            src.append_batch(batch.iter().map(|p| p.as_slice())).unwrap();
            let head = src.head();
            feeds.push((head, src.range(&src.author(), from..head.length).unwrap().collect::<Vec<_>>()));
        }
        let new_feed = sources > 1 && rng.below(2) == 0;
        if new_feed {
            let key = xaeroflux_core::AuthorKey::from_secret_bytes(
                &[rng.below(250) as u8 + 1, fresh.len() as u8, 7, 7].repeat(8).try_into().unwrap(),
            );
            let events: Vec<Vec<u8>> = (0..1 + rng.below(40))
                .map(|s| {
                    Event::new(key.author(), s, 1_000 + s, 0, EventFlags::NONE, &payload(s + 20_000)).encoded().to_vec()
                })
                .collect();
            let mut mmr = Mmr::new();
            for e in &events {
                mmr.append(xaeroflux_core::hash::leaf_hash(e));
            }
            fresh.push((key.sign_head(events.len() as u64, mmr.root()), events, false));
        }
        let mut all = feeds.clone();
        if let Some((head, events, _)) = fresh.last().filter(|_| new_feed) {
            all.push((*head, events.iter().map(|e| EventRef::parse(e).unwrap()).collect()));
        }
        let results = match all.as_slice() {
            [(head, events)] => vec![core.store_verified(head, events)],
            _ => core.store_verified_group(&all),
        };
        let mut results = results.into_iter();
        for ((len, (head, _)), r) in imported.iter_mut().zip(&feeds).zip(results.by_ref()) {
            r?;
            *len = head.length;
        }
        if let (Some(r), Some(f)) = (results.next(), fresh.last_mut()) {
            r?;
            f.2 = true;
        }
        Ok::<(), crate::ImportError>(())
    };
    // A first life that imports a little and ends cleanly.
    let mut imported = vec![0u64; sources];
    {
        let core = small_store().open(dir.path()).unwrap();
        for _ in 0..rng.below(4) {
            step(&core, &mut rng, &mut imported, &mut fresh).unwrap();
        }
    }
    let io = PowerCutIo { inner: FileIo::new(dir.path()), dir: dir.path().to_path_buf(), disk: disk.clone() };
    disk.lock().unwrap().calls_left = Some(calls);
    let mut local = 0u64;
    if let Ok(core) = small_store().with_io(Box::new(io)).open(dir.path()) {
        loop {
            if rng.below(3) == 0 {
                match core.append(core.new_event(&payload(local))) {
                    Ok(_) => local += 1,
                    Err(_) => break,
                }
            } else if step(&core, &mut rng, &mut imported, &mut fresh).is_err() {
                break;
            }
            assert!(imported.iter().sum::<u64>() + local < 5_000, "the power never went");
        }
        drop(core);
    }
    let lost = lose_unsynced(dir.path(), &disk, &mut rng);

    let core = Core::open(dir.path()).unwrap_or_else(|e| panic!("seed {seed}, {calls} calls: open failed: {e}"));
    assert_sound(&core, &format!("seed {seed}, {calls} calls"));
    for (src, &acked) in srcs.iter().zip(&imported) {
        let theirs = src.author();
        let len = core.feed_len(&theirs);
        assert!(
            len >= acked,
            "seed {seed}, {calls} calls: {len} imported events after reopening, {acked} acknowledged"
        );
        let mut mmr = Mmr::new();
        let mut n = 0u64;
        for (ev, want) in core.range(&theirs, 0..len).unwrap().zip(src.range(&theirs, 0..len).unwrap()) {
            assert_eq!(ev.encoded(), want.encoded(), "seed {seed}, {calls} calls: imported event {n}");
            mmr.append(ev.leaf_hash());
            n += 1;
        }
        assert_eq!(n, len);
        if len > 0 {
            assert_eq!(core.feed_peaks(&theirs).map(|p| p.root()), Some(mmr.root()), "seed {seed}, {calls} calls");
        }
    }
    for (head, events, acked) in &fresh {
        let len = core.feed_len(&head.author);
        let ctx = format!("seed {seed}, {calls} calls: a new feed of {} events", events.len());
        assert!(len == 0 || len == head.length, "{ctx}: {len} after reopening");
        assert!(!acked || core.feed_head(&head.author) == Some(*head), "{ctx}: acknowledged, not there");
        for (ev, want) in core.range(&head.author, 0..len).unwrap().zip(events) {
            assert_eq!(ev.encoded(), want.as_slice(), "{ctx}");
        }
    }
    check_local_feed(&core, local, &format!("seed {seed}, {calls} calls"));
    (imported.iter().sum::<u64>() + fresh.iter().filter(|f| f.2).count() as u64, lost)
}

#[test]
fn every_acknowledged_import_survives_a_power_cut_at_any_call() {
    let cuts = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89];
    let (rolled_back, max_imported) =
        sweep(1..=20, cuts.into_iter(), |seed, calls| run_imports(seed * 15_485_863 + calls, calls, 1));
    assert!(rolled_back > 50, "{rolled_back} sectors rolled back");
    assert!(max_imported > 40, "{max_imported}");
}

#[test]
fn every_acknowledged_group_import_survives_a_power_cut_at_any_call() {
    let cuts = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144];
    let (rolled_back, max_imported) =
        sweep(1..=12, cuts.into_iter(), |seed, calls| run_imports(seed * 32_452_843 + calls, calls, 3));
    assert!(rolled_back > 50, "{rolled_back} sectors rolled back");
    assert!(max_imported > 60, "{max_imported}");
}
