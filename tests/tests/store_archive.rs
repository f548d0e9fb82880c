//! `Core::archive_to` and `Core::restore_archive`: an archive brings back every feed byte for
//! byte (the author's own with its key, other feeds with their signed heads), the fork evidence
//! and the arrival order; without the key, every feed as a replica; archives of the browser's
//! in-memory store (the core's `MemStore::to_archive`) restore here and ours read there; a
//! damaged archive restores nothing; both write over nothing.

mod feed_setups;
#[allow(dead_code)]
mod store_files;

use std::os::unix::fs::PermissionsExt;

use feed_setups::*;
use store_files::PAGE;
use xaeroflux::{ArchiveWriteError, BackupError, Core, RestoreArchiveError, new_space_secret};
use xaeroflux_core::memstore::{ArchiveError, MemStore, read_archive};
use xaeroflux_core::{AuthorKey, EventRef};

fn store(path: &std::path::Path) -> Core {
    Core::builder().with_page_size(PAGE as u32).with_segment_pages(8).open(path).unwrap()
}

/// `n` payloads `"<prefix> <i>"`.
fn events(prefix: &str, n: u32) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{prefix} {i}").into_bytes()).collect()
}

/// Every event of a store in arrival order, as (author, seq).
fn arrival(core: &Core) -> Vec<(xaeroflux_core::AuthorId, u64)> {
    core.iter_events().map(|e| e.unwrap()).map(|e| (e.author(), e.seq())).collect()
}

#[test]
fn an_archive_restores_every_feed_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let core = store(&dir.path().join("s"));
    let secret = new_space_secret().unwrap();
    core.append(core.new_event(b"first").kind(3).timestamp_us(42)).unwrap();
    core.append(core.new_event(b"sealed").kind(7).encrypt(&secret).unwrap()).unwrap();
    let payloads: Vec<Vec<u8>> = (0..2_000u32).map(|i| format!("local {i}").into_bytes()).collect();
    core.append_batch(payloads.iter().map(Vec::as_slice)).unwrap();
    // Another store's feed in two imports between local appends; fork evidence.
    let other = store(&dir.path().join("o"));
    other.append_batch(payloads[..300].iter().map(Vec::as_slice)).unwrap();
    let evs: Vec<EventRef<'_>> = other.iter_feed(&other.author()).unwrap().collect();
    core.store_verified(&other.head(), &evs).unwrap();
    core.append(core.new_event(b"between")).unwrap();
    other.append_batch(payloads[..10].iter().map(Vec::as_slice)).unwrap();
    let more: Vec<EventRef<'_>> = other.range(&other.author(), 300..310).unwrap().collect();
    core.store_verified(&other.head(), &more).unwrap();
    core.record_fork(&fork_evidence()).unwrap();

    let file = dir.path().join("s.xfa");
    let report = core.archive_to(&file, true).unwrap();
    assert_eq!((report.feeds, report.events, report.key_of), (2, 2_003 + 310, Some(core.author())));
    assert_eq!(report.bytes, std::fs::metadata(&file).unwrap().len());
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "it holds the key");

    let restored = Core::restore_archive(&file, dir.path().join("r")).unwrap();
    assert_eq!((restored.feeds, restored.events, restored.key_of), (2, 2_313, Some(core.author())));
    let copy = Core::open(dir.path().join("r")).unwrap();
    assert_eq!(copy.author(), core.author());
    assert_same_feeds(&core, &copy);
    assert_eq!(copy.stats().total_events, core.stats().total_events);
    let sealed = copy.get(&copy.author(), 1).unwrap().unwrap();
    assert_eq!(sealed.decrypt(&secret).unwrap(), b"sealed");
    assert!(copy.check_integrity().unwrap().is_ok());
    // The restored store goes on as the same author.
    assert_eq!(copy.append(copy.new_event(b"next")).unwrap().seq, 2_003);
}

#[test]
fn an_archive_without_the_key_restores_as_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let core = store(&dir.path().join("s"));
    core.append_batch(events("event", 500).iter().map(Vec::as_slice)).unwrap();
    let file = dir.path().join("public.xfa");
    assert_eq!(core.archive_to(&file, false).unwrap().key_of, None);
    assert_ne!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o077, 0, "no key: an ordinary file");
    let report = Core::restore_archive(&file, dir.path().join("r")).unwrap();
    assert_eq!(report.key_of, None);
    let copy = Core::open(dir.path().join("r")).unwrap();
    assert_ne!(copy.author(), core.author());
    assert_eq!(copy.feed_len(&copy.author()), 0);
    assert_eq!(copy.feed_head(&core.author()), Some(core.head()));
    assert_eq!(copy.feed_len(&core.author()), 500);
}

