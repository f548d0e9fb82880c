//! The Tor transport (backend `"tor"`, feature `tor`): XSP sessions over Tor streams, to and
//! from this store's onion service, with arti (the Tor Project's Rust Tor).
//!
//! - **The onion service.** Each store runs one onion service (nickname `xaeroflux`) whose
//!   identity key arti keeps in the store directory (`tor/state/keystore`), so a store keeps
//!   its onion address across restarts. XSP is served on the service's port
//!   [`XSP_ONION_PORT`]; streams to any other port are refused.
//! - **Dialling.** A peer whose ticket names an onion service is dialled over Tor
//!   (`<onion>:XSP_ONION_PORT`); the session then runs exactly as over QUIC. A session over
//!   Tor is one Tor stream; nothing but the space's events and heads crosses it, and the
//!   onion service authenticates the side that was dialled.
//! - **Anonymity.** The side that dials stays anonymous: the service does not learn who
//!   dialled, so an incoming session is known by a random peer id of its own.
//! - **Tor state.** arti's state (guards, keys) and directory cache live in `tor/` in the
//!   store directory. A configuration file in arti's format
//!   ([`NetConfig::with_tor_config_file`](super::NetConfig::with_tor_config_file)) can point
//!   it at bridges or at a private Tor network; the storage directories it names are ignored.

use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use arti_client::config::TorClientConfig;
use arti_client::config::onion_service::OnionServiceConfigBuilder;
use arti_client::{DataStream, TorClient};
use n0_future::{Stream as FutureStream, StreamExt as _};
use tokio::sync::watch;
use tor_cell::relaycell::msg::{Connected, End, EndReason};
use tor_config::sources::{ConfigurationSource, ConfigurationSources, MustRead};
use tor_hsservice::{RendRequest, RunningOnionService, handle_rend_requests};
use tor_proto::stream::IncomingStreamRequest;
use tor_rtcompat::{CompoundRuntime, PreferredRuntime, RuntimeSubstExt as _};

use super::config::{NetConfig, NetError};
use super::driver;
use super::node::NetInner;
use super::onion::OnionAddress;
use super::status::{OnionServiceState, SyncEvent, TorStatus};
use super::stream::Stream;
use super::ticket::PeerId;
use super::tor_tcp::NoDelayTcp;

/// The onion service port XSP is served on.
pub const XSP_ONION_PORT: u16 = 7946;
/// The nickname of the store's onion service (names its keys in arti's keystore).
const NICKNAME: &str = "xaeroflux";
/// Longest a dial over Tor may take: the first one to an onion service fetches its
/// descriptor, then builds circuits to an introduction point and a rendezvous point.
const TOR_CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

/// The Tor client's runtime: the node's tokio runtime, with [`NoDelayTcp`] for its TCP.
#[doc(hidden)]
pub type TorRuntime = CompoundRuntime<
    PreferredRuntime,
    PreferredRuntime,
    PreferredRuntime,
    NoDelayTcp,
    PreferredRuntime,
    PreferredRuntime,
    PreferredRuntime,
>;

/// The runtime a store's Tor client runs on (the current tokio runtime, Nagle's algorithm off
/// on its TCP connections). Public for the benchmark's raw Tor stream, which uses the same.
#[doc(hidden)]
pub fn tor_runtime() -> std::io::Result<TorRuntime> {
    Ok(PreferredRuntime::current()?.with_tcp_provider(NoDelayTcp))
}

/// The running Tor client and onion service of a node.
pub(crate) struct TorTransport {
    client: Arc<TorClient<TorRuntime>>,
    /// This node's onion service.
    pub(crate) onion: OnionAddress,
    /// The onion service, once the client has bootstrapped and launched it (dials wait for it).
    service: watch::Receiver<Option<Arc<RunningOnionService>>>,
}

/// The incoming rendezvous requests of the onion service.
type RendRequests = std::pin::Pin<Box<dyn FutureStream<Item = RendRequest> + Send>>;

