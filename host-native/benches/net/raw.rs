//! Network benchmarks, two processes over 127.0.0.1 (run with `cargo bench -p xaeroflux --bench net`).
//!
//! The parent process spawns this same binary as a child (selected by the environment
//! variable `XF_NET_BENCH_CHILD`) that listens and receives; the parent connects and sends.
//!
//! - `raw`: 100 000 records of 256 B (25.6 MB) over one TCP connection, and over one iroh
//!   QUIC stream with segmentation offload (GSO) on and off. The time runs from the first
//!   byte written to the receiver's one-byte acknowledgement after the last byte read.
//!
//! Arguments: `raw` (default: all), `--records N`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use iroh::endpoint::{MtuDiscoveryConfig, QuicTransportConfig, presets};
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMode};

const RECORD: usize = 256;
const CHUNK: usize = 64 * 1024;
const RAW_ALPN: &[u8] = b"xaeroflux/bench-raw/1";
const CHILD_VAR: &str = "XF_NET_BENCH_CHILD";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    if let Ok(role) = std::env::var(CHILD_VAR) {
        return child(&role);
    }
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let records = args
        .iter()
        .position(|a| a == "--records")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000usize);
    let which: Vec<&str> = args.iter().map(String::as_str).filter(|a| *a == "raw").collect();
    let all = which.is_empty();
    if all || which.contains(&"raw") {
        raw(records)?;
    }
    Ok(())
}

fn payload(records: usize) -> Vec<u8> {
    let mut data = vec![0u8; records * RECORD];
    for (i, rec) in data.chunks_mut(RECORD).enumerate() {
        rec[..8].copy_from_slice(&(i as u64).to_le_bytes());
        for (j, b) in rec[8..].iter_mut().enumerate() {
            *b = (i.wrapping_mul(31) + j) as u8;
        }
    }
    data
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

/// A child process running `role`, and the first line it printed.
fn spawn_child(role: &str, envs: &[(&str, String)]) -> Result<(Child, BufReader<ChildStdout>, String), BoxError> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.env(CHILD_VAR, role).stdout(Stdio::piped()).stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take().ok_or("child has no stdout")?;
    let mut out = BufReader::new(stdout);
    let mut line = String::new();
    out.read_line(&mut line)?;
    if line.is_empty() {
        let _ = child.wait();
        return Err(format!("child {role} exited before it was ready").into());
    }
    Ok((child, out, line.trim().to_string()))
}

fn finish_child(mut child: Child, mut out: BufReader<ChildStdout>) -> Result<String, BoxError> {
    let mut rest = String::new();
    out.read_to_string(&mut rest)?;
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("child failed: {status}").into());
    }
    Ok(rest.trim().to_string())
}

fn raw(records: usize) -> Result<(), BoxError> {
    let data = payload(records);
    println!("raw transfer, two processes over 127.0.0.1: {records} x {RECORD} B = {:.1} MB", data.len() as f64 / 1e6);
    let mut table = Vec::new();
    for run in 0..2 {
        let tcp = raw_tcp(&data)?;
        table.push(("tcp".to_string(), run, tcp, String::new()));
        for v in VARIANTS {
            let (d, note) = raw_iroh(&data, *v)?;
            table.push((v.to_string(), run, d, note));
        }
    }
    for (name, run, d, note) in table {
        println!("  {name:<26} run {run}: {:>8.1} ms {:>8.1} MB/s  {note}", d.as_secs_f64() * 1e3, mbps(data.len(), d));
    }
    Ok(())
}

/// An endpoint transport setting under test.
#[derive(Clone, Copy)]
struct Variant {
    /// Segmentation offload (GSO) on.
    gso: bool,
    /// Upper bound of MTU discovery (noq's default is 1452).
    mtu_max: u16,
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "iroh gso={} mtu<={}", if self.gso { "on" } else { "off" }, self.mtu_max)
    }
}

const VARIANTS: &[Variant] = &[
    Variant { gso: true, mtu_max: 1452 },
    Variant { gso: false, mtu_max: 1452 },
    Variant { gso: true, mtu_max: 65527 },
    Variant { gso: false, mtu_max: 65527 },
];

fn raw_tcp(data: &[u8]) -> Result<Duration, BoxError> {
    let (child, out, line) = spawn_child("tcp-recv", &[("XF_NET_BENCH_BYTES", data.len().to_string())])?;
    let addr: SocketAddr = line.parse()?;
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let t = Instant::now();
    for c in data.chunks(CHUNK) {
        s.write_all(c)?;
    }
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack)?;
    let d = t.elapsed();
    finish_child(child, out)?;
    Ok(d)
}

