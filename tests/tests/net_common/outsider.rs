//! An outsider on the network tests' loopback: an iroh endpoint of its own, announcements
//! written by hand as `docs/net.md` lays them out, and gossip sent from that endpoint.

use std::time::{Duration, Instant};

use iroh::endpoint::presets;
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMode};
use xaeroflux::net::{Ticket, XSP_ALPN};
use xaeroflux_core::SignedHead;
use xaeroflux_core::xsp::{Config, FeedSource, Role, Session};

/// An iroh endpoint on 127.0.0.1 (no relay, no discovery) accepting `alpns`.
pub async fn loopback_endpoint(alpns: Vec<Vec<u8>>) -> Endpoint {
    Endpoint::builder(presets::Minimal)
        .relay_mode(RelayMode::Disabled)
        .clear_ip_transports()
        .bind_addr("127.0.0.1:0")
        .unwrap()
        .alpns(alpns)
        .bind()
        .await
        .unwrap()
}

/// An announcement as `docs/net.md` lays it out: version 2, `origin`, `incarnation`, `addrs`,
/// no relay, one head, signed with `key` over the context, the topic and the body.
pub fn announcement(
    origin: &[u8; 32],
    incarnation: u64,
    addrs: &[std::net::SocketAddr],
    head: &SignedHead,
    topic: &[u8; 32],
    key: &iroh::SecretKey,
) -> Vec<u8> {
    let mut m = vec![2u8];
    m.extend_from_slice(origin);
    m.extend_from_slice(&incarnation.to_le_bytes());
    m.push(addrs.len() as u8);
    for a in addrs {
        match a.ip() {
            std::net::IpAddr::V4(ip) => {
                m.push(4);
                m.extend_from_slice(&ip.octets());
            }
            std::net::IpAddr::V6(ip) => {
                m.push(6);
                m.extend_from_slice(&ip.octets());
            }
        }
        m.extend_from_slice(&a.port().to_le_bytes());
    }
    m.push(0); // no relay
    m.push(1); // one head
    m.extend_from_slice(&head.author.0);
    let mut len = head.length;
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            m.push(b);
            break;
        }
        m.push(b | 0x80);
    }
    m.extend_from_slice(&head.root.0);
    m.extend_from_slice(&head.signature);
    let mut signed = b"xaeroflux 2026 gossip announcement".to_vec();
    signed.extend_from_slice(topic);
    signed.extend_from_slice(&m);
    m.extend_from_slice(&key.sign(&signed).to_bytes());
    m
}

/// Joins `space`'s gossip topic through node `to` (a ticket of it) with an endpoint of its
/// own, broadcasts `messages(own endpoint)`, and leaves.
pub fn gossip_from_outsider(to: &Ticket, messages: impl FnOnce(&Endpoint) -> Vec<Vec<u8>>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let lookup = iroh::address_lookup::memory::MemoryLookup::new();
        let to_id = EndpointId::from_bytes(&to.peer.0).unwrap();
        lookup.add_endpoint_info(to.addrs.iter().fold(EndpointAddr::new(to_id), |x, s| x.with_ip_addr(*s)));
        let ep = loopback_endpoint(Vec::new()).await;
        ep.address_lookup().unwrap().add(lookup);
        let gossip = iroh_gossip::Gossip::builder().spawn(ep.clone());
        let router = iroh::protocol::Router::builder(ep.clone()).accept(iroh_gossip::ALPN, gossip.clone()).spawn();
        let topic = iroh_gossip::TopicId::from_bytes(to.space.gossip_topic());
        let mut sub = gossip.subscribe_and_join(topic, vec![to_id]).await.unwrap();
        for m in messages(&ep) {
            sub.broadcast(m.into()).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        router.shutdown().await.unwrap();
    });
}

/// Connects to the ticket's node as an XSP initiator with `config`, serving `source` (a
/// session of `xaeroflux_core` driven by hand), until the session closes or `limit` passes.
pub fn serve_session(ticket: &Ticket, config: Config, source: impl FeedSource, limit: Duration) {
    serve_session_with(ticket, config, source, limit, Quirks::default());
}

/// How a hand-driven peer of [`serve_session_with`] misbehaves.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quirks {
    /// After this long, the session neither reads nor answers, while the connection stays up
    /// (a peer gone to sleep, or a hostile one).
    pub mute_after: Option<Duration>,
    /// Each piece of input is handled this much later (a slow or far peer).
    pub delay: Duration,
}

/// [`serve_session`] with `quirks`.
pub fn serve_session_with(ticket: &Ticket, config: Config, source: impl FeedSource, limit: Duration, quirks: Quirks) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let ep = loopback_endpoint(Vec::new()).await;
        let id = EndpointId::from_bytes(&ticket.peer.0).unwrap();
        let addr = ticket.addrs.iter().fold(EndpointAddr::new(id), |a, s| a.with_ip_addr(*s));
        let conn = ep.connect(addr, XSP_ALPN).await.unwrap();
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        let start = Instant::now();
        let now = || start.elapsed().as_micros() as u64;
        let mut session = Session::new(config, Role::Initiator, now(), source);
        let (mut rbuf, mut out) = (vec![0u8; 65536], vec![0u8; 65536]);
        while !session.is_closed() && start.elapsed() < limit {
            if quirks.mute_after.is_some_and(|m| start.elapsed() >= m) {
                tokio::time::sleep(limit.saturating_sub(start.elapsed())).await;
                break;
            }
            while let Some(n) = session.poll_transmit(&mut out) {
                if send.write_all(&out[..n]).await.is_err() {
                    return;
                }
            }
            while session.poll_event().is_some() {}
            tokio::select! {
                r = recv.read(&mut rbuf) => match r {
                    Ok(Some(n)) => {
                        tokio::time::sleep(quirks.delay).await;
                        session.handle_input(now(), &rbuf[..n]);
                    }
                    _ => break,
                },
                _ = tokio::time::sleep(Duration::from_millis(50)) => session.handle_timeout(now()),
            }
        }
        while let Some(n) = session.poll_transmit(&mut out) {
            let _ = send.write_all(&out[..n]).await;
        }
        let _ = send.finish();
        conn.close(0u32.into(), b"");
        ep.close().await;
    });
}