impl TorTransport {
    /// Creates the Tor client and learns the store's onion address (generating its key the
    /// first time). Does not wait for the network: [`run`] bootstraps the client, then runs
    /// the onion service. Must run inside the node's tokio runtime.
    pub(crate) async fn start(store_dir: &Path, cfg: &NetConfig) -> Result<(TorTransport, Starting), NetError> {
        // arti's TLS (rustls) needs a process-wide crypto provider; one installed before
        // (by the application) is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = client_config(store_dir, cfg.tor_config.as_deref())?;
        let runtime = tor_runtime().map_err(tor_error)?;
        let client =
            TorClient::with_runtime(runtime).config(config).create_unbootstrapped_async().await.map_err(tor_error)?;
        // Launched here only for its address (arti generates and keeps the key on the first
        // launch), and stopped at once: a service launched before the client has a directory
        // publishes descriptors that clients do not find (seen on a private network), so
        // `run` launches it again once bootstrapped.
        let (service, _) = launch(&client)?;
        let onion = service
            .onion_address()
            .map(|id| OnionAddress(id.into()))
            .ok_or_else(|| NetError::Tor("the onion service has no identity key".into()))?;
        drop(service);
        let (launched, service) = watch::channel(None);
        Ok((TorTransport { client: client.clone(), onion, service }, Starting { client, launched }))
    }

    /// The state of the client and of the onion service.
    pub(crate) fn status(&self) -> TorStatus {
        use tor_hsservice::status::State;
        let boot = self.client.bootstrap_status();
        let launched = self.service.borrow().clone();
        let (service, service_problem) = match launched {
            None => (OnionServiceState::NotLaunched, None),
            Some(running) => {
                let status = running.status();
                let state = match status.state() {
                    State::Shutdown => OnionServiceState::NotLaunched,
                    State::Bootstrapping => OnionServiceState::Bootstrapping,
                    State::Running => OnionServiceState::Running,
                    State::DegradedReachable => OnionServiceState::Degraded,
                    State::DegradedUnreachable => OnionServiceState::Unpublished,
                    State::Recovering => OnionServiceState::Recovering,
                    // `Broken`, and any state a later arti adds.
                    _ => OnionServiceState::Broken,
                };
                (state, status.current_problem().map(describe_problem))
            }
        };
        TorStatus {
            bootstrap_percent: (boot.as_frac().clamp(0.0, 1.0) * 100.0).round() as u8,
            ready: boot.ready_for_traffic(),
            blockage: boot.blocked().map(|b| b.to_string()),
            service,
            service_problem,
        }
    }

    /// Opens a Tor stream to the XSP port of `onion` (waiting for the client to bootstrap).
    pub(crate) async fn connect(&self, onion: &OnionAddress) -> Option<Stream> {
        let target = (onion.to_string(), XSP_ONION_PORT);
        let mut launched = self.service.clone();
        let connect = async {
            launched.wait_for(Option::is_some).await.ok()?;
            self.client.connect(target).await.ok()
        };
        let stream = tokio::time::timeout(TOR_CONNECT_TIMEOUT, connect).await.ok().flatten()?;
        Some(Stream::bytes(stream))
    }
}

/// A line for an onion service problem: its first error (arti's `Debug` of a problem lists
/// every retry of every upload).
fn describe_problem(problem: &tor_hsservice::status::Problem) -> String {
    use tor_hsservice::status::Problem;
    match problem {
        Problem::Runtime(e) => format!("onion service stopped: {e}"),
        Problem::DescriptorUpload(errors) => first_error("descriptor upload failed", errors),
        Problem::Ipt(errors) => first_error("introduction point failed", errors),
        other => format!("{other:?}"),
    }
}

/// `what: <the first of errors, with its sources>` and how many more there are.
fn first_error<E: std::error::Error + 'static>(what: &str, errors: &[E]) -> String {
    let first = errors.first().map(|e| error_chain(e)).unwrap_or_default();
    match errors.len().saturating_sub(1) {
        0 => format!("{what}: {first}"),
        more => format!("{what}: {first} (and {more} more)"),
    }
}

/// An error and its sources, on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        line.push_str(": ");
        line.push_str(&s.to_string());
        source = s.source();
    }
    line
}

/// What [`run`] needs to finish starting Tor.
pub(crate) struct Starting {
    client: Arc<TorClient<TorRuntime>>,
    launched: watch::Sender<Option<Arc<RunningOnionService>>>,
}

fn tor_error(e: impl std::error::Error + Send + Sync + 'static) -> NetError {
    NetError::Tor(Box::new(e))
}

