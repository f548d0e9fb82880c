//! Space ids, peer ids and tickets: the strings users pass around to meet in a space.
//!
//! A ticket is `xfs1` followed by the lowercase RFC 4648 base32 (no padding) of:
//!
//! ```text
//! version   u8        1, or 2 when an onion service follows
//! space     [32]      the space id
//! peer      [32]      the node's id (its iroh endpoint public key)
//! n_addrs   u8        direct addresses that follow (at most 16)
//! n_addrs × family u8 (4 or 6)  ip [4 or 16]  port u16 (little-endian)
//! relay_len u8        0 = no relay; else that many bytes of a relay URL (UTF-8)
//! onion     [32]      version 2 only: the node's onion service (its ed25519 identity key)
//! ```
//!
//! Nothing may follow. `docs/net.md` has the same layout with an example.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use super::onion::OnionAddress;

/// The prefix of every ticket string (format version 1).
pub const TICKET_PREFIX: &str = "xfs1";
/// Most direct addresses a ticket carries.
pub const MAX_TICKET_ADDRS: usize = 16;
const TICKET_VERSION: u8 = 1;
/// The version of a ticket that names an onion service.
const TICKET_VERSION_ONION: u8 = 2;

/// A space: a set of feeds that sync together, named by 32 bytes.
///
/// Written as 64 lowercase hex digits. [`SpaceId::from_name`] derives one from a name, so
/// people can agree on a space by name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpaceId(pub [u8; 32]);

impl SpaceId {
    /// The space id derived from a human-readable name (BLAKE3 key derivation, context
    /// `"xaeroflux 2025 space name"`): everyone using the same name meets in the same space.
    pub fn from_name(name: &str) -> SpaceId {
        SpaceId(blake3::derive_key("xaeroflux 2025 space name", name.as_bytes()))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The id of the space's iroh-gossip topic (BLAKE3 key derivation from the space id,
    /// context `"xaeroflux 2025 gossip topic"`), for other implementations joining it.
    pub fn gossip_topic(&self) -> [u8; 32] {
        blake3::derive_key("xaeroflux 2025 gossip topic", &self.0)
    }
}

/// A node on the network: the public key of its iroh endpoint (not the store's author key).
///
/// Written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub [u8; 32]);

impl PeerId {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

fn parse_hex32(s: &str) -> Result<[u8; 32], TicketError> {
    let s = s.trim();
    if s.len() != 64 || !s.is_ascii() {
        return Err(TicketError::BadHex);
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let pair = s.get(2 * i..2 * i + 2).ok_or(TicketError::BadHex)?;
        *o = u8::from_str_radix(pair, 16).map_err(|_| TicketError::BadHex)?;
    }
    Ok(out)
}

macro_rules! hex_id {
    ($t:ident) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "("))?;
                write_hex(f, &self.0[..4])?;
                f.write_str("…)")
            }
        }
        impl FromStr for $t {
            type Err = TicketError;
            fn from_str(s: &str) -> Result<Self, TicketError> {
                parse_hex32(s).map($t)
            }
        }
    };
}
hex_id!(SpaceId);
hex_id!(PeerId);

/// Everything another node needs to join a space and reach this node: the space, the
/// node's id, its direct addresses, (optionally) its relay, and (with the `"tor"` backend)
/// its onion service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// The space to join.
    pub space: SpaceId,
    /// The node to reach.
    pub peer: PeerId,
    /// Its direct addresses (at most [`MAX_TICKET_ADDRS`]).
    pub addrs: Vec<SocketAddr>,
    /// Its relay URL, if it uses one (at most 255 bytes).
    pub relay: Option<String>,
    /// Its onion service, if it runs the `"tor"` backend.
    pub onion: Option<OnionAddress>,
}

/// Why a ticket (or a hex id) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TicketError {
    /// It does not start with [`TICKET_PREFIX`].
    Prefix,
    /// A character outside the base32 alphabet, or bits left over.
    Base32,
    /// The decoded bytes end early.
    Truncated,
    /// A version this build does not read.
    Version(u8),
    /// An address family other than 4 or 6.
    Family(u8),
    /// More than [`MAX_TICKET_ADDRS`] addresses.
    TooManyAddrs(u8),
    /// The relay URL is not UTF-8.
    RelayUtf8,
    /// Bytes after the last field.
    Trailing,
    /// Not 64 hex digits.
    BadHex,
}

impl fmt::Display for TicketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Prefix => write!(f, "a ticket starts with {TICKET_PREFIX:?}"),
            Self::Base32 => f.write_str("the ticket is not valid base32"),
            Self::Truncated => f.write_str("the ticket is truncated"),
            Self::Version(v) => write!(f, "ticket version {v} is not supported"),
            Self::Family(x) => write!(f, "address family {x} is neither 4 nor 6"),
            Self::TooManyAddrs(n) => write!(f, "{n} addresses (at most {MAX_TICKET_ADDRS})"),
            Self::RelayUtf8 => f.write_str("the relay URL is not UTF-8"),
            Self::Trailing => f.write_str("bytes after the end of the ticket"),
            Self::BadHex => f.write_str("expected 64 hex digits"),
        }
    }
}

