//! Page and page proof decoding on arbitrary bytes: no panic, and every accepted page is
//! canonical (rebuilt from its events it is the same bytes) with verifiable proofs.
//!
//! The first input byte selects the page size and whether to repair the checksum (and the
//! length) first, so that the fuzzer reaches the checks behind the checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xaeroflux_core::page::{PageBuilder, PageConfig, PageHeader, PageProof, PageRef, page_proof};

fn check_page(bytes: &[u8], config: &PageConfig) {
    let Ok(page) = PageRef::parse(bytes, config) else { return };
    let mut b = PageBuilder::new(*config, page.author(), page.first_seq());
    for ev in page.events() {
        b.push(ev).expect("the events of an accepted page rebuild it");
    }
    // Canonical: the page rebuilt from its events is the same bytes (for a version-1 page,
    // but for the version and the checksum).
    assert!(xaeroflux_core::page::same_page(&b.finish(), bytes), "an accepted page is canonical");
    let leaves = page.leaf_hashes();
    assert_eq!(leaves.len(), page.count() as usize);
    let root = page.root();
    for (i, leaf) in leaves.iter().enumerate() {
        let proof = page_proof(&leaves, i as u32).expect("index in range");
        proof.verify(leaf, &root).expect("a fresh proof verifies");
        assert_eq!(PageProof::decode(&proof.encode()).as_ref(), Ok(&proof));
    }
}

/// Sets the checksum the header's fields and events call for.
fn reseal(page: &mut [u8]) {
    let Some(head) = page.first_chunk::<64>() else { return };
    let head = *PageHeader::from_bytes(head);
    let end = 64usize.saturating_add(head.used() as usize).min(page.len());
    let sum = head.compute_checksum(&page[64..end]);
    page[56..64].copy_from_slice(&sum.to_le_bytes());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(config) = PageConfig::new(1024 << (mode & 3)) else { return };
    check_page(rest, &config);
    if mode & 4 != 0 {
        let mut v = rest.to_vec();
        if mode & 8 != 0 && v.len() >= 64 {
            // Pad or cut to the length the header's span asks for (bounded).
            let span = usize::from(u16::from_le_bytes([v[6], v[7]])).min(64);
            v.resize(span * config.page_size() as usize, 0);
        }
        reseal(&mut v);
        check_page(&v, &config);
    }
    if let Ok(proof) = PageProof::decode(rest) {
        assert_eq!(proof.encode(), rest);
        let leaf = xaeroflux_core::hash::leaf_hash(rest);
        let _ = proof.verify(&leaf, &leaf);
        let _ = proof.root_from(&leaf);
    }
});
