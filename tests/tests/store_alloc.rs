//! Zero-copy reads: `iter_events`, `iter_feed` / `range` and `get` return events borrowed from
//! the mapped pages, with no allocation per event. A counting global allocator (this test
//! binary's own) counts the allocations of the calling thread during full reads of stores of
//! two sizes: the count must not grow with the number of events.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use xaeroflux::Core;
use xaeroflux_core::{AuthorKey, Event, EventFlags};

struct Counting;

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by this thread while running `f`.
fn allocations<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let before = COUNT.with(Cell::get);
    let r = f();
    (COUNT.with(Cell::get) - before, r)
}

fn payload(i: u64) -> Vec<u8> {
    let mut p = i.to_le_bytes().to_vec();
    p.resize(100 + (i % 200) as usize, (i % 251) as u8);
    p
}

struct Counts {
    iter_events: u64,
    iter_feed: u64,
    range: u64,
    get_again: u64,
}

/// A store with `n` local events and `n` events of another feed, interleaved in a few runs,
/// read back fully; returns the allocations of each kind of read.
fn measure(n: u64) -> Counts {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let other = AuthorKey::from_secret_bytes(&[8; 32]);
    let them = other.author();
    {
        let core = Core::builder().with_page_size(4096).with_segment_pages(64).open(&path).unwrap();
        let mut mmr = xaeroflux_core::mmr::Mmr::new();
        let quarter = n / 4;
        for part in 0..4 {
            let mine: Vec<Vec<u8>> = (part * quarter..(part + 1) * quarter).map(payload).collect();
            core.append_batch(mine.iter().map(|p| p.as_slice())).unwrap();
            let evs: Vec<Event> = (part * quarter..(part + 1) * quarter)
                .map(|i| Event::new(them, i, i, 1, EventFlags::NONE, &payload(i + 7)))
                .collect();
            for e in &evs {
                mmr.append(e.leaf_hash());
            }
            let head = other.sign_head((part + 1) * quarter, mmr.root());
            let refs: Vec<_> = evs.iter().map(|e| e.as_ref()).collect();
            core.store_verified(&head, &refs).unwrap();
        }
    }
    // Reopen, so that every page is read (and checked) for the first time by this process.
    let core = Core::builder().open(&path).unwrap();
    let me = core.author();
    let (iter_events, seen) = allocations(|| {
        let mut seen = 0u64;
        let mut sum = 0u64;
        for ev in core.iter_events() {
            let ev = ev.unwrap();
            sum = sum.wrapping_add(u64::from(ev.payload()[0]));
            seen += 1;
        }
        std::hint::black_box(sum);
        seen
    });
    assert_eq!(seen, 2 * n);
    let (iter_feed, bytes) = allocations(|| core.iter_feed(&them).unwrap().map(|e| e.payload().len()).sum::<usize>());
    assert_eq!(bytes, (0..n).map(|i| payload(i + 7).len()).sum::<usize>());
    let (range, seen) = allocations(|| core.range(&me, n / 3..n).unwrap().count());
    assert_eq!(seen as u64, n - n / 3);
    // Point reads: the first read of a sealed page builds its offset table (one allocation per
    // page); once built, reads allocate nothing.
    for seq in 0..n {
        core.get(&me, seq).unwrap().unwrap();
    }
    let (get_again, ()) = allocations(|| {
        for seq in 0..n {
            let ev = core.get(&me, seq).unwrap().unwrap();
            assert_eq!(ev.payload()[..8], seq.to_le_bytes());
        }
    });
    Counts { iter_events, iter_feed, range, get_again }
}

#[test]
fn reads_do_not_allocate_per_event() {
    let small = measure(2_000);
    let large = measure(20_000);
    // Whatever a read allocates (loading a feed's page list from the index once, a redb read
    // transaction), it must not be per event: ten times the events, (nearly) the same count.
    for (what, s, l) in [
        ("iter_events", small.iter_events, large.iter_events),
        ("iter_feed", small.iter_feed, large.iter_feed),
        ("range", small.range, large.range),
    ] {
        assert!(l <= s + 16, "{what}: {s} allocations for 4 000 events, {l} for 40 000");
        assert!(l < 200, "{what}: {l} allocations for 40 000 events");
    }
    assert_eq!(small.get_again, 0, "get allocates nothing once a page's offsets are known");
    assert_eq!(large.get_again, 0);
}
