//! Pipelined appends: [`Core::submit_batch`] and [`PendingAppend`].

use std::ops::Range;

use crossbeam_channel::{Receiver, bounded};
use xaeroflux_core::Hash;

use super::{Core, NewEvent};
use crate::error::AppendError;
use crate::store::state::lock;
use crate::store::writer::Batch;

impl Core {
    /// Appends many events (kind 0, no flags) in one commit, as [`append_batch`](Self::append_batch)
    /// does, but returns once the commit is written, before it is durable: its `fdatasync`s
    /// run while the caller prepares and submits the next batch. [`PendingAppend::wait`]
    /// returns once the batch is durable; only then do readers and peers see it.
    ///
    /// One commit is in flight at a time: submitting the next one first completes the one
    /// before (so its [`wait`](PendingAppend::wait) then returns at once). The pattern that
    /// keeps the disk busy while the CPU works is to submit batch *n*, then wait for batch
    /// *n − 1*. Under [`Durability::GroupCommit`](crate::Durability::GroupCommit) this is
    /// `append_batch` (it returns once the batch is written, and `wait` at once); so is the
    /// commit that is due a checkpoint.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let core = xaeroflux::Core::builder().open(dir.path().join("db"))?;
    /// let batches: Vec<Vec<Vec<u8>>> = (0..10u8).map(|b| vec![vec![b; 256]; 1_000]).collect();
    /// let mut previous = None;
    /// for batch in &batches {
    ///     let pending = core.submit_batch(batch.iter().map(Vec::as_slice))?;
    ///     if let Some(p) = previous.replace(pending) {
    ///         p.wait()?; // durable, and visible to readers
    ///     }
    /// }
    /// if let Some(p) = previous {
    ///     assert_eq!(p.wait()?, 9_000..10_000);
    /// }
    /// assert_eq!(core.feed_len(&core.author()), 10_000);
    /// # Ok(())
    /// # }
    /// ```
    pub fn submit_batch<'a>(
        &self,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<PendingAppend<'_>, AppendError> {
        let batch = self.batch_of(payloads)?;
        Ok(self.submit(batch))
    }

    /// Prepared events (kinds, flags, timestamps) in one pipelined commit: what
    /// [`submit_batch`](Self::submit_batch) is to [`append_batch`](Self::append_batch), this is
    /// to [`append_events`](Self::append_events).
    pub fn submit_events(&self, events: impl IntoIterator<Item = NewEvent>) -> Result<PendingAppend<'_>, AppendError> {
        let batch = self.batch_of(events)?;
        Ok(self.submit(batch))
    }

    fn submit(&self, batch: Batch) -> PendingAppend<'_> {
        let (tx, rx) = bounded(1);
        if batch.items.is_empty() {
            let _ = tx.send(Ok((self.nothing_to_append(batch), Hash::default())));
        } else {
            let mut w = lock(&self.inline);
            if w.pipelines() {
                w.submit(batch, tx);
            } else {
                // Group commit: through the writer thread, which times the delayed sync.
                drop(w);
                let _ = tx.send(self.commit(batch));
            }
        }
        PendingAppend { core: self, rx: Some(rx) }
    }

    /// Completes the pipelined commit in flight, if any.
    fn drain_pipeline(&self) {
        lock(&self.inline).drain();
    }
}

/// A batch given to [`Core::submit_batch`], written but not yet known durable.
///
/// Dropping it without [`wait`](Self::wait) still completes the commit (it is not lost), but
/// whether it became durable is then not known to the caller.
#[must_use = "a submitted batch is acknowledged by wait()"]
#[derive(Debug)]
pub struct PendingAppend<'c> {
    core: &'c Core,
    rx: Option<Receiver<Reply>>,
}

/// What the writer replies once a commit is done: its seqs and the last leaf hash.
type Reply = Result<(Range<u64>, Hash), AppendError>;

impl PendingAppend<'_> {
    /// Waits until the batch is durable and published; returns its seqs. An error means it
    /// was not stored (and after a failed sync, [`AppendError::Poisoned`] for what follows).
    pub fn wait(mut self) -> Result<Range<u64>, AppendError> {
        let rx = self.rx.take().ok_or(AppendError::Closed)?;
        let r = match rx.try_recv() {
            Ok(r) => r,
            Err(_) => {
                self.core.drain_pipeline();
                rx.recv().map_err(|_| AppendError::Closed)?
            }
        };
        self.core.appended(r).map(|(range, _)| range)
    }
}

impl Drop for PendingAppend<'_> {
    fn drop(&mut self) {
        let Some(rx) = self.rx.take() else { return };
        if rx.is_empty() {
            self.core.drain_pipeline();
        }
        // Peers still hear of the events.
        if let Ok(r) = rx.try_recv() {
            let _ = self.core.appended(r);
        }
    }
}
