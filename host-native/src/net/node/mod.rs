//! The running sync of one store: its runtime, endpoint, sessions and spaces.
//!
//! Ownership: the [`Core`] the user holds owns a [`NetSlot`] holding the [`Net`]; the `Net`
//! owns the private tokio runtime and the importer thread; every task holds an
//! `Arc<NetInner>`. Stopping (on `Core` drop or close) signals every task, closes the router
//! and the endpoint, shuts the runtime down and joins the importer, so no thread or socket
//! outlives the `Core`.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use iroh::Endpoint;
use iroh::address_lookup::memory::MemoryLookup;
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler, Router};
use iroh_gossip::Gossip;
use tokio::sync::{broadcast, mpsc, watch};
use xaeroflux_core::AuthorId;
use xaeroflux_core::xsp::FetchCache;

use super::admission::{self, Existing};
use super::claims::{self, Claims};
use super::config::{Backends, NetConfig, NetError};
use super::driver::Control;
use super::endpoint::{self, XSP_ALPN};
use super::fetch::{FetchedEvents, KeptJob, KeptReads};
use super::follow::Follows;
use super::import::{self, ImportJob};
use super::onion::OnionAddress;
use super::peer_book::{self, PeerBook, PeerEntry};
use super::source::Forked;
use super::status::{Hub, PeerStatus, SyncEvent};
use super::ticket::{PeerId, SpaceId};
use super::{gossip, key, port};

mod dial;

use crate::Core;
use crate::store::state::lock;
use dial::CachedConn;

/// Verified batches queued for the importer per node (each about 256 KiB): taken from the
/// sessions' flow-control windows, so this bounds what waits for the disk.
const IMPORT_QUEUE: usize = 64;
/// Longest a stopping node waits for its peers to acknowledge the closing of connections.
const CLOSE_BUDGET: Duration = Duration::from_millis(300);
/// Feed-change notifications a session may fall behind before it re-reads every feed.
const CHANGE_QUEUE: usize = 1024;
/// How often a kept peer's task looks again while a session with it is open or being opened.
pub(crate) const KEEP_POLL: Duration = Duration::from_millis(500);
/// A session that ran longer than this resets the redial wait to the first one.
/// (The redial waits themselves are [`NetConfig::with_redial_waits`].)
pub(crate) const REDIAL_RESET_AFTER: Duration = Duration::from_secs(5);
/// This run's incarnation ([`NetInner::incarnation`]).
fn incarnation_now() -> Result<u64, NetError> {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    match since_epoch.ok().and_then(|d| u64::try_from(d.as_micros()).ok()) {
        Some(us) => Ok(us),
        // A clock before 1970: any number still tells runs apart in HELLOs.
        None => {
            let mut n = [0u8; 8];
            getrandom::fill(&mut n).map_err(|_| NetError::Random)?;
            Ok(u64::from_le_bytes(n))
        }
    }
}

/// Peers of the book dialed at once when a space is joined (the most recently met).
const BOOK_DIALS: usize = 4;

/// The slot in [`Core`] that holds the running sync, if any.
#[derive(Default)]
pub(crate) struct NetSlot(Mutex<Option<Net>>);

impl NetSlot {
    /// Tells every session that `author`'s feed changed (called after local appends and
    /// imports).
    pub(crate) fn feed_changed(&self, author: &AuthorId) {
        if let Some(net) = lock(&self.0).as_ref() {
            let _ = net.inner.changed.send(*author);
        }
    }

    /// Stops the sync, if running: waits for its threads to end.
    pub(crate) fn stop(&self) {
        let net = lock(&self.0).take();
        drop(net);
    }

    pub(crate) fn inner(&self) -> Result<Arc<NetInner>, NetError> {
        lock(&self.0).as_ref().map(|n| n.inner.clone()).ok_or(NetError::NotRunning)
    }
}

