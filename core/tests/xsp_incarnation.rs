//! The incarnation a host gives its sessions crosses in HELLO and is reported to the peer
//! (`Event::Connected::peer_incarnation`); a host that gives none is reported as such.

use std::cell::RefCell;
use std::rc::Rc;

use xaeroflux_core::AuthorKey;
use xaeroflux_core::memstore::MemStore;
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::{Config, Event, Pair, Role, Session};

type Store = Rc<RefCell<MemStore>>;

fn store() -> Store {
    let pages = PageConfig::new(4096).unwrap();
    Rc::new(RefCell::new(MemStore::new(AuthorKey::from_secret_bytes(&[4; 32]), pages)))
}

/// The peer incarnation each side reports once both HELLOs crossed.
fn reported(a_config: Config, b_config: Config) -> (Option<u64>, Option<u64>) {
    let mut pair = Pair::new(
        Session::new(a_config, Role::Initiator, 0, store()),
        Session::new(b_config, Role::Responder, 0, store()),
    );
    let exchange = pair.drive();
    let peer = |events: &[Event]| {
        events
            .iter()
            .find_map(
                |e| if let Event::Connected { peer_incarnation, .. } = e { Some(*peer_incarnation) } else { None },
            )
            .expect("connected")
    };
    (peer(&exchange.a), peer(&exchange.b))
}

#[test]
fn each_side_learns_the_other_s_incarnation() {
    let c = || Config::new([5; 32]).with_page_size(4096).unwrap();
    assert_eq!(reported(c().with_incarnation(7), c().with_incarnation(u64::MAX)), (Some(u64::MAX), Some(7)));
    assert_eq!(reported(c(), c().with_incarnation(9)), (Some(9), None));
    assert_eq!(reported(c(), c()), (None, None));
}
