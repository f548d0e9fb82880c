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
use xaeroflux_core::xsp::{Config, Event, Role, Session};

type Store = Rc<RefCell<MemStore>>;

/// Moves bytes both ways until neither side has anything to send; returns every event.
fn pump(a: &mut Session<Store>, b: &mut Session<Store>, now: u64) -> (Vec<Event>, Vec<Event>) {
    let mut buf = vec![0u8; 1 << 16];
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    loop {
        let mut moved = false;
        while let Some(n) = a.poll_transmit(&mut buf) {
            b.handle_input(now, &buf[..n]);
            moved = true;
        }
        while let Some(n) = b.poll_transmit(&mut buf) {
            a.handle_input(now, &buf[..n]);
            moved = true;
        }
        ea.extend(std::iter::from_fn(|| a.poll_event()));
        eb.extend(std::iter::from_fn(|| b.poll_event()));
        if !moved {
            return (ea, eb);
        }
    }
}

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
    let mut a = Session::new(config.clone(), Role::Initiator, 0, holder.clone());
    let mut b = Session::new(config, Role::Responder, 0, fetcher.clone());

    // The fetcher takes the verified batch but stores it only later, like a store writer.
    let (_, eb) = pump(&mut a, &mut b, 1);
    let batch = eb.iter().find_map(|e| if let Event::Verified(v) = e { Some(v.clone()) } else { None }).unwrap();
    assert!(eb.contains(&Event::Synced) && b.is_synced());

    fetcher.borrow_mut().store_batch(&batch).unwrap();
    b.feed_updated(&author);
    let mut buf = vec![0u8; 1 << 16];
    // Nothing needs to go to the peer (it announced this very head) …
    while let Some(n) = b.poll_transmit(&mut buf) {
        a.handle_input(2, &buf[..n]);
    }
    // … and, with no further traffic, the fetcher is synced again.
    assert!(b.is_synced(), "synced again after storing, without waiting for the peer");
    assert_eq!(fetcher.borrow().feeds().into_iter().find(|f| f.author == author).map(|f| f.len), Some(5));
}
