//! Storing many small feeds that a sync verified: one run at a time (`Core::store_batches`,
//! one index checkpoint each) against groups of runs (`Core::store_batch_runs`, one checkpoint
//! per group, as the network sync's importer stores them), in the same run.
//!
//! `cargo bench -p xaeroflux --bench import` (`-- --feeds N --events N --group N --rounds N
//! --known`). Each round stores the same verified batches into two fresh stores on the same
//! disk (`target/import-bench`), alternating which goes first; the medians are printed with
//! their ratio. With `--known`, the sessions send small frames, each store gets every feed's
//! first batch before the clock starts, and the rest is timed: feeds the store already holds,
//! whose tail pages are rewritten in place (a space catching up after being offline).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use xaeroflux::Core;
use xaeroflux_core::AuthorKey;
use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::{Config, Event, Pair, Role, Session, VerifiedBatch};

struct Args {
    feeds: u32,
    events: u64,
    group: usize,
    rounds: usize,
    known: bool,
}

fn args() -> Args {
    let mut a = Args { feeds: 1000, events: 10, group: 64, rounds: 5, known: false };
    let argv: Vec<String> = std::env::args().collect();
    let value = |name: &str| argv.iter().position(|x| x == name).and_then(|i| argv.get(i + 1)?.parse::<u64>().ok());
    a.feeds = value("--feeds").map_or(a.feeds, |v| v as u32);
    a.events = value("--events").unwrap_or(a.events);
    a.group = value("--group").map_or(a.group, |v| v.max(1) as usize);
    a.rounds = value("--rounds").map_or(a.rounds, |v| v.max(1) as usize);
    a.known = argv.iter().any(|x| x == "--known");
    if a.known && value("--events").is_none() {
        // Several batches per feed (a frame carries whole 16 KiB pages at most).
        a.events = 200;
    }
    a
}

/// The verified batches a fresh replica gets syncing `events` events of 200 B from the feed
/// of author number `i`, through two real XSP sessions (in frames of about `frame` bytes).
fn verified(i: u32, events: u64, frame: usize) -> Vec<VerifiedBatch> {
    let pages = PageConfig::default();
    let mut secret = [7u8; 32];
    secret[..4].copy_from_slice(&i.to_le_bytes());
    let mut src = MemStore::new(AuthorKey::from_secret_bytes(&secret), pages);
    let payload = [i as u8; 200];
    src.append_batch((0..events).map(|s| NewEvent::new(1_000 + s, &payload))).expect("append to a MemStore");
    let config = Config::new([1; 32]).with_live(false).with_target_frame(frame);
    let mut pair = Pair::new(
        Session::new(config.clone(), Role::Initiator, 0, src),
        Session::new(config, Role::Responder, 0, MemStore::replica(pages)),
    );
    let exchange = pair.drive();
    assert!(exchange.quiet, "the sessions go quiet");
    exchange.b.into_iter().filter_map(|e| if let Event::Verified(v) = e { Some(v) } else { None }).collect()
}

fn store_one_by_one(core: &Core, feeds: &[&[VerifiedBatch]]) {
    for f in feeds {
        core.store_batches(f).expect("store a verified run");
    }
}

fn store_grouped(core: &Core, feeds: &[&[VerifiedBatch]], group: usize) {
    for chunk in feeds.chunks(group) {
        let runs: Vec<&[VerifiedBatch]> = chunk.to_vec();
        for r in core.store_batch_runs(&runs) {
            r.expect("store a verified run");
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let a = args();
    let frame = if a.known { 2 * 1024 } else { 256 * 1024 };
    let feeds: Vec<Vec<VerifiedBatch>> = (0..a.feeds).map(|i| verified(i, a.events, frame)).collect();
    // With `--known`, each feed's first batch is stored before the clock starts.
    let split = usize::from(a.known);
    if a.known {
        assert!(feeds.iter().all(|f| f.len() > 1), "--known needs feeds of several batches: raise --events");
    }
    let (before, timed): (Vec<&[VerifiedBatch]>, Vec<&[VerifiedBatch]>) =
        feeds.iter().map(|f| (&f[..split], &f[split..])).unzip();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/import-bench");
    let (mut single, mut grouped) = (Vec::new(), Vec::new());
    for round in 0..a.rounds {
        for which in [round % 2, 1 - round % 2] {
            let _ = std::fs::remove_dir_all(&dir);
            let core = Core::builder().open(&dir).expect("open a fresh store");
            store_grouped(&core, &before, a.group);
            let start = Instant::now();
            if which == 0 {
                store_one_by_one(&core, &timed);
                single.push(start.elapsed());
            } else {
                store_grouped(&core, &timed, a.group);
                grouped.push(start.elapsed());
            }
            assert_eq!(core.stats().total_events, u64::from(a.feeds) * a.events, "everything stored");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (s, g) = (median(single), median(grouped));
    println!(
        "{} feeds x {} events of 200 B{}, medians of {} rounds:\n  one run per call (store_batches):        {:>8.1} ms  ({:.0} us per feed)\n  groups of {:>3} runs (store_batch_runs):   {:>8.1} ms  ({:.0} us per feed)\n  grouped / one by one: {:.2}x the speed",
        a.feeds,
        a.events,
        if a.known { " (known: the first batch of each stored before, the rest timed)" } else { "" },
        a.rounds,
        s.as_secs_f64() * 1e3,
        s.as_secs_f64() * 1e6 / f64::from(a.feeds),
        a.group,
        g.as_secs_f64() * 1e3,
        g.as_secs_f64() * 1e6 / f64::from(a.feeds),
        s.as_secs_f64() / g.as_secs_f64(),
    );
}
