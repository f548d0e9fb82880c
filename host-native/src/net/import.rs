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

/// Work for the importer.
pub(crate) enum ImportJob {
    /// Store a verified batch.
    Batch { batch: Box<VerifiedBatch>, space: SpaceId, peer: PeerId, session: u64 },
    /// A peer confirmed a head for exactly the events held: store it as the feed's head.
    Adopt { head: SignedHead },
}

pub(crate) fn spawn(inner: Arc<NetInner>, mut rx: mpsc::Receiver<ImportJob>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("xaeroflux-net-import".into()).spawn(move || {
        while let Some(job) = rx.blocking_recv() {
            run(&inner, job);
        }
    })
}

fn run(inner: &NetInner, job: ImportJob) {
    let core = &inner.core;
    match job {
        ImportJob::Batch { batch, space, peer, session } => {
            let author = batch.author();
            match core.store_batch(&batch) {
                Ok(seqs) if !seqs.is_empty() => {
                    let _ = inner.changed.send(author);
                    let n = seqs.end - seqs.start;
                    inner.update(session, |s| s.received_events += n);
                    inner.emit(SyncEvent::Received { space, peer, author, seqs });
                }
                Ok(_) => {}
                Err(_) => {
                    inner.emit(SyncEvent::StoreFailed { space, peer, author });
                    inner.control(session, Control::Close);
                }
            }
        }
        ImportJob::Adopt { head } => {
            let newer = core.feed_head(&head.author).is_none_or(|h| h.length < head.length);
            if newer && core.feed_len(&head.author) == head.length && core.store_verified(&head, &[]).is_ok() {
                let _ = inner.changed.send(head.author);
            }
        }
    }
}
