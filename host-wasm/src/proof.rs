//! Proof files: an event, its inclusion proof and the signed head it is proved against.
//!
//! The format is the one the `xf` tool writes with `xf prove` and checks with `xf verify`, so
//! a proof made in a browser verifies on the command line and the other way round: one JSON
//! object with three binary pieces in hex, each in its own versioned encoding from
//! `xaeroflux-core` (`docs/formats.md`), and readable fields that must agree with them.
//!
//! ```json
//! { "format": "xaeroflux-inclusion-proof", "version": 1,
//!   "author": "<64 hex>", "seq": 3, "leaves": 10, "root": "<64 hex>",
//!   "event": "<hex: encoded event>", "proof": "<hex: inclusion proof>",
//!   "head": "<hex: signed head>" }
//! ```
//!
//! Verification trusts only the binary pieces; a readable field that disagrees with them makes
//! the file malformed, so nobody is shown one thing while another is checked.

use core::fmt;

use xaeroflux_core::event::EventDecodeError;
use xaeroflux_core::head::HeadError;
use xaeroflux_core::mmr::{InclusionProof, ProofDecodeError, ProofError};
use xaeroflux_core::{AuthorId, Event, EventRef, Hash, SignedHead};

use crate::error::{ErrorCode, JsError};
use crate::hex;

/// The `format` field.
pub const FORMAT: &str = "xaeroflux-inclusion-proof";
/// The `version` field written and read.
pub const VERSION: u64 = 1;

/// The fields of a proof file as JavaScript (or JSON) gave them, before any check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProofFields {
    /// `format`.
    pub format: Option<String>,
    /// `version`.
    pub version: Option<f64>,
    /// `author`.
    pub author: Option<String>,
    /// `seq`.
    pub seq: Option<f64>,
    /// `leaves`.
    pub leaves: Option<f64>,
    /// `root`.
    pub root: Option<String>,
    /// `event`.
    pub event: Option<String>,
    /// `proof`.
    pub proof: Option<String>,
    /// `head`.
    pub head: Option<String>,
}

/// A decoded proof file whose readable fields agree with its binary pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofFile {
    /// The proven event.
    pub event: Event,
    /// Its inclusion proof in the feed of `proof.leaves` events.
    pub proof: InclusionProof,
    /// The author's signed head it is proved against.
    pub head: SignedHead,
}

/// Why a proof file could not be read.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProofFileError {
    /// Not JSON (the parser's message).
    Json(String),
    /// Not an object with `"format": "xaeroflux-inclusion-proof"`.
    NotAProof,
    /// A version this package does not read.
    Version(f64),
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
            Self::Json(e) => write!(f, "not a proof file (invalid JSON: {e})"),
            Self::NotAProof => write!(f, "not a proof file (no \"format\": \"{FORMAT}\")"),
            Self::Version(v) => write!(f, "proof file version {v} is not supported (this package reads {VERSION})"),
            Self::Field(name) => write!(f, "proof file field \"{name}\" is missing or has the wrong type"),
            Self::Hex(name) => write!(f, "proof file field \"{name}\" is not valid hex"),
            Self::Event(e) => write!(f, "proof file event is malformed: {e}"),
            Self::Proof(e) => write!(f, "proof file inclusion proof is malformed: {e}"),
            Self::Head(e) => write!(f, "proof file signed head is malformed: {e}"),
            Self::Mismatch(name) => write!(f, "proof file field \"{name}\" disagrees with the signed data"),
        }
    }
}

impl JsError for ProofFileError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Malformed
    }
}

/// Why a well-formed proof does not prove what it claims.
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
            Self::LengthMismatch { proof, head } => {
                write!(f, "the proof is for a feed of {proof} events but the head is for {head}")
            }
            Self::Path(e) => write!(f, "the event is not in the feed under this root: {e}"),
        }
    }
}

impl JsError for Rejection {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Head(HeadError::BadSignature) => ErrorCode::BadSignature,
            _ => ErrorCode::ProofInvalid,
        }
    }
}

/// What the caller trusts beyond the file itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trust {
    /// Check against this root instead of the file's signed head (the head is then not used).
    pub root: Option<Hash>,
    /// Require the event to be by this author.
    pub author: Option<AuthorId>,
}

