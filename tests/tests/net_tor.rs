//! Sync over Tor (backend `"tor"`, feature `tor`), on a private Tor network that runs on
//! 127.0.0.1: three directory authorities and three relays of C tor, started by
//! `scripts/tor-testnet.sh` (which `scripts/setup.sh` installs tor for). Nothing leaves the
//! machine; the stores run arti, pointed at that network by the configuration file the script
//! writes.

mod net_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use net_common::*;
use xaeroflux::Core;
use xaeroflux::net::{NetConfig, NetError, SyncEvent, Ticket};

/// Longest a step over Tor may take: the first session publishes an onion service descriptor
/// and builds circuits to introduction and rendezvous points, on a network whose consensus
/// is minutes old.
const TOR_PATIENCE: Duration = Duration::from_secs(300);
/// Events of the catch-up: 1.3 MB of payload, thousands of Tor cells each way, so that a
/// session that mishandles its stream fails here.
const CATCH_UP: usize = 5_000;

/// A private Tor network, stopped on drop (unless it was given in `XF_TORNET_DIR`: one
/// started by hand with `scripts/tor-testnet.sh start DIR`, which saves a minute per run).
struct TorNet {
    dir: tempfile::TempDir,
    given: Option<PathBuf>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/tor-testnet.sh")
}

impl TorNet {
    fn start() -> TorNet {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        if let Some(given) = std::env::var_os("XF_TORNET_DIR") {
            return TorNet { dir, given: Some(PathBuf::from(given)) };
        }
        let started = Instant::now();
        let status = Command::new("bash").arg(script()).arg("start").arg(dir.path()).status().unwrap();
        assert!(
            status.success(),
            "scripts/tor-testnet.sh start failed (is tor installed? `bash scripts/tor-testnet.sh install`)"
        );
        eprintln!("private Tor network up in {:.1?}", started.elapsed());
        TorNet { dir, given: None }
    }

    /// The last lines of each tor's log (for a failed test: did the authorities keep making
    /// consensuses, did the relays take the onion service's descriptors?).
    fn print_log_tails(&self) {
        let root = self.given.as_deref().unwrap_or(self.dir.path());
        let Ok(entries) = std::fs::read_dir(root) else { return };
        let mut logs: Vec<PathBuf> =
            entries.flatten().map(|e| e.path().join("notice.log")).filter(|p| p.is_file()).collect();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("----- {} (last 8 lines) -----", log.display());
            for line in &lines[lines.len().saturating_sub(8)..] {
                eprintln!("{line}");
            }
        }
    }

    /// The arti configuration of the network.
    fn arti_config(&self) -> PathBuf {
        self.given.as_deref().unwrap_or(self.dir.path()).join("arti-network.toml")
    }
}

impl Drop for TorNet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_log_tails();
        }
        if self.given.is_none() {
            let _ = Command::new("bash").arg(script()).arg("stop").arg(self.dir.path()).status();
        }
    }
}

fn tor_node(dir: &Path, net: &TorNet, backends: &[&str]) -> Core {
    let cfg = NetConfig::default()
        .with_bind_addr("127.0.0.1:0".parse().unwrap())
        .with_idle_timeout(Duration::from_secs(60))
        // A restarted store is redialled at least every 8 s (60 s by default): its onion
        // service may take a while to be back (its client may have to fetch a directory
        // first), and the test should not wait out a doubled wait after that.
        .with_tor_redial_waits(Duration::from_secs(2), Duration::from_secs(8))
        .with_tor_config_file(net.arti_config());
    Core::builder().with_page_size(16 * 1024).with_sync_backends(backends).with_net_config(cfg).open(dir).unwrap()
}

