//! # xaeroflux
//!
//! The native Xaeroflux store: an embedded, append-only, verifiable event store. Open it like
//! a local database, append events to your own feed, read any stored feed back without
//! copying, prove any event to anyone, and store other authors' events once they verify.
//!
//! ```
//! use xaeroflux::Core;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("xaeroflux.db");
//! let core = Core::builder()
//!     .with_page_size(16 * 1024)
//!     .with_segment_pages(1024)
//!     .open(&path)?;
//! let ev = core.new_event(b"Hello, Xaeroflux!");
//! let appended = core.append(ev)?;
//! core.append_batch([&b"one"[..], b"two", b"three"])?;
//! for event in core.iter_events() {
//!     let event = event?;
//!     println!("{} {:?}", event.seq(), event.payload());
//! }
//! let root = core.mmr_root();
//!
//! // Prove the first event to someone who only trusts the author's key.
//! let head = core.head();
//! assert_eq!(head.root, root);
//! let proof = core.inclusion_proof(&core.author(), appended.seq)?;
//! let event = core.get(&core.author(), appended.seq)?.expect("stored");
//! xaeroflux::verify_event(&event, &proof, &head)?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Design in one page
//!
//! Full byte-level details and the recovery rule are in `docs/storage.md`.
//!
//! - **Pages in segment files.** Each feed's events are packed into fixed-size pages by the
//!   deterministic rule of [`xaeroflux_core::page`]. Pages live in *segment files* of
//!   `segment_pages` pages each, preallocated (zero-filled) when created. The writer writes
//!   with `pwrite` and makes commits durable with one `fdatasync`; readers see the files
//!   through read-only memory maps.
//! - **redb index.** A redb database keeps the settings, one row per feed (length, MMR peaks,
//!   latest signed head), one row per page (location, count, page root), the high MMR nodes,
//!   and the arrival order. It is written at *checkpoints*, not per append: the
//!   `(author, seq) → location` lookup is a binary search over the feed's dense page list.
//! - **Commits.** An append writes the new event bytes, then the page header, then (under
//!   [`Durability::EachAppend`]) calls `fdatasync` once. Appends queued by several threads are
//!   committed together. An import ([`Core::store_verified`], [`Core::store_batches`]) also
//!   checkpoints the index; [`Core::store_batch_runs`] imports many feeds in one commit
//!   (one sync, one checkpoint), as the network sync does.
//! - **Recovery.** Pages are checksummed. On open, the local feed's last page and the slots
//!   after the checkpoint are examined; valid pages continuing the feed are taken, and what
//!   follows them is zeroed. The work is bounded by the checkpoint interval (1 024 pages by
//!   default, `CoreBuilder::with_checkpoint_pages`) and the segment size, never by the number
//!   of events.
//! - **Integrity check.** [`Core::check_integrity`] reads every page again and rebuilds each
//!   feed's MMR to check the index, the stored proof nodes and signed heads; it reports each
//!   problem ([`IntegrityProblem`]) and runs while the store is written (`xf check`).
//! - **Backups.** [`Core::backup_to`] writes a new store of the same author while this one is
//!   used: every feed byte for byte, each event hashed again and checked against its feed's
//!   signed head and root, renamed into place only once complete and durable (`xf backup`);
//!   [`Core::update_backup`] later copies only what the backup lacks.
//! - **Proofs.** The index keeps the MMR nodes of height 6 and more (about one per 32
//!   events); a proof recomputes lower nodes from the events of one aligned block of 64.
//! - **Memory.** The store keeps per feed its peaks, the MMR nodes made since the last
//!   checkpoint, and a 16-byte entry per page.
//! - **Encrypted events.** With a [`SpaceSecret`] ([`secret`]), [`NewEvent::encrypt`] seals a
//!   payload end to end and [`EventRef::decrypt`] opens it; the store, its proofs and the
//!   sync handle the sealed bytes like any other, so peers without the secret relay them
//!   without reading them.
//!
//! ## Call rules and concurrency
//!
//! - All methods take `&self`; a [`Core`] is `Send + Sync`. Share it with an `Arc`.
//! - Commits are serialized by one writer, fed by a channel and run by its own thread. Under
//!   [`Durability::EachAppend`], an append that finds the writer idle (no commit running, no
//!   request queued) commits on the calling thread instead, sparing the two thread hand-offs;
//!   appends that arrive while a commit runs queue up and are committed together by the
//!   writer thread. Appends block until their commit is done (durable, or written under
//!   [`Durability::GroupCommit`]).
//! - [`Core::submit_batch`] pipelines batches from one thread: it returns once the batch is
//!   written, its `fdatasync`s running while the caller prepares the next batch; the batch is
//!   published, and [`PendingAppend::wait`] returns, once it is durable. At most one such
//!   commit is in flight; submitting the next one, waiting, or any other write completes it.
//! - Besides the writer thread, a `Core` runs a leaf-hashing helper
//!   ([`CoreBuilder::with_hash_helper`]) and two threads that make commits' `fdatasync`s (the
//!   segments' and the tail log's, at once), started on first use. They end when the `Core` is
//!   dropped.
//! - Readers never wait for a commit: a feed's published length and page list are updated
//!   under a short lock after each commit, and readers copy a page location under that lock
//!   and read the mapped bytes without one. An iterator yields what was committed when it was
//!   made; events appended later are not seen by it.
//! - Events returned by reads borrow from the `Core` (`EventRef<'_>`): segments stay mapped
//!   until the `Core` is dropped, and stored bytes are never rewritten with other values, so a
//!   borrowed event stays valid and unchanged.
//! - Pages read for the first time in a process are checked (checksum and encoding); a damaged
//!   page gives [`ReadError::Corrupt`] for its seqs, and every other page stays readable.
//! - One process opens a store at a time ([`OpenError::Locked`] otherwise, at once or after
//!   [`CoreBuilder::with_lock_wait`]).
//! - Drop or [`Core::close`] checkpoints. A crash (even `kill -9` or a power cut, whatever
//!   the order the disk persisted the last writes in) loses nothing acknowledged: the next
//!   open recovers it (see "Recovery rule" and the tail log in `docs/storage.md`).
#![deny(missing_docs)]

mod core_api;
mod error;
mod integrity;
#[cfg(feature = "net")]
pub mod net;
#[cfg(test)]
mod power_cut_tests;
mod read;
pub mod secret;
mod store;
#[cfg(test)]
mod tests;
mod verify;

/// The README's Rust example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

pub use core_api::{
    Appended, ArchiveReport, ArchiveWriteError, BackupError, BackupProgress, BackupReport, Core, CoreBuilder,
    Durability, FeedInfo, NewEvent, PendingAppend, RestoreArchiveError, RestoreProgress, Stats,
};
pub use error::{
    AppendError, CorruptReason, ImportError, IoError, OpenError, ProveError, ReadError, RecordForkError, SyncError,
};
pub use integrity::{CheckError, CheckProgress, HeadProblem, IntegrityProblem, IntegrityReport};
pub use read::{Events, FeedRange};
pub use secret::{
    EncryptError, ParseSecretError, RandomError, SealError, new_space_secret, parse_space_secret, space_secret_hex,
};
pub use store::files::FORMAT_VERSION;
pub use verify::{VerifyError, verify_consistency, verify_event};
pub use xaeroflux_core;
pub use xaeroflux_core::mmr::{ConsistencyProof, InclusionProof, MmrPeaks};
pub use xaeroflux_core::sealed::{DecryptError, SpaceSecret};
pub use xaeroflux_core::{AuthorId, Event, EventFlags, EventRef, Hash, SignedHead};
