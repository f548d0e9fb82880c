//! Space secrets on the host: drawing a new one, and its text form (64 hex digits).
//!
//! A [`SpaceSecret`] encrypts the payloads of a space's events end to end (see
//! [`xaeroflux_core::sealed`] and "Sealed payloads" in `docs/formats.md`): members append
//! with [`NewEvent::encrypt`](crate::NewEvent::encrypt) and read with
//! [`EventRef::decrypt`](crate::EventRef::decrypt); peers without it store, verify and sync
//! such events like any other, but cannot read them. The secret never travels with the sync:
//! the application hands it to the members (its text form is meant for that).
//!
//! ```
//! use xaeroflux::{new_space_secret, parse_space_secret, space_secret_hex};
//!
//! let secret = new_space_secret()?;
//! let text = space_secret_hex(&secret);
//! assert_eq!(text.len(), 64);
//! assert_eq!(parse_space_secret(&text)?, secret);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use xaeroflux_core::sealed::SpaceSecret;
pub use xaeroflux_core::sealed::{ParseSecretError, SealError};

/// The OS random number generator failed (no secret, nonce or key was made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operating system's random number generator failed")
    }
}

impl std::error::Error for RandomError {}

/// Why [`NewEvent::encrypt`](crate::NewEvent::encrypt) did not encrypt a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncryptError {
    /// The core refused to seal the plaintext: it is longer than a sealed payload can hold in
    /// one event ([`xaeroflux_core::sealed::MAX_PLAINTEXT_LEN`]).
    Seal(SealError),
    /// The event is already encrypted.
    AlreadyEncrypted,
    /// The OS random number generator failed.
    Random,
}

impl fmt::Display for EncryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Seal(e) => e.fmt(f),
            Self::AlreadyEncrypted => f.write_str("the event is already encrypted"),
            Self::Random => RandomError.fmt(f),
        }
    }
}

impl std::error::Error for EncryptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Seal(e) => Some(e),
            _ => None,
        }
    }
}

/// `N` bytes from the OS random number generator (a new secret, or the randomness that
/// sealing one payload takes).
pub(crate) fn os_random<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| RandomError)?;
    Ok(bytes)
}

/// A new space secret from the OS random number generator.
pub fn new_space_secret() -> Result<SpaceSecret, RandomError> {
    let mut bytes = os_random::<32>()?;
    let secret = SpaceSecret::from_bytes(bytes);
    bytes.fill(0);
    Ok(secret)
}

/// The text form of a secret: 64 lowercase hex digits.
pub fn space_secret_hex(secret: &SpaceSecret) -> String {
    xaeroflux_core::hex::encode(secret.as_bytes())
}

/// Reads the text form of a secret (64 hex digits, either case; white space around them, such
/// as a file's last newline, is ignored): [`SpaceSecret::from_hex`].
pub fn parse_space_secret(text: &str) -> Result<SpaceSecret, ParseSecretError> {
    SpaceSecret::from_hex(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encrypted_flag_alone_is_refused_and_encrypt_is_not_repeated() {
        use crate::{AppendError, Core, EventFlags};
        let dir = tempfile::tempdir().unwrap();
        let core = Core::builder().open(dir.path()).unwrap();
        let flagged = core.new_event(b"I thought this was secret").flags(EventFlags::ENCRYPTED);
        assert!(matches!(core.append(flagged.clone()), Err(AppendError::NotSealed)));
        assert!(matches!(core.append_events([flagged]), Err(AppendError::NotSealed)));
        assert_eq!(core.feed_len(&core.author()), 0, "nothing stored");
        let secret = new_space_secret().unwrap();
        let sealed = core.new_event(b"secret for real").encrypt(&secret).unwrap();
        assert_eq!(sealed.clone().encrypt(&secret).unwrap_err(), EncryptError::AlreadyEncrypted);
        core.append(sealed).unwrap();
        let ev = core.get(&core.author(), 0).unwrap().unwrap();
        assert_eq!(ev.decrypt(&secret).unwrap(), b"secret for real");
    }

    #[test]
    fn the_text_form_round_trips() {
        let secret = new_space_secret().unwrap();
        let text = space_secret_hex(&secret);
        assert_eq!(parse_space_secret(&format!("  {}\n", text.to_uppercase())).unwrap(), secret);
        assert_ne!(new_space_secret().unwrap(), secret);
        assert_eq!(parse_space_secret("abc"), Err(ParseSecretError::WrongLength { chars: 3 }));
    }
}
