//! Malicious peers, part 1: forged heads, pages that do not match the head, wrong page
//! numbers and packing, bad proofs, duplicate and out-of-order messages, lying answers.
//!
//! A real session of the malicious peer produces correct frames, and a man in the middle
//! (`xaeroflux_tests::adversary`) alters them on the way. Every case must end with a precise
//! ERROR code sent by the victim, a closed session, and nothing of the bad data stored.

use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::message::{FeedList, Fork, Pages, RangeResponse, ty};
use xaeroflux_core::xsp::wire_page::CompactEncoder;
use xaeroflux_core::xsp::{Capabilities, Config, ErrorCode, Event, Limits, Message, ProofKind, RangeMode, varint};
use xaeroflux_core::{AuthorId, AuthorKey, EventRef, Hash, SignedHead};
use xaeroflux_tests::adversary::{Frame, Mitm, frame_of};

const SPACE: [u8; 32] = [3; 32];
const EVIL: u8 = 66;
const VICTIM: u8 = 77;

fn key(b: u8) -> AuthorKey {
    AuthorKey::from_secret_bytes(&[b; 32])
}

fn config() -> Config {
    Config::new(SPACE)
}

/// A victim window that forces several PAGES frames.
fn small_window() -> Config {
    let l = Limits { max_pages: 2, max_bytes: 64 * 1024, ..Limits::default() };
    config().with_limits(l).unwrap()
}

fn evil_store(n: u64, payload_len: usize) -> MemStore {
    let mut s = MemStore::new(key(EVIL), PageConfig::default());
    let payloads: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8 | 1; payload_len]).collect();
    s.append_batch(payloads.iter().enumerate().map(|(i, p)| NewEvent::new(1000 + i as u64, p))).unwrap();
    s
}

fn victim_store() -> MemStore {
    let mut s = MemStore::new(key(VICTIM), PageConfig::default());
    s.append(NewEvent::new(5, b"the victim's own event")).unwrap();
    s
}

fn mitm(n: u64, payload_len: usize, victim: Config) -> Mitm {
    Mitm::new(evil_store(n, payload_len), config(), victim_store(), victim)
}

/// What the victim holds: every feed's length, head and root.
fn snapshot(s: &MemStore) -> Vec<(AuthorId, u64, Option<SignedHead>, Option<Hash>)> {
    s.feeds().map(|f| (f.author, f.len, f.head, s.root(&f.author))).collect()
}

/// Checks the code and that the victim's store holds nothing but verified prefixes of the
/// malicious peer's true feed.
fn check(m: &mut Mitm, code: ErrorCode, truth: &MemStore) {
    m.assert_closed_with(code);
    let s = m.store.borrow();
    let evil = key(EVIL).author();
    let held = s.feed_len(&evil);
    assert!(s.range(&evil, 0..held).map(|e| e.encoded()).eq(truth.range(&evil, 0..held).map(|e| e.encoded())));
    assert!(m.max_buffered as u64 <= Limits::default().max_frame);
}

/// Applies `f` to the `nth` frame of type `ty` (0-based); passes the others.
fn on_nth(ty: u8, nth: usize, mut f: impl FnMut(&[u8]) -> Vec<Frame>) -> impl FnMut(&[u8]) -> Vec<Frame> {
    let mut seen = 0;
    move |frame: &[u8]| {
        if frame.first() == Some(&ty) {
            seen += 1;
            if seen == nth + 1 {
                return f(frame);
            }
        }
        vec![frame.to_vec()]
    }
}

fn pass(f: &[u8]) -> Vec<Frame> {
    vec![f.to_vec()]
}

