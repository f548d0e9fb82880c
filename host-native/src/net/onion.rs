//! Onion addresses (Tor onion services, version 3), as tickets carry them.
//!
//! The text form is the one Tor uses (`rend-spec-v3`, "Encoding onion addresses"): the
//! lowercase RFC 4648 base32 of `pubkey [32] ‖ checksum [2] ‖ version [1] = 3`, then
//! `.onion`, where `checksum` is the first two bytes of
//! `SHA3-256(".onion checksum" ‖ pubkey ‖ version)`. 56 characters before the suffix.

use std::fmt;
use std::str::FromStr;

use sha3::{Digest as _, Sha3_256};

use super::ticket::base32;

/// The version byte of a v3 onion address.
const VERSION: u8 = 3;
/// The text suffix.
const SUFFIX: &str = ".onion";

/// A Tor onion service (version 3): its ed25519 identity public key.
///
/// `Display` writes `<56 base32 characters>.onion`; `FromStr` reads that, with or without
/// the `.onion` suffix, in either case, and checks the version and checksum.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OnionAddress(pub [u8; 32]);

/// Why a string is not a v3 onion address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnionAddressError {
    /// Not 56 base32 characters (before `.onion`).
    Length,
    /// A character outside the base32 alphabet.
    Base32,
    /// A version byte other than 3.
    Version(u8),
    /// The checksum does not match the key (a mistyped address).
    Checksum,
}

impl fmt::Display for OnionAddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length => f.write_str("an onion address is 56 base32 characters, then \".onion\""),
            Self::Base32 => f.write_str("the onion address is not valid base32"),
            Self::Version(v) => write!(f, "onion address version {v} (only version 3 is supported)"),
            Self::Checksum => f.write_str("the onion address's checksum does not match (mistyped?)"),
        }
    }
}

impl std::error::Error for OnionAddressError {}

impl OnionAddress {
    /// The service's identity key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn checksum(key: &[u8; 32]) -> [u8; 2] {
    let mut h = Sha3_256::new();
    h.update(b".onion checksum");
    h.update(key);
    h.update([VERSION]);
    let d = h.finalize();
    [d[0], d[1]]
}

impl fmt::Display for OnionAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 35];
        raw[..32].copy_from_slice(&self.0);
        raw[32..34].copy_from_slice(&checksum(&self.0));
        raw[34] = VERSION;
        f.write_str(&base32::encode(&raw))?;
        f.write_str(SUFFIX)
    }
}

impl fmt::Debug for OnionAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OnionAddress({self})")
    }
}

impl FromStr for OnionAddress {
    type Err = OnionAddressError;
    fn from_str(s: &str) -> Result<Self, OnionAddressError> {
        let s = s.trim();
        let body = match s.len().checked_sub(SUFFIX.len()).and_then(|at| s.get(at..).map(|t| (at, t))) {
            Some((at, tail)) if tail.eq_ignore_ascii_case(SUFFIX) => &s[..at],
            _ => s,
        };
        if body.len() != 56 {
            return Err(OnionAddressError::Length);
        }
        let raw = base32::decode(body).map_err(|_| OnionAddressError::Base32)?;
        let raw: [u8; 35] = raw.try_into().map_err(|_| OnionAddressError::Length)?;
        if raw[34] != VERSION {
            return Err(OnionAddressError::Version(raw[34]));
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[..32]);
        if raw[32..34] != checksum(&key) {
            return Err(OnionAddressError::Checksum);
        }
        Ok(OnionAddress(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The example address of Tor's `rend-spec-v3` ("Encoding onion addresses").
    #[test]
    fn tor_spec_example_round_trips() {
        let text = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";
        let a: OnionAddress = text.parse().expect("the spec's example parses");
        assert_eq!(a.to_string(), text);
        let upper = text.to_ascii_uppercase();
        assert_eq!(upper.parse::<OnionAddress>(), Ok(a));
        assert_eq!(text.trim_end_matches(".onion").parse::<OnionAddress>(), Ok(a));
    }

    #[test]
    fn mistakes_are_refused_precisely() {
        let good = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd";
        // One character changed: the checksum catches it.
        let typo = good.replacen('p', "q", 1);
        assert_eq!(typo.parse::<OnionAddress>(), Err(OnionAddressError::Checksum));
        assert_eq!(good[1..].parse::<OnionAddress>(), Err(OnionAddressError::Length));
        assert_eq!(good.replacen('p', "1", 1).parse::<OnionAddress>(), Err(OnionAddressError::Base32));
        assert_eq!("".parse::<OnionAddress>(), Err(OnionAddressError::Length));
        // Version byte 2 in an otherwise well-formed 35 bytes.
        let mut raw = [7u8; 35];
        raw[34] = 2;
        assert_eq!(base32::encode(&raw).parse::<OnionAddress>(), Err(OnionAddressError::Version(2)));
    }

    proptest! {
        #[test]
        fn every_key_round_trips(key in any::<[u8; 32]>()) {
            let a = OnionAddress(key);
            let text = a.to_string();
            prop_assert_eq!(text.len(), 62);
            prop_assert_eq!(text.parse::<OnionAddress>(), Ok(a));
        }

        #[test]
        fn any_string_parses_or_is_refused_without_panic(s in ".{0,80}") {
            let _ = s.parse::<OnionAddress>();
        }
    }
}
