//! `Core::check_integrity`: a sound store passes, across checkpoints, imports and reopens; a
//! damaged page is reported with exactly its events, even after reads had checked it; the
//! check runs while the store is written.

mod store_files;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use store_files::{PAGE, page_seqs, seg};
use xaeroflux::{Core, CorruptReason, IntegrityProblem};
use xaeroflux_core::mmr::Mmr;
use xaeroflux_core::{AuthorKey, Event, EventFlags};

fn payload(i: u64) -> Vec<u8> {
    format!("{i:06} {}", "q".repeat((i % 70) as usize)).into_bytes()
}

fn open(path: &Path) -> Core {
    Core::builder().with_page_size(PAGE as u32).with_segment_pages(8).with_checkpoint_pages(16).open(path).unwrap()
}

/// Stores `n` events of another author's feed, in two verified imports (a head at each end).
fn import_feed(core: &Core, secret: u8, n: u64) {
    let key = AuthorKey::from_secret_bytes(&[secret; 32]);
    let events: Vec<Event> =
        (0..n).map(|i| Event::new(key.author(), i, i, 7, EventFlags::NONE, &payload(i + 1000))).collect();
    let refs: Vec<_> = events.iter().map(|e| e.as_ref()).collect();
    let mut mmr = Mmr::new();
    let half = n / 2;
    for e in &events[..half as usize] {
        mmr.append(e.leaf_hash());
    }
    core.store_verified(&key.sign_head(half, mmr.root()), &refs[..half as usize]).unwrap();
    for e in &events[half as usize..] {
        mmr.append(e.leaf_hash());
    }
    core.store_verified(&key.sign_head(n, mmr.root()), &refs[half as usize..]).unwrap();
}

/// A store with a local feed of 3 000 events (appended in many commits, across index
/// checkpoints) and two imported feeds.
fn make(path: &Path) -> u64 {
    let core = open(path);
    for chunk in 0..30u64 {
        let payloads: Vec<_> = (chunk * 100..chunk * 100 + 100).map(payload).collect();
        core.append_batch(payloads.iter().map(|p| p.as_slice())).unwrap();
        if chunk == 10 {
            import_feed(&core, 3, 700);
        }
    }
    import_feed(&core, 4, 450);
    core.close().unwrap();
    3000 + 700 + 450
}

#[test]
fn a_sound_store_passes_before_and_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let first = make(&path);
    for (round, total) in (first..first + 2).enumerate() {
        let core = open(&path);
        let mut calls = Vec::new();
        let report = core.check_integrity_with(|p| calls.push(p)).unwrap();
        assert!(report.is_ok(), "round {round}: {:?}", report.problems);
        assert_eq!(report.feeds, 3);
        assert_eq!(report.events, total);
        assert!(report.pages > total / 20, "{} pages", report.pages);
        let last = calls.last().expect("a final progress call");
        assert_eq!((last.events_checked, last.events_total), (total, total));
        // Appending (a new commit on the tail page, new MMR nodes in memory) keeps it sound.
        core.append(core.new_event(b"one more")).unwrap();
        assert!(core.check_integrity().unwrap().is_ok());
        drop(core);
    }
}

