//! Pages: round trip, determinism, every packing boundary, precise decode errors, and
//! property tests against a naive model of the packing rule, of the page bytes and of
//! the page tree (recursive definition).

use proptest::prelude::*;
use xaeroflux_core::hash::{Hash, leaf_hash, page_checksum_v1, page_node, page_root};
use xaeroflux_core::page::{
    PageBuilder, PageConfig, PageConfigError, PageDecodeError, PageHeader, PageProof, PageProofDecodeError,
    PageProofError, PagePushError, PageRef, PageWriteError, pack, page_proof, page_tree_root, span_for,
};
use xaeroflux_core::{AuthorId, Event, EventFlags, event::EventDecodeError, event::HEADER_LEN};

const AUTHOR: AuthorId = AuthorId([0x5a; 32]);

fn cfg(size: u32) -> PageConfig {
    PageConfig::new(size).unwrap()
}

/// An event of `author` with `seq` whose encoding is exactly `encoded_len` bytes.
fn ev_of_len(author: AuthorId, seq: u64, encoded_len: usize) -> Event {
    assert!(encoded_len >= HEADER_LEN);
    let payload: Vec<u8> = (0..encoded_len - HEADER_LEN).map(|i| (i as u64 ^ seq.wrapping_mul(31)) as u8).collect();
    Event::new(author, seq, seq.wrapping_add(1_000), 3, EventFlags::NONE, &payload)
}

fn feed(lens: &[usize]) -> Vec<Event> {
    lens.iter().enumerate().map(|(i, &l)| ev_of_len(AUTHOR, i as u64, l)).collect()
}

fn pack_events(config: &PageConfig, events: &[Event]) -> Vec<Vec<u8>> {
    pack(config, events.iter().map(|e| e.as_ref())).unwrap()
}

// ---------------------------------------------------------------------------------
// The naive model: the packing rule as a list of (first index, count), and the page
// bytes written field by field, independently of the crate's header type.

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct ModelPage {
    start: usize,
    count: usize,
    span: usize,
    overflow: bool,
}

fn model_pack(lens: &[usize], page_size: usize) -> Vec<ModelPage> {
    let mut pages = Vec::new();
    let mut cur: Option<(usize, usize, usize)> = None; // start, count, used
    for (i, &len) in lens.iter().enumerate() {
        if 64 + len > page_size {
            if let Some((s, c, _)) = cur.take() {
                pages.push(ModelPage { start: s, count: c, span: 1, overflow: false });
            }
            let span = (64 + len).div_ceil(page_size);
            pages.push(ModelPage { start: i, count: 1, span, overflow: true });
            continue;
        }
        cur = match cur {
            Some((s, c, used)) if 64 + used + len <= page_size => Some((s, c + 1, used + len)),
            Some((s, c, _)) => {
                pages.push(ModelPage { start: s, count: c, span: 1, overflow: false });
                Some((i, 1, len))
            }
            None => Some((i, 1, len)),
        };
    }
    if let Some((s, c, _)) = cur {
        pages.push(ModelPage { start: s, count: c, span: 1, overflow: false });
    }
    pages
}

fn model_bytes(events: &[Event], p: ModelPage, page_size: usize) -> Vec<u8> {
    let body: Vec<u8> = events[p.start..p.start + p.count].iter().flat_map(|e| e.encoded().to_vec()).collect();
    let mut h = Vec::new();
    h.extend_from_slice(b"XFPG");
    h.push(2);
    h.push(u8::from(p.overflow));
    h.extend_from_slice(&(p.span as u16).to_le_bytes());
    h.extend_from_slice(&(p.count as u32).to_le_bytes());
    h.extend_from_slice(&(body.len() as u32).to_le_bytes());
    h.extend_from_slice(&events[p.start].seq().to_le_bytes());
    h.extend_from_slice(&events[p.start].author().0);
    h.extend_from_slice(&[0; 8]);
    assert_eq!(h.len(), 64);
    // Version 2: XXH3 over the events, then the header with a zero checksum.
    let mut summed = body.clone();
    summed.extend_from_slice(&h);
    let sum = xxhash_rust::xxh3::xxh3_64_with_seed(&summed, xaeroflux_core::hash::PAGE_CHECKSUM_SEED);
    h[56..].copy_from_slice(&sum.to_le_bytes());
    h.extend_from_slice(&body);
    h.resize(p.span * page_size, 0);
    h
}

