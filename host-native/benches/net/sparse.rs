//! Reads on demand (sparse replication): a store holding N events serves (the child of
//! `sync.rs`); a fresh store that keeps only the feeds it follows (`Replication::Followed`)
//! joins its ticket and reads, without storing: the 20 latest events (timed from
//! `join_ticket`, connection included), then 20 reads of 20 events at other places of the
//! feed, then 10 000 events from the middle, then the 20 small reads again (ours from the
//! events earlier reads verified, kept in memory: `NetConfig::with_fetch_cache`; Hypercore's
//! from the blocks its clone stored); then the store is closed, opened again with no peer
//! (timed: ours reads its kept reads back from disk, verifying them), and the 20 small reads
//! are made once more (ours from the reads kept on disk, `NetConfig::with_fetch_cache_on_disk`;
//! Hypercore's from its clone's storage). Hypercore does the same reads on a sparse clone
//! (`get`, `download`), in `bench/hypercore/replicate.mjs sparse`, with the same seqs.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use xaeroflux::Core;
use xaeroflux::net::{Fetch, NetConfig, Replication, Ticket};

use crate::{BoxError, RECORD, child, median, ms, quantile};

/// The latest events read first, and the size of each later small read.
const LATEST: u64 = 20;
/// Small reads after the first.
const WARM_READS: u64 = 20;
/// The large read (fewer events for a feed shorter than twice this).
const RANGE: u64 = 10_000;

/// The events of the large read, from the middle of a feed of `n`.
pub(crate) fn range_len(n: u64) -> u64 {
    RANGE.min(n - (n / 2 + LATEST).min(n))
}
const PATIENCE: Duration = Duration::from_secs(60);

/// One system's reads in one round.
#[derive(Default)]
pub(crate) struct SparseRound {
    /// The latest events, from connecting.
    pub cold: Duration,
    /// Each small read over the open connection.
    pub warm: Vec<Duration>,
    /// The large read.
    pub range: Duration,
    /// Each small read again, after the large one.
    pub again: Vec<Duration>,
    /// Opening the store again, with no peer.
    pub reopen: Duration,
    /// Each small read once more, after that.
    pub restarted: Vec<Duration>,
}

/// Our reads; each result is checked against what the child appended.
pub(crate) fn run_ours(records: usize) -> Result<SparseRound, BoxError> {
    let n = records as u64;
    if n < 1_000 {
        return Err("the sparse reads need --records 1000 or more".into());
    }
    let c = child::spawn("xsp-serve", &[("XF_NET_BENCH_RECORDS", records.to_string())])?;
    let mut parts = c.line.split_whitespace();
    let ticket: Ticket = parts.next().ok_or("no ticket")?.parse()?;
    let author = crate::sync::parse_author(parts.next().ok_or("no author")?)?;
    let dir = tempfile::tempdir()?;
    let net = NetConfig::default().with_bind_addr("127.0.0.1:0".parse()?).with_replication(Replication::Followed);
    let open = || {
        Core::builder()
            .with_page_size(16 * 1024)
            .with_sync_backends(&["iroh"])
            .with_net_config(net.clone())
            .open(dir.path())
    };
    let mut core = open()?;
    // Each read's time, and whether it was answered from the events earlier reads verified.
    let read_cached = |core: &Core, start: u64, end: u64, which: Fetch| -> Result<(Duration, bool), BoxError> {
        let t = Instant::now();
        let got = core.fetch_events(&author, which, PATIENCE)?;
        let took = t.elapsed();
        if got.seqs() != (start..end) {
            return Err(format!("read {:?}, asked for {start}..{end}", got.seqs()).into());
        }
        for (ev, seq) in got.iter().zip(start..) {
            let p = ev.payload();
            if p.len() != RECORD || p.get(..8) != Some(&seq.to_le_bytes()[..]) {
                return Err(format!("event {seq} is not the one appended").into());
            }
        }
        Ok((took, got.from_cache()))
    };
    let read =
        |core: &Core, start: u64, end: u64, which: Fetch| Ok::<_, BoxError>(read_cached(core, start, end, which)?.0);
    // The small reads, each answered from what earlier reads verified.
    let reads_again = |core: &Core, from: &str| -> Result<Vec<Duration>, BoxError> {
        let mut times = Vec::new();
        for r in 0..WARM_READS {
            let at = r * n / WARM_READS;
            let (took, cached) = read_cached(core, at, at + LATEST, Fetch::Seqs(at..at + LATEST))?;
            if !cached {
                return Err(format!("the events {at}..{} read again were not answered {from}", at + LATEST).into());
            }
            times.push(took);
        }
        Ok(times)
    };
    let t = Instant::now();
    core.join_ticket(&ticket)?;
    read(&core, n - LATEST, n, Fetch::Latest(LATEST))?;
    let cold = t.elapsed();
    let mut warm = Vec::new();
    for r in 0..WARM_READS {
        let at = r * n / WARM_READS;
        warm.push(read(&core, at, at + LATEST, Fetch::Seqs(at..at + LATEST))?);
    }
    let from = n / 2 + LATEST;
    let len = range_len(n);
    let range = read(&core, from, from + len, Fetch::Seqs(from..from + len))?;
    let again = reads_again(&core, "from memory")?;
    if core.feed_len(&author) != 0 {
        return Err("a read on demand stored events".into());
    }
    drop(core);
    c.finish()?;
    // Restarted, the peer gone.
    let t = Instant::now();
    core = open()?;
    let reopen = t.elapsed();
    let restarted = reads_again(&core, "from the reads kept on disk")?;
    drop(core);
    Ok(SparseRound { cold, warm, range, again, reopen, restarted })
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/hypercore/replicate.mjs")
}

