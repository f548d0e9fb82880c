//! Live heads over iroh-gossip: one topic per space, on which every node announces the
//! signed heads of the feeds it holds as they change.
//!
//! A node that hears of a head longer than what it holds opens an XSP session with the node
//! that announced it (or, failing that, with the neighbour that relayed it) and catches up.
//! Sessions are also kept with the gossip neighbours (the node with the smaller id dials), so
//! live appends travel as XSP pushes along the gossip mesh; the announcements make sure a node
//! that is not a neighbour still learns of every head.
//!
//! Announcements also carry how to reach their origin, and each node remembers the last
//! [`MAX_KNOWN`] origins it heard of: when a node loses its last gossip neighbour (the peer that
//! introduced it left, say) it rejoins the topic through them, so a space stays connected
//! however the random membership of the gossip layer turned out.
//!
//! An announcement also names its origin's incarnation and is signed with the origin's node
//! key, so no one else can speak for the origin: a node that hears a later incarnation of a
//! peer than its session with that peer learned knows the session is dead, even if the
//! restarted peer never dials it ([`NetInner::peer_restarted`]).
//!
//! Announcement (at most 4096 bytes, the gossip message limit):
//!
//! ```text
//! version      u8      2
//! origin       [32]    id of the node that holds the feeds (may differ from the relaying one)
//! incarnation  u64 LE  the origin's incarnation (its start time in µs; later runs name more)
//! addrs                the origin's direct addresses and relay, as in a ticket (docs/net.md)
//! count        varint  1 ..= 20
//! count × signed head, encoded as a HEADS entry of docs/xsp.md (author, length, root, signature)
//! signature    [64]    ed25519 by the origin's node key over
//!                      SIGNING_CONTEXT ‖ gossip topic ‖ every byte above
//! ```
//!
//! [`NetInner::peer_restarted`]: super::node::NetInner::peer_restarted

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use iroh::{PublicKey, SecretKey, Signature};
use iroh_gossip::TopicId;
use iroh_gossip::api::{Event as GossipEvent, GossipSender};
use n0_future::StreamExt as _;
use tokio::sync::{broadcast, watch};
use xaeroflux_core::xsp::message::HeadList;
use xaeroflux_core::xsp::varint;
use xaeroflux_core::{AuthorId, SignedHead};

use super::endpoint;
use super::node::NetInner;
use super::peer_book::PeerEntry;
use super::status::SyncEvent;
use super::ticket::{PeerId, SpaceId, decode_addrs, encode_addrs};

pub(crate) const ANNOUNCE_VERSION: u8 = 2;
/// What an announcement's signature covers first, so it cannot stand for any other message.
const SIGNING_CONTEXT: &[u8] = b"xaeroflux 2026 gossip announcement";
/// Bytes of the signature that ends an announcement.
const SIGNATURE_LEN: usize = 64;
/// Heads per announcement (each is at most 138 bytes; the address block at most 562).
pub(crate) const MAX_HEADS: usize = 20;
/// Origins remembered per space, to rejoin through when no neighbour is left.
pub(crate) const MAX_KNOWN: usize = 32;
/// Changes are gathered this long before they are announced.
const DEBOUNCE: Duration = Duration::from_millis(20);

/// The gossip topic of a space: a key derived from the space id, so the topic says nothing
/// of the id to those who do not know it.
pub(crate) fn topic(space: &SpaceId) -> TopicId {
    TopicId::from_bytes(space.gossip_topic())
}

/// Who announces, and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) peer: PeerId,
    pub(crate) incarnation: u64,
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) relay: Option<String>,
}

/// The bytes an announcement's signature covers: the context, the topic, then `body`.
fn signed_bytes(topic: &TopicId, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_CONTEXT.len() + 32 + body.len());
    m.extend_from_slice(SIGNING_CONTEXT);
    m.extend_from_slice(topic.as_bytes());
    m.extend_from_slice(body);
    m
}

