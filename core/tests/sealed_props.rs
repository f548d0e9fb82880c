//! Properties of sealed payloads (`xaeroflux_core::sealed`): every plaintext round-trips,
//! and every change to a sealed payload, its author or its secret is refused, with the error
//! that names what is wrong.

use proptest::prelude::*;
use xaeroflux_core::sealed::{self, DecryptError, OVERHEAD, SpaceSecret};
use xaeroflux_core::{AuthorId, Event, EventFlags};

fn sealed_of(secret: &[u8; 32], author: &[u8; 32], plain: &[u8], random: &[u8; 24]) -> Vec<u8> {
    let mut out = Vec::new();
    sealed::seal(&SpaceSecret::from_bytes(*secret), &AuthorId(*author), plain, random, &mut out).unwrap();
    out
}

proptest! {
    #[test]
    fn a_sealed_plaintext_opens_to_itself_after_what_the_buffer_held(
        secret in any::<[u8; 32]>(),
        author in any::<[u8; 32]>(),
        plain in proptest::collection::vec(any::<u8>(), 0..2_000),
        random in any::<[u8; 24]>(),
        prefix in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let key = SpaceSecret::from_bytes(secret);
        let mut sealed_bytes = prefix.clone();
        sealed::seal(&key, &AuthorId(author), &plain, &random, &mut sealed_bytes).unwrap();
        prop_assert_eq!(&sealed_bytes[..prefix.len()], &prefix[..]);
        let body = &sealed_bytes[prefix.len()..];
        prop_assert_eq!(body.len(), plain.len() + OVERHEAD);
        prop_assert_eq!(sealed::key_id_of(body), Some(key.key_id()));
        // The same inputs seal to the same bytes (the nonce is derived, not drawn here).
        prop_assert_eq!(body, &sealed_of(&secret, &author, &plain, &random)[..]);
        let mut out = prefix.clone();
        sealed::open(&key, &AuthorId(author), body, &mut out).unwrap();
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        prop_assert_eq!(&out[prefix.len()..], &plain[..]);
    }

    #[test]
    fn any_flipped_bit_is_refused_by_what_it_hit(
        plain in proptest::collection::vec(any::<u8>(), 0..300),
        random in any::<[u8; 24]>(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let (secret, author) = ([5; 32], [6; 32]);
        let mut bytes = sealed_of(&secret, &author, &plain, &random);
        let at = at.index(bytes.len());
        bytes[at] ^= 1 << bit;
        let mut out = vec![9];
        let err = sealed::open(&SpaceSecret::from_bytes(secret), &AuthorId(author), &bytes, &mut out).unwrap_err();
        prop_assert_eq!(out, vec![9]);
        match at {
            0 => prop_assert_eq!(err, DecryptError::UnknownVersion(1 ^ (1 << bit))),
            1..=4 => prop_assert!(matches!(err, DecryptError::OtherSecret { .. }), "{:?}", err),
            _ => prop_assert_eq!(err, DecryptError::Tampered),
        }
    }

    #[test]
    fn cut_or_grown_payloads_do_not_open(
        plain in proptest::collection::vec(any::<u8>(), 0..300),
        cut in 1usize..400,
        extra in proptest::collection::vec(any::<u8>(), 1..20),
    ) {
        let key = SpaceSecret::from_bytes([1; 32]);
        let author = AuthorId([2; 32]);
        let bytes = sealed_of(&[1; 32], &[2; 32], &plain, &[3; 24]);
        let cut = cut.min(bytes.len());
        let short = &bytes[..bytes.len() - cut];
        let err = sealed::open(&key, &author, short, &mut Vec::new()).unwrap_err();
        if short.len() < OVERHEAD {
            prop_assert_eq!(err, DecryptError::TooShort { len: short.len() });
        } else {
            prop_assert_eq!(err, DecryptError::Tampered);
        }
        let mut long = bytes.clone();
        long.extend_from_slice(&extra);
        prop_assert_eq!(sealed::open(&key, &author, &long, &mut Vec::new()), Err(DecryptError::Tampered));
    }

    #[test]
    fn another_author_or_secret_does_not_open_it(
        secret in any::<[u8; 32]>(),
        other_secret in any::<[u8; 32]>(),
        author in any::<[u8; 32]>(),
        other_author in any::<[u8; 32]>(),
        plain in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        prop_assume!(secret != other_secret && author != other_author);
        let bytes = sealed_of(&secret, &author, &plain, &[0; 24]);
        let key = SpaceSecret::from_bytes(secret);
        prop_assert_eq!(sealed::open(&key, &AuthorId(other_author), &bytes, &mut Vec::new()), Err(DecryptError::Tampered));
        let other = SpaceSecret::from_bytes(other_secret);
        let err = sealed::open(&other, &AuthorId(author), &bytes, &mut Vec::new()).unwrap_err();
        // A 4-byte key id collides once in 2^32 pairs of secrets; the tag catches that one.
        let named_its_key = matches!(err, DecryptError::OtherSecret { key_id } if key_id == key.key_id());
        prop_assert!(named_its_key || err == DecryptError::Tampered, "{:?}", err);
        prop_assert!(key != other);
    }

    #[test]
    fn different_random_bytes_give_different_nonces(
        plain in proptest::collection::vec(any::<u8>(), 0..64),
        a in any::<[u8; 24]>(),
        b in any::<[u8; 24]>(),
    ) {
        prop_assume!(a != b);
        let x = sealed_of(&[1; 32], &[2; 32], &plain, &a);
        let y = sealed_of(&[1; 32], &[2; 32], &plain, &b);
        prop_assert_ne!(&x[5..29], &y[5..29]);
    }
}

#[test]
fn an_encrypted_event_decrypts_and_a_plain_one_says_so() {
    let secret = SpaceSecret::from_bytes([8; 32]);
    let author = AuthorId([9; 32]);
    let mut payload = Vec::new();
    sealed::seal(&secret, &author, b"only members read this", &[1; 24], &mut payload).unwrap();
    let ev = Event::new(author, 0, 1, 0, EventFlags::ENCRYPTED, &payload);
    assert_eq!(ev.decrypt(&secret).unwrap(), b"only members read this");
    assert_eq!(ev.as_ref().decrypt(&secret).unwrap(), b"only members read this");
    // The same bytes without the flag are not a sealed payload as far as readers go.
    let plain = Event::new(author, 0, 1, 0, EventFlags::NONE, &payload);
    assert_eq!(plain.decrypt(&secret), Err(DecryptError::NotEncrypted));
    // Copied into another author's event, it does not open.
    let stolen = Event::new(AuthorId([10; 32]), 0, 1, 0, EventFlags::ENCRYPTED, &payload);
    assert_eq!(stolen.decrypt(&secret), Err(DecryptError::Tampered));
}
