//! Background sync over the network (feature `net`): XSP over iroh QUIC streams, live heads
//! over iroh-gossip.
//!
//! ```no_run
//! use xaeroflux::Core;
//! use xaeroflux::net::{SpaceId, SyncEvent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let core = Core::builder().with_sync_backends(&["iroh", "iroh-gossip"]).open("alice.db")?;
//! let space = SpaceId::from_name("our team");
//! let ticket = core.ticket(space)?; // give `ticket.to_string()` to a friend
//!
//! // On the friend's machine:
//! let friend = Core::builder().with_sync_backends(&["iroh", "iroh-gossip"]).open("bob.db")?;
//! friend.join_ticket(&ticket.to_string().parse()?)?;
//! for ev in friend.subscribe()? {
//!     if let SyncEvent::Received { author, seqs, .. } = ev {
//!         for e in friend.range(&author, seqs)? {
//!             println!("{:?}", e.payload());
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Design
//!
//! - **One endpoint per store.** An iroh endpoint whose key (`net.key`) lives in the store
//!   directory, so a store keeps its node id. No relay and no address lookup service unless
//!   configured ([`NetConfig`]): peers are reached at the direct addresses of tickets, and at
//!   the addresses gossip learns, so it works on a LAN or loopback with no internet. A relay
//!   URL (for example a local `iroh-relay`) can be set for peers that cannot dial directly.
//! - **XSP sessions.** One QUIC connection per peer, one bidirectional stream per space
//!   (ALPN [`XSP_ALPN`]), one sans-IO [`xaeroflux_core::xsp::Session`] per stream, in live
//!   mode: after catching up each side pushes new events as they are stored. The side that
//!   accepts a stream learns the space from the peer's HELLO; a stream for a space not
//!   joined is refused with XSP's `SPACE_MISMATCH`, without announcing anything.
//! - **Storing.** Verified batches go through a bounded queue to one importer thread that
//!   stores them with [`Core::store_batch`](crate::Core::store_batch) (which checks them
//!   again), then tells every session, so the events flow on to other peers.
//! - **Gossip.** One topic per space (a key derived from the space id). Nodes announce the
//!   signed heads of their feeds as they change; a node that hears of a longer head than it
//!   holds opens a session with the announcing node. Nodes also keep sessions with their gossip
//!   neighbours. Each store remembers the peers it met per space (`net.peers`) and rejoins a
//!   space's topic through them after a restart.
//! - **Threads.** A private tokio runtime (2 workers by default, named `xaeroflux-net`) and the
//!   importer thread. The public API never blocks on the network. Dropping or closing the
//!   [`Core`](crate::Core) stops them all and closes every socket.
//! - **Spaces and feeds.** Every feed of the store is served in every space it joined: use
//!   one store per space when spaces must not see each other's feeds.
//! - **Sparse replication.** By default every feed announced is fetched and kept
//!   ([`Replication::All`]). With [`Replication::Followed`] only the feeds of the authors the
//!   application follows ([`Core::follow`](crate::Core::follow)) are; any feed can be read on
//!   demand, verified but not stored, with [`Core::fetch_events`](crate::Core::fetch_events);
//!   what a read verified is kept for later reads, in memory
//!   ([`NetConfig::with_fetch_cache`]) and in the store directory across restarts
//!   ([`NetConfig::with_fetch_cache_on_disk`]), so reading it again asks no peer, offline too.
//!
//! The byte layouts of tickets and gossip announcements are in `docs/net.md`.

mod admission;
#[cfg(test)]
mod admission_sim;
mod api;
mod claims;
mod config;
mod driver;
mod endpoint;
mod fetch;
mod fetch_proof;
mod follow;
#[doc(hidden)]
pub mod fuzzing;
mod gossip;
mod import;
mod key;
mod node;
mod onion;
mod peer_book;
mod port;
mod source;
mod status;
mod stream;
mod ticket;
#[cfg(feature = "tor")]
mod tor;
#[cfg(feature = "tor")]
mod tor_tcp;

pub use config::{NetConfig, NetError};
pub use endpoint::XSP_ALPN;
#[doc(hidden)]
pub use endpoint::quic_transport_config;
pub use fetch::{Fetch, FetchError, FetchedEvents};
pub use fetch_proof::{FetchedConsistency, FetchedProof};
pub use follow::Replication;
pub(crate) use node::{NetSlot, start};
pub use onion::{OnionAddress, OnionAddressError};
pub use status::{OnionServiceState, PeerStatus, Subscription, SyncEvent, SyncStatus, TorStatus};
pub use ticket::{MAX_TICKET_ADDRS, PeerId, SpaceId, TICKET_PREFIX, Ticket, TicketError};
#[cfg(feature = "tor")]
pub use tor::XSP_ONION_PORT;
#[cfg(feature = "tor")]
#[doc(hidden)]
pub use tor::{TorRuntime, tor_runtime};

/// Writes `bytes` as the file `name` in `dir` so that a crash leaves either the old file or
/// the whole new one: a temporary file (mode 0600), synced, renamed into place, the directory
/// synced.
pub(crate) fn replace_file(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::fs;
    use std::io::Write as _;
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
