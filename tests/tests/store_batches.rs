//! `Core::store_batches`, the hook the network sync stores verified XSP batches with: it stores
//! partial batches (events verified through a consistency proof, head kept) and complete ones
//! (head adopted), skips what another session stored first, and checks everything again, so a
//! batch altered after its session verified it is refused with nothing stored.

use xaeroflux::{Core, ImportError};
use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::{Config, Event, Pair, Role, Session, VerifiedBatch};
use xaeroflux_core::{AuthorKey, Hash};

const PAGE: u32 = 4096;

/// The verified batches of a fresh replica syncing `n` events of 200 B from a MemStore, in
/// small frames (so most batches end before the head and carry a consistency proof).
fn batches(n: u64) -> (MemStore, Vec<VerifiedBatch>) {
    batches_of(4, n)
}

/// As [`batches`], for the author of secret `[secret; 32]`.
fn batches_of(secret: u8, n: u64) -> (MemStore, Vec<VerifiedBatch>) {
    let pages = PageConfig::new(PAGE).unwrap();
    let mut src = MemStore::new(AuthorKey::from_secret_bytes(&[secret; 32]), pages);
    let payload = [7u8; 200];
    src.append_batch((0..n).map(|i| NewEvent::new(1_000 + i, &payload))).unwrap();
    let config = Config::new([1; 32]).with_page_size(PAGE).unwrap().with_live(false).with_target_frame(8 * 1024);
    let mut pair = Pair::new(
        Session::new(config.clone(), Role::Initiator, 0, src.clone()),
        Session::new(config, Role::Responder, 0, MemStore::replica(pages)),
    );
    let exchange = pair.drive();
    assert!(exchange.quiet);
    let out = exchange.b.into_iter().filter_map(|e| if let Event::Verified(v) = e { Some(v) } else { None }).collect();
    (src, out)
}

#[test]
fn partial_and_complete_batches_are_stored_and_checked_again() {
    let (src, list) = batches(400);
    let author = src.author().unwrap();
    assert!(list.len() > 3 && list.iter().filter(|b| !b.complete).count() >= 2, "several partial batches");
    let dir = tempfile::tempdir().unwrap();
    let core = Core::builder().with_page_size(PAGE).open(dir.path()).unwrap();

    // Altered copies of the first batch are refused, and nothing is stored.
    let first = &list[0];
    let mut forged = first.clone();
    forged.head.signature[3] ^= 1;
    assert!(matches!(core.store_batches(std::slice::from_ref(&forged)), Err(ImportError::BadHead(_))));
    let mut other_peaks = first.clone();
    other_peaks.peaks = list[1].peaks.clone();
    assert!(core.store_batches(std::slice::from_ref(&other_peaks)).is_err());
    let mut no_proof = first.clone();
    no_proof.proof = None;
    assert!(!first.complete && core.store_batches(std::slice::from_ref(&no_proof)).is_err());
    let mut wrong_root = first.clone();
    wrong_root.head.root = Hash([9; 32]);
    assert!(core.store_batches(std::slice::from_ref(&wrong_root)).is_err());
    assert!(matches!(core.store_batches(&list[1..2]), Err(ImportError::NotNext { expected: 0, .. })), "a gap");
    assert_eq!(core.feed_len(&author), 0, "nothing stored by refused batches");

    // Partial batches: events stored, no head yet (the store has none to announce).
    let r = core.store_batches(&list[..2]).unwrap();
    assert_eq!(r, 0..list[1].end_seq());
    assert_eq!(core.feed_len(&author), list[1].end_seq());
    assert!(core.feed_head(&author).is_none());
    // Replaying what is stored stores nothing; an overlapping run stores only the new part.
    assert_eq!(core.store_batches(&list[..1]).unwrap(), r.end..r.end);
    let r2 = core.store_batches(&list[1..3]).unwrap();
    assert_eq!(r2, list[1].end_seq()..list[2].end_seq());
    // The rest, ending with the complete batch: the head is adopted; everything matches.
    core.store_batches(&list[3..]).unwrap();
    assert_eq!(core.feed_len(&author), 400);
    assert_eq!(core.feed_head(&author), src.local_head());
    for (i, ev) in core.iter_feed(&author).unwrap().enumerate() {
        assert_eq!(ev.encoded(), src.get(&author, i as u64).unwrap().encoded());
    }
    // Survives a reopen.
    drop(core);
    let core = Core::open(dir.path()).unwrap();
    assert_eq!(core.feed_len(&author), 400);
    assert_eq!(core.feed_head(&author), src.local_head());
}

