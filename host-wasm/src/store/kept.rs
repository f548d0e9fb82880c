//! Reads on demand kept across page loads: every answer the store's fetch cache holds
//! ([`Inner::fetched`]) is also kept in the object store `fetched` of its IndexedDB database
//! (the store option `persistFetchCache`, default on), and read back when the store is opened,
//! each verified again as a peer's answer is ([`persist::decode_fetched`]), so that a reload
//! answers the reads made before with no peer, offline too.
//!
//! The records are a cache, not part of the store: written in transactions of their own with
//! relaxed durability (a failure, or a crash, loses a kept read, never the store), deleted
//! with the answers the cache drops, and a record that does not verify, a forked author's, or
//! one the cache's budget has no room for is deleted when the store is opened.

use std::ops::Range;

use wasm_bindgen::JsValue;
use xaeroflux_core::AuthorId;
use xaeroflux_core::xsp::Inserted;

use super::inner::{FetchedRead, Inner};
use crate::hex;
use crate::idb::{self, FetchedKey, FetchedOp};
use crate::persist;

fn key(author: &AuthorId, seqs: &Range<u64>) -> FetchedKey {
    FetchedKey { author: hex::encode(author.as_bytes()), start: seqs.start, end: seqs.end }
}

impl FetchedRead {
    /// The seqs of its answers.
    pub fn seqs(&self) -> Range<u64> {
        match (self.blocks.first(), self.blocks.last()) {
            (Some(f), Some(l)) => f.start..l.seqs().end,
            _ => 0..0,
        }
    }

    /// The bytes the cache counts: the events' and the range proofs'.
    pub fn byte_len(&self) -> usize {
        self.blocks.iter().map(xaeroflux_core::xsp::VerifiedRange::byte_len).sum()
    }
}

impl Inner {
    /// Makes `ops` on the kept reads, in order after every change made before, if this store
    /// keeps them; a failure is ignored (a cache).
    fn change_kept(&self, ops: Vec<FetchedOp>) {
        let Some(db) = self.db.as_ref().filter(|_| self.persist_fetched && !ops.is_empty()) else { return };
        if let Ok(done) = idb::write_fetched(db, ops) {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(done).await;
            });
        }
    }

    /// Keeps the answer for `author`'s `seqs` as the cache did (`inserted`): the answer, read
    /// from the cache and encoded ([`persist::encode_fetched`]) only if the cache kept it and
    /// this store keeps reads; the answers it dropped deleted.
    pub fn keep_read(&self, author: AuthorId, seqs: Range<u64>, inserted: Inserted) {
        let mut ops: Vec<FetchedOp> = inserted.dropped.iter().map(|(a, s)| FetchedOp::Delete(key(a, s))).collect();
        if inserted.kept && self.persist_fetched {
            let mut cache = self.fetched.borrow_mut();
            if let Some((_, read)) = cache.covering(&author, &seqs) {
                ops.push(FetchedOp::Put(key(&author, &seqs), persist::encode_fetched(read)));
            }
        }
        self.change_kept(ops);
    }

    /// Deletes the kept answers the cache dropped (author and seqs of each).
    pub fn drop_reads(&self, dropped: &[(AuthorId, Range<u64>)]) {
        self.change_kept(dropped.iter().map(|(a, s)| FetchedOp::Delete(key(a, s))).collect());
    }

    /// Reads the kept reads of the database back into the cache (in key order), verifying
    /// each; deletes what it refuses, a forked author's, and what the budget has no room for.
    /// Returns how many were kept.
    pub fn restore_fetched(&self, records: Vec<(JsValue, Option<FetchedKey>, Vec<u8>)>) -> usize {
        if !self.persist_fetched {
            return 0;
        }
        let (mut kept, mut ops) = (0, Vec::new());
        for (raw, named, bytes) in records {
            let read = persist::decode_fetched(&bytes).ok().filter(|r| {
                named.as_ref() == Some(&key(&r.head.author, &r.seqs()))
                    && self.mem.borrow().fork(&r.head.author).is_none()
            });
            let Some(read) = read else {
                ops.push(FetchedOp::DeleteRaw(raw));
                continue;
            };
            let (author, seqs, bytes) = (read.head.author, read.seqs(), read.byte_len());
            let inserted = self.fetched.borrow_mut().insert(author, seqs, bytes, read);
            for (a, s) in &inserted.dropped {
                ops.push(FetchedOp::Delete(key(a, s)));
                kept -= 1;
            }
            if inserted.kept {
                kept += 1;
            } else {
                ops.push(FetchedOp::DeleteRaw(raw));
            }
        }
        self.change_kept(ops);
        kept
    }
}
