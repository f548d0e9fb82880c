//! MMR proof and proof file decoding on arbitrary bytes: no panic, every accepted proof is
//! canonical (it re-encodes to the input), and checking it against any root is an answer,
//! never a panic; an inclusion proof derived from an accepted range proof verifies whenever
//! the range does. Proofs arrive from peers (PAGES, RANGE_RESPONSE, PROOF_RESPONSE, FORK) and
//! from files (`xf verify`, the npm package's `verifyProofFile`).
//!
//! The first input byte selects the decoder. For the proof file, either the rest is cut into
//! its nine fields at 0xFF bytes (a field that is not UTF-8 is missing, a numeric one is read
//! as little-endian from up to 8 bytes), or (to reach the checks behind decoding) a valid file
//! is tampered with: the rest is read as edits of its event, proof and head bytes and of its
//! numbers. A tampered file that still verifies against its own signed head must show the
//! very event the valid one did.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xaeroflux_core::hash::{Hash, leaf_hash};
use xaeroflux_core::mmr::Mmr;
use xaeroflux_core::mmr::{ConsistencyProof, InclusionProof, RangeProof};
use xaeroflux_core::proof_file::{self, Anchor, FIELDS, FieldValue, ProofFields, Trust};
use xaeroflux_core::{AuthorKey, Event, EventFlags, hex};

/// A root and leaves to check accepted proofs against, taken from the input itself so the
/// fuzzer can steer them.
fn roots(data: &[u8]) -> (Hash, Hash, Vec<Hash>) {
    let root = leaf_hash(data);
    let other = leaf_hash(&root.0);
    let leaves = data.chunks(7).take(64).map(leaf_hash).collect();
    (root, other, leaves)
}

fn proofs(kind: u8, bytes: &[u8]) {
    let (root, other, leaves) = roots(bytes);
    match kind % 3 {
        0 => {
            if let Ok(p) = InclusionProof::decode(bytes) {
                assert_eq!(p.encode(), bytes, "an accepted inclusion proof is canonical");
                let _ = p.verify(&leaves.first().copied().unwrap_or(Hash::ZERO), &root);
            }
        }
        1 => {
            if let Ok(p) = ConsistencyProof::decode(bytes) {
                assert_eq!(p.encode(), bytes, "an accepted consistency proof is canonical");
                let _ = p.verify(&other, &root);
                if let Ok(prefix) = p.prefix_root(&root) {
                    // The prefix root it implies is one the proof verifies against.
                    assert_eq!(p.verify(&prefix, &root), Ok(()));
                }
            }
        }
        _ => {
            if let Ok(p) = RangeProof::decode(bytes) {
                assert_eq!(p.encode(), bytes, "an accepted range proof is canonical");
                let _ = p.verify(&leaves, &root);
                // An inclusion proof derived from it is an answer, never a panic; one derived
                // at all is for a root the range verifies against, and verifies itself.
                let want = usize::try_from(p.end - p.start).unwrap_or(usize::MAX);
                let range = leaves.get(..want).unwrap_or(&leaves);
                let mid = p.start + (p.end - p.start) / 2;
                for (root, leaf) in [(root, p.start), (other, mid), (root, p.end)] {
                    if let Ok(one) = p.inclusion_proof(range, leaf, &root) {
                        assert_eq!(p.verify(range, &root), Ok(()));
                        let k = usize::try_from(leaf - p.start).unwrap_or(usize::MAX);
                        assert_eq!(one.verify(&range[k], &root), Ok(()));
                    }
                }
            }
        }
    }
}

fn file(bytes: &[u8]) {
    let mut parts = bytes.split(|&b| b == 0xff);
    let mut text: [Option<&str>; 9] = [None; 9];
    let mut number: [Option<u64>; 9] = [None; 9];
    for (i, (_, numeric)) in FIELDS.iter().enumerate() {
        let Some(part) = parts.next() else { break };
        if *numeric {
            let mut le = [0u8; 8];
            let n = part.len().min(8);
            le[..n].copy_from_slice(&part[..n]);
            number[i] = (!part.is_empty()).then(|| u64::from_le_bytes(le));
        } else {
            text[i] = std::str::from_utf8(part).ok();
        }
    }
    let at = |name: &str| FIELDS.iter().position(|(n, _)| *n == name);
    let fields = ProofFields::from_lookup(|n| at(n).and_then(|i| text[i]), |n| at(n).and_then(|i| number[i]));
    let Ok(decoded) = proof_file::decode(&fields) else { return };
    let (root, _, _) = roots(bytes);
    for anchor in [Anchor::FileHead, Anchor::Root(root), Anchor::Root(decoded.head.root), Anchor::Head(decoded.head)] {
        let _ = proof_file::verify(&decoded, &Trust { anchor, author: None });
    }
}