/// Starts the sync of `core` (called by `CoreBuilder::open`).
pub(crate) fn start(core: &Core, cfg: NetConfig) -> Result<(), NetError> {
    let on = cfg.parse_backends()?;
    if !on.any() {
        return Ok(());
    }
    // Tor alone: the endpoint (which carries nothing but this node's own loopback traffic)
    // stays off every other interface.
    let cfg = if on.iroh { cfg } else { cfg.loopback_only() };
    let key = key::load_or_create(core.path())?;
    let book = PeerBook::load(core.path());
    let keep_port = cfg.keep_port && cfg.bind.port() == 0;
    let last_port = if keep_port { port::load(core.path()) } else { None };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .max_blocking_threads(4)
        .thread_keep_alive(Duration::from_millis(500))
        .thread_name("xaeroflux-net")
        .enable_all()
        .build()
        .map_err(|source| NetError::Io { op: "start the network runtime", source })?;
    let sibling = Arc::new(core.sibling());
    let handle = rt.handle().clone();
    let (tx, rx) = std::sync::mpsc::channel();
    rt.spawn(async move {
        let _ = tx.send(NetInner::bind(sibling, cfg, key, last_port, book, on, handle).await);
    });
    let inner = match rx.recv() {
        Ok(Ok(inner)) => inner,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(NetError::Stopped),
    };
    if keep_port {
        let bound = inner.endpoint.bound_sockets().into_iter().find(|a| a.is_ipv4() == inner.cfg.bind.is_ipv4());
        if let Some(bound) = bound.filter(|b| Some(b.port()) != last_port) {
            // A cache, like the peer book: without it the next run only binds another port.
            let _ = port::save(core.path(), bound.port());
        }
    }
    let (import_tx, import_rx) = mpsc::channel(IMPORT_QUEUE);
    *lock(&inner.import_tx) = Some(import_tx);
    let importer = import::spawn(inner.clone(), import_rx)
        .map_err(|source| NetError::Io { op: "start the importer thread", source })?;
    let kept = if inner.cfg.fetch_cache_on_disk {
        let (jobs, queue) = std::sync::mpsc::channel();
        *lock(&inner.kept_jobs) = Some(jobs);
        Some(
            KeptReads::new(core.path())
                .spawn(queue)
                .map_err(|source| NetError::Io { op: "start the thread keeping reads", source })?,
        )
    } else {
        None
    };
    let net = Net { rt: Some(rt), inner: inner.clone(), importer: Some(importer), kept };
    for space in inner.cfg.spaces.clone() {
        inner.join_space(space, Vec::new());
    }
    *lock(&core.net_slot().0) = Some(net);
    Ok(())
}

/// The running sync. Dropping it stops everything.
pub(crate) struct Net {
    rt: Option<tokio::runtime::Runtime>,
    inner: Arc<NetInner>,
    importer: Option<JoinHandle<()>>,
    /// The thread keeping reads on demand on disk.
    kept: Option<JoinHandle<()>>,
}

impl Drop for Net {
    fn drop(&mut self) {
        let inner = self.inner.clone();
        let _ = inner.shutdown.send(true);
        if let Some(rt) = self.rt.take() {
            let (tx, rx) = std::sync::mpsc::channel();
            let closing = inner.clone();
            rt.spawn(async move {
                // Sessions see the shutdown signal and send their closing ERROR frame first.
                tokio::time::sleep(Duration::from_millis(20)).await;
                // The router shuts the protocols down and closes the endpoint, which waits for
                // peers to acknowledge the connection closes: live peers do within a round trip;
                // peers that are gone never do, and are not waited for beyond the budget.
                let close = async {
                    if let Some(router) = closing.router.get() {
                        let _ = router.shutdown().await;
                    }
                    closing.endpoint.close().await;
                };
                let _ = tokio::time::timeout(CLOSE_BUDGET, close).await;
                let _ = tx.send(());
            });
            let _ = rx.recv_timeout(CLOSE_BUDGET + Duration::from_millis(200));
            // Dropping a runtime inside another runtime's task panics: do it on a plain thread.
            let stop = move || rt.shutdown_timeout(Duration::from_secs(1));
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::spawn(stop).join();
            } else {
                stop();
            }
        }
        lock(&inner.import_tx).take();
        if let Some(t) = self.importer.take() {
            let _ = t.join();
        }
        // Its last jobs done first: a store opened again reads what this run kept.
        lock(&inner.kept_jobs).take();
        if let Some(t) = self.kept.take() {
            let _ = t.join();
        }
        inner.save_book();
        inner.hub.close();
    }
}

/// A space joined.
struct SpaceEntry {
    gossip: Option<iroh_gossip::api::GossipSender>,
    /// Stops the space's tasks (gossip loop, peer keepers).
    stop: watch::Sender<bool>,
}

