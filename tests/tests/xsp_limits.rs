//! Malicious peers, part 2: lengths over the limits, truncated frames, bad HELLOs, windows
//! ignored, endless streams of small messages, silence; and memory that stays bounded
//! through all of it (a counting allocator of this test binary measures the victim's thread).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::message::{HeadList, Hello, Pages, RangeRequest};
use xaeroflux_core::xsp::{Capabilities, Config, ErrorCode, Limits, Message, RangeMode, Role, varint};
use xaeroflux_core::{AuthorKey, Hash};
use xaeroflux_tests::adversary::{Frame, Mitm, frame_of, wire, wire_of};

struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts the bytes the
// calling thread holds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|c| c.set(c.get() + layout.size() as i64));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|c| c.set(c.get() - layout.size() as i64));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LIVE.try_with(|c| c.set(c.get() + new_size as i64 - layout.size() as i64));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap bytes this thread holds.
fn live() -> i64 {
    LIVE.with(Cell::get)
}

const SPACE: [u8; 32] = [4; 32];

fn key(b: u8) -> AuthorKey {
    AuthorKey::from_secret_bytes(&[b; 32])
}

fn store(secret: u8, n: u64, payload_len: usize) -> MemStore {
    let mut s = MemStore::new(key(secret), PageConfig::default());
    let payload = vec![secret; payload_len];
    s.append_batch((0..n).map(|i| NewEvent::new(i, &payload))).unwrap();
    s
}

fn config() -> Config {
    Config::new(SPACE)
}

fn hello(space: [u8; 32], role: Role, limits: Limits) -> Hello {
    Hello {
        min_version: 1,
        max_version: 1,
        role,
        capabilities: Capabilities::SYNC.union(Capabilities::LIVE),
        space,
        page_size: 16 * 1024,
        limits,
        idle_ms: 30_000,
        incarnation: None,
    }
}

fn hello_frame() -> Frame {
    frame_of(&Message::Hello(hello(SPACE, Role::Initiator, Limits::default())))
}

/// A victim (holding one feed of 3 events) that the test talks to directly.
fn victim(config: Config) -> Mitm {
    Mitm::new(MemStore::replica(PageConfig::default()), Config::new(SPACE), store(9, 3, 10), config)
}

/// A victim that has read a valid HELLO.
fn greeted(config: Config) -> Mitm {
    let mut m = victim(config);
    m.inject_frames(&[hello_frame()]);
    assert!(m.victim.capabilities().is_some());
    m
}

#[test]
fn bad_hellos() {
    let mut h = hello(SPACE, Role::Initiator, Limits::default());
    h.min_version = 2;
    h.max_version = 3;
    let low = Limits { max_frame: 1000, ..Limits::default() };
    let mut bad_magic = hello_frame();
    bad_magic[1] = b'Y';
    let cases: Vec<(Frame, ErrorCode)> = vec![
        (frame_of(&Message::Hello(hello([5; 32], Role::Initiator, Limits::default()))), ErrorCode::SPACE_MISMATCH),
        (frame_of(&Message::Hello(hello(SPACE, Role::Responder, Limits::default()))), ErrorCode::ROLE),
        (frame_of(&Message::Hello(h)), ErrorCode::VERSION),
        (frame_of(&Message::Hello(hello(SPACE, Role::Initiator, low))), ErrorCode::LIMIT),
        (bad_magic, ErrorCode::MALFORMED),
        (frame_of(&Message::Ping), ErrorCode::UNEXPECTED),
        (frame_of(&Message::Credit { pages: 0, bytes: 0 }), ErrorCode::UNEXPECTED),
    ];
    for (i, (frame, code)) in cases.into_iter().enumerate() {
        let mut m = victim(config());
        m.inject_frames(&[frame]);
        assert_eq!(m.closed().map(|c| c.code), Some(code), "case {i}");
        m.assert_closed_with(code);
        assert_eq!(m.store.borrow().event_count(), 3);
    }
}

#[test]
fn frames_over_the_limits_are_refused_before_buffering() {
    // A first frame over 4096 bytes.
    let mut m = victim(config());
    let mut huge = vec![0u8; 5];
    varint::encode(4097, &mut huge);
    m.inject(&huge);
    m.assert_closed_with(ErrorCode::FRAME_TOO_LARGE);
    assert_eq!(m.max_buffered, 0);
    // A frame over max_frame after HELLO.
    let limits = Limits { max_frame: 100_000, ..Limits::default() };
    let mut m = greeted(config().with_limits(limits).unwrap());
    let mut prefix = Vec::new();
    varint::push(&mut prefix, 100_001);
    prefix.extend_from_slice(&[0x0e; 64]);
    m.inject(&prefix);
    m.assert_closed_with(ErrorCode::FRAME_TOO_LARGE);
    assert_eq!(m.max_buffered, 0, "nothing of its body was buffered");
    // A length prefix that is not a varint, an empty frame.
    for bytes in [&[0xff; 11][..], &[0x80, 0x00][..], &[0x00][..]] {
        let mut m = greeted(config());
        m.inject(bytes);
        m.assert_closed_with(ErrorCode::MALFORMED);
    }
}

