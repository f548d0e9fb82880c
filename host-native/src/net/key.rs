//! The node's network key, persisted in the store directory.
//!
//! File `net.key`: 32 bytes, the ed25519 secret key of the iroh endpoint (the node id is its
//! public key). It is separate from the author key: the node id says where to reach a store,
//! the author key who wrote a feed. Created on first use with the operating system's RNG,
//! written to a temporary file, synced and renamed into place (mode 0600), so a crash leaves
//! either no key or a whole one.

use std::fs;
use std::path::Path;

use super::NetError;

/// Name of the key file in the store directory.
pub(crate) const KEY_FILE: &str = "net.key";

/// Loads the node key from `dir`, creating it if missing.
pub(crate) fn load_or_create(dir: &Path) -> Result<[u8; 32], NetError> {
    let path = dir.join(KEY_FILE);
    match fs::read(&path) {
        Ok(bytes) => {
            return <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| NetError::BadKeyFile { path, reason: "not 32 bytes" });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(NetError::Io { op: "read net.key", source: e }),
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|_| NetError::Random)?;
    super::replace_file(dir, KEY_FILE, &key).map_err(|source| NetError::Io { op: "write net.key", source })?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path()).unwrap();
        let b = load_or_create(dir.path()).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, [0u8; 32]);
        fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        assert!(matches!(load_or_create(dir.path()), Err(NetError::BadKeyFile { .. })));
    }
}
