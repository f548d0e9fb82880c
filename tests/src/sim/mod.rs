//! A deterministic, seeded simulation of XSP: 2 to 5 peers, each with a
//! [`MemStore`](xaeroflux_core::memstore::MemStore), syncing over simulated links.
//!
//! Everything is a function of the seed: which peers exist and when they join, their page
//! sizes, limits and live mode, the events appended and when, which connections open and
//! when they drop (bytes in flight lost, cut anywhere), the chunk sizes writes are cut into,
//! latency and jitter, and which feeds each peer wants, including a feed unfollowed and
//! followed again within about a round trip (wanted again before the peer confirmed the
//! UNWANT; [`Stats::rewanted_while_taking_back`] counts those, and without the session's
//! guard against a second want then, 3 of 10 000 seeds fail). Time is simulated: the [`World`] jumps from one delivery or timer to
//! the next, the way quinn-proto's `Pair::drive` steps two endpoints, so a run of minutes
//! takes milliseconds.
//!
//! The hosts' duties are done as the crate docs of `xsp` prescribe: every verified batch is
//! stored, confirmed heads adopted, fork evidence recorded, and every session of a peer told
//! when one of its feeds changed.
//!
//! A failing seed is printed; `XSP_SIM_SEED=n cargo test -p xaeroflux-tests --test xsp_sim`
//! runs it alone, and `XSP_SIM_TRACE=1` prints each step.

pub mod check;
pub mod fixtures;
pub mod net;
pub mod rng;
pub mod scenario;
pub mod world;

pub use net::{Conn, Link, Store};
pub use rng::Rng;
pub use world::{Peer, Seen, Stats, World};
