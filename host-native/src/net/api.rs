//! The sync methods of [`Core`]. All are blocking-friendly: they return at once (the work is
//! done by the sync's own threads) and may be called from any thread, async or not.

use super::config::NetError;
use super::endpoint;
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
    /// with backoff whenever it drops, until the space is left).
    pub fn join_ticket(&self, ticket: &Ticket) -> Result<(), NetError> {
        let inner = self.net_slot().inner()?;
        if ticket.peer != inner.id {
            let entry = PeerEntry { peer: ticket.peer, addrs: ticket.addrs.clone(), relay: ticket.relay.clone() };
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
    /// form (`to_string()`) starts with `xfs1`.
    pub fn ticket(&self, space: SpaceId) -> Result<Ticket, NetError> {
        let inner = self.net_slot().inner()?;
        inner.join_space(space, Vec::new());
        let (addrs, relay) = endpoint::own_addrs(&inner.endpoint);
        Ok(Ticket { space, peer: inner.id, addrs, relay })
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
        })
    }
}