/// Re-encodes a PAGES frame after `edit`.
fn edit_pages(frame: &[u8], edit: impl FnOnce(&mut Pages<'_>)) -> Frame {
    let Ok(Message::Pages(mut p)) = Message::decode(frame) else { panic!("not PAGES") };
    edit(&mut p);
    frame_of(&Message::Pages(p))
}

const HEADS: u8 = 0x02;
const PAGES: u8 = 0x04;

#[test]
fn an_untampered_run_syncs() {
    let mut m = mitm(50, 1000, small_window());
    m.run_clean();
    let evil = key(EVIL).author();
    assert_eq!(m.store.borrow().feed_len(&evil), 50);
    assert!(m.verified() > 1);
    assert!(m.closed().is_none());
}

#[test]
fn forged_head_signature() {
    let truth = evil_store(10, 100);
    let mut m = mitm(10, 100, config());
    let before = snapshot(&m.store.borrow());
    m.run(
        on_nth(HEADS, 0, |f| {
            let mut f = f.to_vec();
            *f.last_mut().unwrap() ^= 1; // the signature's last byte
            vec![f]
        }),
        pass,
    );
    check(&mut m, ErrorCode::BAD_SIGNATURE, &truth);
    assert_eq!(m.verified(), 0);
    assert_eq!(snapshot(&m.store.borrow()), before, "the victim's state is unchanged");
}

#[test]
fn a_head_for_another_length_than_signed() {
    let truth = evil_store(10, 100);
    let mut m = mitm(10, 100, config());
    m.run(
        on_nth(HEADS, 0, |f| {
            let mut f = f.to_vec();
            f[1 + 1 + 32] = 11; // count = 1, author, then the length varint: claim 11 events
            vec![f]
        }),
        pass,
    );
    check(&mut m, ErrorCode::BAD_SIGNATURE, &truth);
}

#[test]
fn pages_that_do_not_match_the_head() {
    let truth = evil_store(10, 100);
    let mut m = mitm(10, 100, config());
    let before = snapshot(&m.store.borrow());
    m.run(
        on_nth(PAGES, 0, |f| {
            let mut f = f.to_vec();
            *f.last_mut().unwrap() ^= 0x40; // the last payload byte
            vec![f]
        }),
        pass,
    );
    check(&mut m, ErrorCode::VERIFICATION, &truth);
    assert_eq!(m.verified(), 0, "no event of a batch that does not verify is reported");
    assert_eq!(snapshot(&m.store.borrow()), before);
}

#[test]
fn an_altered_timestamp_kind_or_event_count() {
    // The first page of the first frame: count (1 byte), then the first event: meta (2
    // bytes: a 100-byte payload, no kf), the timestamp delta (2 bytes), the payload.
    for (i, edit) in [0u8, 1, 2].into_iter().enumerate() {
        let truth = evil_store(10, 100);
        let mut m = mitm(10, 100, config());
        m.run(
            on_nth(PAGES, 0, |f| {
                vec![edit_pages(f, |p| {
                    let mut s = p.section.to_vec();
                    assert_eq!(&s[..3], &[10, 0xc8, 0x01]);
                    match edit {
                        0 => s[3] ^= 2, // another timestamp
                        1 => {
                            s[1] = 0xc9; // has_kf, and kf = kind 1
                            s.insert(3, 4);
                        }
                        _ => s[0] = 9, // one event fewer in the page: the rest is trailing bytes
                    }
                    p.section = Box::leak(s.into_boxed_slice());
                })]
            }),
            pass,
        );
        let code = if edit == 2 { ErrorCode::BAD_PAGE } else { ErrorCode::VERIFICATION };
        assert_eq!(m.closed().map(|c| c.code), Some(code), "edit {i}");
        check(&mut m, code, &truth);
        assert_eq!(m.verified(), 0);
    }
}

#[test]
fn a_batch_before_the_head_with_a_bad_missing_or_extra_proof() {
    // A bad proof hash.
    let truth = evil_store(200, 1000);
    let mut m = mitm(200, 1000, small_window());
    m.run(
        on_nth(PAGES, 0, |f| {
            vec![edit_pages(f, |p| {
                assert!(!p.proof.is_empty(), "the first batch ends before the head");
                let mut proof = p.proof.to_vec();
                *proof.last_mut().unwrap() ^= 1;
                p.proof = Box::leak(proof.into_boxed_slice());
            })]
        }),
        pass,
    );
    check(&mut m, ErrorCode::VERIFICATION, &truth);
    assert_eq!(m.verified(), 0);

    // No proof.
    let mut m = mitm(200, 1000, small_window());
    m.run(on_nth(PAGES, 0, |f| vec![edit_pages(f, |p| p.proof = &[])]), pass);
    check(&mut m, ErrorCode::BAD_PROOF, &truth);

    // A proof that does not decode.
    let mut m = mitm(200, 1000, small_window());
    m.run(on_nth(PAGES, 0, |f| vec![edit_pages(f, |p| p.proof = &[1, 2, 3])]), pass);
    check(&mut m, ErrorCode::BAD_PROOF, &truth);

    // A proof on the batch that reaches the head.
    let truth = evil_store(3, 10);
    let mut m = mitm(3, 10, config());
    let extra = truth.consistency_proof_at(&key(EVIL).author(), 1, 3).unwrap().encode();
    let extra: &'static [u8] = Box::leak(extra.into_boxed_slice());
    m.run(on_nth(PAGES, 0, |f| vec![edit_pages(f, |p| p.proof = extra)]), pass);
    check(&mut m, ErrorCode::BAD_PROOF, &truth);
}

#[test]
fn wrong_page_numbers_offsets_and_seqs() {
    let truth = evil_store(200, 1000);
    type Edit = fn(&mut Pages<'_>);
    let edits: [(usize, Edit); 6] = [
        (1, |p| p.first_page += 1),
        (1, |p| p.first_page -= 1),
        (1, |p| p.page_offset += 1),
        (1, |p| p.first_seq += 1),
        (0, |p| p.first_page = p.first_seq + 1), // more pages than events before it
        (0, |p| p.target += 1),
    ];
    for (i, (nth, edit)) in edits.into_iter().enumerate() {
        let mut m = mitm(200, 1000, small_window());
        m.run(on_nth(PAGES, nth, |f| vec![edit_pages(f, edit)]), pass);
        assert_eq!(m.closed().map(|c| c.code), Some(ErrorCode::BAD_PAGE), "edit {i}: {:?}", m.closed());
        check(&mut m, ErrorCode::BAD_PAGE, &truth);
        assert_eq!(m.verified(), nth, "edit {i}: only the untouched frames before it verified");
    }
}

/// A PAGES frame built from scratch: `pages` lists the events of each page.
fn pages_frame(target: u64, first_page: u64, offset: u64, pages: &[Vec<EventRef<'_>>], proof: &[u8]) -> Frame {
    let mut section = Vec::new();
    for page in pages {
        varint::push(&mut section, page.len() as u64);
        let mut enc = CompactEncoder::new();
        for ev in page {
            enc.encode(&mut section, *ev);
        }
    }
    let first_seq = pages[0][0].seq();
    frame_of(&Message::Pages(Pages {
        feed: 0,
        target,
        first_seq,
        first_page,
        page_offset: offset,
        proof,
        page_count: pages.len() as u64,
        section: &section,
    }))
}

#[test]
fn pages_against_the_packing_rule() {
    let truth = evil_store(40, 2000); // 7 events of 2056 bytes fill a 16 KiB page
    let a = key(EVIL).author();
    let evs: Vec<EventRef> = truth.iter_feed(&a).collect();
    // A page closed early: page 0 holds 3 events although the 4th fits.
    let early = vec![evs[..3].to_vec(), evs[3..10].to_vec()];
    // An overfull page: 9 events of 2056 bytes in one 16 KiB page.
    let overfull = vec![evs[..9].to_vec()];
    let proof = truth.consistency_proof_at(&a, 10, 40).unwrap().encode();
    let proof9 = truth.consistency_proof_at(&a, 9, 40).unwrap().encode();
    for (pages, proof) in [(early, &proof), (overfull, &proof9)] {
        let mut m = mitm(40, 2000, config());
        let frame = pages_frame(40, 0, 0, &pages, proof);
        let mut sent = false;
        m.run(
            on_nth(PAGES, 0, |_| {
                sent = true;
                vec![frame.clone()]
            }),
            pass,
        );
        assert!(sent);
        check(&mut m, ErrorCode::BAD_PAGE, &truth);
        assert_eq!(m.verified(), 0);
    }
}

#[test]
fn duplicate_and_out_of_order_messages() {
    let truth = evil_store(200, 1000);
    // A PAGES frame repeated.
    let mut m = mitm(200, 1000, small_window());
    m.run(on_nth(PAGES, 1, |f| vec![f.to_vec(), f.to_vec()]), pass);
    check(&mut m, ErrorCode::BAD_PAGE, &truth);
    // Two PAGES frames swapped.
    let mut m = Mitm::new(evil_store(200, 1000), config().with_target_frame(8 * 1024), victim_store(), config());
    let mut held: Option<Frame> = None;
    let mut n = 0;
    m.run(
        move |f| {
            if f[0] != PAGES {
                return vec![f.to_vec()];
            }
            n += 1;
            match n {
                1 => {
                    held = Some(f.to_vec());
                    vec![]
                }
                2 => vec![f.to_vec(), held.take().unwrap()],
                _ => vec![f.to_vec()],
            }
        },
        pass,
    );
    check(&mut m, ErrorCode::BAD_PAGE, &truth);
    assert_eq!(m.verified(), 0);
    // HELLO twice.
    let mut m = mitm(3, 10, config());
    m.run(on_nth(0x01, 0, |f| vec![f.to_vec(), f.to_vec()]), pass);
    check(&mut m, ErrorCode::UNEXPECTED, &truth);
    // A HEADS that goes back in length.
    let mut m = mitm(3, 10, config());
    let old = key(EVIL).sign_head(2, truth.peaks_at(&key(EVIL).author(), 2).unwrap().root());
    let mut entries = Vec::new();
    let n = xaeroflux_core::xsp::message::HeadList::encode_entries(&[old], &mut entries);
    let list = xaeroflux_core::xsp::message::HeadList::from_encoded(n, &entries).unwrap();
    let regress = frame_of(&Message::Heads(list));
    m.run(on_nth(HEADS, 0, |f| vec![f.to_vec(), regress.clone()]), pass);
    check(&mut m, ErrorCode::BAD_HEAD, &truth);
}

#[test]
fn messages_that_are_not_valid_now() {
    let truth = evil_store(3, 10);
    let cases: Vec<(Frame, ErrorCode)> = vec![
        // PAGES of a feed nobody wanted.
        (pages_frame(3, 0, 0, &[truth.iter_feed(&key(EVIL).author()).collect()], &[]), ErrorCode::UNEXPECTED),
        // SYNC_DONE naming HEADS frames the victim never sent.
        (frame_of(&Message::SyncDone { heads_seen: 9, heads_sent: 1 }), ErrorCode::UNEXPECTED),
        // Credit never owed.
        (frame_of(&Message::Credit { pages: 1, bytes: 1 }), ErrorCode::FLOW_CONTROL),
        // Answers to requests never made.
        (
            frame_of(&Message::RangeResponse(RangeResponse {
                id: 5,
                target: 3,
                start: 0,
                count: 0,
                proof: &[],
                events: &[],
            })),
            ErrorCode::UNEXPECTED,
        ),
        // A WANT beyond what the victim announced, and for a feed it never announced.
        (want(0, 5, false), ErrorCode::UNEXPECTED),
        (want(7, 0, false), ErrorCode::UNEXPECTED),
        // APP without MCP.
        (frame_of(&Message::App { channel: 0, data: b"{}" }), ErrorCode::CAPABILITY),
        // UNWANT_DONE of a feed the victim never took back, UNWANT of a feed it never
        // announced.
        (unwant(true, 0), ErrorCode::UNEXPECTED),
        (unwant(false, 7), ErrorCode::UNEXPECTED),
    ];
    for (i, (frame, code)) in cases.into_iter().enumerate() {
        let mut m = mitm(3, 10, config());
        run_with_after_heads(&mut m, frame);
        assert_eq!(m.closed().map(|c| c.code), Some(code), "case {i}: {:?}", m.closed());
        check(&mut m, code, &truth);
    }
}

/// Runs `m`, injecting `frame` right after the malicious side's first frames (HELLO, HEADS).
fn run_with_after_heads(m: &mut Mitm, frame: Frame) {
    let mut first = true;
    m.run(
        move |f| {
            if first && f[0] == HEADS {
                first = false;
                return vec![f.to_vec(), frame.clone()];
            }
            vec![f.to_vec()]
        },
        pass,
    );
}

fn unwant(done: bool, feed: u64) -> Frame {
    let mut b = Vec::new();
    let n = FeedList::encode_entries([feed], &mut b);
    let list = FeedList::from_encoded(n, &b).unwrap();
    frame_of(&if done { Message::UnwantDone(list) } else { Message::Unwant(list) })
}

/// UNWANT and UNWANT_DONE need the UNWANT capability on both sides: a victim that does not
/// offer it refuses them (`CAPABILITY`); one that does, asked for its feed and then told
/// not to, sends none of it, answers UNWANT_DONE and goes on.
#[test]
fn unwant_needs_the_capability_and_an_idle_one_is_answered() {
    let truth = evil_store(3, 10);
    let without = config().with_capabilities(Capabilities::SYNC.union(Capabilities::LIVE));
    for frame in [unwant(false, 0), unwant(true, 0)] {
        let mut m = mitm(3, 10, without.clone());
        run_with_after_heads(&mut m, frame);
        check(&mut m, ErrorCode::CAPABILITY, &truth);
    }
    let mut m = mitm(3, 10, config());
    let mut first = true;
    let answers = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = answers.clone();
    // Right after the malicious side's WANT of the victim's feed (index 0 of the victim's
    // table), before the victim sent any of it; the answer is kept from the malicious side,
    // whose session did not ask.
    m.run(
        move |f| {
            if first && f[0] == ty::WANT {
                first = false;
                return vec![f.to_vec(), unwant(false, 0)];
            }
            vec![f.to_vec()]
        },
        move |f| {
            if f[0] == ty::UNWANT_DONE {
                seen.set(seen.get() + 1);
                assert_eq!(f, &unwant(true, 0)[..], "the same feed, in the victim's table");
                return vec![];
            }
            assert_ne!(f[0], PAGES, "no page of a feed taken back");
            vec![f.to_vec()]
        },
    );
    assert_eq!(answers.get(), 1, "answered once");
    assert!(m.closed().is_none(), "{:?}", m.closed());
    assert_eq!(m.store.borrow().feed_len(&key(EVIL).author()), 3, "synced as usual");
}

fn want(feed: u64, have: u64, live: bool) -> Frame {
    let mut b = Vec::new();
    let e = [xaeroflux_core::xsp::message::WantEntry { feed, have, live }];
    let n = xaeroflux_core::xsp::message::WantList::encode_entries(&e, &mut b);
    frame_of(&Message::Want(xaeroflux_core::xsp::message::WantList::from_encoded(n, &b).unwrap()))
}

#[test]
fn a_want_repeated_while_active() {
    // The victim holds a feed the malicious peer asks for twice.
    let victim = evil_store(300, 1000);
    let mut m = Mitm::new(MemStore::new(key(9), PageConfig::default()), config(), victim, small_window());
    m.run(on_nth(0x03, 0, |f| vec![f.to_vec(), f.to_vec()]), pass);
    m.assert_closed_with(ErrorCode::UNEXPECTED);
}

#[test]
fn bad_fork_evidence() {
    let truth = evil_store(3, 10);
    let k = key(EVIL);
    let h = truth.local_head().unwrap();
    let other = key(1).sign_head(3, Hash([1; 32]));
    let mut forged = k.sign_head(3, Hash([2; 32]));
    forged.signature[5] ^= 1;
    let cases = [
        Fork { first: h, second: forged, proof: &[] }, // a forged signature
        Fork { first: h, second: h, proof: &[] },      // the same head
        Fork { first: h, second: other, proof: &[] },  // two authors
        Fork { first: h, second: k.sign_head(5, Hash([2; 32])), proof: &[] }, // lengths differ, no proof
        Fork { first: h, second: k.sign_head(3, Hash([2; 32])), proof: &[1, 2] }, // a proof that is not one
    ];
    for (i, f) in cases.into_iter().enumerate() {
        let mut m = mitm(3, 10, config());
        let frame = frame_of(&Message::Fork(f));
        m.run(on_nth(HEADS, 0, |x| vec![x.to_vec(), frame.clone()]), pass);
        assert_eq!(m.closed().map(|c| c.code), Some(ErrorCode::BAD_EVIDENCE), "case {i}");
        check(&mut m, ErrorCode::BAD_EVIDENCE, &truth);
        assert_eq!(m.store.borrow().forks().count(), 0);
    }
}

#[test]
fn lying_answers_to_range_and_proof_requests() {
    let truth = evil_store(30, 100);
    let a = key(EVIL).author();
    let ask = |m: &mut Mitm, range: bool| {
        // Let HELLO and HEADS through, then ask.
        m.run(|f| if f[0] == PAGES { vec![] } else { vec![f.to_vec()] }, pass);
        let id = if range {
            m.victim.request_range(&a, RangeMode::Range { start: 5, end: 9 })
        } else {
            m.victim.request_proof(&a, ProofKind::Inclusion, 7)
        };
        id.unwrap();
    };
    // A range whose events were altered.
    let mut m = mitm(30, 100, config());
    m.victim_store_exclude(a);
    ask(&mut m, true);
    m.run(
        on_nth(0x08, 0, |f| {
            let mut f = f.to_vec();
            let n = f.len();
            f[n - 1] ^= 1;
            vec![f]
        }),
        pass,
    );
    // The proof comes before the events: the last byte is a payload byte.
    check(&mut m, ErrorCode::VERIFICATION, &truth);
    assert!(!m.events.iter().any(|e| matches!(e, Event::Range(_))));
    // More events than asked.
    let mut m = mitm(30, 100, config());
    m.victim_store_exclude(a);
    ask(&mut m, true);
    m.run(
        on_nth(0x08, 0, |f| {
            let Ok(Message::RangeResponse(mut r)) = Message::decode(f) else { panic!() };
            r.count += 1;
            vec![frame_of(&Message::RangeResponse(r))]
        }),
        pass,
    );
    check(&mut m, ErrorCode::BAD_PAGE, &truth);
    // An inclusion proof for another leaf.
    let mut m = mitm(30, 100, config());
    m.victim_store_exclude(a);
    ask(&mut m, false);
    m.run(
        on_nth(0x0A, 0, |f| {
            let Ok(Message::ProofResponse(mut r)) = Message::decode(f) else { panic!() };
            r.leaf = Some(Hash([9; 32]));
            vec![frame_of(&Message::ProofResponse(r))]
        }),
        pass,
    );
    check(&mut m, ErrorCode::VERIFICATION, &truth);
    assert!(!m.events.iter().any(|e| matches!(e, Event::Proof(_))));
}

trait Exclude {
    fn victim_store_exclude(&mut self, a: AuthorId);
}

impl Exclude for Mitm {
    /// Makes the victim read the feed sparsely instead of syncing it.
    fn victim_store_exclude(&mut self, a: AuthorId) {
        self.store.borrow_mut().exclude(a);
    }
}
