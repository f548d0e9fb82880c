//! Proof files: an event, its inclusion proof and the signed head it is proved against, in
//! one JSON object that can be mailed, pasted or inspected.
//!
//! `xf prove` writes them and `xf verify` checks them; the browser package's `store.prove()`
//! and `verifyProof()` do the same, so a proof made on either side verifies on the other.
//! This module is the one definition of the format both hosts use: which fields it has,
//! how they must agree, and how a proof is checked. The JSON itself is read and written by
//! the host (serde_json natively, `JSON.parse` in the browser), which hands the fields over
//! as [`ProofFields`].
//!
//! ```json
//! { "format": "xaeroflux-inclusion-proof", "version": 1,
//!   "author": "<64 hex>", "seq": 3, "leaves": 10, "root": "<64 hex>",
//!   "event": "<hex: encoded event>", "proof": "<hex: inclusion proof>",
//!   "head": "<hex: signed head>" }
//! ```
//!
//! `event`, `proof` and `head` are the binary pieces, each in its own versioned encoding
//! (`docs/formats.md`). Verification trusts only them: the readable fields (`author`, `seq`,
//! `leaves`, `root`) must agree with them or [`decode`] refuses the file, so nobody is shown
//! one thing while another is checked.
//!
//! # Example
//!
//! ```
//! use xaeroflux_core::mmr::Mmr;
//! use xaeroflux_core::proof_file::{self, FieldValue, ProofFields, Trust};
//! use xaeroflux_core::{AuthorKey, Event, EventFlags};
//!
//! let key = AuthorKey::from_secret_bytes(&[7; 32]);
//! let mut mmr = Mmr::new();
//! let events: Vec<Event> =
//!     (0..5).map(|s| Event::new(key.author(), s, 1_000 + s, 1, EventFlags::NONE, b"hi")).collect();
//! for e in &events {
//!     mmr.append(e.leaf_hash());
//! }
//! let head = key.sign_head(5, mmr.root());
//! let proof = mmr.inclusion_proof(3).expect("3 < 5");
//!
//! // What a host writes as JSON, and reads back as fields.
//! let written = proof_file::encode(&events[3].as_ref(), &proof, &head);
//! let text = |name: &str| {
//!     written.iter().find(|(n, _)| *n == name).and_then(|(_, v)| match v {
//!         FieldValue::Str(s) => Some(s.as_str()),
//!         FieldValue::Num(_) => None,
//!     })
//! };
//! let number = |name: &str| {
//!     written.iter().find(|(n, _)| *n == name).and_then(|(_, v)| match v {
//!         FieldValue::Num(n) => Some(*n),
//!         FieldValue::Str(_) => None,
//!     })
//! };
//! let fields = ProofFields::from_lookup(text, number);
//! let file = proof_file::decode(&fields)?;
//! proof_file::verify(&file, &Trust::default())?; // against the file's own signed head
//! assert_eq!(file.event.as_ref().payload(), b"hi");
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::event::EventDecodeError;
use crate::head::HeadError;
use crate::hex::{decode as unhex, encode as hex};
use crate::mmr::{InclusionProof, ProofDecodeError, ProofError};
use crate::{AuthorId, Event, EventRef, Hash, SignedHead};

/// The `format` field.
pub const FORMAT: &str = "xaeroflux-inclusion-proof";
/// The `version` field written and read.
pub const VERSION: u64 = 1;

/// The fields of a proof file as the host's JSON parser found them, before any check.
///
/// A field that is missing, or of another JSON type (a number that is not a whole number
/// from 0 to 2^64 − 1, for the numeric ones), is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProofFields<'a> {
    /// `format`: must be [`FORMAT`].
    pub format: Option<&'a str>,
    /// `version`: must be [`VERSION`].
    pub version: Option<u64>,
    /// `author`: hex of the event's author.
    pub author: Option<&'a str>,
    /// `seq`: the event's seq.
    pub seq: Option<u64>,
    /// `leaves`: the length of the feed the proof is for.
    pub leaves: Option<u64>,
    /// `root`: hex of the signed head's root.
    pub root: Option<&'a str>,
    /// `event`: hex of the encoded event.
    pub event: Option<&'a str>,
    /// `proof`: hex of the encoded inclusion proof.
    pub proof: Option<&'a str>,
    /// `head`: hex of the encoded signed head.
    pub head: Option<&'a str>,
}

