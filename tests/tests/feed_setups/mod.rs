//! Set-ups shared by the tests of backups and archives (`store_backup.rs`,
//! `store_archive.rs`): feeds stored as a sync stores them (with no head yet, or past their
//! head), fork evidence, and a comparison of two stores feed by feed.
#![allow(dead_code)]

use xaeroflux::xaeroflux_core::xsp::ForkEvidence;
use xaeroflux::{Core, Hash};
use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::{Config, Event, Pair, Role, Session, VerifiedBatch};
use xaeroflux_core::{AuthorId, AuthorKey};

use crate::store_files::PAGE;

/// The verified batches of syncing `src` into `replica` in small frames (most of them end
/// before the head), and the replica afterwards.
pub fn sync_batches(src: &MemStore, replica: MemStore) -> (Vec<VerifiedBatch>, MemStore) {
    let config = Config::new([1; 32]).with_page_size(PAGE as u32).unwrap().with_live(false).with_target_frame(4 * 1024);
    let mut pair = Pair::new(
        Session::new(config.clone(), Role::Initiator, 0, src.clone()),
        Session::new(config, Role::Responder, 0, replica),
    );
    let exchange = pair.drive();
    assert!(exchange.quiet);
    let list = exchange.b.into_iter().filter_map(|e| if let Event::Verified(v) = e { Some(v) } else { None });
    (list.collect(), pair.b.source().clone())
}

pub fn mem_feed(secret: u8) -> MemStore {
    MemStore::new(AuthorKey::from_secret_bytes(&[secret; 32]), PageConfig::new(PAGE as u32).unwrap())
}

pub fn append_mem(m: &mut MemStore, from: u64, n: u64) {
    let payload = [9u8; 150];
    m.append_batch((from..from + n).map(|i| NewEvent::new(1_000 + i, &payload))).unwrap();
}

/// Stores in `core` a feed of `mem_feed(secret)` with events and no head yet: only sync
/// batches that end before the head. Returns its author.
pub fn store_feed_without_head(core: &Core, secret: u8) -> AuthorId {
    let mut feed = mem_feed(secret);
    append_mem(&mut feed, 0, 300);
    let (list, _) = sync_batches(&feed, MemStore::replica(feed.page_config()));
    let partial: Vec<_> = list.iter().take_while(|b| !b.complete).take(3).cloned().collect();
    assert!(!partial.is_empty());
    core.store_batches(&partial).unwrap();
    let author = feed.author().unwrap();
    assert!(core.feed_head(&author).is_none() && core.feed_len(&author) > 0);
    author
}

/// Stores in `core` a feed of `mem_feed(secret)` holding events past its stored head: all of a
/// first sync (head 200), then the first batches of a second one (they end before its head of
/// 500). Returns the feed and the second sync's batches not stored.
pub fn store_feed_past_its_head(core: &Core, secret: u8) -> (MemStore, Vec<VerifiedBatch>) {
    let mut feed = mem_feed(secret);
    append_mem(&mut feed, 0, 200);
    let (first, replica) = sync_batches(&feed, MemStore::replica(feed.page_config()));
    core.store_batches(&first).unwrap();
    append_mem(&mut feed, 200, 300);
    let (mut second, _) = sync_batches(&feed, replica);
    let ahead = second.iter().take_while(|b| !b.complete).take(4).count();
    assert!(ahead > 0);
    core.store_batches(&second[..ahead]).unwrap();
    let author = feed.author().unwrap();
    assert_eq!(core.feed_head(&author).map(|h| h.length), Some(200));
    assert!(core.feed_len(&author) > 200);
    (feed, second.split_off(ahead))
}

/// Evidence that the author of secret `[8; 32]` forked.
pub fn fork_evidence() -> ForkEvidence {
    let forker = AuthorKey::from_secret_bytes(&[8; 32]);
    ForkEvidence { first: forker.sign_head(3, Hash([1; 32])), second: forker.sign_head(3, Hash([2; 32])), proof: None }
}

/// Every feed of `a` is in `b` with the same events (bytes), root, head and fork state.
pub fn assert_same_feeds(a: &Core, b: &Core) {
    let (fa, fb) = (a.feeds(), b.feeds());
    assert_eq!(fa.len(), fb.len());
    for f in &fa {
        let g = fb.iter().find(|g| g.author == f.author).expect("feed in the backup");
        assert_eq!((g.len, g.root, g.local, g.forked), (f.len, f.root, f.local, f.forked), "feed {}", f.author);
        assert_eq!(b.feed_head(&f.author), a.feed_head(&f.author), "head of {}", f.author);
        let ea: Vec<Vec<u8>> = a.iter_feed(&f.author).unwrap().map(|e| e.encoded().to_vec()).collect();
        let eb: Vec<Vec<u8>> = b.iter_feed(&f.author).unwrap().map(|e| e.encoded().to_vec()).collect();
        assert!(ea == eb, "events of {}", f.author);
    }
    assert_eq!(a.forks(), b.forks());
}