#[test]
fn a_byte_flipped_after_the_pages_were_read_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let total = make(&path);
    let core = open(&path);
    // Every page is read (and checked) once: reads will not check them again.
    assert_eq!(core.iter_events().filter(|e| e.is_ok()).count() as u64, total);
    let damaged = page_seqs(&path, 0, 5);
    assert!(!damaged.is_empty());
    let f = OpenOptions::new().read(true).write(true).open(seg(&path, 0)).unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, 5 * PAGE + 200).unwrap();
    f.write_all_at(&[b[0] ^ 0x04], 5 * PAGE + 200).unwrap();
    drop(f);
    assert!(core.get(&core.author(), damaged.start).is_ok(), "reads trust the page they checked");

    let report = core.check_integrity().unwrap();
    match report.problems.as_slice() {
        [IntegrityProblem::DamagedEvents { author, seqs, reason: CorruptReason::Page(e) }] => {
            assert_eq!(*author, core.author());
            assert_eq!(seqs, &damaged);
            assert!(e.to_string().contains("checksum"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(report.events, total, "the other feeds and pages are still read");
    let line = report.problems[0].to_string();
    assert!(
        line.starts_with("damaged page: feed ") && line.contains(&format!("events {}..{}", damaged.start, damaged.end)),
        "{line}"
    );
}

#[test]
fn a_truncated_segment_is_reported_as_the_events_it_held() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    make(&path);
    let lost: Vec<_> = (6..8).map(|s| page_seqs(&path, 1, s)).collect();
    let f = OpenOptions::new().write(true).open(seg(&path, 1)).unwrap();
    f.set_len(6 * PAGE).unwrap();
    drop(f);
    let core = open(&path);
    let report = core.check_integrity().unwrap();
    let damaged: Vec<_> = report
        .problems
        .iter()
        .map(|p| match p {
            IntegrityProblem::DamagedEvents { seqs, reason: CorruptReason::Truncated { segment: 1, .. }, .. } => {
                seqs.clone()
            }
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(damaged, lost);
}

#[test]
fn the_check_runs_while_the_store_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    make(&path);
    let core = open(&path);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            for i in 0..200 {
                core.append_batch([payload(i).as_slice(), b"x"]).unwrap();
            }
        });
        let mut checks = 0;
        while !writer.is_finished() || checks < 3 {
            let report = core.check_integrity().unwrap();
            assert!(report.is_ok(), "{:?}", report.problems);
            checks += 1;
        }
    });
    assert!(core.check_integrity().unwrap().is_ok());
}

/// Copies a closed store's directory (every file, one level of subdirectories).
fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_store(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The store that the property below damages, one copy at a time.
fn pristine() -> &'static Path {
    static STORE: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s");
            make(&path);
            (dir, path)
        })
        .1
}

/// Where the page whose slot holds byte `off` of a segment keeps its header and events, and
/// the first seq and author it holds: `None` for a slot without a page.
fn page_at(seg_bytes: &[u8], off: u64) -> Option<(std::ops::Range<u64>, u64, [u8; 32])> {
    let start = off / PAGE * PAGE;
    let h = seg_bytes.get(start as usize..start as usize + 64)?;
    let count = u32::from_le_bytes(h[8..12].try_into().unwrap());
    let used = u32::from_le_bytes(h[12..16].try_into().unwrap()) as u64;
    if &h[0..4] != b"XFPG" || count == 0 {
        return None;
    }
    let first = u64::from_le_bytes(h[16..24].try_into().unwrap());
    Some((start..start + 64 + used, first, h[24..56].try_into().unwrap()))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// Nothing silently wrong: one bit flipped anywhere in the segment files either makes the
    /// store refuse to open (the local feed's tail page) or, when it lands in a page's header
    /// or events, is reported by the check as that page's events; never a panic.
    #[test]
    fn any_flipped_bit_in_a_page_is_found_or_refused(pick in 0usize..1000, at in 0.0f64..1.0, bit in 0u8..8) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        copy_store(pristine(), &path);
        let mut segs: Vec<PathBuf> =
            std::fs::read_dir(path.join("segments")).unwrap().map(|e| e.unwrap().path()).collect();
        segs.sort();
        let seg_path = &segs[pick % segs.len()];
        let mut bytes = std::fs::read(seg_path).unwrap();
        let off = ((bytes.len() as f64 * at) as usize).min(bytes.len() - 1);
        let page = page_at(&bytes, off as u64);
        bytes[off] ^= 1 << bit;
        std::fs::write(seg_path, &bytes).unwrap();
        let Ok(core) = Core::builder().open(&path) else { return Ok(()) };
        let report = core.check_integrity().unwrap();
        if let Some((region, first, author)) = page
            && region.contains(&(off as u64))
        {
            let found = report.problems.iter().any(|p| matches!(p,
                IntegrityProblem::DamagedEvents { author: a, seqs, .. } if a.0 == author && seqs.contains(&first)));
            proptest::prop_assert!(found, "flip at {off} of {seg_path:?} (page from seq {first}): {:?}", report.problems);
        }
    }
}
