//! Store benchmark: Xaeroflux against the floor (a preallocated file + fdatasync), redb and
//! Hypercore, side by side in one run. Not a timed test: run it with
//! `bash scripts/bench-store.sh` or `cargo bench -p xaeroflux --bench store`.
//!
//! Each case runs in a child process (this executable re-run with `--child <case>`), so the
//! peak RSS it reports (`VmHWM`) belongs to that case alone. Environment variables:
//! `XF_BENCH_N` (records of the batched cases, default 1 000 000), `XF_BENCH_N_EVENT`
//! (records of the per-event durable cases, default 20 000), `XF_BENCH_BATCH` (records per
//! durable commit, default 1 000), `XF_BENCH_READS` (random point reads, default N),
//! `XF_BENCH_DIR` (scratch directory, default `<target>/bench-store`; avoid a RAM disk),
//! `XF_BENCH_ONLY` (comma-separated systems: floor,floor-fa,floor-hdr,redb,ours,ours-pipe,hypercore;
//! ours-pipe is our batched ingest through `Core::submit_batch`, two batches in flight;
//! floor-hdr is the per-event floor plus a 64-byte page-header rewrite per record), `XF_BENCH_KEEP=1`
//! (keep the scratch files), `XF_BENCH_HYPERCORE=0` (skip Node), `XF_BENCH_ROUNDS` (run every
//! case this many times, interleaved, and report the median: the disk is shared, default 1),
//! `XF_BENCH_HASH_HELPER=0` (our batched ingest without the hashing helper thread),
//! `XF_BENCH_EVENT_PAGE_SIZE` (our page size in the per-event case; default the store's).

mod floor;
mod hypercore;
mod ours;
mod redb_sys;
mod report;
mod util;

use std::process::{Command, ExitCode, Stdio};

use report::{Row, Workload};
use util::{BenchResult, Config, Measured};

/// One benchmark case.
struct Case {
    id: &'static str,
    system: &'static str,
    workload: Workload,
    run: fn(&Config) -> BenchResult<Measured>,
    /// Run in a child process of this executable (everything but the Node case, which is
    /// its own process already).
    child: bool,
}

const CASES: &[Case] = &[
    Case { id: "floor-batch", system: "floor", workload: Workload::Batch, run: floor::batch, child: true },
    Case {
        id: "floorfa-batch",
        system: "floor-fa",
        workload: Workload::Batch,
        run: floor::batch_fallocated,
        child: true,
    },
    Case { id: "redb-batch", system: "redb", workload: Workload::Batch, run: redb_sys::batch, child: true },
    Case { id: "ours-batch", system: "ours", workload: Workload::Batch, run: ours::batch, child: true },
    Case { id: "ourspipe-batch", system: "ours-pipe", workload: Workload::Batch, run: ours::pipelined, child: true },
    Case { id: "hypercore-batch", system: "hypercore", workload: Workload::Batch, run: hypercore::batch, child: false },
    Case { id: "floor-event", system: "floor", workload: Workload::PerEvent, run: floor::per_event, child: true },
    Case {
        id: "floorfa-event",
        system: "floor-fa",
        workload: Workload::PerEvent,
        run: floor::per_event_fallocated,
        child: true,
    },
    Case {
        id: "floorhdr-event",
        system: "floor-hdr",
        workload: Workload::PerEvent,
        run: floor::per_event_with_header,
        child: true,
    },
    Case { id: "redb-event", system: "redb", workload: Workload::PerEvent, run: redb_sys::per_event, child: true },
    Case { id: "ours-event", system: "ours", workload: Workload::PerEvent, run: ours::per_event, child: true },
    Case { id: "redb-scan", system: "redb", workload: Workload::Scan, run: redb_sys::scan, child: true },
    Case { id: "ours-scan", system: "ours", workload: Workload::Scan, run: ours::scan, child: true },
    Case { id: "redb-get", system: "redb", workload: Workload::Get, run: redb_sys::get, child: true },
    Case { id: "ours-get", system: "ours", workload: Workload::Get, run: ours::get, child: true },
    Case { id: "ours-prove", system: "ours", workload: Workload::Prove, run: ours::prove, child: true },
    Case { id: "ours-reopen", system: "ours", workload: Workload::Reopen, run: ours::reopen, child: true },
    Case { id: "redb-check", system: "redb", workload: Workload::Check, run: redb_sys::check, child: true },
    Case { id: "ours-check", system: "ours", workload: Workload::Check, run: ours::check, child: true },
    Case { id: "floor-backup", system: "floor", workload: Workload::Backup, run: floor::backup, child: true },
    Case { id: "redb-backup", system: "redb", workload: Workload::Backup, run: redb_sys::backup, child: true },
    Case { id: "ours-backup", system: "ours", workload: Workload::Backup, run: ours::backup, child: true },
    Case { id: "floor-archive", system: "floor", workload: Workload::Archive, run: floor::archive, child: true },
    Case { id: "ours-archive", system: "ours", workload: Workload::Archive, run: ours::archive, child: true },
];

