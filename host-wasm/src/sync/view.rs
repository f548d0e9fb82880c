//! [`View`]: the store as sync sessions see it — the local feed only up to what is durable.
//!
//! Appends change the in-memory store before IndexedDB commits them (see
//! `store/inner.rs`). A session must not serve those events yet: if the tab died before the
//! commit, the reloaded store would append different events at the same seqs, and the peer
//! would hold a fork. So the view caps the local feed at its durable length: the durable
//! signed head, the peaks at that length, locations and proofs within it, and the last
//! page rebuilt by the packing rule from the durable events only (the exact bytes every
//! replica of that length holds). Other feeds pass through: they are signed by their
//! authors, and losing a copy of them only means fetching it again.

use std::collections::BTreeSet;
use std::rc::Rc;

use xaeroflux_core::mmr::{ConsistencyProof, InclusionProof, MmrPeaks, RangeProof};
use xaeroflux_core::page::PageBuilder;
use xaeroflux_core::xsp::FeedSource;
use xaeroflux_core::{AuthorId, SignedHead};

use crate::store::Inner;

/// A session's read access to a store, and the feeds it fetches.
pub struct View(pub Rc<Inner>, pub Feeds);

/// Which feeds a session fetches from its peer (the option `fetch` of `store.sync`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feeds {
    /// Every feed the peer announces (the default).
    All,
    /// Only these authors' (none: the session only serves, and reads on demand).
    Only(BTreeSet<AuthorId>),
}

impl Feeds {
    /// Whether the feed of `author` is chosen.
    pub fn contains(&self, author: &AuthorId) -> bool {
        match self {
            Feeds::All => true,
            Feeds::Only(set) => set.contains(author),
        }
    }
}

impl View {
    fn local(&self, author: &AuthorId) -> Option<u64> {
        (*author == self.0.author).then(|| self.0.durable.get().len)
    }
}

impl FeedSource for View {
    fn for_each_head(&self, f: &mut dyn FnMut(&SignedHead)) {
        let mem = self.0.mem.borrow();
        let durable = self.0.durable.get();
        mem.for_each_head(&mut |h| {
            if h.author != self.0.author {
                f(h);
            } else if let Some(d) = &durable.head {
                f(d);
            }
        });
    }

    fn head(&self, author: &AuthorId) -> Option<SignedHead> {
        match self.local(author) {
            Some(_) => self.0.durable.get().head,
            None => FeedSource::head(&*self.0.mem.borrow(), author),
        }
    }

    fn prefix(&self, author: &AuthorId) -> Option<MmrPeaks> {
        let mem = self.0.mem.borrow();
        match self.local(author) {
            Some(0) => None,
            Some(len) => mem.peaks_at(author, len).ok(),
            None => FeedSource::prefix(&*mem, author),
        }
    }

    fn locate(&self, author: &AuthorId, seq: u64) -> Option<(u64, u64)> {
        match self.local(author) {
            Some(len) if seq >= len => None,
            _ => self.0.mem.borrow().locate(author, seq),
        }
    }

    fn with_page(&self, author: &AuthorId, page: u64, f: &mut dyn FnMut(&[u8])) -> bool {
        let mem = self.0.mem.borrow();
        let Some(len) = self.local(author) else {
            return FeedSource::with_page(&*mem, author, page, f);
        };
        if len == 0 {
            return false;
        }
        let Some((last_page, first)) = mem.locate(author, len - 1) else { return false };
        let partial = mem.locate(author, len).is_some_and(|(p, _)| p == last_page);
        if page > last_page {
            return false;
        }
        if page < last_page || !partial {
            return FeedSource::with_page(&*mem, author, page, f);
        }
        // The last durable page also holds events that are not durable yet: rebuild it
        // from the durable ones.
        let mut b = PageBuilder::new(mem.page_config(), *author, first);
        for ev in mem.range(author, first..len) {
            if b.push(ev).is_err() {
                return false;
            }
        }
        f(&b.finish());
        true
    }