/// An open session, as the registry knows it.
pub(crate) struct SessionEntry {
    pub(crate) status: PeerStatus,
    pub(crate) control: mpsc::UnboundedSender<Control>,
    /// When the session last received bytes (or started).
    last_in: std::time::Instant,
    /// The incarnation the peer named in its HELLO, once read (if it named one).
    peer_incarnation: Option<u64>,
    /// The QUIC connection it runs on (None over another transport).
    conn: Option<Connection>,
    /// How long its peer takes to answer a read on demand (a moving average), once asked.
    answer_time: Option<std::time::Duration>,
}

#[derive(Default)]
struct State {
    spaces: HashMap<SpaceId, SpaceEntry>,
    sessions: HashMap<u64, SessionEntry>,
    dialing: HashSet<(SpaceId, PeerId)>,
    /// Peers kept connected (from tickets), per space.
    kept: HashSet<(SpaceId, PeerId)>,
    /// The connection new sessions with a peer go over (the last one made, whoever dialed).
    conns: HashMap<PeerId, CachedConn>,
    /// Stream bytes received and sent by sessions that have ended.
    ended_bytes: (u64, u64),
    /// Sessions peers opened that were refused as duplicates of ours.
    duplicates_refused: u64,
    /// The onion services of peers (from their tickets), dialled over Tor.
    onions: HashMap<PeerId, OnionAddress>,
}

/// Everything the tasks of one running sync share.
pub(crate) struct NetInner {
    pub(crate) core: Arc<Core>,
    pub(crate) cfg: NetConfig,
    pub(crate) id: PeerId,
    pub(crate) endpoint: Endpoint,
    router: std::sync::OnceLock<Router>,
    pub(crate) gossip: Option<Gossip>,
    pub(crate) lookup: MemoryLookup,
    pub(crate) hub: Hub,
    /// Notified with every [`SyncEvent`] (wakes fetches waiting for a peer with a feed).
    pub(crate) activity: tokio::sync::Notify,
    pub(crate) changed: broadcast::Sender<AuthorId>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) import_tx: Mutex<Option<mpsc::Sender<ImportJob>>>,
    pub(crate) forked: Forked,
    /// Which feeds are fetched (all, or the followed authors').
    pub(crate) follows: Follows,
    /// Which session fetches which feed.
    pub(crate) claims: Arc<Claims>,
    /// What reads on demand verified, kept for later reads.
    pub(crate) fetch_cache: Mutex<FetchCache<FetchedEvents>>,
    /// The queue of the thread that keeps the cache's answers on disk (`None`: not kept, or
    /// sync stopping).
    pub(crate) kept_jobs: Mutex<Option<std::sync::mpsc::Sender<KeptJob>>>,
    state: Mutex<State>,
    pub(crate) handle: tokio::runtime::Handle,
    next_session: AtomicU64,
    /// The peers met per space, kept in the store directory.
    book: Mutex<PeerBook>,
    /// Held while the book is written.
    book_save: Mutex<()>,
    /// This run's incarnation: the time sync started, in microseconds since the Unix epoch, so
    /// a later run names a larger one (unless the clock went back). Named in the HELLO of every
    /// session (see [`NetInner::admit_incoming`]) and in every gossip announcement (see
    /// [`NetInner::peer_restarted`]).
    pub(crate) incarnation: u64,
    /// The backends running.
    pub(crate) backends: Backends,
    /// The Tor client and onion service (backend `"tor"`).
    #[cfg(feature = "tor")]
    pub(crate) tor: std::sync::OnceLock<super::tor::TorTransport>,
}

/// Accepts XSP connections for the router.
#[derive(Debug, Clone)]
struct XspHandler(Weak<NetInner>);

impl ProtocolHandler for XspHandler {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        if let Some(inner) = self.0.upgrade() {
            inner.serve_conn(conn).await;
        }
        Ok(())
    }
}