/// The page tree by its recursive definition.
fn model_top(d: &[Hash]) -> Hash {
    match d.len() {
        0 => Hash::ZERO,
        1 => d[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            page_node(&model_top(&d[..k]), &model_top(&d[k..]))
        }
    }
}

fn model_root(d: &[Hash]) -> Hash {
    page_root(d.len() as u32, &model_top(d))
}

/// Recomputes the checksum of a (tampered) page, by its version byte, so that checks past it
/// are reached.
fn reseal(page: &mut [u8]) {
    let head = *PageHeader::from_bytes(page[..64].try_into().unwrap());
    let end = (64 + head.used() as usize).min(page.len());
    let sum = head.compute_checksum(&page[64..end]);
    page[56..64].copy_from_slice(&sum.to_le_bytes());
}

/// Every check a parsed page must pass, against the events it should hold.
fn check_page(page: &[u8], config: &PageConfig, events: &[Event], p: ModelPage) {
    let r = PageRef::parse(page, config).unwrap();
    assert_eq!(r.count() as usize, p.count);
    assert_eq!(r.first_seq(), events[p.start].seq());
    assert_eq!(r.author(), AUTHOR);
    assert_eq!(r.is_overflow(), p.overflow);
    assert_eq!(usize::from(r.span()), p.span);
    let expect = &events[p.start..p.start + p.count];
    assert_eq!(r.events().len(), expect.len());
    for (got, want) in r.events().zip(expect) {
        assert_eq!(got.encoded(), want.encoded());
        // Zero copy: the event is a view into the page bytes.
        let range = page.as_ptr_range();
        assert!(range.contains(&got.encoded().as_ptr()));
    }
    let leaves: Vec<Hash> = expect.iter().map(|e| e.leaf_hash()).collect();
    assert_eq!(r.leaf_hashes(), leaves);
    assert_eq!(r.root(), model_root(&leaves));
    assert_eq!(page_tree_root(&leaves), model_root(&leaves));
}

// ---------------------------------------------------------------------------------
// Configuration.

#[test]
fn page_sizes() {
    assert_eq!(PageConfig::default().page_size(), 16 * 1024);
    for shift in 10..=20 {
        assert_eq!(cfg(1 << shift).page_size(), 1 << shift);
    }
    assert_eq!(PageConfig::new(512), Err(PageConfigError::OutOfRange(512)));
    assert_eq!(PageConfig::new(2 << 20), Err(PageConfigError::OutOfRange(2 << 20)));
    assert_eq!(PageConfig::new(1023), Err(PageConfigError::NotPowerOfTwo(1023)));
    assert_eq!(PageConfig::new(0), Err(PageConfigError::NotPowerOfTwo(0)));
    assert_eq!(PageConfig::new(3 << 10), Err(PageConfigError::NotPowerOfTwo(3 << 10)));
}

// ---------------------------------------------------------------------------------
// Boundaries of the packing rule (page size 1024: 960 bytes of events per page).

fn shape(lens: &[usize]) -> Vec<(usize, usize, usize, bool)> {
    let c = cfg(1024);
    let events = feed(lens);
    let pages = pack_events(&c, &events);
    let model = model_pack(lens, 1024);
    assert_eq!(pages.len(), model.len());
    for (page, p) in pages.iter().zip(&model) {
        assert_eq!(page, &model_bytes(&events, *p, 1024));
        check_page(page, &c, &events, *p);
    }
    model.iter().map(|p| (p.start, p.count, p.span, p.overflow)).collect()
}

#[test]
fn empty_feed_gives_no_pages() {
    assert!(pack(&cfg(1024), std::iter::empty()).unwrap().is_empty());
    assert!(shape(&[]).is_empty());
}

#[test]
fn one_byte_short_of_full() {
    // 959 bytes of events: one byte short; the next event (even the smallest) goes on.
    assert_eq!(shape(&[500, 459]), [(0, 2, 1, false)]);
    assert_eq!(shape(&[500, 459, HEADER_LEN]), [(0, 2, 1, false), (2, 1, 1, false)]);
    assert_eq!(shape(&[959]), [(0, 1, 1, false)]);
}