#[test]
fn runs_of_many_feeds_are_stored_with_one_checkpoint_each_checked_alone() {
    let feeds: Vec<(MemStore, Vec<VerifiedBatch>)> = (10..40).map(|s| batches_of(s, 60 + u64::from(s))).collect();
    let dir = tempfile::tempdir().unwrap();
    let core = Core::builder().with_page_size(PAGE).open(dir.path()).unwrap();
    let checkpoints = || core.stats().checkpoints;
    let before = checkpoints();

    // Every feed's batches as one run, but: feed 3's head forged (refused alone), feed 5 in two
    // runs (the second committed after the first), and feed 7's run replayed (nothing new).
    let mut forged = feeds[3].1.clone();
    if let Some(last) = forged.last_mut() {
        last.head.signature[0] ^= 1;
    }
    let split = feeds[5].1.len() / 2;
    assert!(split > 0, "feed 5 came in several batches");
    let mut runs: Vec<&[VerifiedBatch]> = Vec::new();
    for (i, (_, list)) in feeds.iter().enumerate() {
        match i {
            3 => runs.push(&forged),
            5 => runs.push(&list[..split]),
            _ => runs.push(list),
        }
    }
    runs.push(&feeds[5].1[split..]);
    runs.push(&feeds[7].1);
    let results = core.store_batch_runs(&runs);
    assert_eq!(results.len(), runs.len());
    for (i, r) in results.iter().enumerate() {
        match i {
            3 => assert!(matches!(r, Err(ImportError::BadHead(_))), "{r:?}"),
            _ if i == feeds.len() + 1 => assert!(matches!(r, Ok(s) if s.is_empty()), "a replay stores nothing: {r:?}"),
            _ => assert!(matches!(r, Ok(s) if !s.is_empty()), "run {i}: {r:?}"),
        }
    }
    // Two writer requests (feed 5's second run waits for its first): two checkpoints, not one
    // per feed.
    assert_eq!(checkpoints() - before, 2, "one index checkpoint per group");
    let check = |core: &Core| {
        let report = core.check_integrity().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        for (i, (src, _)) in feeds.iter().enumerate() {
            let author = src.author().unwrap();
            if i == 3 {
                assert_eq!(core.feed_len(&author), 0, "the refused run stored nothing");
                continue;
            }
            assert_eq!(core.feed_head(&author), src.local_head(), "feed {i}");
            for (seq, ev) in core.iter_feed(&author).unwrap().enumerate() {
                assert_eq!(ev.encoded(), src.get(&author, seq as u64).unwrap().encoded());
            }
        }
    };
    check(&core);
    drop(core);
    check(&Core::open(dir.path()).unwrap());
}

#[test]
fn runs_of_known_feeds_in_one_group_rewrite_their_tail_pages_and_survive_a_reopen() {
    // Each feed in several batches: the first ones stored in one call, the rest in another,
    // which extends every feed's tail page in place (one sync of the log for all of them).
    let feeds: Vec<(MemStore, Vec<VerifiedBatch>)> = (50..70).map(|s| batches_of(s, 150 + u64::from(s))).collect();
    assert!(feeds.iter().all(|(_, l)| l.len() > 2), "several batches per feed");
    let dir = tempfile::tempdir().unwrap();
    let core = Core::builder().with_page_size(PAGE).open(dir.path()).unwrap();
    let first: Vec<&[VerifiedBatch]> = feeds.iter().map(|(_, l)| &l[..1]).collect();
    let rest: Vec<&[VerifiedBatch]> = feeds.iter().map(|(_, l)| &l[1..]).collect();
    for r in core.store_batch_runs(&first) {
        assert!(matches!(&r, Ok(s) if !s.is_empty()), "{r:?}");
    }
    let (syncs, checkpoints) = (core.stats().syncs, core.stats().checkpoints);
    let results = core.store_batch_runs(&rest);
    for (r, (_, list)) in results.iter().zip(&feeds) {
        assert_eq!(r.as_ref().ok(), Some(&(list[0].end_seq()..list.last().unwrap().end_seq())));
    }
    assert_eq!(core.stats().checkpoints - checkpoints, 1, "one index checkpoint");
    assert!(core.stats().syncs - syncs < 10, "a few syncs for 20 feeds, not one each");
    let check = |core: &Core| {
        let report = core.check_integrity().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        for (src, _) in &feeds {
            let author = src.author().unwrap();
            assert_eq!(core.feed_head(&author), src.local_head());
            for (seq, ev) in core.iter_feed(&author).unwrap().enumerate() {
                assert_eq!(ev.encoded(), src.get(&author, seq as u64).unwrap().encoded());
            }
        }
    };
    check(&core);
    drop(core);
    check(&Core::open(dir.path()).unwrap());
}