/// The onion service serves XSP on its port and refuses streams to any other: a bare arti
/// client of the test's own, on the same private network, opens both.
fn other_ports_are_refused(net: &TorNet, onion: &str) {
    // Declared first, dropped last: the client's tasks flush their state when the runtime goes.
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let mut sources = tor_config::ConfigurationSources::new_empty();
        let file = tor_config::ConfigurationSource::from_path(net.arti_config());
        sources.push_source(file, tor_config::sources::MustRead::MustRead);
        let storage = format!(
            "[storage]\nstate_dir = {{ literal = {:?} }}\ncache_dir = {{ literal = {:?} }}\n",
            dir.path().join("state").to_str().unwrap(),
            dir.path().join("cache").to_str().unwrap()
        );
        sources.push_source(
            tor_config::ConfigurationSource::from_verbatim(storage),
            tor_config::sources::MustRead::MustRead,
        );
        let cfg: arti_client::config::TorClientConfig = tor_config::resolve(&sources.load().unwrap()).unwrap();
        let client = arti_client::TorClient::with_runtime(tor_rtcompat::PreferredRuntime::current().unwrap())
            .config(cfg)
            .create_bootstrapped()
            .await
            .unwrap();
        let xsp = client.connect((onion, xaeroflux::net::XSP_ONION_PORT)).await;
        assert!(xsp.is_ok(), "the XSP port accepts: {:?}", xsp.err());
        let other = client.connect((onion, 80)).await;
        assert!(other.is_err(), "port 80 is refused");
    });
}

