//! The peers a node met in each space, kept in the store directory (`net.peers`), so that after
//! a restart a space joined by its id alone ([`Core::join_space`](crate::Core::join_space),
//! [`NetConfig::with_space`](super::NetConfig::with_space)) finds its way back into the space's
//! gossip topic through them, without a ticket.
//!
//! The book remembers, per space, the last [`MAX_PER_SPACE`] peers whose addresses it learned
//! (from a ticket joined, or from a signed announcement of theirs), most recent first. It is a
//! cache: a missing, torn or damaged file is an empty book, never an error, and is replaced on
//! the next save. Saves write a temporary file, sync it and rename it into place.
//!
//! File (little-endian; `docs/net.md`, "Peer book"):
//!
//! ```text
//! magic     [4]   "XFPB"
//! version   u8    2 (version 1, read too, had no onion field)
//! n_spaces  u16   0 ..= MAX_SPACES
//! n_spaces × space:
//!   space   [32]  the space id
//!   n_peers u8    1 ..= MAX_PER_SPACE
//!   n_peers × peer:
//!     id    [32]  the node id
//!     addresses   an address block, exactly as in a ticket (n_addrs, addresses, relay)
//!     onion u8    0, or 1 followed by [32]: the peer's onion service (from its ticket)
//! check     [8]   the first 8 bytes of the BLAKE3 hash of every byte above
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;

use super::onion::OnionAddress;
use super::ticket::{PeerId, SpaceId, decode_addrs, encode_addrs, take};

/// Name of the file in the store directory.
pub(crate) const PEERS_FILE: &str = "net.peers";
/// Peers remembered per space.
pub(crate) const MAX_PER_SPACE: usize = 32;
/// Spaces remembered (the least recently met beyond this are forgotten).
pub(crate) const MAX_SPACES: usize = 1024;

const MAGIC: &[u8; 4] = b"XFPB";
const VERSION: u8 = 2;
/// The version before onion services.
const VERSION_1: u8 = 1;
const CHECK_LEN: usize = 8;

/// How to reach one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PeerEntry {
    pub(crate) peer: PeerId,
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) relay: Option<String>,
    /// Its onion service, if a ticket named one.
    pub(crate) onion: Option<OnionAddress>,
}

/// The peers met per space, and whether that changed since the last save.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PeerBook {
    /// Per space, most recent first; the spaces in the order last met (a counter).
    spaces: BTreeMap<SpaceId, (u64, Vec<PeerEntry>)>,
    clock: u64,
    dirty: bool,
}

impl PeerBook {
    /// Records that `entry` can be reached in `space`. The book counts as changed (to be
    /// saved) only if a peer or an address is new, not when known ones are met again.
    pub(crate) fn saw(&mut self, space: SpaceId, mut entry: PeerEntry) {
        self.clock += 1;
        let clock = self.clock;
        let (met, list) = self.spaces.entry(space).or_default();
        *met = clock;
        match list.iter().position(|e| e.peer == entry.peer) {
            Some(i) => {
                // Announcements carry no onion service: the one a ticket named is kept.
                if entry.onion.is_none() {
                    entry.onion = list[i].onion;
                }
                if i == 0 && list[0] == entry {
                    return;
                }
                let old = list.remove(i);
                self.dirty |= old != entry;
            }
            None => self.dirty = true,
        }
        list.insert(0, entry);
        list.truncate(MAX_PER_SPACE);
        if self.spaces.len() > MAX_SPACES
            && let Some(oldest) = self.spaces.iter().min_by_key(|(_, (t, _))| *t).map(|(s, _)| *s)
        {
            self.spaces.remove(&oldest);
        }
    }

    /// The peers met in `space`, most recent first.
    pub(crate) fn peers(&self, space: &SpaceId) -> Vec<PeerEntry> {
        self.spaces.get(space).map(|(_, l)| l.clone()).unwrap_or_default()
    }

