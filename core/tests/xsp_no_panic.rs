//! No byte sequence makes an XSP session panic, hold more than its frame limit, or report
//! anything unverified. The inputs are random bytes after a valid HELLO, and — to get deep
//! into PAGES verification, requests and live mode — a real peer's transcript (HELLO, HEADS,
//! PAGES …) with random bit flips, cuts, drops, repeats and splices, fed in random chunks with
//! time passing. `core/fuzz` runs the same driver under libFuzzer.

use std::sync::OnceLock;

use proptest::prelude::*;
use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::frame::{FrameDecoder, Ready};
use xaeroflux_core::xsp::message::Hello;
use xaeroflux_core::xsp::{Capabilities, Config, Event, Limits, Message, ProofKind, RangeMode, Role, Session, varint};
use xaeroflux_core::{AuthorId, AuthorKey};

const SPACE: [u8; 32] = [0x5a; 32];

fn config() -> Config {
    let limits = Limits { max_frame: 1 << 20, max_pages: 4, max_bytes: 64 * 1024, ..Limits::default() };
    Config::new(SPACE).with_limits(limits).unwrap().with_page_size(4096).unwrap().with_target_frame(4096)
}

/// The peer whose transcript is replayed: three feeds, one with events larger than a page.
fn peer_store() -> MemStore {
    let mut s = MemStore::new(AuthorKey::from_secret_bytes(&[1; 32]), PageConfig::new(4096).unwrap());
    let small = [7u8; 100];
    let big = [9u8; 5000];
    s.append_batch(
        (0..40).map(|i| NewEvent::new(i * 1000, if i % 9 == 4 { &big[..] } else { &small[..] }).kind(i as u16 % 3)),
    )
    .unwrap();
    for secret in [2u8, 3] {
        let key = AuthorKey::from_secret_bytes(&[secret; 32]);
        let mut other = MemStore::new(key.clone(), PageConfig::new(4096).unwrap());
        other.append_batch((0..12).map(|i| NewEvent::new(i, &small[..(i as usize * 7)]))).unwrap();
        let events: Vec<_> = other.iter_feed(&key.author()).collect();
        s.import_events(&other.local_head().unwrap(), &events).unwrap();
    }
    s
}

/// The victim's own store (the peer wants its feed too).
fn victim_store() -> MemStore {
    let mut s = MemStore::new(AuthorKey::from_secret_bytes(&[4; 32]), PageConfig::new(4096).unwrap());
    s.append_batch((0..5).map(|i| NewEvent::new(i, b"victim"))).unwrap();
    s
}

/// What a real peer sends to the victim in a clean session, frame by frame (each with its
/// length prefix), recorded once.
fn transcript() -> &'static Vec<Vec<u8>> {
    static T: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    T.get_or_init(|| {
        let mut peer = Session::new(config(), Role::Initiator, 0, peer_store());
        let mut victim = Session::new(config(), Role::Responder, 0, victim_store());
        let mut dec = FrameDecoder::new();
        let mut frames = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        for round in 0..500u64 {
            let mut moved = false;
            while let Some(n) = peer.poll_transmit(&mut buf) {
                moved = true;
                let mut input = &buf[..n];
                while let Ok(Some(r)) = dec.poll(&mut input, u64::MAX) {
                    let f = match r {
                        Ready::Direct(f) => f.to_vec(),
                        Ready::Buffered => dec.take_buffered(),
                    };
                    let mut w = Vec::new();
                    varint::push(&mut w, f.len() as u64);
                    w.extend_from_slice(&f);
                    frames.push(w);
                }
                victim.handle_input(round, &buf[..n]);
            }
            while let Some(ev) = victim.poll_event() {
                host(&mut victim, &ev);
            }
            while let Some(n) = victim.poll_transmit(&mut buf) {
                moved = true;
                peer.handle_input(round, &buf[..n]);
            }
            while peer.poll_event().is_some() {}
            if !moved {
                break;
            }
        }
        assert!(frames.len() > 10, "a transcript with PAGES and answers");
        frames
    })
}

/// Cuts `input` into chunks of the given sizes (cycling through them).
fn cut(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = cuts.get(i % cuts.len().max(1)).copied().unwrap_or(rest.len()).clamp(1, rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
        i += 1;
    }
    out
}

/// What the victim's host does with an event: the same in the recording and the replays
/// (it asks for a range and a proof of every feed announced, so the answers in a transcript
/// are answers to real requests).
fn host(victim: &mut Session<MemStore>, ev: &Event) {
    if let Event::RemoteHead(h) = ev {
        let _ = victim.request_range(&h.author, RangeMode::Latest(3));
        let _ = victim.request_proof(&h.author, ProofKind::Consistency, 1);
    }
}

