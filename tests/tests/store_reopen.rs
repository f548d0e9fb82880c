//! Reopening does work bounded by the checkpoint interval and one segment, never by the
//! number of events: measured by counting what the open reads (index rows, pages checked,
//! segment bytes), not by timing it. Stores ten times larger must cost the same to open, after
//! a clean close and after a `kill -9`.

use std::process::Command;

use xaeroflux::{Core, Stats};
use xaeroflux_core::mmr::Mmr;
use xaeroflux_core::{AuthorKey, Event, EventFlags};

const PAGE: u32 = 1024;
const SEGMENT_PAGES: u32 = 64;
/// Pages the writer seals between two index checkpoints (`with_checkpoint_pages`).
const CHECKPOINT_PAGES: u64 = 256;
const BATCH: u64 = 100;
const CHILD_ENV: &str = "XF_REOPEN_CHILD";

fn payload(i: u64) -> Vec<u8> {
    let mut p = i.to_le_bytes().to_vec();
    p.resize(200 + (i % 50) as usize, (i % 251) as u8);
    p
}

fn open(path: &std::path::Path) -> Core {
    Core::builder()
        .with_page_size(PAGE)
        .with_segment_pages(SEGMENT_PAGES)
        .with_checkpoint_pages(CHECKPOINT_PAGES as u32)
        .open(path)
        .unwrap()
}

/// Appends events `from..to` in batches of [`BATCH`] (one durable commit each).
fn fill(core: &Core, from: u64, to: u64) {
    let mut seq = from;
    while seq < to {
        let end = (seq + BATCH).min(to);
        let p: Vec<Vec<u8>> = (seq..end).map(payload).collect();
        assert_eq!(core.append_batch(p.iter().map(|v| v.as_slice())).unwrap(), seq..end);
        seq = end;
    }
}

/// Child side: append `n` events to the store, then die by SIGKILL without closing.
#[test]
fn reopen_child_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (path, n) = spec.split_once('|').unwrap();
    let core = open(std::path::Path::new(path));
    fill(&core, 0, n.parse().unwrap());
    // SAFETY: kill and getpid have no preconditions; this process ends here.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    unreachable!("killed");
}

/// Opens, checks every event and the root, returns the open's counters.
fn reopen_and_check(path: &std::path::Path, n: u64) -> Stats {
    let core = open(path);
    let stats = core.stats();
    let me = core.author();
    assert_eq!(core.feed_len(&me), n);
    let mut mmr = Mmr::new();
    for (i, ev) in core.iter_feed(&me).unwrap().enumerate() {
        assert_eq!(ev.payload(), payload(i as u64).as_slice());
        mmr.append(ev.leaf_hash());
    }
    assert_eq!(mmr.root(), core.mmr_root());
    stats
}

fn segment_bytes() -> u64 {
    u64::from(PAGE) * u64::from(SEGMENT_PAGES)
}

#[test]
fn clean_reopen_work_does_not_grow_with_events() {
    let mut seen = Vec::new();
    for n in [3_000u64, 30_000] {
        let dir = tempfile::tempdir().unwrap();
        let core = open(dir.path());
        fill(&core, 0, n);
        assert!(core.stats().checkpoints > 2, "{n} events span several checkpoints");
        core.close().unwrap();
        let s = reopen_and_check(dir.path(), n);
        assert_eq!(s.recovered_events, 0);
        // The local feed's last page, and the slots after the end (in this segment and at the
        // start of the next) that show nothing was appended after the checkpoint.
        assert!(s.open_pages_examined <= 3, "{s:?}");
        // Plus the first piece of the tail log (it holds no record after a clean close).
        assert!(s.open_bytes_examined <= segment_bytes() + u64::from(PAGE) + 4096, "{s:?}");
        seen.push(s);
    }
    assert_eq!(seen[0].open_index_rows, seen[1].open_index_rows, "index rows read on open: {seen:?}");
    assert!(seen[1].open_index_rows <= 8, "{:?}", seen[1]);
}

#[test]
fn reopen_after_kill_work_does_not_grow_with_events() {
    let exe = std::env::current_exe().unwrap();
    let mut seen = Vec::new();
    for n in [3_000u64, 30_000] {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new(&exe)
            .args(["--exact", "reopen_child_entry", "--test-threads=1"])
            .env(CHILD_ENV, format!("{}|{n}", dir.path().display()))
            .output()
            .unwrap()
            .status;
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL), "{status}");
        let s = reopen_and_check(dir.path(), n);
        assert!(s.recovered_events > 0, "events past the last checkpoint were recovered: {s:?}");
        // The pages after the checkpoint (fewer than CHECKPOINT_PAGES plus one commit's), the
        // tail page, and the slot that ends the chain.
        let commit_pages = BATCH; // a batch of BATCH events never spans more pages than events
        assert!(s.open_pages_examined <= CHECKPOINT_PAGES + commit_pages + 2, "{s:?}");
        let bound = (CHECKPOINT_PAGES + commit_pages + 2) * u64::from(PAGE) + segment_bytes();
        assert!(s.open_bytes_examined <= bound, "{s:?}");
        seen.push(s);
    }
    assert_eq!(seen[0].open_index_rows, seen[1].open_index_rows, "{seen:?}");
}

/// A store whose arrival order alternates between feeds many times: opening reads one arrival
/// run, and `iter_events` reads the older ones from the index in order.
#[test]
fn many_arrival_runs_are_not_read_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let other = AuthorKey::from_secret_bytes(&[3; 32]);
    let them = other.author();
    let mut theirs: Vec<Event> = Vec::new();
    let mut mmr = Mmr::new();
    let mut expect = Vec::new();
    let rounds = 700u64; // 1 400 runs: several chunks of the iterator's run buffer
    {
        let core = open(dir.path());
        for r in 0..rounds {
            core.append(core.new_event(&payload(r))).unwrap();
            expect.push((true, r));
            let ev = Event::new(them, r, r, 0, EventFlags::NONE, &payload(r + 1_000_000));
            mmr.append(ev.leaf_hash());
            let head = other.sign_head(r + 1, mmr.root());
            core.store_verified(&head, &[ev.as_ref()]).unwrap();
            expect.push((false, r));
            theirs.push(ev);
        }
    }
    let core = open(dir.path());
    let s = core.stats();
    assert!(s.open_index_rows <= 12, "{s:?}");
    let me = core.author();
    let order: Vec<(bool, u64)> = core.iter_events().map(|e| e.unwrap()).map(|e| (e.author() == me, e.seq())).collect();
    assert_eq!(order, expect);
    // New runs after the reopen continue the order.
    core.append(core.new_event(b"last")).unwrap();
    let last = core.iter_events().last().unwrap().unwrap();
    assert_eq!((last.author(), last.seq()), (me, rounds));
    assert_eq!(core.iter_events().count() as u64, 2 * rounds + 1);
    assert_eq!(core.get(&them, rounds - 1).unwrap().unwrap().encoded(), theirs[rounds as usize - 1].encoded());
}
