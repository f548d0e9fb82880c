//! [`NetConfig`]: the settings of background sync, and [`NetError`].

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::follow::Replication;
use super::ticket::SpaceId;

/// Settings of background sync. Made with `NetConfig::default()` and the `with_*` methods;
/// passed to [`CoreBuilder::with_net_config`](crate::CoreBuilder::with_net_config).
///
/// The defaults work without internet: no relay, no DNS or other address lookup, peers reached
/// at the direct addresses their tickets carry (or learnt through gossip).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    pub(crate) backends: Option<Vec<String>>,
    pub(crate) bind: SocketAddr,
    pub(crate) keep_port: bool,
    pub(crate) relay_url: Option<String>,
    pub(crate) segmentation_offload: bool,
    pub(crate) threads: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) announce_interval: Duration,
    pub(crate) spaces: Vec<SpaceId>,
    pub(crate) tor_config: Option<PathBuf>,
    pub(crate) replication: Replication,
    /// The first and the longest wait before redialling a kept peer.
    pub(crate) redial: (Duration, Duration),
    /// The same, for a peer reached over Tor.
    pub(crate) tor_redial: (Duration, Duration),
    /// How long a read on demand waits for one peer's answer before it asks another.
    pub(crate) fetch_patience: Duration,
    /// Bytes of events reads on demand verified kept for later reads.
    pub(crate) fetch_cache: usize,
    /// Whether those are also kept on disk, in the store directory, across restarts.
    pub(crate) fetch_cache_on_disk: bool,
}

/// The default first wait before redialling a kept peer; it doubles with each short session.
pub(crate) const REDIAL_FIRST: Duration = Duration::from_millis(250);
/// The default longest wait before redialling a kept peer.
pub(crate) const REDIAL_MAX: Duration = Duration::from_secs(10);
/// The default first wait before redialling a peer reached over Tor. A Tor dial is costly
/// (circuits, a descriptor fetch), and a peer whose session just ended has often restarted:
/// its onion service takes a moment to re-establish its introduction points, and a client that
/// dials it meanwhile is refused by them, refetches the descriptor (arti asks each HSDir at
/// most once per 15 minutes) and avoids those introduction points for a while. On the private
/// test network a store restarted was reached again in 0.6–1.1 s, and once in 10 s, with
/// 250 ms first waits.
pub(crate) const TOR_REDIAL_FIRST: Duration = Duration::from_secs(2);
/// The default longest wait before redialling a peer reached over Tor.
pub(crate) const TOR_REDIAL_MAX: Duration = Duration::from_secs(60);
/// The default wait for one peer's answer to a read on demand: far above a frame's transfer
/// over Tor (a 256 KiB frame took well under a second on the private test network).
pub(crate) const FETCH_PATIENCE: Duration = Duration::from_secs(10);
/// The default budget of the events reads on demand keep for later reads: the events of a few
/// thousand posts of 256 bytes, or a dozen 256 KiB frames.
pub(crate) const FETCH_CACHE: usize = 4 << 20;

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            backends: None,
            bind: SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
            keep_port: true,
            relay_url: None,
            segmentation_offload: true,
            threads: 2,
            idle_timeout: Duration::from_secs(10),
            announce_interval: Duration::from_secs(10),
            spaces: Vec::new(),
            tor_config: None,
            replication: Replication::All,
            redial: (REDIAL_FIRST, REDIAL_MAX),
            tor_redial: (TOR_REDIAL_FIRST, TOR_REDIAL_MAX),
            fetch_patience: FETCH_PATIENCE,
            fetch_cache: FETCH_CACHE,
            fetch_cache_on_disk: true,
        }
    }
}

impl NetConfig {
    /// The backends to run: `"iroh"` (XSP sessions over QUIC streams), `"iroh-gossip"`
    /// (signed heads announced on a gossip topic per space; needs `"iroh"`) and `"tor"` (XSP
    /// sessions over Tor, to and from this store's onion service; feature `tor`).
    ///
    /// `"tor"` alone keeps the node off the open network: no UDP socket but on `127.0.0.1`,
    /// no relay, no gossip, and tickets that name only the onion service. With `"iroh"` as
    /// well, peers are reached both ways (a ticket carries the direct addresses and the onion
    /// address, and a peer is dialled over Tor when its ticket names an onion service).
    pub fn with_backends(mut self, backends: &[&str]) -> Self {
        self.backends = Some(backends.iter().map(|b| b.to_string()).collect());
        self
    }

