//! Unit tests of the store's refusals; the model test is `core/tests/memstore_model.rs`.

use alloc::vec::Vec;

use super::*;
use crate::event::{EventDecodeError, EventFlags};
use crate::head::AuthorKey;
use crate::mmr::ProofError;
use crate::page::pack;

fn key(b: u8) -> AuthorKey {
    AuthorKey::from_secret_bytes(&[b; 32])
}

fn config() -> PageConfig {
    PageConfig::new(1024).unwrap()
}

/// A store of author `b` with `n` events of 100-byte payloads.
fn store_with(b: u8, n: u64) -> MemStore {
    let mut s = MemStore::new(key(b), config());
    let payload = [b; 100];
    s.append_batch((0..n).map(|i| NewEvent::new(i * 1000, &payload).kind(i as u16))).unwrap();
    s
}

#[test]
fn append_checks_and_signs() {
    let mut s = MemStore::replica(config());
    assert_eq!(s.append(NewEvent::new(0, b"x")), Err(AppendError::NoLocalAuthor));
    let mut s = MemStore::new(key(1), config());
    assert_eq!(s.local_head(), None);
    assert_eq!(s.append_batch(core::iter::empty()), Ok(0..0));
    let bad = NewEvent::new(0, b"x").flags(EventFlags(0x80));
    assert_eq!(
        s.append_batch([NewEvent::new(0, b"ok"), bad]),
        Err(AppendError::Event { index: 1, error: EventDecodeError::ReservedFlags(0x80) })
    );
    assert_eq!(s.feed_len(&key(1).author()), 0, "nothing of a refused batch is appended");
    assert_eq!(s.append(NewEvent::new(5, b"first")), Ok(0));
    let h = s.local_head().unwrap();
    h.verify().unwrap();
    assert_eq!((h.length, h.root), (1, s.mmr_root()));
}

#[test]
fn pages_match_the_packing_rule_including_overflow() {
    let mut s = MemStore::new(key(2), config());
    let sizes = [10usize, 900, 3000, 5, 5, 960 - 56, 961 - 56, 0, 2000];
    for (i, n) in sizes.iter().enumerate() {
        let payload = alloc::vec![i as u8; *n];
        s.append(NewEvent::new(i as u64, &payload)).unwrap();
    }
    let me = key(2).author();
    let events: Vec<_> = s.iter_feed(&me).collect();
    let expected = pack(&config(), events.iter().copied()).unwrap();
    assert_eq!(s.page_count(&me), expected.len() as u64);
    for (i, img) in expected.iter().enumerate() {
        assert_eq!(s.page(&me, i as u64).as_deref(), Some(&img[..]), "page {i}");
        let p = PageRef::parse(img, &config()).unwrap();
        for seq in p.first_seq()..p.end_seq() {
            assert_eq!(s.locate(&me, seq), Some((i as u64, p.first_seq())));
        }
    }
    assert_eq!(s.page(&me, expected.len() as u64), None);
    assert_eq!(s.locate(&me, sizes.len() as u64), None);
}

use crate::page::PageRef;

