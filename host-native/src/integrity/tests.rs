//! The integrity check against a tampered index: each kind of stored fact it recomputes, once
//! wrong, is reported as exactly that problem.

use std::path::Path;

use redb::{ReadableDatabase as _, ReadableTable as _};
use xaeroflux_core::mmr::Mmr;
use xaeroflux_core::{AuthorKey, Event, EventFlags};

use super::{HeadProblem, IntegrityProblem};
use crate::Core;
use crate::store::files::INDEX_FILE;
use crate::store::meta::{self, FeedRow, PageRow, Run};

fn payload(i: u64) -> Vec<u8> {
    format!("{i:05} {}", "z".repeat((i % 40) as usize)).into_bytes()
}

fn open(path: &Path) -> Core {
    Core::builder().with_page_size(1024).with_segment_pages(16).open(path).unwrap()
}

/// A closed store: a local feed of 2 000 events and an imported feed of 300 (feed index 1).
fn make(path: &Path) {
    let core = open(path);
    for chunk in 0..20u64 {
        let payloads: Vec<_> = (chunk * 100..chunk * 100 + 100).map(payload).collect();
        core.append_batch(payloads.iter().map(|p| p.as_slice())).unwrap();
    }
    let key = AuthorKey::from_secret_bytes(&[5; 32]);
    let events: Vec<Event> =
        (0..300).map(|i| Event::new(key.author(), i, i, 0, EventFlags::NONE, &payload(i))).collect();
    let mut mmr = Mmr::new();
    for e in &events {
        mmr.append(e.leaf_hash());
    }
    let refs: Vec<_> = events.iter().map(|e| e.as_ref()).collect();
    core.store_verified(&key.sign_head(300, mmr.root()), &refs).unwrap();
    assert!(core.check_integrity().unwrap().is_ok());
    core.close().unwrap();
}

