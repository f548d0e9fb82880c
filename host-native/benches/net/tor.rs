//! Over Tor (`--only tor`, feature `tor`): the same two processes, on a private Tor network
//! that runs on 127.0.0.1 (three directory authorities and three relays of C tor, started by
//! `scripts/tor-testnet.sh`, or the one named by `XF_TORNET_DIR`). Nothing leaves the machine.
//!
//! - **raw Tor stream** (the floor): a child runs an arti client and an onion service of its
//!   own; the parent's arti client (bootstrapped before the clock) opens a stream to it and
//!   writes the payload bytes; the time runs from the stream being open to the child's
//!   one-byte acknowledgement of the last byte. Then the child writes timestamped messages,
//!   10 ms apart: their one-way latency.
//! - **xaeroflux over Tor**: a store running the `"tor"` backend alone serves the N events; a
//!   fresh Tor-only store joins its ticket (which names only the onion service). The transfer
//!   runs from the session's start ([`SyncEvent::PeerConnected`]) until all N events are
//!   verified and durably stored; the time before it (the joining store's bootstrap, the
//!   descriptor fetch, introduction and rendezvous, HELLO) is shown apart. Then live appends.
//!
//! Both sides of both systems run arti 0.47 with the same network configuration, each process
//! with a two-thread tokio runtime (the node's default).

use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::Command;
use std::time::{Duration, Instant};

use arti_client::TorClient;
use arti_client::config::TorClientConfig;
use arti_client::config::onion_service::OnionServiceConfigBuilder;
use n0_future::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tor_cell::relaycell::msg::Connected;
use tor_config::sources::{ConfigurationSource, ConfigurationSources, MustRead};
use tor_hsservice::handle_rend_requests;
use xaeroflux::net::OnionAddress;
use xaeroflux::net::{TorRuntime, tor_runtime};

use crate::{BoxError, child, median, ms, quantile, raw, round_ratios, sync};

/// The onion service port of the floor's service.
const RAW_PORT: u16 = 1;
/// Timestamped messages the floor's child writes after the bulk, and the pause between two.
const LIVE_MESSAGES: usize = 100;
const LIVE_PAUSE: Duration = Duration::from_millis(10);
/// Longest the first stream to a fresh onion service may take to open (its descriptor is
/// published a few seconds after launch).
const CONNECT_PATIENCE: Duration = Duration::from_secs(180);
/// Longest an arti client may take to bootstrap on the private network.
const BOOTSTRAP_PATIENCE: Duration = Duration::from_secs(120);

/// A private Tor network: started for the run (and stopped on drop), or the running one
/// named by `XF_TORNET_DIR` (`bash scripts/tor-testnet.sh start DIR`).
pub(crate) struct TorNet {
    dir: PathBuf,
    started: bool,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/tor-testnet.sh")
}

impl TorNet {
    pub(crate) fn start() -> Result<TorNet, BoxError> {
        if let Some(given) = std::env::var_os("XF_TORNET_DIR") {
            return Ok(TorNet { dir: PathBuf::from(given), started: false });
        }
        let dir = std::env::temp_dir().join(format!("xf-bench-tornet-{}", std::process::id()));
        let t = Instant::now();
        let status = Command::new("bash").arg(script()).arg("start").arg(&dir).status()?;
        if !status.success() {
            return Err(
                "scripts/tor-testnet.sh start failed (tor installed? `bash scripts/tor-testnet.sh install`)".into()
            );
        }
        println!("private Tor network up in {:.1} s ({})", t.elapsed().as_secs_f64(), dir.display());
        Ok(TorNet { dir, started: true })
    }

    /// The network's arti configuration file.
    pub(crate) fn arti_config(&self) -> PathBuf {
        self.dir.join("arti-network.toml")
    }
}

