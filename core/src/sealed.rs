//! Sealed payloads: event payloads encrypted end to end with a space's secret.
//!
//! A space may have a [`SpaceSecret`], 32 bytes its members share out of band. An event
//! whose flags include [`EventFlags::ENCRYPTED`](crate::event::EventFlags::ENCRYPTED)
//! carries a *sealed payload*: the plaintext encrypted and authenticated with
//! XChaCha20-Poly1305 under a key derived from the secret, bound to the event's author.
//! The event's leaf hash, pages, proofs and sync cover the sealed bytes, so relays and
//! pinning peers without the secret store, verify and forward such events but cannot read
//! them. The byte layout is in `docs/formats.md` ("Sealed payloads"), with test vectors made
//! by an independent implementation (libsodium).
//!
//! The core draws no random numbers: [`seal`] takes 24 random bytes from the host, and mixes
//! them with the author and the plaintext into the nonce (keyed BLAKE3), so a generator that
//! repeats itself can only repeat a nonce for the same author and plaintext.
//!
//! ```
//! use xaeroflux_core::AuthorId;
//! use xaeroflux_core::sealed::{self, DecryptError, SpaceSecret};
//!
//! let secret = SpaceSecret::from_bytes([7; 32]);
//! let author = AuthorId([1; 32]);
//! let mut sealed_bytes = Vec::new();
//! sealed::seal(&secret, &author, b"meet at noon", &[9; 24], &mut sealed_bytes).unwrap();
//! assert_eq!(sealed_bytes.len(), b"meet at noon".len() + sealed::OVERHEAD);
//!
//! let mut plain = Vec::new();
//! sealed::open(&secret, &author, &sealed_bytes, &mut plain).unwrap();
//! assert_eq!(plain, b"meet at noon");
//!
//! // Another secret, or another author, does not open it.
//! let other = SpaceSecret::from_bytes([8; 32]);
//! assert!(matches!(sealed::open(&other, &author, &sealed_bytes, &mut plain), Err(DecryptError::OtherSecret { .. })));
//! assert_eq!(sealed::open(&secret, &AuthorId([2; 32]), &sealed_bytes, &mut plain), Err(DecryptError::Tampered));
//! ```

use alloc::vec::Vec;
use core::fmt;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroize;

use crate::AuthorId;
use crate::event::MAX_PAYLOAD_LEN;

/// The seal version this crate writes and opens.
pub const SEAL_VERSION: u8 = 1;
/// Bytes a sealed payload adds to its plaintext: version, key id, nonce and tag.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// The longest plaintext whose sealed payload fits in an event.
pub const MAX_PLAINTEXT_LEN: usize = MAX_PAYLOAD_LEN as usize - OVERHEAD;

const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Version, key id and nonce.
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

const KEY_CONTEXT: &str = "xaeroflux 2026-12 space payload key v1";
const KEY_ID_CONTEXT: &str = "xaeroflux 2026-12 space payload key id v1";
const NONCE_CONTEXT: &str = "xaeroflux 2026-12 space payload nonce v1";

/// A space's secret: 32 bytes that the members of a space share, from which the payload key
/// is derived. The bytes are wiped when it is dropped, and `Debug` shows only the key id.
#[derive(Clone)]
pub struct SpaceSecret {
    bytes: [u8; 32],
    keys: Keys,
}

/// What the secret derives, computed once.
#[derive(Clone)]
struct Keys {
    payload: [u8; 32],
    nonce: [u8; 32],
    id: [u8; KEY_ID_LEN],
}

