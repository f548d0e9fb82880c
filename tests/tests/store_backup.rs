//! `Core::backup_to`: a backup holds every feed byte for byte (the local feed with its kinds,
//! flags, timestamps and sealed payloads; other authors' feeds with their signed heads, also a
//! feed with no head yet and one holding events past its head), the fork evidence and the
//! author key; it runs while the store is appended to; it writes over nothing and leaves
//! nothing behind when it fails.

mod feed_setups;
mod store_files;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use feed_setups::*;
use store_files::{PAGE, page_seqs, seg};
use xaeroflux::{BackupError, Core, EventFlags, ReadError, new_space_secret, verify_event};
use xaeroflux_core::memstore::MemStore;
use xaeroflux_core::{AuthorKey, EventRef};

#[test]
fn a_backup_holds_every_feed_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::builder().with_page_size(PAGE as u32).with_segment_pages(8).open(dir.path().join("s")).unwrap();
    let secret = new_space_secret().unwrap();
    // The local feed: kinds, flags, timestamps, a sealed payload, many pages.
    core.append(core.new_event(b"first").kind(3).timestamp_us(42)).unwrap();
    core.append(core.new_event(b"sealed").kind(7).encrypt(&secret).unwrap()).unwrap();
    core.append(core.new_event(b"flagged").flags(EventFlags::NONE).timestamp_us(7)).unwrap();
    let payloads: Vec<Vec<u8>> = (0..3_000u32).map(|i| format!("local {i}").into_bytes()).collect();
    core.append_batch(payloads.iter().map(Vec::as_slice)).unwrap();

    // Another store's feed, stored with its head, in two imports between local appends.
    let other = Core::builder().with_page_size(PAGE as u32).open(dir.path().join("o")).unwrap();
    other.append_batch(payloads[..500].iter().map(Vec::as_slice)).unwrap();
    let evs: Vec<EventRef<'_>> = other.iter_feed(&other.author()).unwrap().collect();
    let head500 = other.head();
    core.store_verified(&head500, &evs).unwrap();
    core.append(core.new_event(b"between")).unwrap();
    other.append_batch(payloads[..10].iter().map(Vec::as_slice)).unwrap();
    let more: Vec<EventRef<'_>> = other.range(&other.author(), 500..510).unwrap().collect();
    core.store_verified(&other.head(), &more).unwrap();

    // A feed with events and no head yet; a feed holding events past its stored head.
    store_feed_without_head(&core, 5);
    let (past, rest) = store_feed_past_its_head(&core, 6);
    let past_author = past.author().unwrap();
    // Fork evidence against a fourth author.
    core.record_fork(&fork_evidence()).unwrap();

    // The sync's files: what the user chose and learnt is copied, the node's identity is not.
    let src = core.path().to_path_buf();
    std::fs::write(src.join("net.follows"), b"follows").unwrap();
    std::fs::write(src.join("net.peers"), b"peers").unwrap();
    std::fs::write(src.join("net.key"), b"node key").unwrap();
    std::fs::write(src.join("net.port"), b"port").unwrap();
    std::fs::create_dir(src.join("net.fetched")).unwrap();
    std::fs::write(src.join("net.fetched").join("kept"), b"kept read").unwrap();
    std::fs::write(src.join("net.fetched").join("kept.tmp"), b"half written").unwrap();

    let mut calls = 0;
    let report = core
        .backup_with(dir.path().join("b"), |p| {
            calls += 1;
            assert!(p.events_copied <= p.events_total);
        })
        .unwrap();
    assert!(calls >= 1);
    let total: u64 = core.feeds().iter().map(|f| f.len).sum();
    assert_eq!((report.feeds, report.events, report.forks), (core.feeds().len() as u64, total, 1));
    assert!(!dir.path().join(".b.backup-partial").exists());

    let b = dir.path().join("b");
    assert_eq!(std::fs::read(b.join("net.follows")).unwrap(), b"follows");
    assert_eq!(std::fs::read(b.join("net.peers")).unwrap(), b"peers");
    assert_eq!(std::fs::read(b.join("net.fetched").join("kept")).unwrap(), b"kept read");
    assert!(!b.join("net.key").exists() && !b.join("net.port").exists() && !b.join("net.fetched/kept.tmp").exists());

    let copy = Core::open(&b).unwrap();
    assert_eq!(copy.author(), core.author());
    assert_eq!(copy.page_size(), core.page_size());
    assert_same_feeds(&core, &copy);
    let sealed = copy.get(&copy.author(), 1).unwrap().unwrap();
    assert_eq!(sealed.decrypt(&secret).unwrap(), b"sealed");
    assert_eq!(copy.get(&copy.author(), 0).unwrap().unwrap().timestamp_us(), 42);
    // The backup proves what the source signed, and goes on as the same author.
    let proof = copy.inclusion_proof(&core.author(), 2_000).unwrap();
    verify_event(&copy.get(&core.author(), 2_000).unwrap().unwrap(), &proof, &core.head()).unwrap();
    assert!(copy.check_integrity().unwrap().is_ok());
    copy.append(copy.new_event(b"after the restore")).unwrap();
    assert_eq!(copy.feed_len(&copy.author()), core.feed_len(&core.author()) + 1);
    // Events past the head stay importable: the rest of the second sync completes the feed.
    copy.store_batches(&rest).unwrap();
    assert_eq!(copy.feed_head(&past_author), past.local_head());
}

