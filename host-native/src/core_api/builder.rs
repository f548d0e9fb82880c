//! Opening a store: [`CoreBuilder`] and its settings, [`Durability`].

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xaeroflux_core::AuthorKey;

use crate::error::{IoError, OpenError};
use crate::store::open::{Options, open};
use crate::store::segments::SegmentIo;
use crate::store::writer::Writer;

use super::Core;

/// When an append is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Every append (and batch) is on stable storage (`fdatasync`) before it returns. Appends
    /// from several threads that queue up together share one `fdatasync`.
    #[default]
    EachAppend,
    /// Appends return once written to the OS (visible to readers, safe against a crash of the
    /// process), and are made durable together at most `max_delay` later (safe against a
    /// power cut from then on). [`Core::sync`] forces it earlier.
    GroupCommit {
        /// Longest time an acknowledged append may stay not durable.
        max_delay: Duration,
    },
}

/// Settings for opening a store. Made by [`Core::builder`].
pub struct CoreBuilder {
    page_size: Option<u32>,
    segment_pages: u32,
    durability: Durability,
    io: Option<Box<dyn SegmentIo>>,
    hash_helper: bool,
    checkpoint_pages: u32,
    lock_wait: Duration,
    author_key: Option<AuthorKey>,
    #[cfg(feature = "net")]
    net: Option<crate::net::NetConfig>,
}

impl CoreBuilder {
    /// Page size in bytes for a new store (default 16 KiB; 1 KiB to 1 MiB). An existing store
    /// keeps its own, and opening it with a different one is an error.
    pub fn with_page_size(mut self, bytes: u32) -> Self {
        self.page_size = Some(bytes);
        self
    }

    /// Pages per segment file (default 1024). Only affects segments created from now on.
    pub fn with_segment_pages(mut self, n: u32) -> Self {
        self.segment_pages = n;
        self
    }

    /// The author key of the store this creates (a backup's: its source's key), instead of a
    /// fresh one; an existing store must hold it.
    pub(crate) fn with_author_key(mut self, key: AuthorKey) -> Self {
        self.author_key = Some(key);
        self
    }

    /// When appends are durable (default [`Durability::EachAppend`]).
    pub fn with_durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }

    /// Whether a helper thread hashes events of large commits (64 events or more) alongside
    /// the writer thread (default `true`). The writer never waits for it, so on a busy machine
    /// it costs nothing; with a free core, batched appends were about 25 % faster here. Turn it
    /// off to keep the store to one background thread.
    pub fn with_hash_helper(mut self, on: bool) -> Self {
        self.hash_helper = on;
        self
    }

    /// How many pages the writer seals between two index checkpoints (default 1 024; at least
    /// 1). A checkpoint syncs the segments and commits the index durably (a few milliseconds);
    /// between two, a crash leaves up to this many pages for the next open to check and take
    /// back (16 MiB at the default page size), and the MMR nodes they add stay in memory. Fewer
    /// pages: less work after a crash, slower ingest (at 256, batched appends took about 8 %
    /// longer on the disks of our benchmarks). The tail log, a commit importing other feeds and
    /// [`Core::checkpoint`] checkpoint too, whatever this says.
    pub fn with_checkpoint_pages(mut self, n: u32) -> Self {
        self.checkpoint_pages = n;
        self
    }

    /// How long [`open`](Self::open) waits for a store another process (or another [`Core`]
    /// of this one) holds before it fails with [`OpenError::Locked`] (default zero: at once;
    /// `Duration::MAX`: until it is free). One process opens a store at a time; with a wait, a
    /// short-lived holder (a command-line tool reading the store, an application restarting)
    /// need not make the open fail, as SQLite's busy timeout does for its locks.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path();
    /// use std::time::Duration;
    /// use xaeroflux::{Core, OpenError};
    ///
    /// let first = Core::open(path)?;
    /// let held = Core::builder().with_lock_wait(Duration::from_millis(50)).open(path);
    /// assert!(matches!(held, Err(OpenError::Locked { .. })));
    /// let closer = std::thread::spawn(move || first.close());
    /// let second = Core::builder().with_lock_wait(Duration::from_secs(10)).open(path)?;
    /// closer.join().unwrap()?;
    /// # drop(second);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    #[cfg(test)]
    pub(crate) fn with_io(mut self, io: Box<dyn SegmentIo>) -> Self {
        self.io = Some(io);
        self
    }

    /// Starts background sync when the store opens, over the named backends: `"iroh"`
    /// (XSP over QUIC streams) and `"iroh-gossip"` (live heads announced in each space).
    /// Join spaces with [`Core::join_space`] or [`Core::join_ticket`]. See [`crate::net`].
    #[cfg(feature = "net")]
    pub fn with_sync_backends(mut self, backends: &[&str]) -> Self {
        self.net = Some(self.net.take().unwrap_or_default().with_backends(backends));
        self
    }

    /// Network settings (bind address, relay, transport) for the sync started by
    /// [`CoreBuilder::with_sync_backends`]; backends chosen there are kept.
    #[cfg(feature = "net")]
    pub fn with_net_config(mut self, config: crate::net::NetConfig) -> Self {
        self.net = Some(config.keep_backends(self.net.take()));
        self
    }

    /// Opens the store at `path` (a directory), creating it if the path does not exist or is an
    /// empty directory. Recovers from a crash if the last session did not close cleanly.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Core, OpenError> {
        if self.segment_pages == 0 {
            return Err(OpenError::Config("segment pages must be at least 1"));
        }
        if self.checkpoint_pages == 0 {
            return Err(OpenError::Config("checkpoint pages must be at least 1"));
        }
        let path = path.as_ref().to_path_buf();
        let opts = Options {
            page_size: self.page_size,
            segment_pages: self.segment_pages,
            durability: self.durability,
            io: self.io,
            hash_helper: self.hash_helper,
            checkpoint_pages: u64::from(self.checkpoint_pages),
            lock_wait: self.lock_wait,
            author_key: self.author_key,
        };
        #[cfg(feature = "net")]
        let net = self.net;
        let (shared, writer) = open(&path, opts)?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let writer = Arc::new(Mutex::new(writer));
        let thread_writer = writer.clone();
        let handle = std::thread::Builder::new()
            .name("xaeroflux-writer".into())
            .spawn(move || Writer::run(thread_writer, rx))
            .map_err(|e| IoError::new("start writer thread", None, e))?;
        let core = Core {
            shared,
            tx,
            inline: writer,
            last_reply_ns: AtomicU64::new(0),
            writer: Mutex::new(Some(handle)),
            path,
            #[cfg(feature = "net")]
            net: Default::default(),
        };
        #[cfg(feature = "net")]
        if let Some(config) = net {
            crate::net::start(&core, config).map_err(OpenError::Net)?;
        }
        Ok(core)
    }
}

impl Core {
    /// Settings for opening a store.
    pub fn builder() -> CoreBuilder {
        CoreBuilder {
            page_size: None,
            segment_pages: 1024,
            durability: Durability::EachAppend,
            io: None,
            hash_helper: true,
            checkpoint_pages: crate::store::writer::CHECKPOINT_PAGES,
            lock_wait: Duration::ZERO,
            author_key: None,
            #[cfg(feature = "net")]
            net: None,
        }
    }

    /// Opens a store with default settings.
    pub fn open(path: impl AsRef<Path>) -> Result<Core, OpenError> {
        Self::builder().open(path)
    }
}
