//! Network benchmark, side by side in one run, two processes over 127.0.0.1:
//! `cargo bench -p xaeroflux --features net --bench net` (or `bash scripts/bench-net.sh`).
//!
//! The parent spawns this same binary as a child (selected by the environment variable
//! `XF_NET_BENCH_CHILD`) for the serving side; Hypercore runs as two Node processes.
//!
//! - **raw TCP** and **raw iroh stream** (the floors): the payload bytes (N × 256 B) over one
//!   TCP connection and over one iroh QUIC stream with the endpoint setting of
//!   `xaeroflux::net` (GSO on), from the first byte written to the receiver's one-byte
//!   acknowledgement after the last byte read. With `--variants`, also iroh with GSO off and
//!   with a higher MTU bound.
//! - **xaeroflux**: a store holding N events of 256 B serves; a fresh store joins its ticket;
//!   the time runs from `join_ticket` (connection set-up included) until the N events are
//!   verified and durably stored. Then the serving store appends events one by one and the
//!   joined one measures when each is stored (the live-append latency), and the XSP stream's
//!   bytes give the wire overhead.
//! - **proto** (diagnostic): the same protocol over the same stream setting between two
//!   in-memory stores (`memstore::MemStore`): verification included, no disk.
//! - **many feeds**: a store holding `--feeds` feeds (default 1 000) of 10 events of 200 B
//!   serves, a fresh store joins and stores them all (both in this process; see `feeds.rs`).
//! - **over Tor** (only with `--only tor`, in a build with the feature `tor`): a raw Tor
//!   stream to an onion service (the floor) and our sync between two Tor-only stores, on a
//!   private Tor network on 127.0.0.1 (see `tor.rs`; `bash scripts/bench-net.sh --tor`).
//! - **sparse**: reads on demand. A fresh store that keeps only followed feeds reads from the
//!   serving store, without storing them: the 20 latest events (from `join_ticket`), 20 reads
//!   of 20 events over the open session, 10 000 events at once, the small reads again; then,
//!   the store opened again with no peer, the small reads once more (from the reads kept on
//!   disk); Hypercore does the same reads on a sparse clone (see `sparse.rs`).
//! - **hypercore**: hypercore@11.37.1 under Node (bench/hypercore/replicate.mjs): one process
//!   holds N blocks of 256 B, the other replicates them over a TCP connection
//!   (`core.replicate()` streams) until `download()` is done.
//!
//! The systems run in interleaved rounds (raw floors, sync, in-memory diagnostic; then the next
//! round), so that on a shared machine each round's systems meet the same conditions; besides
//! the ratio of medians, the ratio to the raw iroh stream is given per round.
//!
//! Arguments: `--records N` (default 100 000), `--runs R` (default 3, the median is kept),
//! `--only raw|sync|proto|feeds|sparse|hypercore|tor` (repeatable; `tor` only when named), `--feeds N`, `--variants`. Environment: `XF_BENCH_HYPERCORE=0`
//! skips Hypercore.

mod child;
mod feeds;
mod hypercore;
mod proto;
mod raw;
mod sparse;
mod sync;
#[cfg(feature = "tor")]
mod tor;

use std::time::Duration;

pub(crate) const RECORD: usize = 256;
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    records: usize,
    feeds: u32,
    runs: usize,
    only: Vec<String>,
    variants: bool,
}

fn parse_args() -> Args {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let mut only = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if a == "--only"
            && let Some(v) = args.get(i + 1)
        {
            only.push(v.clone());
        }
    }
    Args {
        records: value("--records").and_then(|n| n.replace('_', "").parse().ok()).unwrap_or(100_000),
        feeds: value("--feeds").and_then(|n| n.replace('_', "").parse().ok()).unwrap_or(1_000),
        runs: value("--runs").and_then(|n| n.parse().ok()).unwrap_or(3).max(1),
        only,
        variants: args.iter().any(|a| a == "--variants"),
    }
}

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The `q` quantile of `v` (0.5: the median, 1.0: the largest).
pub(crate) fn quantile(v: &[Duration], q: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v.get(((v.len() as f64 - 1.0).max(0.0) * q) as usize).copied().unwrap_or_default()
}