#[test]
fn exactly_full() {
    assert_eq!(shape(&[480, 480]), [(0, 2, 1, false)]);
    assert_eq!(shape(&[480, 480, 56]), [(0, 2, 1, false), (2, 1, 1, false)]);
    // One event filling a page exactly is a normal page of one unit, not an overflow page.
    assert_eq!(shape(&[960]), [(0, 1, 1, false)]);
    assert_eq!(span_for(&cfg(1024), 960), 1);
}

#[test]
fn one_byte_over_goes_to_the_next_page() {
    assert_eq!(shape(&[480, 481]), [(0, 1, 1, false), (1, 1, 1, false)]);
    assert_eq!(shape(&[100, 100, 761]), [(0, 2, 1, false), (2, 1, 1, false)]);
}

#[test]
fn oversized_events() {
    // One byte over a page unit: an overflow page of two units.
    assert_eq!(shape(&[961]), [(0, 1, 2, true)]);
    // Exactly two and three units, and one byte over three.
    assert_eq!(shape(&[2048 - 64]), [(0, 1, 2, true)]);
    assert_eq!(shape(&[3072 - 64]), [(0, 1, 3, true)]);
    assert_eq!(shape(&[3072 - 63]), [(0, 1, 4, true)]);
    assert_eq!(span_for(&cfg(1024), 3072 - 64), 3);
    assert_eq!(span_for(&cfg(1024), 3072 - 63), 4);
    // Several in a row: each its own page (64 + 5000 = 5064 bytes: 5 units).
    assert_eq!(shape(&[961, 5000]), [(0, 1, 2, true), (1, 1, 5, true)]);
    // The largest event there can be.
    let huge = HEADER_LEN + xaeroflux_core::event::MAX_PAYLOAD_LEN as usize;
    assert_eq!(span_for(&cfg(1024), huge), ((huge + 64) as u64).div_ceil(1024) as u16);
}

#[test]
fn mixed_sizes() {
    assert_eq!(
        shape(&[100, 200, 961, 56, 900, 4000, 60, 60, 904, 57]),
        [
            (0, 2, 1, false),
            (2, 1, 2, true),
            (3, 2, 1, false),
            (5, 1, 4, true),
            (6, 2, 1, false),
            (8, 1, 1, false),
            (9, 1, 1, false)
        ]
    );
}

#[test]
fn tail_page_may_be_partial_and_empty_builder_writes_an_empty_page() {
    let c = cfg(1024);
    let b = PageBuilder::new(c, AUTHOR, 7);
    let page = b.finish();
    assert_eq!(page.len(), 1024);
    let r = PageRef::parse(&page, &c).unwrap();
    assert_eq!((r.count(), r.first_seq(), r.events().count()), (0, 7, 0));
    assert_eq!(r.root(), page_root(0, &Hash::ZERO));
    assert_eq!(b.root(), r.root());
}

// ---------------------------------------------------------------------------------
// Determinism and the builder.

fn pack_by_hand(config: &PageConfig, events: &[Event]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Some(first) = events.first() else { return out };
    let mut b = PageBuilder::new(*config, first.author(), first.seq());
    for e in events {
        if !b.fits(e.encoded().len()) {
            let mut buf = vec![0xffu8; b.page_len()];
            b.write_to(&mut buf).unwrap();
            assert_eq!(buf, b.finish());
            out.push(buf);
            let next = b.next_seq();
            b.reset(next);
        }
        b.push(e.as_ref()).unwrap();
    }
    out.push(b.finish());
    out
}

