//! Regression: a host that stores a verified batch *after* the session reported `Synced`
//! (asynchronously, as a store with its own writer does) and then calls `feed_updated` must
//! see the session synced again at once, even when no byte is to be sent and none arrives.
//! Before the fix, the re-announcement of the stored feed was skipped (the peer announced
//! that very head) without re-evaluating the sync state, so `is_synced` stayed false until the
//! next frame from the peer (a keep-alive, half the idle period later).

use std::cell::RefCell;
use std::rc::Rc;

use xaeroflux_core::AuthorKey;
use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::{Config, Event, Pair, Role, Session};

type Store = Rc<RefCell<MemStore>>;

#[test]
fn storing_after_synced_then_feed_updated_stays_synced_without_traffic() {
    let pages = PageConfig::new(4096).unwrap();
    let key = AuthorKey::from_secret_bytes(&[3; 32]);
    let author = key.author();
    let mut src = MemStore::new(key, pages);
    src.append_batch((0..5u64).map(|i| NewEvent::new(1_000 + i, b"event"))).unwrap();
    let (holder, fetcher): (Store, Store) =
        (Rc::new(RefCell::new(src)), Rc::new(RefCell::new(MemStore::replica(pages))));
    let config = Config::new([5; 32]).with_page_size(4096).unwrap();
    let mut pair = Pair::new(
        Session::new(config.clone(), Role::Initiator, 0, holder),
        Session::new(config, Role::Responder, 0, fetcher.clone()),
    );

    // The fetcher takes the verified batch but stores it only later, like a store writer.
    let eb = pair.drive().b;
    let batch = eb.iter().find_map(|e| if let Event::Verified(v) = e { Some(v.clone()) } else { None }).unwrap();
    assert!(eb.contains(&Event::Synced) && pair.b.is_synced());

    fetcher.borrow_mut().store_batch(&batch).unwrap();
    pair.b.feed_updated(&author);
    // Nothing needs to go to the peer (it announced this very head) …
    assert_eq!(pair.drive().bytes, [0, 0]);
    // … and, with no further traffic, the fetcher is synced again.
    assert!(pair.b.is_synced(), "synced again after storing, without waiting for the peer");
    assert_eq!(fetcher.borrow().feeds().into_iter().find(|f| f.author == author).map(|f| f.len), Some(5));
}