    /// Keeps the backends chosen in `earlier` if this config names none.
    pub(crate) fn keep_backends(mut self, earlier: Option<NetConfig>) -> Self {
        if self.backends.is_none() {
            self.backends = earlier.and_then(|e| e.backends);
        }
        self
    }

    /// The UDP address to bind (default `0.0.0.0:0`: every IPv4 interface). Use
    /// `127.0.0.1:0` to stay on this machine. With port 0 the node binds the port it had the
    /// last time it ran, if that one is free, and a free port otherwise (see
    /// [`with_port_kept`](Self::with_port_kept)).
    pub fn with_bind_addr(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Whether a bind address with port 0 means "the port of the last run, if free" (`true`,
    /// the default) or a new free port at every start (`false`). Kept, the port is remembered
    /// in `net.port` in the store directory, so the tickets this node handed out and the
    /// addresses its peers learned still reach it after a restart; a port taken by another
    /// program meanwhile is not an error, the node binds a free one and remembers that.
    pub fn with_port_kept(mut self, keep: bool) -> Self {
        self.keep_port = keep;
        self
    }

    /// An iroh relay server to use (for example a local `iroh-relay`), for peers that cannot
    /// reach each other directly, such as browsers. Default: none.
    pub fn with_relay_url(mut self, url: impl Into<String>) -> Self {
        self.relay_url = Some(url.into());
        self
    }

    /// UDP segmentation offload (GSO) for QUIC. On by default: on the loopback and virtio
    /// interfaces measured (see `docs/benchmarks.md`, "Network sync") it moves about 3.5 times
    /// more data per CPU second than sending each datagram alone. Turn it off for a network
    /// path or driver that loses segmented sends.
    pub fn with_segmentation_offload(mut self, on: bool) -> Self {
        self.segmentation_offload = on;
        self
    }

    /// Worker threads of the private async runtime (default 2, at least 1).
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// An XSP session closes after this long without hearing from the peer (default 10 s, the
    /// time an acceptor waits for a HELLO); keep-alives go out at half the peer's period. This
    /// is how soon a peer that vanished without a word (killed, unplugged, or restarted and not
    /// dialing back) is noticed and, if it is kept, redialled over a new connection.
    pub fn with_idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }

    /// How long a node waits before redialling a kept peer (the peer of a ticket joined, or
    /// one met in a space joined) whose session ended: `first` after a session that ended
    /// early, doubling with each such session up to `max`; a session that ran 5 s or more
    /// starts over at `first`. Defaults: 250 ms and 10 s. `first` is at least 1 ms, `max` at
    /// least `first`. An app on a battery may wait longer; a quick `first` brings a restarted
    /// peer back sooner.
    pub fn with_redial_waits(mut self, first: Duration, max: Duration) -> Self {
        self.redial = redial_waits(first, max);
        self
    }

    /// [`with_redial_waits`](Self::with_redial_waits) for peers reached over Tor (feature
    /// `tor`). Defaults: 2 s and 60 s: a Tor dial is costly (circuits, a descriptor fetch),
    /// and a restarted peer's onion service needs a moment to re-establish its introduction
    /// points; a client dialling it meanwhile is refused and then avoids them for a while.
    pub fn with_tor_redial_waits(mut self, first: Duration, max: Duration) -> Self {
        self.tor_redial = redial_waits(first, max);
        self
    }

    /// How long a read on demand ([`Core::fetch_events`](crate::Core::fetch_events),
    /// [`fetch_proof`](crate::Core::fetch_proof), [`fetch_consistency`](crate::Core::fetch_consistency))
    /// waits for one peer's answer (each answer of a long read) before it asks the next peer
    /// that announced the feed; a peer that did not answer is asked after the others for the
    /// rest of that read. Default 10 s, at least 1 ms. A connected peer can stop answering
    /// (a phone gone to sleep, a faulty or hostile node) long before its connection times out;
    /// the fetch's own timeout still bounds the whole read.
    pub fn with_fetch_patience(mut self, d: Duration) -> Self {
        self.fetch_patience = d.max(Duration::from_millis(1));
        self
    }

    /// How many bytes of the events reads on demand ([`Core::fetch_events`](crate::Core::fetch_events))
    /// verified are kept in memory, so that reading them again asks no peer (default 4 MiB;
    /// 0 keeps none). A read of seqs inside an earlier answer is answered at once, even with
    /// no peer connected; a read of the latest events is, when an earlier answer ends where
    /// the longest head connected peers announce ends (what a peer would send). The least
    /// recently read go first; a forked author's are dropped.
    /// [`FetchedEvents::from_cache`](super::FetchedEvents::from_cache) tells such answers
    /// apart. Nothing of it is part of the store's feeds; the answers are also kept on disk
    /// across restarts ([`NetConfig::with_fetch_cache_on_disk`]).
    pub fn with_fetch_cache(mut self, bytes: usize) -> Self {
        self.fetch_cache = bytes;
        self
    }

    /// Whether the answers the fetch cache holds ([`NetConfig::with_fetch_cache`]) are also
    /// written to the store directory (`net.fetched/`, one file per answer) and read back when
    /// sync starts, so that a restarted node answers the reads it made before with no peer,
    /// offline too (default: on).
    ///
    /// The files are a cache: written in the background without `fdatasync` (a crash may
    /// lose the last ones), deleted with the answers the cache drops, and never trusted: each
    /// is verified again when read back, as a peer's answer is (signed heads, events, range
    /// proofs), and one that does not verify is deleted. Reading them back takes about as long
    /// as verifying that many events from a peer (a few milliseconds for the default 4 MiB).
    /// Off, nothing is written, and what earlier runs wrote is left as it is.
    pub fn with_fetch_cache_on_disk(mut self, on: bool) -> Self {
        self.fetch_cache_on_disk = on;
        self
    }

    /// How often the heads are announced again on gossip when nothing changed (default 10 s).
    pub fn with_announce_interval(mut self, d: Duration) -> Self {
        self.announce_interval = d.max(Duration::from_millis(10));
        self
    }

    /// Spaces to join as soon as sync starts (more with [`Core::join_space`](crate::Core::join_space)),
    /// through the peers met in them before (see `join_space`).
    pub fn with_space(mut self, space: SpaceId) -> Self {
        if !self.spaces.contains(&space) {
            self.spaces.push(space);
        }
        self
    }

    /// An arti configuration file (TOML, the format of arti's `arti.toml`) for the `"tor"`
    /// backend: to use bridges, a private Tor network (its authorities and fallback
    /// directories), other timeouts. Its `storage` directories are ignored: the Tor state and
    /// cache live in the store directory (`tor/state`, `tor/cache`), so a store keeps its
    /// onion address.
    pub fn with_tor_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tor_config = Some(path.into());
        self
    }