impl NetInner {
    async fn bind(
        core: Arc<Core>,
        cfg: NetConfig,
        key: [u8; 32],
        last_port: Option<u16>,
        book: PeerBook,
        backends: Backends,
        handle: tokio::runtime::Handle,
    ) -> Result<Arc<NetInner>, NetError> {
        let incarnation = incarnation_now()?;
        let forked = Forked::new(core.clone());
        let follows = Follows::load(core.path(), cfg.replication)?;
        let lookup = MemoryLookup::new();
        let ep = match last_port {
            Some(port) => match endpoint::bind(&cfg, SocketAddr::new(cfg.bind.ip(), port), key, &lookup).await {
                Ok(ep) => ep,
                // Taken by another program meanwhile: a free port (remembered instead).
                Err(_) => endpoint::bind(&cfg, cfg.bind, key, &lookup).await?,
            },
            None => endpoint::bind(&cfg, cfg.bind, key, &lookup).await?,
        };
        let gossip = backends.gossip.then(|| Gossip::builder().spawn(ep.clone()));
        let changed = broadcast::channel(CHANGE_QUEUE).0;
        let mut fetch_cache = FetchCache::new(cfg.fetch_cache);
        if cfg.fetch_cache_on_disk {
            KeptReads::new(core.path()).load(&mut fetch_cache, |a| forked.contains(a));
        }
        let fetch_cache = Mutex::new(fetch_cache);
        let inner = Arc::new(NetInner {
            id: endpoint::peer_id(ep.id()),
            core,
            cfg,
            endpoint: ep.clone(),
            router: std::sync::OnceLock::new(),
            gossip: gossip.clone(),
            lookup,
            hub: Hub::default(),
            activity: tokio::sync::Notify::new(),
            changed: changed.clone(),
            shutdown: watch::channel(false).0,
            import_tx: Mutex::new(None),
            forked,
            follows,
            claims: Claims::new(changed),
            fetch_cache,
            kept_jobs: Mutex::new(None),
            state: Mutex::default(),
            handle,
            next_session: AtomicU64::new(1),
            book: Mutex::new(book),
            book_save: Mutex::new(()),
            incarnation,
            backends,
            #[cfg(feature = "tor")]
            tor: std::sync::OnceLock::new(),
        });
        let mut router = Router::builder(ep).accept(XSP_ALPN, XspHandler(Arc::downgrade(&inner)));
        if let Some(g) = gossip {
            router = router.accept(iroh_gossip::ALPN, g);
        }
        let _ = inner.router.set(router.spawn());
        // Tells sessions waiting on a stalled claim (see `claims.rs`).
        let core = inner.core.clone();
        let store_len = move |a: &AuthorId| core.feed_len(a);
        inner.handle.spawn(claims::watch(inner.claims.clone(), store_len, inner.shutdown.subscribe()));
        #[cfg(feature = "tor")]
        if backends.tor {
            let (tor, starting) = super::tor::TorTransport::start(inner.core.path(), &inner.cfg).await?;
            let _ = inner.tor.set(tor);
            inner.handle.spawn(super::tor::run(inner.clone(), starting));
            inner.handle.spawn(super::tor::report(inner.clone()));
        }
        Ok(inner)
    }

    /// The state of the Tor client and onion service, if the `"tor"` backend runs.
    pub(crate) fn tor_status(&self) -> Option<super::status::TorStatus> {
        #[cfg(feature = "tor")]
        if let Some(tor) = self.tor.get() {
            return Some(tor.status());
        }
        None
    }

    /// This node's onion service, if the `"tor"` backend runs.
    pub(crate) fn onion(&self) -> Option<OnionAddress> {
        #[cfg(feature = "tor")]
        if let Some(tor) = self.tor.get() {
            return Some(tor.onion);
        }
        None
    }

