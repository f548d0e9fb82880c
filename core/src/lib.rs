//! # xaeroflux-core
//!
//! The portable heart of Xaeroflux: everything that must be bit-for-bit identical on
//! every replica, with no I/O, no clock, no threads and no randomness of its own.
//! It is `#![no_std]` + `alloc`, and the project's test command builds it for a bare
//! target with no standard library at all, so no dependency can pull `std` in.
//!
//! ## Data model
//!
//! - An **author** is an ed25519 key pair ([`AuthorId`] is its public half).
//! - A **feed** is the append-only log of one author: events `seq` 0, 1, 2, … with no gaps.
//! - An **event** ([`event`]) is a fixed 56-byte header plus a payload. The header is read in
//!   place (no copy) over untrusted bytes.
//! - Each feed has a **Merkle Mountain Range** ([`mmr`]) over its events' leaf hashes: it
//!   gives a root, inclusion proofs and consistency proofs.
//! - A **signed head** ([`head`]) is `(author, length, root)` signed by the author. Two
//!   valid heads that disagree about a prefix are a **fork proof**.
//! - A feed's events are packed into fixed-size **pages** ([`page`]) by a deterministic rule,
//!   so page *k* of a feed is the same bytes on every replica; each page has its own Merkle
//!   tree for page proofs.
//!
//! - A space may have a **secret**: events flagged `ENCRYPTED` then carry a sealed payload
//!   ([`sealed`]), XChaCha20-Poly1305 under a key derived from it, that peers without the
//!   secret store, verify and forward but cannot read.
//!
//! Hashing ([`hash`]) is blake3 in keyed mode with one key per domain, so leaves, MMR
//! nodes, MMR roots, page nodes and page roots can never be confused.
//!
//! [`xsp`] is the sync protocol as a sans-IO state machine, and [`memstore`] a complete feed
//! store in memory that serves and stores what sessions verify (the store of the browser
//! host, and of the protocol simulations).
//!
//! Byte-level formats are documented in `docs/formats.md` of the repository.
//!
//! ## Features
//!
//! - `std` (off by default): lets blake3 detect SIMD at run time. Hosts turn it on; the
//!   core never needs it.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod event;
pub mod hash;
pub mod head;
pub mod hex;
pub mod memstore;
pub mod mmr;
pub mod page;
pub mod proof_file;
pub mod sealed;
pub mod xsp;

pub use event::{Event, EventFlags, EventHeader, EventRef};
pub use hash::Hash;
pub use head::{AuthorId, AuthorKey, SignedHead};
pub use page::{PageBuilder, PageConfig, PageHeader, PageProof, PageRef};
