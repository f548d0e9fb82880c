//! Checking events and heads received from elsewhere.

use core::fmt;

use xaeroflux_core::head::HeadError;
use xaeroflux_core::mmr::{ConsistencyProof, InclusionProof, ProofError};
use xaeroflux_core::{EventRef, SignedHead};

/// Why an event, a proof or a head did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signed head's signature does not verify.
    BadHead(HeadError),
    /// The event (or the older head) is not by the head's author.
    WrongAuthor,
    /// The proof is for another leaf or feed length than the event and head say.
    Mismatch {
        /// What the proof says (leaf index, or length).
        proof: u64,
        /// What the event or head says.
        expected: u64,
    },
    /// The Merkle proof does not lead to the head's root.
    Proof(ProofError),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadHead(e) => write!(f, "signed head: {e}"),
            Self::WrongAuthor => f.write_str("not by the head's author"),
            Self::Mismatch { proof, expected } => write!(f, "proof is for {proof}, expected {expected}"),
            Self::Proof(e) => write!(f, "proof does not verify: {e}"),
        }
    }
}

impl core::error::Error for VerifyError {}

/// Checks that `event` is in its author's feed as signed by `head`: the head's signature, that
/// the proof is for this event's seq and the head's length, and the Merkle path to the root.
pub fn verify_event(event: &EventRef<'_>, proof: &InclusionProof, head: &SignedHead) -> Result<(), VerifyError> {
    head.verify().map_err(VerifyError::BadHead)?;
    if event.author() != head.author {
        return Err(VerifyError::WrongAuthor);
    }
    if proof.leaf_index != event.seq() {
        return Err(VerifyError::Mismatch { proof: proof.leaf_index, expected: event.seq() });
    }
    if proof.leaves != head.length {
        return Err(VerifyError::Mismatch { proof: proof.leaves, expected: head.length });
    }
    proof.verify(&event.leaf_hash(), &head.root).map_err(VerifyError::Proof)
}

/// Checks that the feed signed by `old` is a prefix of the feed signed by `new` (same author,
/// both signatures valid). A failure between two valid heads is evidence of a fork.
pub fn verify_consistency(old: &SignedHead, new: &SignedHead, proof: &ConsistencyProof) -> Result<(), VerifyError> {
    old.verify().map_err(VerifyError::BadHead)?;
    new.verify().map_err(VerifyError::BadHead)?;
    if old.author != new.author {
        return Err(VerifyError::WrongAuthor);
    }
    if proof.old_leaves != old.length {
        return Err(VerifyError::Mismatch { proof: proof.old_leaves, expected: old.length });
    }
    if proof.new_leaves != new.length {
        return Err(VerifyError::Mismatch { proof: proof.new_leaves, expected: new.length });
    }
    proof.verify(&old.root, &new.root).map_err(VerifyError::Proof)
}
