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
pub(crate) fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The bytes of a hex string (either case, surrounding whitespace ignored), or `None`.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2).map(|p| Some((nibble(p[0])? << 4) | nibble(p[1])?)).collect()
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
    }
}
