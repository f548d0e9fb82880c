//! Building blocks for hand-written scenarios: feeds of authors that are not peers, given to
//! peers as prefixes with signed heads, and quick worlds.

use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::Config;
use xaeroflux_core::{AuthorId, AuthorKey, SignedHead};

use super::rng::Rng;
use super::world::World;

/// An author's complete feed, kept aside so prefixes of it can be handed to peers.
pub struct Origin {
    /// The author's key.
    pub key: AuthorKey,
    /// The feed, in a store of its own.
    pub store: MemStore,
}

impl Origin {
    /// A feed of `n` events with `payload_len`-byte payloads, timestamps a millisecond apart.
    pub fn new(secret: u8, n: u64, payload_len: usize) -> Origin {
        Self::with_payloads(secret, (0..n).map(|i| vec![(i as u8) ^ secret; payload_len]).collect())
    }

    /// A feed with these payloads (two origins of one secret and different payloads are the
    /// two histories of a fork).
    pub fn with_payloads(secret: u8, payloads: Vec<Vec<u8>>) -> Origin {
        let key = AuthorKey::from_secret_bytes(&[secret; 32]);
        let mut store = MemStore::new(key.clone(), PageConfig::default());
        let events: Vec<NewEvent> =
            payloads.iter().enumerate().map(|(i, p)| NewEvent::new(1_000_000 + i as u64 * 1000, p)).collect();
        store.append_batch(events).expect("append");
        Origin { key, store }
    }

    /// The author.
    pub fn author(&self) -> AuthorId {
        self.key.author()
    }

    /// The head signed at `len`.
    pub fn head(&self, len: u64) -> SignedHead {
        let root = self.store.peaks_at(&self.author(), len).expect("len held").root();
        self.key.sign_head(len, root)
    }

    /// Gives the first `len` events, with the head at `len`, to a store.
    pub fn give(&self, store: &mut MemStore, len: u64) {
        if len == 0 {
            return;
        }
        let events: Vec<_> = self.store.range(&self.author(), 0..len).collect();
        store.import_events(&self.head(len), &events).expect("import a prefix");
    }
}

/// A world of `n` peers (secrets 100, 101, …) with one configuration.
pub fn world(seed: u64, n: usize, config: &Config) -> World {
    let mut w = World::new(Rng::new(seed));
    for p in 0..n {
        let key = AuthorKey::from_secret_bytes(&[100 + p as u8; 32]);
        let pages = PageConfig::new(config.page_size()).expect("valid page size");
        w.add_peer(key, pages, config.clone());
    }
    w
}
