//! LEB128 varints and zigzag, as XSP puts them on the wire.
//!
//! A varint is at most [`MAX_VARINT_LEN`] bytes, minimal (no trailing `0x00` group) and
//! never above `u64::MAX`; anything else is refused with a precise [`VarintError`].
//!
//! ```
//! use xaeroflux_core::xsp::varint::{decode, encode, MAX_VARINT_LEN};
//!
//! let mut buf = [0u8; MAX_VARINT_LEN];
//! let n = encode(300, &mut buf);
//! assert_eq!(&buf[..n], &[0xac, 0x02]);
//! assert_eq!(decode(&buf[..n]), Ok((300, 2)));
//! ```

use alloc::vec::Vec;
use core::fmt;

/// The longest varint: 10 bytes carry 64 bits.
pub const MAX_VARINT_LEN: usize = 10;

/// Why bytes are not a varint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VarintError {
    /// The bytes end before the last group.
    Truncated,
    /// More than ten bytes, or a tenth byte above 1: the value does not fit a `u64`.
    Overflow,
    /// The encoding is longer than needed (a last group of zero after another group).
    Overlong,
}

impl fmt::Display for VarintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Truncated => "truncated varint",
            Self::Overflow => "varint does not fit in 64 bits",
            Self::Overlong => "varint is not minimally encoded",
        })
    }
}

impl core::error::Error for VarintError {}

/// Number of bytes the varint of `v` takes.
#[inline]
pub const fn len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Writes `v` into `out` (which must hold [`len`]`(v)` bytes; [`MAX_VARINT_LEN`] always
/// suffices) and returns the number of bytes written.
///
/// # Panics
/// If `out` is shorter than [`len`]`(v)`: a bug of the caller, never caused by input.
#[inline]
pub fn encode(mut v: u64, out: &mut [u8]) -> usize {
    let mut i = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out[i] = byte;
            return i + 1;
        }
        out[i] = byte | 0x80;
        i += 1;
    }
}

/// Appends the varint of `v` to `out`.
#[inline]
pub fn push(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; MAX_VARINT_LEN];
    let n = encode(v, &mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// Reads a varint at the start of `bytes`: the value and the bytes it spans.
#[inline]
pub fn decode(bytes: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut v: u64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if i == MAX_VARINT_LEN - 1 && b > 1 {
            return Err(VarintError::Overflow);
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(VarintError::Overlong);
            }
            return Ok((v, i + 1));
        }
        if i == MAX_VARINT_LEN - 1 {
            return Err(VarintError::Overflow);
        }
    }
    Err(VarintError::Truncated)
}

/// Zigzag-maps a signed value so that small magnitudes give short varints.
#[inline]
pub const fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
pub const fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        for (v, enc) in [
            (0u64, &[0u8][..]),
            (1, &[1]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (u64::MAX, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ] {
            let mut b = [0u8; MAX_VARINT_LEN];
            let n = encode(v, &mut b);
            assert_eq!(&b[..n], enc, "{v}");
            assert_eq!(len(v), n);
            assert_eq!(decode(enc), Ok((v, n)));
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(decode(&[]), Err(VarintError::Truncated));
        assert_eq!(decode(&[0x80]), Err(VarintError::Truncated));
        assert_eq!(decode(&[0x80, 0x00]), Err(VarintError::Overlong));
        assert_eq!(decode(&[0xff, 0x80, 0x00]), Err(VarintError::Overlong));
        assert_eq!(decode(&[0xff; 9].iter().chain(&[0x02]).copied().collect::<Vec<_>>()), Err(VarintError::Overflow));
        assert_eq!(decode(&[0xff; 11]), Err(VarintError::Overflow));
        assert_eq!(decode(&[0xff; 10]), Err(VarintError::Overflow));
    }

    proptest! {
        #[test]
        fn round_trip(v: u64, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut b = Vec::new();
            push(&mut b, v);
            prop_assert_eq!(b.len(), len(v));
            b.extend_from_slice(&tail);
            prop_assert_eq!(decode(&b), Ok((v, len(v))));
        }

        #[test]
        fn decode_is_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            // Whatever decodes re-encodes to exactly the bytes it came from.
            if let Ok((v, n)) = decode(&bytes) {
                let mut b = Vec::new();
                push(&mut b, v);
                prop_assert_eq!(&b[..], &bytes[..n]);
            }
        }

        #[test]
        fn zigzag_round_trip(v: i64) {
            prop_assert_eq!(unzigzag(zigzag(v)), v);
            prop_assert!(len(zigzag(v)) <= len(v.unsigned_abs()) + 1);
        }
    }
}