    /// Whether something changed since the book was loaded or saved.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The file's bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.spaces.len() * 1024);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&(self.spaces.len() as u16).to_le_bytes());
        // Least recently met first, so a reload keeps the order.
        let mut spaces: Vec<_> = self.spaces.iter().collect();
        spaces.sort_by_key(|(_, (t, _))| *t);
        for (space, (_, list)) in spaces {
            out.extend_from_slice(&space.0);
            out.push(list.len() as u8);
            for e in list {
                out.extend_from_slice(&e.peer.0);
                encode_addrs(&e.addrs, e.relay.as_deref(), &mut out);
                match &e.onion {
                    None => out.push(0),
                    Some(o) => {
                        out.push(1);
                        out.extend_from_slice(&o.0);
                    }
                }
            }
        }
        let check = blake3::hash(&out);
        out.extend_from_slice(&check.as_bytes()[..CHECK_LEN]);
        out
    }

    /// Reads a book from the file's bytes; `None` if they are not a whole, intact book.
    pub(crate) fn decode(bytes: &[u8]) -> Option<PeerBook> {
        let body = bytes.get(..bytes.len().checked_sub(CHECK_LEN)?)?;
        if blake3::hash(body).as_bytes()[..CHECK_LEN] != bytes[body.len()..] {
            return None;
        }
        let mut r = body.strip_prefix(MAGIC)?;
        let version = take(&mut r, 1).ok()?[0];
        if version != VERSION && version != VERSION_1 {
            return None;
        }
        let n_spaces = u16::from_le_bytes(take(&mut r, 2).ok()?.try_into().ok()?);
        if usize::from(n_spaces) > MAX_SPACES {
            return None;
        }
        let mut book = PeerBook::default();
        for _ in 0..n_spaces {
            let space = SpaceId(take(&mut r, 32).ok()?.try_into().ok()?);
            let n = take(&mut r, 1).ok()?[0];
            if n == 0 || usize::from(n) > MAX_PER_SPACE {
                return None;
            }
            let mut list = Vec::with_capacity(usize::from(n));
            for _ in 0..n {
                let peer = PeerId(take(&mut r, 32).ok()?.try_into().ok()?);
                let (addrs, relay) = decode_addrs(&mut r).ok()?;
                let onion = match version {
                    VERSION_1 => None,
                    _ => match take(&mut r, 1).ok()?[0] {
                        0 => None,
                        1 => Some(OnionAddress(take(&mut r, 32).ok()?.try_into().ok()?)),
                        _ => return None,
                    },
                };
                list.push(PeerEntry { peer, addrs, relay, onion });
            }
            book.clock += 1;
            if book.spaces.insert(space, (book.clock, list)).is_some() {
                return None; // a space twice
            }
        }
        r.is_empty().then_some(book)
    }

    /// Loads the book of the store at `dir`: empty if there is none or it is not intact.
    pub(crate) fn load(dir: &Path) -> PeerBook {
        fs::read(dir.join(PEERS_FILE)).ok().and_then(|b| PeerBook::decode(&b)).unwrap_or_default()
    }

    /// The file's bytes if the book changed since it was loaded or last taken, marking it
    /// unchanged (see [`PeerBook::keep_changed`] for a save that failed).
    pub(crate) fn take_changes(&mut self) -> Option<Vec<u8>> {
        std::mem::take(&mut self.dirty).then(|| self.encode())
    }

    /// Marks the book changed again (its save failed).
    pub(crate) fn keep_changed(&mut self) {
        self.dirty = true;
    }

    /// Saves the book to the store at `dir` and marks it unchanged.
    #[cfg(test)]
    pub(crate) fn save(&mut self, dir: &Path) -> std::io::Result<()> {
        self.dirty = false;
        write_file(dir, &self.encode())
    }
}

