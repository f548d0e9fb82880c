//! # xaeroflux-wasm
//!
//! Xaeroflux in the browser: the same verifiable event store as the native crate, compiled
//! to WebAssembly with wasm-bindgen and published as the npm package `xaeroflux-wasm`.
//!
//! ```js
//! import init, { Store, verifyProof } from "xaeroflux-wasm";
//! await init();
//! const store = await Store.open("my-app");          // IndexedDB, survives reloads
//! await store.append("hello");                        // resolves once committed
//! const proof = store.prove(0);                       // the same file `xf prove` writes
//! verifyProof(proof, { author: store.author });       // anyone can check it, no store
//! ```
//!
//! ## Design
//!
//! - **One store in memory, persisted around the edges.** A
//!   [`MemStore`](xaeroflux_core::memstore::MemStore) from the core holds the feeds (pages
//!   by the packing rule, MMRs, signed heads); every write is then committed to IndexedDB as
//!   page images and small records, in one transaction per group of writes (`store/inner.rs`,
//!   `idb.rs`, `docs/browser-storage.md`). Opening rebuilds the store with
//!   [`Restore`](xaeroflux_core::memstore::Restore), which verifies every page, head and
//!   proof again: a damaged database is refused with `CORRUPT`, never served.
//! - **One tab per store.** `Store.open` holds an exclusive Web Lock named after the store;
//!   a second tab gets `LOCKED`. Tabs that want to share data open different stores and sync.
//! - **Sync over any stream.** [`SyncSession`] drives the core's sans-IO XSP session; the
//!   transport is JavaScript's (an iroh relay connection, a WebSocket, a `MessagePort`).
//!   Peers only ever see the local feed up to what is committed (`sync/view.rs`). A session
//!   may store only some feeds (`fetch`) and read others on demand, verified but not stored
//!   (`session.fetchEvents`, `sync/fetch.rs`).
//! - **Errors are JavaScript `Error`s** with `name === "XaerofluxError"` and a stable
//!   `code` ([`ErrorCode`]); each operation has its own Rust error enum behind them.
//! - **Proof files are the `xf` tool's**: a proof made in a browser verifies with
//!   `xf verify`, and one made by `xf prove` verifies with `verifyProof`.
//!
//! The bindings compile on every target, so that native `cargo test` and clippy cover the
//! pure parts (records, proof files, the durable view); the JavaScript-facing parts run under
//! `wasm-bindgen-test` in Node.js and in headless Chromium (`scripts/test-wasm.sh`).
#![deny(missing_docs)]

#[cfg(feature = "bench")]
pub mod bench;
pub mod error;
mod hex;
mod idb;
mod js;
#[cfg(feature = "iroh")]
mod net;
mod persist;
mod platform;
pub mod proof;
mod secret;
mod store;
mod sync;
mod types;
mod verify;

pub use error::{ErrorCode, JsError};
#[cfg(feature = "iroh")]
pub use net::{ConnectError, Connection, XSP_ALPN};
pub use secret::{EncryptError, SecretError, decrypt_event, event_key_id, generate_space_secret, space_secret_key_id};
pub use store::{OpenError, Store, Subscription, archive_info};
pub use sync::SyncSession;
pub use verify::{
    Mmr, decode_event, decode_head, encode_event, is_xaeroflux_error, leaf_hash, page_tree_root_js, verify_head,
    verify_inclusion, verify_proof,
};
