//! The floors: the payload bytes over one TCP connection and over one iroh QUIC stream.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use iroh::endpoint::{MtuDiscoveryConfig, QuicTransportConfig, presets};
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMode};
use xaeroflux::net::NetConfig;

use crate::{BoxError, RECORD, child};

const CHUNK: usize = 64 * 1024;
const RAW_ALPN: &[u8] = b"xaeroflux/bench-raw/1";

/// An iroh endpoint transport setting.
#[derive(Clone, Copy)]
struct Variant {
    /// Segmentation offload (GSO) on.
    gso: bool,
    /// Upper bound of MTU discovery; `None`: the setting of `xaeroflux::net`.
    mtu_max: Option<u16>,
}

impl Variant {
    const LIB: Variant = Variant { gso: true, mtu_max: None };

    fn name(&self) -> String {
        match self.mtu_max {
            None if self.gso => "GSO on, MTU <= 1472 (xaeroflux::net)".into(),
            None => "GSO off, MTU <= 1472".into(),
            Some(m) => format!("GSO {}, MTU <= {m}", if self.gso { "on" } else { "off" }),
        }
    }

    fn transport(&self) -> QuicTransportConfig {
        match self.mtu_max {
            None => xaeroflux::net::quic_transport_config(&NetConfig::default().with_segmentation_offload(self.gso)),
            Some(m) => {
                let mut mtu = MtuDiscoveryConfig::default();
                mtu.upper_bound(m);
                QuicTransportConfig::builder()
                    .enable_segmentation_offload(self.gso)
                    .mtu_discovery_config(Some(mtu))
                    .build()
            }
        }
    }

    fn to_env(self) -> Vec<(&'static str, String)> {
        vec![
            ("XF_NET_BENCH_GSO", u8::from(self.gso).to_string()),
            ("XF_NET_BENCH_MTU", self.mtu_max.map_or(String::new(), |m| m.to_string())),
        ]
    }

    fn from_env() -> Variant {
        Variant {
            gso: std::env::var("XF_NET_BENCH_GSO").is_ok_and(|v| v == "1"),
            mtu_max: std::env::var("XF_NET_BENCH_MTU").ok().and_then(|v| v.parse().ok()),
        }
    }
}

/// The extra settings measured with `--variants`.
const VARIANTS: &[Variant] = &[
    Variant { gso: false, mtu_max: None },
    Variant { gso: true, mtu_max: Some(1452) },
    Variant { gso: true, mtu_max: Some(9000) },
];

pub(crate) fn payload(records: usize) -> Vec<u8> {
    let mut data = vec![0u8; records * RECORD];
    for (i, rec) in data.chunks_mut(RECORD).enumerate() {
        rec[..8].copy_from_slice(&(i as u64).to_le_bytes());
        for (j, b) in rec[8..].iter_mut().enumerate() {
            *b = (i.wrapping_mul(31) + j) as u8;
        }
    }
    data
}

type Row = (String, Duration, String);

/// One round of the floor transfers.
pub(crate) struct Floors {
    pub tcp: Duration,
    /// iroh with the library's setting, and a note on its path.
    pub iroh: (Duration, String),
    /// With `--variants`: the other settings.
    pub extra: Vec<Row>,
}

/// One transfer each: TCP, iroh with the library's setting (and its path note), and with
/// `variants` the other settings.
pub(crate) fn run(records: usize, variants: bool) -> Result<Floors, BoxError> {
    let data = payload(records);
    let tcp = raw_tcp(&data)?;
    let (lib, note) = raw_iroh(&data, Variant::LIB)?;
    let mut extra = Vec::new();
    if variants {
        for v in VARIANTS {
            let (d, n) = raw_iroh(&data, *v)?;
            extra.push((format!("  iroh, {}", v.name()), d, n));
        }
    }
    Ok(Floors { tcp, iroh: (lib, format!("{}; {note}", Variant::LIB.name())), extra })
}

fn raw_tcp(data: &[u8]) -> Result<Duration, BoxError> {
    let c = child::spawn("tcp-recv", &[("XF_NET_BENCH_BYTES", data.len().to_string())])?;
    let addr: SocketAddr = c.line.parse()?;
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let t = Instant::now();
    for chunk in data.chunks(CHUNK) {
        s.write_all(chunk)?;
    }
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack)?;
    let d = t.elapsed();
    c.finish()?;
    Ok(d)
}

fn raw_iroh(data: &[u8], v: Variant) -> Result<(Duration, String), BoxError> {
    let mut envs = v.to_env();
    envs.push(("XF_NET_BENCH_BYTES", data.len().to_string()));
    let c = child::spawn("iroh-recv", &envs)?;
    let mut parts = c.line.split_whitespace();
    let id: EndpointId = parts.next().ok_or("no id")?.parse()?;
    let addr: SocketAddr = parts.next().ok_or("no addr")?.parse()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (d, note) = rt.block_on(async move {
        let ep = bench_endpoint(v, vec![]).await?;
        let conn = ep.connect(EndpointAddr::new(id).with_ip_addr(addr), RAW_ALPN).await?;
        let (mut send, mut recv) = conn.open_bi().await?;
        let t = Instant::now();
        for chunk in data.chunks(CHUNK) {
            send.write_all(chunk).await?;
        }
        send.finish()?;
        let mut ack = [0u8; 1];
        recv.read_exact(&mut ack).await?;
        let d = t.elapsed();
        let mut note = String::new();
        for p in conn.paths().iter() {
            let s = p.stats();
            note = format!("sender path: MTU {} B, {} packets lost", s.current_mtu, s.lost_packets);
        }
        conn.close(0u32.into(), b"done");
        ep.close().await;
        Ok::<_, BoxError>((d, note))
    })?;
    c.finish()?;
    Ok((d, note))
}

async fn bench_endpoint(v: Variant, alpns: Vec<Vec<u8>>) -> Result<Endpoint, BoxError> {
    let ep = Endpoint::builder(presets::Minimal)
        .relay_mode(RelayMode::Disabled)
        .clear_ip_transports()
        .bind_addr("127.0.0.1:0")?
        .transport_config(v.transport())
        .alpns(alpns)
        .bind()
        .await?;
    Ok(ep)
}

fn bytes_env() -> usize {
    std::env::var("XF_NET_BENCH_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Child: receives the bytes over TCP and acknowledges.
pub(crate) fn child_tcp() -> Result<(), BoxError> {
    let bytes = bytes_env();
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

/// Child: receives the bytes over one iroh stream and acknowledges.
pub(crate) fn child_iroh() -> Result<(), BoxError> {
    let bytes = bytes_env();
    let v = Variant::from_env();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let ep = bench_endpoint(v, vec![RAW_ALPN.to_vec()]).await?;
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
        ep.close().await;
        Ok(())
    })
}