#[test]
fn a_frame_that_trickles_in_is_buffered_only_as_it_arrives() {
    let mut m = greeted(config());
    let before = live();
    let mut prefix = Vec::new();
    varint::push(&mut prefix, 16 * 1024 * 1024); // announces 16 MiB
    m.inject(&prefix);
    for _ in 0..100 {
        m.inject(&[0x0e; 10]);
    }
    assert!(m.victim.buffered_input() <= 4096, "holds {} bytes for 1000 received", m.victim.buffered_input());
    assert!(live() - before <= 8192, "the victim's heap grew by {}", live() - before);
    // Then silence: keep-alive PINGs go out, and the idle timeout closes the session 30 s
    // (the victim's idle period) after the last byte came in.
    let mut t = 0;
    while m.closed().is_none() {
        t = m.victim.poll_timeout().expect("a timer is armed while open");
        m.victim.handle_timeout(t);
        m.inject(&[]);
        m.drain_victim();
    }
    assert_eq!(t, 30_000_000);
    assert!(m.victim_frames.iter().any(|f| f[0] == 0x0c), "it pinged meanwhile");
    m.assert_closed_with(ErrorCode::TIMEOUT);
}

#[test]
fn no_hello_in_time() {
    let mut m = victim(config().with_idle_timeout_us(5_000_000));
    m.victim.handle_timeout(5_000_000);
    m.inject(&[]);
    m.assert_closed_with(ErrorCode::TIMEOUT);
}

#[test]
fn truncated_and_malformed_bodies() {
    let mut heads = Vec::new();
    let h = store(8, 2, 5).local_head().unwrap();
    let n = HeadList::encode_entries(&[h], &mut heads);
    let mut truncated_heads = frame_of(&Message::Heads(HeadList::from_encoded(n, &heads).unwrap()));
    truncated_heads.pop();
    let cases: Vec<(Frame, ErrorCode)> = vec![
        (vec![0x05, 0x01], ErrorCode::MALFORMED), // CREDIT without its second field
        (truncated_heads, ErrorCode::MALFORMED),  // a HEADS entry cut short
        (vec![0x06, 0x80, 0x00, 0x00], ErrorCode::MALFORMED), // an overlong varint
        (vec![0x0c, 0x00], ErrorCode::MALFORMED), // PING with a body
        (vec![0x03, 0x01, 0x00, 0x00, 0x02], ErrorCode::MALFORMED), // WANT with reserved flags
        (vec![0x40], ErrorCode::UNKNOWN_TYPE),
    ];
    for (i, (frame, code)) in cases.into_iter().enumerate() {
        let mut m = greeted(config());
        m.inject_frames(&[frame]);
        assert_eq!(m.closed().map(|c| c.code), Some(code), "case {i}");
        m.assert_closed_with(code);
    }
}

#[test]
fn more_feeds_than_max_feeds() {
    let limits = Limits { max_feeds: 1024, ..Limits::default() };
    let mut m = greeted(config().with_limits(limits).unwrap());
    let heads: Vec<_> = (0..1025u32)
        .map(|i| {
            let mut secret = [0u8; 32];
            secret[..4].copy_from_slice(&i.to_le_bytes());
            AuthorKey::from_secret_bytes(&secret).sign_head(1, Hash([1; 32]))
        })
        .collect();
    let mut entries = Vec::new();
    let n = HeadList::encode_entries(&heads, &mut entries);
    m.inject_frames(&[frame_of(&Message::Heads(HeadList::from_encoded(n, &entries).unwrap()))]);
    m.assert_closed_with(ErrorCode::LIMIT);
}

#[test]
fn more_requests_than_max_requests_and_duplicate_ids() {
    let limits = Limits { max_requests: 2, ..Limits::default() };
    let req = |id| frame_of(&Message::RangeRequest(RangeRequest { id, feed: 0, mode: RangeMode::Latest(1) }));
    let mut m = greeted(config().with_limits(limits).unwrap());
    m.drain_victim(); // the victim announced its feed
    m.inject_frames(&[req(1), req(2), req(3)]);
    m.assert_closed_with(ErrorCode::LIMIT);
    let mut m = greeted(config().with_limits(limits).unwrap());
    m.drain_victim();
    m.inject_frames(&[req(1), req(1)]);
    m.assert_closed_with(ErrorCode::UNEXPECTED);
}