impl SpaceSecret {
    /// The secret of these 32 bytes (the host draws them from its random number generator,
    /// or the application hands them over).
    pub fn from_bytes(bytes: [u8; 32]) -> SpaceSecret {
        let payload = blake3::derive_key(KEY_CONTEXT, &bytes);
        let nonce = blake3::derive_key(NONCE_CONTEXT, &bytes);
        let mut id_full = blake3::derive_key(KEY_ID_CONTEXT, &bytes);
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&id_full[..KEY_ID_LEN]);
        id_full.zeroize();
        SpaceSecret { bytes, keys: Keys { payload, nonce, id } }
    }

    /// The secret of its text form, 64 hex digits (either case; white space around them, such
    /// as a file's last newline, is ignored).
    pub fn from_hex(text: &str) -> Result<SpaceSecret, ParseSecretError> {
        let text = text.trim();
        if let Some(at) = text.chars().position(|c| !c.is_ascii_hexdigit()) {
            return Err(ParseSecretError::NotHex { at });
        }
        // Only ASCII is left: characters are bytes.
        if text.len() != 64 {
            return Err(ParseSecretError::WrongLength { chars: text.len() });
        }
        let mut bytes = [0u8; 32];
        for (b, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let digit = |c: u8| (c as char).to_digit(16).map_or(0, |d| d as u8);
            *b = (digit(pair[0]) << 4) | digit(pair[1]);
        }
        let secret = SpaceSecret::from_bytes(bytes);
        bytes.zeroize();
        Ok(secret)
    }

    /// The secret's bytes, to hand to another member.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The 4-byte id that every payload sealed with this secret carries (not secret: it tells
    /// a reader holding several secrets which one opens a payload).
    pub fn key_id(&self) -> [u8; 4] {
        self.keys.id
    }
}

impl PartialEq for SpaceSecret {
    fn eq(&self, other: &SpaceSecret) -> bool {
        // Comparing the derived payload keys, not the secrets' bytes, in time that does not
        // depend on where they differ.
        self.keys.payload.iter().zip(&other.keys.payload).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl Eq for SpaceSecret {}

impl Drop for SpaceSecret {
    fn drop(&mut self) {
        self.bytes.zeroize();
        self.keys.payload.zeroize();
        self.keys.nonce.zeroize();
    }
}

impl fmt::Debug for SpaceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.keys.id;
        write!(f, "SpaceSecret {{ key_id: {:02x}{:02x}{:02x}{:02x}, .. }}", id[0], id[1], id[2], id[3])
    }
}

/// Why a text is not a space secret ([`SpaceSecret::from_hex`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseSecretError {
    /// Not 64 characters (after surrounding white space is trimmed).
    WrongLength {
        /// How many characters there were.
        chars: usize,
    },
    /// A character that is not a hex digit.
    NotHex {
        /// Its position (in characters, after trimming).
        at: usize,
    },
}

impl fmt::Display for ParseSecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongLength { chars } => write!(f, "a space secret is 64 hex digits, not {chars} characters"),
            Self::NotHex { at } => write!(f, "a space secret is hex digits only (character {at} is not one)"),
        }
    }
}

impl core::error::Error for ParseSecretError {}

/// Why a plaintext was not sealed ([`seal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The plaintext is longer than [`MAX_PLAINTEXT_LEN`]: its sealed payload would not fit
    /// in an event.
    TooLong {
        /// The plaintext's length.
        len: usize,
    },
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { len } => {
                write!(f, "a payload of {len} bytes is too large to encrypt (at most {MAX_PLAINTEXT_LEN})")
            }
        }
    }
}

impl core::error::Error for SealError {}

/// Why a sealed payload does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecryptError {
    /// Shorter than a sealed payload of an empty plaintext (45 bytes).
    TooShort {
        /// The payload's length.
        len: usize,
    },
    /// A seal version this crate does not know.
    UnknownVersion(u8),
    /// Sealed with another secret (its key id differs from this secret's), or not a sealed
    /// payload at all.
    OtherSecret {
        /// The key id the payload carries.
        key_id: [u8; 4],
    },
    /// The tag does not check out: the payload was changed, belongs to another author's event,
    /// or its key id collided with this secret's by chance.
    Tampered,
    /// The event is not marked `ENCRYPTED` (returned by the event readers' `open`, never by
    /// [`open`] itself).
    NotEncrypted,
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len } => write!(f, "a sealed payload is at least {OVERHEAD} bytes, this one {len}"),
            Self::UnknownVersion(v) => write!(f, "unknown seal version {v}"),
            Self::OtherSecret { key_id } => write!(
                f,
                "sealed with another secret (key id {:02x}{:02x}{:02x}{:02x})",
                key_id[0], key_id[1], key_id[2], key_id[3]
            ),
            Self::Tampered => f.write_str("the sealed payload does not authenticate (changed, or of another author)"),
            Self::NotEncrypted => f.write_str("the event is not encrypted"),
        }
    }
}

impl core::error::Error for DecryptError {}

