//! Authors and signed heads.
//!
//! A signed head says "the feed of `author` has `length` events and its MMR root is
//! `root`", signed with the author's ed25519 key. A peer accepts events of a feed only
//! when they extend its verified prefix up to a signed head.
//!
//! The signed message is the 18-byte context `b"xaeroflux head v1\0"` followed by the
//! 73 bytes author ‖ length (u64 LE) ‖ root, so a head signature can never be replayed
//! as a signature over anything else the author signs.

use core::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::hash::Hash;

/// An author: the 32-byte ed25519 public key that owns a feed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(transparent)]
pub struct AuthorId(pub [u8; 32]);

impl AuthorId {
    /// The key bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for AuthorId {
    /// Lower-case hexadecimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Hash(self.0), f)
    }
}

impl fmt::Debug for AuthorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorId({self})")
    }
}

/// An author's secret key. The core never makes randomness: the host passes in the 32
/// secret bytes (from its own RNG, or from storage).
#[derive(Clone)]
pub struct AuthorKey {
    signing: SigningKey,
}

impl AuthorKey {
    /// The key for 32 secret bytes (an ed25519 seed).
    pub fn from_secret_bytes(secret: &[u8; 32]) -> AuthorKey {
        AuthorKey { signing: SigningKey::from_bytes(secret) }
    }
    /// The 32 secret bytes, for the host to persist.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }
    /// The public half.
    pub fn author(&self) -> AuthorId {
        AuthorId(self.signing.verifying_key().to_bytes())
    }
    /// Signs the head `(self.author(), length, root)`.
    pub fn sign_head(&self, length: u64, root: Hash) -> SignedHead {
        let author = self.author();
        let msg = head_message(&author, length, &root);
        let signature = self.signing.sign(&msg).to_bytes();
        SignedHead { author, length, root, signature }
    }
}

impl fmt::Debug for AuthorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorKey({}, secret hidden)", self.author())
    }
}

const HEAD_CONTEXT: &[u8; 18] = b"xaeroflux head v1\0";
const HEAD_MESSAGE_LEN: usize = 18 + 32 + 8 + 32;

fn head_message(author: &AuthorId, length: u64, root: &Hash) -> [u8; HEAD_MESSAGE_LEN] {
    let mut m = [0u8; HEAD_MESSAGE_LEN];
    m[..18].copy_from_slice(HEAD_CONTEXT);
    m[18..50].copy_from_slice(&author.0);
    m[50..58].copy_from_slice(&length.to_le_bytes());
    m[58..90].copy_from_slice(&root.0);
    m
}

/// Format version of an encoded signed head.
pub const HEAD_VERSION: u8 = 1;
/// Length of an encoded signed head: version, author, length, root, signature.
pub const SIGNED_HEAD_LEN: usize = 1 + 32 + 8 + 32 + 64;

/// `(author, length, root)` and the author's signature over it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignedHead {
    /// The feed's author.
    pub author: AuthorId,
    /// Number of events in the feed.
    pub length: u64,
    /// MMR root over the feed's `length` events.
    pub root: Hash,
    /// ed25519 signature of the author over the head message.
    pub signature: [u8; 64],
}

impl fmt::Debug for SignedHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedHead")
            .field("author", &self.author)
            .field("length", &self.length)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Why a signed head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    /// The bytes are not `SIGNED_HEAD_LEN` long.
    BadLength(usize),
    /// A version this crate does not read.
    BadVersion(u8),
    /// The author bytes are not a valid ed25519 public key.
    BadAuthorKey,
    /// The signature does not verify under the author's key.
    BadSignature,
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength(n) => write!(f, "signed head must be {SIGNED_HEAD_LEN} bytes, got {n}"),
            Self::BadVersion(v) => write!(f, "unsupported signed head version {v}"),
            Self::BadAuthorKey => f.write_str("author is not a valid ed25519 public key"),
            Self::BadSignature => f.write_str("signed head signature does not verify"),
        }
    }
}

impl core::error::Error for HeadError {}

impl SignedHead {
    /// Checks the signature (strict ed25519 verification: no malleable signatures, no
    /// small-order keys).
    pub fn verify(&self) -> Result<(), HeadError> {
        let key = VerifyingKey::from_bytes(&self.author.0).map_err(|_| HeadError::BadAuthorKey)?;
        let sig = Signature::from_bytes(&self.signature);
        let msg = head_message(&self.author, self.length, &self.root);
        key.verify_strict(&msg, &sig).map_err(|_| HeadError::BadSignature)
    }

    /// The 137-byte encoding: version ‖ author ‖ length (u64 LE) ‖ root ‖ signature.
    pub fn encode(&self) -> [u8; SIGNED_HEAD_LEN] {
        let mut out = [0u8; SIGNED_HEAD_LEN];
        out[0] = HEAD_VERSION;
        out[1..33].copy_from_slice(&self.author.0);
        out[33..41].copy_from_slice(&self.length.to_le_bytes());
        out[41..73].copy_from_slice(&self.root.0);
        out[73..].copy_from_slice(&self.signature);
        out
    }

    /// Decodes the encoding of [`SignedHead::encode`]. This does not check the
    /// signature: call [`SignedHead::verify`].
    pub fn decode(bytes: &[u8]) -> Result<SignedHead, HeadError> {
        let b: &[u8; SIGNED_HEAD_LEN] = bytes.try_into().map_err(|_| HeadError::BadLength(bytes.len()))?;
        if b[0] != HEAD_VERSION {
            return Err(HeadError::BadVersion(b[0]));
        }
        let mut author = [0u8; 32];
        author.copy_from_slice(&b[1..33]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&b[33..41]);
        let mut root = [0u8; 32];
        root.copy_from_slice(&b[41..73]);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&b[73..]);
        Ok(SignedHead { author: AuthorId(author), length: u64::from_le_bytes(len), root: Hash(root), signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip() {
        let key = AuthorKey::from_secret_bytes(&[3; 32]);
        let head = key.sign_head(10, Hash([5; 32]));
        head.verify().unwrap();
        let dec = SignedHead::decode(&head.encode()).unwrap();
        assert_eq!(dec, head);
        dec.verify().unwrap();
    }

    #[test]
    fn any_flipped_bit_fails() {
        let key = AuthorKey::from_secret_bytes(&[4; 32]);
        let enc = key.sign_head(7, Hash([1; 32])).encode();
        for bit in 8..SIGNED_HEAD_LEN * 8 {
            let mut b = enc;
            b[bit / 8] ^= 1 << (bit % 8);
            let h = SignedHead::decode(&b).unwrap();
            assert!(h.verify().is_err(), "bit {bit}");
        }
        assert_eq!(SignedHead::decode(&enc[..10]), Err(HeadError::BadLength(10)));
    }
}
