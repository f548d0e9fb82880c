//! Leaf hashing of large commits on two threads, without ever waiting for the second one.
//!
//! The leaf hash of an event (blake3 over its encoding: five compressions for a 256-byte
//! payload) is most of an append's CPU time. Leaves are hashed [`GROUP`] events at a time, across
//! SIMD lanes ([`leaf_hashes_into`]). For a commit of many events the writer encodes them into a
//! [`LeafJob`] and offers it to a helper thread, which hashes the groups from the last one
//! backwards, storing each group's leaves in its own once-cell. The writer packs the events from
//! the first one forwards, taking each leaf from its group's cell, or hashing the group itself
//! when the helper has not got there. The helper stops at the first cell it finds filled: the two
//! have met. So the writer never waits for the helper: on a busy machine where the helper gets no
//! CPU, the writer hashes everything itself; with a free core, the helper's hashing runs
//! alongside the writer's packing, MMR and page hashing.

use std::sync::{Arc, OnceLock};

use crossbeam_channel::{Sender, TrySendError, bounded};
use xaeroflux_core::Hash;
use xaeroflux_core::hash::{leaf_hash, leaf_hashes_into};

/// Commits of fewer events are hashed by the writer alone.
pub(crate) const PARALLEL_MIN: usize = 64;

/// Events whose leaves are hashed together (a multiple of every backend's lane count).
pub(crate) const GROUP: usize = 32;

/// Encoded events and their leaf hashes, shared by the writer and the helper.
#[derive(Default)]
pub(crate) struct LeafJob {
    /// The events back to back.
    pub enc: Vec<u8>,
    /// Start of each event in `enc`, then the end of the last.
    pub offs: Vec<usize>,
    /// The leaves of events `GROUP * g ..`, once hashed.
    groups: Vec<OnceLock<[Hash; GROUP]>>,
}

impl LeafJob {
    /// Empties the job for new events (keeping its buffers).
    pub(crate) fn clear(&mut self) {
        self.enc.clear();
        self.offs.clear();
        self.groups.clear();
    }

    fn events(&self) -> usize {
        self.offs.len().saturating_sub(1)
    }

    /// Event `i`'s encoded bytes.
    pub(crate) fn event(&self, i: usize) -> &[u8] {
        match (self.offs.get(i), self.offs.get(i + 1)) {
            (Some(&a), Some(&b)) => self.enc.get(a..b).unwrap_or_default(),
            _ => &[],
        }
    }

    /// The leaves of group `g` (entries past the last event stay `Hash::ZERO`, never read).
    fn hash_group(&self, g: usize) -> [Hash; GROUP] {
        let first = g * GROUP;
        let events: [&[u8]; GROUP] = core::array::from_fn(|k| self.event(first + k));
        let mut leaves = [Hash::ZERO; GROUP];
        let n = self.events().saturating_sub(first).min(GROUP);
        leaf_hashes_into(&events[..n], &mut leaves[..n]);
        leaves
    }

    /// The helper's part: hashes groups from the last backwards until it meets the writer.
    fn work_backwards(&self) {
        for (g, slot) in self.groups.iter().enumerate().rev() {
            if slot.get().is_some() {
                return;
            }
            let _ = slot.set(self.hash_group(g));
        }
    }

    /// Event `i`'s leaf hash: from the helper, or hashed now with its group (and kept, which
    /// tells the helper to stop when it gets there).
    pub(crate) fn leaf(&self, i: usize) -> Hash {
        let g = i / GROUP;
        match self.groups.get(g) {
            Some(slot) => slot.get_or_init(|| self.hash_group(g))[i % GROUP],
            None => leaf_hash(self.event(i)),
        }
    }
}

/// The writer's side: a helper thread fed through a channel of capacity one.
pub(crate) struct LeafHasher {
    helper: Option<Sender<Arc<LeafJob>>>,
    spare: Option<LeafJob>,
}

impl LeafHasher {
    /// Starts the helper thread if `helper` (or works alone if it cannot be started).
    pub(crate) fn new(helper: bool) -> Self {
        if !helper {
            return LeafHasher { helper: None, spare: None };
        }
        let (tx, rx) = bounded::<Arc<LeafJob>>(1);
        let started = std::thread::Builder::new().name("xaeroflux-hasher".into()).spawn(move || {
            // Ends when the writer drops its sender.
            for job in rx {
                job.work_backwards();
            }
        });
        LeafHasher { helper: started.ok().map(|_| tx), spare: None }
    }

    /// An empty job to encode events into.
    pub(crate) fn job(&mut self) -> LeafJob {
        let mut job = self.spare.take().unwrap_or_default();
        job.clear();
        job
    }

    /// Shares `job` (offering a large one to the helper); its leaves are then read, in order,
    /// with [`LeafJob::leaf`].
    pub(crate) fn hash(&mut self, mut job: LeafJob) -> Arc<LeafJob> {
        let n = job.events();
        job.groups.resize_with(n.div_ceil(GROUP), OnceLock::new);
        let job = Arc::new(job);
        if n >= PARALLEL_MIN
            && let Some(tx) = &self.helper
            && let Err(TrySendError::Disconnected(_)) = tx.try_send(job.clone())
        {
            self.helper = None;
        }
        job
    }

    /// Takes a job back for its buffers once the helper is done with it.
    pub(crate) fn recycle(&mut self, job: Arc<LeafJob>) {
        if let Ok(job) = Arc::try_unwrap(job)
            && job.enc.capacity() <= 8 << 20
        {
            self.spare = Some(job);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xaeroflux_core::{AuthorId, Event, EventFlags};

    #[test]
    fn every_leaf_is_the_events_leaf_hash() {
        let mut h = LeafHasher::new(true);
        for n in [0usize, 1, 63, 64, 65, 1000, 4097] {
            let mut job = h.job();
            let events: Vec<Event> = (0..n as u64)
                .map(|i| Event::new(AuthorId([7; 32]), i, i, 0, EventFlags::NONE, &vec![i as u8; (i % 300) as usize]))
                .collect();
            for e in &events {
                job.offs.push(job.enc.len());
                job.enc.extend_from_slice(e.encoded());
            }
            job.offs.push(job.enc.len());
            let job = h.hash(job);
            for (i, e) in events.iter().enumerate() {
                assert_eq!(job.event(i), e.encoded());
                assert_eq!(job.leaf(i), e.leaf_hash(), "{n} events, leaf {i}");
            }
            h.recycle(job);
        }
    }
}
