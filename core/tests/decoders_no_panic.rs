//! Every decoder of untrusted bytes in the core crate, fed random bytes and random
//! mutations of valid encodings: none may panic. Where a decoder accepts, the result is
//! also used (verified, re-encoded, iterated), since that code runs on untrusted data too,
//! and our own formats must be canonical (accepted bytes re-encode to the same bytes).
//!
//! Decoders covered: `EventRef::parse` / `parse_prefix`, `Event::from_bytes`,
//! `SignedHead::decode` (+ `verify`), `PageRef::parse`, `PageProof::decode` (+ `verify`),
//! and the MMR proofs `InclusionProof`, `ConsistencyProof`, `RangeProof` `::decode`
//! (+ `verify` / `prefix_root`).
//!
//! The XSP decoders (frames, messages and the session reading them) have their own file,
//! `xsp_no_panic.rs`, and the fuzz targets in `core/fuzz` cover both.

use proptest::prelude::*;
use xaeroflux_core::hash::{Hash, leaf_hash};
use xaeroflux_core::mmr::{ConsistencyProof, InclusionProof, Mmr, RangeProof};
use xaeroflux_core::page::{PageBuilder, PageConfig, PageHeader, PageProof, PageRef, pack, page_proof};
use xaeroflux_core::{AuthorId, AuthorKey, Event, EventFlags, EventRef, SignedHead};

const PAGE_SIZE: u32 = 1024;

fn config() -> PageConfig {
    PageConfig::new(PAGE_SIZE).unwrap()
}

/// One edit of a byte string.
#[derive(Clone, Debug)]
enum Mutation {
    Xor(prop::sample::Index, u8),
    Set(prop::sample::Index, u8),
    /// Overwrite 4 bytes with an interesting little-endian value (lengths, counts).
    SetU32(prop::sample::Index, u32),
    Truncate(prop::sample::Index),
    Insert(prop::sample::Index, u8),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        Just(0u32),
        Just(1),
        Just(2),
        Just(55),
        Just(56),
        Just(64),
        Just(960),
        Just(1023),
        Just(1024),
        Just(1025),
        Just(u32::from(u16::MAX)),
        Just(u32::MAX),
        Just(u32::MAX - 1),
        Just(1 << 24),
        any::<u32>(),
    ];
    prop_oneof![
        4 => (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, x)| Mutation::Xor(i, x)),
        2 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, x)| Mutation::Set(i, x)),
        2 => (any::<prop::sample::Index>(), interesting).prop_map(|(i, v)| Mutation::SetU32(i, v)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
        1 => prop::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Append),
    ]
}

fn apply(bytes: &mut Vec<u8>, muts: &[Mutation]) {
    for m in muts {
        let n = bytes.len();
        match m {
            Mutation::Xor(i, x) if n > 0 => bytes[i.index(n)] ^= x,
            Mutation::Set(i, x) if n > 0 => bytes[i.index(n)] = *x,
            Mutation::SetU32(i, v) if n >= 4 => {
                let at = i.index(n - 3);
                bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(n + 1)),
            Mutation::Insert(i, x) => bytes.insert(i.index(n + 1), *x),
            Mutation::Append(tail) => bytes.extend_from_slice(tail),
            _ => {}
        }
    }
}

/// Recomputes a page's checksum so that mutations reach the checks behind it.
fn reseal(page: &mut [u8]) {
    let Some(head) = page.first_chunk::<64>() else { return };
    let head = *PageHeader::from_bytes(head);
    let end = 64usize.saturating_add(head.used() as usize).min(page.len());
    let sum = head.compute_checksum(&page[64..end]);
    page[56..64].copy_from_slice(&sum.to_le_bytes());
}

// ---------------------------------------------------------------------------------
// Exercising each decoder (and what runs on its output).

fn try_event(bytes: &[u8], limit: u32) {
    if let Ok(ev) = EventRef::parse(bytes) {
        assert_eq!(ev.encoded(), bytes);
        assert_eq!(ev.to_owned().encoded(), bytes);
        let _ = ev.leaf_hash();
    }
    if let Ok((ev, used)) = EventRef::parse_prefix(bytes, limit) {
        assert_eq!(ev.encoded(), &bytes[..used]);
        assert!(ev.payload().len() as u64 <= u64::from(limit));
    }
    let _ = Event::from_bytes(bytes.to_vec());
}

fn try_head(bytes: &[u8]) {
    if let Ok(h) = SignedHead::decode(bytes) {
        assert_eq!(&h.encode()[..], bytes);
        let _ = h.verify();
    }
}

fn try_page(bytes: &[u8]) {
    let c = config();
    if let Ok(page) = PageRef::parse(bytes, &c) {
        let mut b = PageBuilder::new(c, page.author(), page.first_seq());
        for ev in page.events() {
            b.push(ev).expect("an accepted page's events rebuild it");
        }
        // Canonical: the page rebuilt from its events is the same bytes (for a version-1 page,
        // but for the version and the checksum).
        assert!(xaeroflux_core::page::same_page(&b.finish(), bytes), "an accepted page is canonical");
        let leaves = page.leaf_hashes();
        assert_eq!(leaves.len(), page.count() as usize);
        let root = page.root();
        for (i, leaf) in leaves.iter().enumerate() {
            page_proof(&leaves, i as u32).unwrap().verify(leaf, &root).unwrap();
        }
    }
}

fn try_page_proof(bytes: &[u8], leaf: &Hash, root: &Hash) {
    if let Ok(p) = PageProof::decode(bytes) {
        assert_eq!(p.encode(), bytes);
        let _ = p.verify(leaf, root);
    }
}

