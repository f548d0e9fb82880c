//! The UDP port a store's endpoint had last time (`net.port` in the store directory), bound
//! again at the next start when the configured port is 0 (the default), so the tickets a node
//! handed out and the addresses its peers learned stay valid across its restarts.
//!
//! The file is a cache, like the peer book: a missing, torn or damaged one means "no port
//! remembered" (a free port is bound and remembered), never an error. A remembered port that
//! is taken by then is not an error either: the endpoint binds a free port and that one is
//! remembered instead.
//!
//! File (little-endian; `docs/net.md`, "Port kept across restarts"):
//!
//! ```text
//! magic     [4]   "XFNP"
//! version   u8    1
//! port      u16   1 ..= 65535
//! check     [8]   the first 8 bytes of the BLAKE3 hash of the 7 bytes above
//! ```

use std::fs;
use std::path::Path;

/// Name of the file in the store directory.
pub(crate) const PORT_FILE: &str = "net.port";

const MAGIC: &[u8; 4] = b"XFNP";
const VERSION: u8 = 1;
const BODY_LEN: usize = 7;
const CHECK_LEN: usize = 8;
const FILE_LEN: usize = BODY_LEN + CHECK_LEN;

/// The file's bytes for `port`.
pub(crate) fn encode(port: u16) -> [u8; FILE_LEN] {
    let mut out = [0u8; FILE_LEN];
    out[..4].copy_from_slice(MAGIC);
    out[4] = VERSION;
    out[5..7].copy_from_slice(&port.to_le_bytes());
    let check = blake3::hash(&out[..BODY_LEN]);
    out[BODY_LEN..].copy_from_slice(&check.as_bytes()[..CHECK_LEN]);
    out
}

/// The port a file names, if it is intact (exactly one record, of this version, its check
/// right, its port not 0).
pub(crate) fn decode(bytes: &[u8]) -> Option<u16> {
    let bytes: &[u8; FILE_LEN] = bytes.try_into().ok()?;
    let (body, check) = bytes.split_at(BODY_LEN);
    if &body[..4] != MAGIC || body[4] != VERSION || blake3::hash(body).as_bytes()[..CHECK_LEN] != *check {
        return None;
    }
    let port = u16::from_le_bytes([body[5], body[6]]);
    (port != 0).then_some(port)
}

/// The port remembered in the store at `dir`, if any.
pub(crate) fn load(dir: &Path) -> Option<u16> {
    fs::read(dir.join(PORT_FILE)).ok().and_then(|b| decode(&b))
}

/// Remembers `port` in the store at `dir` (a temporary file, synced, renamed into place).
pub(crate) fn save(dir: &Path, port: u16) -> std::io::Result<()> {
    super::replace_file(dir, PORT_FILE, &encode(port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_saved_port_is_loaded_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()), None);
        save(dir.path(), 40_123).unwrap();
        assert_eq!(load(dir.path()), Some(40_123));
        save(dir.path(), 7).unwrap();
        assert_eq!(load(dir.path()), Some(7));
        assert!(!dir.path().join("net.port.tmp").exists());
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let b = encode(0x1234);
        assert_eq!(&b[..7], b"XFNP\x01\x34\x12");
        assert_eq!(b[7..], blake3::hash(&b[..7]).as_bytes()[..8]);
    }

    #[test]
    fn port_zero_and_other_versions_are_refused() {
        let mut zero = encode(0);
        assert_eq!(decode(&zero), None);
        zero[4] = 2;
        assert_eq!(decode(&zero), None);
        let mut v2 = encode(9);
        v2[4] = 2;
        let check = blake3::hash(&v2[..7]);
        v2[7..].copy_from_slice(&check.as_bytes()[..8]);
        assert_eq!(decode(&v2), None);
    }

    proptest! {
        #[test]
        fn every_port_round_trips(port in 1u16..) {
            prop_assert_eq!(decode(&encode(port)), Some(port));
        }

        #[test]
        fn any_damage_is_detected(port in 1u16.., at in 0usize..15, flip in 1u8..) {
            let mut b = encode(port);
            b[at] ^= flip;
            prop_assert_eq!(decode(&b), None);
        }

        #[test]
        fn a_truncated_or_extended_file_is_refused(port in 1u16.., len in 0usize..32) {
            prop_assume!(len != 15);
            let mut b = encode(port).to_vec();
            b.resize(len, 0);
            prop_assert_eq!(decode(&b), None);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode(&bytes);
        }
    }
}