    /// Which feeds to fetch from the peers of the spaces joined: every feed announced
    /// ([`Replication::All`], the default), or only those of the authors the application
    /// follows ([`Replication::Followed`], with [`Core::follow`](crate::Core::follow)), the others
    /// being read on demand with [`Core::fetch_events`](crate::Core::fetch_events).
    pub fn with_replication(mut self, replication: Replication) -> Self {
        self.replication = replication;
        self
    }

    /// This config with the endpoint on `127.0.0.1` only, no relay and no remembered port (a
    /// node running Tor alone).
    pub(crate) fn loopback_only(mut self) -> Self {
        self.bind = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0);
        self.keep_port = false;
        self.relay_url = None;
        self
    }

    /// Which backends run.
    pub(crate) fn parse_backends(&self) -> Result<Backends, NetError> {
        let mut on = Backends::default();
        for b in self.backends.iter().flatten() {
            match b.as_str() {
                "iroh" => on.iroh = true,
                "iroh-gossip" => on.gossip = true,
                "tor" if cfg!(feature = "tor") => on.tor = true,
                "tor" => return Err(NetError::BackendNotBuilt("tor")),
                _ => return Err(NetError::UnknownBackend(b.clone())),
            }
        }
        if on.gossip && !on.iroh {
            return Err(NetError::GossipNeedsIroh);
        }
        Ok(on)
    }
}

/// The backends a config turns on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Backends {
    pub(crate) iroh: bool,
    pub(crate) gossip: bool,
    pub(crate) tor: bool,
}

impl Backends {
    /// Whether sync runs at all.
    pub(crate) fn any(self) -> bool {
        self.iroh || self.tor
    }
}

