//! How a node reaches its peers: the connection kept per peer (whoever dialed), streams over
//! it or over Tor, dialing a session, and keeping a ticket's peer connected with redials.

use std::sync::Arc;
use std::time::Duration;

use iroh::EndpointAddr;
use iroh::endpoint::Connection;
use tokio::sync::watch;
use xaeroflux_core::xsp::Role;

use super::super::driver;
use super::super::endpoint::{self, XSP_ALPN};
use super::super::onion::OnionAddress;
use super::super::status::SyncEvent;
use super::super::stream::Stream;
use super::super::ticket::{PeerId, SpaceId};
use super::{KEEP_POLL, NetInner, REDIAL_RESET_AFTER};
use crate::store::state::lock;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection kept for new sessions with a peer.
pub(super) struct CachedConn {
    pub(super) conn: Connection,
    /// The incarnation the peer named in a session over it, once one connected.
    pub(super) incarnation: Option<u64>,
}

impl CachedConn {
    pub(super) fn new(conn: Connection) -> Self {
        CachedConn { conn, incarnation: None }
    }

    pub(super) fn is(&self, stable_id: usize) -> bool {
        self.conn.stable_id() == stable_id
    }
}

impl NetInner {
    /// The first and the longest wait before redialing `peer`: longer for a peer dialled over
    /// Tor ([`NetConfig::with_tor_redial_waits`]).
    fn redial_waits(&self, peer: &PeerId) -> (Duration, Duration) {
        #[cfg(feature = "tor")]
        if self.tor.get().is_some() && lock(&self.state).onions.contains_key(peer) {
            return self.cfg.tor_redial;
        }
        let _ = peer;
        self.cfg.redial
    }

    /// Remembers that `peer` is reached at `onion` (dialled over Tor from now on).
    pub(crate) fn learn_onion(&self, peer: PeerId, onion: OnionAddress) {
        lock(&self.state).onions.insert(peer, onion);
    }

    /// A Tor stream to `peer`, if it has an onion service and Tor runs here; `None` if not.
    /// `Some(None)` when dialling over Tor failed.
    async fn tor_stream(&self, peer: &PeerId) -> Option<Option<Stream>> {
        let onion = lock(&self.state).onions.get(peer).copied()?;
        #[cfg(feature = "tor")]
        if let Some(tor) = self.tor.get() {
            return Some(tor.connect(&onion).await);
        }
        let _ = onion;
        None
    }

    /// Stops reusing `conn` for new sessions with `peer` (if it is the cached one).
    pub(crate) fn forget_conn(&self, peer: &PeerId, conn: &Connection) {
        let mut st = lock(&self.state);
        if st.conns.get(peer).is_some_and(|c| c.is(conn.stable_id())) {
            st.conns.remove(peer);
        }
    }

    /// Stops reusing any connection with `peer` for new sessions: it fell silent (a session
    /// heard nothing from it for the idle timeout), so whichever connection is cached may be
    /// as dead as that session's. A live peer's sessions on it go on; new ones get a new one.
    pub(crate) fn forget_conns(&self, peer: &PeerId) {
        lock(&self.state).conns.remove(peer);
    }

    /// Caches a connection with a peer (whoever dialed) and accepts the streams the peer opens
    /// on it, until it closes. Both sides reuse one connection for every space, so streams
    /// arrive on connections this node dialed as well as on those it accepted.
    pub(super) async fn serve_conn(self: Arc<Self>, conn: Connection) {
        let peer = endpoint::peer_id(conn.remote_id());
        lock(&self.state).conns.insert(peer, CachedConn::new(conn.clone()));
        while let Ok((send, recv)) = conn.accept_bi().await {
            let (inner, conn) = (self.clone(), conn.clone());
            let stream = Stream::quic(conn, send, recv);
            self.handle.spawn(async move { driver::accept_stream(inner, peer, stream).await });
        }
        self.forget_conn(&peer, &conn);
    }

    /// A live connection to `peer`: the cached one, or a new one.
    async fn connection(self: &Arc<Self>, peer: &PeerId) -> Option<Connection> {
        if let Some(c) = lock(&self.state).conns.get(peer).filter(|c| c.conn.close_reason().is_none()) {
            return Some(c.conn.clone());
        }
        let id = endpoint::endpoint_id(peer)?;
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, self.endpoint.connect(EndpointAddr::new(id), XSP_ALPN))
            .await
            .ok()?
            .ok()?;
        lock(&self.state).conns.insert(*peer, CachedConn::new(conn.clone()));
        self.handle.spawn(self.clone().serve_conn(conn.clone()));
        Some(conn)
    }

    /// Opens a session with `peer` in `space` unless one is open or being opened.
    pub(crate) fn ensure_session(self: &Arc<Self>, space: SpaceId, peer: PeerId) {
        if peer == self.id || self.is_stopping() {
            return;
        }
        {
            let mut st = lock(&self.state);
            let open = st.sessions.values().any(|s| s.status.space == space && s.status.peer == peer);
            if open || !st.spaces.contains_key(&space) || !st.dialing.insert((space, peer)) {
                return;
            }
        }
        let inner = self.clone();
        self.handle.spawn(async move {
            inner.dial(space, peer).await;
        });
    }

    /// Dials `peer` and runs a session in `space` until it ends. Returns whether it started.
    async fn dial(self: &Arc<Self>, space: SpaceId, peer: PeerId) -> bool {
        lock(&self.state).dialing.insert((space, peer));
        let stream = match self.tor_stream(&peer).await {
            Some(over_tor) => over_tor,
            None => self.quic_stream(&peer).await,
        };
        let Some(stream) = stream else {
            lock(&self.state).dialing.remove(&(space, peer));
            self.emit(SyncEvent::ConnectFailed { space, peer });
            return false;
        };
        driver::run_session(self.clone(), space, peer, Role::Initiator, stream, Vec::new()).await;
        true
    }

    /// A new QUIC stream to `peer`, over the cached connection or a new one.
    async fn quic_stream(self: &Arc<Self>, peer: &PeerId) -> Option<Stream> {
        match self.connection(peer).await {
            Some(conn) => match conn.open_bi().await {
                Ok((send, recv)) => Some(Stream::quic(conn, send, recv)),
                Err(_) => {
                    self.forget_conn(peer, &conn);
                    None
                }
            },
            None => None,
        }
    }

    /// Keeps a session with `peer` in `space` open while the space is joined: redials with
    /// backoff ([`NetConfig::with_redial_waits`]; by default 250 ms doubling to 10 s, over Tor
    /// 2 s doubling to 60 s) whenever there is none.
    pub(super) async fn keep_peer(self: Arc<Self>, space: SpaceId, peer: PeerId, mut stop: watch::Receiver<bool>) {
        let mut shutdown = self.shutdown.subscribe();
        let mut backoff = self.redial_waits(&peer).0;
        loop {
            let (first, max) = self.redial_waits(&peer);
            backoff = backoff.clamp(first, max);
            if *stop.borrow() || self.is_stopping() {
                return;
            }
            let wait = if self.has_session(&space, &peer) || lock(&self.state).dialing.contains(&(space, peer)) {
                KEEP_POLL
            } else {
                let started = tokio::time::Instant::now();
                let ran = self.dial(space, peer).await;
                if ran && started.elapsed() > REDIAL_RESET_AFTER {
                    backoff = first;
                }
                let w = backoff;
                backoff = (backoff * 2).min(max);
                w
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
                _ = shutdown.changed() => return,
            }
        }
    }
}