/// Makes the proof file of `event`, proved by `proof` against `head`.
pub fn encode(event: &EventRef<'_>, proof: &InclusionProof, head: &SignedHead) -> [(&'static str, FieldValue); 9] {
    [
        ("format", FieldValue::Str(FORMAT.into())),
        ("version", FieldValue::Num(VERSION)),
        ("author", FieldValue::Str(hex::encode(event.author().as_bytes()))),
        ("seq", FieldValue::Num(event.seq())),
        ("leaves", FieldValue::Num(proof.leaves)),
        ("root", FieldValue::Str(hex::encode(head.root.as_bytes()))),
        ("event", FieldValue::Str(hex::encode(event.encoded()))),
        ("proof", FieldValue::Str(hex::encode(&proof.encode()))),
        ("head", FieldValue::Str(hex::encode(&head.encode()))),
    ]
}

/// A field value of a proof file, in the order [`encode`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// A string.
    Str(String),
    /// A number (at most 2^53, which every seq and length a store can hold is).
    Num(u64),
}

fn num(v: Option<f64>, name: &'static str) -> Result<u64, ProofFileError> {
    match v {
        Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_991.0 => Ok(x as u64),
        _ => Err(ProofFileError::Field(name)),
    }
}

fn bytes(v: &Option<String>, name: &'static str) -> Result<Vec<u8>, ProofFileError> {
    let s = v.as_deref().ok_or(ProofFileError::Field(name))?;
    hex::decode(s).ok_or(ProofFileError::Hex(name))
}

/// Decodes and cross-checks a proof file (no cryptographic verification: see [`verify`]).
pub fn decode(f: &ProofFields) -> Result<ProofFile, ProofFileError> {
    if f.format.as_deref() != Some(FORMAT) {
        return Err(ProofFileError::NotAProof);
    }
    let version = f.version.ok_or(ProofFileError::Field("version"))?;
    if version != VERSION as f64 {
        return Err(ProofFileError::Version(version));
    }
    let event = Event::from_bytes(bytes(&f.event, "event")?).map_err(ProofFileError::Event)?;
    let proof = InclusionProof::decode(&bytes(&f.proof, "proof")?).map_err(ProofFileError::Proof)?;
    let head = SignedHead::decode(&bytes(&f.head, "head")?).map_err(ProofFileError::Head)?;
    let author = f.author.as_deref().ok_or(ProofFileError::Field("author"))?;
    if hex::decode32(author) != Some(event.author().0) {
        return Err(ProofFileError::Mismatch("author"));
    }
    if num(f.seq, "seq")? != event.seq() {
        return Err(ProofFileError::Mismatch("seq"));
    }
    if num(f.leaves, "leaves")? != proof.leaves {
        return Err(ProofFileError::Mismatch("leaves"));
    }
    let root = f.root.as_deref().ok_or(ProofFileError::Field("root"))?;
    if hex::decode32(root) != Some(head.root.0) {
        return Err(ProofFileError::Mismatch("root"));
    }
    Ok(ProofFile { event, proof, head })
}