#[test]
fn builder_errors() {
    let c = cfg(1024);
    let mut b = PageBuilder::new(c, AUTHOR, 5);
    let other = AuthorId([1; 32]);
    let e = ev_of_len(other, 5, 100);
    assert_eq!(b.push(e.as_ref()), Err(PagePushError::AuthorMismatch { expected: AUTHOR, found: other }));
    assert_eq!(b.push(ev_of_len(AUTHOR, 6, 100).as_ref()), Err(PagePushError::SeqMismatch { expected: 5, found: 6 }));
    b.push(ev_of_len(AUTHOR, 5, 900).as_ref()).unwrap();
    assert!(!b.fits(61));
    assert!(b.fits(60));
    assert_eq!(
        b.push(ev_of_len(AUTHOR, 6, 61).as_ref()),
        Err(PagePushError::DoesNotFit { encoded_len: 61, used: 900 })
    );
    assert_eq!((b.count(), b.next_seq(), b.used(), b.is_empty()), (1, 6, 900, false));
    let mut small = vec![0u8; 1023];
    assert_eq!(b.write_to(&mut small), Err(PageWriteError::BufferLength { expected: 1024, actual: 1023 }));

    // An overflow page accepts nothing more.
    let mut b = PageBuilder::new(c, AUTHOR, 0);
    b.push(ev_of_len(AUTHOR, 0, 2000).as_ref()).unwrap();
    assert!(b.is_overflow());
    assert!(!b.fits(HEADER_LEN));
    assert_eq!(b.span(), 3);

    // seq u64::MAX can never be in a page: first_seq + count must be a u64.
    let mut b = PageBuilder::new(c, AUTHOR, u64::MAX);
    assert_eq!(b.push(ev_of_len(AUTHOR, u64::MAX, 60).as_ref()), Err(PagePushError::SeqOverflow));
    let mut b = PageBuilder::new(c, AUTHOR, u64::MAX - 1);
    b.push(ev_of_len(AUTHOR, u64::MAX - 1, 60).as_ref()).unwrap();
    assert_eq!(PageRef::parse(&b.finish(), &c).unwrap().end_seq(), u64::MAX);

    // pack refuses a gap or a second author.
    let mut events = feed(&[60, 60, 60]);
    events[2] = ev_of_len(AUTHOR, 3, 60);
    assert_eq!(pack(&c, events.iter().map(|e| e.as_ref())), Err(PagePushError::SeqMismatch { expected: 2, found: 3 }));
    events[2] = ev_of_len(other, 2, 60);
    assert!(matches!(pack(&c, events.iter().map(|e| e.as_ref())), Err(PagePushError::AuthorMismatch { .. })));
}

// ---------------------------------------------------------------------------------
// Precise decode errors.

fn sample_pages() -> (PageConfig, Vec<u8>, Vec<u8>) {
    let c = cfg(1024);
    let events = feed(&[100, 200, 300, 1500]);
    let pages = pack_events(&c, &events);
    assert_eq!(pages.len(), 2);
    (c, pages[0].clone(), pages[1].clone())
}

