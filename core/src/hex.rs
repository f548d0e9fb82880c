//! Lower-case hexadecimal, the text form of keys, hashes and binary fields (proof files, the
//! browser package's API).

use alloc::string::String;
use alloc::vec::Vec;

/// Lower-case hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The value of one hex digit (either case).
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The byte of two hex digits.
fn byte(pair: &[u8]) -> Option<u8> {
    Some((nibble(*pair.first()?)? << 4) | nibble(*pair.get(1)?)?)
}

/// The bytes of a hex string (either case, surrounding whitespace ignored), or `None`.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2).map(byte).collect()
}

/// The `N` bytes of exactly `2 * N` hex digits (either case, no whitespace), or `None`;
/// without allocating.
pub fn decode_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = byte(pair)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_case_out_either_case_in() {
        let b: Vec<u8> = (0..=255).collect();
        let h = encode(&b);
        assert!(h.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_eq!(decode(&h), Some(b.clone()));
        assert_eq!(decode(&h.to_uppercase()), Some(b));
        assert_eq!(decode(" 0a "), Some([10].to_vec()));
        assert_eq!(decode("0"), None);
        assert_eq!(decode("0g"), None);
        assert_eq!(decode_array::<2>("0aFf"), Some([0x0a, 0xff]));
        assert_eq!(decode_array::<2>("0aff0"), None);
        assert_eq!(decode_array::<2>(" 0aff"), None);
        assert_eq!(decode_array::<2>("0afg"), None);
        assert_eq!(decode_array::<0>(""), Some([]));
    }
}