impl Drop for TorNet {
    fn drop(&mut self) {
        if self.started {
            let _ = Command::new("bash").arg(script()).arg("stop").arg(&self.dir).status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One round of the floor.
pub(crate) struct RawTor {
    /// Opening the stream (descriptor fetch, introduction, rendezvous), retries included.
    pub connect: Duration,
    /// The payload bytes, first written to acknowledged.
    pub transfer: Duration,
    /// One-way latencies of the timestamped messages.
    pub latencies: Vec<Duration>,
}

fn runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// A bootstrapped arti client on the network of `config`, its state and cache in `dir`.
async fn client(config: &Path, dir: &Path) -> Result<std::sync::Arc<TorClient<TorRuntime>>, BoxError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut sources = ConfigurationSources::new_empty();
    sources.push_source(ConfigurationSource::from_path(config), MustRead::MustRead);
    let literal = |p: PathBuf| -> Result<toml::Value, BoxError> {
        let mut t = toml::Table::new();
        t.insert("literal".into(), toml::Value::String(p.to_str().ok_or("non-UTF-8 path")?.to_owned()));
        Ok(toml::Value::Table(t))
    };
    let mut storage = toml::Table::new();
    storage.insert("state_dir".into(), literal(dir.join("state"))?);
    storage.insert("cache_dir".into(), literal(dir.join("cache"))?);
    let mut top = toml::Table::new();
    top.insert("storage".into(), toml::Value::Table(storage));
    sources.push_source(ConfigurationSource::from_verbatim(top.to_string()), MustRead::MustRead);
    let cfg: TorClientConfig = tor_config::resolve(&sources.load()?)?;
    // The runtime a store's Tor client uses (Nagle off on its connections to relays).
    let runtime = tor_runtime()?;
    let builder = TorClient::with_runtime(runtime).config(cfg);
    match tokio::time::timeout(BOOTSTRAP_PATIENCE, builder.create_bootstrapped()).await {
        Ok(client) => Ok(client?),
        Err(_) => Err(format!("the Tor client did not bootstrap within {BOOTSTRAP_PATIENCE:?}").into()),
    }
}

/// The floor, one round: the payload over one Tor stream to a fresh onion service.
pub(crate) fn run_raw(net: &TorNet, records: usize) -> Result<RawTor, BoxError> {
    let data = raw::payload(records);
    let config = net.arti_config();
    let envs = [("XF_NET_BENCH_BYTES", data.len().to_string()), (sync::TOR_CONFIG_VAR, path_env(&config)?)];
    let c = child::spawn("tor-raw-serve", &envs)?;
    let onion = c.line.clone();
    let dir = tempfile::tempdir()?;
    let rt = runtime()?;
    let result = rt.block_on(async {
        let client = client(&config, dir.path()).await?;
        let t = Instant::now();
        let mut stream = loop {
            match client.connect((onion.as_str(), RAW_PORT)).await {
                Ok(s) => break s,
                Err(e) if t.elapsed() > CONNECT_PATIENCE => return Err::<RawTor, BoxError>(e.into()),
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        };
        let connect = t.elapsed();
        let t = Instant::now();
        stream.write_all(&data).await?;
        stream.flush().await?;
        let mut ack = [0u8; 1];
        stream.read_exact(&mut ack).await?;
        let transfer = t.elapsed();
        let mut latencies = Vec::with_capacity(LIVE_MESSAGES);
        for _ in 0..LIVE_MESSAGES {
            let mut stamp = [0u8; 8];
            stream.read_exact(&mut stamp).await?;
            latencies.push(Duration::from_micros(sync::now_us().saturating_sub(u64::from_le_bytes(stamp))));
        }
        // Tells the child it may go, and waits for its END: a stream dropped together with
        // its runtime may never send its own, and the other side would wait for the circuit
        // to time out.
        stream.write_all(&[2]).await?;
        stream.flush().await?;
        let mut rest = [0u8; 1];
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut rest)).await;
        Ok(RawTor { connect, transfer, latencies })
    });
    // The runtime (and the client's tasks) go before the child is waited for.
    drop(rt);
    c.finish()?;
    result
}

fn path_env(p: &Path) -> Result<String, BoxError> {
    Ok(p.to_str().ok_or("non-UTF-8 path")?.to_owned())
}

/// Child of the floor: an arti client and an onion service; prints the onion address, reads
/// the payload from the first stream that opens, acknowledges it, then writes timestamped
/// messages.
pub(crate) fn child_raw_serve() -> Result<(), BoxError> {
    let bytes: usize = std::env::var("XF_NET_BENCH_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let config = PathBuf::from(std::env::var(sync::TOR_CONFIG_VAR)?);
    let dir = tempfile::tempdir()?;
    let rt = runtime()?;
    let result = rt.block_on(async {
        let client = client(&config, dir.path()).await?;
        let service_config = OnionServiceConfigBuilder::default().nickname("bench".parse()?).build()?;
        let (service, requests) =
            client.launch_onion_service(service_config)?.ok_or("onion services are disabled in the configuration")?;
        let id = service.onion_address().ok_or("the onion service has no identity key")?;
        println!("{}", OnionAddress(id.into()));
        let mut streams = pin!(handle_rend_requests(requests));
        while let Some(request) = streams.next().await {
            let Ok(mut stream) = request.accept(Connected::new_empty()).await else { continue };
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0;
            while got < bytes {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Err::<(), BoxError>("tor: early end".into());
                }
                got += n;
            }
            stream.write_all(&[1]).await?;
            stream.flush().await?;
            for _ in 0..LIVE_MESSAGES {
                tokio::time::sleep(LIVE_PAUSE).await;
                stream.write_all(&sync::now_us().to_le_bytes()).await?;
                stream.flush().await?;
            }
            // Until the parent has read the last message (it says so); then the END, and a
            // moment for it to leave before the runtime goes.
            let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut buf[..1])).await;
            stream.shutdown().await?;
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await;
            return Ok(());
        }
        Err("the onion service stopped".into())
    });
    drop(rt);
    result
}