/// The order of the cases (indices into `cases`) in round `round` (from 1): the workloads in
/// their listed order (the read cases use what the batched ones wrote), and within each
/// append workload the systems rotated by one per round, so that no system always runs first
/// or last after the same neighbour (the disk's state after a case moves the next one's
/// `fdatasync` latency).
fn round_order(cases: &[&Case], round: u64) -> Vec<usize> {
    let mut order = Vec::with_capacity(cases.len());
    let mut start = 0;
    while start < cases.len() {
        let w = cases[start].workload;
        let len = cases[start..].iter().take_while(|c| c.workload == w).count();
        let shift =
            if matches!(w, Workload::Batch | Workload::PerEvent) { ((round - 1) % len as u64) as usize } else { 0 };
        order.extend((0..len).map(|k| start + (k + shift) % len));
        start += len;
    }
    order
}

fn find(id: &str) -> Option<&'static Case> {
    CASES.iter().find(|c| c.id == id)
}

/// Child mode: run one case, print its result line.
fn child(cfg: &Config, id: &str) -> BenchResult<()> {
    let case = find(id).ok_or_else(|| format!("unknown case {id}"))?;
    let mut m = (case.run)(cfg)?;
    // A case that reset the peak part way (to measure a part alone) gave the peak before.
    m.rss_kib = m.rss_kib.max(util::peak_rss_kib());
    println!("{}", m.to_line(id));
    Ok(())
}

fn run_in_child(id: &str) -> BenchResult<Measured> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe).args(["--child", id]).stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        return Err(format!("child exited with {}", out.status).into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().find_map(Measured::from_line).map(|(_, m)| m).ok_or_else(|| "child printed no result".into())
}

/// Writes back every dirty page of the machine (`sync`) before a case, so that no case starts
/// while the previous one's writes are still going to the disk: without it a case after a
/// large unsynced ingest (Hypercore's) paid for that writeback, and one after a case that
/// synced everything did not.
fn settle_disk() {
    if let Err(e) = Command::new("sync").status() {
        eprintln!("  sync before the case failed: {e}");
    }
}

fn parent(cfg: &Config) -> BenchResult<()> {
    std::fs::create_dir_all(&cfg.dir)?;
    let only: Option<Vec<String>> =
        std::env::var("XF_BENCH_ONLY").ok().map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    // The read cases need the batched redb ingest.
    let wanted = |c: &Case| only.as_ref().is_none_or(|o| o.iter().any(|s| s == c.system));
    println!(
        "store bench: {} x {} B records, durable commit per {}; per-event cases {} records; {} random reads; \
         {} round(s), median shown; dir {}",
        cfg.n,
        util::RECORD_LEN,
        cfg.batch,
        cfg.n_event,
        cfg.reads,
        cfg.rounds,
        cfg.dir.display()
    );
    let cases: Vec<&Case> = CASES.iter().filter(|c| wanted(c)).collect();
    let mut results: Vec<Result<Vec<Measured>, String>> = cases.iter().map(|_| Ok(Vec::new())).collect();
    for round in 1..=cfg.rounds {
        for i in round_order(&cases, round) {
            let (Some(case), Some(slot)) = (cases.get(i), results.get_mut(i)) else { continue };
            let Ok(done) = slot else { continue };
            eprintln!("round {round}/{}: {} ...", cfg.rounds, case.id);
            settle_disk();
            let result = if case.system == "hypercore" {
                match hypercore::unavailable() {
                    Some(why) => Err(why.into()),
                    None => (case.run)(cfg),
                }
            } else if case.child {
                run_in_child(case.id)
            } else {
                (case.run)(cfg)
            };
            match result {
                Ok(m) => done.push(m),
                Err(e) => {
                    eprintln!("  {}: {e}", case.id);
                    *slot = Err(e.to_string());
                }
            }
        }
    }
    let rows: Vec<Row> = cases
        .iter()
        .zip(results)
        .map(|(case, r)| Row { system: case.system, workload: case.workload, result: r.map(report::combine) })
        .collect();
    if !cfg.keep {
        let _ = std::fs::remove_file(redb_sys::batch_db(cfg));
        let _ = std::fs::remove_dir_all(ours::batch_store(cfg));
    }
    print!("{}", report::table(&rows));
    Ok(())
}

fn main() -> ExitCode {
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("store bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().position(|a| a == "--child") {
        Some(i) => match args.get(i + 1) {
            Some(id) => child(&cfg, id),
            None => Err("--child needs a case id".into()),
        },
        None => parent(&cfg),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("store bench: {e}");
            ExitCode::FAILURE
        }
    }
}
