//! Torn and corrupted writes are detected by checksums: a clear error for the damaged range,
//! everything else still readable, nothing silently wrong.

mod store_files;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use store_files::{PAGE, page_seqs, seg};
use xaeroflux::{Core, CorruptReason, OpenError, ReadError};
use xaeroflux_core::mmr::Mmr;

fn payload(i: u64) -> Vec<u8> {
    format!("{i:06} {}", "p".repeat((i % 50) as usize)).into_bytes()
}

/// A closed store of `n` events in 1 KiB pages, 8 pages per segment.
fn make(n: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let core = Core::builder().with_page_size(PAGE as u32).with_segment_pages(8).open(&path).unwrap();
    let payloads: Vec<_> = (0..n).map(payload).collect();
    core.append_batch(payloads.iter().map(|p| p.as_slice())).unwrap();
    core.close().unwrap();
    (dir, path)
}

/// Every event reads back except those in `damaged`, which give `Corrupt` for exactly that range.
fn check_all_but(core: &Core, n: u64, damaged: &std::ops::Range<u64>) {
    let me = core.author();
    for i in 0..n {
        match core.get(&me, i) {
            Ok(Some(ev)) => {
                assert!(!damaged.contains(&i), "seq {i} in the damaged page was returned");
                assert_eq!(ev.payload(), payload(i).as_slice());
            }
            Err(ReadError::Corrupt { seqs, .. }) => {
                assert!(damaged.contains(&i), "seq {i} reported damaged");
                assert_eq!(&seqs, damaged);
            }
            other => panic!("seq {i}: {other:?}"),
        }
    }
    let mut errors = 0;
    let mut seen = 0;
    for item in core.iter_events() {
        match item {
            Ok(ev) => {
                assert!(!damaged.contains(&ev.seq()));
                assert_eq!(ev.payload(), payload(ev.seq()).as_slice());
                seen += 1;
            }
            Err(ReadError::Corrupt { seqs, .. }) => {
                assert_eq!(&seqs, damaged);
                errors += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(errors, 1, "one error for the damaged page");
    assert_eq!(seen, n - (damaged.end - damaged.start));
    let err = core.range(&me, 0..n).err().expect("a range over the damaged page fails");
    assert!(err.to_string().contains("damaged page"), "{err}");
    if damaged.start > 0 {
        assert_eq!(core.range(&me, 0..damaged.start).unwrap().count() as u64, damaged.start);
    }
    assert_eq!(core.range(&me, damaged.end..n).unwrap().count() as u64, n - damaged.end);
}

#[test]
fn flipped_byte_in_a_sealed_page() {
    let n = 800;
    let (_d, path) = make(n);
    let damaged = page_seqs(&path, 0, 3);
    assert!(!damaged.is_empty());
    let f = OpenOptions::new().write(true).read(true).open(seg(&path, 0)).unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, 3 * PAGE + 300).unwrap();
    f.write_all_at(&[b[0] ^ 0x10], 3 * PAGE + 300).unwrap();
    drop(f);
    let core = Core::open(&path).unwrap();
    check_all_but(&core, n, &damaged);
    match core.get(&core.author(), damaged.start) {
        Err(ReadError::Corrupt { reason: CorruptReason::Page(e), .. }) => {
            assert!(e.to_string().contains("checksum"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // The rest of the store still works: append, prove, reopen.
    core.append(core.new_event(b"after")).unwrap();
    core.inclusion_proof(&core.author(), n).unwrap();
}

#[test]
fn truncated_segment() {
    let n = 800;
    let (_d, path) = make(n);
    // Cut segment 1 after its fifth page: its pages 5.. are gone.
    let lost: Vec<_> = (5..8).map(|s| page_seqs(&path, 1, s)).collect();
    let f = OpenOptions::new().write(true).open(seg(&path, 1)).unwrap();
    f.set_len(5 * PAGE).unwrap();
    drop(f);
    let core = Core::open(&path).unwrap();
    let me = core.author();
    let damaged = lost[0].start..lost[2].end;
    let mut errors = 0;
    for item in core.iter_events() {
        match item {
            Ok(ev) => assert!(!damaged.contains(&ev.seq())),
            Err(ReadError::Corrupt { seqs, reason: CorruptReason::Truncated { segment: 1, .. }, .. }) => {
                assert!(lost.contains(&seqs), "{seqs:?}");
                errors += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(errors, 3, "one error per lost page");
    assert!(matches!(core.get(&me, damaged.start), Err(ReadError::Corrupt { .. })));
    assert_eq!(core.get(&me, damaged.end).unwrap().unwrap().payload(), payload(damaged.end).as_slice());
    assert_eq!(core.get(&me, 0).unwrap().unwrap().payload(), payload(0).as_slice());
}

#[test]
fn garbage_after_the_end_is_cleared_and_nothing_else_changes() {
    let n = 300;
    let (_d, path) = make(n);
    let segs: Vec<_> = std::fs::read_dir(path.join("segments")).unwrap().collect();
    let last = (segs.len() - 1) as u32;
    let file = seg(&path, last);
    let len = std::fs::metadata(&file).unwrap().len();
    // Garbage (and a fake page header) in the last segment's unused slots, as a torn commit leaves.
    let f = OpenOptions::new().write(true).open(&file).unwrap();
    f.write_all_at(&[0xAB; 700], len - 2 * PAGE + 10).unwrap();
    f.write_all_at(b"XFPG\x01\x00\x01\x00", len - PAGE).unwrap();
    drop(f);
    let core = Core::open(&path).unwrap();
    assert!(core.stats().repaired_bytes > 0, "the leftovers were zeroed");
    let me = core.author();
    let mut mmr = Mmr::new();
    for (i, ev) in core.iter_feed(&me).unwrap().enumerate() {
        assert_eq!(ev.payload(), payload(i as u64).as_slice());
        mmr.append(ev.leaf_hash());
    }
    assert_eq!(mmr.root(), core.mmr_root());
    assert_eq!(core.feed_len(&me), n);
    let more: Vec<_> = (n..n + 200).map(payload).collect();
    core.append_batch(more.iter().map(|p| p.as_slice())).unwrap();
    drop(core);
    let core = Core::open(&path).unwrap();
    assert_eq!(core.feed_len(&me), n + 200);
    assert_eq!(core.iter_events().filter(|e| e.is_ok()).count() as u64, n + 200);
}

#[test]
fn damaged_tail_of_the_local_feed_is_a_clear_open_error() {
    let n = 300;
    let (_d, path) = make(n);
    let segs: Vec<_> = std::fs::read_dir(path.join("segments")).unwrap().collect();
    let last = (segs.len() - 1) as u32;
    // Find the last non-empty slot of the last segment: the local feed's tail page.
    let f = OpenOptions::new().write(true).read(true).open(seg(&path, last)).unwrap();
    let mut slot = 0;
    for s in 0..8 {
        let mut m = [0u8; 4];
        f.read_exact_at(&mut m, s * PAGE).unwrap();
        if &m == b"XFPG" {
            slot = s;
        }
    }
    f.write_all_at(&[0xFF; 8], slot * PAGE + 100).unwrap();
    drop(f);
    match Core::open(&path) {
        Err(e @ OpenError::Corrupt { .. }) => assert!(e.to_string().contains("last page"), "{e}"),
        other => panic!("expected a clear error, got {other:?}"),
    }
}