/// Events a sync left past a feed's signed head, and a feed with no head yet, are not
/// archived (nothing proves them to a reader); everything else is.
#[test]
fn an_archive_holds_each_feed_up_to_its_signed_head() {
    let dir = tempfile::tempdir().unwrap();
    let core = store(&dir.path().join("s"));
    core.append(core.new_event(b"mine")).unwrap();
    let (past, _) = store_feed_past_its_head(&core, 5);
    let no_head = store_feed_without_head(&core, 6);
    let file = dir.path().join("a.xfa");
    core.archive_to(&file, true).unwrap();
    Core::restore_archive(&file, dir.path().join("r")).unwrap();
    let copy = Core::open(dir.path().join("r")).unwrap();
    let a = past.author().unwrap();
    assert_eq!(copy.feed_len(&a), 200);
    assert_eq!(copy.feed_head(&a), core.feed_head(&a));
    assert_eq!(copy.feed_len(&no_head), 0);
    assert_eq!(copy.feed_len(&copy.author()), 1);
}

/// The browser package's archives (`store.exportArchive()`: the core's `MemStore`) restore
/// as native stores, and native archives open in the core as the browser opens them.
#[test]
fn archives_move_between_the_browser_store_and_the_native_one() {
    let dir = tempfile::tempdir().unwrap();
    // Browser → native: a MemStore with its own feed and a replica.
    let key = AuthorKey::from_secret_bytes(&[21; 32]);
    let mut mem = MemStore::new(key.clone(), xaeroflux_core::page::PageConfig::new(PAGE as u32).unwrap());
    append_mem(&mut mem, 0, 400);
    let mut feed = mem_feed(22);
    append_mem(&mut feed, 0, 120);
    let evs: Vec<EventRef<'_>> = feed.iter_events().collect();
    mem.import_events(&feed.local_head().unwrap(), &evs).unwrap();
    append_mem(&mut mem, 400, 5);
    let file = dir.path().join("browser.xfa");
    std::fs::write(&file, mem.to_archive(true)).unwrap();
    Core::restore_archive(&file, dir.path().join("n")).unwrap();
    let native = Core::open(dir.path().join("n")).unwrap();
    assert_eq!(native.author(), key.author());
    assert_eq!(native.mmr_root(), mem.root(&key.author()).unwrap());
    assert_eq!(native.feed_head(&feed.author().unwrap()), feed.local_head());
    // The arrival order is kept within 8 MiB windows, as a backup keeps it: each feed's
    // events of a window together.
    assert_eq!(arrival(&native).len(), mem.event_count() as usize);
    native.append(native.new_event(b"native now")).unwrap();

    // Native → browser.
    let back = dir.path().join("native.xfa");
    native.archive_to(&back, true).unwrap();
    let opened = read_archive(&std::fs::read(&back).unwrap()).unwrap();
    assert_eq!(opened.author(), Some(key.author()));
    assert_eq!(opened.feed_len(&key.author()), 406);
    assert_eq!(opened.root(&key.author()), Some(native.mmr_root()));
    let order: Vec<_> = opened.iter_events().map(|e| (e.author(), e.seq())).collect();
    assert!(order == arrival(&native), "an archive keeps the native store's arrival order");
}

#[test]
fn a_damaged_archive_restores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let core = store(&dir.path().join("s"));
    core.append_batch(events("event", 300).iter().map(Vec::as_slice)).unwrap();
    let file = dir.path().join("a.xfa");
    core.archive_to(&file, true).unwrap();
    let good = std::fs::read(&file).unwrap();
    let dest = dir.path().join("r");
    for (what, bytes) in [
        ("flipped", {
            let mut b = good.clone();
            b[good.len() / 2] ^= 0x10;
            b
        }),
        ("cut", good[..good.len() - 100].to_vec()),
        ("not an archive", b"{\"type\":\"head\"}\n".to_vec()),
    ] {
        std::fs::write(&file, &bytes).unwrap();
        let err = Core::restore_archive(&file, &dest).unwrap_err();
        assert!(matches!(err, RestoreArchiveError::Archive(_)), "{what}: {err}");
        let err = Core::check_archive(&file, None, |_| {}).unwrap_err();
        assert!(matches!(err, RestoreArchiveError::Archive(_)), "{what}: {err}");
        assert!(!dest.exists(), "{what}: nothing written");
    }
    std::fs::write(&file, &good[..good.len() - 100]).unwrap();
    let err = Core::restore_archive(&file, &dest).unwrap_err();
    assert!(matches!(err, RestoreArchiveError::Archive(ArchiveError::Truncated)), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn archives_and_restores_write_over_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let core = store(&dir.path().join("s"));
    core.append(core.new_event(b"x")).unwrap();
    let file = dir.path().join("a.xfa");
    std::fs::write(&file, b"keep me").unwrap();
    assert!(matches!(core.archive_to(&file, true), Err(ArchiveWriteError::DestinationExists { .. })));
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    std::fs::remove_file(&file).unwrap();
    core.archive_to(&file, true).unwrap();
    // Over an existing store, or its own source: refused, untouched.
    let err = Core::restore_archive(&file, dir.path().join("s")).unwrap_err();
    assert!(matches!(err, RestoreArchiveError::Write(BackupError::DestinationExists { .. })), "{err}");
    assert!(err.to_string().contains("writes over nothing"), "{err}");
    assert_eq!(core.feed_len(&core.author()), 1);
    // No temporary file is left beside the archive.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

/// An archive made while another thread appends holds a prefix of the local feed that
/// verifies against its own signed head.
#[test]
fn an_archive_runs_while_the_store_is_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let core = store(&dir.path().join("s"));
    core.append_batch(events("before", 20_000).iter().map(Vec::as_slice)).unwrap();
    let file = dir.path().join("a.xfa");
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                core.append(core.new_event(format!("during {i}").as_bytes())).unwrap();
                i += 1;
            }
        });
        core.archive_to(&file, true).unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let mem = read_archive(&std::fs::read(&file).unwrap()).unwrap();
    let me = core.author();
    let n = mem.feed_len(&me);
    assert!(n >= 20_000);
    let proof = core.consistency_proof(&me, n).unwrap();
    proof.verify(&mem.root(&me).unwrap(), &core.head().root).unwrap();
}