/// Drives a fresh victim with `chunks`, polling everything between chunks and letting time
/// pass; checks the invariants. Returns the verified batches stored.
fn drive(chunks: &[Vec<u8>], ticks: &[u64]) -> Result<usize, TestCaseError> {
    let mut victim = Session::new(config(), Role::Responder, 0, victim_store());
    let mut store = victim_store();
    let mut buf = vec![0u8; 3000];
    let mut now = 0u64;
    let mut closed = false;
    let mut verified = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        now += ticks.get(i % ticks.len().max(1)).copied().unwrap_or(0);
        victim.handle_input(now, chunk);
        prop_assert!(victim.buffered_input() as u64 <= config().limits().max_frame);
        while let Some(ev) = victim.poll_event() {
            prop_assert!(!closed, "an event after Closed: {ev:?}");
            host(&mut victim, &ev);
            match &ev {
                Event::Verified(b) => {
                    prop_assert!(b.head.verify().is_ok());
                    let author: AuthorId = b.author();
                    prop_assert!(b.events.iter().all(|e| e.author() == author));
                    // Everything reported as verified extends the store exactly.
                    prop_assert!(store.store_batch(b).is_ok(), "an unverifiable batch was reported");
                    verified += 1;
                }
                Event::HeadConfirmed(h) => prop_assert!(h.verify().is_ok()),
                Event::Fork(e) => prop_assert!(e.verify().is_ok()),
                Event::Closed(_) => closed = true,
                _ => {}
            }
        }
        while victim.poll_transmit(&mut buf).is_some() {}
        if let Some(t) = victim.poll_timeout()
            && t <= now
        {
            victim.handle_timeout(now);
        }
    }
    Ok(verified)
}

fn hello() -> Vec<u8> {
    let c = config();
    let h = Hello {
        min_version: 1,
        max_version: 1,
        role: Role::Initiator,
        capabilities: Capabilities::SYNC.union(Capabilities::LIVE).union(Capabilities::MCP),
        space: SPACE,
        page_size: 4096,
        limits: *c.limits(),
        idle_ms: 30_000,
        incarnation: None,
    };
    let mut f = Vec::new();
    Message::Hello(h).encode(&mut f);
    let mut w = Vec::new();
    varint::push(&mut w, f.len() as u64);
    w.extend_from_slice(&f);
    w
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Drop(usize),
    Repeat(usize),
    Splice(usize, Vec<u8>),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..=255).prop_map(|(p, x)| Mutation::Flip(p, x)),
        1 => any::<usize>().prop_map(Mutation::Drop),
        1 => any::<usize>().prop_map(Mutation::Repeat),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..40)).prop_map(|(p, b)| Mutation::Splice(p, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// The transcript with the mutations applied, one chunk per frame (a frame may have been
/// altered, cut, dropped, repeated or extended, so chunks need not be frames any more).
fn apply(mutations: &[Mutation]) -> Vec<Vec<u8>> {
    let mut frames: Vec<Vec<u8>> = transcript().clone();
    for m in mutations {
        let n = frames.len();
        match m {
            Mutation::Drop(i) if n > 1 => {
                frames.remove(i % n);
            }
            Mutation::Repeat(i) => {
                let f = frames[i % n].clone();
                frames.insert(i % n, f);
            }
            Mutation::Flip(p, x) => {
                let f = &mut frames[p % n];
                let at = (p / n) % f.len().max(1);
                if let Some(b) = f.get_mut(at) {
                    *b ^= x;
                }
            }
            Mutation::Splice(p, b) => {
                let f = &mut frames[p % n];
                let at = (p / n) % (f.len() + 1);
                f.splice(at..at, b.iter().copied());
            }
            Mutation::Truncate(p) => {
                let f = &mut frames[p % n];
                f.truncate((p / n) % f.len().max(1));
            }
            _ => {}
        }
    }
    frames
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_after_a_valid_hello(bytes in proptest::collection::vec(any::<u8>(), 0..3000),
                                        cuts in proptest::collection::vec(1usize..700, 1..8),
                                        ticks in proptest::collection::vec(0u64..2_000_000, 1..4)) {
        let mut input = hello();
        input.extend_from_slice(&bytes);
        drive(&cut(&input, &cuts), &ticks)?;
    }

    #[test]
    fn random_frames_after_a_valid_hello(frames in proptest::collection::vec((0u8..0x12, proptest::collection::vec(any::<u8>(), 0..200)), 0..30),
                                         cuts in proptest::collection::vec(1usize..300, 1..8)) {
        let mut input = hello();
        for (t, body) in frames {
            varint::push(&mut input, body.len() as u64 + 1);
            input.push(t);
            input.extend_from_slice(&body);
        }
        drive(&cut(&input, &cuts), &[1000])?;
    }

    #[test]
    fn mutated_transcripts_of_a_real_peer(mutations in proptest::collection::vec(mutation(), 0..6),
                                           ticks in proptest::collection::vec(0u64..100_000, 1..4)) {
        drive(&apply(&mutations), &ticks)?;
    }
}

#[test]
fn the_clean_transcript_syncs_everything() {
    // The replay without mutations is a complete, valid sync: the driver really goes deep.
    let verified = drive(transcript(), &[1000]).unwrap();
    assert!(verified >= 3, "{verified} batches");
}