    fn consistency_proof(&self, author: &AuthorId, old: u64, new: u64) -> Option<ConsistencyProof> {
        match self.local(author) {
            Some(len) if new > len => None,
            _ => FeedSource::consistency_proof(&*self.0.mem.borrow(), author, old, new),
        }
    }

    fn inclusion_proof(&self, author: &AuthorId, leaves: u64, index: u64) -> Option<InclusionProof> {
        match self.local(author) {
            Some(len) if leaves > len => None,
            _ => FeedSource::inclusion_proof(&*self.0.mem.borrow(), author, leaves, index),
        }
    }

    fn range_proof(&self, author: &AuthorId, leaves: u64, start: u64, end: u64) -> Option<RangeProof> {
        match self.local(author) {
            Some(len) if leaves > len => None,
            _ => FeedSource::range_proof(&*self.0.mem.borrow(), author, leaves, start, end),
        }
    }

    fn pending_head(&self, author: &AuthorId) -> Option<SignedHead> {
        FeedSource::pending_head(&*self.0.mem.borrow(), author)
    }

    fn wants(&self, author: &AuthorId) -> bool {
        self.1.contains(author) && self.0.mem.borrow().wants(author)
    }
}

#[cfg(test)]
mod tests {
    use xaeroflux_core::AuthorKey;
    use xaeroflux_core::memstore::{MemStore, NewEvent};
    use xaeroflux_core::page::PageConfig;

    use super::*;

    /// Appends not yet committed are invisible to sessions: the view serves exactly what a
    /// replica holding only the committed events would.
    #[test]
    fn the_local_feed_is_capped_at_its_durable_length() {
        let key = AuthorKey::from_secret_bytes(&[8; 32]);
        let me = key.author();
        let config = PageConfig::new(1024).unwrap();
        let mut mem = MemStore::new(key, config);
        // 300-byte events: three to a page, so the durable length 10 ends inside page 3.
        let payload = [7u8; 300];
        mem.append_batch((0..10).map(|i| NewEvent::new(i, &payload))).unwrap();
        let inner = Rc::new(Inner::new(None, mem, None, true, 0, 0, false));
        let committed_head = inner.mem.borrow().local_head().unwrap();
        inner.mem.borrow_mut().append_batch((10..14).map(|i| NewEvent::new(i, &payload))).unwrap();

        // What a replica of the first 10 events holds.
        let mut replica = MemStore::replica(config);
        let events: Vec<_> = inner.mem.borrow().range(&me, 0..10).map(|e| e.to_owned()).collect();
        let refs: Vec<_> = events.iter().map(|e| e.as_ref()).collect();
        replica.import_events(&committed_head, &refs).unwrap();

        let view = View(inner.clone(), Feeds::All);
        assert_eq!(view.head(&me), Some(committed_head));
        let mut heads = Vec::new();
        view.for_each_head(&mut |h| heads.push(*h));
        assert_eq!(heads, [committed_head]);
        assert_eq!(view.prefix(&me).unwrap().root(), committed_head.root);
        assert_eq!(view.locate(&me, 9), inner.mem.borrow().locate(&me, 9));
        assert_eq!(view.locate(&me, 10), None);
        for page in 0..5 {
            let mut got = None;
            let served = view.with_page(&me, page, &mut |p| got = Some(p.to_vec()));
            let want = replica.page(&me, page).map(|p| p.into_owned());
            assert_eq!(served, want.is_some(), "page {page}");
            assert_eq!(got, want, "page {page}");
        }
        assert!(view.inclusion_proof(&me, 10, 3).is_some());
        assert!(view.inclusion_proof(&me, 11, 3).is_none());
        assert!(view.consistency_proof(&me, 5, 11).is_none());
        assert!(view.range_proof(&me, 10, 2, 5).is_some());

        // Once committed, everything is served.
        inner.durable.set(crate::store::Durable { len: 14, head: inner.mem.borrow().local_head() });
        assert_eq!(view.head(&me).map(|h| h.length), Some(14));
        assert_eq!(view.locate(&me, 13), inner.mem.borrow().locate(&me, 13));
    }
}
