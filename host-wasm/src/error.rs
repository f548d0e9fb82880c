//! Errors, and how they cross into JavaScript.
//!
//! Each operation has its own error enum in Rust (see the modules that define them). At the
//! JavaScript boundary every one of them becomes a real `Error` object with
//! `name === "XaerofluxError"`, a stable machine-readable `code` (one of [`ErrorCode`]) and a
//! message that says what went wrong in words, so that
//!
//! ```js
//! try { await store.append(data) } catch (e) {
//!   if (e.name === "XaerofluxError" && e.code === "PAYLOAD_TOO_LARGE") { ... }
//! }
//! ```
//!
//! works, `console.error(e)` shows a stack, and `isXaerofluxError(e)` narrows the type in
//! TypeScript.

use core::fmt;

use wasm_bindgen::JsValue;

/// The `name` of every error this package throws.
pub const ERROR_NAME: &str = "XaerofluxError";

/// The stable `code` of a thrown error. Codes are part of the API: new ones may be added,
/// existing ones keep their meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// An argument has the wrong type or an impossible value (not hex, negative, too large
    /// for a JavaScript number, ...).
    InvalidArgument,
    /// An event payload is larger than the event format allows (16 MiB).
    PayloadTooLarge,
    /// Bytes given to a decoder (an event, a signed head, a proof, a proof file) are not
    /// well-formed.
    Malformed,
    /// A signed head's signature does not verify under its author's key.
    BadSignature,
    /// A proof is well-formed and signed, but does not prove what it claims.
    ProofInvalid,
    /// The store has no such feed or event to prove.
    NotFound,
    /// The browser's storage (IndexedDB) failed: quota, private mode, or an I/O error.
    Storage,
    /// What the browser's storage holds does not verify (the database was altered).
    Corrupt,
    /// Another tab or worker has this store open.
    Locked,
    /// The store was closed, or a failed write left it unusable until it is opened again.
    Closed,
    /// The environment lacks something the call needs (IndexedDB, Web Crypto).
    Unsupported,
    /// Sync with a peer failed (connection, protocol).
    Sync,
    /// An encrypted event's payload does not open with the secret given: the event is not
    /// encrypted, was sealed with another secret, or was altered.
    Decrypt,
    /// The author signed two histories (`fetchConsistency`): the error's `evidence` holds the
    /// fork evidence (both signed heads and the proof), which anyone can check.
    Forked,
    /// `Store.restoreArchive` into the name of a store that already exists (delete it first,
    /// or restore under another name).
    Exists,
    /// An archive's key is sealed with a password and none was given, or the password given
    /// does not unseal it.
    Password,
}

impl ErrorCode {
    /// The string JavaScript sees in `error.code`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::Malformed => "MALFORMED",
            Self::BadSignature => "BAD_SIGNATURE",
            Self::ProofInvalid => "PROOF_INVALID",
            Self::NotFound => "NOT_FOUND",
            Self::Storage => "STORAGE",
            Self::Corrupt => "CORRUPT",
            Self::Locked => "LOCKED",
            Self::Closed => "CLOSED",
            Self::Unsupported => "UNSUPPORTED",
            Self::Sync => "SYNC",
            Self::Decrypt => "DECRYPT",
            Self::Forked => "FORKED",
            Self::Exists => "EXISTS",
            Self::Password => "PASSWORD",
        }
    }

    /// Every code, for the type definitions and tests.
    pub const ALL: [ErrorCode; 16] = [
        Self::InvalidArgument,
        Self::PayloadTooLarge,
        Self::Malformed,
        Self::BadSignature,
        Self::ProofInvalid,
        Self::NotFound,
        Self::Storage,
        Self::Corrupt,
        Self::Locked,
        Self::Closed,
        Self::Unsupported,
        Self::Sync,
        Self::Decrypt,
        Self::Forked,
        Self::Exists,
        Self::Password,
    ];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that can be thrown into JavaScript: a code and a message.
pub trait JsError: fmt::Display {
    /// The code JavaScript sees.
    fn code(&self) -> ErrorCode;

    /// The JavaScript `Error` object for this error.
    fn to_js(&self) -> JsValue {
        make_js_error(self.code(), &self.to_string())
    }
}

/// Builds `Object.assign(new Error(message), { name: "XaerofluxError", code })`.
pub fn make_js_error(code: ErrorCode, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name(ERROR_NAME);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code.as_str()));
    err.into()
}

/// A bad argument: the message names the argument and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// The argument's name as the documentation spells it.
    pub name: &'static str,
    /// What was expected, e.g. "a 64-character hex string".
    pub expected: &'static str,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid argument `{}`: expected {}", self.name, self.expected)
    }
}

impl JsError for ArgError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InvalidArgument
    }
}

/// Converts any [`JsError`] into the thrown value (for `?` in exported functions).
pub fn throw<E: JsError>(e: E) -> JsValue {
    e.to_js()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_upper_snake() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'), "{s}");
        }
    }

    #[test]
    fn arg_error_message_names_the_argument() {
        let e = ArgError { name: "author", expected: "a 64-character hex string" };
        assert_eq!(e.to_string(), "invalid argument `author`: expected a 64-character hex string");
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
    }
}
