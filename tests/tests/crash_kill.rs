//! Crash safety: a child process appends (single events, batches, pipelined batches) and
//! acknowledges each commit over a pipe; the parent kills it with SIGKILL at random moments,
//! reopens the store, and checks that every acknowledged event is there and verifies, that
//! nothing partial is returned, and that the MMR root equals a recomputation. The child resumes on the same store each round, so
//! recovery is exercised on top of earlier recoveries.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xaeroflux::{Core, Durability, verify_event};
use xaeroflux_core::mmr::Mmr;

const CHILD_ENV: &str = "XF_CRASH_CHILD_STORE";
const MODE_ENV: &str = "XF_CRASH_CHILD_MODE";

/// The payload of seq `i`: its length varies, some events are larger than a page.
fn payload(i: u64) -> Vec<u8> {
    let len = match i % 97 {
        0 => 3000,
        n => (n * 13 % 400) as usize,
    };
    let mut p = i.to_le_bytes().to_vec();
    p.extend((0..len).map(|k| (i as usize * 31 + k) as u8));
    p
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn open(path: &std::path::Path, group: bool) -> Core {
    let d =
        if group { Durability::GroupCommit { max_delay: Duration::from_millis(3) } } else { Durability::EachAppend };
    Core::builder().with_page_size(1024).with_segment_pages(16).with_durability(d).open(path).expect("open store")
}

/// Runs in the child process (selected by the environment): append forever, acknowledging
/// each commit's end seq on stdout after it returned.
#[test]
fn crash_child_entry() {
    let Ok(path) = std::env::var(CHILD_ENV) else { return };
    let group = std::env::var(MODE_ENV).is_ok_and(|m| m == "group");
    let core = open(std::path::Path::new(&path), group);
    let me = core.author();
    let mut rng = Rng(std::process::id() as u64 * 0x9e37_79b9 + 1);
    let mut out = std::io::stdout().lock();
    loop {
        let len = core.feed_len(&me);
        let pick = rng.next() % 6;
        let end = if pick < 2 {
            let k = 1 + rng.next() % 40;
            let payloads: Vec<Vec<u8>> = (len..len + k).map(payload).collect();
            core.append_batch(payloads.iter().map(|p| p.as_slice())).expect("append batch").end
        } else if pick == 2 {
            // Two pipelined batches: the second is written while the first one's syncs run.
            let (k1, k2) = (1 + rng.next() % 40, 1 + rng.next() % 40);
            let first: Vec<Vec<u8>> = (len..len + k1).map(payload).collect();
            let second: Vec<Vec<u8>> = (len + k1..len + k1 + k2).map(payload).collect();
            let p1 = core.submit_batch(first.iter().map(|p| p.as_slice())).expect("submit batch");
            let p2 = core.submit_batch(second.iter().map(|p| p.as_slice())).expect("submit batch");
            writeln!(out, "{}", p1.wait().expect("pipelined batch").end).expect("ack");
            out.flush().expect("ack");
            p2.wait().expect("pipelined batch").end
        } else {
            let a = core.append(core.new_event(&payload(len))).expect("append");
            a.seq + 1
        };
        writeln!(out, "{end}").expect("ack");
        out.flush().expect("ack");
    }
}

fn check(path: &std::path::Path, acked: u64) -> (u64, u64) {
    let core = open(path, false);
    let recovered = core.stats().recovered_events;
    let report = core.check_integrity().expect("integrity check runs");
    assert!(report.is_ok(), "the recovered store has problems: {:?}", report.problems);
    let me = core.author();
    let len = core.feed_len(&me);
    assert!(len >= acked, "acknowledged {acked} events but only {len} survived");
    let mut mmr = Mmr::new();
    let mut n = 0;
    for ev in core.iter_feed(&me).expect("feed readable") {
        assert_eq!(ev.seq(), n);
        assert_eq!(ev.payload(), payload(n).as_slice(), "event {n} differs");
        mmr.append(ev.leaf_hash());
        n += 1;
    }
    assert_eq!(n, len, "every stored event is returned");
    let mut arrival = 0u64;
    for ev in core.iter_events() {
        let ev = ev.expect("no damaged page");
        assert_eq!(ev.seq(), arrival, "the only feed comes back in arrival order");
        arrival += 1;
    }
    assert_eq!(arrival, len);
    assert_eq!(core.mmr_root(), mmr.root(), "stored root equals a recomputation");
    let head = core.head();
    for seq in [0, len / 3, len / 2, len.saturating_sub(1)] {
        if seq < len {
            let ev = core.get(&me, seq).unwrap().unwrap();
            verify_event(&ev, &core.inclusion_proof(&me, seq).unwrap(), &head).unwrap();
        }
    }
    (len, recovered)
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0001 ^ std::process::id() as u64);
    let started = Instant::now();
    let rounds = 30;
    let mut acked_total = 0u64;
    let mut recovered_rounds = 0u32;
    for round in 0..rounds {
        let mode = if round % 3 == 2 { "group" } else { "each" };
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child_entry", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .env(MODE_ENV, mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(n) = line.trim().parse::<u64>() {
                    acked = acked.max(n);
                }
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(20 + rng.next() % 120));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        let (len, recovered) = check(&path, acked);
        recovered_rounds += u32::from(recovered > 0);
        acked_total = acked_total.max(acked);
        assert!(len >= acked_total);
    }
    assert!(recovered_rounds > rounds / 2, "recovery past the checkpoint ran ({recovered_rounds} rounds)");
    eprintln!("{rounds} kills, {acked_total} events acknowledged, {recovered_rounds} rounds recovered events");
    assert!(acked_total > 100, "the child made progress ({acked_total} events)");
    assert!(started.elapsed() < Duration::from_secs(60));
}
