//! Codec tests: every message round-trips, and no byte string panics the decoders.

use alloc::vec::Vec;
use proptest::prelude::*;

use super::codec::DecodeError;
use super::config::{Capabilities, Limits, Role};
use super::message::*;
use crate::hash::Hash;
use crate::head::{AuthorId, SignedHead};

fn head(a: u8, length: u64) -> SignedHead {
    SignedHead { author: AuthorId([a; 32]), length, root: Hash([a ^ 0x55; 32]), signature: [a; 64] }
}

fn round_trip(msg: &Message<'_>) {
    let mut out = Vec::new();
    msg.encode(&mut out);
    let back = Message::decode(&out).unwrap();
    assert_eq!(&back, msg);
}

fn plain_hello() -> Hello {
    Hello {
        min_version: 1,
        max_version: 1,
        role: Role::Initiator,
        capabilities: Capabilities::SYNC,
        space: [3; 32],
        page_size: 16384,
        limits: Limits::default(),
        idle_ms: 0,
        incarnation: None,
    }
}

/// A HELLO's encoding followed by `ext` as its extension bytes.
fn hello_with_extensions(ext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Message::Hello(plain_hello()).encode(&mut out);
    out.extend_from_slice(ext);
    out
}

fn incarnation_of(frame: &[u8]) -> Option<u64> {
    match Message::decode(frame) {
        Ok(Message::Hello(h)) => h.incarnation,
        other => panic!("not a HELLO: {other:?}"),
    }
}

#[test]
fn hello_extensions_skip_unknown_entries_and_ignore_what_does_not_fit() {
    let n = 0x1122_3344_5566_7788u64.to_le_bytes();
    let entry = |ty: u8, v: &[u8]| [&[ty, v.len() as u8][..], v].concat();
    // The example of docs/xsp.md.
    let mut named = Vec::new();
    Message::Hello(Hello { incarnation: Some(0x0123_4567_89ab_cdef), ..plain_hello() }).encode(&mut named);
    assert!(named.ends_with(&[0x01, 0x08, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01]));
    assert_eq!(named.len(), hello_with_extensions(&[]).len() + 10);
    // None, then the incarnation alone, then after an unknown entry (type 0x40, 3 bytes).
    assert_eq!(incarnation_of(&hello_with_extensions(&[])), None);
    assert_eq!(incarnation_of(&hello_with_extensions(&entry(1, &n))), Some(0x1122_3344_5566_7788));
    let after_unknown = [entry(0x40, b"abc"), entry(1, &n)].concat();
    assert_eq!(incarnation_of(&hello_with_extensions(&after_unknown)), Some(0x1122_3344_5566_7788));
    // An incarnation of the wrong size is not one; a cut entry ends the list.
    assert_eq!(incarnation_of(&hello_with_extensions(&entry(1, &n[..7]))), None);
    assert_eq!(incarnation_of(&hello_with_extensions(&entry(1, &n)[..9])), None);
    let cut_after = [entry(1, &n), alloc::vec![0x40, 9, 1]].concat();
    assert_eq!(incarnation_of(&hello_with_extensions(&cut_after)), Some(0x1122_3344_5566_7788));
    // A length that overflows or a bad varint is cut too.
    let huge = [alloc::vec![0x40], alloc::vec![0xff; 9], alloc::vec![0x01]].concat();
    assert_eq!(incarnation_of(&hello_with_extensions(&huge)), None);
}

