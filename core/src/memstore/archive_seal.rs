//! An archive's author key sealed with a password: whoever holds the file without the
//! password can read and check every feed in it, but cannot restore it as that author.
//!
//! The key is encrypted with XChaCha20-Poly1305 under a key derived from the password by
//! Argon2id (version 0x13), with a random salt and nonce the writer gives (this crate has no
//! randomness). The associated data is the archive's whole header before the ciphertext: the
//! magic, version, flags, page size, the KDF's parameters, the salt, the nonce and the author,
//! so none of them can be changed without the password failing. The author is in clear, so a
//! reader can tell whose archive it is before asking for the password, and the unsealed key
//! is checked against it. Byte layout: `docs/formats.md`, "Store archives".
//!
//! ```
//! use xaeroflux_core::memstore::{ArchiveError, KdfParams, KeySeal, MemStore, NewEvent, archive_header,
//!     read_archive, read_archive_with_password};
//! use xaeroflux_core::page::PageConfig;
//! use xaeroflux_core::AuthorKey;
//!
//! let key = AuthorKey::from_secret_bytes(&[5; 32]);
//! let mut store = MemStore::new(key.clone(), PageConfig::new(1024)?);
//! store.append(NewEvent::new(1, b"mine"))?;
//! // Salt and nonce from the host's random generator.
//! let seal = KeySeal { password: b"correct horse", salt: [1; 16], nonce: [2; 24], params: KdfParams::MIN_FOR_TESTS };
//! let bytes = store.to_archive_sealed(&seal, u64::MAX)?;
//!
//! let header = archive_header(&bytes)?;
//! assert_eq!(header.sealed.as_ref().map(|s| s.author), Some(key.author()));
//! assert_eq!(read_archive(&bytes).unwrap_err(), ArchiveError::PasswordNeeded);
//! assert_eq!(read_archive_with_password(&bytes, b"wrong").unwrap_err(), ArchiveError::WrongPassword);
//! let back = read_archive_with_password(&bytes, b"correct horse")?;
//! assert_eq!(back.author(), Some(key.author()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroize;

use super::archive::ArchiveError;
use crate::head::{AuthorId, AuthorKey};

/// Bytes of the salt.
pub const SALT_LEN: usize = 16;
/// Bytes of the nonce.
pub const SEAL_NONCE_LEN: usize = 24;
/// The KDF byte of Argon2id, version 0x13.
const KDF_ARGON2ID: u8 = 1;
/// Bytes of the sealed secret key: 32 encrypted, 16 of tag.
const CIPHERTEXT_LEN: usize = 32 + 16;
/// Bytes the sealed key adds to the header: KDF, its three parameters, salt, nonce, author,
/// ciphertext.
pub const SEALED_KEY_LEN: usize = 1 + 12 + SALT_LEN + SEAL_NONCE_LEN + 32 + CIPHERTEXT_LEN;
/// Of those, the bytes before the ciphertext.
const CLEAR_LEN: usize = SEALED_KEY_LEN - CIPHERTEXT_LEN;

/// Argon2id's cost parameters, stored in the archive so they can grow with hardware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Parallel lanes.
    pub lanes: u32,
}

impl KdfParams {
    /// What writers use: 19 MiB, 2 passes, 1 lane (OWASP's recommendation for Argon2id; about
    /// 25 ms on a 2-vCPU VM, natively and as WebAssembly; `docs/benchmarks.md`).
    pub const DEFAULT: KdfParams = KdfParams { memory_kib: 19 * 1024, iterations: 2, lanes: 1 };
    /// The cheapest parameters a reader accepts (for tests and examples: they protect
    /// nothing).
    pub const MIN_FOR_TESTS: KdfParams = KdfParams { memory_kib: 8, iterations: 1, lanes: 1 };
    /// The most memory a reader spends on an archive's KDF (a hostile archive could ask for
    /// more than a browser tab has).
    pub const MAX_MEMORY_KIB: u32 = 256 * 1024;
    /// The most passes a reader makes.
    pub const MAX_ITERATIONS: u32 = 16;
    /// The most lanes a reader accepts.
    pub const MAX_LANES: u32 = 8;

    /// Whether readers accept these parameters: Argon2's own minimums (a lane, a pass, 8 KiB
    /// per lane) and the maxima above.
    pub fn is_valid(&self) -> bool {
        (1..=Self::MAX_LANES).contains(&self.lanes)
            && (1..=Self::MAX_ITERATIONS).contains(&self.iterations)
            && self.memory_kib >= 8 * self.lanes
            && self.memory_kib <= Self::MAX_MEMORY_KIB
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How a writer seals the key: the password, and a fresh random salt and nonce from the
/// host's generator (never reuse them).
#[derive(Clone, Copy)]
pub struct KeySeal<'p> {
    /// The password (any bytes; not empty).
    pub password: &'p [u8],
    /// A fresh random salt.
    pub salt: [u8; SALT_LEN],
    /// A fresh random nonce.
    pub nonce: [u8; SEAL_NONCE_LEN],
    /// The KDF's costs ([`KdfParams::DEFAULT`]).
    pub params: KdfParams,
}

impl fmt::Debug for KeySeal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySeal").field("params", &self.params).finish_non_exhaustive()
    }
}

/// Why a key could not be sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The password is empty.
    EmptyPassword,
    /// The KDF parameters are outside what readers accept ([`KdfParams::is_valid`]).
    Params(KdfParams),
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyPassword => f.write_str("an archive's key cannot be sealed with an empty password"),
            Self::Params(p) => write!(
                f,
                "Argon2id parameters {} KiB, {} passes, {} lanes are outside what readers accept",
                p.memory_kib, p.iterations, p.lanes
            ),
        }
    }
}

