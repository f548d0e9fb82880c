//! A whole XSP session fed arbitrary bytes: no panic, bounded input buffering, nothing
//! reported after the close, and every batch reported as verified really extends the store
//! (a MemStore takes it). Output, events and timers are polled between chunks, as a host does.
//!
//! The first input byte picks a prefix, so the fuzzer starts past the handshake: nothing, a
//! valid HELLO, or a valid HELLO and HEADS announcing a real feed (so PAGES get verified);
//! and the chunk size.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use xaeroflux_core::AuthorKey;
use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::message::{HeadList, Hello};
use xaeroflux_core::xsp::{Capabilities, Config, Event, Limits, Message, Role, Session, varint};

const SPACE: [u8; 32] = [0x5a; 32];

fn config() -> Config {
    let limits = Limits { max_frame: 1 << 20, max_pages: 4, max_bytes: 64 * 1024, ..Limits::default() };
    Config::new(SPACE).with_limits(limits).unwrap().with_page_size(4096).unwrap()
}

fn store(secret: u8, n: u64) -> MemStore {
    let mut s = MemStore::new(AuthorKey::from_secret_bytes(&[secret; 32]), PageConfig::new(4096).unwrap());
    s.append_batch((0..n).map(|i| NewEvent::new(i * 1000, b"some payload bytes"))).unwrap();
    s
}

fn wire(msg: &Message<'_>, out: &mut Vec<u8>) {
    let mut f = Vec::new();
    msg.encode(&mut f);
    varint::push(out, f.len() as u64);
    out.extend_from_slice(&f);
}

/// HELLO, and HELLO + HEADS of a 20-event feed, as the peer would send them.
fn prefixes() -> &'static [Vec<u8>; 3] {
    static P: OnceLock<[Vec<u8>; 3]> = OnceLock::new();
    P.get_or_init(|| {
        let hello = Hello {
            min_version: 1,
            max_version: 1,
            role: Role::Initiator,
            capabilities: Capabilities::SYNC.union(Capabilities::LIVE).union(Capabilities::MCP),
            space: SPACE,
            page_size: 4096,
            limits: *config().limits(),
            idle_ms: 30_000,
            incarnation: Some(0x5a5a),
        };
        let mut h = Vec::new();
        wire(&Message::Hello(hello), &mut h);
        let head = store(1, 20).local_head().unwrap();
        let mut entries = Vec::new();
        let n = HeadList::encode_entries(&[head], &mut entries);
        let mut hh = h.clone();
        wire(&Message::Heads(HeadList::from_encoded(n, &entries).unwrap()), &mut hh);
        [Vec::new(), h, hh]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut input = prefixes()[usize::from(mode % 3)].clone();
    input.extend_from_slice(rest);
    let chunk = usize::from(mode >> 2) * 37 + 1;
    let mut victim = Session::new(config(), Role::Responder, 0, store(4, 5));
    let mut held = store(4, 5);
    let mut buf = vec![0u8; 2048];
    let mut closed = false;
    let mut now = 0;
    for piece in input.chunks(chunk) {
        now += 10_000;
        victim.handle_input(now, piece);
        assert!(victim.buffered_input() as u64 <= config().limits().max_frame);
        while let Some(ev) = victim.poll_event() {
            assert!(!closed, "an event after Closed");
            match &ev {
                Event::Verified(b) => {
                    assert!(b.head.verify().is_ok());
                    held.store_batch(b).expect("a verified batch extends the store");
                    victim.feed_updated(&b.author());
                }
                Event::Closed(_) => closed = true,
                _ => {}
            }
        }
        // Send our WANT before the peer's answers arrive, as a real exchange would.
        while victim.poll_transmit(&mut buf).is_some() {}
        if victim.poll_timeout().is_some_and(|t| t <= now) {
            victim.handle_timeout(now);
        }
    }
});