fn raw_iroh(data: &[u8], v: Variant) -> Result<(Duration, String), BoxError> {
    let envs = [
        ("XF_NET_BENCH_BYTES", data.len().to_string()),
        ("XF_NET_BENCH_GSO", u8::from(v.gso).to_string()),
        ("XF_NET_BENCH_MTU", v.mtu_max.to_string()),
    ];
    let (child, out, line) = spawn_child("iroh-recv", &envs)?;
    let mut parts = line.split_whitespace();
    let id: EndpointId = parts.next().ok_or("no id")?.parse()?;
    let addr: SocketAddr = parts.next().ok_or("no addr")?.parse()?;
    let rt = runtime()?;
    let (d, note) = rt.block_on(async move {
        let ep = bench_endpoint(v, vec![]).await?;
        let conn = ep.connect(EndpointAddr::new(id).with_ip_addr(addr), RAW_ALPN).await?;
        let (mut send, mut recv) = conn.open_bi().await?;
        let t = Instant::now();
        for c in data.chunks(CHUNK) {
            send.write_all(c).await?;
        }
        send.finish()?;
        let mut ack = [0u8; 1];
        recv.read_exact(&mut ack).await?;
        let d = t.elapsed();
        let mut note = String::new();
        for p in conn.paths().iter() {
            let s = p.stats();
            note = format!(
                "(sender path: mtu {} B, lost {} pkts, congestion events {}, {} UDP datagrams)",
                s.current_mtu, s.lost_packets, s.congestion_events, s.udp_tx.datagrams
            );
        }
        conn.close(0u32.into(), b"done");
        ep.close().await;
        Ok::<_, BoxError>((d, note))
    })?;
    let child_note = finish_child(child, out)?;
    Ok((d, format!("{note} {child_note}")))
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    if std::env::var("XF_MT").is_ok() {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    }
}

async fn bench_endpoint(v: Variant, alpns: Vec<Vec<u8>>) -> Result<Endpoint, BoxError> {
    let mut mtu = MtuDiscoveryConfig::default();
    mtu.upper_bound(v.mtu_max);
    let mut b = QuicTransportConfig::builder().enable_segmentation_offload(v.gso).mtu_discovery_config(Some(mtu));
    if let Some(t) = std::env::var("XF_ACK").ok().and_then(|v| v.parse::<u32>().ok()) {
        let mut a = iroh::endpoint::AckFrequencyConfig::default();
        a.ack_eliciting_threshold(t.into());
        b = b.ack_frequency_config(Some(a));
    }
    let transport = b.build();
    let ep = Endpoint::builder(presets::Minimal)
        .relay_mode(RelayMode::Disabled)
        .clear_ip_transports()
        .bind_addr("127.0.0.1:0")?
        .transport_config(transport)
        .alpns(alpns)
        .bind()
        .await?;
    Ok(ep)
}

fn child(role: &str) -> Result<(), BoxError> {
    let bytes: usize = std::env::var("XF_NET_BENCH_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    match role {
        "tcp-recv" => {
            let l = TcpListener::bind("127.0.0.1:0")?;
            println!("{}", l.local_addr()?);
            std::io::stdout().flush()?;
            let (mut s, _) = l.accept()?;
            let mut buf = vec![0u8; CHUNK];
            let mut got = 0;
            while got < bytes {
                let n = s.read(&mut buf)?;
                if n == 0 {
                    return Err("tcp: early end".into());
                }
                got += n;
            }
            s.write_all(&[1])?;
            Ok(())
        }
        "iroh-recv" => {
            let gso = std::env::var("XF_NET_BENCH_GSO").is_ok_and(|v| v == "1");
            let mtu_max = std::env::var("XF_NET_BENCH_MTU").ok().and_then(|v| v.parse().ok()).unwrap_or(1452);
            let rt = runtime()?;
            rt.block_on(async move {
                let ep = bench_endpoint(Variant { gso, mtu_max }, vec![RAW_ALPN.to_vec()]).await?;
                let addr = ep.bound_sockets().into_iter().next().ok_or("no socket")?;
                println!("{} {}", ep.id(), addr);
                std::io::stdout().flush()?;
                let incoming = ep.accept().await.ok_or("endpoint closed")?;
                let conn = incoming.await?;
                let (mut send, mut recv) = conn.accept_bi().await?;
                let mut buf = vec![0u8; CHUNK];
                let mut got = 0;
                while got < bytes {
                    match recv.read(&mut buf).await? {
                        Some(n) => got += n,
                        None => return Err::<(), BoxError>("iroh: early end".into()),
                    }
                }
                send.write_all(&[1]).await?;
                send.finish()?;
                conn.closed().await;
                let mut note = String::new();
                for p in conn.paths().iter() {
                    let s = p.stats();
                    note = format!("(receiver path: mtu {} B)", s.current_mtu);
                }
                println!("{note}");
                ep.close().await;
                Ok(())
            })
        }
        other => Err(format!("unknown child role {other}").into()),
    }
}