/// A valid proof file's fields, built once: event 11 of a 23-event feed.
fn valid() -> &'static [(&'static str, FieldValue); 9] {
    static VALID: std::sync::OnceLock<[(&'static str, FieldValue); 9]> = std::sync::OnceLock::new();
    VALID.get_or_init(|| {
        let key = AuthorKey::from_secret_bytes(&[5; 32]);
        let events: Vec<Event> =
            (0..23).map(|s| Event::new(key.author(), s, 1_000 + s, 1, EventFlags::NONE, &[s as u8; 40])).collect();
        let mut mmr = Mmr::new();
        for e in &events {
            mmr.append(e.leaf_hash());
        }
        let head = key.sign_head(23, mmr.root());
        let proof = mmr.inclusion_proof(11).expect("11 < 23");
        proof_file::encode(&events[11].as_ref(), &proof, &head)
    })
}

fn tampered(edits: &[u8]) {
    let valid = valid();
    let mut binary: Vec<Vec<u8>> = ["event", "proof", "head"]
        .iter()
        .map(|name| match valid.iter().find(|(n, _)| n == name) {
            Some((_, FieldValue::Str(s))) => hex::decode(s).expect("our own hex"),
            _ => Vec::new(),
        })
        .collect();
    let mut numbers: Vec<(&str, u64)> = valid
        .iter()
        .filter_map(|(n, v)| match v {
            FieldValue::Num(x) => Some((*n, *x)),
            FieldValue::Str(_) => None,
        })
        .collect();
    // Edits of 4 bytes: which piece (binary ones, then numbers), where (u16), what to XOR.
    for e in edits.chunks_exact(4) {
        let at = usize::from(u16::from_le_bytes([e[1], e[2]]));
        match usize::from(e[0]) % (binary.len() + numbers.len() + 1) {
            i if i < binary.len() => {
                let piece = &mut binary[i];
                if !piece.is_empty() {
                    let len = piece.len();
                    piece[at % len] ^= e[3];
                }
            }
            i if i < binary.len() + numbers.len() => numbers[i - binary.len()].1 ^= u64::from(e[3]) << (at % 8 * 8),
            // Cut the event, the proof or the head short.
            _ => {
                let piece = &mut binary[at % 3];
                piece.truncate(usize::from(e[3]) % (piece.len() + 1));
            }
        }
    }
    let hexed: Vec<String> = binary.iter().map(|b| hex::encode(b)).collect();
    let text = |name: &str| match name {
        "event" => Some(hexed[0].as_str()),
        "proof" => Some(hexed[1].as_str()),
        "head" => Some(hexed[2].as_str()),
        _ => valid.iter().find(|(n, _)| *n == name).and_then(|(_, v)| match v {
            FieldValue::Str(s) => Some(s.as_str()),
            FieldValue::Num(_) => None,
        }),
    };
    let number = |name: &str| numbers.iter().find(|(n, _)| *n == name).map(|(_, x)| *x);
    let decoded = proof_file::decode(&ProofFields::from_lookup(text, number));
    let verified = decoded.as_ref().is_ok_and(|d| proof_file::verify(d, &Trust::default()).is_ok());
    if edits.len() < 4 {
        assert!(verified, "the untampered file verifies");
    }
    let Ok(decoded) = decoded else { return };
    if verified {
        let original = valid.iter().find(|(n, _)| *n == "event").map(|(_, v)| v);
        assert_eq!(
            Some(&FieldValue::Str(hex::encode(decoded.event.encoded()))),
            original,
            "a tampered proof file verified for another event"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector {
        0xc0.. => file(rest),
        0x80.. => tampered(rest),
        _ => proofs(selector, rest),
    }
});