/// The length of the sealed payload of a `plaintext_len`-byte plaintext.
pub const fn sealed_len(plaintext_len: usize) -> usize {
    plaintext_len + OVERHEAD
}

/// The additional data: the author, then the payload's version and key id.
fn associated_data(author: &AuthorId, head: &[u8]) -> [u8; 32 + 1 + KEY_ID_LEN] {
    let mut aad = [0; 32 + 1 + KEY_ID_LEN];
    aad[..32].copy_from_slice(&author.0);
    aad[32..].copy_from_slice(&head[..1 + KEY_ID_LEN]);
    aad
}

/// Seals `plaintext` for an event of `author` with `secret`, appending the sealed payload
/// ([`sealed_len`] bytes) to `out`. `random` must be 24 bytes from a random number generator
/// (see the module docs for why a bad one does limited harm). A plaintext longer than
/// [`MAX_PLAINTEXT_LEN`] is refused, and `out` is left as it was.
pub fn seal(
    secret: &SpaceSecret,
    author: &AuthorId,
    plaintext: &[u8],
    random: &[u8; 24],
    out: &mut Vec<u8>,
) -> Result<(), SealError> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(SealError::TooLong { len: plaintext.len() });
    }
    let mut nonce_hasher = blake3::Hasher::new_keyed(&secret.keys.nonce);
    nonce_hasher.update(random);
    nonce_hasher.update(&author.0);
    nonce_hasher.update(plaintext);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&nonce_hasher.finalize().as_bytes()[..NONCE_LEN]);

    let start = out.len();
    out.reserve(sealed_len(plaintext.len()));
    out.push(SEAL_VERSION);
    out.extend_from_slice(&secret.keys.id);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let aad = associated_data(author, &out[start..]);
    let cipher = XChaCha20Poly1305::new(&secret.keys.payload.into());
    let body = &mut out[start + HEADER_LEN..];
    // The only error is a message longer than XChaCha allows (256 GiB), far above the limit
    // checked first.
    let tag = match cipher.encrypt_in_place_detached(&XNonce::from(nonce), &aad, body) {
        Ok(tag) => tag,
        Err(_) => unreachable!("XChaCha20-Poly1305 takes any message under 256 GiB"),
    };
    out.extend_from_slice(&tag);
    Ok(())
}

/// A sealed payload's parts: version and key id with the nonce, ciphertext, tag.
struct Parts<'a> {
    head: &'a [u8],
    ciphertext: &'a [u8],
    tag: &'a [u8],
}

/// The parts of a sealed payload whose header checks out for `secret`.
fn split<'a>(secret: &SpaceSecret, sealed: &'a [u8]) -> Result<Parts<'a>, DecryptError> {
    if sealed.len() < OVERHEAD {
        return Err(DecryptError::TooShort { len: sealed.len() });
    }
    if sealed[0] != SEAL_VERSION {
        return Err(DecryptError::UnknownVersion(sealed[0]));
    }
    let mut key_id = [0; KEY_ID_LEN];
    key_id.copy_from_slice(&sealed[1..1 + KEY_ID_LEN]);
    if key_id != secret.keys.id {
        return Err(DecryptError::OtherSecret { key_id });
    }
    let (head, rest) = sealed.split_at(HEADER_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    Ok(Parts { head, ciphertext, tag })
}

/// Opens a sealed payload of an event of `author` with `secret`, appending the plaintext to
/// `out`. On an error `out` is as it was.
pub fn open(secret: &SpaceSecret, author: &AuthorId, sealed: &[u8], out: &mut Vec<u8>) -> Result<(), DecryptError> {
    let Parts { head, ciphertext, tag } = split(secret, sealed)?;
    let aad = associated_data(author, head);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&head[1 + KEY_ID_LEN..]);
    let tag = Tag::from_slice(tag);
    let start = out.len();
    out.extend_from_slice(ciphertext);
    let cipher = XChaCha20Poly1305::new(&secret.keys.payload.into());
    match cipher.decrypt_in_place_detached(&XNonce::from(nonce), &aad, &mut out[start..], tag) {
        Ok(()) => Ok(()),
        Err(_) => {
            // Leave nothing of an unauthenticated message behind.
            out[start..].zeroize();
            out.truncate(start);
            Err(DecryptError::Tampered)
        }
    }
}