#[test]
fn every_message_round_trips() {
    let hello = Hello {
        min_version: 1,
        max_version: 3,
        role: Role::Responder,
        capabilities: Capabilities::SYNC.union(Capabilities::MCP),
        space: [9; 32],
        page_size: 4096,
        limits: Limits::default(),
        idle_ms: 1234,
        incarnation: Some(0x0123_4567_89ab_cdef),
    };
    round_trip(&Message::Hello(hello));
    let mut hb = Vec::new();
    let n = HeadList::encode_entries(&[head(1, 0), head(2, 1 << 40)], &mut hb);
    let heads = HeadList::from_encoded(n, &hb).unwrap();
    assert_eq!(heads.iter().collect::<Vec<_>>(), [head(1, 0), head(2, 1 << 40)]);
    round_trip(&Message::Heads(heads));
    let mut wb = Vec::new();
    let wants = [WantEntry { feed: 3, have: 7, live: true }, WantEntry { feed: 300, have: 0, live: false }];
    let n = WantList::encode_entries(&wants, &mut wb);
    let list = WantList::from_encoded(n, &wb).unwrap();
    assert_eq!(list.iter().collect::<Vec<_>>(), wants);
    round_trip(&Message::Want(list));
    round_trip(&Message::Pages(Pages {
        feed: 1,
        target: 100,
        first_seq: 10,
        first_page: 2,
        page_offset: 3,
        proof: b"proof",
        page_count: 2,
        section: b"anything",
    }));
    round_trip(&Message::Credit { pages: 5, bytes: 1 << 20 });
    round_trip(&Message::SyncDone { heads_seen: 3, heads_sent: 4 });
    round_trip(&Message::RangeRequest(RangeRequest { id: 1, feed: 2, mode: RangeMode::Range { start: 3, end: 9 } }));
    round_trip(&Message::RangeRequest(RangeRequest { id: 1, feed: 2, mode: RangeMode::Latest(20) }));
    round_trip(&Message::RangeResponse(RangeResponse {
        id: 1,
        target: 50,
        start: 3,
        count: 2,
        proof: b"p",
        events: b"ev",
    }));
    round_trip(&Message::ProofRequest(ProofRequest { id: 4, feed: 0, kind: ProofKind::Consistency, a: 8 }));
    for (kind, status, leaf) in [
        (ProofKind::Inclusion, ProofStatus::Ok, Some(Hash([3; 32]))),
        (ProofKind::Consistency, ProofStatus::Ok, None),
        (ProofKind::Inclusion, ProofStatus::OutOfRange, None),
        (ProofKind::Consistency, ProofStatus::Unavailable, None),
    ] {
        let proof: &[u8] = if status == ProofStatus::Ok { b"xyz" } else { b"" };
        round_trip(&Message::ProofResponse(ProofResponse { id: 4, kind, status, target: 9, leaf, proof }));
    }
    round_trip(&Message::Fork(Fork { first: head(4, 2), second: head(4, 3), proof: b"cp" }));
    round_trip(&Message::Ping);
    round_trip(&Message::Pong);
    round_trip(&Message::App { channel: 0, data: b"{\"jsonrpc\":\"2.0\"}" });
    round_trip(&Message::Error(ErrorMsg { code: 11, detail: 5, reason: b"bad" }));
    round_trip(&Message::Extension(0x90));
    let mut fb = Vec::new();
    let n = FeedList::encode_entries([0, 5, 300, u64::MAX], &mut fb);
    let list = FeedList::from_encoded(n, &fb).unwrap();
    assert_eq!(list.iter().collect::<Vec<_>>(), [0, 5, 300, u64::MAX]);
    round_trip(&Message::Unwant(list));
    round_trip(&Message::UnwantDone(list));
}

