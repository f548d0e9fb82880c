//! A diagnostic row: the XSP protocol alone over the same iroh stream setting, with an
//! in-memory store (`memstore::MemStore`) on both ends, so no disk is involved. The receiver
//! still verifies everything and stores it in memory. Comparing it with the full sync shows
//! what the protocol and its verification cost over the network, and what durable storage adds.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use iroh::endpoint::{RecvStream, SendStream, presets};
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMode};
use xaeroflux::net::{NetConfig, XSP_ALPN, quic_transport_config};
use xaeroflux::xaeroflux_core::AuthorKey;
use xaeroflux::xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux::xaeroflux_core::page::PageConfig;
use xaeroflux::xaeroflux_core::xsp::{Config, Event, FeedSource, Role, Session};

use crate::{BoxError, RECORD, child, raw};

const PAGE: u32 = 16 * 1024;
const SPACE: [u8; 32] = [0x42; 32];

async fn endpoint(alpns: Vec<Vec<u8>>) -> Result<Endpoint, BoxError> {
    Ok(Endpoint::builder(presets::Minimal)
        .relay_mode(RelayMode::Disabled)
        .clear_ip_transports()
        .bind_addr("127.0.0.1:0")?
        .transport_config(quic_transport_config(&NetConfig::default()))
        .alpns(alpns)
        .bind()
        .await?)
}

/// Runs `session` over the stream until `done` holds or it closes, reading and writing at
/// once; every verified batch is stored in `store` first.
async fn drive<S: FeedSource>(
    session: &mut Session<S>,
    send: &mut SendStream,
    recv: &mut RecvStream,
    mut on_event: impl FnMut(&mut Session<S>, Event),
    done: impl Fn(&Session<S>) -> bool,
) -> Result<(), BoxError> {
    let start = Instant::now();
    let now = || start.elapsed().as_micros() as u64;
    let (mut rbuf, mut out) = (vec![0u8; 64 * 1024], vec![0u8; 256 * 1024]);
    let (mut pos, mut len) = (0, 0);
    loop {
        while let Some(ev) = session.poll_event() {
            on_event(session, ev);
        }
        if done(session) || session.is_closed() {
            return Ok(());
        }
        if pos == len {
            (pos, len) = (0, session.poll_transmit(&mut out).unwrap_or(0));
        }
        tokio::select! {
            r = send.write(&out[pos..len]), if pos < len => pos += r?,
            r = recv.read(&mut rbuf) => match r? {
                Some(n) => session.handle_input(now(), &rbuf[..n]),
                None => return Ok(()),
            },
            _ = tokio::time::sleep(Duration::from_millis(100)) => session.handle_timeout(now()),
        }
    }
}

/// Time for a fresh in-memory replica to hold the `records` events.
pub(crate) fn run(records: usize) -> Result<Duration, BoxError> {
    let c = child::spawn("xsp-mem-serve", &[("XF_NET_BENCH_RECORDS", records.to_string())])?;
    let mut parts = c.line.split_whitespace();
    let id: EndpointId = parts.next().ok_or("no id")?.parse()?;
    let addr: SocketAddr = parts.next().ok_or("no addr")?.parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let d = rt.block_on(async move {
        let ep = endpoint(vec![]).await?;
        let conn = ep.connect(EndpointAddr::new(id).with_ip_addr(addr), XSP_ALPN).await?;
        let t = Instant::now();
        let (mut send, mut recv) = conn.open_bi().await?;
        let config = Config::new(SPACE).with_page_size(PAGE)?.with_live(false);
        // The session reads its (empty) source only at the start; batches go to `store`.
        let mut store = MemStore::replica(PageConfig::new(PAGE)?);
        let mut session = Session::new(config, Role::Initiator, 0, MemStore::replica(PageConfig::new(PAGE)?));
        let held = std::cell::Cell::new(0u64);
        let mut stored_err = None;
        drive(
            &mut session,
            &mut send,
            &mut recv,
            |_, ev| {
                if let Event::Verified(b) = ev {
                    match store.store_batch(&b) {
                        Ok(s) => held.set(held.get().max(s.seqs.end)),
                        Err(e) => stored_err = Some(e),
                    }
                }
            },
            |_| held.get() >= records as u64,
        )
        .await?;
        let d = t.elapsed();
        if let Some(e) = stored_err {
            return Err(format!("store_batch: {e}").into());
        }
        if held.get() < records as u64 {
            return Err(format!("protocol-only sync stopped at {}", held.get()).into());
        }
        let _ = send.finish();
        conn.close(0u32.into(), b"done");
        ep.close().await;
        Ok::<_, BoxError>(d)
    })?;
    c.finish()?;
    Ok(d)
}

/// Child: an in-memory store with the records, serving one XSP session.
pub(crate) fn child_serve() -> Result<(), BoxError> {
    let records: usize = std::env::var("XF_NET_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let mut store = MemStore::new(AuthorKey::from_secret_bytes(&[9; 32]), PageConfig::new(PAGE)?);
    let data = raw::payload(records);
    for chunk in data.chunks(RECORD * 1000) {
        store.append_batch(chunk.chunks(RECORD).map(|p| NewEvent::new(1_700_000_000_000_000, p)))?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    rt.block_on(async move {
        let ep = endpoint(vec![XSP_ALPN.to_vec()]).await?;
        let addr = ep.bound_sockets().into_iter().next().ok_or("no socket")?;
        println!("{} {}", ep.id(), addr);
        std::io::stdout().flush()?;
        let conn = ep.accept().await.ok_or("endpoint closed")?.await?;
        let (mut send, mut recv) = conn.accept_bi().await?;
        let config = Config::new(SPACE).with_page_size(PAGE)?.with_live(false);
        let mut session = Session::new(config, Role::Responder, 0, store);
        // The fetcher measures and closes the connection once it holds everything, possibly
        // before this side saw the end of the session: a lost connection is the normal end.
        let _ = drive(&mut session, &mut send, &mut recv, |_, _| {}, |_| false).await;
        let _ = send.finish();
        conn.closed().await;
        ep.close().await;
        Ok(())
    })
}