/// Writes a book's bytes to the store at `dir`: a temporary file, synced, renamed into place.
pub(crate) fn write_file(dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    super::replace_file(dir, PEERS_FILE, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(i: u8, port: u16) -> PeerEntry {
        PeerEntry {
            peer: PeerId([i; 32]),
            addrs: vec![SocketAddr::from(([127, 0, 0, 1], port)), "[::1]:9".parse().unwrap()],
            relay: i.is_multiple_of(2).then(|| format!("http://127.0.0.1:{port}")),
            onion: i.is_multiple_of(3).then_some(OnionAddress([i; 32])),
        }
    }

    #[test]
    fn the_book_keeps_the_most_recent_peers_per_space_and_marks_only_news_as_changes() {
        let (s, t) = (SpaceId([1; 32]), SpaceId([2; 32]));
        let mut book = PeerBook::default();
        for i in 0..40 {
            book.saw(s, entry(i, 1000 + u16::from(i)));
        }
        book.saw(t, entry(7, 7));
        let peers = book.peers(&s);
        assert_eq!(peers.len(), MAX_PER_SPACE);
        assert_eq!(peers[0], entry(39, 1039), "most recent first");
        assert_eq!(peers[MAX_PER_SPACE - 1], entry(8, 1008), "the oldest beyond 32 forgotten");
        assert_eq!(book.peers(&t), vec![entry(7, 7)]);
        assert!(book.peers(&SpaceId([3; 32])).is_empty());

        let dir = tempfile::tempdir().unwrap();
        assert!(book.is_dirty());
        book.save(dir.path()).unwrap();
        assert!(!book.is_dirty());
        // Met again, as they were: no change. Moved to the front: no change either.
        book.saw(s, entry(39, 1039));
        book.saw(s, entry(20, 1020));
        assert!(!book.is_dirty());
        // A new address is a change.
        book.saw(s, entry(20, 2020));
        assert!(book.is_dirty());
        assert_eq!(book.peers(&s)[0], entry(20, 2020));
    }

    #[test]
    fn a_saved_book_loads_back_and_a_damaged_one_loads_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(PeerBook::load(dir.path()), PeerBook::default(), "no file: empty");
        let mut book = PeerBook::default();
        for (i, space) in [[1u8; 32], [2; 32], [3; 32]].into_iter().enumerate() {
            for j in 0..5 {
                book.saw(SpaceId(space), entry(i as u8 * 10 + j, 4000 + u16::from(j)));
            }
        }
        book.save(dir.path()).unwrap();
        let back = PeerBook::load(dir.path());
        for space in [[1u8; 32], [2; 32], [3; 32]] {
            assert_eq!(back.peers(&SpaceId(space)), book.peers(&SpaceId(space)));
        }
        assert!(!back.is_dirty());
        assert_eq!(back.encode(), book.encode(), "the spaces keep their order");

        let bytes = book.encode();
        for cut in 0..bytes.len() {
            assert!(PeerBook::decode(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(PeerBook::decode(&bad).is_none(), "byte {i} flipped");
        }
        fs::write(dir.path().join(PEERS_FILE), &bytes[..bytes.len() / 2]).unwrap();
        assert_eq!(PeerBook::load(dir.path()), PeerBook::default(), "a torn file: empty");
    }

    /// An announcement (which names no onion service) does not erase the one a ticket named.
    #[test]
    fn an_onion_service_from_a_ticket_survives_announcements() {
        let s = SpaceId([1; 32]);
        let mut book = PeerBook::default();
        let from_ticket = entry(3, 1);
        assert!(from_ticket.onion.is_some());
        book.saw(s, from_ticket.clone());
        book.saw(s, PeerEntry { onion: None, ..from_ticket.clone() });
        assert_eq!(book.peers(&s), vec![from_ticket.clone()]);
        book.saw(s, PeerEntry { onion: None, ..entry(3, 2) });
        assert_eq!(book.peers(&s)[0].onion, from_ticket.onion, "a new address keeps the onion");
    }

    /// A book written before onion services (version 1, bytes made by hand) still loads.
    #[test]
    fn a_version_1_book_loads() {
        let mut v1 = Vec::new();
        v1.extend_from_slice(MAGIC);
        v1.push(VERSION_1);
        v1.extend_from_slice(&1u16.to_le_bytes());
        v1.extend_from_slice(&[5; 32]);
        v1.push(1);
        v1.extend_from_slice(&[6; 32]);
        v1.extend_from_slice(&[1, 4, 127, 0, 0, 1, 0x51, 0x11, 0]);
        let check = blake3::hash(&v1);
        v1.extend_from_slice(&check.as_bytes()[..CHECK_LEN]);
        let book = PeerBook::decode(&v1).expect("a version 1 book");
        let want = PeerEntry {
            peer: PeerId([6; 32]),
            addrs: vec!["127.0.0.1:4433".parse().unwrap()],
            relay: None,
            onion: None,
        };
        assert_eq!(book.peers(&SpaceId([5; 32])), vec![want]);
        assert_eq!(book.encode()[4], VERSION, "saved again as the current version");
    }

    #[test]
    fn the_least_recently_met_spaces_go_beyond_the_limit() {
        let mut book = PeerBook::default();
        for i in 0..=MAX_SPACES as u32 {
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&i.to_le_bytes());
            book.saw(SpaceId(id), entry(1, 1));
        }
        assert!(book.peers(&SpaceId([0; 32])).is_empty(), "the first space met is forgotten");
        let bytes = book.encode();
        assert_eq!(PeerBook::decode(&bytes).map(|b| b.spaces.len()), Some(MAX_SPACES));
    }

    proptest! {
        #[test]
        fn random_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = PeerBook::decode(&bytes);
            // With a valid check, so the parser behind it runs too.
            let mut m = bytes.clone();
            m.extend_from_slice(&blake3::hash(&bytes).as_bytes()[..CHECK_LEN]);
            let _ = PeerBook::decode(&m);
            let mut m = b"XFPB\x01".to_vec();
            m.extend_from_slice(&bytes);
            m.extend_from_slice(&blake3::hash(&m.clone()).as_bytes()[..CHECK_LEN]);
            let _ = PeerBook::decode(&m);
        }
    }
}