/// The fields of a proof file in the order a file lists them, each with whether it is a
/// JSON number (otherwise a string).
pub const FIELDS: [(&str, bool); 9] = [
    ("format", false),
    ("version", true),
    ("author", false),
    ("seq", true),
    ("leaves", true),
    ("root", false),
    ("event", false),
    ("proof", false),
    ("head", false),
];

impl<'a> ProofFields<'a> {
    /// The fields a host's parsed JSON holds, given a lookup of its string fields and one of
    /// its numeric fields (each `None` where the field is missing or of another type).
    pub fn from_lookup(text: impl Fn(&str) -> Option<&'a str>, number: impl Fn(&str) -> Option<u64>) -> Self {
        ProofFields {
            format: text("format"),
            version: number("version"),
            author: text("author"),
            seq: number("seq"),
            leaves: number("leaves"),
            root: text("root"),
            event: text("event"),
            proof: text("proof"),
            head: text("head"),
        }
    }
}

/// A value of a proof file field, as [`encode`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// A JSON string.
    Str(String),
    /// A JSON number (every seq and length a store can hold is below 2^53, so it survives
    /// JavaScript's numbers).
    Num(u64),
}

/// A decoded proof file whose readable fields agree with its binary pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofFile {
    /// The proven event.
    pub event: Event,
    /// Its inclusion proof in the feed of `proof.leaves` events.
    pub proof: InclusionProof,
    /// The author's signed head the proof was made against.
    pub head: SignedHead,
}

/// Why a proof file could not be decoded ([`decode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofFileError {
    /// Not an object with `"format": "xaeroflux-inclusion-proof"`.
    NotAProof,
    /// A version this code does not read.
    Version(u64),
    /// A field is missing or has the wrong type.
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
            Self::NotAProof => write!(f, "not a proof file (no \"format\": \"{FORMAT}\")"),
            Self::Version(v) => write!(f, "proof file version {v} is not supported (version {VERSION} is)"),
            Self::Field(name) => write!(f, "proof file field \"{name}\" is missing or has the wrong type"),
            Self::Hex(name) => write!(f, "proof file field \"{name}\" is not valid hex"),
            Self::Event(e) => write!(f, "proof file event is malformed: {e}"),
            Self::Proof(e) => write!(f, "proof file inclusion proof is malformed: {e}"),
            Self::Head(e) => write!(f, "proof file signed head is malformed: {e}"),
            Self::Mismatch(name) => write!(f, "proof file field \"{name}\" disagrees with the signed data"),
        }
    }
}

impl core::error::Error for ProofFileError {}

/// Why a well-formed proof does not prove what it claims ([`verify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The signed head's signature does not verify.
    Head(HeadError),
    /// The head is of another author than the event.
    AuthorMismatch,
    /// The event is not by the author the caller expected.
    UnexpectedAuthor {
        /// The author the caller trusts.
        expected: AuthorId,
        /// The event's author.
        found: AuthorId,
    },
    /// The proof is for another leaf than the event's seq.
    SeqMismatch {
        /// The event's seq.
        seq: u64,
        /// The proof's leaf index.
        leaf_index: u64,
    },
    /// The proof is for another feed length than the head states.
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
            Self::UnexpectedAuthor { expected, found } => {
                write!(f, "the event is by {found}, not by the expected author {expected}")
            }
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

impl core::error::Error for Rejection {}

/// What a proof is checked against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Anchor {
    /// The signed head in the file itself: its signature must verify, it must be the event
    /// author's and for the proof's length. Who signed is then the event's author, so check
    /// that author is who you expect (or set [`Trust::author`]).
    #[default]
    FileHead,
    /// A signed head the caller trusts (from the author's `xf head`, say), checked as the
    /// file's would be.
    Head(SignedHead),
    /// An MMR root the caller trusts (from `xf root` on the author's store, or a friend).
    Root(Hash),
}

/// What the caller trusts beyond the file's binary pieces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trust {
    /// The root or head the proof must lead to.
    pub anchor: Anchor,
    /// Require the event to be by this author.
    pub author: Option<AuthorId>,
}

