//! The worked examples of docs/xsp.md, checked against the encoder byte for byte (and
//! decoded back), so the document cannot drift from the code.

use xaeroflux_core::xsp::message::{
    ErrorMsg, FeedList, Hello, Pages, ProofResponse, RangeRequest, WantEntry, WantList,
};
use xaeroflux_core::xsp::wire_page::CompactEncoder;
use xaeroflux_core::xsp::{Capabilities, Config, Limits, Message, ProofKind, ProofStatus, RangeMode, Role, varint};
use xaeroflux_core::{AuthorId, Event, EventFlags, Hash};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// One example line: the label, then the whole frame (length prefix included) in hex,
/// wrapped at 16 bytes per line.
fn line(label: &str, msg: &Message<'_>) -> String {
    let mut frame = Vec::new();
    msg.encode(&mut frame);
    assert_eq!(Message::decode(&frame).as_ref(), Ok(msg), "{label} decodes back");
    let mut wire = Vec::new();
    varint::push(&mut wire, frame.len() as u64);
    wire.extend_from_slice(&frame);
    let mut out = format!("{label}\n");
    for chunk in wire.chunks(16) {
        out.push_str("    ");
        out.push_str(&hex(chunk));
        out.push('\n');
    }
    out
}

#[test]
fn worked_examples_match_the_document() {
    let config = Config::new([0x11; 32]);
    let hello = Hello {
        min_version: 1,
        max_version: 1,
        role: Role::Initiator,
        capabilities: config.capabilities(),
        space: *config.space(),
        page_size: config.page_size(),
        limits: Limits::default(),
        idle_ms: 30_000,
        incarnation: None,
    };
    assert_eq!(hello.capabilities, Capabilities::SYNC.union(Capabilities::LIVE).union(Capabilities::UNWANT));
    let mut want = Vec::new();
    let n = WantList::encode_entries(&[WantEntry { feed: 0, have: 5, live: true }], &mut want);
    let want = WantList::from_encoded(n, &want).unwrap();
    // Two events of one page: seq 0 and 1 of some author, 1 ms apart, the second of kind 1.
    let author = AuthorId([0xaa; 32]);
    let e0 = Event::new(author, 0, 1_000_000, 0, EventFlags::NONE, b"hi");
    let e1 = Event::new(author, 1, 1_001_000, 1, EventFlags::NONE, b"yo");
    let mut section = vec![2u8];
    let mut enc = CompactEncoder::new();
    enc.encode(&mut section, e0.as_ref());
    enc.encode(&mut section, e1.as_ref());
    let pages = Pages {
        feed: 0,
        target: 2,
        first_seq: 0,
        first_page: 0,
        page_offset: 0,
        proof: &[],
        page_count: 1,
        section: &section,
    };
    let mut text = String::new();
    text += &line(
        "HELLO (initiator, SYNC + LIVE + UNWANT, space 11…11, 16 KiB pages, default limits, 30 s idle)",
        &Message::Hello(hello),
    );
    text += &line("WANT (feed 0, have 5, LIVE)", &Message::Want(want));
    text += &line(
        "PAGES (feed 0, target 2, from seq 0 of page 0: \"hi\" at 1 s, \"yo\" of kind 1 at 1.001 s)",
        &Message::Pages(pages),
    );
    let mut feeds = Vec::new();
    let n = FeedList::encode_entries([0, 300], &mut feeds);
    text += &line("UNWANT (feeds 0 and 300)", &Message::Unwant(FeedList::from_encoded(n, &feeds).unwrap()));
    text += &line("CREDIT (1 page, 116 bytes)", &Message::Credit { pages: 1, bytes: 116 });
    text += &line("SYNC_DONE (3 HEADS seen, 4 sent)", &Message::SyncDone { heads_seen: 3, heads_sent: 4 });
    text += &line(
        "RANGE_REQUEST (id 7, feed 2, the latest 10)",
        &Message::RangeRequest(RangeRequest { id: 7, feed: 2, mode: RangeMode::Latest(10) }),
    );
    text += &line(
        "PROOF_RESPONSE (id 7, inclusion, out of range, target 9)",
        &Message::ProofResponse(ProofResponse {
            id: 7,
            kind: ProofKind::Inclusion,
            status: ProofStatus::OutOfRange,
            target: 9,
            leaf: None,
            proof: &[],
        }),
    );
    text += &line(
        "ERROR (NONE, detail 0, \"synced\")",
        &Message::Error(ErrorMsg { code: 0, detail: 0, reason: b"synced" }),
    );
    let _ = Hash::ZERO;
    let doc = include_str!("../../docs/xsp.md");
    assert!(doc.contains(&text), "docs/xsp.md is out of date; its worked examples are:\n{text}");
}
