//! Reads on demand kept on disk (`NetConfig::with_fetch_cache_on_disk`): what a store read of
//! feeds it does not keep is answered again after a restart with no peer, verified again
//! from the files; a damaged file is refused and deleted; with the setting off nothing is
//! written or read. On 127.0.0.1, iroh only.

mod net_common;

use std::path::Path;
use std::time::Duration;

use net_common::*;
use xaeroflux::Core;
use xaeroflux::net::{Fetch, FetchedEvents, Replication};

const SIZE: usize = 256;
/// How long a read waits when no peer can answer: the answer must come from the disk.
const OFFLINE: Duration = Duration::from_millis(200);

/// A store at `dir` that keeps only the feeds it follows, its reads on disk or not.
fn sparse_node(dir: &Path, on_disk: bool) -> Core {
    Core::builder()
        .with_page_size(16 * 1024)
        .with_sync_backends(&["iroh"])
        .with_net_config(config().with_replication(Replication::Followed).with_fetch_cache_on_disk(on_disk))
        .open(dir)
        .unwrap()
}

fn kept_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("net.fetched")).map_or(0, |d| d.count())
}

/// The payloads `fetched` shows, by seq.
fn shown(fetched: &FetchedEvents) -> Vec<(u64, Vec<u8>)> {
    fetched.iter().map(|e| (e.seq(), e.payload().to_vec())).collect()
}

/// What `append_n(_, tag, _, SIZE)` appended at `seqs`.
fn appended(tag: u8, seqs: std::ops::Range<u64>) -> Vec<(u64, Vec<u8>)> {
    let all = payloads(tag, seqs.end as usize, SIZE);
    seqs.map(|s| (s, all[s as usize].clone())).collect()
}

#[test]
fn reads_on_demand_are_answered_again_after_a_restart_with_no_peer() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 1, 3_000, SIZE);
    let author = a.author();
    let b = sparse_node(db.path(), true);
    b.join_ticket(&a.ticket(space("kept")).unwrap()).unwrap();
    // A read larger than one XSP frame (several answers) and a read of the latest events.
    let all = b.fetch_events(&author, Fetch::Seqs(0..3_000), PATIENCE).unwrap();
    assert_eq!(shown(&all), appended(1, 0..3_000));
    let latest = b.fetch_events(&author, Fetch::Latest(20), PATIENCE).unwrap();
    assert_eq!(latest.seqs(), 2_980..3_000);
    drop(b);
    drop(a);
    assert!(kept_files(db.path()) >= 1);
    assert_eq!(b_feed_len(db.path(), &author), 0, "nothing of the feed is stored");

    // Restarted, with no peer at all: the reads come from the disk, verified again.
    let b = sparse_node(db.path(), true);
    for seqs in [0..3_000, 10..20, 2_999..3_000] {
        let again = b.fetch_events(&author, Fetch::Seqs(seqs.clone()), OFFLINE).unwrap();
        assert!(again.from_cache());
        assert_eq!(shown(&again), appended(1, seqs));
    }
    assert_eq!(b.fetch_events(&author, Fetch::Seqs(0..3_000), OFFLINE).unwrap().head(), all.head());
    for seq in [0, 1_234, 2_999] {
        let proved = b.fetch_proof(&author, seq, OFFLINE).unwrap();
        assert!(proved.from_cache());
        xaeroflux::verify_event(&proved.event(), proved.proof(), proved.head()).unwrap();
    }
    // The latest events are not answered with no peer to say which are the latest.
    assert!(b.fetch_events(&author, Fetch::Latest(20), OFFLINE).is_err());
    drop(b);
    let kept = std::fs::read_dir(db.path().join("net.fetched")).unwrap().count();
    copy_dir(&db.path().join("net.fetched"), &db.path().join("kept-copy"));
    // Cleared: gone from memory and, once sync stops, from the disk.
    let b = sparse_node(db.path(), true);
    assert_eq!(b.clear_fetch_cache().unwrap(), kept);
    assert!(b.fetch_events(&author, Fetch::Seqs(10..20), OFFLINE).is_err());
    drop(b);
    assert_eq!(kept_files(db.path()), 0);
    std::fs::remove_dir(db.path().join("net.fetched")).unwrap();
    std::fs::rename(db.path().join("kept-copy"), db.path().join("net.fetched")).unwrap();
    copy_dir(&db.path().join("net.fetched"), &db.path().join("kept-copy"));

    // Cleared with the store opened without sync: the files go at once; other names stay.
    std::fs::write(db.path().join("net.fetched").join("notes.txt"), b"mine").unwrap();
    let offline = Core::open(db.path()).unwrap();
    assert_eq!(offline.clear_fetch_cache().unwrap(), kept);
    assert_eq!(kept_files(db.path()), 1, "only notes.txt is left");
    drop(offline);
    std::fs::remove_dir_all(db.path().join("net.fetched")).unwrap();
    std::fs::rename(db.path().join("kept-copy"), db.path().join("net.fetched")).unwrap();

    // Damaged files are refused and deleted: nothing unverified is shown.
    for f in std::fs::read_dir(db.path().join("net.fetched")).unwrap() {
        let path = f.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
    }
    let b = sparse_node(db.path(), true);
    assert!(b.fetch_events(&author, Fetch::Seqs(10..20), OFFLINE).is_err());
    assert_eq!(kept_files(db.path()), 0);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
    }
}

/// The length of `author`'s feed in the store at `dir` (opened without sync).
fn b_feed_len(dir: &Path, author: &xaeroflux::xaeroflux_core::AuthorId) -> u64 {
    let core = Core::builder().with_page_size(16 * 1024).open(dir).unwrap();
    core.feed_len(author)
}

#[test]
fn with_the_disk_cache_off_reads_are_kept_in_memory_only() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node_with(da.path(), &["iroh"]);
    append_n(&a, 2, 500, SIZE);
    let author = a.author();
    let b = sparse_node(db.path(), false);
    b.join_ticket(&a.ticket(space("not kept")).unwrap()).unwrap();
    b.fetch_events(&author, Fetch::Seqs(0..500), PATIENCE).unwrap();
    assert!(b.fetch_events(&author, Fetch::Seqs(0..10), OFFLINE).unwrap().from_cache(), "in memory");
    drop(b);
    assert_eq!(kept_files(db.path()), 0);
    // Reads kept by a run with it on are not read by a run with it off.
    let b = sparse_node(db.path(), true);
    b.join_ticket(&a.ticket(space("not kept")).unwrap()).unwrap();
    b.fetch_events(&author, Fetch::Seqs(0..500), PATIENCE).unwrap();
    drop(b);
    drop(a);
    assert!(kept_files(db.path()) >= 1);
    let b = sparse_node(db.path(), false);
    assert!(b.fetch_events(&author, Fetch::Seqs(0..10), OFFLINE).is_err());
    assert!(kept_files(db.path()) >= 1, "left as they are");
}
