//! The iroh endpoint: key, transport settings, relay, address lookup.

use std::net::SocketAddr;

use iroh::address_lookup::memory::MemoryLookup;
use iroh::endpoint::{MtuDiscoveryConfig, QuicTransportConfig, presets};
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMap, RelayMode, RelayUrl, SecretKey};

use super::config::{NetConfig, NetError};
use super::ticket::{MAX_TICKET_ADDRS, PeerId};

/// The ALPN of XSP version 1 over QUIC: one bidirectional stream per space.
pub const XSP_ALPN: &[u8] = b"xaeroflux/xsp/1";

/// The largest UDP payload noq (iroh's QUIC) sends: its endpoint default, which iroh 1.4 does
/// not let us raise. MTU discovery searches up to it.
const MAX_UDP_PAYLOAD: u16 = 1472;

/// The QUIC transport settings the sync's endpoint uses for `cfg` (see `docs/net.md`,
/// "Transport"): segmentation offload as configured, MTU discovery up to 1472 bytes. Public so
/// the network benchmark measures its raw-stream floor with the very same setting.
#[doc(hidden)]
pub fn quic_transport_config(cfg: &NetConfig) -> QuicTransportConfig {
    let mut mtu = MtuDiscoveryConfig::default();
    mtu.upper_bound(MAX_UDP_PAYLOAD);
    QuicTransportConfig::builder()
        .enable_segmentation_offload(cfg.segmentation_offload)
        .mtu_discovery_config(Some(mtu))
        .build()
}

/// Binds the endpoint at `addr`, with the settings of `cfg`. No DNS or discovery service is
/// used: peers are found through the memory lookup (filled from tickets) and through gossip.
pub(crate) async fn bind(
    cfg: &NetConfig,
    addr: SocketAddr,
    key: [u8; 32],
    lookup: &MemoryLookup,
) -> Result<Endpoint, NetError> {
    let relay_mode = match &cfg.relay_url {
        None => RelayMode::Disabled,
        Some(u) => {
            let url: RelayUrl = u.parse().map_err(|_| NetError::BadRelayUrl(u.clone()))?;
            RelayMode::Custom(RelayMap::from(url))
        }
    };
    let ep = Endpoint::builder(presets::Minimal)
        .secret_key(SecretKey::from_bytes(&key))
        .relay_mode(relay_mode)
        .clear_ip_transports()
        .bind_addr(addr)
        .map_err(|e| NetError::Endpoint(Box::new(e)))?
        .transport_config(quic_transport_config(cfg))
        .bind()
        .await
        .map_err(|e| NetError::Endpoint(Box::new(e)))?;
    ep.address_lookup().map_err(|e| NetError::Endpoint(Box::new(e)))?.add(lookup.clone());
    Ok(ep)
}

pub(crate) fn peer_id(id: EndpointId) -> PeerId {
    PeerId(*id.as_bytes())
}

pub(crate) fn endpoint_id(peer: &PeerId) -> Option<EndpointId> {
    EndpointId::from_bytes(&peer.0).ok()
}

/// The direct addresses (and relay) this endpoint can be reached at.
pub(crate) fn own_addrs(ep: &Endpoint) -> (Vec<SocketAddr>, Option<String>) {
    let addr = ep.addr();
    let mut addrs: Vec<SocketAddr> = addr.ip_addrs().copied().collect();
    if addrs.is_empty() {
        addrs = ep.bound_sockets();
    }
    addrs.sort_by_key(|a| (!a.ip().is_loopback(), a.is_ipv6()));
    addrs.truncate(MAX_TICKET_ADDRS);
    (addrs, addr.relay_urls().next().map(|u| u.to_string()))
}

/// Remembers how to reach `peer`.
pub(crate) fn add_peer_addrs(lookup: &MemoryLookup, peer: EndpointId, addrs: &[SocketAddr], relay: Option<&str>) {
    let mut a = EndpointAddr::new(peer);
    for s in addrs {
        a = a.with_ip_addr(*s);
    }
    if let Some(r) = relay.and_then(|r| r.parse::<RelayUrl>().ok()) {
        a = a.with_relay_url(r);
    }
    lookup.add_endpoint_info(a);
}
