//! redb 4.x, out of the box (default cache, `Durability::Immediate` commits): the same
//! records keyed by `(feed id, seq)`, as an index of an event store would key them.

use std::path::PathBuf;
use std::time::Instant;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::util::{BenchResult, Config, Measured, RECORD_LEN, Rng, fill_record};

const EVENTS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("events");

/// The one feed id every record belongs to.
const FEED: u64 = 1;

/// The database the batched ingest leaves behind for the read cases.
pub fn batch_db(cfg: &Config) -> PathBuf {
    cfg.dir.join("redb-batch.redb")
}

fn ingest(path: &PathBuf, records: u64, per_commit: u64) -> BenchResult<Measured> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let db = Database::create(path)?;
    let mut rec = [0u8; RECORD_LEN];
    let start = Instant::now();
    let mut seq = 0u64;
    while seq < records {
        let k = per_commit.min(records - seq);
        let txn = db.begin_write()?;
        {
            let mut table = txn.open_table(EVENTS)?;
            for s in seq..seq + k {
                fill_record(s, &mut rec);
                table.insert((FEED, s), rec.as_slice())?;
            }
        }
        txn.commit()?;
        seq += k;
    }
    Ok(Measured::since(start, records))
}

/// One durable commit per batch of `cfg.batch` records.
pub fn batch(cfg: &Config) -> BenchResult<Measured> {
    ingest(&batch_db(cfg), cfg.n, cfg.batch)
}

/// One durable commit per record.
pub fn per_event(cfg: &Config) -> BenchResult<Measured> {
    let path = cfg.dir.join("redb-event.redb");
    let m = ingest(&path, cfg.n_event, 1)?;
    if !cfg.keep {
        std::fs::remove_file(&path)?;
    }
    Ok(m)
}

/// Scans the whole table once; returns (records, checksum) so nothing is optimised away.
fn scan_once(db: &Database) -> BenchResult<(u64, u64)> {
    let txn = db.begin_read()?;
    let table = txn.open_table(EVENTS)?;
    let (mut count, mut sum) = (0u64, 0u64);
    for entry in table.iter()? {
        let (_k, v) = entry?;
        let v = v.value();
        sum = sum.wrapping_add(v.len() as u64).wrapping_add(u64::from(v.first().copied().unwrap_or(0)));
        count += 1;
    }
    Ok((count, sum))
}

/// Full range scan of the batched database (one untimed warm-up pass, then a timed pass).
pub fn scan(cfg: &Config) -> BenchResult<Measured> {
    let db = Database::open(batch_db(cfg))?;
    let (warm, _) = scan_once(&db)?;
    let start = Instant::now();
    let (count, sum) = scan_once(&db)?;
    let m = Measured::since(start, count);
    if count != warm || count != cfg.n {
        return Err(format!("redb scan saw {count} records, expected {}", cfg.n).into());
    }
    std::hint::black_box(sum);
    Ok(m)
}

/// `Database::check_integrity` of the database the batched ingest left (after one untimed
/// run; redb checks its B-tree pages' structure and checksums).
pub fn check(cfg: &Config) -> BenchResult<Measured> {
    let mut db = Database::open(batch_db(cfg))?;
    db.check_integrity()?;
    let start = Instant::now();
    let sound = db.check_integrity()?;
    let m = Measured::since(start, cfg.n);
    if !sound {
        return Err("redb had to repair its database".into());
    }
    Ok(m)
}

/// A live copy of the database the batched ingest left, as a redb user makes one (redb has
/// no backup call): every record read in one read transaction (a consistent snapshot) and
/// inserted into a new database, one durable commit.
pub fn backup(cfg: &Config) -> BenchResult<Measured> {
    let db = Database::open(batch_db(cfg))?;
    scan_once(&db)?;
    let dest = cfg.dir.join("redb-backup.redb");
    if dest.exists() {
        std::fs::remove_file(&dest)?;
    }
    let start = Instant::now();
    let copy = Database::create(&dest)?;
    let rtxn = db.begin_read()?;
    let from = rtxn.open_table(EVENTS)?;
    let wtxn = copy.begin_write()?;
    let mut count = 0u64;
    {
        let mut to = wtxn.open_table(EVENTS)?;
        for item in from.iter()? {
            let (k, v) = item?;
            to.insert(k.value(), v.value())?;
            count += 1;
        }
    }
    wtxn.commit()?;
    let m = Measured::since(start, count);
    drop(copy);
    std::fs::remove_file(&dest)?;
    if count != cfg.n {
        return Err(format!("redb copy holds {count} records, expected {}", cfg.n).into());
    }
    Ok(m)
}

/// `cfg.reads` random point reads by `(feed, seq)` (after one untimed warm-up scan).
pub fn get(cfg: &Config) -> BenchResult<Measured> {
    let db = Database::open(batch_db(cfg))?;
    scan_once(&db)?;
    let txn = db.begin_read()?;
    let table = txn.open_table(EVENTS)?;
    let mut rng = Rng::new(0x5EED);
    let mut sum = 0u64;
    let start = Instant::now();
    for _ in 0..cfg.reads {
        let seq = rng.below(cfg.n);
        let v = table.get((FEED, seq))?.ok_or_else(|| format!("redb lost record {seq}"))?;
        sum = sum.wrapping_add(u64::from(v.value().first().copied().unwrap_or(0)));
    }
    let m = Measured::since(start, cfg.reads);
    std::hint::black_box(sum);
    Ok(m)
}
