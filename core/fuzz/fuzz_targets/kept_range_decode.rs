//! Kept ranges (`VerifiedRange::decode_kept`) on arbitrary bytes: no panic, and every range
//! accepted is canonical (it re-encodes to the input), lies within its head, and proves each of
//! its events against that head. Kept ranges are read back from files a host wrote (the native
//! store's kept reads), which anything can damage.
//!
//! The first input byte selects the mode: the rest as the kept bytes themselves, or (to reach
//! the checks behind the head's signature) a valid kept range of a small feed tampered with:
//! the rest read as (position, xor) byte pairs applied to it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use xaeroflux_core::AuthorKey;
use xaeroflux_core::hash::leaf_hash;
use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::VerifiedRange;

/// The kept form of events 3..11 of a 16-event feed.
fn valid() -> &'static [u8] {
    static VALID: OnceLock<Vec<u8>> = OnceLock::new();
    VALID.get_or_init(|| {
        let key = AuthorKey::from_secret_bytes(&[11; 32]);
        let author = key.author();
        let mut feed = MemStore::new(key, PageConfig::new(4096).expect("page size"));
        let bodies: Vec<Vec<u8>> = (0..16u8).map(|i| vec![i; usize::from(i) * 3]).collect();
        feed.append_batch(bodies.iter().map(|b| NewEvent::new(1, b))).expect("append");
        let mut kept = Vec::new();
        feed.verified_range(&author, 3..11).expect("a range of the feed").encode_kept(&mut kept);
        kept
    })
}

fn check(bytes: &[u8]) {
    let Ok(range) = VerifiedRange::decode_kept(bytes) else { return };
    let mut again = Vec::new();
    range.encode_kept(&mut again);
    assert_eq!(again, bytes, "an accepted kept range re-encodes to its input");
    assert!(range.seqs().end <= range.head.length);
    for (i, ev) in range.events.iter().enumerate() {
        let seq = range.start + i as u64;
        assert_eq!((ev.author(), ev.seq()), (range.head.author, seq));
        let proof = range.inclusion_proof(seq).expect("a kept event is provable");
        proof.verify(&leaf_hash(ev.encoded()), &range.head.root).expect("its proof verifies");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode & 1 == 0 {
        check(rest);
    } else {
        let mut kept = valid().to_vec();
        for edit in rest.chunks_exact(3) {
            let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % kept.len();
            kept[at] ^= edit[2];
        }
        check(&kept);
    }
});
