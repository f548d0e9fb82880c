//! The results table: one row per (workload, system), ratios against the floor, redb and
//! Hypercore for the same workload, peak RSS, and the goals checked for "ours".

use std::fmt::Write;

use crate::util::Measured;

/// What a row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Durable append, one commit per batch.
    Batch,
    /// Durable append, one commit per record.
    PerEvent,
    /// Full scan of every record.
    Scan,
    /// Random point reads.
    Get,
    /// Random inclusion proofs.
    Prove,
    /// Opening the store the batched ingest left (one operation, shown in milliseconds).
    Reopen,
    /// The whole store checked (ours: `Core::check_integrity`; redb: `Database::check_integrity`).
    Check,
    /// A durable copy of the store the batched ingest left (ours: `Core::backup_to`; redb:
    /// every record copied into a new database from one read transaction; the floor: the
    /// store's files copied and synced).
    Backup,
    /// The store the batched ingest left written as one archive file (ours:
    /// `Core::archive_to`; the floor: the store's files concatenated into one file, synced).
    Archive,
}

impl Workload {
    fn label(self) -> &'static str {
        match self {
            Workload::Batch => "append, commit/batch",
            Workload::PerEvent => "append, commit/event",
            Workload::Scan => "full scan",
            Workload::Get => "random get",
            Workload::Prove => "inclusion proof",
            Workload::Reopen => "reopen",
            Workload::Check => "integrity check",
            Workload::Backup => "backup",
            Workload::Archive => "archive (one file)",
        }
    }
}

/// One measured (or failed) case.
pub struct Row {
    /// System name: floor, redb, ours, hypercore.
    pub system: &'static str,
    /// What it measured.
    pub workload: Workload,
    /// The measurement, or why there is none.
    pub result: Result<Measured, String>,
}

/// One figure from several rounds: the median round by throughput, the highest peak RSS,
/// and the spread (max - min) / median of the throughputs in the note.
pub fn combine(mut rounds: Vec<Measured>) -> Measured {
    rounds.sort_by(|a, b| a.ops_per_sec().total_cmp(&b.ops_per_sec()));
    let rss = rounds.iter().map(|m| m.rss_kib).max().unwrap_or(0);
    let (lo, hi) = match (rounds.first(), rounds.last()) {
        (Some(a), Some(b)) => (a.ops_per_sec(), b.ops_per_sec()),
        _ => (0.0, 0.0),
    };
    let n = rounds.len();
    let Some(mut m) = rounds.into_iter().nth(n / 2) else {
        return Measured { ops: 0, secs: 0.0, bytes: 0, rss_kib: 0, note: None, spread: None };
    };
    m.rss_kib = rss;
    let med = m.ops_per_sec();
    if n > 1 && med > 0.0 {
        m.spread = Some((hi - lo) / med);
    }
    m
}

fn ops_of(rows: &[Row], system: &str, w: Workload) -> Option<f64> {
    rows.iter()
        .find(|r| r.system == system && r.workload == w)
        .and_then(|r| r.result.as_ref().ok())
        .map(Measured::ops_per_sec)
        .filter(|v| *v > 0.0)
}

fn ratio(rows: &[Row], mine: f64, against: &str, w: Workload) -> String {
    match ops_of(rows, against, w) {
        Some(base) => format!("{:.2}x", mine / base),
        None => "-".into(),
    }
}

/// Thousands separators for an integer rate.
fn grouped(v: f64) -> String {
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The performance goals for "ours": (workload, against, minimum ratio).
const GOALS: &[(Workload, &str, f64)] = &[
    (Workload::Batch, "floor", 0.8),
    (Workload::Batch, "redb", 2.0),
    (Workload::Batch, "hypercore", 10.0),
    (Workload::PerEvent, "floor", 0.9),
    (Workload::Scan, "redb", 2.0),
    (Workload::Get, "redb", 3.0),
];

/// Peak RSS goal of our batched ingest, MiB.
const RSS_GOAL_MIB: f64 = 64.0;

/// Renders the whole report.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{:<22} {:<10} {:>13} {:>7} {:>9} {:>9} {:>9} {:>12} {:>10}",
        "workload", "system", "ops/s", "spread", "MB/s", "vs floor", "vs redb", "vs hypercore", "peak RSS"
    );
    let _ = writeln!(s, "{}", "-".repeat(109));
    let mut notes = Vec::new();
    for r in rows {
        let w = r.workload;
        match &r.result {
            Ok(m) if w == Workload::Reopen => {
                let _ = writeln!(s, "{:<22} {:<10} {:>10.2} ms", w.label(), r.system, m.secs * 1e3);
                if let Some(n) = &m.note
                    && !notes.contains(n)
                {
                    notes.push(n.clone());
                }
            }
            Ok(m) => {
                let ops = m.ops_per_sec();
                let floor = match w {
                    Workload::Batch | Workload::PerEvent | Workload::Backup | Workload::Archive => {
                        ratio(rows, ops, "floor", w)
                    }
                    _ => "-".into(),
                };
                let hyper = if w == Workload::Batch { ratio(rows, ops, "hypercore", w) } else { "-".into() };
                let _ = writeln!(
                    s,
                    "{:<22} {:<10} {:>13} {:>7} {:>9.1} {:>9} {:>9} {:>12} {:>6.1} MiB",
                    w.label(),
                    r.system,
                    grouped(ops),
                    m.spread.map_or("-".into(), |x| format!("{:.0}%", x * 100.0)),
                    m.mb_per_sec(),
                    floor,
                    ratio(rows, ops, "redb", w),
                    hyper,
                    m.rss_kib as f64 / 1024.0
                );
                if let Some(n) = &m.note
                    && !notes.contains(n)
                {
                    notes.push(n.clone());
                }
            }
            Err(e) => {
                let _ = writeln!(s, "{:<22} {:<10} {e}", w.label(), r.system);
            }
        }
    }
    for n in notes {
        let _ = writeln!(s, "note: {n}");
    }
    let ours: Vec<&Row> = rows.iter().filter(|r| r.system == "ours").collect();
    if !ours.is_empty() {
        let _ = writeln!(s, "\ngoals (issue 4) for ours:");
        // The batched ingest pipelined (`Core::submit_batch`, rows of the batched workload
        // only) is the same workload, each batch still one durable commit acknowledged once
        // durable.
        for (system, tag) in [("ours", ""), ("ours-pipe", "  (pipelined)")] {
            for (w, against, min) in GOALS {
                let (Some(mine), Some(base)) = (ops_of(rows, system, *w), ops_of(rows, against, *w)) else {
                    continue;
                };
                let got = mine / base;
                let verdict = if got >= *min { "met" } else { "NOT met" };
                let label = w.label();
                let _ = writeln!(s, "  {label:<22} vs {against:<10} {got:>7.2}x  (goal >= {min}x)  {verdict}{tag}");
            }
        }
        if let Some(Ok(m)) = ours.iter().find(|r| r.workload == Workload::Batch).map(|r| &r.result) {
            let mib = m.rss_kib as f64 / 1024.0;
            let verdict = if mib <= RSS_GOAL_MIB { "met" } else { "NOT met" };
            let _ = writeln!(s, "  peak RSS during ingest {mib:>7.1} MiB (goal <= {RSS_GOAL_MIB} MiB)  {verdict}");
        }
    }
    s
}
