//! Lower-case hexadecimal, the text form of keys, hashes and binary fields in this API.

use xaeroflux_core::{AuthorId, Hash};

use crate::error::ArgError;

pub use xaeroflux_core::hex::{decode, encode};

/// 32 bytes from exactly 64 hex characters (surrounding whitespace ignored).
pub fn decode32(s: &str) -> Option<[u8; 32]> {
    xaeroflux_core::hex::decode_array(s.trim())
}

/// An author id from its hex form, or an [`ArgError`] naming the argument `name`.
pub fn author(s: &str, name: &'static str) -> Result<AuthorId, ArgError> {
    decode32(s).map(AuthorId).ok_or(ArgError { name, expected: "an author id: 64 hex characters" })
}

/// A hash from its hex form, or an [`ArgError`] naming the argument `name`.
pub fn hash(s: &str, name: &'static str) -> Result<Hash, ArgError> {
    decode32(s).map(Hash).ok_or(ArgError { name, expected: "a hash: 64 hex characters" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let b: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&b)), Some(b.clone()));
        assert_eq!(decode(&encode(&b).to_uppercase()), Some(b));
        assert_eq!(decode(" 0a "), Some(vec![10]));
        assert_eq!(decode("abc"), None);
        assert_eq!(decode("zz"), None);
        assert_eq!(decode32(&"ab".repeat(31)), None);
        assert_eq!(decode32(&"ab".repeat(32)), Some([0xab; 32]));
        assert!(author("xyz", "author").is_err());
    }
}
