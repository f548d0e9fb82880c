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
//! The format, its checks and verification are `xaeroflux_core::proof_file`, shared with the
//! browser package; this module reads and writes the JSON.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use xaeroflux_core::mmr::InclusionProof;
use xaeroflux_core::proof_file::{self as core_file, FieldValue, ProofFields};
pub use xaeroflux_core::proof_file::{Anchor, ProofFile, Rejection, Trust, verify};
use xaeroflux_core::{EventRef, SignedHead};

/// Why a proof file could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProofFileError {
    /// Not JSON.
    Json(serde_json::Error),
    /// JSON, but not a valid proof file.
    Invalid(core_file::ProofFileError),
}

impl fmt::Display for ProofFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "not a proof file (invalid JSON: {e})"),
            Self::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ProofFileError {}

/// The proof file, as written: the fields of [`core_file::encode`], in its order.
pub struct ProofJson([(&'static str, FieldValue); 9]);

impl Serialize for ProofJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            match value {
                FieldValue::Str(text) => map.serialize_entry(name, text)?,
                FieldValue::Num(n) => map.serialize_entry(name, n)?,
            }
        }
        map.end()
    }
}

/// The proof file JSON for `event`, `proof` and `head`.
pub fn encode(event: &EventRef<'_>, proof: &InclusionProof, head: &SignedHead) -> ProofJson {
    ProofJson(core_file::encode(event, proof, head))
}

/// Parses and cross-checks a proof file (no cryptographic verification: see [`verify`]).
pub fn decode(text: &str) -> Result<ProofFile, ProofFileError> {
    let v: Value = serde_json::from_str(text).map_err(ProofFileError::Json)?;
    let fields = ProofFields::from_lookup(|k| v.get(k).and_then(Value::as_str), |k| v.get(k).and_then(Value::as_u64));
    core_file::decode(&fields).map_err(ProofFileError::Invalid)
}