/// Hypercore's reads of the same seqs on a sparse clone.
pub(crate) fn run_hypercore(records: usize) -> Result<SparseRound, BoxError> {
    if !script().with_file_name("node_modules").join("hypercore").exists() {
        return Err("bench/hypercore/node_modules is missing (run scripts/bench-net.sh, which installs it)".into());
    }
    let node = |args: &[&str]| {
        let mut cmd = Command::new("node");
        cmd.arg(script()).args(args).env("XF_BENCH_N", records.to_string());
        cmd
    };
    let server = child::spawn_cmd(node(&["serve"]))?;
    let mut parts = server.line.split_whitespace();
    let port = parts.next().ok_or("no port")?.to_string();
    let key = parts.next().ok_or("no key")?.to_string();
    let out = child::spawn_cmd(node(&["sparse", &port, &key]))?.finish()?;
    server.finish()?;
    let field = |name: &str| -> Option<&str> {
        let rest = out.split(&format!("\"{name}\":")).nth(1)?;
        Some(rest.split([',', '}']).next().unwrap_or(rest))
    };
    let secs = |v: &str| v.trim().trim_start_matches('[').parse::<f64>().ok().map(Duration::from_secs_f64);
    let cold = field("cold").and_then(secs);
    let range = field("range").and_then(secs);
    let list = |name: &str| -> Option<Vec<Duration>> {
        let rest = out.split(&format!("\"{name}\":[")).nth(1)?;
        Some(rest.split(']').next()?.split(',').filter_map(secs).collect())
    };
    let reopen = field("reopen").and_then(secs);
    match (cold, list("warm"), range, list("again"), reopen, list("restarted")) {
        (Some(cold), Some(warm), Some(range), Some(again), Some(reopen), Some(restarted))
            if [&warm, &again, &restarted].iter().all(|l| l.len() == WARM_READS as usize) =>
        {
            Ok(SparseRound { cold, warm, range, again, reopen, restarted })
        }
        _ => Err(format!("unexpected output from replicate.mjs sparse: {out}").into()),
    }
}

/// Prints both systems' medians over the rounds, and our speed relative to Hypercore's.
pub(crate) fn report(records: usize, ours: &[SparseRound], hypercore: &[SparseRound]) {
    let len = range_len(records as u64);
    let summary = |rounds: &[SparseRound]| {
        let cold = median(rounds.iter().map(|r| r.cold).collect());
        let warm: Vec<Duration> = rounds.iter().flat_map(|r| r.warm.iter().copied()).collect();
        let range = median(rounds.iter().map(|r| r.range).collect());
        let again: Vec<Duration> = rounds.iter().flat_map(|r| r.again.iter().copied()).collect();
        let reopen = median(rounds.iter().map(|r| r.reopen).collect());
        let restarted: Vec<Duration> = rounds.iter().flat_map(|r| r.restarted.iter().copied()).collect();
        (
            cold,
            quantile(&warm, 0.5),
            quantile(&warm, 0.9),
            range,
            quantile(&again, 0.5),
            reopen,
            quantile(&restarted, 0.5),
        )
    };
    println!();
    println!(
        "reads on demand (sparse), a feed of 256 B events served by another process; medians of {} rounds:",
        ours.len().max(hypercore.len())
    );
    println!(
        "{:<28} {:>16} {:>18} {:>12} {:>18} {:>16} {:>12} {:>18}",
        "system",
        "20 latest, cold",
        "20 events, warm",
        "warm p90",
        format!("{len} events"),
        "20 again",
        "reopen",
        "20 after restart"
    );
    let mb = |d: Duration| (len as usize * RECORD) as f64 / d.as_secs_f64() / 1e6;
    let mut rows = Vec::new();
    for (name, rounds) in [("xaeroflux fetch_events", ours), ("hypercore 11.37.1 sparse", hypercore)] {
        if rounds.is_empty() {
            continue;
        }
        let (cold, warm, p90, range, again, reopen, restarted) = summary(rounds);
        println!(
            "{name:<28} {:>13.2} ms {:>15.2} ms {:>9.2} ms {:>9.1} ms {:>5.0} MB/s {:>13.1} us {:>9.2} ms {:>15.1} us",
            ms(cold),
            ms(warm),
            ms(p90),
            ms(range),
            mb(range),
            again.as_secs_f64() * 1e6,
            ms(reopen),
            restarted.as_secs_f64() * 1e6
        );
        rows.push((cold, warm, range, again, reopen, restarted));
    }
    if let [o, h] = rows[..] {
        let x = |h: Duration, o: Duration| h.as_secs_f64() / o.as_secs_f64();
        println!(
            "ours vs hypercore: {:.1}x faster cold, {:.1}x faster warm, {:.1}x faster for {len} events, {:.1}x faster read again, \
             {:.1}x faster reopen, {:.1}x faster read after restart",
            x(h.0, o.0),
            x(h.1, o.1),
            x(h.2, o.2),
            x(h.3, o.3),
            x(h.4, o.4),
            x(h.5, o.5)
        );
    }
}
