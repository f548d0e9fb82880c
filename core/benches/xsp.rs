//! XSP sync benchmark: two Sessions over a simulated link (bandwidth and latency, simulated
//! time), each with a MemStore.
//!
//! Workloads: 100 000 events of 256 B in one feed, and 1 000 feeds × 100 events of 256 B.
//! Reported per workload:
//! - wire bytes (both directions) per payload byte, i.e. the protocol overhead;
//! - the simulated time until the receiver holds everything, minus the time the link needs
//!   to carry those bytes, in round trips (goal: HELLO + 1 = 1.5 round trips);
//! - CPU time per MB of payload on each side (the receiver's includes verification and storing
//!   in its MemStore), next to the floor of verification (each head's signature, the leaf
//!   hashes and the MMR root of the same canonical events), and next to
//!   `MemStore::import_events` of the same events (verify + store, no protocol).
//!
//! `cargo bench -p xaeroflux-core --bench xsp` (XSP_BENCH_QUICK=1 for a tenth of the events;
//! XSP_BENCH_ONLY=one or many for one workload).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use xaeroflux_core::hash::leaf_hashes;
use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::mmr::MmrPeaks;
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::{Config, Event, Micros, Role, Session};
use xaeroflux_core::{AuthorId, AuthorKey};

const PAYLOAD: usize = 256;
/// 1 Gbit/s.
const BYTES_PER_US: f64 = 125.0;
/// One-way latency: a 20 ms round trip.
const LATENCY: Micros = 10_000;

/// One direction of the link: serialization at the bandwidth, then the latency.
#[derive(Default)]
struct Link {
    queue: VecDeque<(Micros, Vec<u8>)>,
    free_at: f64,
    bytes: u64,
}

impl Link {
    /// Sends `bytes` at `now` in segments of 16 KiB, each arriving once serialized plus the
    /// latency (as a stream transport delivers them).
    fn send(&mut self, now: Micros, bytes: &[u8]) {
        for seg in bytes.chunks(16 * 1024) {
            let start = self.free_at.max(now as f64);
            self.free_at = start + seg.len() as f64 / BYTES_PER_US;
            self.bytes += seg.len() as u64;
            self.queue.push_back((self.free_at.ceil() as Micros + LATENCY, seg.to_vec()));
        }
    }
}

struct Side {
    session: Session<MemStore>,
    cpu: Duration,
}

impl Side {
    /// Handles events (storing verified batches), then sends what the session has.
    fn pump(&mut self, now: Micros, link: &mut Link, buf: &mut [u8]) {
        let t = Instant::now();
        while let Some(ev) = self.session.poll_event() {
            if let Event::Verified(b) = ev {
                self.session.source_mut().store_batch(&b).expect("a verified batch is stored");
                self.session.feed_updated(&b.author());
            }
        }
        let mut out = Vec::new();
        while let Some(n) = self.session.poll_transmit(buf) {
            out.extend_from_slice(&buf[..n]);
        }
        self.cpu += t.elapsed();
        if !out.is_empty() {
            link.send(now, &out);
        }
    }

    fn input(&mut self, now: Micros, bytes: &[u8]) {
        let t = Instant::now();
        self.session.handle_input(now, bytes);
        self.cpu += t.elapsed();
    }
}

struct Outcome {
    payload: u64,
    wire: [u64; 2],
    done_at: Micros,
    cpu: [Duration; 2],
}

/// Syncs `source` into an empty store; returns what it cost.
fn sync(source: MemStore, expected: &[(AuthorId, u64)]) -> Outcome {
    let config = Config::new([1; 32]).with_live(false);
    let receiver = MemStore::new(AuthorKey::from_secret_bytes(&[200; 32]), PageConfig::default());
    let mut sides = [
        Side { session: Session::new(config.clone(), Role::Initiator, 0, source), cpu: Duration::ZERO },
        Side { session: Session::new(config, Role::Responder, 0, receiver), cpu: Duration::ZERO },
    ];
    let mut links = [Link::default(), Link::default()];
    let mut buf = vec![0u8; 1 << 16];
    let mut now: Micros = 0;
    let mut done_at = None;
    loop {
        for (side, link) in sides.iter_mut().zip(links.iter_mut()) {
            side.pump(now, link, &mut buf);
        }
        if done_at.is_none() {
            let s = sides[1].session.source();
            if expected.iter().all(|(a, n)| s.feed_len(a) == *n) {
                done_at = Some(now);
            }
        }
        let next = links.iter().filter_map(|l| l.queue.front().map(|(t, _)| *t)).min();
        let Some(t) = next else { break };
        now = now.max(t);
        for (i, link) in links.iter_mut().enumerate() {
            while link.queue.front().is_some_and(|(at, _)| *at <= now) {
                let (_, bytes) = link.queue.pop_front().expect("a chunk is due");
                sides[1 - i].input(now, &bytes);
            }
        }
    }
    assert!(sides.iter().all(|s| s.session.is_closed()), "both sides closed after syncing");
    let payload = expected.iter().map(|(_, n)| n * PAYLOAD as u64).sum();
    Outcome {
        payload,
        wire: [links[0].bytes, links[1].bytes],
        done_at: done_at.expect("the receiver caught up"),
        cpu: [sides[0].cpu, sides[1].cpu],
    }
}