impl core::error::Error for SealError {}

/// The sealed key an archive's header holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedKey {
    /// The KDF's costs.
    pub params: KdfParams,
    /// The salt.
    pub salt: [u8; SALT_LEN],
    /// The nonce.
    pub nonce: [u8; SEAL_NONCE_LEN],
    /// The author whose key it is (in clear).
    pub author: AuthorId,
    ciphertext: [u8; CIPHERTEXT_LEN],
    /// The header before the sealed key (magic, version, flags, page size).
    prefix: [u8; 14],
}

/// The key derived from `password` (`Err` only for parameters Argon2 refuses).
fn derive(password: &[u8], salt: &[u8; SALT_LEN], params: &KdfParams) -> Result<[u8; 32], ()> {
    let p = Params::new(params.memory_kib, params.iterations, params.lanes, Some(32)).map_err(|_| ())?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p).hash_password_into(password, salt, &mut key).map_err(|_| ())?;
    Ok(key)
}

impl SealedKey {
    /// Seals `key` for a header that starts with `prefix`, writing the sealed key's bytes to
    /// `out`.
    pub(super) fn seal(
        key: &AuthorKey,
        seal: &KeySeal<'_>,
        prefix: [u8; 14],
        out: &mut alloc::vec::Vec<u8>,
    ) -> Result<(), SealError> {
        if seal.password.is_empty() {
            return Err(SealError::EmptyPassword);
        }
        if !seal.params.is_valid() {
            return Err(SealError::Params(seal.params));
        }
        let mut sealed = SealedKey {
            params: seal.params,
            salt: seal.salt,
            nonce: seal.nonce,
            author: key.author(),
            ciphertext: [0; CIPHERTEXT_LEN],
            prefix,
        };
        let mut derived =
            derive(seal.password, &seal.salt, &seal.params).map_err(|_| SealError::Params(seal.params))?;
        let mut secret = key.secret_bytes();
        let ad = sealed.associated_data();
        let tag = XChaCha20Poly1305::new(&derived.into())
            .encrypt_in_place_detached(&XNonce::from(seal.nonce), &ad, &mut secret)
            .map_err(|_| SealError::Params(seal.params))?;
        sealed.ciphertext[..32].copy_from_slice(&secret);
        sealed.ciphertext[32..].copy_from_slice(&tag);
        secret.zeroize();
        derived.zeroize();
        out.extend_from_slice(&ad[prefix.len()..]);
        out.extend_from_slice(&sealed.ciphertext);
        Ok(())
    }

    /// The header before the ciphertext: what the AEAD authenticates.
    fn associated_data(&self) -> [u8; 14 + CLEAR_LEN] {
        let mut ad = [0u8; 14 + CLEAR_LEN];
        ad[..14].copy_from_slice(&self.prefix);
        ad[14] = KDF_ARGON2ID;
        ad[15..19].copy_from_slice(&self.params.memory_kib.to_le_bytes());
        ad[19..23].copy_from_slice(&self.params.iterations.to_le_bytes());
        ad[23..27].copy_from_slice(&self.params.lanes.to_le_bytes());
        ad[27..43].copy_from_slice(&self.salt);
        ad[43..67].copy_from_slice(&self.nonce);
        ad[67..99].copy_from_slice(&self.author.0);
        ad
    }

    /// Reads the sealed key from `bytes` (at least [`SEALED_KEY_LEN`] of them), after the
    /// header's first 14 bytes `prefix`.
    pub(super) fn decode(prefix: [u8; 14], bytes: &[u8]) -> Result<SealedKey, ArchiveError> {
        let b: &[u8; SEALED_KEY_LEN] =
            bytes.get(..SEALED_KEY_LEN).and_then(|b| b.try_into().ok()).ok_or(ArchiveError::Truncated)?;
        if b[0] != KDF_ARGON2ID {
            return Err(ArchiveError::UnknownKdf(b[0]));
        }
        let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let params = KdfParams { memory_kib: word(1), iterations: word(5), lanes: word(9) };
        if !params.is_valid() {
            return Err(ArchiveError::KdfParams(params));
        }
        let mut sealed = SealedKey {
            params,
            salt: [0; SALT_LEN],
            nonce: [0; SEAL_NONCE_LEN],
            author: AuthorId([0; 32]),
            ciphertext: [0; CIPHERTEXT_LEN],
            prefix,
        };
        sealed.salt.copy_from_slice(&b[13..29]);
        sealed.nonce.copy_from_slice(&b[29..53]);
        sealed.author.0.copy_from_slice(&b[53..85]);
        sealed.ciphertext.copy_from_slice(&b[85..]);
        Ok(sealed)
    }

    /// The author's key, unsealed with `password`: [`ArchiveError::WrongPassword`] for a wrong
    /// password (or a header changed since it was sealed).
    pub fn open(&self, password: &[u8]) -> Result<AuthorKey, ArchiveError> {
        let mut derived =
            derive(password, &self.salt, &self.params).map_err(|_| ArchiveError::KdfParams(self.params))?;
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&self.ciphertext[..32]);
        let opened = XChaCha20Poly1305::new(&derived.into()).decrypt_in_place_detached(
            &XNonce::from(self.nonce),
            &self.associated_data(),
            &mut secret,
            Tag::from_slice(&self.ciphertext[32..]),
        );
        derived.zeroize();
        let key = opened.is_ok().then(|| AuthorKey::from_secret_bytes(&secret));
        secret.zeroize();
        match key {
            Some(k) if k.author() == self.author => Ok(k),
            _ => Err(ArchiveError::WrongPassword),
        }
    }
}
