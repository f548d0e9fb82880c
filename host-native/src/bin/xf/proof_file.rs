//! The proof file `xf prove` writes and `xf verify` checks: one JSON object, so it can be
//! mailed, pasted or inspected, carrying three binary pieces in hex, each in its own
//! versioned little-endian encoding from `xaeroflux-core`:
//!
//! ```json
//! { "format": "xaeroflux-inclusion-proof", "version": 1,
//!   "author": "<64 hex>", "seq": 3, "leaves": 10, "root": "<64 hex>",   // for people; checked
//!   "event": "<hex of the encoded event>",                              // EventRef::parse
//!   "proof": "<hex of InclusionProof::encode>",
//!   "head":  "<hex of SignedHead::encode: author, length, root, signature>" }
//! ```
//!
//! Verification trusts only the binary pieces: the readable fields must agree with them or
//! the file is refused, so a reader is never shown one thing while another is checked.

use std::fmt;

use serde::Serialize;
use serde_json::Value;
use xaeroflux_core::mmr::{InclusionProof, ProofDecodeError, ProofError};
use xaeroflux_core::{Event, EventRef, Hash, SignedHead, event::EventDecodeError, head::HeadError};

use crate::output::{author_hex, hash_hex, hex};

/// The `format` field.
pub const FORMAT: &str = "xaeroflux-inclusion-proof";
/// The `version` field this tool writes and reads.
pub const VERSION: u64 = 1;

/// A decoded proof file: the event, its inclusion proof and the signed head it was made for.
pub struct ProofFile {
    /// The proven event.
    pub event: Event,
    /// Its inclusion proof in the feed of `proof.leaves` events.
    pub proof: InclusionProof,
    /// The author's signed head at that length.
    pub head: SignedHead,
}

/// Why a proof file could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProofFileError {
    /// Not JSON.
    Json(serde_json::Error),
    /// Not a JSON object with the `format` field of a proof file.
    NotAProof,
    /// A version this tool does not read.
    Version(u64),
    /// A field is missing or has the wrong JSON type.
    Field(&'static str),
    /// A hex field is not hex.
    Hex(&'static str),
    /// The event bytes do not decode.
    Event(EventDecodeError),
    /// The proof bytes do not decode.
    Proof(ProofDecodeError),
    /// The head bytes do not decode.
    Head(HeadError),
    /// A readable field disagrees with the binary pieces.
    Mismatch(&'static str),
}

impl fmt::Display for ProofFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "not a proof file (invalid JSON: {e})"),
            Self::NotAProof => write!(f, "not a proof file (no \"format\": \"{FORMAT}\")"),
            Self::Version(v) => write!(f, "proof file version {v} is not supported (this xf reads {VERSION})"),
            Self::Field(name) => write!(f, "proof file field \"{name}\" is missing or has the wrong type"),
            Self::Hex(name) => write!(f, "proof file field \"{name}\" is not valid hex"),
            Self::Event(e) => write!(f, "proof file event is malformed: {e}"),
            Self::Proof(e) => write!(f, "proof file inclusion proof is malformed: {e}"),
            Self::Head(e) => write!(f, "proof file signed head is malformed: {e}"),
            Self::Mismatch(name) => write!(f, "proof file field \"{name}\" disagrees with the signed data"),
        }
    }
}

impl std::error::Error for ProofFileError {}

/// Why a well-formed proof does not prove what it claims.
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// The signed head's signature does not verify.
    Head(HeadError),
    /// The head is of another author than the event.
    AuthorMismatch,
    /// The proof is for another leaf than the event's seq.
    SeqMismatch {
        /// The event's seq.
        seq: u64,
        /// The proof's leaf index.
        leaf_index: u64,
    },
    /// The proof is for another feed length than the head (or the root given) states.
    LengthMismatch {
        /// The proof's feed length.
        proof: u64,
        /// The head's.
        head: u64,
    },
    /// The Merkle path does not lead to the trusted root.
    Path(ProofError),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Head(e) => write!(f, "the signed head is not valid: {e}"),
            Self::AuthorMismatch => f.write_str("the signed head is of another author than the event"),
            Self::SeqMismatch { seq, leaf_index } => {
                write!(f, "the proof is for event #{leaf_index}, but the event is #{seq}")
            }
            Self::LengthMismatch { proof, head } => write!(
                f,
                "the proof is for a feed of {proof} events but the head is for {head} (make a proof against that head)"
            ),
            Self::Path(e) => write!(f, "the event is not in the feed under this root: {e}"),
        }
    }
}