/// Waits up to [`TOR_PATIENCE`] for `cond`; on timeout, fails with the sync status (Tor client
/// and onion service included) of each of `nodes`.
fn wait_long(what: &str, nodes: &[&Core], mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > TOR_PATIENCE {
            let statuses: Vec<String> = nodes.iter().map(|n| format!("{:?}", n.sync_status())).collect();
            panic!("{what}: not within {TOR_PATIENCE:?}; the nodes' status:\n{}", statuses.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = start.elapsed();
    eprintln!("{what}: {took:.1?}");
    took
}

/// Two stores that run Tor alone sync through the onion service of one of them: catch-up,
/// live appends both ways, a restart that keeps the onion address, and the other store
/// dialling it again, then back by space id alone through its peer book. Tickets carry no
/// address of the machine.
#[test]
fn stores_on_tor_alone_sync_through_an_onion_service() {
    let net = TorNet::start();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let space = space("tor");

    let a = tor_node(da.path(), &net, &["tor"]);
    let a_events = a.subscribe().unwrap();
    append_n(&a, 1, CATCH_UP, 256);
    let ticket = a.ticket(space).unwrap();
    let onion = a.onion_address().unwrap().expect("A runs an onion service");
    assert_eq!(ticket.onion, Some(onion));
    assert!(ticket.addrs.is_empty() && ticket.relay.is_none(), "a Tor-only ticket names no address: {ticket:?}");
    let text = ticket.to_string();
    assert!(da.path().join("tor/state").is_dir(), "arti's state lives in the store directory");

    // A store without Tor cannot use a ticket that names only an onion service.
    let dc = tempfile::tempdir().unwrap();
    let c = node_with(dc.path(), &["iroh"]);
    assert!(matches!(c.join_ticket(&text.parse().unwrap()), Err(NetError::TorNotRunning)));
    assert_eq!(c.sync_status().unwrap().tor, None, "a store without Tor reports no Tor state");
    drop(c);

    let b = tor_node(db.path(), &net, &["tor"]);
    let events = b.subscribe().unwrap();
    b.join_ticket(&text.parse::<Ticket>().unwrap()).unwrap();
    wait_long("B caught up with A over Tor", &[&a, &b], || b.feed_len(&a.author()) == CATCH_UP as u64);
    assert_eq!(b.feed_head(&a.author()).unwrap(), a.head());
    let got: Vec<Vec<u8>> = b.iter_feed(&a.author()).unwrap().map(|e| e.payload().to_vec()).collect();
    assert_eq!(got, payloads(1, CATCH_UP, 256));
    let mut sessions = 0;
    let mut tor_events = Vec::new();
    while let Some(e) = events.try_recv() {
        assert!(!matches!(e, SyncEvent::Rejected { .. }), "B rejected a session: {e:?}");
        sessions += usize::from(matches!(e, SyncEvent::PeerConnected { peer, .. } if peer == a.node_id().unwrap()));
        if let SyncEvent::Tor(tor) = e {
            tor_events.push(tor);
        }
    }
    assert!(sessions >= 1, "B reported its session with A");
    // B reported its Tor client's progress as events, ready and its service launched by the
    // time it had dialled A.
    let last = tor_events.last().expect("B reported its Tor state");
    assert!(last.ready && last.service != xaeroflux::net::OnionServiceState::NotLaunched, "{tor_events:?}");
    assert!(tor_events.windows(2).all(|w| w[0] != w[1]), "only changes are reported: {tor_events:?}");
    eprintln!("B's Tor state, as events: {}", tor_events.len());
    // Both report their Tor client ready and their onion service launched.
    for (name, core) in [("A", &a), ("B", &b)] {
        let tor = core.sync_status().unwrap().tor.expect("a store on Tor reports its Tor state");
        assert!(tor.ready && tor.bootstrap_percent == 100, "{name}: {tor:?}");
        assert_ne!(tor.service, xaeroflux::net::OnionServiceState::NotLaunched, "{name}: {tor:?}");
    }

    // Live, both ways, over the one Tor stream.
    for i in 0..5u64 {
        let ev = a.append(a.new_event(&i.to_le_bytes())).unwrap();
        wait_long("A's live append reached B", &[&a, &b], || b.feed_len(&a.author()) > ev.seq);
        let ev = b.append(b.new_event(&i.to_le_bytes())).unwrap();
        wait_long("B's live append reached A", &[&a, &b], || a.feed_len(&b.author()) > ev.seq);
    }
    assert!(same_feeds(&a, &b));
    // A read on demand over the same Tor stream: verified against A's signed head.
    let latest = b.fetch_events(&a.author(), xaeroflux::net::Fetch::Latest(3), TOR_PATIENCE).unwrap();
    assert_eq!(latest.head().length, a.feed_len(&a.author()));
    let mine: Vec<Vec<u8>> = a.range(&a.author(), latest.seqs()).unwrap().map(|e| e.payload().to_vec()).collect();
    assert_eq!(latest.iter().map(|e| e.payload().to_vec()).collect::<Vec<_>>(), mine);
    assert_eq!(latest.len(), 3);
    while let Some(e) = a_events.try_recv() {
        assert!(!matches!(e, SyncEvent::Rejected { .. }), "A rejected a session: {e:?}");
    }
    other_ports_are_refused(&net, &onion.to_string());
    // A knows B only as an anonymous peer: the side that dials over Tor is not identified.
    let a_status = a.sync_status().unwrap();
    assert!(a_status.peers.iter().all(|p| p.peer != b.node_id().unwrap() && !p.initiator), "{a_status:?}");

    // A restarts: same onion address (its key is kept in the store), and B dials it again.
    drop(a);
    let a = tor_node(da.path(), &net, &["tor"]);
    assert_eq!(a.onion_address().unwrap(), Some(onion), "the onion address survives a restart");
    a.join_space(space).unwrap();
    let ev = a.append(a.new_event(b"after the restart")).unwrap();
    wait_long("B dialled the restarted A and got its new append", &[&a, &b], || b.feed_len(&a.author()) > ev.seq);

    // B restarts and joins the space by its id alone: its peer book remembers A's onion
    // service (from the ticket), so it dials A over Tor again.
    drop(b);
    let b = tor_node(db.path(), &net, &["tor"]);
    b.join_space(space).unwrap();
    let ev = a.append(a.new_event(b"after B's restart")).unwrap();
    wait_long("B, back by space id alone, got A's next append", &[&a, &b], || b.feed_len(&a.author()) > ev.seq);
    for core in [&a, &b] {
        let report = core.check_integrity().unwrap();
        assert!(report.is_ok() && report.feeds == 2, "{report:?}");
    }
}