/// The Tor rows, gathered over the rounds.
#[derive(Default)]
pub(crate) struct TorRounds {
    raw: Vec<RawTor>,
    ours: Vec<sync::SyncResult>,
}

impl TorRounds {
    /// One round: the floor, then ours.
    pub(crate) fn round(&mut self, net: &TorNet, records: usize) -> Result<(), BoxError> {
        let raw = run_raw(net, records)?;
        println!("  raw Tor stream: connect {:.0} ms, transfer {:.0} ms", ms(raw.connect), ms(raw.transfer));
        self.raw.push(raw);
        let config = net.arti_config();
        let ours = sync::run(records, Some(&config))?;
        println!(
            "  xaeroflux over Tor: join to session {:.0} ms, transfer {:.0} ms ({} session(s), {} rejected)",
            ms(ours.connect),
            ms(ours.time - ours.connect),
            ours.sessions,
            ours.rejected,
        );
        self.ours.push(ours);
        Ok(())
    }

    /// Prints the table and the ratio.
    pub(crate) fn report(&self, records: usize) {
        let bytes = (records * crate::RECORD) as f64;
        let raw_transfer: Vec<Duration> = self.raw.iter().map(|r| r.transfer).collect();
        let ours_transfer: Vec<Duration> = self.ours.iter().map(|r| r.time - r.connect).collect();
        let raw_lat: Vec<Duration> = self.raw.iter().flat_map(|r| r.latencies.iter().copied()).collect();
        let ours_lat: Vec<Duration> = self.ours.iter().flat_map(|r| r.latencies.iter().copied()).collect();
        println!();
        println!(
            "over Tor (private network on 127.0.0.1), {records} x {} B, median of {} runs:",
            crate::RECORD,
            self.raw.len()
        );
        println!(
            "{:<28} {:>11} {:>12} {:>8} {:>22}",
            "system", "connect ms", "transfer ms", "MB/s", "live median / p90 ms"
        );
        let row = |name: &str, connect: Vec<Duration>, transfer: &[Duration], lat: &[Duration]| {
            let t = median(transfer.to_vec());
            println!(
                "{name:<28} {:>11.0} {:>12.1} {:>8.2} {:>22}",
                ms(median(connect)),
                ms(t),
                bytes / t.as_secs_f64() / 1e6,
                format!("{:.1} / {:.1} ({})", ms(quantile(lat, 0.5)), ms(quantile(lat, 0.9)), lat.len()),
            );
        };
        row("raw Tor stream (floor)", self.raw.iter().map(|r| r.connect).collect(), &raw_transfer, &raw_lat);
        row("xaeroflux over Tor", self.ours.iter().map(|r| r.connect).collect(), &ours_transfer, &ours_lat);
        let per_round = round_ratios(&raw_transfer, &ours_transfer);
        let listed: Vec<String> = per_round.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "ours vs raw Tor stream: {:.2}x its speed (medians of the transfers); per round {}",
            median(raw_transfer).as_secs_f64() / median(ours_transfer).as_secs_f64(),
            listed.join(" "),
        );
        println!(
            "connect: the floor's client is bootstrapped before its clock; ours runs from join_ticket on a \
             store opened just before (its own Tor bootstrap included) to the session's HELLO"
        );
    }
}