#[test]
fn feeds_arriving_interleaved_are_backed_up() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::builder().with_page_size(PAGE as u32).open(dir.path().join("s")).unwrap();
    let mut feeds: Vec<MemStore> = (0..40u8).map(|i| mem_feed(100 + i)).collect();
    // Three rounds: each feed grows by a few events per round, stored feed after feed, with
    // local appends between the rounds.
    for round in 0..3u64 {
        for (i, m) in feeds.iter_mut().enumerate() {
            let author = m.author().unwrap();
            let from = m.feed_len(&author);
            append_mem(m, from, 1 + (i as u64 + round) % 4);
            let head = m.local_head().unwrap();
            let evs: Vec<EventRef<'_>> = m.range(&author, from..head.length).collect();
            core.store_verified(&head, &evs).unwrap();
        }
        core.append_batch([&b"local"[..], b"between rounds"]).unwrap();
    }
    let report = core.backup_to(dir.path().join("b")).unwrap();
    assert_eq!(report.feeds, 41);
    let copy = Core::open(dir.path().join("b")).unwrap();
    assert_same_feeds(&core, &copy);
    let integrity = copy.check_integrity().unwrap();
    assert!(integrity.is_ok(), "{:?}", integrity.problems);
    assert_eq!(copy.iter_events().count(), core.iter_events().count());
}

#[test]
fn a_backup_runs_while_the_store_is_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::builder().open(dir.path().join("s")).unwrap();
    let payload = [5u8; 256];
    // More than one write window (8 MiB) of events.
    for _ in 0..60 {
        core.append_batch(std::iter::repeat_n(&payload[..], 1_000)).unwrap();
    }
    let before = core.feed_len(&core.author());
    let stop = AtomicBool::new(false);
    let report = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                core.append_batch(std::iter::repeat_n(&b"meanwhile"[..], 100)).unwrap();
                n += 100;
            }
            n
        });
        let report = core.backup_to(dir.path().join("b"));
        stop.store(true, Ordering::Relaxed);
        assert!(writer.join().unwrap() > 0, "appends ran beside the backup");
        report.unwrap()
    });
    assert!(report.events >= before && report.events < core.feed_len(&core.author()));
    let copy = Core::open(dir.path().join("b")).unwrap();
    let me = core.author();
    assert_eq!(copy.feed_len(&me), report.events);
    // The backup is the source's prefix at its length: the source proves it consistent.
    let proof = core.consistency_proof(&me, report.events).unwrap();
    xaeroflux::verify_consistency(&copy.head(), &core.head(), &proof).unwrap();
    for (a, b) in core.iter_feed(&me).unwrap().zip(copy.iter_feed(&me).unwrap()) {
        assert_eq!(a.encoded(), b.encoded());
    }
}

#[test]
fn a_backup_writes_over_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(dir.path().join("s")).unwrap();
    core.append(core.new_event(b"x")).unwrap();
    // An empty directory at the destination is refused too, and left as it was.
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let e = core.backup_to(dir.path().join("empty")).unwrap_err();
    assert!(matches!(e, BackupError::DestinationExists { .. }), "{e}");
    assert!(dir.path().join("empty").read_dir().unwrap().next().is_none());
    std::fs::write(dir.path().join("file"), b"mine").unwrap();
    assert!(matches!(core.backup_to(dir.path().join("file")), Err(BackupError::DestinationExists { .. })));
    assert_eq!(std::fs::read(dir.path().join("file")).unwrap(), b"mine");
    // The source itself.
    assert!(matches!(core.backup_to(core.path()), Err(BackupError::DestinationExists { .. })));

    // An interrupted backup's leftover is replaced; anything else under its name is refused.
    let leftover = dir.path().join(".b.backup-partial");
    std::fs::create_dir_all(leftover.join("segments")).unwrap();
    core.backup_to(dir.path().join("b")).unwrap();
    assert!(!leftover.exists());
    std::fs::create_dir(dir.path().join(".c.backup-partial")).unwrap();
    std::fs::write(dir.path().join(".c.backup-partial").join("notes.txt"), b"mine").unwrap();
    let e = core.backup_to(dir.path().join("c")).unwrap_err();
    assert!(matches!(e, BackupError::DestinationExists { .. }), "{e}");
    assert!(dir.path().join(".c.backup-partial").join("notes.txt").exists());
    assert!(!dir.path().join("c").exists());
}

