//! Storing other authors' events: the hooks the sync uses ([`Core::store_verified`],
//! [`Core::store_batches`], [`Core::store_batch_runs`]).

use std::ops::Range;

use crossbeam_channel::bounded;
use xaeroflux_core::mmr::{self, MmrPeaks};
use xaeroflux_core::xsp::VerifiedBatch;
use xaeroflux_core::{AuthorId, EventRef, SignedHead};

use super::Core;
use crate::error::ImportError;
use crate::store::state::read;
use crate::store::writer::{Import, Request};

impl Core {
    /// Stores events of another author's feed that arrived with its signed head (the hook the
    /// sync protocol uses). Checks, before storing anything: the head's signature; that the
    /// events are the author's next ones; and, with [`mmr::verify_extension`], that they
    /// extend the stored feed's MMR peaks exactly to the head's root and length. The events
    /// and the head are then stored and made durable together.
    pub fn store_verified(&self, head: &SignedHead, events: &[EventRef<'_>]) -> Result<(), ImportError> {
        let imp = self.prepare_verified(head, events)?;
        self.commit_imports(vec![imp]).pop().unwrap_or(Err(ImportError::Closed))
    }

    /// As [`Core::store_verified`] for each feed of `feeds` (distinct authors), with one index
    /// checkpoint for all, as [`Core::store_batch_runs`] stores (the power-cut tests use it).
    #[cfg(test)]
    pub(crate) fn store_verified_group(
        &self,
        feeds: &[(SignedHead, Vec<EventRef<'_>>)],
    ) -> Vec<Result<(), ImportError>> {
        let mut results: Vec<Result<(), ImportError>> = Vec::new();
        let mut imports = Vec::new();
        for (head, events) in feeds {
            match self.prepare_verified(head, events) {
                Ok(imp) => {
                    imports.push(imp);
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        let mut replies = self.commit_imports(imports).into_iter();
        for r in results.iter_mut().filter(|r| r.is_ok()) {
            *r = replies.next().unwrap_or(Err(ImportError::Closed));
        }
        results
    }

    /// Checks events of another author's feed (see [`Core::store_verified`]) and makes the
    /// writer's request.
    fn prepare_verified(&self, head: &SignedHead, events: &[EventRef<'_>]) -> Result<Import, ImportError> {
        head.verify().map_err(ImportError::BadHead)?;
        self.takes_feed_of(&head.author)?;
        let (len, peaks) = match self.shared.feed(&head.author) {
            Some(f) => {
                let inner = read(&f.inner);
                (inner.len, inner.peaks.clone())
            }
            None => (0, MmrPeaks::new()),
        };
        let mut leaves = Vec::with_capacity(events.len());
        let mut bytes = 0usize;
        for (index, ev) in events.iter().enumerate() {
            if ev.author() != head.author {
                return Err(ImportError::WrongAuthor { index });
            }
            let expected = len + index as u64;
            if ev.seq() != expected {
                return Err(ImportError::NotNext { expected, found: ev.seq() });
            }
            bytes += ev.encoded().len();
        }
        xaeroflux_core::hash::leaf_hashes(events.iter().map(EventRef::encoded), &mut leaves);
        let computed = len + events.len() as u64;
        if head.length != computed {
            return Err(ImportError::LengthMismatch { head: head.length, computed });
        }
        if events.is_empty() {
            if head.root != peaks.root() {
                return Err(ImportError::NotAnExtension(mmr::ProofError::RootMismatch));
            }
        } else {
            mmr::verify_extension(&peaks, &leaves, &head.root).map_err(ImportError::NotAnExtension)?;
        }
        let mut buf = Vec::with_capacity(bytes);
        for ev in events {
            buf.extend_from_slice(ev.encoded());
        }
        Ok(Import {
            head: *head,
            events: buf,
            count: events.len(),
            expect_len: len,
            partial: None,
            // Hashed above from these very bytes: the writer need not hash them again.
            leaves,
        })
    }

    /// Stores a batch of another author's events that an XSP session verified
    /// ([`xaeroflux_core::xsp::Event::Verified`]). As [`Core::store_batches`] with one batch.
    pub fn store_batch(&self, batch: &VerifiedBatch) -> Result<Range<u64>, ImportError> {
        self.store_batches(std::slice::from_ref(batch))
    }

    /// Stores consecutive batches of one author's events that XSP sessions verified
    /// ([`xaeroflux_core::xsp::Event::Verified`]) in one commit (one `fdatasync`, one index
    /// checkpoint). Checked before anything is stored: that the events are the author's next
    /// ones; the signature of the last batch's head; and that the last batch's MMR peaks are its
    /// head's root (a batch that reaches its head) or lead to it by the batch's consistency proof
    /// (a batch that ends before its head). The writer then extends the stored MMR with the
    /// events' leaf hashes and stores nothing unless that gives exactly the last batch's peaks,
    /// which binds every event of every batch to the signed head. If the last batch reaches its
    /// head, that head is stored; otherwise the stored head is kept. Events below the stored
    /// length (another session stored them first) are skipped. Returns the seqs stored.
    pub fn store_batches(&self, batches: &[VerifiedBatch]) -> Result<Range<u64>, ImportError> {
        self.store_batch_runs(&[batches]).pop().unwrap_or(Ok(0..0))
    }

    /// Stores several runs of verified batches, each checked as [`Core::store_batches`]
    /// checks it, in one commit: every run is written, then one durable sync covers them
    /// all, they are published, and one index checkpoint follows. Only then does this return,
    /// so whatever it reports stored is durable and indexed, as a commit of its own would be.
    /// The network sync stores what its sessions verified this way, many feeds at once. With
    /// 1 000 new feeds of 10 events, groups of 64 runs stored 7.3–7.9× as fast as one run per
    /// call on the machine of `docs/benchmarks.md` (`cargo bench -p xaeroflux --bench import`).
    ///
    /// A run that fails its checks, or fails while written, is refused alone. A run of an
    /// author that an earlier run of the same call also stores is committed after it. Returns
    /// each run's result, in order; if the sync or the checkpoint fails, every run not refused
    /// before fails with it (the store is then poisoned).
    pub fn store_batch_runs(&self, runs: &[&[VerifiedBatch]]) -> Vec<Result<Range<u64>, ImportError>> {
        let mut results: Vec<Result<Range<u64>, ImportError>> = Vec::with_capacity(runs.len());
        let mut group: Vec<(usize, Import, Range<u64>)> = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let author = run.last().map(|b| b.head.author);
            if group.iter().any(|(_, imp, _)| Some(imp.head.author) == author) {
                self.import_group(&mut group, &mut results);
            }
            results.push(Ok(0..0));
            match self.prepare_batches(run) {
                Ok(Some((imp, seqs))) => group.push((i, imp, seqs)),
                Ok(None) => {
                    let len = author.map_or(0, |a| self.feed_len(&a));
                    results[i] = Ok(len..len);
                }
                Err(e) => results[i] = Err(e),
            }
        }
        self.import_group(&mut group, &mut results);
        results
    }

    /// Sends `group` to the writer as one request and puts each result in its place.
    fn import_group(
        &self,
        group: &mut Vec<(usize, Import, Range<u64>)>,
        results: &mut [Result<Range<u64>, ImportError>],
    ) {
        let (places, imports): (Vec<_>, Vec<_>) = group.drain(..).map(|(i, imp, seqs)| ((i, seqs), imp)).unzip();
        for ((i, seqs), r) in places.into_iter().zip(self.commit_imports(imports)) {
            results[i] = r.map(|()| seqs);
        }
    }

    /// Sends `imports` (checked, of distinct feeds) to the writer as one commit and returns
    /// each one's result, in order; tells the sync which feeds grew.
    pub(super) fn commit_imports(&self, imports: Vec<Import>) -> Vec<Result<(), ImportError>> {
        let n = imports.len();
        if n == 0 {
            return Vec::new();
        }
        #[cfg(feature = "net")]
        let authors: Vec<_> = imports.iter().map(|imp| imp.head.author).collect();
        let (rtx, rrx) = bounded(1);
        let mut replies = match self.tx.send(Request::Imports(imports, rtx)) {
            Ok(()) => rrx.recv().unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        replies.resize_with(n, || Err(ImportError::Closed));
        #[cfg(feature = "net")]
        for (author, r) in authors.iter().zip(&replies) {
            if r.is_ok() {
                self.net.feed_changed(author);
            }
        }
        replies
    }

    /// Whether the store takes events of `author`'s feed from elsewhere: not of its own feed,
    /// not of a forked author's.
    fn takes_feed_of(&self, author: &AuthorId) -> Result<(), ImportError> {
        if *author == self.author() {
            return Err(ImportError::OwnFeed);
        }
        if self.is_forked(author) {
            return Err(ImportError::Forked);
        }
        Ok(())
    }

    /// Checks `batches` (see [`Core::store_batches`]) and makes the writer's request: `None`
    /// if the store holds all their events already.
    fn prepare_batches(&self, batches: &[VerifiedBatch]) -> Result<Option<(Import, Range<u64>)>, ImportError> {
        let Some(last) = batches.last() else { return Ok(None) };
        let author = last.head.author;
        self.takes_feed_of(&author)?;
        let len = self.feed_len(&author);
        let mut buf = Vec::with_capacity(batches.iter().map(|b| b.events.byte_len()).sum());
        let mut leaves = Vec::with_capacity(batches.iter().map(|b| b.events.len()).sum());
        let (mut end, mut count, mut final_batch) = (len, 0usize, None);
        for batch in batches {
            let batch_end = batch.end_seq();
            if batch.head.author != author {
                return Err(ImportError::WrongAuthor { index: count });
            }
            if batch_end <= end {
                continue;
            }
            if batch.first_seq > end {
                return Err(ImportError::NotNext { expected: end, found: batch.first_seq });
            }
            let skip = (end - batch.first_seq) as usize;
            let all = batch.events.leaf_hashes();
            let new_leaves = all.get(skip..).filter(|_| all.len() == batch.events.len());
            leaves.extend_from_slice(new_leaves.ok_or(ImportError::BadEvent { index: count })?);
            for (i, ev) in batch.events.iter().enumerate().skip(skip) {
                let expected = batch.first_seq + i as u64;
                if ev.author() != author {
                    return Err(ImportError::WrongAuthor { index: count });
                }
                if ev.seq() != expected {
                    return Err(ImportError::NotNext { expected, found: ev.seq() });
                }
                buf.extend_from_slice(ev.encoded());
                count += 1;
            }
            if count != leaves.len() || batch.peaks.leaves() != batch_end {
                return Err(ImportError::BadEvent { index: count });
            }
            end = batch_end;
            final_batch = Some(batch);
        }
        let Some(batch) = final_batch else { return Ok(None) };
        let head = &batch.head;
        head.verify().map_err(ImportError::BadHead)?;
        let partial = if end == head.length {
            if batch.peaks.root() != head.root {
                return Err(ImportError::NotAnExtension(mmr::ProofError::RootMismatch));
            }
            None
        } else {
            let proof = batch.proof.as_ref().filter(|p| p.old_leaves == end && p.new_leaves == head.length);
            let proof = proof.ok_or(ImportError::LengthMismatch { head: head.length, computed: end })?;
            proof.verify(&batch.peaks.root(), &head.root).map_err(ImportError::NotAnExtension)?;
            Some(batch.peaks.clone())
        };
        // The leaf hashes were computed by the session from these very bytes (an `EventBlock`
        // is only made by the core, with its hashes): the writer need not hash them again.
        let imp = Import { head: *head, events: buf, count, expect_len: len, partial, leaves };
        Ok(Some((imp, len..end)))
    }
}