/// Launches the store's onion service on `client`.
fn launch(client: &TorClient<TorRuntime>) -> Result<(Arc<RunningOnionService>, RendRequests), NetError> {
    let nickname = NICKNAME.parse().map_err(tor_error)?;
    let config = OnionServiceConfigBuilder::default().nickname(nickname).build().map_err(tor_error)?;
    let (service, requests) = client
        .launch_onion_service(config)
        .map_err(tor_error)?
        .ok_or_else(|| NetError::Tor("the onion service is disabled in the Tor configuration".into()))?;
    Ok((service, Box::pin(requests)))
}

/// Bootstraps the Tor client (retrying while the network is out of reach), launches the onion
/// service, then serves it until the node stops.
pub(crate) async fn run(inner: Arc<NetInner>, starting: Starting) {
    let mut shutdown = inner.shutdown.subscribe();
    let mut wait = Duration::from_millis(250);
    let (service, requests) = loop {
        let attempt = async {
            starting.client.bootstrap().await.map_err(tor_error)?;
            launch(&starting.client)
        };
        tokio::select! {
            // An error: not bootstrapped yet, or the first launch's service not yet gone.
            r = attempt => if let Ok(launched) = r {
                break launched;
            },
            _ = shutdown.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        wait = (wait * 2).min(Duration::from_secs(30));
    };
    let _ = starting.launched.send(Some(service.clone()));
    serve(inner, service, requests).await;
}

/// What woke [`report`].
enum Wake {
    /// The client's bootstrap state changed (`false`: its stream ended).
    Bootstrap(bool),
    /// The onion service's state changed (`false`: its stream ended).
    Service(bool),
    /// The onion service was launched (`false`: the sender is gone).
    Launched(bool),
    Stop,
}

/// Emits [`SyncEvent::Tor`] with the state of the client and of the onion service, at once
/// and then each time it changes (arti's bootstrap and service status streams wake it),
/// until the node stops.
pub(crate) async fn report(inner: Arc<NetInner>) {
    let Some(tor) = inner.tor.get() else { return };
    let mut boot = Some(tor.client.bootstrap_events());
    let mut launched = tor.service.clone();
    let mut service: Option<ServiceEvents> = None;
    let mut shutdown = inner.shutdown.subscribe();
    let mut shown: Option<TorStatus> = None;
    loop {
        let now = tor.status();
        if shown.as_ref() != Some(&now) {
            inner.emit(SyncEvent::Tor(now.clone()));
            shown = Some(now);
        }
        let wake = tokio::select! {
            b = next_of(boot.as_mut()) => Wake::Bootstrap(b),
            s = next_of(service.as_mut()) => Wake::Service(s),
            r = launched.changed() => Wake::Launched(r.is_ok()),
            _ = shutdown.changed() => Wake::Stop,
        };
        match wake {
            Wake::Bootstrap(false) => boot = None,
            Wake::Service(false) => service = None,
            Wake::Launched(true) => {
                service = launched.borrow().as_ref().map(|s| Box::pin(s.status_events()) as ServiceEvents);
            }
            Wake::Launched(false) | Wake::Stop => return,
            Wake::Bootstrap(true) | Wake::Service(true) => {}
        }
    }
}

/// The onion service's status changes.
type ServiceEvents = std::pin::Pin<Box<dyn FutureStream<Item = tor_hsservice::status::OnionServiceStatus> + Send>>;

/// Waits for the next item of `stream` (`false` once it ended); never, without one.
async fn next_of<S: FutureStream + Unpin>(stream: Option<&mut S>) -> bool {
    match stream {
        Some(s) => s.next().await.is_some(),
        None => std::future::pending().await,
    }
}

/// Serves the onion service: every Tor stream to [`XSP_ONION_PORT`] becomes a responder
/// session (under a random peer id: the dialling side is anonymous); other ports are refused.
/// Runs until the node stops (the service stops with it).
async fn serve(inner: Arc<NetInner>, _service: Arc<RunningOnionService>, requests: RendRequests) {
    let mut streams = pin!(handle_rend_requests(requests));
    let mut shutdown = inner.shutdown.subscribe();
    loop {
        let request = tokio::select! {
            r = streams.next() => r,
            _ = shutdown.changed() => None,
        };
        let Some(request) = request else { return };
        let xsp = matches!(request.request(), IncomingStreamRequest::Begin(b) if b.port() == XSP_ONION_PORT);
        let inner = inner.clone();
        inner.handle.clone().spawn(async move {
            if !xsp {
                let _ = request.reject(End::new_with_reason(EndReason::EXITPOLICY)).await;
                return;
            }
            if let Ok(stream) = request.accept(Connected::new_empty()).await {
                accept(inner, stream).await;
            }
        });
    }
}

async fn accept(inner: Arc<NetInner>, stream: DataStream) {
    let Ok(id) = crate::secret::os_random::<32>() else { return };
    driver::accept_stream(inner, PeerId(id), Stream::bytes(stream)).await;
}

/// The arti configuration: the file's settings (if any), with the storage directories in the
/// store directory.
fn client_config(store_dir: &Path, file: Option<&Path>) -> Result<TorClientConfig, NetError> {
    let tor_dir = store_dir.join("tor");
    let bad = |path: &Path, source: Box<dyn std::error::Error + Send + Sync>| NetError::BadTorConfig {
        path: path.to_path_buf(),
        source,
    };
    let mut sources = ConfigurationSources::new_empty();
    if let Some(file) = file {
        if !file.is_file() {
            return Err(bad(file, Box::new(std::io::Error::from(std::io::ErrorKind::NotFound))));
        }
        sources.push_source(ConfigurationSource::from_path(file), MustRead::MustRead);
    }
    let storage = storage_toml(&tor_dir.join("state"), &tor_dir.join("cache")).ok_or_else(|| {
        let not_utf8 = std::io::Error::new(std::io::ErrorKind::InvalidInput, "arti needs a UTF-8 path");
        bad(&tor_dir, Box::new(not_utf8))
    })?;
    sources.push_source(ConfigurationSource::from_verbatim(storage), MustRead::MustRead);
    let named = file.unwrap_or(&tor_dir);
    let tree = sources.load().map_err(|e| bad(named, Box::new(e)))?;
    tor_config::resolve::<TorClientConfig>(&tree).map_err(|e| bad(named, Box::new(e)))
}

/// The `[storage]` table naming `state` and `cache` literally (no `${VAR}` expansion).
fn storage_toml(state: &Path, cache: &Path) -> Option<String> {
    let literal = |p: &Path| -> Option<toml::Value> {
        let mut t = toml::Table::new();
        t.insert("literal".into(), toml::Value::String(p.to_str()?.to_owned()));
        Some(toml::Value::Table(t))
    };
    let mut storage = toml::Table::new();
    storage.insert("state_dir".into(), literal(state)?);
    storage.insert("cache_dir".into(), literal(cache)?);
    let mut top = toml::Table::new();
    top.insert("storage".into(), toml::Value::Table(storage));
    Some(top.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_paths_are_taken_literally() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("a \"quoted\" ${HOME} \\ dir\u{7}");
        let text = storage_toml(&odd.join("state"), &odd.join("cache")).expect("UTF-8 paths");
        let table: toml::Table = text.parse().expect("valid TOML");
        let literal = |k: &str| table["storage"][k]["literal"].as_str().map(str::to_owned);
        assert_eq!(literal("state_dir"), odd.join("state").to_str().map(str::to_owned));
        assert_eq!(literal("cache_dir"), odd.join("cache").to_str().map(str::to_owned));
        client_config(&odd, None).expect("the configuration resolves");
    }

    #[test]
    fn a_missing_config_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        match client_config(dir.path(), Some(&missing)) {
            Err(NetError::BadTorConfig { path, .. }) => assert_eq!(path, missing),
            other => panic!("{:?}", other.map(|_| ())),
        }
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[tor_network\nnot toml").unwrap();
        assert!(matches!(client_config(dir.path(), Some(&bad)), Err(NetError::BadTorConfig { .. })));
    }

    /// Our onion address codec agrees with arti's (an independent implementation).
    #[test]
    fn onion_addresses_agree_with_arti() {
        use proptest::prelude::*;
        proptest!(|(key in any::<[u8; 32]>())| {
            let ours = OnionAddress(key).to_string();
            let theirs: tor_hsservice::HsId = ours.parse().expect("arti parses our address");
            prop_assert_eq!(<[u8; 32]>::from(theirs), key);
        });
    }
}