impl std::error::Error for Rejection {}

/// The proof file, as written (fields in this order).
#[derive(Serialize)]
pub struct ProofJson {
    format: &'static str,
    version: u64,
    author: String,
    seq: u64,
    leaves: u64,
    root: String,
    event: String,
    proof: String,
    head: String,
}

/// The proof file JSON for `event`, `proof` and `head`.
pub fn encode(event: &EventRef<'_>, proof: &InclusionProof, head: &SignedHead) -> ProofJson {
    ProofJson {
        format: FORMAT,
        version: VERSION,
        author: author_hex(&event.author()),
        seq: event.seq(),
        leaves: proof.leaves,
        root: hash_hex(&head.root),
        event: hex(event.encoded()),
        proof: hex(&proof.encode()),
        head: hex(&head.encode()),
    }
}

fn str_field<'a>(v: &'a Value, name: &'static str) -> Result<&'a str, ProofFileError> {
    v.get(name).and_then(Value::as_str).ok_or(ProofFileError::Field(name))
}

fn u64_field(v: &Value, name: &'static str) -> Result<u64, ProofFileError> {
    v.get(name).and_then(Value::as_u64).ok_or(ProofFileError::Field(name))
}

fn hex_field(v: &Value, name: &'static str) -> Result<Vec<u8>, ProofFileError> {
    hex::decode(str_field(v, name)?.trim()).map_err(|_| ProofFileError::Hex(name))
}

/// Parses and cross-checks a proof file (no cryptographic verification: see [`verify`]).
pub fn decode(text: &str) -> Result<ProofFile, ProofFileError> {
    let v: Value = serde_json::from_str(text).map_err(ProofFileError::Json)?;
    if v.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(ProofFileError::NotAProof);
    }
    let version = u64_field(&v, "version")?;
    if version != VERSION {
        return Err(ProofFileError::Version(version));
    }
    let event = Event::from_bytes(hex_field(&v, "event")?).map_err(ProofFileError::Event)?;
    let proof = InclusionProof::decode(&hex_field(&v, "proof")?).map_err(ProofFileError::Proof)?;
    let head = SignedHead::decode(&hex_field(&v, "head")?).map_err(ProofFileError::Head)?;
    if str_field(&v, "author")? != author_hex(&event.author()) {
        return Err(ProofFileError::Mismatch("author"));
    }
    if u64_field(&v, "seq")? != event.seq() {
        return Err(ProofFileError::Mismatch("seq"));
    }
    if u64_field(&v, "leaves")? != proof.leaves {
        return Err(ProofFileError::Mismatch("leaves"));
    }
    if Hash::from_hex(str_field(&v, "root")?) != Some(head.root) {
        return Err(ProofFileError::Mismatch("root"));
    }
    Ok(ProofFile { event, proof, head })
}

/// What the proof is checked against.
pub enum Trust {
    /// A root the user trusts (from `xf root` on their own store, or from a friend).
    Root(Hash),
    /// A signed head (its signature is checked; it must be the event author's).
    Head(SignedHead),
}

/// Checks the proof file against `trust`: the event's leaf hash, through the Merkle path,
/// must give the trusted root, for the event's own seq and author.
pub fn verify(file: &ProofFile, trust: &Trust) -> Result<(), Rejection> {
    let ev = file.event.as_ref();
    if file.proof.leaf_index != ev.seq() {
        return Err(Rejection::SeqMismatch { seq: ev.seq(), leaf_index: file.proof.leaf_index });
    }
    let root = match trust {
        Trust::Root(root) => *root,
        Trust::Head(head) => {
            head.verify().map_err(Rejection::Head)?;
            if head.author != ev.author() {
                return Err(Rejection::AuthorMismatch);
            }
            if head.length != file.proof.leaves {
                return Err(Rejection::LengthMismatch { proof: file.proof.leaves, head: head.length });
            }
            head.root
        }
    };
    file.proof.verify(&ev.leaf_hash(), &root).map_err(Rejection::Path)
}