/// Encodes announcements of `heads` from `origin` on `topic`, at most [`MAX_HEADS`] per
/// message, each signed with `key` (the origin's node key).
pub(crate) fn encode(origin: &Origin, heads: &[SignedHead], topic: &TopicId, key: &SecretKey) -> Vec<Vec<u8>> {
    heads
        .chunks(MAX_HEADS)
        .map(|chunk| {
            let mut out = Vec::with_capacity(700 + chunk.len() * 138);
            out.push(ANNOUNCE_VERSION);
            out.extend_from_slice(&origin.peer.0);
            out.extend_from_slice(&origin.incarnation.to_le_bytes());
            encode_addrs(&origin.addrs, origin.relay.as_deref(), &mut out);
            varint::push(&mut out, chunk.len() as u64);
            HeadList::encode_entries(chunk, &mut out);
            sign(&out, topic, key)
        })
        .collect()
}

/// An announcement made of `body`: the body, then `key`'s signature over it on `topic`.
pub(crate) fn sign(body: &[u8], topic: &TopicId, key: &SecretKey) -> Vec<u8> {
    let signature = key.sign(&signed_bytes(topic, body));
    let mut out = Vec::with_capacity(body.len() + SIGNATURE_LEN);
    out.extend_from_slice(body);
    out.extend_from_slice(&signature.to_bytes());
    out
}

/// Decodes an announcement heard on `topic`: its origin and heads, if it decodes and its
/// origin signed it (the heads' own signatures are not checked yet).
pub(crate) fn decode(msg: &[u8], topic: &TopicId) -> Option<(Origin, Vec<SignedHead>)> {
    let body = msg.get(..msg.len().checked_sub(SIGNATURE_LEN)?)?;
    let signature: &[u8; SIGNATURE_LEN] = msg.get(body.len()..)?.try_into().ok()?;
    let (&version, rest) = body.split_first()?;
    if version != ANNOUNCE_VERSION {
        return None;
    }
    let peer = PeerId(rest.get(..32)?.try_into().ok()?);
    let incarnation = u64::from_le_bytes(rest.get(32..40)?.try_into().ok()?);
    let mut rest = rest.get(40..)?;
    let (addrs, relay) = decode_addrs(&mut rest).ok()?;
    let (count, used) = varint::decode(rest).ok()?;
    let count = usize::try_from(count).ok().filter(|c| (1..=MAX_HEADS).contains(c))?;
    let list = HeadList::from_encoded(count, rest.get(used..)?).ok()?;
    let key = PublicKey::from_bytes(&peer.0).ok()?;
    key.verify(&signed_bytes(topic, body), &Signature::from_bytes(signature)).ok()?;
    Some((Origin { peer, incarnation, addrs, relay }, list.iter().collect()))
}