#[test]
fn import_refusals_change_nothing() {
    let src = store_with(3, 10);
    let a = key(3).author();
    let head = src.local_head().unwrap();
    let events: Vec<_> = src.iter_feed(&a).collect();
    let mut s = MemStore::new(key(4), config());

    // Own feed, bad signature, gap, wrong length, wrong events.
    let mut own = store_with(3, 0);
    assert_eq!(own.import_events(&head, &events), Err(StoreError::OwnFeed));
    let mut forged = head;
    forged.signature[0] ^= 1;
    assert!(matches!(s.import_events(&forged, &events), Err(StoreError::BadHead(_))));
    assert_eq!(s.import_events(&head, &events[3..]), Err(StoreError::Gap { held: 0, first_seq: 3 }));
    assert_eq!(s.import_events(&head, &events[..9]), Err(StoreError::LengthMismatch { head: 10, computed: 9 }));
    let other = store_with(5, 10);
    let theirs: Vec<_> = other.iter_feed(&key(5).author()).collect();
    assert_eq!(s.import_events(&head, &theirs), Err(StoreError::NotNext { index: 0 }));
    assert_eq!(s.feeds().count(), 1, "no feed was created by refused imports");

    // A prefix with its own head, then the rest.
    let mut half = MemStore::replica(config());
    let h5 = key(3).sign_head(5, src.peaks_at(&a, 5).unwrap().root());
    assert_eq!(half.import_events(&h5, &events[..5]).unwrap(), Stored { seqs: 0..5, head: Some(h5) });
    // A head whose root the events do not reach: the feed (its MMR included) is unchanged.
    let wrong = key(3).sign_head(10, Hash([9; 32]));
    assert_eq!(half.import_events(&wrong, &events[5..]), Err(StoreError::NotAnExtension(ProofError::RootMismatch)));
    assert_eq!((half.feed_len(&a), half.root(&a)), (5, Some(h5.root)));
    assert_eq!(half.peaks_at(&a, 5).unwrap().root(), h5.root);
    // A new feed refused the same way is not created.
    let mut empty = MemStore::replica(config());
    assert_eq!(empty.import_events(&wrong, &events), Err(StoreError::NotAnExtension(ProofError::RootMismatch)));
    assert_eq!(empty.feeds().count(), 0);
    // Overlapping events are accepted when equal.
    assert_eq!(half.import_events(&head, &events[2..]).unwrap(), Stored { seqs: 5..10, head: Some(head) });
    assert_eq!(half.root(&a), Some(head.root));
    // A head signed over a different history conflicts.
    let mut fork_src = store_with(3, 4);
    fork_src.append(NewEvent::new(1, b"different")).unwrap();
    let fork_events: Vec<_> = fork_src.iter_feed(&a).collect();
    let fh = fork_src.local_head().unwrap();
    assert_eq!(half.import_events(&fh, &fork_events), Err(StoreError::Conflict { seq: 4 }));
    assert_eq!(half.feed_len(&a), 10);
}

#[test]
fn adopt_head_and_fork_evidence() {
    let src = store_with(6, 8);
    let a = key(6).author();
    let events: Vec<_> = src.iter_feed(&a).collect();
    let mut s = MemStore::replica(config());
    s.import_events(&src.local_head().unwrap(), &events).unwrap();
    // An older head of the same history is fine but not newer.
    let h4 = key(6).sign_head(4, src.peaks_at(&a, 4).unwrap().root());
    assert_eq!(s.adopt_head(&h4), Ok(false));
    let h9 = key(6).sign_head(9, Hash([1; 32]));
    assert_eq!(s.adopt_head(&h9), Err(AdoptError::NotHeld { length: 9, held: 8 }));
    // A head of length 4 with another root: fork, with evidence from our head of length 8.
    let bad4 = key(6).sign_head(4, Hash([2; 32]));
    let Err(AdoptError::Fork { evidence: Some(e) }) = s.adopt_head(&bad4) else { panic!() };
    e.verify().unwrap();
    assert_eq!(s.fork(&a), Some(&*e));
    assert!(!s.wants(&a));
    assert!(s.feed_info(&a).unwrap().forked);
    let mut served = Vec::new();
    crate::xsp::FeedSource::for_each_head(&s, &mut |h| served.push(*h));
    assert!(served.is_empty(), "a forked feed is not served");
    assert!(matches!(s.import_events(&src.local_head().unwrap(), &events), Err(StoreError::Forked(_))));
}