/// Why a sync operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum NetError {
    /// The store was opened without sync backends
    /// ([`CoreBuilder::with_sync_backends`](crate::CoreBuilder::with_sync_backends)).
    NotRunning,
    /// A backend name other than `"iroh"`, `"iroh-gossip"` or `"tor"`.
    UnknownBackend(String),
    /// A backend this build was compiled without (`"tor"` needs the crate feature `tor`).
    BackendNotBuilt(&'static str),
    /// The Tor configuration could not be read, does not parse, or is refused by arti.
    BadTorConfig {
        /// The file (or, for a storage path arti cannot take, the store's `tor` directory).
        path: PathBuf,
        /// What is wrong with it.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The Tor client or the onion service failed to start.
    Tor(Box<dyn std::error::Error + Send + Sync>),
    /// A ticket names only an onion service, and the `"tor"` backend is not running.
    TorNotRunning,
    /// `"iroh-gossip"` was asked for without `"iroh"`.
    GossipNeedsIroh,
    /// The network key file `net.key` in the store directory is damaged.
    BadKeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The list of followed authors, `net.follows` in the store directory, is damaged.
    BadFollowFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Following one more author would make the list longer than this.
    TooManyFollows(usize),
    /// A file operation failed.
    Io {
        /// What was being done.
        op: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The operating system's random number generator failed.
    Random,
    /// The relay URL does not parse.
    BadRelayUrl(String),
    /// The network endpoint could not be bound, or the gossip layer failed.
    Endpoint(Box<dyn std::error::Error + Send + Sync>),
    /// The space was not joined.
    NotJoined(SpaceId),
    /// Sync has stopped (the store is closing).
    Stopped,
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRunning => f.write_str("sync is not running (open the store with sync backends)"),
            Self::UnknownBackend(b) => {
                write!(f, "unknown sync backend {b:?} (known: \"iroh\", \"iroh-gossip\", \"tor\")")
            }
            Self::BackendNotBuilt(b) => write!(f, "the {b:?} backend needs xaeroflux built with the feature {b:?}"),
            Self::BadTorConfig { path, source } => write!(f, "Tor configuration {}: {source}", path.display()),
            Self::Tor(e) => write!(f, "Tor: {e}"),
            Self::TorNotRunning => {
                f.write_str("the ticket names only an onion service: open the store with the \"tor\" backend")
            }
            Self::GossipNeedsIroh => f.write_str("the \"iroh-gossip\" backend needs the \"iroh\" backend"),
            Self::BadKeyFile { path, reason } => write!(f, "network key file {}: {reason}", path.display()),
            Self::BadFollowFile { path, reason } => write!(f, "list of followed authors {}: {reason}", path.display()),
            Self::TooManyFollows(n) => write!(f, "at most {n} authors can be followed"),
            Self::Io { op, source } => write!(f, "{op}: {source}"),
            Self::Random => f.write_str("the operating system's random number generator failed"),
            Self::BadRelayUrl(u) => write!(f, "relay URL {u:?} does not parse"),
            Self::Endpoint(e) => write!(f, "network endpoint: {e}"),
            Self::NotJoined(s) => write!(f, "space {s} is not joined"),
            Self::Stopped => f.write_str("sync has stopped"),
        }
    }
}

impl std::error::Error for NetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Endpoint(e) | Self::Tor(e) | Self::BadTorConfig { source: e, .. } => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// Redial waits as [`NetConfig::with_redial_waits`] takes them.
fn redial_waits(first: Duration, max: Duration) -> (Duration, Duration) {
    let first = first.max(Duration::from_millis(1));
    (first, max.max(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redial_waits_are_at_least_a_millisecond_and_the_longest_at_least_the_first() {
        let d = NetConfig::default();
        assert_eq!(d.redial, (Duration::from_millis(250), Duration::from_secs(10)));
        assert_eq!(d.tor_redial, (Duration::from_secs(2), Duration::from_secs(60)));
        let c = d.clone().with_redial_waits(Duration::ZERO, Duration::ZERO);
        assert_eq!(c.redial, (Duration::from_millis(1), Duration::from_millis(1)));
        let c = d
            .with_redial_waits(Duration::from_secs(5), Duration::from_secs(1))
            .with_tor_redial_waits(Duration::from_secs(10), Duration::from_secs(600));
        assert_eq!(c.redial, (Duration::from_secs(5), Duration::from_secs(5)));
        assert_eq!(c.tor_redial, (Duration::from_secs(10), Duration::from_secs(600)));
    }
}
