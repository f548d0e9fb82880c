//! Space secrets and encrypted events: `generateSpaceSecret`, `spaceSecretKeyId`,
//! `decryptEvent`, and the sealing behind `append(payload, { secret })`.
//!
//! A space secret is 32 bytes the members of a space share out of band (the application
//! hands it around; no peer, relay or sync session carries it). An event appended with it
//! carries a *sealed payload* ([`xaeroflux_core::sealed`]: XChaCha20-Poly1305 under a key
//! derived from the secret, bound to the event's author) and the `ENCRYPTED` flag (bit 0).
//! Its leaf hash, proofs and sync cover the sealed bytes, so peers without the secret store,
//! verify and forward it, but cannot read it. The byte layout is "Sealed payloads" in
//! `docs/formats.md`; the native crate's `NewEvent::encrypt` writes the same bytes.
//!
//! ```js
//! const secret = generateSpaceSecret();               // 64 hex characters
//! const ev = await store.append("for members only", { secret });
//! new TextDecoder().decode(decryptEvent(ev, secret)); // "for members only"
//! ```

use core::fmt;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use xaeroflux_core::sealed::{self, DecryptError, ParseSecretError, SealError, SpaceSecret};
use xaeroflux_core::{AuthorId, EventFlags};

use crate::error::{ArgError, ErrorCode, JsError};
use crate::hex;
use crate::js::{prop, prop_str};
use crate::platform;

/// Why an argument is not a space secret (`INVALID_ARGUMENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// Neither a string nor a `Uint8Array`.
    WrongType,
    /// A string that is not 64 characters long (after surrounding white space is trimmed).
    WrongLength {
        /// How many characters there were.
        chars: usize,
    },
    /// A string with a character that is not a hex digit.
    NotHex {
        /// Its position (in characters, after trimming).
        at: usize,
    },
    /// A `Uint8Array` that is not 32 bytes long.
    WrongBytes {
        /// How many bytes there were.
        len: usize,
    },
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid argument `secret`: ")?;
        match self {
            Self::WrongType => f.write_str("expected a space secret: 64 hex characters or a Uint8Array of 32 bytes"),
            Self::WrongLength { chars } => write!(f, "a space secret is 64 hex characters, not {chars}"),
            Self::NotHex { at } => write!(f, "a space secret is hex digits only (character {at} is not one)"),
            Self::WrongBytes { len } => write!(f, "a space secret is 32 bytes, not {len}"),
        }
    }
}

impl JsError for SecretError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidArgument
    }
}

/// Why a payload was not encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncryptError {
    /// The core refused to seal the plaintext: it is longer than a sealed payload can hold in
    /// one event (`PAYLOAD_TOO_LARGE`).
    Seal(SealError),
    /// No `crypto.getRandomValues` to draw the sealing randomness from (`UNSUPPORTED`).
    NoRandomness,
}

impl fmt::Display for EncryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Seal(e) => e.fmt(f),
            Self::NoRandomness => f.write_str("no crypto.getRandomValues to encrypt with"),
        }
    }
}

impl JsError for EncryptError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Seal(_) => ErrorCode::PayloadTooLarge,
            Self::NoRandomness => ErrorCode::Unsupported,
        }
    }
}

/// A payload that does not open (`DECRYPT`); the message is the core's.
struct Undecryptable(DecryptError);

impl fmt::Display for Undecryptable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl JsError for Undecryptable {
    fn code(&self) -> ErrorCode {
        ErrorCode::Decrypt
    }
}

/// No Web Crypto to make a secret with (`UNSUPPORTED`).
struct NoRandomness;

impl fmt::Display for NoRandomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no crypto.getRandomValues to make a space secret with")
    }
}

impl JsError for NoRandomness {
    fn code(&self) -> ErrorCode {
        ErrorCode::Unsupported
    }
}