/// A store holding `feeds` feeds of `n` events each (the first is its own).
fn source(feeds: usize, n: u64) -> (MemStore, Vec<(AuthorId, u64)>) {
    let payload = [0x5au8; PAYLOAD];
    let events = |_| (0..n).map(|i| NewEvent::new(1_700_000_000_000_000 + i * 1000, &payload));
    let key = AuthorKey::from_secret_bytes(&[1; 32]);
    let mut store = MemStore::new(key.clone(), PageConfig::default());
    store.append_batch(events(0)).expect("append");
    let mut expected = vec![(key.author(), n)];
    for f in 1..feeds {
        let mut secret = [0u8; 32];
        secret[..8].copy_from_slice(&(f as u64 + 1000).to_le_bytes());
        let k = AuthorKey::from_secret_bytes(&secret);
        let mut other = MemStore::new(k.clone(), PageConfig::default());
        other.append_batch(events(f)).expect("append");
        let evs: Vec<_> = other.iter_feed(&k.author()).collect();
        store.import_events(&other.local_head().expect("a head"), &evs).expect("import");
        expected.push((k.author(), n));
    }
    (store, expected)
}

/// The floor of verification: each feed's signed head checked, and the leaf hashes and MMR
/// root of the same canonical events computed, the fastest way the core knows (leaf hashes
/// and MMR merges many at once across SIMD lanes).
fn floor(store: &MemStore, expected: &[(AuthorId, u64)]) -> Duration {
    let t = Instant::now();
    for (a, _) in expected {
        let head = store.head(a).expect("a head");
        head.verify().expect("a valid head");
        let mut leaves = Vec::new();
        leaf_hashes(store.iter_feed(a).map(|ev| ev.encoded()), &mut leaves);
        let mut p = MmrPeaks::new();
        p.extend_from_slice(&leaves).expect("in range");
        assert_eq!(p.root(), head.root);
    }
    t.elapsed()
}

/// Verify-and-store without the protocol: `MemStore::import_events` of every feed.
fn import(store: &MemStore, expected: &[(AuthorId, u64)]) -> Duration {
    let mut into = MemStore::replica(PageConfig::default());
    let t = Instant::now();
    for (a, _) in expected {
        let evs: Vec<_> = store.iter_feed(a).collect();
        into.import_events(&store.head(a).expect("a head"), &evs).expect("import");
    }
    t.elapsed()
}

fn per_mb(d: Duration, bytes: u64) -> f64 {
    d.as_secs_f64() * 1e3 / (bytes as f64 / 1e6)
}

fn run(name: &str, feeds: usize, n: u64) {
    let (store, expected) = source(feeds, n);
    let reference = store.clone();
    let best = |f: &dyn Fn() -> Duration| (0..3).map(|_| f()).min().expect("three runs");
    let floor_t = best(&|| floor(&reference, &expected));
    let import_t = best(&|| import(&reference, &expected));
    let mut outcomes: Vec<Outcome> = (0..3).map(|_| sync(store.clone(), &expected)).collect();
    outcomes.sort_by_key(|o| o.cpu[1]);
    let o = &outcomes[0];
    let wire = o.wire[0] + o.wire[1];
    let overhead = (wire as f64 - o.payload as f64) / o.payload as f64 * 100.0;
    let transfer = wire as f64 / BYTES_PER_US;
    let rtts = (o.done_at as f64 - transfer) / (2 * LATENCY) as f64;
    println!("## {name}: {feeds} feed(s) × {n} events of {PAYLOAD} B ({:.1} MB of payload)", o.payload as f64 / 1e6);
    println!(
        "wire bytes: {} forward + {} back = {wire} ({:.3} per payload byte, overhead {overhead:.2} %)",
        o.wire[0],
        o.wire[1],
        wire as f64 / o.payload as f64
    );
    println!(
        "caught up after {:.1} ms at 1 Gbit/s and a {} ms round trip: {:.1} ms of transfer + {rtts:.2} round trips",
        o.done_at as f64 / 1e3,
        2 * LATENCY / 1000,
        transfer / 1e3
    );
    println!(
        "CPU per MB of payload: receiver {:.2} ms (verify + store), sender {:.2} ms; floor (heads + leaf hashes + MMR) {:.2} ms, MemStore::import_events {:.2} ms",
        per_mb(o.cpu[1], o.payload),
        per_mb(o.cpu[0], o.payload),
        per_mb(floor_t, o.payload),
        per_mb(import_t, o.payload),
    );
    println!(
        "receiver vs floor: {:.2}×, vs import_events: {:.2}×\n",
        o.cpu[1].as_secs_f64() / floor_t.as_secs_f64(),
        o.cpu[1].as_secs_f64() / import_t.as_secs_f64()
    );
}

fn main() {
    let quick = std::env::var_os("XSP_BENCH_QUICK").is_some();
    let k = if quick { 10 } else { 1 };
    let only = std::env::var("XSP_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "one" {
        run("one feed", 1, 100_000 / k);
    }
    if only.is_empty() || only == "many" {
        run("many feeds", 1000 / k as usize, 100);
    }
}
