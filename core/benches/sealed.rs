//! Sealed payloads: what sealing and opening cost, against the bare XChaCha20-Poly1305 calls
//! they make (the floor: no nonce derivation, no header, no copy).
//!
//! Run with `cargo bench -p xaeroflux-core --bench sealed`. For each payload size, the best of
//! several rounds of many operations, in MB/s of plaintext and in ns per operation.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use xaeroflux_core::AuthorId;
use xaeroflux_core::sealed::{self, SpaceSecret};

/// The fastest of `rounds` runs of `ops` calls of `f`, per call.
fn best(rounds: usize, ops: usize, mut f: impl FnMut()) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..ops {
            f();
        }
        best = best.min(start.elapsed() / ops as u32);
    }
    best
}

fn main() {
    let secret = SpaceSecret::from_bytes([7; 32]);
    let author = AuthorId([9; 32]);
    let cipher = XChaCha20Poly1305::new(&[3u8; 32].into());
    println!("| plaintext | seal | open | bare encrypt (floor) | bare decrypt (floor) | seal / floor | open / floor |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for size in [64usize, 256, 1024, 16 * 1024, 256 * 1024] {
        let plain = vec![0x5Au8; size];
        let ops = (64 << 20) / (size + 256);
        let mut out = Vec::with_capacity(sealed::sealed_len(size));
        let seal = best(5, ops, || {
            out.clear();
            sealed::seal(&secret, &author, black_box(&plain), &[1; 24], &mut out).expect("seals");
            black_box(&out);
        });
        let sealed_bytes = out.clone();
        let mut opened = Vec::with_capacity(size);
        let open = best(5, ops, || {
            opened.clear();
            sealed::open(&secret, &author, black_box(&sealed_bytes), &mut opened).expect("opens");
            black_box(&opened);
        });
        let nonce = XNonce::from([1u8; 24]);
        let mut buf = plain.clone();
        let mut tag = Default::default();
        let enc = best(5, ops, || {
            tag = cipher.encrypt_in_place_detached(&nonce, &[], black_box(&mut buf[..])).expect("encrypts");
            black_box(&tag);
        });
        // Decrypting what was encrypted last (the buffer holds the ciphertext of the previous
        // plaintext, and `tag` its tag): refresh both so every call authenticates.
        let mut ct = plain.clone();
        let tag = cipher.encrypt_in_place_detached(&nonce, &[], &mut ct[..]).expect("encrypts");
        let dec = best(5, ops, || {
            buf.copy_from_slice(&ct);
            cipher.decrypt_in_place_detached(&nonce, &[], black_box(&mut buf[..]), &tag).expect("decrypts");
        });
        let mbs = |d: Duration| size as f64 / d.as_secs_f64() / 1e6;
        println!(
            "| {size} B | {:.0} ns ({:.0} MB/s) | {:.0} ns ({:.0} MB/s) | {:.0} ns | {:.0} ns | {:.2}× | {:.2}× |",
            seal.as_nanos(),
            mbs(seal),
            open.as_nanos(),
            mbs(open),
            enc.as_nanos(),
            dec.as_nanos(),
            seal.as_secs_f64() / enc.as_secs_f64(),
            open.as_secs_f64() / dec.as_secs_f64(),
        );
    }
}
