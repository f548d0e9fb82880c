//! A bounds-checked reader over an untrusted message body, and the decode error it gives.

use core::fmt;

use super::varint::{self, VarintError};

/// Why a message body (or a compact event) does not decode. `field` names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body ends inside `field`.
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// `field` is not a valid varint.
    Varint {
        /// The field being read.
        field: &'static str,
        /// What is wrong with it.
        error: VarintError,
    },
    /// `field` holds a value outside its range.
    OutOfRange {
        /// The field being read.
        field: &'static str,
        /// The value found (saturated to `u64`).
        value: u64,
    },
    /// Bytes are left after the last field.
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A HELLO that does not start with `XSP`.
    BadMagic,
    /// A frame type this version does not know.
    UnknownType(u8),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { field } => write!(f, "message ends inside field `{field}`"),
            Self::Varint { field, error } => write!(f, "field `{field}`: {error}"),
            Self::OutOfRange { field, value } => write!(f, "field `{field}` has out-of-range value {value}"),
            Self::TrailingBytes { count } => write!(f, "{count} bytes left after the last field"),
            Self::BadMagic => f.write_str("HELLO does not start with \"XSP\""),
            Self::UnknownType(t) => write!(f, "unknown frame type {t:#04x}"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// A cursor over untrusted bytes; every read is checked.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.bytes)
    }

    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let (v, n) = varint::decode(self.bytes).map_err(|error| match error {
            VarintError::Truncated => DecodeError::Truncated { field },
            error => DecodeError::Varint { field, error },
        })?;
        self.bytes = self.bytes.get(n..).unwrap_or_default();
        Ok(v)
    }

    /// A varint that must be at most `max`.
    pub(crate) fn varint_max(&mut self, field: &'static str, max: u64) -> Result<u64, DecodeError> {
        let v = self.varint(field)?;
        if v > max {
            return Err(DecodeError::OutOfRange { field, value: v });
        }
        Ok(v)
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let v = self.varint(field)?;
        u32::try_from(v).map_err(|_| DecodeError::OutOfRange { field, value: v })
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let (&b, rest) = self.bytes.split_first().ok_or(DecodeError::Truncated { field })?;
        self.bytes = rest;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError::Truncated { field });
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    /// `bytes`: a varint length, then that many bytes.
    pub(crate) fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.varint(field)?;
        let n = usize::try_from(n).map_err(|_| DecodeError::OutOfRange { field, value: n })?;
        self.take(n, field)
    }

    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() { Ok(()) } else { Err(DecodeError::TrailingBytes { count: self.bytes.len() }) }
    }
}
