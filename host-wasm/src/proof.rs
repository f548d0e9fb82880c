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
    Anchor, FIELDS, FieldValue, ProofFields, ProofFile, ProofFileError, Rejection, Trust, decode, encode, verify,
};

use crate::error::{ErrorCode, JsError};

/// The fields of a proof file as JavaScript (or JSON) gave them, before any check: the
/// string fields and the numeric ones of [`FIELDS`] that are present with that type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsProofFields {
    /// String fields by name.
    pub text: Vec<(&'static str, String)>,
    /// Numeric fields by name, as JavaScript numbers.
    pub numbers: Vec<(&'static str, f64)>,
}

/// A JavaScript number that is a whole number from 0 to 2^53 − 1 (every seq and length a
/// store can hold), or `None`.
fn whole(x: f64) -> Option<u64> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    ((0.0..=MAX_SAFE).contains(&x) && x.fract() == 0.0).then_some(x as u64)
}

impl JsProofFields {
    /// Reads the fields of [`FIELDS`] with `text` and `number` (each `None` where the field
    /// is missing or of another type).
    pub fn read(text: impl Fn(&str) -> Option<String>, number: impl Fn(&str) -> Option<f64>) -> Self {
        let mut f = JsProofFields::default();
        for (name, numeric) in FIELDS {
            if numeric {
                f.numbers.extend(number(name).map(|x| (name, x)));
            } else {
                f.text.extend(text(name).map(|s| (name, s)));
            }
        }
        f
    }

    /// The fields as the core checks them: a number that is not a whole number counts as
    /// a field of the wrong type.
    pub fn as_core(&self) -> ProofFields<'_> {
        ProofFields::from_lookup(
            |k| self.text.iter().find(|(n, _)| *n == k).map(|(_, s)| s.as_str()),
            |k| self.numbers.iter().find(|(n, _)| *n == k).and_then(|(_, x)| whole(*x)),
        )
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
        let written = encode(&event.as_ref(), proof, head);
        let value = |k: &str| written.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        JsProofFields::read(
            |k| match value(k) {
                Some(FieldValue::Str(s)) => Some(s),
                _ => None,
            },
            |k| match value(k) {
                Some(FieldValue::Num(n)) => Some(n as f64),
                _ => None,
            },
        )
    }

    fn set_number(f: &mut JsProofFields, name: &'static str, x: f64) {
        f.numbers.retain(|(n, _)| *n != name);
        f.numbers.push((name, x));
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
            set_number(&mut f, "seq", bad);
            assert_eq!(decode(&f.as_core()), Err(ProofFileError::Field("seq")), "seq {bad}");
        }
        let mut f = good.clone();
        set_number(&mut f, "version", 2.0);
        assert_eq!(decode(&f.as_core()), Err(ProofFileError::Version(2)));
        assert_eq!(ProofFileError::Version(2).code(), ErrorCode::Malformed);

        let mut f = good;
        let mut h = head.encode();
        h[100] ^= 1;
        f.text.retain(|(n, _)| *n != "head");
        f.text.push(("head", hex::encode(&h)));
        let e = verify(&decode(&f.as_core()).unwrap(), &Trust::default()).unwrap_err();
        assert_eq!(e, Rejection::Head(HeadError::BadSignature));
        assert_eq!(e.code(), ErrorCode::BadSignature);
        assert_eq!(Rejection::AuthorMismatch.code(), ErrorCode::ProofInvalid);
        assert_eq!(NotJson("x".into()).code(), ErrorCode::Malformed);
    }
}
