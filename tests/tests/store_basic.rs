//! Basic behaviour of the native store: append, read back, reopen, proofs, heads, imports.

use xaeroflux::{Core, Durability, ImportError, ReadError, verify_consistency, verify_event};
use xaeroflux_core::{AuthorKey, Event, EventFlags};

fn payload(i: u64) -> Vec<u8> {
    format!("event number {i} {}", "x".repeat((i % 300) as usize)).into_bytes()
}

#[test]
fn append_read_reopen_prove() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let (author, root, head) = {
        let core = Core::builder().with_page_size(4096).with_segment_pages(8).open(&path).unwrap();
        let a = core.append(core.new_event(b"first").kind(7)).unwrap();
        assert_eq!(a.seq, 0);
        let r = core.append_batch((1..500).map(payload).collect::<Vec<_>>().iter().map(|p| p.as_slice())).unwrap();
        assert_eq!(r, 1..500);
        let author = core.author();
        assert_eq!(core.feed_len(&author), 500);
        let first = core.get(&author, 0).unwrap().unwrap();
        assert_eq!(first.payload(), b"first");
        assert_eq!(first.kind(), 7);
        assert_eq!(first.leaf_hash(), a.leaf);
        for i in 1..500 {
            assert_eq!(core.get(&author, i).unwrap().unwrap().payload(), payload(i).as_slice(), "seq {i}");
        }
        assert!(core.get(&author, 500).unwrap().is_none());
        let all: Vec<_> = core.iter_events().map(|e| e.unwrap().seq()).collect();
        assert_eq!(all, (0..500).collect::<Vec<_>>());
        let range: Vec<_> = core.range(&author, 100..250).unwrap().map(|e| e.seq()).collect();
        assert_eq!(range, (100..250).collect::<Vec<_>>());
        assert!(matches!(core.range(&author, 400..501), Err(ReadError::OutOfRange { .. })));
        let head = core.head();
        head.verify().unwrap();
        assert_eq!(head.length, 500);
        assert!(core.stats().segments > 1, "small segments roll over");
        (author, core.mmr_root(), head)
    };
    let core = Core::builder().open(&path).unwrap();
    assert_eq!(core.author(), author);
    assert_eq!(core.mmr_root(), root);
    assert_eq!(core.stats().recovered_events, 0, "clean close leaves nothing to recover");
    for seq in [0, 1, 99, 250, 499] {
        let ev = core.get(&author, seq).unwrap().unwrap();
        let proof = core.inclusion_proof(&author, seq).unwrap();
        verify_event(&ev, &proof, &head).unwrap();
    }
    let old = core.head();
    core.append_batch([&b"a"[..], b"b"]).unwrap();
    let new = core.head();
    let proof = core.consistency_proof(&author, old.length).unwrap();
    verify_consistency(&old, &new, &proof).unwrap();
    assert_eq!(core.iter_feed(&author).unwrap().count(), 502);
}

#[test]
fn group_commit_and_sync() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::builder()
        .with_durability(Durability::GroupCommit { max_delay: std::time::Duration::from_millis(5) })
        .open(dir.path())
        .unwrap();
    for i in 0..200 {
        core.append(core.new_event(&payload(i))).unwrap();
    }
    core.sync().unwrap();
    assert_eq!(core.feed_len(&core.author()), 200);
}

#[test]
fn store_verified_checks_before_storing() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::builder().with_page_size(2048).open(dir.path()).unwrap();
    let other = AuthorKey::from_secret_bytes(&[9; 32]);
    let a = other.author();
    let events: Vec<Event> = (0..120).map(|i| Event::new(a, i, i, 0, EventFlags::NONE, &payload(i))).collect();
    let mut mmr = xaeroflux_core::mmr::Mmr::new();
    for e in &events {
        mmr.append(e.leaf_hash());
    }
    let head = other.sign_head(120, mmr.root());
    let refs: Vec<_> = events.iter().map(|e| e.as_ref()).collect();

    // Forged head: wrong signature.
    let mut forged = head;
    forged.root.0[0] ^= 1;
    assert!(matches!(core.store_verified(&forged, &refs), Err(ImportError::BadHead(_))));
    // Right head, tampered event.
    let bad = Event::new(a, 5, 5, 0, EventFlags::NONE, b"tampered");
    let mut tampered = refs.clone();
    tampered[5] = bad.as_ref();
    assert!(matches!(core.store_verified(&head, &tampered), Err(ImportError::NotAnExtension(_))));
    assert_eq!(core.feed_len(&a), 0, "nothing stored after a refusal");

    // First part, with a head signed at 50, then the rest.
    let mut m50 = xaeroflux_core::mmr::Mmr::new();
    for e in &events[..50] {
        m50.append(e.leaf_hash());
    }
    let head50 = other.sign_head(50, m50.root());
    core.store_verified(&head50, &refs[..50]).unwrap();
    assert!(matches!(core.store_verified(&head, &refs[..60]), Err(ImportError::NotNext { .. })));
    core.store_verified(&head, &refs[50..]).unwrap();
    assert_eq!(core.feed_len(&a), 120);
    assert_eq!(core.feed_head(&a), Some(head));
    for i in 0..120 {
        assert_eq!(core.get(&a, i).unwrap().unwrap().encoded(), events[i as usize].encoded());
    }
    let proof = core.inclusion_proof(&a, 77).unwrap();
    verify_event(&core.get(&a, 77).unwrap().unwrap(), &proof, &head).unwrap();
    let own = core.append(core.new_event(b"mine")).unwrap();
    assert_eq!(own.seq, 0);
    // Arrival order: 50 of theirs, 70 of theirs, then mine.
    let order: Vec<_> = core.iter_events().map(|e| e.unwrap()).map(|e| (e.author() == a, e.seq())).collect();
    assert_eq!(order.len(), 121);
    assert_eq!(order[0], (true, 0));
    assert_eq!(order[119], (true, 119));
    assert_eq!(order[120], (false, 0));
    drop(core);
    let core = Core::open(dir.path()).unwrap();
    assert_eq!(core.feed_len(&a), 120);
    assert_eq!(core.feed_head(&a), Some(head));
    assert_eq!(core.feeds().len(), 2);
    assert_eq!(core.iter_events().count(), 121);
}
