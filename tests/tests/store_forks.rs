//! Fork evidence kept by the store (`Core::record_fork`): checked before it is recorded, kept
//! across reopens, one per author; the feed of a forked author takes no more events, and the
//! integrity check verifies the stored evidence.

use xaeroflux::{Core, ImportError, RecordForkError};
use xaeroflux_core::mmr::Mmr;
use xaeroflux_core::xsp::{ForkEvidence, ForkEvidenceError};
use xaeroflux_core::{AuthorKey, Event, EventFlags, Hash, SignedHead};

/// `n` events of `key`'s feed and the head signed over them.
fn feed(key: &AuthorKey, n: u64, tag: u8) -> (Vec<Event>, SignedHead) {
    let events: Vec<Event> =
        (0..n).map(|i| Event::new(key.author(), i, 1_000 + i, 0, EventFlags::NONE, &[tag, i as u8])).collect();
    let mut mmr = Mmr::new();
    for e in &events {
        mmr.append(e.leaf_hash());
    }
    (events.clone(), key.sign_head(n, mmr.root()))
}

fn store_feed(core: &Core, head: &SignedHead, events: &[Event]) -> Result<(), ImportError> {
    let refs: Vec<_> = events.iter().map(|e| e.as_ref()).collect();
    core.store_verified(head, &refs)
}

#[test]
fn evidence_is_checked_kept_across_reopens_and_stops_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let mallory = AuthorKey::from_secret_bytes(&[9; 32]);
    let (events, head) = feed(&mallory, 10, 1);
    let (_, other_head) = feed(&mallory, 10, 2);
    {
        let core = Core::builder().open(dir.path()).unwrap();
        store_feed(&core, &head, &events[..]).unwrap();
        assert!(core.feeds().iter().all(|f| !f.forked));

        // Not evidence: the same head twice, or heads of two authors.
        let same = ForkEvidence { first: head, second: head, proof: None };
        assert!(matches!(core.record_fork(&same), Err(RecordForkError::BadEvidence(ForkEvidenceError::SameHead))));
        let (_, alice_head) = feed(&AuthorKey::from_secret_bytes(&[1; 32]), 10, 2);
        let mixed = ForkEvidence { first: head, second: alice_head, proof: None };
        assert!(matches!(core.record_fork(&mixed), Err(RecordForkError::BadEvidence(_))));
        assert!(core.forks().is_empty() && !core.is_forked(&mallory.author()));

        let evidence = ForkEvidence { first: head, second: other_head, proof: None };
        assert!(core.record_fork(&evidence).unwrap(), "new evidence");
        let swapped = ForkEvidence { first: other_head, second: head, proof: None };
        assert!(!core.record_fork(&swapped).unwrap(), "one evidence per author: the first is kept");
        assert_eq!(core.fork(&mallory.author()), Some(evidence.clone()));
        core.close().unwrap();
    }
    let core = Core::builder().open(dir.path()).unwrap();
    let evidence = ForkEvidence { first: head, second: other_head, proof: None };
    assert_eq!(core.forks(), vec![evidence], "kept across a reopen");
    assert!(core.feeds().iter().any(|f| f.author == mallory.author() && f.forked && f.len == 10));
    // What is held stays readable; nothing more of the feed is taken.
    assert_eq!(core.range(&mallory.author(), 0..10).unwrap().count(), 10);
    let (more, longer) = feed(&mallory, 12, 1);
    assert!(matches!(store_feed(&core, &longer, &more[10..]), Err(ImportError::Forked)));
    assert_eq!(core.feed_len(&mallory.author()), 10);
    let report = core.check_integrity().unwrap();
    assert!(report.is_ok(), "{report:?}");
}

#[test]
fn a_feed_the_store_never_held_can_be_marked_forked_before_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::builder().open(dir.path()).unwrap();
    let key = AuthorKey::from_secret_bytes(&[5; 32]);
    let first = key.sign_head(4, Hash([1; 32]));
    let second = key.sign_head(4, Hash([2; 32]));
    assert!(core.record_fork(&ForkEvidence { first, second, proof: None }).unwrap());
    let (events, head) = feed(&key, 3, 0);
    assert!(matches!(store_feed(&core, &head, &events), Err(ImportError::Forked)));
    assert!(core.feeds().iter().all(|f| f.author != key.author()), "nothing of it stored");
}
