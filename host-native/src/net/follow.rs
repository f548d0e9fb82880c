//! Which feeds background sync fetches: every feed announced in a joined space
//! ([`Replication::All`]), or only those of followed authors ([`Replication::Followed`]),
//! the others being read on demand ([`Core::fetch_events`](crate::Core::fetch_events)).
//!
//! The followed authors are kept in `net.follows` in the store directory:
//!
//! ```text
//! magic "XFFL" | version u8 = 1 | count u32 LE | count × author (32 bytes, sorted)
//! | check: the first 8 bytes of BLAKE3 over everything before
//! ```
//!
//! Unlike the peer book (a cache), the list is the application's choice: a damaged file stops
//! sync from starting ([`NetError::BadFollowFile`]) instead of being taken for an empty list.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use xaeroflux_core::AuthorId;

use super::config::NetError;
use crate::store::state::{lock, read};

/// The file of followed authors in the store directory.
pub(crate) const FOLLOWS_FILE: &str = "net.follows";
const MAGIC: &[u8; 4] = b"XFFL";
const VERSION: u8 = 1;
const CHECK_LEN: usize = 8;
/// Most authors the file may name (a bound for reading a damaged or hostile file).
pub(crate) const MAX_FOLLOWS: usize = 1 << 20;

/// Which feeds background sync fetches from the peers of the spaces it joined. Set with
/// [`NetConfig::with_replication`](super::NetConfig::with_replication).
///
/// Whatever the choice, every feed the store holds is served, and the store's own feed is
/// never fetched (it is written here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Replication {
    /// Every feed a peer announces (the default): the store holds a full replica of each
    /// feed of its spaces.
    #[default]
    All,
    /// Only the feeds of the authors the application follows ([`Core::follow`]), kept up
    /// to date as the others are in `All`. Any other feed is read on demand, verified but not
    /// stored, with [`Core::fetch_events`] (Hypercore's sparse mode).
    ///
    /// [`Core::follow`]: crate::Core::follow
    /// [`Core::fetch_events`]: crate::Core::fetch_events
    Followed,
}

/// The followed authors and the replication mode, shared by the node and its sessions.
#[derive(Clone)]
pub(crate) struct Follows {
    mode: Replication,
    set: Arc<RwLock<BTreeSet<AuthorId>>>,
    /// Held while the file is written, so saves land in the order of the changes.
    save: Arc<Mutex<()>>,
}

impl Follows {
    /// The list kept in the store at `dir` (empty if there is none).
    pub(crate) fn load(dir: &Path, mode: Replication) -> Result<Follows, NetError> {
        let path = dir.join(FOLLOWS_FILE);
        let set = match std::fs::read(&path) {
            Ok(bytes) => decode(&bytes).map_err(|reason| NetError::BadFollowFile { path, reason })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(source) => return Err(NetError::Io { op: "read net.follows", source }),
        };
        Ok(Follows { mode, set: Arc::new(RwLock::new(set)), save: Arc::default() })
    }

    /// Whether the mode lets sync fetch `author`'s feed.
    pub(crate) fn allows(&self, author: &AuthorId) -> bool {
        self.mode == Replication::All || read(&self.set).contains(author)
    }

    /// The followed authors, in byte order.
    pub(crate) fn list(&self) -> Vec<AuthorId> {
        read(&self.set).iter().copied().collect()
    }

    /// Follows (`on`) or unfollows `author`, and writes the list to the store at `dir` before
    /// returning. Returns whether the list changed.
    pub(crate) fn set(&self, dir: &Path, author: AuthorId, on: bool) -> Result<bool, NetError> {
        let _save = lock(&self.save);
        let bytes = {
            let mut set = self.set.write().unwrap_or_else(|p| p.into_inner());
            let changed = if on { set.insert(author) } else { set.remove(&author) };
            if !changed {
                return Ok(false);
            }
            if set.len() > MAX_FOLLOWS {
                set.remove(&author);
                return Err(NetError::TooManyFollows(MAX_FOLLOWS));
            }
            encode(&set)
        };
        if let Err(source) = super::replace_file(dir, FOLLOWS_FILE, &bytes) {
            // Not kept: the list in memory goes back to what the file holds.
            let mut set = self.set.write().unwrap_or_else(|p| p.into_inner());
            if on {
                set.remove(&author);
            } else {
                set.insert(author);
            }
            return Err(NetError::Io { op: "write net.follows", source });
        }
        Ok(true)
    }
}

