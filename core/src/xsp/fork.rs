//! Fork evidence: two signed heads of one author that cannot both be true.

use alloc::vec::Vec;
use core::fmt;

use super::codec::DecodeError;
use super::message::{Fork, Message, ty};
use crate::head::SignedHead;
use crate::mmr::ConsistencyProof;

/// Evidence that an author signed two histories. Anyone can check it with
/// [`ForkEvidence::verify`], without holding the feed.
///
/// ```
/// use xaeroflux_core::{AuthorKey, Hash};
/// use xaeroflux_core::xsp::ForkEvidence;
///
/// let key = AuthorKey::from_secret_bytes(&[1; 32]);
/// let a = key.sign_head(3, Hash([1; 32]));
/// let b = key.sign_head(3, Hash([2; 32]));
/// let evidence = ForkEvidence { first: a, second: b, proof: None };
/// assert!(evidence.verify().is_ok());
/// assert!(ForkEvidence { first: a, second: a, proof: None }.verify().is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ForkEvidence {
    /// One head.
    pub first: SignedHead,
    /// The other head of the same author.
    pub second: SignedHead,
    /// For heads of different lengths: a consistency proof from the shorter length to the
    /// longer that checks out against the longer head's root but implies a different root
    /// for the shorter length.
    pub proof: Option<ConsistencyProof>,
}

impl fmt::Debug for ForkEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForkEvidence")
            .field("author", &self.first.author)
            .field("first", &(self.first.length, self.first.root))
            .field("second", &(self.second.length, self.second.root))
            .field("proof", &self.proof.is_some())
            .finish()
    }
}

/// Why fork evidence proves nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForkEvidenceError {
    /// The heads have different authors.
    DifferentAuthors,
    /// A head signature does not verify.
    BadSignature,
    /// Same length and same root: no fork.
    SameHead,
    /// Different lengths but no proof.
    MissingProof,
    /// Same length but a proof was given.
    UnexpectedProof,
    /// The proof is not for the two lengths.
    WrongSizes,
    /// The proof does not check out against the longer head.
    ProofFails,
    /// The proof shows the shorter head is a prefix of the longer: no fork.
    Consistent,
}

impl fmt::Display for ForkEvidenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DifferentAuthors => "the heads have different authors",
            Self::BadSignature => "a head signature does not verify",
            Self::SameHead => "the heads are equal",
            Self::MissingProof => "heads of different lengths need a consistency proof",
            Self::UnexpectedProof => "heads of one length need no proof",
            Self::WrongSizes => "the proof is not for the two lengths",
            Self::ProofFails => "the proof does not check out against the longer head",
            Self::Consistent => "the shorter head is a prefix of the longer one",
        })
    }
}

impl core::error::Error for ForkEvidenceError {}

impl ForkEvidence {
    /// The evidence an older head and a newer head of its author make when the newer head's
    /// consistency proof from the older length (as a peer answers a PROOF_REQUEST of kind 2)
    /// implies another root there: `older`, `newer` and the proof (none for heads of one
    /// length: two roots signed for one length are the fork). `None` if that proves no fork
    /// ([`verify`](Self::verify) refuses it).
    pub fn from_consistency(older: SignedHead, newer: SignedHead, proof: ConsistencyProof) -> Option<ForkEvidence> {
        let proof = (newer.length != older.length).then_some(proof);
        let evidence = ForkEvidence { first: older, second: newer, proof };
        evidence.verify().is_ok().then_some(evidence)
    }

    /// The author who forked.
    pub fn author(&self) -> crate::head::AuthorId {
        self.first.author
    }

    /// Checks that the evidence proves a fork.
    pub fn verify(&self) -> Result<(), ForkEvidenceError> {
        let (a, b) = (&self.first, &self.second);
        if a.author != b.author {
            return Err(ForkEvidenceError::DifferentAuthors);
        }
        a.verify().map_err(|_| ForkEvidenceError::BadSignature)?;
        b.verify().map_err(|_| ForkEvidenceError::BadSignature)?;
        if a.length == b.length {
            if self.proof.is_some() {
                return Err(ForkEvidenceError::UnexpectedProof);
            }
            return if a.root != b.root { Ok(()) } else { Err(ForkEvidenceError::SameHead) };
        }
        let (short, long) = if a.length < b.length { (a, b) } else { (b, a) };
        let proof = self.proof.as_ref().ok_or(ForkEvidenceError::MissingProof)?;
        if proof.old_leaves != short.length || proof.new_leaves != long.length {
            return Err(ForkEvidenceError::WrongSizes);
        }
        let implied = proof.prefix_root(&long.root).map_err(|_| ForkEvidenceError::ProofFails)?;
        if implied == short.root { Err(ForkEvidenceError::Consistent) } else { Ok(()) }
    }

    /// The encoded proof (empty if none), as sent in FORK.
    pub fn proof_bytes(&self) -> Vec<u8> {
        self.proof.as_ref().map(|p| p.encode()).unwrap_or_default()
    }

    /// Encodes the evidence as the body of a FORK message (docs/xsp.md): both signed head
    /// entries, then the proof as `bytes`. Stores persist evidence in this form.
    ///
    /// ```
    /// use xaeroflux_core::{AuthorKey, Hash};
    /// use xaeroflux_core::xsp::ForkEvidence;
    ///
    /// let key = AuthorKey::from_secret_bytes(&[1; 32]);
    /// let e = ForkEvidence { first: key.sign_head(3, Hash([1; 32])), second: key.sign_head(3, Hash([2; 32])), proof: None };
    /// assert_eq!(ForkEvidence::decode(&e.encode()), Ok(e));
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let proof = self.proof_bytes();
        let mut out = Vec::new();
        Message::Fork(Fork { first: self.first, second: self.second, proof: &proof }).encode(&mut out);
        out.remove(0); // the type byte
        out
    }

    /// Decodes [`encode`](Self::encode)'s bytes (the evidence is not checked: call
    /// [`verify`](Self::verify)).
    pub fn decode(bytes: &[u8]) -> Result<ForkEvidence, DecodeError> {
        let mut frame = Vec::with_capacity(bytes.len() + 1);
        frame.push(ty::FORK);
        frame.extend_from_slice(bytes);
        let Message::Fork(f) = Message::decode(&frame)? else {
            return Err(DecodeError::UnknownType(ty::FORK));
        };
        let proof = if f.proof.is_empty() {
            None
        } else {
            let p = ConsistencyProof::decode(f.proof)
                .map_err(|_| DecodeError::OutOfRange { field: "fork.proof", value: f.proof.len() as u64 })?;
            Some(p)
        };
        Ok(ForkEvidence { first: f.first, second: f.second, proof })
    }
}