/// The secret of 64 hex characters (either case; white space around them is ignored).
pub fn parse_hex(text: &str) -> Result<SpaceSecret, SecretError> {
    SpaceSecret::from_hex(text).map_err(|e| match e {
        ParseSecretError::NotHex { at } => SecretError::NotHex { at },
        ParseSecretError::WrongLength { chars } => SecretError::WrongLength { chars },
        _ => SecretError::WrongType,
    })
}

/// The secret of a `secret` argument: 64 hex characters or a `Uint8Array` of 32 bytes.
pub fn secret_arg(value: &JsValue) -> Result<SpaceSecret, SecretError> {
    if let Some(text) = value.as_string() {
        return parse_hex(&text);
    }
    let array = value.dyn_ref::<Uint8Array>().ok_or(SecretError::WrongType)?;
    let len = array.length() as usize;
    if len != 32 {
        return Err(SecretError::WrongBytes { len });
    }
    let mut bytes = [0u8; 32];
    array.copy_to(&mut bytes);
    let secret = SpaceSecret::from_bytes(bytes);
    bytes.fill(0);
    Ok(secret)
}

/// Seals every payload for events of `author` with `secret`, each with 24 fresh bytes from
/// `crypto.getRandomValues`. All or none: the first payload that does not seal is the error.
pub fn seal_all(secret: &SpaceSecret, author: &AuthorId, payloads: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, EncryptError> {
    payloads
        .iter()
        .map(|p| {
            let random = platform::random_array::<24>().ok_or(EncryptError::NoRandomness)?;
            let mut out = Vec::with_capacity(sealed::sealed_len(p.len()));
            sealed::seal(secret, author, p, &random, &mut out).map_err(EncryptError::Seal)?;
            Ok(out)
        })
        .collect()
}

/// Refuses anything but an object as an event.
fn require_event_object(event: &JsValue) -> Result<(), JsValue> {
    if event.is_object() {
        return Ok(());
    }
    Err(ArgError { name: "event", expected: "an event object ({ author, flags, payload })" }.to_js())
}

/// The flags and payload of an event object (what says whether, and what, it seals).
fn event_flags_payload(event: &JsValue) -> Result<(u8, Vec<u8>), JsValue> {
    let arg = |e: ArgError| e.to_js();
    let flags = crate::js::prop_flags(event).map_err(arg)?;
    let Some(payload) = prop(event, "payload").as_ref().and_then(crate::js::binary) else {
        return Err(arg(ArgError { name: "payload", expected: "a Uint8Array" }));
    };
    Ok((flags, payload))
}

/// The author of an event object (the one its payload is sealed for).
fn event_author(event: &JsValue) -> Result<AuthorId, JsValue> {
    let arg = |e: ArgError| e.to_js();
    let author = prop_str(event, "author")
        .map_err(arg)?
        .ok_or(arg(ArgError { name: "author", expected: "an author id: 64 hex characters" }))?;
    hex::author(&author, "author").map_err(arg)
}

/// A new space secret: 32 bytes from `crypto.getRandomValues`, as 64 lowercase hex
/// characters. Give it to the members of a space (out of band: it never travels with sync),
/// and append with `{ secret }` to encrypt events for them. Throws `UNSUPPORTED` where there
/// is no Web Crypto.
#[wasm_bindgen(js_name = generateSpaceSecret)]
pub fn generate_space_secret() -> Result<String, JsValue> {
    let mut bytes = platform::random_array::<32>().ok_or_else(|| NoRandomness.to_js())?;
    let text = hex::encode(&bytes);
    bytes.fill(0);
    Ok(text)
}

/// The key id of a space secret (64 hex characters or 32 bytes): 8 hex characters that every
/// payload sealed with it carries in its bytes 1..5. It is not secret; it tells an
/// application holding several secrets which one opens an event.
#[wasm_bindgen(js_name = spaceSecretKeyId)]
pub fn space_secret_key_id(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] secret: JsValue,
) -> Result<String, JsValue> {
    let secret = secret_arg(&secret).map_err(|e| e.to_js())?;
    Ok(hex::encode(&secret.key_id()))
}