#[test]
fn restore_refuses_tampering() {
    let mut s = store_with(7, 30);
    let a = key(7).author();
    let state = s.feed_state(&a).unwrap();
    let pages: Vec<Vec<u8>> = (0..s.page_count(&a)).map(|p| s.page(&a, p).unwrap().into_owned()).collect();
    let try_restore = |state: &FeedState, pages: &[Vec<u8>]| {
        let mut r = Restore::new(None, config());
        r.feed(state, pages.iter().map(|p| &p[..])).map(|_| r.finish())
    };
    let back = try_restore(&state, &pages).unwrap();
    assert_eq!(back.head(&a), s.head(&a));
    // Missing page in the middle, pages swapped, wrong length, a head from elsewhere.
    let mut missing = pages.clone();
    missing.remove(3);
    assert!(matches!(try_restore(&state, &missing), Err(RestoreError::NotConsecutive { page: 3, .. })));
    let mut short = state.clone();
    short.len = 29;
    assert_eq!(try_restore(&short, &pages).unwrap_err(), RestoreError::StateMismatch { state: 29, events: 30 });
    let mut wrong_head = state.clone();
    wrong_head.head = Some(key(7).sign_head(30, Hash([9; 32])));
    assert_eq!(try_restore(&wrong_head, &pages).unwrap_err(), RestoreError::RootMismatch);
    // Events past the head with neither a pending head nor the key: refused.
    let mut old_head = state.clone();
    old_head.head = Some(key(7).sign_head(10, s.peaks_at(&a, 10).unwrap().root()));
    assert_eq!(try_restore(&old_head, &pages).unwrap_err(), RestoreError::Unverified { head: 10, events: 30 });
    // ... unless it is the local feed: the key signs a new head.
    let mut r = Restore::new(Some(key(7)), config());
    r.feed(&old_head, pages.iter().map(|p| &p[..])).unwrap();
    assert_eq!(r.finish().local_head().unwrap().length, 30);
    // Arrival runs must cover everything.
    s.append(NewEvent::new(1, b"one more")).unwrap();
    let mut r = Restore::new(None, config());
    let state = s.feed_state(&a).unwrap();
    let pages: Vec<Vec<u8>> = (0..s.page_count(&a)).map(|p| s.page(&a, p).unwrap().into_owned()).collect();
    r.feed(&state, pages.iter().map(|p| &p[..])).unwrap();
    assert_eq!(r.arrival([ArrivalRun { author: a, seqs: 0..30 }]), Err(RestoreError::Arrival));
    assert_eq!(r.arrival([ArrivalRun { author: a, seqs: 1..31 }]), Err(RestoreError::Arrival));
    r.arrival(s.arrival_runs()).unwrap();
    assert!(r.finish().iter_events().eq(s.iter_events()));
}

/// Version-1 page images (a store saved before version 2) restore to the same feed; a
/// version-1 image whose content differs from the packing rule is still refused.
#[test]
fn restore_reads_version_1_pages() {
    let s = store_with(8, 30);
    let a = key(8).author();
    let state = s.feed_state(&a).unwrap();
    let v1: Vec<Vec<u8>> = (0..s.page_count(&a))
        .map(|p| {
            let mut img = s.page(&a, p).unwrap().into_owned();
            assert_eq!(img[4], crate::page::PAGE_VERSION);
            img[4] = crate::page::PAGE_VERSION_1;
            let r = PageRef::parse_checksum_verified(&img, &config()).unwrap();
            let sum = r.header().compute_checksum(r.event_bytes());
            img[56..64].copy_from_slice(&sum.to_le_bytes());
            PageRef::parse(&img, &config()).unwrap();
            img
        })
        .collect();
    let mut r = Restore::new(None, config());
    r.feed(&state, v1.iter().map(|p| &p[..])).unwrap();
    let back = r.finish();
    assert_eq!(back.head(&a), s.head(&a));
    assert!(back.iter_feed(&a).eq(s.iter_feed(&a)));
    assert_eq!(back.page(&a, 0), s.page(&a, 0), "held as version 2");

    // What `same_page` lets differ: the version byte and the checksum, nothing else.
    let rebuilt = s.page(&a, 0).unwrap().into_owned();
    assert!(crate::page::same_page(&rebuilt, &v1[0]));
    assert!(crate::page::same_page(&rebuilt, &rebuilt));
    for at in [0usize, 5, 8, 12, 16, 24, 55, 64, 100, 1023] {
        let mut other = v1[0].clone();
        other[at] ^= 1;
        assert!(!crate::page::same_page(&rebuilt, &other), "byte {at}");
    }
    let mut v2_other_sum = rebuilt.clone();
    v2_other_sum[60] ^= 1;
    assert!(!crate::page::same_page(&rebuilt, &v2_other_sum), "a version-2 page's checksum counts");
}
