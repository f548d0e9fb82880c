//! The second pass's windows: the arrival order kept exactly when a window holds one page,
//! and a file changed between the passes refused.

use xaeroflux_core::AuthorKey;
use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;

use super::*;

fn key(b: u8) -> AuthorKey {
    AuthorKey::from_secret_bytes(&[b; 32])
}

/// A store whose feeds interleave: local appends between imports of two other feeds, in runs
/// of 1 to 13 events that start and end inside pages (1 KiB pages, events of 100–190 bytes).
fn interleaved() -> MemStore {
    let config = PageConfig::new(1024).expect("page size");
    let mut s = MemStore::new(key(1), config);
    let others: Vec<MemStore> = (2..4u8)
        .map(|b| {
            let mut o = MemStore::new(key(b), config);
            let payloads: Vec<Vec<u8>> = (0..300usize).map(|i| vec![b; 40 + i % 90]).collect();
            o.append_batch(payloads.iter().enumerate().map(|(i, p)| NewEvent::new(i as u64, p))).expect("append");
            o
        })
        .collect();
    let mut at = [0u64; 2];
    for step in 0..60u64 {
        let n = 1 + step * 7 % 13;
        match (step % 3) as usize {
            0 => {
                let payloads: Vec<Vec<u8>> = (0..n as usize).map(|i| vec![9; 60 + (i * 13) % 70]).collect();
                s.append_batch(payloads.iter().map(|p| NewEvent::new(step, p))).expect("append");
            }
            k => {
                let (o, b) = (&others[k - 1], k as u8 + 1);
                let a = key(b).author();
                let (from, to) = (at[k - 1], at[k - 1] + n);
                let head = key(b).sign_head(to, o.peaks_at(&a, to).expect("peaks").root());
                let events: Vec<_> = o.range(&a, from..to).collect();
                s.import_events(&head, &events).expect("import");
                at[k - 1] = to;
            }
        }
    }
    s
}

fn events_of(core: &Core) -> Vec<(AuthorId, u64, Vec<u8>)> {
    core.iter_events().map(|e| e.map(|e| (e.author(), e.seq(), e.encoded().to_vec())).expect("read")).collect()
}

#[test]
fn a_window_of_one_page_keeps_the_arrival_order_exactly() {
    let s = interleaved();
    let want: Vec<_> = s.iter_events().map(|e| (e.author(), e.seq(), e.encoded().to_vec())).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.xfa");
    std::fs::write(&file, s.to_archive(true)).expect("write");
    for (name, window) in [("one-page", 1024), ("default", WINDOW_BYTES)] {
        let dest = dir.path().join(name);
        let report = restore_in_windows(&file, &dest, None, window, &mut |_| {}).expect("restore");
        assert_eq!(report.events, want.len() as u64);
        let core = Core::open(&dest).expect("open");
        let got = events_of(&core);
        if window == 1024 {
            assert_eq!(got, want, "the arrival order, event for event");
        } else {
            let (mut got, mut want) = (got, want.clone());
            got.sort();
            want.sort();
            assert_eq!(got, want);
        }
        for f in s.feeds() {
            assert_eq!(core.feed_peaks(&f.author).map(|p| p.root()), s.root(&f.author));
        }
        assert_eq!(core.author(), key(1).author());
    }
}

#[test]
fn an_archive_changed_between_the_passes_restores_nothing() {
    let s = interleaved();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.xfa");
    let bytes = s.to_archive(true);
    for change in ["a flipped byte", "cut"] {
        std::fs::write(&path, &bytes).expect("write");
        let archive = ArchiveFile { file: File::open(&path).expect("open"), path: path.clone() };
        let scan = archive.scan(None, false, &mut |_| {}).expect("the archive checks out");
        let page = scan.pages[1][2];
        let mut changed = bytes.clone();
        match change {
            "cut" => changed.truncate(page.offset as usize + 10),
            _ => changed[page.offset as usize + page.len / 2] ^= 1,
        }
        std::fs::write(&path, &changed).expect("change");
        let copy = Core::open(dir.path().join(change)).expect("store");
        let feeds = scan.checked.feeds.iter().map(|f| FeedCopy::new(f.author, false, f.len, f.root, f.head)).collect();
        let mut copier = EventCopy::new(&copy, feeds);
        let err = archive.copy(&scan, 4096, &mut copier, &mut |_| {}).expect_err(change);
        assert!(matches!(err, RestoreArchiveError::Changed { .. }), "{change}: {err}");
        assert!(err.to_string().contains("changed while it was restored"), "{err}");
    }
}
