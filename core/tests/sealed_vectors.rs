//! Sealed payloads against test vectors made by an independent implementation:
//! `scripts/vectors/sealed_payload.py`, written from `docs/formats.md` ("Sealed payloads")
//! with libsodium's XChaCha20-Poly1305 (through PyNaCl) and the `blake3` Python package.
//! Both directions: sealing gives exactly the vector's bytes, and the vector's bytes open to
//! its plaintext (and not with a changed author or tag).

use serde_json::Value;
use xaeroflux_core::AuthorId;
use xaeroflux_core::sealed::{self, DecryptError, SpaceSecret};

const VECTORS: &str = include_str!("vectors/sealed_payload.json");

fn bytes(case: &Value, field: &str) -> Vec<u8> {
    let text = case[field].as_str().unwrap_or_else(|| panic!("field {field} is missing"));
    hex::decode(text).unwrap_or_else(|e| panic!("field {field} is not hex: {e}"))
}

fn array<const N: usize>(case: &Value, field: &str) -> [u8; N] {
    bytes(case, field).try_into().unwrap_or_else(|v: Vec<u8>| panic!("field {field} has {} bytes, not {N}", v.len()))
}

#[test]
fn sealing_gives_the_independent_implementations_bytes_and_they_open() {
    let vectors: Value = serde_json::from_str(VECTORS).expect("the vectors are JSON");
    let cases = vectors["cases"].as_array().expect("a list of cases");
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    let mut lengths = std::collections::BTreeSet::new();
    for (i, case) in cases.iter().enumerate() {
        let secret = SpaceSecret::from_bytes(array(case, "secret"));
        let author = AuthorId(array(case, "author"));
        let plain = bytes(case, "plaintext");
        let expected = bytes(case, "sealed");
        lengths.insert(plain.len());

        // The derived values, as far as the API shows them.
        assert_eq!(secret.key_id(), array::<4>(case, "key_id"), "case {i}: key id");
        assert_eq!(&expected[5..29], &bytes(case, "nonce")[..], "case {i}: the vector's own nonce field");

        let mut sealed_bytes = Vec::new();
        sealed::seal(&secret, &author, &plain, &array(case, "random"), &mut sealed_bytes).unwrap();
        assert_eq!(hex::encode(&sealed_bytes), hex::encode(&expected), "case {i}: sealed bytes");

        let mut out = Vec::new();
        sealed::open(&secret, &author, &expected, &mut out).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(out, plain, "case {i}: plaintext");

        let mut other_author = author;
        other_author.0[0] ^= 1;
        assert_eq!(sealed::open(&secret, &other_author, &expected, &mut Vec::new()), Err(DecryptError::Tampered));
        let mut bad_tag = expected.clone();
        *bad_tag.last_mut().expect("never empty") ^= 0x80;
        assert_eq!(sealed::open(&secret, &author, &bad_tag, &mut Vec::new()), Err(DecryptError::Tampered));
    }
    // Every boundary the generator promises.
    for n in [0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 1023, 1024, 1025, 4097, 16384] {
        assert!(lengths.contains(&n), "no vector of {n} bytes");
    }
}