impl Trust {
    /// The root a proof of `file` is checked against under this trust.
    pub fn root(&self, file: &ProofFile) -> Hash {
        match &self.anchor {
            Anchor::FileHead => file.head.root,
            Anchor::Head(head) => head.root,
            Anchor::Root(root) => *root,
        }
    }
}

/// The fields of the proof file of `event`, proved by `proof` against `head`, in the order
/// a file lists them.
pub fn encode(event: &EventRef<'_>, proof: &InclusionProof, head: &SignedHead) -> [(&'static str, FieldValue); 9] {
    [
        ("format", FieldValue::Str(FORMAT.into())),
        ("version", FieldValue::Num(VERSION)),
        ("author", FieldValue::Str(hex(event.author().as_bytes()))),
        ("seq", FieldValue::Num(event.seq())),
        ("leaves", FieldValue::Num(proof.leaves)),
        ("root", FieldValue::Str(hex(head.root.as_bytes()))),
        ("event", FieldValue::Str(hex(event.encoded()))),
        ("proof", FieldValue::Str(hex(&proof.encode()))),
        ("head", FieldValue::Str(hex(&head.encode()))),
    ]
}

/// Decodes a proof file's binary pieces and checks its readable fields against them (no
/// cryptographic verification: see [`verify`]).
pub fn decode(f: &ProofFields<'_>) -> Result<ProofFile, ProofFileError> {
    if f.format != Some(FORMAT) {
        return Err(ProofFileError::NotAProof);
    }
    let version = f.version.ok_or(ProofFileError::Field("version"))?;
    if version != VERSION {
        return Err(ProofFileError::Version(version));
    }
    let event = Event::from_bytes(bytes(f.event, "event")?).map_err(ProofFileError::Event)?;
    let proof = InclusionProof::decode(&bytes(f.proof, "proof")?).map_err(ProofFileError::Proof)?;
    let head = SignedHead::decode(&bytes(f.head, "head")?).map_err(ProofFileError::Head)?;
    let author = f.author.ok_or(ProofFileError::Field("author"))?;
    if unhex(author).as_deref() != Some(event.author().as_bytes().as_slice()) {
        return Err(ProofFileError::Mismatch("author"));
    }
    if f.seq.ok_or(ProofFileError::Field("seq"))? != event.seq() {
        return Err(ProofFileError::Mismatch("seq"));
    }
    if f.leaves.ok_or(ProofFileError::Field("leaves"))? != proof.leaves {
        return Err(ProofFileError::Mismatch("leaves"));
    }
    let root = f.root.ok_or(ProofFileError::Field("root"))?;
    if unhex(root).as_deref() != Some(head.root.as_bytes().as_slice()) {
        return Err(ProofFileError::Mismatch("root"));
    }
    Ok(ProofFile { event, proof, head })
}

/// Checks `file` under `trust`: the event's leaf hash, through the Merkle path, must give the
/// trusted root, for the event's own seq (and author, when the caller names one).
pub fn verify(file: &ProofFile, trust: &Trust) -> Result<(), Rejection> {
    let ev = file.event.as_ref();
    if let Some(expected) = trust.author
        && expected != ev.author()
    {
        return Err(Rejection::UnexpectedAuthor { expected, found: ev.author() });
    }
    if file.proof.leaf_index != ev.seq() {
        return Err(Rejection::SeqMismatch { seq: ev.seq(), leaf_index: file.proof.leaf_index });
    }
    let head = match &trust.anchor {
        Anchor::FileHead => Some(&file.head),
        Anchor::Head(head) => Some(head),
        Anchor::Root(_) => None,
    };
    if let Some(head) = head {
        head.verify().map_err(Rejection::Head)?;
        if head.author != ev.author() {
            return Err(Rejection::AuthorMismatch);
        }
        if head.length != file.proof.leaves {
            return Err(Rejection::LengthMismatch { proof: file.proof.leaves, head: head.length });
        }
    }
    file.proof.verify(&ev.leaf_hash(), &trust.root(file)).map_err(Rejection::Path)
}

fn bytes(v: Option<&str>, name: &'static str) -> Result<Vec<u8>, ProofFileError> {
    unhex(v.ok_or(ProofFileError::Field(name))?).ok_or(ProofFileError::Hex(name))
}

#[cfg(test)]
mod tests;