/// An archive whose key is sealed with a password: restored as its author only with the
/// password (a wrong one fails before the file is read), readable as replicas' data by the
/// core without it; the browser's sealed archives restore here and ours open there.
#[test]
fn a_sealed_archive_restores_as_its_author_only_with_the_password() {
    use xaeroflux_core::memstore::{KdfParams, KeySeal, archive_header, check_archive, read_archive_with_password};
    let dir = tempfile::tempdir().unwrap();
    let core = store(&dir.path().join("s"));
    core.append_batch(events("mine", 300).iter().map(Vec::as_slice)).unwrap();
    let file = dir.path().join("sealed.xfa");
    let report = core.archive_sealed(&file, b"hunter2", |_| {}).unwrap();
    assert_eq!((report.key_of, report.sealed, report.events), (Some(core.author()), true, 300));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(matches!(core.archive_sealed(dir.path().join("empty.xfa"), b"", |_| {}), Err(ArchiveWriteError::Seal(_))));
    let bytes = std::fs::read(&file).unwrap();
    let header = archive_header(&bytes).unwrap();
    assert!(header.key.is_none());
    assert_eq!(header.sealed.map(|s| (s.author, s.params)), Some((core.author(), KdfParams::DEFAULT)));
    assert_eq!(check_archive(&bytes).unwrap().feeds[0].root, core.mmr_root(), "checked without the password");

    // Checked without restoring: its feeds without the password, the password with it.
    let checked = Core::check_archive(&file, None, |_| {}).unwrap();
    assert_eq!((checked.key_of, checked.sealed, checked.events, checked.feeds), (Some(core.author()), true, 300, 1));
    assert!(Core::check_archive(&file, Some(b"hunter2"), |_| {}).is_ok());
    let err = Core::check_archive(&file, Some(b"hunter"), |_| {}).unwrap_err();
    assert!(matches!(err, RestoreArchiveError::Archive(ArchiveError::WrongPassword)), "{err}");

    let dest = dir.path().join("r");
    let err = Core::restore_archive(&file, &dest).unwrap_err();
    assert!(matches!(err, RestoreArchiveError::Archive(ArchiveError::PasswordNeeded)), "{err}");
    let err = Core::restore_archive_with_password(&file, &dest, b"hunter3", |_| {}).unwrap_err();
    assert!(matches!(err, RestoreArchiveError::Archive(ArchiveError::WrongPassword)), "{err}");
    assert!(!dest.exists());
    let back = Core::restore_archive_with_password(&file, &dest, b"hunter2", |_| {}).unwrap();
    assert_eq!((back.key_of, back.sealed, back.events), (Some(core.author()), true, 300));
    let restored = Core::open(&dest).unwrap();
    assert_eq!((restored.author(), restored.mmr_root()), (core.author(), core.mmr_root()));
    assert_eq!(restored.append(restored.new_event(b"goes on")).unwrap().seq, 300);

    // The core opens ours; the browser's (a MemStore's) restores here.
    assert_eq!(read_archive_with_password(&bytes, b"hunter2").unwrap().root(&core.author()), Some(core.mmr_root()));
    let key = AuthorKey::from_secret_bytes(&[31; 32]);
    let mut mem = MemStore::new(key.clone(), xaeroflux_core::page::PageConfig::new(PAGE as u32).unwrap());
    append_mem(&mut mem, 0, 50);
    let seal = KeySeal { password: b"browser pw", salt: [3; 16], nonce: [4; 24], params: KdfParams::DEFAULT };
    std::fs::write(dir.path().join("b.xfa"), mem.to_archive_sealed(&seal, u64::MAX).unwrap()).unwrap();
    Core::restore_archive_with_password(dir.path().join("b.xfa"), dir.path().join("b"), b"browser pw", |_| {}).unwrap();
    let b = Core::open(dir.path().join("b")).unwrap();
    assert_eq!((b.author(), b.mmr_root()), (key.author(), mem.root(&key.author()).unwrap()));
}