/// Checks `file` against `trust`: the event's leaf hash, through the Merkle path, must give
/// the trusted root (the signed head's, unless the caller trusts a root of its own), for the
/// event's own seq and author. The same rules as `xf verify`.
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
    let root = match trust.root {
        Some(root) => root,
        None => {
            let head = &file.head;
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

#[cfg(test)]
mod tests {
    use xaeroflux_core::mmr::Mmr;
    use xaeroflux_core::{AuthorKey, EventFlags};

    use super::*;

    fn fields_of(event: &Event, proof: &InclusionProof, head: &SignedHead) -> ProofFields {
        let mut f = ProofFields::default();
        for (name, v) in encode(&event.as_ref(), proof, head) {
            let (s, n) = match v {
                FieldValue::Str(s) => (Some(s), None),
                FieldValue::Num(n) => (None, Some(n as f64)),
            };
            match name {
                "format" => f.format = s,
                "version" => f.version = n,
                "author" => f.author = s,
                "seq" => f.seq = n,
                "leaves" => f.leaves = n,
                "root" => f.root = s,
                "event" => f.event = s,
                "proof" => f.proof = s,
                "head" => f.head = s,
                _ => unreachable!(),
            }
        }
        f
    }

    fn feed(n: u64) -> (AuthorKey, Vec<Event>, Mmr) {
        let key = AuthorKey::from_secret_bytes(&[5; 32]);
        let mut mmr = Mmr::new();
        let events: Vec<Event> =
            (0..n).map(|s| Event::new(key.author(), s, 1000 + s, 1, EventFlags::NONE, &s.to_le_bytes())).collect();
        for e in &events {
            mmr.append(e.leaf_hash());
        }
        (key, events, mmr)
    }

    #[test]
    fn round_trip_verifies() {
        let (key, events, mmr) = feed(11);
        let head = key.sign_head(11, mmr.root());
        let proof = mmr.inclusion_proof(6).unwrap();
        let fields = fields_of(&events[6], &proof, &head);
        let file = decode(&fields).unwrap();
        verify(&file, &Trust::default()).unwrap();
        verify(&file, &Trust { author: Some(key.author()), root: None }).unwrap();
        verify(&file, &Trust { root: Some(mmr.root()), author: None }).unwrap();
    }

    #[test]
    fn every_tampering_is_refused() {
        let (key, events, mmr) = feed(11);
        let head = key.sign_head(11, mmr.root());
        let proof = mmr.inclusion_proof(6).unwrap();
        let good = fields_of(&events[6], &proof, &head);

        // Another event under the same proof: same length payload, different bytes.
        let mut f = good.clone();
        let other = Event::new(key.author(), 6, 1006, 1, EventFlags::NONE, &99u64.to_le_bytes());
        f.event = Some(hex::encode(other.encoded()));
        let file = decode(&f).unwrap();
        assert!(matches!(verify(&file, &Trust::default()), Err(Rejection::Path(ProofError::RootMismatch))));

        // A proof of another seq.
        let mut f = good.clone();
        f.proof = Some(hex::encode(&mmr.inclusion_proof(5).unwrap().encode()));
        assert_eq!(decode(&f).map(|_| ()), Ok(()));
        assert_eq!(
            verify(&decode(&f).unwrap(), &Trust::default()),
            Err(Rejection::SeqMismatch { seq: 6, leaf_index: 5 })
        );

        // A head with a flipped signature bit.
        let mut f = good.clone();
        let mut h = head.encode();
        h[100] ^= 1;
        f.head = Some(hex::encode(&h));
        let e = verify(&decode(&f).unwrap(), &Trust::default()).unwrap_err();
        assert_eq!(e, Rejection::Head(HeadError::BadSignature));
        assert_eq!(e.code(), ErrorCode::BadSignature);

        // A head of another author.
        let mut f = good.clone();
        let other_head = AuthorKey::from_secret_bytes(&[6; 32]).sign_head(11, mmr.root());
        f.head = Some(hex::encode(&other_head.encode()));
        assert_eq!(verify(&decode(&f).unwrap(), &Trust::default()), Err(Rejection::AuthorMismatch));

        // An unexpected author.
        let stranger = AuthorId([1; 32]);
        assert!(matches!(
            verify(&decode(&good).unwrap(), &Trust { author: Some(stranger), root: None }),
            Err(Rejection::UnexpectedAuthor { .. })
        ));

        // A readable field that lies.
        let mut f = good.clone();
        f.seq = Some(7.0);
        assert_eq!(decode(&f), Err(ProofFileError::Mismatch("seq")));
        let mut f = good.clone();
        f.root = Some("00".repeat(32));
        assert_eq!(decode(&f), Err(ProofFileError::Mismatch("root")));
        let mut f = good.clone();
        f.seq = Some(6.5);
        assert_eq!(decode(&f), Err(ProofFileError::Field("seq")));
        let mut f = good.clone();
        f.version = Some(2.0);
        assert_eq!(decode(&f), Err(ProofFileError::Version(2.0)));
        let mut f = good;
        f.format = None;
        assert_eq!(decode(&f), Err(ProofFileError::NotAProof));
    }
}