/// The key id an encrypted event's payload carries (8 hex characters: compare it with
/// `spaceSecretKeyId` to pick the secret that opens it), or `undefined` for an event that is
/// not encrypted or whose payload is not a sealed payload of a known version.
#[wasm_bindgen(js_name = eventKeyId, unchecked_return_type = "string | undefined")]
pub fn event_key_id(
    #[wasm_bindgen(unchecked_param_type = "StoredEvent | DecodedEvent")] event: JsValue,
) -> Result<JsValue, JsValue> {
    require_event_object(&event)?;
    let (flags, payload) = event_flags_payload(&event)?;
    if !EventFlags(flags).contains(EventFlags::ENCRYPTED) {
        return Ok(JsValue::UNDEFINED);
    }
    Ok(sealed::key_id_of(&payload).map_or(JsValue::UNDEFINED, |id| hex::encode(&id).into()))
}

/// The plaintext of an encrypted event (one appended with `{ secret }`, here or by a native
/// peer): opens `event.payload`, sealed for `event.author`, with the space secret (64 hex
/// characters or 32 bytes). Throws `DECRYPT` when the event is not encrypted (flag bit 0),
/// was sealed with another secret, or was altered; `INVALID_ARGUMENT` for a bad secret or
/// event.
#[wasm_bindgen(js_name = decryptEvent)]
pub fn decrypt_event(
    #[wasm_bindgen(unchecked_param_type = "StoredEvent | DecodedEvent")] event: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] secret: JsValue,
) -> Result<Uint8Array, JsValue> {
    let secret = secret_arg(&secret).map_err(|e| e.to_js())?;
    require_event_object(&event)?;
    let author = event_author(&event)?;
    let (flags, payload) = event_flags_payload(&event)?;
    if !EventFlags(flags).contains(EventFlags::ENCRYPTED) {
        return Err(Undecryptable(DecryptError::NotEncrypted).to_js());
    }
    let mut plain = Vec::new();
    sealed::open(&secret, &author, &payload, &mut plain).map_err(|e| Undecryptable(e).to_js())?;
    let out = Uint8Array::from(&plain[..]);
    plain.fill(0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_secrets_parse_and_bad_ones_say_why() {
        let text = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
        let secret = parse_hex(text).unwrap();
        assert_eq!(parse_hex(&format!("  {}\n", text.to_uppercase())).unwrap(), secret);
        // core/tests/vectors/sealed_payload.json: the key id of this secret.
        assert_eq!(hex::encode(&secret.key_id()), "dfa2c1ae");
        assert_eq!(parse_hex("abc").err(), Some(SecretError::WrongLength { chars: 3 }));
        assert_eq!(parse_hex(&"a".repeat(66)).err(), Some(SecretError::WrongLength { chars: 66 }));
        assert_eq!(parse_hex(&format!("{}g", &text[..63])).err(), Some(SecretError::NotHex { at: 63 }));
        assert_eq!(parse_hex(&"é".repeat(32)).err(), Some(SecretError::NotHex { at: 0 }));
        let msg = SecretError::WrongLength { chars: 3 }.to_string();
        assert_eq!(msg, "invalid argument `secret`: a space secret is 64 hex characters, not 3");
        assert_eq!(SecretError::WrongType.code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn error_codes() {
        assert_eq!(EncryptError::Seal(SealError::TooLong { len: 1 << 24 }).code(), ErrorCode::PayloadTooLarge);
        assert_eq!(EncryptError::NoRandomness.code(), ErrorCode::Unsupported);
        let e = Undecryptable(DecryptError::NotEncrypted);
        assert_eq!((e.code(), e.to_string()), (ErrorCode::Decrypt, DecryptError::NotEncrypted.to_string()));
    }
}