/// The key id a sealed payload carries, if it is long enough and of a known version: which
/// secret opens it, for a reader that holds several.
pub fn key_id_of(sealed: &[u8]) -> Option<[u8; 4]> {
    if sealed.len() < OVERHEAD || sealed[0] != SEAL_VERSION {
        return None;
    }
    let mut id = [0; KEY_ID_LEN];
    id.copy_from_slice(&sealed[1..1 + KEY_ID_LEN]);
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn the_sizes_on_every_boundary_round_trip() {
        let secret = SpaceSecret::from_bytes([3; 32]);
        let author = AuthorId([4; 32]);
        for n in [0usize, 1, 15, 16, 17, 63, 64, 65, 255, 256, 4096, 16_384] {
            let plain: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
            let mut sealed = Vec::new();
            seal(&secret, &author, &plain, &[n as u8; 24], &mut sealed).unwrap();
            assert_eq!(sealed.len(), sealed_len(n));
            assert_eq!(key_id_of(&sealed), Some(secret.key_id()));
            let mut out = vec![0xAA];
            open(&secret, &author, &sealed, &mut out).unwrap();
            assert_eq!(&out[1..], &plain[..], "{n} bytes");
        }
    }

    #[test]
    fn the_header_is_checked_before_the_tag() {
        let secret = SpaceSecret::from_bytes([3; 32]);
        let author = AuthorId([4; 32]);
        let mut sealed = Vec::new();
        seal(&secret, &author, b"x", &[0; 24], &mut sealed).unwrap();
        let mut out = Vec::new();
        assert_eq!(open(&secret, &author, &sealed[..OVERHEAD - 1], &mut out), Err(DecryptError::TooShort { len: 44 }));
        let mut v2 = sealed.clone();
        v2[0] = 2;
        assert_eq!(open(&secret, &author, &v2, &mut out), Err(DecryptError::UnknownVersion(2)));
        let mut other_id = sealed.clone();
        other_id[1] ^= 1;
        assert!(matches!(open(&secret, &author, &other_id, &mut out), Err(DecryptError::OtherSecret { .. })));
        assert!(out.is_empty());
    }

    #[test]
    fn the_text_form_reads_either_case_and_says_what_is_wrong() {
        let secret = SpaceSecret::from_bytes([0xAB; 32]);
        let text = "ab".repeat(32);
        assert_eq!(SpaceSecret::from_hex(&alloc::format!("  {}\n", text.to_uppercase())), Ok(secret));
        assert_eq!(SpaceSecret::from_hex("abc"), Err(ParseSecretError::WrongLength { chars: 3 }));
        assert_eq!(SpaceSecret::from_hex(&"a".repeat(66)), Err(ParseSecretError::WrongLength { chars: 66 }));
        let mut bad = text.clone();
        bad.replace_range(10..11, "g");
        assert_eq!(SpaceSecret::from_hex(&bad), Err(ParseSecretError::NotHex { at: 10 }));
        assert_eq!(SpaceSecret::from_hex(&"é".repeat(32)), Err(ParseSecretError::NotHex { at: 0 }));
    }

    #[test]
    fn a_plaintext_too_long_for_an_event_is_refused() {
        let secret = SpaceSecret::from_bytes([3; 32]);
        let author = AuthorId([4; 32]);
        let mut out = vec![7];
        let longest = vec![0u8; MAX_PLAINTEXT_LEN];
        seal(&secret, &author, &longest, &[0; 24], &mut out).unwrap();
        assert_eq!(out.len() - 1, MAX_PAYLOAD_LEN as usize, "the longest fills an event exactly");
        out.truncate(1);
        let too_long = vec![0u8; MAX_PLAINTEXT_LEN + 1];
        assert_eq!(
            seal(&secret, &author, &too_long, &[0; 24], &mut out),
            Err(SealError::TooLong { len: too_long.len() })
        );
        assert_eq!(out, [7]);
    }

    #[test]
    fn debug_shows_the_key_id_only() {
        let secret = SpaceSecret::from_bytes([0x5A; 32]);
        let shown = alloc::format!("{secret:?}");
        assert!(shown.starts_with("SpaceSecret { key_id: "), "{shown}");
        assert!(!shown.contains("5a5a"), "{shown}");
    }
}