impl std::error::Error for TicketError {}

impl Ticket {
    /// The binary form (`docs/net.md`, "Ticket format").
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(67 + 19 * self.addrs.len() + 64);
        out.push(if self.onion.is_some() { TICKET_VERSION_ONION } else { TICKET_VERSION });
        out.extend_from_slice(&self.space.0);
        out.extend_from_slice(&self.peer.0);
        encode_addrs(&self.addrs, self.relay.as_deref(), &mut out);
        if let Some(onion) = &self.onion {
            out.extend_from_slice(&onion.0);
        }
        out
    }

    /// Parses the binary form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Ticket, TicketError> {
        let mut r = bytes;
        let version = take(&mut r, 1)?[0];
        if version != TICKET_VERSION && version != TICKET_VERSION_ONION {
            return Err(TicketError::Version(version));
        }
        let space = SpaceId(arr(take(&mut r, 32)?));
        let peer = PeerId(arr(take(&mut r, 32)?));
        let (addrs, relay) = decode_addrs(&mut r)?;
        let onion = (version == TICKET_VERSION_ONION).then(|| take(&mut r, 32).map(|k| OnionAddress(arr(k))));
        let onion = onion.transpose()?;
        if !r.is_empty() {
            return Err(TicketError::Trailing);
        }
        Ok(Ticket { space, peer, addrs, relay, onion })
    }
}

/// Appends the address block of a ticket (also used by gossip announcements): `n_addrs`,
/// the addresses (at most [`MAX_TICKET_ADDRS`]), `relay_len` and the relay URL.
pub(crate) fn encode_addrs(addrs: &[SocketAddr], relay: Option<&str>, out: &mut Vec<u8>) {
    let addrs = &addrs[..addrs.len().min(MAX_TICKET_ADDRS)];
    out.push(addrs.len() as u8);
    for a in addrs {
        match a.ip() {
            IpAddr::V4(ip) => {
                out.push(4);
                out.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                out.push(6);
                out.extend_from_slice(&ip.octets());
            }
        }
        out.extend_from_slice(&a.port().to_le_bytes());
    }
    match relay.filter(|r| !r.is_empty() && r.len() <= 255) {
        Some(r) => {
            out.push(r.len() as u8);
            out.extend_from_slice(r.as_bytes());
        }
        None => out.push(0),
    }
}

/// Reads an address block written by [`encode_addrs`], advancing `r`.
pub(crate) fn decode_addrs(r: &mut &[u8]) -> Result<(Vec<SocketAddr>, Option<String>), TicketError> {
    let n = take(r, 1)?[0];
    if usize::from(n) > MAX_TICKET_ADDRS {
        return Err(TicketError::TooManyAddrs(n));
    }
    let mut addrs = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let family = take(r, 1)?[0];
        let ip = match family {
            4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(take(r, 4)?).map_err(|_| TicketError::Truncated)?)),
            6 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(take(r, 16)?).map_err(|_| TicketError::Truncated)?)),
            x => return Err(TicketError::Family(x)),
        };
        let port = <[u8; 2]>::try_from(take(r, 2)?).map_err(|_| TicketError::Truncated)?;
        addrs.push(SocketAddr::new(ip, u16::from_le_bytes(port)));
    }
    let relay_len = take(r, 1)?[0];
    let relay = if relay_len == 0 {
        None
    } else {
        let b = take(r, usize::from(relay_len))?;
        Some(std::str::from_utf8(b).map_err(|_| TicketError::RelayUtf8)?.to_string())
    };
    Ok((addrs, relay))
}

/// Takes the next `n` bytes of `r`, advancing it.
pub(crate) fn take<'a>(r: &mut &'a [u8], n: usize) -> Result<&'a [u8], TicketError> {
    if r.len() < n {
        return Err(TicketError::Truncated);
    }
    let (head, rest) = r.split_at(n);
    *r = rest;
    Ok(head)
}

fn arr(b: &[u8]) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(b);
    a
}

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(TICKET_PREFIX)?;
        f.write_str(&base32::encode(&self.to_bytes()))
    }
}

impl FromStr for Ticket {
    type Err = TicketError;
    fn from_str(s: &str) -> Result<Ticket, TicketError> {
        let body = s.trim().strip_prefix(TICKET_PREFIX).ok_or(TicketError::Prefix)?;
        Ticket::from_bytes(&base32::decode(body)?)
    }
}

/// Lowercase RFC 4648 base32 without padding.
pub(crate) mod base32 {
    use super::TicketError;

    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