/// Rewrites the value of row `key` of `table` with `change`.
fn damage<K>(
    path: &Path,
    table: redb::TableDefinition<K, &[u8]>,
    key: K::SelfType<'static>,
    change: impl FnOnce(&mut Vec<u8>),
) where
    K: redb::Key + 'static,
    K::SelfType<'static>: Copy,
{
    let db = redb::Database::open(path.join(INDEX_FILE)).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(table).unwrap();
        let mut value = t.get(key).unwrap().expect("the row exists").value().to_vec();
        change(&mut value);
        t.insert(key, value.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

/// The key of the first MMR node the index keeps for feed `feed`.
fn first_node(path: &Path, feed: u32) -> (u32, u64) {
    let db = redb::Database::open(path.join(INDEX_FILE)).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(meta::NODES).unwrap();
    let (k, _) = t.range((feed, 0)..).unwrap().next().expect("a stored node").unwrap();
    k.value()
}

/// The feed numbers of the local and the imported feed.
fn feed_numbers(path: &Path) -> (u32, u32) {
    let db = redb::Database::open(path.join(INDEX_FILE)).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(meta::FEEDS).unwrap();
    let mut local = None;
    let mut other = None;
    for item in t.iter().unwrap() {
        let (k, v) = item.unwrap();
        let row = FeedRow::decode(v.value()).unwrap();
        *(if row.local { &mut local } else { &mut other }) = Some(k.value());
    }
    (local.unwrap(), other.unwrap())
}

fn problems(path: &Path) -> Vec<IntegrityProblem> {
    let core = open(path);
    let report = core.check_integrity().unwrap();
    assert_eq!(report.events, 2300, "every event is still read");
    report.problems
}

#[test]
fn a_wrong_stored_mmr_node_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    make(&path);
    let (local, _) = feed_numbers(&path);
    let key = first_node(&path, local);
    damage(&path, meta::NODES, key, |v| v[7] ^= 1);
    let me = open(&path).author();
    match problems(&path).as_slice() {
        [IntegrityProblem::Node { author, pos }] => assert_eq!((*author, *pos), (me, key.1)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_page_row_with_a_wrong_root_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    make(&path);
    let (_, other) = feed_numbers(&path);
    damage(&path, meta::PAGES, (other, 2), |v| v[40] ^= 0x80);
    let row = {
        let db = redb::Database::open(path.join(INDEX_FILE)).unwrap();
        let t = db.begin_read().unwrap().open_table(meta::PAGES).unwrap();
        PageRow::decode(t.get((other, 2)).unwrap().unwrap().value()).unwrap()
    };
    assert!(row.count > 0);
    match problems(&path).as_slice() {
        [IntegrityProblem::PageRow { page_no: 2, .. }] => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_wrong_stored_root_and_a_forged_head_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    make(&path);
    let (local, other) = feed_numbers(&path);
    // The local feed's stored peaks (after the fixed part and the head slot).
    damage(&path, meta::FEEDS, local, |v| {
        let last = v.len() - 1;
        v[last] ^= 1;
    });
    // The imported feed's head: its signature's last byte.
    damage(&path, meta::FEEDS, other, |v| v[61 + 129] ^= 1);
    let p = problems(&path);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(matches!(p[0], IntegrityProblem::Root { len: 2000, .. }), "{p:?}");
    assert!(matches!(&p[1], IntegrityProblem::Head { why: HeadProblem::Signature(_), .. }), "{p:?}");
}

#[test]
fn arrival_runs_that_skip_events_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    make(&path);
    // The first run (the local feed's 2 000 events) ends 10 events early.
    damage(&path, meta::RUNS, 0u64, |v| {
        let mut run = Run::decode(v).unwrap();
        run.end -= 10;
        v.copy_from_slice(&run.encode());
    });
    match problems(&path).as_slice() {
        [IntegrityProblem::ArrivalOrder { expected: 1990, found, .. }] => assert_eq!(found, &(1990..1990)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_page_index_that_disagrees_with_the_pages_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    make(&path);
    let (local, _) = feed_numbers(&path);
    let mut old = None;
    // Page 3 of the local feed is said to start one event later than it does.
    damage(&path, meta::PAGES, (local, 3), |v| {
        let mut row = PageRow::decode(v).unwrap();
        old = Some(row.first_seq);
        row.first_seq += 1;
        v.copy_from_slice(&row.encode());
    });
    let start = old.unwrap();
    let p = problems(&path);
    let damaged: Vec<_> = p
        .iter()
        .map(|p| match p {
            IntegrityProblem::DamagedEvents { seqs, .. } => seqs.clone(),
            other => panic!("{other}"),
        })
        .collect();
    // Page 2 is said to end one event later than it does, page 3 to start one later.
    assert_eq!(damaged.len(), 2, "{p:?}");
    assert!(damaged[0].start < start && damaged[0].end == start + 1, "{p:?}");
    assert!(damaged[1].start == start + 1 && damaged[1].end > start + 1, "{p:?}");
}

#[test]
fn fork_evidence_that_no_longer_proves_a_fork_is_found_and_an_undecodable_row_refuses_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let key = AuthorKey::from_secret_bytes(&[8; 32]);
    let author = key.author();
    {
        let core = open(dir.path());
        let (first, second) =
            (key.sign_head(2, xaeroflux_core::Hash([1; 32])), key.sign_head(2, xaeroflux_core::Hash([2; 32])));
        assert!(core.record_fork(&xaeroflux_core::xsp::ForkEvidence { first, second, proof: None }).unwrap());
        assert!(core.check_integrity().unwrap().is_ok());
        core.close().unwrap();
    }
    // The first head's root, changed: its signature no longer holds.
    let row: &'static [u8] = Box::leak(Box::new(*author.as_bytes()));
    damage(dir.path(), meta::FORKS, row, |v| v[1 + 40] ^= 1);
    {
        let core = open(dir.path());
        let report = core.check_integrity().unwrap();
        assert_eq!(report.problems, vec![IntegrityProblem::ForkEvidence { author: Some(author) }]);
        core.close().unwrap();
    }
    damage(dir.path(), meta::FORKS, row, |v| v.truncate(20));
    let Err(e) = Core::builder().open(dir.path()) else { panic!("a row that does not decode refuses the open") };
    assert!(matches!(e, crate::OpenError::Corrupt { .. }), "{e}");
}