fn try_mmr_proofs(bytes: &[u8], leaves: &[Hash], root: &Hash, other_root: &Hash) {
    if let Ok(p) = InclusionProof::decode(bytes) {
        let leaf = leaves.first().copied().unwrap_or(Hash::ZERO);
        let _ = p.verify(&leaf, root);
        let _ = p.encode();
    }
    if let Ok(p) = ConsistencyProof::decode(bytes) {
        let _ = p.verify(other_root, root);
        let _ = p.prefix_root(root);
        let _ = p.encode();
    }
    if let Ok(p) = RangeProof::decode(bytes) {
        let _ = p.verify(leaves, root);
        let _ = p.encode();
    }
}

fn try_everything(bytes: &[u8], limit: u32) {
    try_event(bytes, limit);
    try_head(bytes);
    try_page(bytes);
    let h = leaf_hash(bytes);
    try_page_proof(bytes, &h, &h);
    try_mmr_proofs(bytes, &[h], &h, &Hash::ZERO);
}

// ---------------------------------------------------------------------------------
// Valid encodings to mutate.

const AUTHOR: AuthorId = AuthorId([0x33; 32]);

fn sample_events() -> Vec<Event> {
    [0usize, 5, 100, 300, 904, 1200]
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let payload: Vec<u8> = (0..n).map(|j| (i * 7 + j) as u8).collect();
            Event::new(AUTHOR, i as u64, 17 + i as u64, i as u16, EventFlags(i as u8 & 3), &payload)
        })
        .collect()
}

fn sample_pages() -> Vec<Vec<u8>> {
    let events = sample_events();
    let pages = pack(&config(), events.iter().map(|e| e.as_ref())).unwrap();
    assert!(pages.len() >= 3);
    pages
}

struct MmrSamples {
    leaves: Vec<Hash>,
    root: Hash,
    old_root: Hash,
    inclusion: Vec<u8>,
    consistency: Vec<u8>,
    range: Vec<u8>,
}

fn mmr_samples() -> MmrSamples {
    let leaves: Vec<Hash> = (0u32..23).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let mut mmr = Mmr::new();
    let mut old_root = Hash::ZERO;
    for (i, l) in leaves.iter().enumerate() {
        mmr.append(*l);
        if i == 10 {
            old_root = mmr.root();
        }
    }
    MmrSamples {
        root: mmr.root(),
        old_root,
        inclusion: mmr.inclusion_proof(13).unwrap().encode(),
        consistency: mmr.consistency_proof(11).unwrap().encode(),
        range: mmr.range_proof(5, 12).unwrap().encode(),
        leaves,
    }
}

fn muts() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1200), limit in any::<u32>()) {
        try_everything(&bytes, limit);
    }

    /// Random bytes behind a valid-looking prefix of each format, so decoders get past
    /// their first checks.
    #[test]
    fn random_bytes_behind_valid_prefixes(
        which in 0usize..6,
        tail in prop::collection::vec(any::<u8>(), 0..1100),
    ) {
        let mut bytes = match which {
            0 => vec![1, 0],                 // event version, flags
            1 => vec![1],                    // signed head version
            2 => b"XFPG\x01\x00\x01\x00".to_vec(), // page magic, version, flags, span
            3 => vec![1],                    // page proof version
            4 => vec![1, 1],                 // MMR proof version, kind inclusion
            _ => vec![1, 2 + (tail.len() % 2) as u8], // consistency / range
        };
        bytes.extend_from_slice(&tail);
        try_everything(&bytes, u32::MAX);
        if which == 2 {
            bytes.resize(PAGE_SIZE as usize, 0);
            reseal(&mut bytes);
            try_page(&bytes);
        }
    }

    #[test]
    fn mutated_events(pick in 0usize..6, m in muts(), limit in any::<u32>()) {
        let mut b = sample_events()[pick].encoded().to_vec();
        apply(&mut b, &m);
        try_everything(&b, limit);
    }

    #[test]
    fn mutated_heads(length in any::<u64>(), root in any::<[u8; 32]>(), m in muts()) {
        let head = AuthorKey::from_secret_bytes(&[9; 32]).sign_head(length, Hash(root));
        let mut b = head.encode().to_vec();
        apply(&mut b, &m);
        try_head(&b);
        try_everything(&b, u32::MAX);
    }

    #[test]
    fn mutated_pages(pick in any::<prop::sample::Index>(), m in muts(), resealed in any::<bool>()) {
        let pages = sample_pages();
        let mut b = pages[pick.index(pages.len())].clone();
        apply(&mut b, &m);
        if resealed {
            reseal(&mut b);
        }
        try_page(&b);
    }

    #[test]
    fn mutated_page_proofs(n in 1u32..300, pick in any::<prop::sample::Index>(), m in muts()) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let i = pick.index(n as usize);
        let p = page_proof(&leaves, i as u32).unwrap();
        let mut b = p.encode();
        apply(&mut b, &m);
        let root = xaeroflux_core::page::page_tree_root(&leaves);
        try_page_proof(&b, &leaves[i], &root);
        try_everything(&b, u32::MAX);
    }

    #[test]
    fn mutated_mmr_proofs(which in 0usize..3, m in muts()) {
        let s = mmr_samples();
        let mut b = match which {
            0 => s.inclusion.clone(),
            1 => s.consistency.clone(),
            _ => s.range.clone(),
        };
        apply(&mut b, &m);
        try_mmr_proofs(&b, &s.leaves, &s.root, &s.old_root);
        try_mmr_proofs(&b, &s.leaves[5..12], &s.root, &s.old_root);
    }
}