#[test]
fn a_damaged_page_fails_the_backup_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let core = Core::builder().with_page_size(PAGE as u32).with_segment_pages(8).open(&path).unwrap();
    let payloads: Vec<Vec<u8>> = (0..800u32).map(|i| format!("{i:06} event").into_bytes()).collect();
    core.append_batch(payloads.iter().map(Vec::as_slice)).unwrap();
    core.close().unwrap();
    let damaged = page_seqs(&path, 0, 3);
    flip(&path, 3 * PAGE + 300);
    let core = Core::open(&path).unwrap();
    match core.backup_to(dir.path().join("b")) {
        Err(BackupError::Read(ReadError::Corrupt { seqs, .. })) => assert_eq!(seqs, damaged),
        other => panic!("{other:?}"),
    }
    assert!(!dir.path().join("b").exists());
    assert!(!dir.path().join(".b.backup-partial").exists());
}

fn flip(store: &Path, offset: u64) {
    let f = OpenOptions::new().write(true).read(true).open(seg(store, 0)).unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).unwrap();
    f.write_all_at(&[b[0] ^ 0x10], offset).unwrap();
}

#[test]
fn an_update_copies_only_what_the_backup_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::builder().with_page_size(PAGE as u32).open(dir.path().join("s")).unwrap();
    let payloads: Vec<Vec<u8>> = (0..2_000u32).map(|i| format!("local {i}").into_bytes()).collect();
    core.append_batch(payloads.iter().map(Vec::as_slice)).unwrap();
    let (past, rest) = store_feed_past_its_head(&core, 6);
    let past_author = past.author().unwrap();
    // Its head comes later, with no events.
    let no_head_author = store_feed_without_head(&core, 5);

    let b = dir.path().join("b");
    let first_report = core.backup_to(&b).unwrap();
    // Nothing new: nothing copied.
    let same = core.update_backup(&b).unwrap();
    assert_eq!((same.events, same.events_before), (0, first_report.events));
    assert_same_feeds(&core, &Core::open(&b).unwrap());

    // New local events, the rest of a feed (reaching its head), a new feed, fork evidence,
    // a head alone.
    let past_len = core.feed_len(&past_author);
    core.append_batch(payloads[..300].iter().map(Vec::as_slice)).unwrap();
    let held = core.feed_peaks(&no_head_author).unwrap();
    let late_head = AuthorKey::from_secret_bytes(&[5; 32]).sign_head(held.leaves(), held.root());
    core.store_verified(&late_head, &[]).unwrap();
    assert_eq!(core.feed_head(&no_head_author), Some(late_head));
    core.store_batches(&rest).unwrap();
    assert_eq!(core.feed_head(&past_author), past.local_head());
    let mut newcomer = mem_feed(9);
    append_mem(&mut newcomer, 0, 50);
    let evs: Vec<EventRef<'_>> = newcomer.iter_feed(&newcomer.author().unwrap()).collect();
    core.store_verified(&newcomer.local_head().unwrap(), &evs).unwrap();
    core.record_fork(&fork_evidence()).unwrap();
    let before: u64 = Core::open(&b).unwrap().feeds().iter().map(|f| f.len).sum();
    let report = core.update_backup(&b).unwrap();
    assert_eq!((report.events, report.events_before, report.forks), (300 + (500 - past_len) + 50, before, 1));
    let copy = Core::open(&b).unwrap();
    assert_same_feeds(&core, &copy);
    assert!(copy.check_integrity().unwrap().is_ok());
    drop(copy);

    // A backup written to is no longer a prefix: refused, nothing written.
    let copy = Core::open(&b).unwrap();
    copy.append(copy.new_event(b"written in the backup")).unwrap();
    drop(copy);
    core.append(core.new_event(b"and in the store")).unwrap();
    match core.update_backup(&b) {
        Err(BackupError::Mismatch { author, .. }) => assert_eq!(author, core.author()),
        other => panic!("{other:?}"),
    }
    // Not a backup of this store: another store, or no store.
    let other = Core::open(dir.path().join("o")).unwrap();
    other.append(other.new_event(b"x")).unwrap();
    drop(other);
    assert!(matches!(core.update_backup(dir.path().join("o")), Err(BackupError::NotABackup { .. })));
    assert!(matches!(core.update_backup(dir.path().join("none")), Err(BackupError::NotABackup { .. })));
    assert!(!dir.path().join("none").exists());
}