#[test]
fn pages_beyond_the_window() {
    // The malicious peer is told (by a forged HELLO) that the victim's window is huge.
    let small = Limits { max_pages: 2, max_bytes: 64 * 1024, ..Limits::default() };
    let mut m = Mitm::new(
        store(1, 200, 1000),
        config(),
        MemStore::replica(PageConfig::default()),
        config().with_limits(small).unwrap(),
    );
    m.run(
        |f| vec![f.to_vec()],
        |f| {
            if let Ok(Message::Hello(mut h)) = Message::decode(f) {
                h.limits.max_pages = 1 << 30;
                h.limits.max_bytes = 1 << 40;
                return vec![frame_of(&Message::Hello(h))];
            }
            vec![f.to_vec()]
        },
    );
    m.assert_closed_with(ErrorCode::FLOW_CONTROL);
    let held = m.store.borrow().feed_len(&key(1).author());
    assert!(held * 1056 <= 64 * 1024 + 16 * 1024, "at most a window was accepted ({held} events)");
}

#[test]
fn a_payload_over_the_limit_is_refused_before_it_is_read() {
    let mut m = Mitm::new(store(1, 5, 10), config(), MemStore::replica(PageConfig::default()), config());
    let mut section = vec![1u8]; // one event in the page
    varint::push(&mut section, (17u64 << 20) << 1); // a 17 MiB payload
    section.extend_from_slice(&[0; 8]);
    let crafted = frame_of(&Message::Pages(Pages {
        feed: 0,
        target: 5,
        first_seq: 0,
        first_page: 0,
        page_offset: 0,
        proof: &[],
        page_count: 1,
        section: &section,
    }));
    m.run(|f| if f[0] == 0x04 { vec![crafted.clone()] } else { vec![f.to_vec()] }, |f| vec![f.to_vec()]);
    m.assert_closed_with(ErrorCode::BAD_PAGE);
    assert_eq!(m.verified(), 0);
}

/// Floods the greeted victim with `frame` at `per_sec` frames per second; returns how many
/// it took before CHATTER (None if it never came within `max`), and the heap growth.
fn flood(frame: &Frame, per_sec: u64, max: usize) -> (Option<usize>, i64) {
    let mut m = greeted(config());
    m.drain_victim();
    let bytes = wire(frame);
    m.inject(&bytes); // warm up buffers
    let before = live();
    let mut peak = 0;
    for i in 0..max {
        m.now += 1_000_000u64.checked_div(per_sec).unwrap_or(0);
        m.inject(&bytes);
        peak = peak.max(live() - before);
        if m.closed().is_some() {
            m.assert_closed_with(ErrorCode::CHATTER);
            return (Some(i + 1), peak);
        }
    }
    (None, peak)
}

#[test]
fn endless_streams_of_small_messages() {
    let own_head = store(1, 1, 1).local_head().unwrap();
    let mut entries = Vec::new();
    let n = HeadList::encode_entries(&[own_head], &mut entries);
    let heads = frame_of(&Message::Heads(HeadList::from_encoded(n, &entries).unwrap()));
    let chatter: [(&str, Frame); 5] = [
        ("PING", frame_of(&Message::Ping)),
        ("PONG", frame_of(&Message::Pong)),
        ("empty CREDIT", frame_of(&Message::Credit { pages: 0, bytes: 0 })),
        ("unknown extension", vec![0x90, 1, 2, 3]),
        ("the same HEADS", heads),
    ];
    for (name, frame) in &chatter {
        // All at once: the burst budget (256) runs out.
        let (n, grew) = flood(frame, 0, 10_000);
        let n = n.unwrap_or_else(|| panic!("{name}: no CHATTER"));
        assert!((250..=260).contains(&n), "{name}: CHATTER after {n} frames");
        assert!(grew <= 4096, "{name}: the victim's heap grew by {grew} bytes");
        // At 100 per second the refill (64 per second) does not keep up.
        let (n, _) = flood(frame, 100, 10_000);
        assert!(n.is_some_and(|n| n > 256 && n < 1000), "{name}: {n:?}");
        // At 50 per second it does.
        assert_eq!(flood(frame, 50, 2_000).0, None, "{name}");
    }
}

#[test]
fn repeated_sync_done_is_chatter_too() {
    let frame = frame_of(&Message::SyncDone { heads_seen: 0, heads_sent: 0 });
    let (n, _) = flood(&frame, 0, 1000);
    assert!(n.is_some_and(|n| n > 250 && n < 260), "{n:?}");
}

#[test]
fn a_victim_that_does_not_read_does_not_buffer_output() {
    // The peer sends PINGs and requests but never reads: the victim builds output lazily, so
    // its memory does not grow with what it owes.
    let mut m = greeted(config());
    m.drain_victim(); // the victim announced its feed
    let before = live();
    let req = |id| frame_of(&Message::RangeRequest(RangeRequest { id, feed: 0, mode: RangeMode::Latest(3) }));
    for i in 0..16 {
        m.inject_frames(&[frame_of(&Message::Ping), req(i)]);
    }
    assert!(m.closed().is_none());
    assert!(live() - before <= 16 * 1024, "grew by {}", live() - before);
    let _ = wire_of(&Message::Ping);
}