/// Serialises the changes made while sync is not running (each loads and saves the file).
static OFFLINE: Mutex<()> = Mutex::new(());

impl Follows {
    /// [`Follows::set`] on the list kept in the store at `dir`, while sync is not running.
    pub(crate) fn set_in_file(dir: &Path, author: AuthorId, on: bool) -> Result<bool, NetError> {
        let _one = lock(&OFFLINE);
        Follows::load(dir, Replication::All)?.set(dir, author, on)
    }
}

/// The file's bytes for `set`.
fn encode(set: &BTreeSet<AuthorId>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 1 + 4 + set.len() * 32 + CHECK_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(set.len() as u32).to_le_bytes());
    for a in set {
        out.extend_from_slice(a.as_bytes());
    }
    let check = blake3::hash(&out);
    out.extend_from_slice(&check.as_bytes()[..CHECK_LEN]);
    out
}

/// The set a file's bytes name, or what is wrong with them.
fn decode(bytes: &[u8]) -> Result<BTreeSet<AuthorId>, &'static str> {
    let body_len = bytes.len().checked_sub(CHECK_LEN).ok_or("shorter than its check")?;
    let (body, check) = bytes.split_at(body_len);
    if blake3::hash(body).as_bytes()[..CHECK_LEN] != *check {
        return Err("check does not match (damaged or cut short)");
    }
    let rest = body.strip_prefix(MAGIC).ok_or("not a follow list (magic)")?;
    let (&version, rest) = rest.split_first().ok_or("cut short")?;
    if version != VERSION {
        return Err("unknown version");
    }
    let (count, rest) = rest.split_first_chunk::<4>().ok_or("cut short")?;
    let count = u32::from_le_bytes(*count) as usize;
    if count > MAX_FOLLOWS || rest.len() != count * 32 {
        return Err("count does not match its length");
    }
    let mut set = BTreeSet::new();
    for chunk in rest.chunks_exact(32) {
        let bytes: [u8; 32] = chunk.try_into().map_err(|_| "cut short")?;
        if !set.insert(AuthorId(bytes)) {
            return Err("an author twice");
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn author(b: u8) -> AuthorId {
        AuthorId([b; 32])
    }

    proptest! {
        /// What is written reads back; any damage to the bytes is found.
        #[test]
        fn the_file_round_trips_and_damage_is_found(
            ids in proptest::collection::btree_set(any::<u8>(), 0..40),
            flip in any::<proptest::sample::Index>(),
            bit in 0u8..8,
            cut in any::<proptest::sample::Index>(),
        ) {
            let set: BTreeSet<AuthorId> = ids.into_iter().map(author).collect();
            let bytes = encode(&set);
            prop_assert_eq!(decode(&bytes), Ok(set));
            let mut bad = bytes.clone();
            bad[flip.index(bytes.len())] ^= 1 << bit;
            prop_assert!(decode(&bad).is_err());
            prop_assert!(decode(&bytes[..cut.index(bytes.len())]).is_err());
        }
    }

    #[test]
    fn follows_persist_and_only_followed_feeds_are_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let f = Follows::load(dir.path(), Replication::Followed).unwrap();
        assert!(!f.allows(&author(1)));
        assert!(f.set(dir.path(), author(1), true).unwrap());
        assert!(!f.set(dir.path(), author(1), true).unwrap(), "no change");
        assert!(f.set(dir.path(), author(2), true).unwrap());
        assert!(f.set(dir.path(), author(2), false).unwrap());
        assert!(f.allows(&author(1)) && !f.allows(&author(2)));
        let again = Follows::load(dir.path(), Replication::Followed).unwrap();
        assert_eq!(again.list(), vec![author(1)]);
        // In `All` every feed is fetched, whatever the list.
        assert!(Follows::load(dir.path(), Replication::All).unwrap().allows(&author(3)));
        // A damaged file stops sync from starting.
        let path = dir.path().join(FOLLOWS_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[6] ^= 0xFF;
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(Follows::load(dir.path(), Replication::Followed), Err(NetError::BadFollowFile { .. })));
    }
}