    pub(crate) fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
        let (mut acc, mut bits) = (0u32, 0u32);
        for &b in bytes {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
            }
            acc &= (1 << bits) - 1;
        }
        if bits > 0 {
            out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
        }
        out
    }

    pub(crate) fn decode(s: &str) -> Result<Vec<u8>, TicketError> {
        let mut out = Vec::with_capacity(s.len() * 5 / 8);
        let (mut acc, mut bits) = (0u32, 0u32);
        for c in s.bytes() {
            let v = match c {
                b'a'..=b'z' => c - b'a',
                b'A'..=b'Z' => c - b'A',
                b'2'..=b'7' => c - b'2' + 26,
                _ => return Err(TicketError::Base32),
            };
            acc = (acc << 5) | u32::from(v);
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        // Leftover bits must be zero padding of the last character (fewer than 5 of them).
        if bits >= 5 || acc != 0 {
            return Err(TicketError::Base32);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::new(IpAddr::V4(ip.into()), p)),
            (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::new(IpAddr::V6(ip.into()), p)),
        ]
    }

    proptest! {
        #[test]
        fn any_ticket_round_trips(
            space in any::<[u8; 32]>(),
            peer in any::<[u8; 32]>(),
            addrs in proptest::collection::vec(addr(), 0..=MAX_TICKET_ADDRS),
            relay in proptest::option::of("[a-z:/.0-9]{1,255}"),
            onion in proptest::option::of(any::<[u8; 32]>()),
        ) {
            let t = Ticket { space: SpaceId(space), peer: PeerId(peer), addrs, relay, onion: onion.map(OnionAddress) };
            prop_assert_eq!(t.to_string().parse::<Ticket>().unwrap(), t.clone());
            prop_assert_eq!(Ticket::from_bytes(&t.to_bytes()).unwrap(), t);
        }

        #[test]
        fn random_bytes_and_text_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), text in ".{0,200}") {
            let _ = Ticket::from_bytes(&bytes);
            let _ = text.parse::<Ticket>();
            let _ = format!("xfs1{text}").parse::<Ticket>();
        }
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        // RFC 4648 section 10, lowercased, without padding.
        let cases = [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ];
        for (plain, enc) in cases {
            assert_eq!(base32::encode(plain.as_bytes()), enc);
            assert_eq!(base32::decode(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32::decode("mz"), Err(TicketError::Base32), "non-zero leftover bits");
        assert_eq!(base32::decode("m1"), Err(TicketError::Base32));
    }

    #[test]
    fn ticket_round_trips_and_rejects_garbage() {
        let t = Ticket {
            space: SpaceId::from_name("demo"),
            peer: PeerId([7; 32]),
            addrs: vec!["127.0.0.1:4433".parse().unwrap(), "[::1]:9".parse().unwrap()],
            relay: Some("http://127.0.0.1:3340".into()),
            onion: None,
        };
        let s = t.to_string();
        assert!(s.starts_with(TICKET_PREFIX));
        assert_eq!(s.parse::<Ticket>().unwrap(), t);
        assert_eq!(s.to_uppercase().replace("XFS1", "xfs1").parse::<Ticket>().unwrap(), t);
        let bytes = t.to_bytes();
        for cut in 0..bytes.len() {
            assert!(Ticket::from_bytes(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(Ticket::from_bytes(&extra), Err(TicketError::Trailing));
        let mut v3 = bytes.clone();
        v3[0] = 3;
        assert_eq!(Ticket::from_bytes(&v3), Err(TicketError::Version(3)));
        // Version 2 needs the 32 bytes of an onion service after the relay.
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert_eq!(Ticket::from_bytes(&v2), Err(TicketError::Truncated));
        v2.extend_from_slice(&[9; 32]);
        let with_onion = Ticket { onion: Some(OnionAddress([9; 32])), ..t.clone() };
        assert_eq!(Ticket::from_bytes(&v2), Ok(with_onion.clone()));
        assert_eq!(with_onion.to_bytes(), v2);
        assert_eq!("xyz".parse::<Ticket>(), Err(TicketError::Prefix));
    }

    #[test]
    fn the_documented_example() {
        // docs/net.md, "Ticket format".
        let t = Ticket {
            space: SpaceId::from_name("demo"),
            peer: PeerId([7; 32]),
            addrs: vec!["127.0.0.1:4433".parse().unwrap()],
            relay: None,
            onion: None,
        };
        let b = t.to_bytes();
        assert_eq!(b.len(), 74);
        assert_eq!(b[0], 1);
        assert_eq!(&b[1..33], &t.space.0);
        assert_eq!(&b[33..65], &[7u8; 32]);
        assert_eq!(&b[65..], &[0x01, 0x04, 0x7f, 0x00, 0x00, 0x01, 0x51, 0x11, 0x00]);
        assert_eq!(t.to_string().len(), 4 + 119);
    }

    #[test]
    fn hex_ids_round_trip() {
        let s = SpaceId::from_name("x");
        assert_eq!(s.to_string().parse::<SpaceId>().unwrap(), s);
        assert_eq!("00".parse::<PeerId>(), Err(TicketError::BadHex));
        assert_ne!(SpaceId::from_name("a"), SpaceId::from_name("b"));
    }
}