    pub(crate) fn is_stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Learns how to reach `entry.peer`, met in `space` (from a ticket or a signed
    /// announcement): for dialing now (the address lookup) and after a restart (the book).
    pub(crate) fn met(&self, space: SpaceId, entry: PeerEntry) {
        if entry.peer == self.id {
            return;
        }
        if let Some(id) = endpoint::endpoint_id(&entry.peer) {
            endpoint::add_peer_addrs(&self.lookup, id, &entry.addrs, entry.relay.as_deref());
        }
        if !entry.addrs.is_empty() || entry.relay.is_some() || entry.onion.is_some() {
            lock(&self.book).saw(space, entry);
        }
    }

    /// Saves the peer book, if it changed, on a blocking thread (not holding up the caller).
    pub(crate) fn save_book_soon(self: &Arc<Self>) {
        if lock(&self.book).is_dirty() {
            let saving = self.clone();
            drop(self.handle.spawn_blocking(move || saving.save_book()));
        }
    }

    /// Saves the peer book if it changed (a cache: a failure only means fewer peers to rejoin
    /// through after a restart).
    pub(crate) fn save_book(&self) {
        // Written outside the book's lock, so announcements are not held up by the disk; one
        // save at a time, so the last changes taken are the last written.
        let _one_at_a_time = lock(&self.book_save);
        let Some(bytes) = lock(&self.book).take_changes() else { return };
        if peer_book::write_file(self.core.path(), &bytes).is_err() {
            lock(&self.book).keep_changed();
        }
    }

    /// Joins `space` (idempotent): starts its gossip loop, and keeps sessions with `peers`.
    /// The gossip topic is joined through `peers` and through the peers the book remembers
    /// meeting in the space, the latest [`BOOK_DIALS`] of which are dialed at once.
    pub(crate) fn join_space(self: &Arc<Self>, space: SpaceId, peers: Vec<PeerId>) {
        let mut st = lock(&self.state);
        let (stop, joined_before) = match st.spaces.entry(space) {
            Entry::Occupied(e) => (e.get().stop.subscribe(), Some(e.get().gossip.clone())),
            Entry::Vacant(v) => {
                (v.insert(SpaceEntry { gossip: None, stop: watch::channel(false).0 }).stop.subscribe(), None)
            }
        };
        drop(st);
        match joined_before {
            None => {
                // The peers met in this space before (most recent first): how to reach them,
                // and a session with the latest few at once. This node may have restarted at
                // another address, which they cannot know yet; dialing them itself, it does not
                // wait for them to learn it (a dial of theirs would go to the old address until
                // their connections to the old process die, up to QUIC's idle timeout of 30 s).
                let book_peers = lock(&self.book).peers(&space);
                let mut met = Vec::new();
                for e in book_peers.into_iter().filter(|e| !peers.contains(&e.peer)) {
                    if let Some(onion) = e.onion {
                        self.learn_onion(e.peer, onion);
                    }
                    if let Some(id) = endpoint::endpoint_id(&e.peer) {
                        endpoint::add_peer_addrs(&self.lookup, id, &e.addrs, e.relay.as_deref());
                        met.push(e.peer);
                    }
                }
                for peer in met.iter().take(BOOK_DIALS) {
                    self.ensure_session(space, *peer);
                }
                if self.gossip.is_some() {
                    let bootstrap = [peers.as_slice(), &met].concat();
                    let (inner, stop) = (self.clone(), stop.clone());
                    self.handle.spawn(async move { gossip::run_space(inner, space, bootstrap, stop).await });
                }
            }
            Some(Some(g)) if !peers.is_empty() => {
                let ids: Vec<_> = peers.iter().filter_map(endpoint::endpoint_id).collect();
                self.handle.spawn(async move {
                    let _ = g.join_peers(ids).await;
                });
            }
            _ => {}
        }
        for peer in peers {
            if !lock(&self.state).kept.insert((space, peer)) {
                continue; // already kept
            }
            let (inner, stop) = (self.clone(), stop.clone());
            // It ends when the space is left (which forgets it in `kept`) or sync stops.
            self.handle.spawn(async move { inner.keep_peer(space, peer, stop).await });
        }
    }

    pub(crate) fn set_space_gossip(&self, space: &SpaceId, sender: iroh_gossip::api::GossipSender) {
        if let Some(s) = lock(&self.state).spaces.get_mut(space) {
            s.gossip = Some(sender);
        }
    }

    /// Leaves `space`: stops its tasks and closes its sessions.
    pub(crate) fn leave_space(&self, space: &SpaceId) -> Result<(), NetError> {
        let mut st = lock(&self.state);
        let entry = st.spaces.remove(space).ok_or(NetError::NotJoined(*space))?;
        let _ = entry.stop.send(true);
        st.kept.retain(|(s, _)| s != space);
        for s in st.sessions.values().filter(|s| s.status.space == *space) {
            let _ = s.control.send(Control::Close);
        }
        Ok(())
    }

    pub(crate) fn spaces(&self) -> Vec<SpaceId> {
        let mut v: Vec<_> = lock(&self.state).spaces.keys().copied().collect();
        v.sort();
        v
    }

    pub(crate) fn has_space(&self, space: &SpaceId) -> bool {
        lock(&self.state).spaces.contains_key(space)
    }

    pub(crate) fn peer_statuses(&self) -> Vec<PeerStatus> {
        let mut v: Vec<_> = lock(&self.state).sessions.values().map(|s| s.status.clone()).collect();
        v.sort_by_key(|s| (s.space, s.peer));
        v
    }

    fn has_session(&self, space: &SpaceId, peer: &PeerId) -> bool {
        let st = lock(&self.state);
        st.sessions.values().any(|s| s.status.space == *space && s.status.peer == *peer)
    }

    /// Whether to run a session `peer` opened in `space` (naming `incarnation` in its HELLO),
    /// by the rule of [`admission::admit`]; ends the existing sessions the rule says to end.
    pub(crate) fn admit_incoming(&self, space: &SpaceId, peer: &PeerId, incarnation: Option<u64>) -> bool {
        let mut st = lock(&self.state);
        let sessions: Vec<&SessionEntry> =
            st.sessions.values().filter(|s| s.status.space == *space && s.status.peer == *peer).collect();
        let existing: Vec<Existing> = sessions
            .iter()
            .map(|s| Existing {
                initiator: s.status.initiator,
                connected: s.status.connected,
                quiet: s.last_in.elapsed(),
                peer_incarnation: s.peer_incarnation,
            })
            .collect();
        let verdict = admission::admit(&self.id, peer, &existing, incarnation);
        for (i, control) in
            verdict.abort.iter().map(|&i| (i, Control::Abort)).chain(verdict.close.iter().map(|&i| (i, Control::Close)))
        {
            if let Some(s) = sessions.get(i) {
                let _ = s.control.send(control);
            }
        }
        drop(sessions);
        if !verdict.admit {
            st.duplicates_refused += 1;
        }
        verdict.admit
    }

    /// Sessions peers opened that [`admit_incoming`](Self::admit_incoming) refused.
    pub(crate) fn duplicates_refused(&self) -> u64 {
        lock(&self.state).duplicates_refused
    }

    /// Records the incarnation the peer named in session `id`'s HELLO (for the session, and
    /// for its connection if that is the cached one).
    pub(crate) fn set_peer_incarnation(&self, id: u64, incarnation: Option<u64>) {
        let mut st = lock(&self.state);
        let Some(s) = st.sessions.get_mut(&id) else { return };
        s.peer_incarnation = incarnation;
        let Some(conn) = s.conn.as_ref().map(Connection::stable_id) else { return };
        let peer = s.status.peer;
        if let Some(c) = st.conns.get_mut(&peer).filter(|c| c.is(conn)) {
            c.incarnation = incarnation;
        }
    }

    /// Learns from a signed announcement that `peer` runs in `incarnation` now. Sessions with
    /// it that learned an earlier incarnation are dead (the peer restarted since, and may
    /// never dial back): they are aborted and forgotten at once, and their connection is not
    /// reused. Returns the spaces of those sessions, to be dialed again.
    pub(crate) fn peer_restarted(&self, peer: &PeerId, incarnation: u64) -> Vec<SpaceId> {
        let mut st = lock(&self.state);
        let dead: Vec<u64> = st
            .sessions
            .iter()
            .filter(|(_, s)| s.status.peer == *peer && s.peer_incarnation.is_some_and(|i| i < incarnation))
            .map(|(&id, _)| id)
            .collect();
        let mut spaces = Vec::new();
        for id in dead {
            let Some(s) = st.sessions.remove(&id) else { continue };
            let _ = s.control.send(Control::Abort);
            // Dead too (it led to the old process): closed rather than held until QUIC's idle
            // timeout.
            if let Some(conn) = &s.conn {
                conn.close(0u32.into(), b"peer restarted");
            }
            st.ended_bytes.0 += s.status.bytes_in;
            st.ended_bytes.1 += s.status.bytes_out;
            spaces.push(s.status.space);
        }
        // The cached connection goes too unless a session over it named this incarnation or a
        // later one: it may not be the one a dead session used (both nodes dial, and each
        // keeps the last connection made), and one no session connected over yet may lead to
        // the old process as well. At worst the next session makes one connection more.
        let restarted = !spaces.is_empty();
        let stale = |c: &CachedConn| c.incarnation.map_or(restarted, |i| i < incarnation);
        if st.conns.get(peer).is_some_and(stale) {
            st.conns.remove(peer);
        }
        spaces
    }

    /// Registers a new session running on `conn` (if over QUIC); returns its id.
    pub(crate) fn register(
        &self,
        status: PeerStatus,
        control: mpsc::UnboundedSender<Control>,
        conn: Option<&Connection>,
    ) -> u64 {
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let mut st = lock(&self.state);
        st.dialing.remove(&(status.space, status.peer));
        let entry = SessionEntry {
            status,
            control,
            last_in: std::time::Instant::now(),
            peer_incarnation: None,
            conn: conn.cloned(),
            answer_time: None,
        };
        st.sessions.insert(id, entry);
        id
    }

    pub(crate) fn update(&self, id: u64, f: impl FnOnce(&mut PeerStatus)) {
        if let Some(s) = lock(&self.state).sessions.get_mut(&id) {
            let before = s.status.bytes_in;
            f(&mut s.status);
            if s.status.bytes_in != before {
                s.last_in = std::time::Instant::now();
            }
        }
    }

    /// Forgets an ended session, whose stream received `bytes_in` and sent `bytes_out` in all
    /// (kept in the node's totals, `SyncStatus::bytes_in`).
    pub(crate) fn unregister(&self, id: u64, bytes_in: u64, bytes_out: u64) {
        let mut st = lock(&self.state);
        if st.sessions.remove(&id).is_some() {
            st.ended_bytes.0 += bytes_in;
            st.ended_bytes.1 += bytes_out;
        }
    }

    /// Stream bytes received and sent over every session since sync started, the open ones
    /// (as far as their drivers last reported) and those that ended.
    pub(crate) fn total_bytes(&self) -> (u64, u64) {
        let st = lock(&self.state);
        st.sessions.values().fold(st.ended_bytes, |(i, o), s| (i + s.status.bytes_in, o + s.status.bytes_out))
    }

    /// Sends `c` to session `id`; `false` if it has ended.
    pub(crate) fn control(&self, id: u64, c: Control) -> bool {
        lock(&self.state).sessions.get(&id).is_some_and(|s| s.control.send(c).is_ok())
    }

    pub(crate) fn emit(&self, ev: SyncEvent) {
        self.hub.emit(ev);
        self.activity.notify_waiters();
    }

    /// Whether sync fetches `author`'s feed ([`super::source::fetches`]).
    pub(crate) fn fetches(&self, author: &AuthorId) -> bool {
        super::source::fetches(&self.core, &self.forked, &self.follows, author)
    }

    /// Tells every session that whether `author`'s feed is fetched may have changed.
    pub(crate) fn wants_changed(&self, author: AuthorId) {
        for s in lock(&self.state).sessions.values() {
            let _ = s.control.send(Control::WantsChanged(author));
        }
    }

    /// The ids of the sessions whose peer answered their HELLO, in the order reads on demand
    /// ask them when their peers hold the same: first those never asked yet (so every peer is
    /// tried once), those that sent this store the most first (a peer serving it is likely to
    /// hold more); then those asked before, the quickest to answer first.
    pub(crate) fn sessions_to_fetch_from(&self) -> Vec<u64> {
        let st = lock(&self.state);
        let mut ids: Vec<(Option<std::time::Duration>, std::cmp::Reverse<u64>, u64)> = st
            .sessions
            .iter()
            .filter(|(_, s)| s.status.connected)
            .map(|(id, s)| (s.answer_time, std::cmp::Reverse(s.status.bytes_in), *id))
            .collect();
        // `None` (never asked) sorts first.
        ids.sort_unstable();
        ids.into_iter().map(|(_, _, id)| id).collect()
    }

    /// Session `id`'s peer answered a read on demand in `took` (or did not, `took` being how
    /// long it was waited for): a moving average, the latest answer weighing a quarter.
    pub(crate) fn note_answer_time(&self, id: u64, took: std::time::Duration) {
        if let Some(s) = lock(&self.state).sessions.get_mut(&id) {
            s.answer_time = Some(match s.answer_time {
                Some(before) => (before * 3 + took) / 4,
                None => took,
            });
        }
    }

    /// How long a read on demand waits for one peer's answer ([`NetConfig::with_fetch_patience`]).
    pub(crate) fn fetch_patience(&self) -> std::time::Duration {
        self.cfg.fetch_patience
    }

    /// The peer of session `id`, while it runs.
    pub(crate) fn session_peer(&self, id: u64) -> Option<PeerId> {
        lock(&self.state).sessions.get(&id).map(|s| s.status.peer)
    }

    /// Every feed's author (to refresh a session that missed change notifications).
    pub(crate) fn all_authors(&self) -> Vec<AuthorId> {
        self.core.feeds().into_iter().map(|f| f.author).collect()
    }
}
