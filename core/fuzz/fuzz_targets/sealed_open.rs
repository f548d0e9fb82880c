//! Opening sealed payloads (`xaeroflux_core::sealed`) from arbitrary bytes: no panic, the
//! output buffer untouched on an error; and a payload sealed from the input opens to it, and
//! stops opening when any byte of it changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xaeroflux_core::AuthorId;
use xaeroflux_core::sealed::{self, DecryptError, SpaceSecret};

fuzz_target!(|data: &[u8]| {
    let secret = SpaceSecret::from_bytes([0x42; 32]);
    let author = AuthorId([0x17; 32]);

    // The bytes as a sealed payload; a leading 0 gives them this secret's version and key id,
    // so that the tag check is reached too.
    let mut payload = data.to_vec();
    if payload.first() == Some(&0) && payload.len() >= 5 {
        payload[0] = sealed::SEAL_VERSION;
        payload[1..5].copy_from_slice(&secret.key_id());
    }
    let mut out = vec![1, 2, 3];
    match sealed::open(&secret, &author, &payload, &mut out) {
        Ok(()) => assert_eq!(out.len(), 3 + payload.len() - sealed::OVERHEAD),
        Err(_) => assert_eq!(out, [1, 2, 3]),
    }
    let _ = sealed::key_id_of(&payload);

    // The bytes as a plaintext: sealed, opened, then changed at a place the input picks.
    let random: [u8; 24] = core::array::from_fn(|i| data.get(i).copied().unwrap_or(0));
    let mut sealed_bytes = Vec::new();
    sealed::seal(&secret, &author, data, &random, &mut sealed_bytes).expect("an input under 16 MiB seals");
    let mut plain = Vec::new();
    sealed::open(&secret, &author, &sealed_bytes, &mut plain).expect("a sealed payload opens");
    assert_eq!(plain, data);
    let at = data.iter().fold(0usize, |a, &b| a.wrapping_mul(31).wrapping_add(b as usize)) % sealed_bytes.len();
    sealed_bytes[at] ^= 1 << (data.len() % 8);
    let mut again = Vec::new();
    let err = sealed::open(&secret, &author, &sealed_bytes, &mut again).expect_err("a changed payload does not open");
    assert!(again.is_empty());
    match at {
        0 => assert!(matches!(err, DecryptError::UnknownVersion(_))),
        1..=4 => assert!(matches!(err, DecryptError::OtherSecret { .. })),
        _ => assert_eq!(err, DecryptError::Tampered),
    }
});