/// Per round, the floor's time over ours (ours as a fraction of the floor's speed), sorted.
pub(crate) fn round_ratios(floor: &[Duration], ours: &[Duration]) -> Vec<f64> {
    let mut r: Vec<f64> = floor.iter().zip(ours).map(|(f, o)| f.as_secs_f64() / o.as_secs_f64()).collect();
    r.sort_by(f64::total_cmp);
    r
}

fn main() -> Result<(), BoxError> {
    if let Ok(role) = std::env::var(child::CHILD_VAR) {
        return child::run(&role);
    }
    let a = parse_args();
    let on = |name: &str| a.only.is_empty() || a.only.iter().any(|o| o == name);
    // Tor runs only when asked for: it starts a private Tor network.
    let tor_asked = a.only.iter().any(|o| o == "tor");
    #[cfg(not(feature = "tor"))]
    if tor_asked {
        return Err(
            "--only tor needs a build with the feature `tor` (cargo bench -p xaeroflux --features tor --bench net)"
                .into(),
        );
    }
    #[cfg(feature = "tor")]
    let tor_net = if tor_asked { Some(tor::TorNet::start()?) } else { None };
    #[cfg(feature = "tor")]
    let mut tor_rounds = tor::TorRounds::default();
    let bytes = a.records * RECORD;
    println!(
        "network sync, two processes over 127.0.0.1: {} x {RECORD} B = {:.1} MB of payload, median of {} runs",
        a.records,
        bytes as f64 / 1e6,
        a.runs
    );
    // The rounds are interleaved (raw floors, our sync, the in-memory diagnostic, then the
    // next round), so that each round's systems see the same state of a shared machine; the
    // ratio to the raw iroh stream is also given as the median of the per-round ratios.
    let mut tcp = Vec::new();
    let mut iroh = Vec::new();
    let mut iroh_note = String::new();
    let mut extra: Vec<(String, Vec<Duration>, String)> = Vec::new();
    let mut ours = Vec::new();
    let mut proto_times = Vec::new();
    let mut feeds_times = Vec::new();
    let hypercore_on = std::env::var("XF_BENCH_HYPERCORE").map_or(true, |v| v != "0");
    let (mut sparse_ours, mut sparse_hc) = (Vec::new(), Vec::new());
    let mut sync_result: Option<sync::SyncResult> = None;
    for round in 0..a.runs {
        println!("round {}/{}", round + 1, a.runs);
        if on("raw") {
            let f = raw::run(a.records, a.variants)?;
            tcp.push(f.tcp);
            iroh.push(f.iroh.0);
            iroh_note = f.iroh.1;
            for (i, (name, d, note)) in f.extra.into_iter().enumerate() {
                match extra.get_mut(i) {
                    Some(e) => e.1.push(d),
                    None => extra.push((name, vec![d], note)),
                }
            }
        }
        if on("sync") {
            let r = sync::run(a.records, None)?;
            println!(
                "  xaeroflux XSP sync: {:.1} ms ({:.1} ms to the session's start; {} session(s), {} rejected)",
                ms(r.time),
                ms(r.connect),
                r.sessions,
                r.rejected
            );
            ours.push(r.time);
            match sync_result.as_mut() {
                Some(all) => {
                    all.wire_bytes = r.wire_bytes;
                    all.latencies.extend(r.latencies);
                }
                None => sync_result = Some(r),
            }
        }
        if on("proto") {
            proto_times.push(proto::run(a.records)?);
        }
        if on("sparse") {
            sparse_ours.push(sparse::run_ours(a.records)?);
            if hypercore_on {
                match sparse::run_hypercore(a.records) {
                    Ok(r) => sparse_hc.push(r),
                    Err(e) => println!("  hypercore sparse skipped: {e}"),
                }
            }
        }
        #[cfg(feature = "tor")]
        if let Some(net) = &tor_net {
            tor_rounds.round(net, a.records)?;
        }
    }
    // After the interleaved rounds: its two in-process nodes stay out of the others' rounds.
    for _ in 0..a.runs {
        if on("feeds") {
            feeds_times.push(feeds::run(a.feeds)?);
        }
    }
    let mut rows: Vec<(String, Duration, String)> = Vec::new();
    if on("raw") {
        rows.push(("raw TCP (floor)".into(), median(tcp), String::new()));
        rows.push(("raw iroh stream (floor)".into(), median(iroh.clone()), iroh_note));
        rows.extend(extra.into_iter().map(|(name, d, note)| (name, median(d), note)));
    }
    if on("sync") {
        rows.push(("xaeroflux XSP sync".into(), median(ours.clone()), format!("{} events stored", a.records)));
    }
    if on("proto") {
        rows.push(("  XSP alone, in-memory stores".into(), median(proto_times), "diagnostic: no disk".into()));
    }
    if on("hypercore") && hypercore_on {
        match hypercore::run(a.records, a.runs) {
            Ok(d) => rows.push(("hypercore 11.37.1 replication".into(), d, String::new())),
            Err(e) => println!("hypercore skipped: {e}"),
        }
    }
    println!();
    if !rows.is_empty() {
        println!("{:<32} {:>10} {:>10}  notes", "system", "time ms", "MB/s");
    }
    for (name, d, note) in &rows {
        println!("{name:<32} {:>10.1} {:>10.1}  {note}", ms(*d), bytes as f64 / d.as_secs_f64() / 1e6);
    }
    if !feeds_times.is_empty() {
        let d = median(feeds_times);
        let events = u64::from(a.feeds) * feeds::EVENTS;
        println!(
            "many feeds: {} feeds x {} events of 200 B synced into a fresh store in {:.1} ms ({:.0} us per feed, {:.0} events/s; one process)",
            a.feeds,
            feeds::EVENTS,
            ms(d),
            d.as_secs_f64() * 1e6 / f64::from(a.feeds),
            events as f64 / d.as_secs_f64(),
        );
    }
    let find = |p: &str| rows.iter().find(|r| r.0.starts_with(p)).map(|r| r.1);
    if let Some(ours_median) = find("xaeroflux") {
        println!();
        if let Some(raw) = find("raw iroh stream") {
            let per_round = round_ratios(&iroh, &ours);
            let listed: Vec<String> = per_round.iter().map(|r| format!("{r:.2}")).collect();
            println!(
                "ours vs raw iroh stream: {:.2}x its speed (medians); per round {} (median {:.2}x) (goal >= 0.7x)",
                raw.as_secs_f64() / ours_median.as_secs_f64(),
                listed.join(" "),
                per_round.get(per_round.len() / 2).copied().unwrap_or_default(),
            );
        }
        if let Some(tcp) = find("raw TCP") {
            println!("ours vs raw TCP:         {:.2}x its speed", tcp.as_secs_f64() / ours_median.as_secs_f64());
        }
        if let Some(hc) = find("hypercore") {
            println!(
                "ours vs hypercore:       {:.1}x faster (goal >= 10x)",
                hc.as_secs_f64() / ours_median.as_secs_f64()
            );
        }
    }
    if !sparse_ours.is_empty() {
        sparse::report(a.records, &sparse_ours, &sparse_hc);
    }
    #[cfg(feature = "tor")]
    if tor_net.is_some() {
        tor_rounds.report(a.records);
    }
    if let Some(r) = sync_result {
        println!(
            "wire overhead: {} XSP stream bytes received for {} payload bytes = {:+.2} % (goal <= 3 %); \
             with the 56-byte canonical headers counted as payload: {:+.2} %",
            r.wire_bytes,
            bytes,
            (r.wire_bytes as f64 / bytes as f64 - 1.0) * 100.0,
            (r.wire_bytes as f64 / (a.records * (RECORD + 56)) as f64 - 1.0) * 100.0,
        );
        let lat = &r.latencies;
        println!(
            "live append -> stored by the connected peer, {} appends: median {:.2} ms, p90 {:.2} ms, max {:.2} ms (goal: median < 50 ms)",
            lat.len(),
            ms(quantile(lat, 0.5)),
            ms(quantile(lat, 0.9)),
            ms(quantile(lat, 1.0)),
        );
    }
    Ok(())
}