/// The gossip loop of one space, until it is left or sync stops.
pub(crate) async fn run_space(
    inner: Arc<NetInner>,
    space: SpaceId,
    bootstrap: Vec<PeerId>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(gossip) = inner.gossip.clone() else { return };
    let ids: Vec<_> = bootstrap.iter().filter_map(endpoint::endpoint_id).collect();
    let Ok(topic) = gossip.subscribe(topic(&space), ids).await else { return };
    let (sender, mut receiver) = topic.split();
    inner.set_space_gossip(&space, sender.clone());
    let mut changed = inner.changed.subscribe();
    let mut shutdown = inner.shutdown.subscribe();
    let mut tick = tokio::time::interval(inner.cfg.announce_interval);
    let mut pending: BTreeSet<AuthorId> = inner.all_authors().into_iter().collect();
    let mut due: Option<tokio::time::Instant> = Some(tokio::time::Instant::now());
    let mut neighbours: HashSet<PeerId> = HashSet::new();
    let mut known = Known::default();
    for p in bootstrap {
        known.saw(p);
    }
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = shutdown.changed() => break,
            ev = receiver.next() => match ev {
                Some(Ok(GossipEvent::Received(msg))) => {
                    let from = endpoint::peer_id(msg.delivered_from);
                    if let Some(origin) = on_announcement(&inner, space, from, &msg.content) {
                        known.saw(origin);
                    }
                }
                Some(Ok(GossipEvent::NeighborUp(id))) => {
                    let peer = endpoint::peer_id(id);
                    neighbours.insert(peer);
                    known.saw(peer);
                    if inner.id < peer {
                        inner.ensure_session(space, peer);
                    }
                    // A new neighbour learns our heads now rather than at the next tick.
                    pending.extend(inner.all_authors());
                    due.get_or_insert_with(|| tokio::time::Instant::now() + DEBOUNCE);
                }
                Some(Ok(GossipEvent::NeighborDown(id))) => {
                    let peer = endpoint::peer_id(id);
                    neighbours.remove(&peer);
                    // It left (or is unreachable): rejoin through others first.
                    known.seen.remove(&peer);
                    if neighbours.is_empty() {
                        rejoin(&sender, &known, inner.id).await;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            r = changed.recv() => {
                match r {
                    Ok(a) => { pending.insert(a); }
                    Err(broadcast::error::RecvError::Lagged(_)) => pending.extend(inner.all_authors()),
                    Err(broadcast::error::RecvError::Closed) => break,
                }
                due.get_or_insert_with(|| tokio::time::Instant::now() + DEBOUNCE);
            }
            _ = tick.tick() => {
                inner.save_book_soon();
                pending.insert(inner.core.author());
                due.get_or_insert_with(tokio::time::Instant::now);
                if neighbours.is_empty() {
                    rejoin(&sender, &known, inner.id).await;
                }
            }
            _ = sleep_until(due), if due.is_some() => {
                due = None;
                announce(&inner, &space, &sender, std::mem::take(&mut pending)).await;
            }
        }
    }
}

/// The origins heard of most recently in a space (at most [`MAX_KNOWN`]).
#[derive(Default)]
struct Known {
    seen: HashMap<PeerId, u64>,
    clock: u64,
}

impl Known {
    fn saw(&mut self, peer: PeerId) {
        self.clock += 1;
        self.seen.insert(peer, self.clock);
        if self.seen.len() > MAX_KNOWN
            && let Some(oldest) = self.seen.iter().min_by_key(|(_, t)| **t).map(|(p, _)| *p)
        {
            self.seen.remove(&oldest);
        }
    }

    /// The most recently heard of, newest first.
    fn recent(&self, n: usize, except: PeerId) -> Vec<PeerId> {
        let mut v: Vec<_> = self.seen.iter().filter(|(p, _)| **p != except).map(|(p, t)| (*t, *p)).collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.into_iter().take(n).map(|(_, p)| p).collect()
    }
}

/// With no gossip neighbour left, asks the gossip layer to join through known origins.
async fn rejoin(sender: &GossipSender, known: &Known, me: PeerId) {
    let ids: Vec<_> = known.recent(5, me).iter().filter_map(endpoint::endpoint_id).collect();
    if !ids.is_empty() {
        let _ = sender.join_peers(ids).await;
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn announce(inner: &NetInner, space: &SpaceId, sender: &GossipSender, authors: BTreeSet<AuthorId>) {
    let heads: Vec<SignedHead> = authors
        .iter()
        .filter(|a| !inner.forked.contains(a))
        .filter_map(|a| inner.core.feed_head(a))
        .filter(|h| h.length > 0)
        .collect();
    let (addrs, relay) = endpoint::own_addrs(&inner.endpoint);
    let origin = Origin { peer: inner.id, incarnation: inner.incarnation, addrs, relay };
    for msg in encode(&origin, &heads, &topic(space), inner.endpoint.secret_key()) {
        let _ = sender.broadcast(msg.into()).await;
    }
}

/// Checks an announcement, remembers how to reach its origin, redials the origin at once if
/// it restarted since our sessions with it began, and starts catching up with the origin if
/// it has more. Returns the origin of a valid announcement.
fn on_announcement(inner: &Arc<NetInner>, space: SpaceId, from: PeerId, msg: &[u8]) -> Option<PeerId> {
    let Some((origin, heads)) = decode(msg, &topic(&space)) else {
        inner.emit(SyncEvent::BadAnnouncement { space, from });
        return None;
    };
    if heads.iter().any(|h| h.verify().is_err()) {
        inner.emit(SyncEvent::BadAnnouncement { space, from });
        return None;
    }
    let origin_id = origin.peer;
    if origin_id != inner.id {
        inner.met(space, PeerEntry { peer: origin_id, addrs: origin.addrs, relay: origin.relay, onion: None });
        for s in inner.peer_restarted(&origin_id, origin.incarnation) {
            inner.ensure_session(s, origin_id);
        }
    }
    let newer = heads.iter().any(|h| inner.fetches(&h.author) && h.length > inner.core.feed_len(&h.author));
    if newer {
        let peer = if origin_id == inner.id { from } else { origin_id };
        inner.ensure_session(space, peer);
    }
    (origin_id != inner.id).then_some(origin_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use xaeroflux_core::AuthorKey;

    const TOPIC: TopicId = TopicId::from_bytes([7; 32]);

    fn node_key() -> SecretKey {
        SecretKey::from_bytes(&[5; 32])
    }

    fn origin() -> Origin {
        Origin {
            peer: PeerId(*node_key().public().as_bytes()),
            incarnation: 1_764_979_200_000_000,
            addrs: vec!["127.0.0.1:9".parse().unwrap(), "[::1]:10".parse().unwrap()],
            relay: Some("http://127.0.0.1:3340".into()),
        }
    }

    fn heads(n: u64) -> Vec<SignedHead> {
        (0..n)
            .map(|i| {
                AuthorKey::from_secret_bytes(&[i as u8 + 1; 32])
                    .sign_head(i * 1000, xaeroflux_core::Hash([i as u8; 32]))
            })
            .collect()
    }

    proptest! {
        #[test]
        fn random_announcements_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = decode(&bytes, &TOPIC);
            let mut m = vec![ANNOUNCE_VERSION];
            m.extend_from_slice(&bytes);
            let _ = decode(&m, &TOPIC);
        }

        /// Any flipped bit of a signed announcement makes it refused.
        #[test]
        fn a_flipped_bit_anywhere_is_refused(bit in 0usize..8 * 1024) {
            let m = &encode(&origin(), &heads(3), &TOPIC, &node_key())[0];
            let mut bad = m.clone();
            let bit = bit % (8 * m.len());
            bad[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(decode(&bad, &TOPIC).is_none());
        }
    }

    #[test]
    fn announcements_round_trip_in_chunks_and_reject_garbage() {
        let heads = heads(60);
        let origin = origin();
        let msgs = encode(&origin, &heads, &TOPIC, &node_key());
        assert_eq!(msgs.len(), 3);
        assert!(msgs.iter().all(|m| m.len() <= 4096));
        let back: Vec<SignedHead> = msgs.iter().flat_map(|m| decode(m, &TOPIC).unwrap().1).collect();
        assert_eq!(back, heads);
        assert_eq!(decode(&msgs[0], &TOPIC).unwrap().0, origin);
        let m = &msgs[0];
        for cut in 0..m.len() {
            assert!(decode(&m[..cut], &TOPIC).is_none(), "cut at {cut}");
        }
        let mut bad = m.clone();
        bad[0] = 1;
        assert!(decode(&bad, &TOPIC).is_none(), "another version");
        let mut extra = m.clone();
        extra.push(0);
        assert!(decode(&extra, &TOPIC).is_none(), "a byte after the signature");
        assert_ne!(topic(&SpaceId([1; 32])), topic(&SpaceId([2; 32])));
    }

    #[test]
    fn only_the_origin_can_sign_an_announcement_for_one_topic() {
        let m = &encode(&origin(), &heads(2), &TOPIC, &node_key())[0];
        // Heard on another topic (replayed into another space): refused.
        assert!(decode(m, &TopicId::from_bytes([8; 32])).is_none());
        // Another node claiming to be the origin: its signature does not verify.
        let forged = &encode(&origin(), &heads(2), &TOPIC, &SecretKey::from_bytes(&[6; 32]))[0];
        assert!(decode(forged, &TOPIC).is_none());
        // The largest announcement still fits the gossip message limit.
        let full = Origin {
            addrs: (0..16).map(|i| format!("[::1]:{i}").parse().unwrap()).collect(),
            relay: Some("x".repeat(255)),
            ..origin()
        };
        let long_heads: Vec<SignedHead> = heads(MAX_HEADS as u64)
            .into_iter()
            .map(|h| AuthorKey::from_secret_bytes(&[9; 32]).sign_head(u64::MAX >> 1, h.root))
            .collect();
        let m = &encode(&full, &long_heads, &TOPIC, &node_key())[0];
        assert!(m.len() <= 4096, "{} bytes", m.len());
        assert_eq!(decode(m, &TOPIC).unwrap().0, full);
    }
}