fn set_u32(page: &mut [u8], off: usize, v: u32) {
    page[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// A version-1 page (keyed blake3 checksum, header first) of the same events is read as
/// before, and its checksum is checked by its own rule; rebuilt, it becomes a version-2 page
/// that differs in the version byte and the checksum only.
#[test]
fn version_1_pages_are_still_read() {
    let (c, normal, over) = sample_pages();
    for v2 in [normal, over] {
        let mut v1 = v2.clone();
        v1[4] = 1;
        reseal(&mut v1);
        let used = u32::from_le_bytes(v1[12..16].try_into().unwrap()) as usize;
        let mut head = v1[..64].to_vec();
        head[56..64].fill(0);
        assert_eq!(v1[56..64], page_checksum_v1(&head, &v1[64..64 + used]).to_le_bytes());
        let p1 = PageRef::parse(&v1, &c).unwrap();
        let p2 = PageRef::parse(&v2, &c).unwrap();
        assert_eq!(p1.header().version(), 1);
        assert_eq!(p1.root(), p2.root());
        assert!(p1.events().map(|e| e.encoded()).eq(p2.events().map(|e| e.encoded())));
        let mut b = PageBuilder::new(c, p1.author(), p1.first_seq());
        for ev in p1.events() {
            b.push(ev).unwrap();
        }
        assert_eq!(b.finish(), v2, "rebuilt as version 2");
        // The version-2 checksum on a version-1 page (or the other way round) is refused.
        let mut wrong = v2.clone();
        wrong[4] = 1;
        assert!(matches!(PageRef::parse(&wrong, &c), Err(PageDecodeError::ChecksumMismatch { .. })));
    }
}

#[test]
fn decode_errors_are_precise() {
    use PageDecodeError as E;
    let (c, normal, over) = sample_pages();
    let parse = |b: &[u8]| PageRef::parse(b, &c).map(|_| ());
    let edit = |base: &[u8], f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = base.to_vec();
        f(&mut b);
        reseal(&mut b);
        PageRef::parse(&b, &c).map(|_| ())
    };
    assert_eq!(parse(&normal[..63]), Err(E::TooShort(63)));
    assert_eq!(edit(&normal, &|b| b[0] = b'Y'), Err(E::BadMagic(*b"YFPG")));
    assert_eq!(edit(&normal, &|b| b[4] = 3), Err(E::BadVersion(3)));
    assert_eq!(edit(&normal, &|b| b[4] = 0), Err(E::BadVersion(0)));
    assert_eq!(edit(&normal, &|b| b[5] = 0x82), Err(E::ReservedFlags(0x82)));
    assert_eq!(edit(&over, &|b| set_u32(b, 8, 2)), Err(E::OverflowCount(2)));
    // OVERFLOW on a page whose single event fits a normal page.
    let single = pack_events(&c, &feed(&[300]))[0].clone();
    assert_eq!(edit(&single, &|b| b[5] = 1), Err(E::NeedlessOverflow { used: 300 }));
    // An oversized event without the OVERFLOW flag.
    assert_eq!(edit(&over, &|b| b[5] = 0), Err(E::MissingOverflow { used: 1500 }));
    assert_eq!(edit(&normal, &|b| b[6] = 2), Err(E::SpanMismatch { span: 2, expected: 1 }));
    assert_eq!(edit(&normal, &|b| b[6] = 0), Err(E::SpanMismatch { span: 0, expected: 1 }));
    assert_eq!(edit(&over, &|b| b[6] = 3), Err(E::SpanMismatch { span: 3, expected: 2 }));
    assert_eq!(edit(&normal, &|b| set_u32(b, 12, 961)), Err(E::UsedOutOfRange { used: 961, capacity: 960 }));
    assert_eq!(parse(&normal[..1023]), Err(E::WrongLength { expected: 1024, actual: 1023 }));
    assert_eq!(parse(&over[..1024]), Err(E::WrongLength { expected: 2048, actual: 1024 }));
    let mut longer = normal.clone();
    longer.push(0);
    assert_eq!(parse(&longer), Err(E::WrongLength { expected: 1024, actual: 1025 }));
    assert_eq!(edit(&normal, &|b| set_u32(b, 8, 0)), Err(E::CountUsedMismatch { count: 0, used: 600 }));
    assert_eq!(edit(&normal, &|b| set_u32(b, 8, 11)), Err(E::CountUsedMismatch { count: 11, used: 600 }));
    assert_eq!(
        edit(&normal, &|b| b[16..24].copy_from_slice(&(u64::MAX - 1).to_le_bytes())),
        Err(E::SeqOverflow { first_seq: u64::MAX - 1, count: 3 })
    );
    let mut bad_sum = normal.clone();
    bad_sum[56] ^= 1;
    assert!(matches!(parse(&bad_sum), Err(E::ChecksumMismatch { .. })));
    let mut bad_body = normal.clone();
    bad_body[100] ^= 1;
    assert!(matches!(parse(&bad_body), Err(E::ChecksumMismatch { .. })));
    // Event 1 starts at 64 + 100: give it version 9.
    assert_eq!(edit(&normal, &|b| b[164] = 9), Err(E::Event { index: 1, error: EventDecodeError::BadVersion(9) }));
    // Event 2 (at 64 + 300, payload 244 bytes) claims a 255-byte payload.
    assert_eq!(
        edit(&normal, &|b| b[364 + 4] = 0xff),
        Err(E::Event { index: 2, error: EventDecodeError::Truncated { needed: 56 + 255, available: 300 } })
    );
    assert_eq!(edit(&normal, &|b| set_u32(b, 8, 2)), Err(E::TrailingBytes { consumed: 300, used: 600 }));
    assert_eq!(edit(&normal, &|b| b[24] ^= 1), Err(E::AuthorMismatch { index: 0, found: AUTHOR }));
    assert_eq!(edit(&normal, &|b| b[16] = 1), Err(E::SeqMismatch { index: 0, expected: 1, found: 0 }));
    assert_eq!(edit(&normal, &|b| b[1000] = 7), Err(E::NonZeroPadding { offset: 1000 }));
    assert_eq!(edit(&over, &|b| b[2047] = 7), Err(E::NonZeroPadding { offset: 2047 }));
    // Every error has a message.
    for e in [E::TooShort(1), E::NonZeroPadding { offset: 3 }, E::OverflowCount(2)] {
        assert!(!e.to_string().is_empty());
    }
}

/// `parse_checksum_verified` skips the checksum and nothing else: a page whose checksum
/// alone is wrong parses (and gives the same view), every other defect is still an error.
#[test]
fn checksum_verified_parse_skips_only_the_checksum() {
    use PageDecodeError as E;
    let (c, normal, over) = sample_pages();
    for page in [&normal, &over] {
        let checked = PageRef::parse(page, &c).unwrap();
        let mut bad_sum = page.clone();
        bad_sum[56] ^= 1;
        assert!(matches!(PageRef::parse(&bad_sum, &c), Err(E::ChecksumMismatch { .. })));
        let skipped = PageRef::parse_checksum_verified(&bad_sum, &c).unwrap();
        assert_eq!(skipped.events().collect::<Vec<_>>(), checked.events().collect::<Vec<_>>());
    }
    let unchecked = |b: &[u8]| PageRef::parse_checksum_verified(b, &c).map(|_| ());
    let mut t = normal.clone();
    t[0] = b'Y';
    assert_eq!(unchecked(&t), Err(E::BadMagic(*b"YFPG")));
    let mut t = normal.clone();
    t[164] = 9;
    assert_eq!(unchecked(&t), Err(E::Event { index: 1, error: EventDecodeError::BadVersion(9) }));
    let mut t = normal.clone();
    t[1000] = 7;
    assert_eq!(unchecked(&t), Err(E::NonZeroPadding { offset: 1000 }));
}

/// Tampering with any byte of a page (header, events, checksum or padding) makes
/// parsing fail.
#[test]
fn tampering_any_byte_fails() {
    let (c, normal, over) = sample_pages();
    for page in [&normal, &over] {
        PageRef::parse(page, &c).unwrap();
        for i in 0..page.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut t = page.clone();
                t[i] ^= x;
                assert!(PageRef::parse(&t, &c).is_err(), "byte {i} ^ {x:#x} went unnoticed");
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Page proofs.

#[test]
fn proofs_of_every_index_verify_and_every_flipped_bit_fails() {
    for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 13] {
        let leaves: Vec<Hash> = (0..n as u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let root = model_root(&leaves);
        assert_eq!(page_tree_root(&leaves), root);
        for i in 0..n {
            let p = page_proof(&leaves, i as u32).unwrap();
            p.verify(&leaves[i], &root).unwrap();
            assert_flips_fail(&p, &leaves[i], &root);
        }
    }
}

fn assert_flips_fail(p: &PageProof, leaf: &Hash, root: &Hash) {
    let enc = p.encode();
    assert_eq!(enc.len(), p.encoded_len());
    assert_eq!(PageProof::decode(&enc).as_ref(), Ok(p));
    for bit in 0..enc.len() * 8 {
        let mut b = enc.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        if let Ok(q) = PageProof::decode(&b) {
            assert!(q.verify(leaf, root).is_err(), "bit {bit} of the proof");
        }
    }
    for bit in 0..256 {
        let mut l = *leaf;
        l.0[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(p.verify(&l, root), Err(PageProofError::RootMismatch));
        let mut r = *root;
        r.0[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(p.verify(leaf, &r), Err(PageProofError::RootMismatch));
    }
}

#[test]
fn proof_errors() {
    let leaves: Vec<Hash> = (0..5u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    assert_eq!(page_proof(&leaves, 5), Err(PageProofError::IndexOutOfRange { index: 5, count: 5 }));
    assert_eq!(page_proof(&[], 0), Err(PageProofError::IndexOutOfRange { index: 0, count: 0 }));
    let p = page_proof(&leaves, 2).unwrap();
    assert_eq!(p.path().len(), 3);
    assert_eq!(
        PageProof::from_parts(2, 5, p.path()[..2].to_vec()),
        Err(PageProofError::PathLength { actual: 2, expected: 3 })
    );
    assert_eq!(PageProof::from_parts(2, 5, p.path().to_vec()).as_ref(), Ok(&p));
    let enc = p.encode();
    assert_eq!(PageProof::decode(&enc[..9]), Err(PageProofDecodeError::TooShort(9)));
    let mut b = enc.clone();
    b[0] = 2;
    assert_eq!(PageProof::decode(&b), Err(PageProofDecodeError::BadVersion(2)));
    let mut b = enc.clone();
    b[1] = 9;
    assert_eq!(PageProof::decode(&b), Err(PageProofDecodeError::IndexOutOfRange { index: 9, count: 5 }));
    let mut b = enc.clone();
    b[9] = 4;
    assert_eq!(PageProof::decode(&b), Err(PageProofDecodeError::PathLength { declared: 4, expected: 3 }));
    assert_eq!(
        PageProof::decode(&enc[..enc.len() - 1]),
        Err(PageProofDecodeError::WrongLength { expected: enc.len(), actual: enc.len() - 1 })
    );
    // A huge declared count cannot make the decoder allocate: the path is at most 32.
    let mut b = vec![1u8, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 32];
    b.extend_from_slice(&[0u8; 32 * 32]);
    assert_eq!(PageProof::decode(&b).unwrap().path().len(), 32);
}

// ---------------------------------------------------------------------------------
// Property tests against the model.

fn lens_strategy() -> impl Strategy<Value = (u32, Vec<usize>)> {
    prop::sample::select(vec![1024u32, 2048, 4096]).prop_flat_map(|ps| {
        let cap = ps as usize - 64;
        let len = prop_oneof![
            6 => 56usize..200,
            3 => 56usize..=cap,
            2 => (cap - 60)..=(cap + 1),
            1 => (cap + 1)..(3 * ps as usize),
        ];
        (Just(ps), prop::collection::vec(len, 0..40))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn packing_matches_the_model((ps, lens) in lens_strategy()) {
        let c = cfg(ps);
        let events = feed(&lens);
        let pages = pack_events(&c, &events);
        let model = model_pack(&lens, ps as usize);
        prop_assert_eq!(pages.len(), model.len());
        for (page, p) in pages.iter().zip(&model) {
            prop_assert_eq!(page, &model_bytes(&events, *p, ps as usize));
            check_page(page, &c, &events, *p);
            // A parsed page rebuilt from its events is the same bytes (canonical form).
            let r = PageRef::parse(page, &c).unwrap();
            let mut b = PageBuilder::new(c, r.author(), r.first_seq());
            for e in r.events() {
                b.push(e).unwrap();
            }
            prop_assert_eq!(&b.finish(), page);
        }
        // Determinism: again, and by hand one event at a time.
        prop_assert_eq!(&pack_events(&c, &events), &pages);
        prop_assert_eq!(&pack_by_hand(&c, &events), &pages);
        // Every event is in exactly one page, in order.
        let back: Vec<Vec<u8>> = pages
            .iter()
            .flat_map(|p| PageRef::parse(p, &c).unwrap().events().map(|e| e.encoded().to_vec()).collect::<Vec<_>>())
            .collect();
        let orig: Vec<Vec<u8>> = events.iter().map(|e| e.encoded().to_vec()).collect();
        prop_assert_eq!(back, orig);
    }

    #[test]
    fn tree_and_proofs_match_the_model(n in 1usize..150, seed in any::<u64>(), pick in any::<prop::sample::Index>()) {
        let leaves: Vec<Hash> = (0..n as u64).map(|i| leaf_hash(&(i ^ seed).to_le_bytes())).collect();
        let root = model_root(&leaves);
        prop_assert_eq!(page_tree_root(&leaves), root);
        for i in 0..n {
            let p = page_proof(&leaves, i as u32).unwrap();
            prop_assert_eq!(p.verify(&leaves[i], &root), Ok(()));
            prop_assert_eq!(PageProof::decode(&p.encode()), Ok(p.clone()));
        }
        let i = pick.index(n);
        assert_flips_fail(&page_proof(&leaves, i as u32).unwrap(), &leaves[i], &root);
    }

    /// A tail page committed after every push (and sometimes twice in a row) has the header
    /// of the whole-page computation at every step: the chaining values `growing_header`
    /// keeps are never stale, across resets to the next page too.
    #[test]
    fn growing_header_equals_the_whole_page_header(ps in prop::sample::select(vec![1024u32, 4096, 16 * 1024, 65536]),
                                                   lens in prop::collection::vec(prop_oneof![4 => 56usize..400, 1 => 56usize..3000], 1..120),
                                                   again in any::<u64>()) {
        let c = cfg(ps);
        let events = feed(&lens);
        let mut b = PageBuilder::new(c, AUTHOR, 0);
        for (i, e) in events.iter().enumerate() {
            if !b.fits(e.encoded().len()) {
                prop_assert_eq!(b.growing_header(), b.header());
                let next = b.next_seq();
                b.reset(next);
            }
            b.push(e.as_ref()).unwrap();
            prop_assert_eq!(b.growing_header(), b.header(), "after event {}", i);
            if again >> (i % 64) & 1 == 1 {
                prop_assert_eq!(b.growing_header(), b.header(), "twice after event {}", i);
            }
            let page = b.finish();
            let head = b.growing_header();
            prop_assert_eq!(&page[..64], head.as_bytes().as_slice());
        }
    }

    #[test]
    fn tampering_a_random_page_fails((ps, lens) in lens_strategy(), at in any::<prop::sample::Index>(), x in 1u8..=255) {
        let c = cfg(ps);
        let events = feed(&lens);
        for page in pack_events(&c, &events) {
            let mut t = page.clone();
            let i = at.index(t.len());
            t[i] ^= x;
            prop_assert!(PageRef::parse(&t, &c).is_err(), "byte {} ^ {:#x}", i, x);
        }
    }
}

// ---------------------------------------------------------------------------------
// The worked example of docs/formats.md, checked against the document.

fn hex_dump(bytes: &[u8]) -> String {
    let mut s = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        s.push_str(&format!("{:04x}:", i * 16));
        for b in chunk {
            s.push_str(&format!(" {b:02x}"));
        }
        s.push('\n');
    }
    s
}

fn worked_example() -> String {
    let c = cfg(1024);
    let author = AuthorId(core::array::from_fn(|i| i as u8 + 1));
    let e0 = Event::new(author, 0, 1_700_000_000_000_000, 1, EventFlags::NONE, b"hello");
    let e1 = Event::new(author, 1, 1_700_000_000_000_001, 1, EventFlags::NONE, b"world!");
    let pages = pack(&c, [e0.as_ref(), e1.as_ref()]).unwrap();
    assert_eq!(pages.len(), 1);
    let page = &pages[0];
    let r = PageRef::parse(page, &c).unwrap();
    let used = 64 + r.header().used() as usize;
    assert!(page[used..].iter().all(|&b| b == 0));
    let proof = page_proof(&r.leaf_hashes(), 1).unwrap();
    let mut s = String::new();
    s.push_str("```text\n");
    s.push_str(&hex_dump(&page[..used]));
    s.push_str(&format!("{used:04x}: 00 … 00   ({} zero bytes of padding, to 1024)\n", 1024 - used));
    s.push_str("```\n\n");
    s.push_str(&format!("- checksum (u64): `{:#018x}`\n", r.header().checksum()));
    s.push_str(&format!("- leaf 0: `{}`\n", e0.leaf_hash()));
    s.push_str(&format!("- leaf 1: `{}`\n", e1.leaf_hash()));
    s.push_str(&format!("- top = page_node(leaf 0, leaf 1): `{}`\n", page_node(&e0.leaf_hash(), &e1.leaf_hash())));
    s.push_str(&format!("- page root = page_root(2, top): `{}`\n", r.root()));
    s.push_str(&format!("- page proof of event 1: `{}`\n", hex::encode(proof.encode())));
    s
}

#[test]
fn worked_example_matches_the_docs() {
    let text = worked_example();
    if std::env::var_os("XF_PRINT_EXAMPLE").is_some() {
        println!("{text}");
    }
    let doc = include_str!("../../docs/formats.md");
    assert!(doc.contains(&text), "docs/formats.md is out of date; its worked example is:\n{text}");
}
