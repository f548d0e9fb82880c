//! The importer thread: stores what sessions verified, in arrival order, off the async
//! workers (a store commit waits for `fdatasync`).
//!
//! Sessions hand over each [`Event::Verified`](xaeroflux_core::xsp::Event::Verified) batch
//! through a bounded queue; a full queue makes the session stop reading, so the peer's
//! flow-control window is what bounds memory. After a batch is stored every session is told
//! (`feed_updated`), which announces the new head to the other peers and pushes the events
//! to their live wants.

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::mpsc;
use xaeroflux_core::SignedHead;
use xaeroflux_core::xsp::VerifiedBatch;

use super::driver::Control;
use super::node::NetInner;
use super::status::SyncEvent;
use super::ticket::{PeerId, SpaceId};
use crate::error::ImportError;

/// Work for the importer.
pub(crate) enum ImportJob {
    /// Store a verified batch.
    Batch { batch: Box<VerifiedBatch>, space: SpaceId, peer: PeerId, session: u64 },
    /// A peer confirmed a head for exactly the events held: store it as the feed's head.
    Adopt { head: SignedHead },
}

/// Most verified batches stored at once (one commit of the store).
const MAX_COALESCE: usize = 64;

pub(crate) fn spawn(inner: Arc<NetInner>, mut rx: mpsc::Receiver<ImportJob>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("xaeroflux-net-import".into()).spawn(move || {
        let mut jobs = Vec::with_capacity(MAX_COALESCE);
        while let Some(job) = rx.blocking_recv() {
            jobs.push(job);
            // Whatever queued up while the last commit ran is stored together, in one commit
            // (`store_batch_runs`: one sync and one index checkpoint for all the feeds).
            while jobs.len() < MAX_COALESCE {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            run(&inner, &mut jobs);
        }
    })
}

/// A run of batches from one session, for one feed, each starting where the previous ended.
struct Run {
    batches: Vec<VerifiedBatch>,
    space: SpaceId,
    peer: PeerId,
    session: u64,
}

impl Run {
    fn extends(&self, batch: &VerifiedBatch, session: u64) -> bool {
        self.session == session
            && self.batches.last().is_some_and(|b| b.author() == batch.author() && b.end_seq() == batch.first_seq)
    }
}

fn run(inner: &NetInner, jobs: &mut Vec<ImportJob>) {
    let mut runs: Vec<Run> = Vec::new();
    for job in jobs.drain(..) {
        match job {
            ImportJob::Batch { batch, space, peer, session } => match runs.last_mut() {
                Some(r) if r.extends(&batch, session) => r.batches.push(*batch),
                _ => runs.push(Run { batches: vec![*batch], space, peer, session }),
            },
            ImportJob::Adopt { head } => {
                // In arrival order: what came before the adoption is stored first.
                store(inner, &mut runs);
                adopt(inner, head);
            }
        }
    }
    store(inner, &mut runs);
}

/// Stores `runs` (one commit for all of them) and tells the sessions.
fn store(inner: &NetInner, runs: &mut Vec<Run>) {
    if runs.is_empty() {
        return;
    }
    let slices: Vec<&[VerifiedBatch]> = runs.iter().map(|r| r.batches.as_slice()).collect();
    let results = inner.core.store_batch_runs(&slices);
    for (run, result) in runs.drain(..).zip(results) {
        let Some(author) = run.batches.first().map(VerifiedBatch::author) else { continue };
        let (space, peer, session) = (run.space, run.peer, run.session);
        match result {
            Ok(seqs) if !seqs.is_empty() => {
                let _ = inner.changed.send(author);
                let n = seqs.end - seqs.start;
                inner.update(session, |s| s.received_events += n);
                inner.emit(SyncEvent::Received { space, peer, author, seqs });
            }
            Ok(_) => {}
            // Fork evidence against the author was recorded after the session verified these
            // events: the feed is no longer taken, and the session goes on with the others.
            Err(ImportError::Forked) => {}
            Err(_) => {
                inner.emit(SyncEvent::StoreFailed { space, peer, author });
                inner.control(session, Control::Close);
            }
        }
    }
}

fn adopt(inner: &NetInner, head: SignedHead) {
    let core = &inner.core;
    let newer = core.feed_head(&head.author).is_none_or(|h| h.length < head.length);
    if newer && core.feed_len(&head.author) == head.length && core.store_verified(&head, &[]).is_ok() {
        let _ = inner.changed.send(head.author);
    }
}