#[test]
fn precise_decode_errors() {
    assert_eq!(Message::decode(&[0x40]), Err(DecodeError::UnknownType(0x40)));
    assert_eq!(Message::decode(&[ty::HELLO, b'X', b'S', b'Q']), Err(DecodeError::BadMagic));
    assert_eq!(Message::decode(&[ty::PING, 0]), Err(DecodeError::TrailingBytes { count: 1 }));
    assert_eq!(Message::decode(&[ty::CREDIT, 1]), Err(DecodeError::Truncated { field: "credit.bytes" }));
    assert_eq!(Message::decode(&[ty::HEADS, 0]), Err(DecodeError::OutOfRange { field: "heads.count", value: 0 }));
    assert_eq!(
        Message::decode(&[ty::WANT, 1, 0, 0, 2]),
        Err(DecodeError::OutOfRange { field: "want.flags", value: 2 })
    );
    assert_eq!(Message::decode(&[ty::UNWANT, 0]), Err(DecodeError::OutOfRange { field: "unwant.count", value: 0 }));
    assert_eq!(
        Message::decode(&[ty::UNWANT_DONE, 3, 1, 2]),
        Err(DecodeError::OutOfRange { field: "unwant.count", value: 3 })
    );
    assert_eq!(Message::decode(&[ty::UNWANT, 1, 0x80]), Err(DecodeError::Truncated { field: "unwant.feed" }));
    assert_eq!(Message::decode(&[ty::UNWANT, 1, 1, 2]), Err(DecodeError::TrailingBytes { count: 1 }));
    assert_eq!(
        Message::decode(&[ty::SYNC_DONE, 0x80, 0x00, 0]),
        Err(DecodeError::Varint { field: "sync_done.heads_seen", error: super::varint::VarintError::Overlong })
    );
}

proptest! {
    #[test]
    fn no_byte_string_panics_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(m) = Message::decode(&bytes) {
            // Whatever decodes re-encodes to a message that decodes the same.
            let mut out = Vec::new();
            m.encode(&mut out);
            prop_assert_eq!(Message::decode(&out).unwrap(), m);
        }
    }

    #[test]
    fn typed_prefixes_never_panic(t in 0u8..0x14, bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut frame = alloc::vec![t];
        frame.extend_from_slice(&bytes);
        let _ = Message::decode(&frame);
    }

    #[test]
    fn heads_round_trip(entries in proptest::collection::vec((any::<u8>(), any::<u64>()), 1..20)) {
        let hs: Vec<SignedHead> = entries.iter().map(|(a, l)| head(*a, *l)).collect();
        let mut b = Vec::new();
        let n = HeadList::encode_entries(&hs, &mut b);
        let mut out = Vec::new();
        Message::Heads(HeadList::from_encoded(n, &b).unwrap()).encode(&mut out);
        match Message::decode(&out).unwrap() {
            Message::Heads(l) => prop_assert_eq!(l.iter().collect::<Vec<_>>(), hs),
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn any_extension_bytes_leave_the_hello_valid(ext in proptest::collection::vec(any::<u8>(), 0..64)) {
        match Message::decode(&hello_with_extensions(&ext)) {
            Ok(Message::Hello(h)) => prop_assert_eq!(Hello { incarnation: None, ..h }, plain_hello()),
            other => prop_assert!(false, "{other:?}"),
        }
    }
}

#[test]
fn fork_evidence_from_a_consistency_answer() {
    use super::ForkEvidence;
    use crate::head::AuthorKey;
    use crate::mmr::Mmr;
    let key = AuthorKey::from_secret_bytes(&[8; 32]);
    let leaves = |n: u8, fork: u8| -> Mmr {
        let mut m = Mmr::new();
        for i in 0..n {
            m.append(Hash([if i == 3 { fork } else { i }; 32]));
        }
        m
    };
    let (ours, theirs) = (leaves(10, 3), leaves(20, 99));
    let older = key.sign_head(10, ours.root());
    // A longer history that differs at leaf 3: its proof from 10 implies another root.
    let evidence =
        ForkEvidence::from_consistency(older, key.sign_head(20, theirs.root()), theirs.consistency_proof(10).unwrap())
            .expect("two histories");
    assert!(evidence.proof.is_some() && evidence.verify().is_ok());
    // One length, two roots: no proof needed.
    let same_len = leaves(10, 99);
    let evidence = ForkEvidence::from_consistency(
        older,
        key.sign_head(10, same_len.root()),
        same_len.consistency_proof(10).unwrap(),
    );
    assert!(evidence.is_some_and(|e| e.proof.is_none()));
    // A history that extends the older head: no fork.
    let extends = leaves(20, 3);
    let none = ForkEvidence::from_consistency(
        older,
        key.sign_head(20, extends.root()),
        extends.consistency_proof(10).unwrap(),
    );
    assert!(none.is_none());
}
