//! The sync methods of [`Core`]. All are blocking-friendly: they return at once (the work is
//! done by the sync's own threads) and may be called from any thread, async or not.

use super::config::NetError;
use super::endpoint;
use super::onion::OnionAddress;
use super::peer_book::PeerEntry;
use super::status::{Subscription, SyncStatus};
use super::ticket::{PeerId, SpaceId, Ticket};
use crate::Core;

impl Core {
    /// This node's id on the network (the public key of `net.key` in the store directory).
    pub fn node_id(&self) -> Result<PeerId, NetError> {
        Ok(self.net_slot().inner()?.id)
    }

    /// Joins `space`: serves the store's feeds to the space's peers and fetches theirs, and
    /// (with the `"iroh-gossip"` backend) announces heads on the space's gossip topic.
    /// Idempotent. The topic is joined through the peers this store met in the space before
    /// (its peer book, `net.peers`, kept across restarts), so a space joined once through a
    /// ticket can be joined again by its id alone.
    pub fn join_space(&self, space: SpaceId) -> Result<(), NetError> {
        let inner = self.net_slot().inner()?;
        inner.join_space(space, Vec::new());
        Ok(())
    }

    /// Joins the ticket's space and keeps a session with the node that made it (redialled
    /// with backoff whenever it drops, until the space is left). A ticket that names an onion
    /// service is dialled over Tor when this store runs the `"tor"` backend; one that names
    /// nothing else needs it ([`NetError::TorNotRunning`]).
    pub fn join_ticket(&self, ticket: &Ticket) -> Result<(), NetError> {
        let inner = self.net_slot().inner()?;
        match ticket.onion {
            Some(onion) if inner.backends.tor => inner.learn_onion(ticket.peer, onion),
            Some(_) if ticket.addrs.is_empty() && ticket.relay.is_none() => return Err(NetError::TorNotRunning),
            _ => {}
        }
        if ticket.peer != inner.id {
            let entry = PeerEntry {
                peer: ticket.peer,
                addrs: ticket.addrs.clone(),
                relay: ticket.relay.clone(),
                onion: ticket.onion,
            };
            inner.met(ticket.space, entry);
            inner.join_space(ticket.space, vec![ticket.peer]);
            // In the book at once, not at the next announcement tick: a process killed soon
            // after still finds the space's peer after its restart.
            inner.save_book_soon();
        } else {
            inner.join_space(ticket.space, Vec::new());
        }
        Ok(())
    }

    /// Leaves `space`: stops announcing and closes its sessions. The feeds stay stored.
    pub fn leave_space(&self, space: &SpaceId) -> Result<(), NetError> {
        self.net_slot().inner()?.leave_space(space)
    }

    /// A ticket for `space` (joined first if it was not): another node passes it to
    /// [`Core::join_ticket`] (or `xf join`) to join the space through this node. Its string
    /// form (`to_string()`) starts with `xfs1`. With the `"tor"` backend it names this
    /// store's onion service; with Tor alone, nothing else (no address of this machine).
    pub fn ticket(&self, space: SpaceId) -> Result<Ticket, NetError> {
        let inner = self.net_slot().inner()?;
        inner.join_space(space, Vec::new());
        let (addrs, relay) =
            if inner.backends.iroh { endpoint::own_addrs(&inner.endpoint) } else { (Vec::new(), None) };
        Ok(Ticket { space, peer: inner.id, addrs, relay, onion: inner.onion() })
    }

    /// This store's onion service (`<56 characters>.onion`), if it runs the `"tor"` backend.
    pub fn onion_address(&self) -> Result<Option<OnionAddress>, NetError> {
        Ok(self.net_slot().inner()?.onion())
    }

    /// Subscribes to sync events (new events stored, peers, progress, rejections). See
    /// [`Subscription`].
    pub fn subscribe(&self) -> Result<Subscription, NetError> {
        Ok(self.net_slot().inner()?.hub.subscribe())
    }

    /// The spaces joined and every open session with its progress.
    pub fn sync_status(&self) -> Result<SyncStatus, NetError> {
        let inner = self.net_slot().inner()?;
        let (bytes_in, bytes_out) = inner.total_bytes();
        Ok(SyncStatus {
            node: inner.id,
            spaces: inner.spaces(),
            peers: inner.peer_statuses(),
            bytes_in,
            bytes_out,
            duplicates_refused: inner.duplicates_refused(),
            tor: inner.tor_status(),
        })
    }
}
