//! Proofs from the store are byte-identical to those of an in-memory MMR holding every node,
//! whichever way the store finds each node: in memory (since the last checkpoint), in the
//! index (high nodes), or recomputed from the events (low nodes). And the index stays small:
//! it holds about one node per 32 events, not two per event.

use xaeroflux::{Core, ProveError, ReadError, verify_consistency, verify_event};
use xaeroflux_core::mmr::{self, Mmr};
use xaeroflux_core::{AuthorKey, Event, EventFlags};

fn payload(i: u64) -> Vec<u8> {
    let mut p = i.to_le_bytes().to_vec();
    p.resize(30 + (i * 17 % 200) as usize, (i % 251) as u8);
    p
}

/// Small pages and frequent checkpoints, so that a few thousand events put MMR nodes in the
/// index, in memory, and in neither (recomputed from the events).
fn open(path: &std::path::Path) -> Core {
    Core::builder().with_page_size(1024).with_segment_pages(64).with_checkpoint_pages(256).open(path).unwrap()
}

/// Every inclusion proof and a spread of consistency proofs equal the reference's.
fn check_all(core: &Core, reference: &Mmr) {
    let me = core.author();
    let n = reference.leaves();
    assert_eq!(core.feed_len(&me), n);
    let head = core.head();
    for seq in 0..n {
        let proof = core.inclusion_proof(&me, seq).unwrap();
        let expect = mmr::inclusion_proof(reference, n, seq).unwrap();
        assert_eq!(proof.encode(), expect.encode(), "inclusion proof of {seq} of {n}");
        if seq % 97 == 0 {
            verify_event(&core.get(&me, seq).unwrap().unwrap(), &proof, &head).unwrap();
        }
    }
    for old in (0..=n).step_by(37).chain([n / 2, n - 1, n]) {
        let proof = core.consistency_proof(&me, old).unwrap();
        let expect = mmr::consistency_proof(reference, old, n).unwrap();
        assert_eq!(proof.encode(), expect.encode(), "consistency proof {old} -> {n}");
    }
}

#[test]
fn proofs_match_an_in_memory_mmr_before_and_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut reference = Mmr::new();
    let n = 6_000u64;
    {
        let core = open(dir.path());
        for chunk in (0..n).collect::<Vec<_>>().chunks(250) {
            let p: Vec<Vec<u8>> = chunk.iter().map(|&i| payload(i)).collect();
            core.append_batch(p.iter().map(|v| v.as_slice())).unwrap();
        }
        for ev in core.iter_feed(&core.author()).unwrap() {
            reference.append(ev.leaf_hash());
        }
        assert!(core.stats().checkpoints >= 3, "some nodes are only in the index by now");
        check_all(&core, &reference);
    }
    let core = open(dir.path());
    check_all(&core, &reference);
    // More events: the newest nodes are in memory, the older ones stored or recomputed.
    let old_head = core.head();
    for i in n..n + 150 {
        let a = core.append(core.new_event(&payload(i))).unwrap();
        reference.append(a.leaf);
    }
    check_all(&core, &reference);
    let proof = core.consistency_proof(&core.author(), old_head.length).unwrap();
    verify_consistency(&old_head, &core.head(), &proof).unwrap();
}

/// The index holds the high nodes only: far less than the two hashes per event (64 bytes) that
/// storing every node would take.
#[test]
fn the_index_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let n = 40_000u64;
    let core = Core::builder().with_checkpoint_pages(256).open(dir.path()).unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(2_000) {
        let p: Vec<Vec<u8>> = chunk.iter().map(|&i| payload(i)).collect();
        core.append_batch(p.iter().map(|v| v.as_slice())).unwrap();
    }
    assert!(core.stats().checkpoints >= 1);
    core.close().unwrap();
    let index = std::fs::metadata(dir.path().join("index.redb")).unwrap().len();
    assert!(index < n * 8, "index of {index} bytes for {n} events");
}

#[test]
fn proofs_of_another_feed_match_too() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(dir.path());
    let key = AuthorKey::from_secret_bytes(&[4; 32]);
    let them = key.author();
    let mut reference = Mmr::new();
    let mut stored = 0u64;
    for round in 0..12u64 {
        let k = 1 + round * 53 % 300;
        let evs: Vec<Event> =
            (stored..stored + k).map(|i| Event::new(them, i, i, 2, EventFlags::NONE, &payload(i))).collect();
        for e in &evs {
            reference.append(e.leaf_hash());
        }
        let head = key.sign_head(stored + k, reference.root());
        let refs: Vec<_> = evs.iter().map(|e| e.as_ref()).collect();
        core.store_verified(&head, &refs).unwrap();
        stored += k;
    }
    for seq in 0..stored {
        let p = core.inclusion_proof(&them, seq).unwrap();
        assert_eq!(p.encode(), mmr::inclusion_proof(&reference, stored, seq).unwrap().encode(), "{seq}");
    }
}

#[test]
fn a_damaged_page_is_a_clear_proof_error() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let n = 2_000u64;
    {
        let core = open(dir.path());
        let p: Vec<Vec<u8>> = (0..n).map(payload).collect();
        core.append_batch(p.iter().map(|v| v.as_slice())).unwrap();
    }
    // Flip a byte in the second page of the first segment (events of a low-node block).
    let seg = dir.path().join("segments").join("00000000.seg");
    let f = std::fs::OpenOptions::new().read(true).write(true).open(&seg).unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, 1024 + 200).unwrap();
    f.write_all_at(&[b[0] ^ 1], 1024 + 200).unwrap();
    let mut first = [0u8; 8];
    f.read_exact_at(&mut first, 1024 + 16).unwrap(); // the page header's first seq
    drop(f);
    let core = open(dir.path());
    let me = core.author();
    let damaged = match core.get(&me, u64::from_le_bytes(first)) {
        Err(ReadError::Corrupt { seqs, .. }) => seqs,
        other => panic!("{other:?}"),
    };
    let seq = damaged.start;
    match core.inclusion_proof(&me, seq) {
        Err(e @ ProveError::Read(ReadError::Corrupt { .. })) => assert!(e.to_string().contains("damaged page"), "{e}"),
        other => panic!("expected a read error, got {other:?}"),
    }
    // Events in other blocks still prove.
    let head = core.head();
    let far = n - 1;
    verify_event(&core.get(&me, far).unwrap().unwrap(), &core.inclusion_proof(&me, far).unwrap(), &head).unwrap();
}
