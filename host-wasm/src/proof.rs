//! Proof files: an event, its inclusion proof and the signed head it is proved against.
//!
//! The format is the one the `xf` tool writes with `xf prove` and checks with `xf verify`, so
//! a proof made in a browser verifies on the command line and the other way round. Its one
//! definition (fields, cross-checks, verification) is `xaeroflux_core::proof_file`; this
//! module takes the fields from JavaScript, whose numbers are `f64`, and gives the core's
//! errors their JS error codes.

use core::fmt;

use xaeroflux_core::head::HeadError;
pub use xaeroflux_core::proof_file::{
    Anchor, FieldValue, ProofFile, ProofFileError, Rejection, Trust, decode, encode, verify,
};

use crate::error::{ErrorCode, JsError};

/// The fields of a proof file as JavaScript (or JSON) gave them, before any check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsProofFields {
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

/// A JavaScript number that is a whole number from 0 to 2^53 − 1 (every seq and length a
/// store can hold), or `None`.
fn whole(x: Option<f64>) -> Option<u64> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    x.filter(|x| (0.0..=MAX_SAFE).contains(x) && x.fract() == 0.0).map(|x| x as u64)
}

impl JsProofFields {
    /// The fields as the core checks them: a number that is not a whole number counts as
    /// a field of the wrong type.
    pub fn as_core(&self) -> xaeroflux_core::proof_file::ProofFields<'_> {
        xaeroflux_core::proof_file::ProofFields {
            format: self.format.as_deref(),
            version: whole(self.version),
            author: self.author.as_deref(),
            seq: whole(self.seq),
            leaves: whole(self.leaves),
            root: self.root.as_deref(),
            event: self.event.as_deref(),
            proof: self.proof.as_deref(),
            head: self.head.as_deref(),
        }
    }
}

/// A proof file given as text that is not JSON (the parser's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotJson(pub String);

impl fmt::Display for NotJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a proof file (invalid JSON: {})", self.0)
    }
}

impl JsError for NotJson {
    fn code(&self) -> ErrorCode {
        ErrorCode::Malformed
    }
}

impl JsError for ProofFileError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Malformed
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

#[cfg(test)]
mod tests {
    use xaeroflux_core::mmr::Mmr;
    use xaeroflux_core::{AuthorKey, Event, EventFlags};

    use super::*;
    use crate::hex;

    fn fields_of(
        event: &Event,
        proof: &xaeroflux_core::mmr::InclusionProof,
        head: &xaeroflux_core::SignedHead,
    ) -> JsProofFields {
        let mut f = JsProofFields::default();
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

    #[test]
    fn javascript_numbers_and_error_codes() {
        let key = AuthorKey::from_secret_bytes(&[5; 32]);
        let mut mmr = Mmr::new();
        let events: Vec<Event> =
            (0..11).map(|s| Event::new(key.author(), s, 1000 + s, 1, EventFlags::NONE, &[s as u8])).collect();
        for e in &events {
            mmr.append(e.leaf_hash());
        }
        let head = key.sign_head(11, mmr.root());
        let good = fields_of(&events[6], &mmr.inclusion_proof(6).unwrap(), &head);
        verify(&decode(&good.as_core()).unwrap(), &Trust::default()).unwrap();

        for bad in [6.5, -6.0, f64::NAN, f64::INFINITY, 1e300] {
            let mut f = good.clone();
            f.seq = Some(bad);
            assert_eq!(decode(&f.as_core()), Err(ProofFileError::Field("seq")), "seq {bad}");
        }
        let mut f = good.clone();
        f.version = Some(2.0);
        assert_eq!(decode(&f.as_core()), Err(ProofFileError::Version(2)));
        assert_eq!(ProofFileError::Version(2).code(), ErrorCode::Malformed);

        let mut f = good;
        let mut h = head.encode();
        h[100] ^= 1;
        f.head = Some(hex::encode(&h));
        let e = verify(&decode(&f.as_core()).unwrap(), &Trust::default()).unwrap_err();
        assert_eq!(e, Rejection::Head(HeadError::BadSignature));
        assert_eq!(e.code(), ErrorCode::BadSignature);
        assert_eq!(Rejection::AuthorMismatch.code(), ErrorCode::ProofInvalid);
        assert_eq!(NotJson("x".into()).code(), ErrorCode::Malformed);
    }
}
