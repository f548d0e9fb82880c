//! Opening stores of older formats: the format number upgrade, and stores of version-1
//! pages (written before page version 2).

use std::path::Path;

use redb::ReadableDatabase as _;

use super::{FORMAT_VERSION, files, meta};
use crate::Core;

/// The format version in the marker and in the index.
fn versions(path: &Path) -> (u32, u32) {
    let marker = std::fs::read(path.join(files::MARKER)).unwrap();
    let db = redb::Database::open(path.join(files::INDEX_FILE)).unwrap();
    let rtx = db.begin_read().unwrap();
    let s = rtx.open_table(meta::SETTINGS).unwrap();
    let v = s.get(meta::K_FORMAT).unwrap().unwrap();
    let index = meta::u32_at(v.value(), 0).unwrap();
    (u32::from_le_bytes(marker[8..12].try_into().unwrap()), index)
}

fn set_versions(path: &Path, marker: u32, index: u32) {
    let m = path.join(files::MARKER);
    let mut b = std::fs::read(&m).unwrap();
    b[8..12].copy_from_slice(&marker.to_le_bytes());
    std::fs::write(&m, b).unwrap();
    let db = redb::Database::open(path.join(files::INDEX_FILE)).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(meta::SETTINGS).unwrap().insert(meta::K_FORMAT, index.to_le_bytes().as_slice()).unwrap();
    txn.commit().unwrap();
}

#[test]
fn an_older_format_is_upgraded_on_open_and_keeps_its_events() {
    let now = FORMAT_VERSION;
    assert_eq!(now, 3);
    // A store of each older format, or one number already raised by an upgrade that a
    // crash interrupted.
    for (marker, index) in [(1, 1), (2, 2), (now, 1), (1, now), (now, 2), (2, now)] {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path()).unwrap();
        let payloads: Vec<[u8; 4]> = (0..300u32).map(u32::to_le_bytes).collect();
        core.append_batch(payloads.iter().map(|p| p.as_slice())).unwrap();
        let root = core.mmr_root();
        core.close().unwrap();
        assert_eq!(versions(dir.path()), (now, now), "a new store is of the current format");

        set_versions(dir.path(), marker, index);
        let core = Core::open(dir.path()).unwrap();
        let m = std::fs::read(dir.path().join(files::MARKER)).unwrap();
        assert_eq!(m[8..12], now.to_le_bytes(), "the marker is raised by the open ({marker}, {index})");
        assert_eq!(core.mmr_root(), root);
        assert_eq!(core.iter_events().count(), 300);
        core.close().unwrap();
        assert_eq!(versions(dir.path()), (now, now), "the index too ({marker}, {index})");
        let core = Core::open(dir.path()).unwrap();
        core.append(core.new_event(b"after the upgrade")).unwrap();
        core.close().unwrap();
        let core = Core::open(dir.path()).unwrap();
        assert_eq!(core.feed_len(&core.author()), 301);
    }
}

/// Rewrites every version-2 page in the store's segments as version 1 (version byte and
/// its blake3 checksum), as a store written before page version 2 holds them, or only
/// counts them (`rewrite` false); returns (version-1 pages found, version-2 pages found).
fn pages_to_version_1(path: &Path, page_size: usize, rewrite: bool) -> (usize, usize) {
    use xaeroflux_core::hash::page_checksum_v1;
    let (mut v1, mut n) = (0, 0);
    for entry in std::fs::read_dir(path.join(files::SEGMENT_DIR)).unwrap() {
        let seg = entry.unwrap().path();
        let mut bytes = std::fs::read(&seg).unwrap();
        let mut at = 0;
        while at + page_size <= bytes.len() {
            let page = &mut bytes[at..];
            let span = usize::from(u16::from_le_bytes([page[6], page[7]])).max(1);
            if &page[..4] == b"XFPG" && page[4] == 1 {
                v1 += 1;
                at += span * page_size;
            } else if &page[..4] == b"XFPG" && page[4] == 2 {
                let used = u32::from_le_bytes(page[12..16].try_into().unwrap()) as usize;
                page[4] = 1;
                let mut head = page[..64].to_vec();
                head[56..64].fill(0);
                let sum = page_checksum_v1(&head, &page[64..64 + used]);
                page[56..64].copy_from_slice(&sum.to_le_bytes());
                n += 1;
                at += span * page_size;
            } else {
                at += page_size;
            }
        }
        if rewrite {
            std::fs::write(&seg, bytes).unwrap();
        }
    }
    (v1, n)
}

/// A store written before page version 2 (store format 2, version-1 pages) opens, reads,
/// proves and grows; its sealed pages stay version 1 on disk and its tail page becomes
/// version 2 at its next commit.
#[test]
fn a_store_of_version_1_pages_is_read_and_grows() {
    // Ending on a sealed overflow page, or on a tail page the next commit extends.
    for sealed_tail in [true, false] {
        grow_version_1_store(sealed_tail);
    }
}

fn grow_version_1_store(sealed_tail: bool) {
    let dir = tempfile::tempdir().unwrap();
    let open = || Core::builder().with_page_size(1024).with_segment_pages(16).open(dir.path()).unwrap();
    let core = open();
    for b in 0..10u32 {
        let payloads: Vec<Vec<u8>> = (0..50u32).map(|i| vec![(b * 50 + i) as u8; 60 + (i as usize % 7) * 40]).collect();
        core.append_batch(payloads.iter().map(Vec::as_slice)).unwrap();
    }
    if sealed_tail {
        core.append(core.new_event(&[9u8; 3000])).unwrap(); // an overflow page
    }
    let n = core.feed_len(&core.author());
    let root = core.mmr_root();
    let before: Vec<Vec<u8>> = core.iter_events().map(|e| e.unwrap().encoded().to_vec()).collect();
    core.close().unwrap();

    let (_, rewritten) = pages_to_version_1(dir.path(), 1024, true);
    assert!(rewritten > 30, "{rewritten} pages");
    set_versions(dir.path(), 2, 2);

    let core = open();
    assert_eq!(core.mmr_root(), root);
    let after: Vec<Vec<u8>> = core.iter_events().map(|e| e.unwrap().encoded().to_vec()).collect();
    assert_eq!(after, before);
    let me = core.author();
    let head = core.head();
    for seq in [0u64, 77, 250, 499, n - 1] {
        let ev = core.get(&me, seq).unwrap().unwrap();
        let proof = core.inclusion_proof(&me, seq).unwrap();
        crate::verify_event(&ev, &proof, &head).unwrap();
    }
    let payloads: Vec<Vec<u8>> = (0..120u32).map(|i| vec![i as u8; 90]).collect();
    core.append_batch(payloads.iter().map(Vec::as_slice)).unwrap();
    core.append(core.new_event(b"one more")).unwrap();
    let root = core.mmr_root();
    core.close().unwrap();

    let core = open();
    assert_eq!(core.mmr_root(), root);
    assert_eq!(core.iter_events().filter(|e| e.is_ok()).count() as u64, n + 121);
    core.close().unwrap();
    // The old pages are still version 1 but for a tail page the growth extended, which
    // became version 2; the new ones are version 2.
    let (v1, v2) = pages_to_version_1(dir.path(), 1024, false);
    assert_eq!(v1, if sealed_tail { rewritten } else { rewritten - 1 });
    assert!(v2 >= 10, "{v2} version-2 pages after growing");
}
