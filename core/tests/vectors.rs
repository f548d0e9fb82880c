//! Test vectors, produced by a deliberately simple reference written here from the
//! definitions in `docs/formats.md` (blake3 and ed25519 used directly, recursion instead
//! of the core's iterative algorithms), and checked three ways:
//!
//! 1. the reference agrees with `core/tests/vectors.json` (the committed vectors);
//! 2. the implementation in `xaeroflux-core` agrees with the reference;
//! 3. the JSON is what other implementations (the JS side) check themselves against.
//!
//! Regenerate with `XF_UPDATE_VECTORS=1 cargo test -p xaeroflux-core --test vectors -- --test-threads=1`.

use serde_json::{Value, json};
use xaeroflux_core::{AuthorKey, Event, EventFlags, EventRef, Hash, SignedHead, hash, mmr, page};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors.json");

fn hx(b: &[u8]) -> String {
    hex::encode(b)
}

/// The reference: the formats, written from their definitions.
mod reference {
    pub type H = [u8; 32];

    pub fn key(ctx: &str) -> H {
        blake3::derive_key(ctx, b"")
    }
    pub fn keyed(ctx: &str, parts: &[&[u8]]) -> H {
        let mut input = Vec::new();
        for p in parts {
            input.extend_from_slice(p);
        }
        *blake3::keyed_hash(&key(ctx), &input).as_bytes()
    }
    pub fn leaf(encoded: &[u8]) -> H {
        keyed("xaeroflux 2026-11 event leaf v1", &[encoded])
    }
    pub fn mmr_node(l: &H, r: &H) -> H {
        keyed("xaeroflux 2026-11 mmr node v1", &[l, r])
    }
    pub fn page_node(l: &H, r: &H) -> H {
        keyed("xaeroflux 2026-11 page node v1", &[l, r])
    }

    pub fn event(author: &[u8; 32], seq: u64, ts: u64, kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![1u8, flags];
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v.extend_from_slice(&seq.to_le_bytes());
        v.extend_from_slice(&ts.to_le_bytes());
        v.extend_from_slice(author);
        v.extend_from_slice(payload);
        v
    }

    /// Root of a perfect mountain over `leaves` (a power of two in length).
    pub fn mountain(leaves: &[H]) -> H {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let (l, r) = leaves.split_at(leaves.len() / 2);
        mmr_node(&mountain(l), &mountain(r))
    }

    /// Peaks: the mountains of the binary decomposition of the leaf count, largest first.
    pub fn peaks(leaves: &[H]) -> Vec<H> {
        let mut out = Vec::new();
        let mut rest = leaves;
        while !rest.is_empty() {
            let size = 1usize << (usize::BITS - 1 - rest.len().leading_zeros());
            out.push(mountain(&rest[..size]));
            rest = &rest[size..];
        }
        out
    }

    /// Inclusion proof of leaf `i` in `leaves`, encoded as `docs/formats.md` says: the
    /// sibling path inside its mountain (bottom first), then the other peaks.
    pub fn inclusion_proof(leaves: &[H], i: usize) -> Vec<u8> {
        let mut start = 0;
        let mut own = None;
        let mut other_peaks = Vec::new();
        let mut rest = leaves.len();
        while rest > 0 {
            let size = 1usize << (usize::BITS - 1 - rest.leading_zeros());
            if (start..start + size).contains(&i) {
                own = Some((start, size));
            } else {
                other_peaks.push(mountain(&leaves[start..start + size]));
            }
            start += size;
            rest -= size;
        }
        let (mut lo, mut size) = own.expect("i < n");
        let mut path_top_first = Vec::new();
        while size > 1 {
            size /= 2;
            if i < lo + size {
                path_top_first.push(mountain(&leaves[lo + size..lo + 2 * size]));
            } else {
                path_top_first.push(mountain(&leaves[lo..lo + size]));
                lo += size;
            }
        }
        let mut out = vec![1u8, 1];
        out.extend_from_slice(&(i as u64).to_le_bytes());
        out.extend_from_slice(&(leaves.len() as u64).to_le_bytes());
        out.push(path_top_first.len() as u8);
        out.push(other_peaks.len() as u8);
        for h in path_top_first.iter().rev().chain(other_peaks.iter()) {
            out.extend_from_slice(h);
        }
        out
    }

    pub fn mmr_root(leaves: &[H]) -> H {
        let peaks = peaks(leaves);
        let mut parts: Vec<&[u8]> = Vec::new();
        let n = (leaves.len() as u64).to_le_bytes();
        parts.push(&n);
        for p in &peaks {
            parts.push(p);
        }
        keyed("xaeroflux 2026-11 mmr root v1", &parts)
    }

    /// RFC 6962-style left-balanced tree: split at the largest power of two below n.
    pub fn page_top(leaves: &[H]) -> H {
        match leaves.len() {
            0 => [0; 32],
            1 => leaves[0],
            n => {
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                page_node(&page_top(&leaves[..k]), &page_top(&leaves[k..]))
            }
        }
    }

    pub fn page_root(leaves: &[H]) -> H {
        keyed("xaeroflux 2026-11 page root v1", &[&(leaves.len() as u32).to_le_bytes(), &page_top(leaves)])
    }

    pub fn head_message(author: &[u8; 32], length: u64, root: &H) -> Vec<u8> {
        let mut m = b"xaeroflux head v1\0".to_vec();
        m.extend_from_slice(author);
        m.extend_from_slice(&length.to_le_bytes());
        m.extend_from_slice(root);
        m
    }
}

fn author_key(i: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[i; 32])
}

/// Deterministic events of one feed: payload sizes cycle through boundary-ish lengths.
fn feed_events(secret: u8, n: u64) -> Vec<Vec<u8>> {
    let author = author_key(secret).verifying_key().to_bytes();
    (0..n)
        .map(|seq| {
            let len = [0usize, 1, 31, 32, 33, 200, 1000][(seq % 7) as usize];
            let payload: Vec<u8> = (0..len).map(|j| (seq as usize * 31 + j) as u8).collect();
            reference::event(&author, seq, 1_764_000_000_000_000 + seq * 1_000, (seq % 3) as u16, 0, &payload)
        })
        .collect()
}

fn generate() -> Value {
    use reference as r;
    let domains: Vec<Value> = [
        ("leaf", "xaeroflux 2026-11 event leaf v1"),
        ("mmr_node", "xaeroflux 2026-11 mmr node v1"),
        ("mmr_root", "xaeroflux 2026-11 mmr root v1"),
        ("page_node", "xaeroflux 2026-11 page node v1"),
        ("page_root", "xaeroflux 2026-11 page root v1"),
        ("page_checksum", "xaeroflux 2026-11 page checksum v1"),
    ]
    .iter()
    .map(|(name, ctx)| json!({"name": name, "context": ctx, "key": hx(&r::key(ctx))}))
    .collect();

    let author = author_key(1).verifying_key().to_bytes();
    let events: Vec<Value> = [
        (0u64, 0u64, 0u16, 0u8, &b""[..]),
        (1, 1_764_000_000_000_000, 7, 0x01, b"hello"),
        (u64::MAX, u64::MAX, u16::MAX, 0x03, &[0xff; 64][..]),
    ]
    .iter()
    .map(|&(seq, ts, kind, flags, payload)| {
        let enc = r::event(&author, seq, ts, kind, flags, payload);
        json!({
            "author": hx(&author), "seq": seq.to_string(), "timestamp_us": ts.to_string(), "kind": kind,
            "flags": flags, "payload": hx(payload), "encoded": hx(&enc), "leaf_hash": hx(&r::leaf(&enc)),
        })
    })
    .collect();

    let leaves: Vec<r::H> = feed_events(2, 70).iter().map(|e| r::leaf(e)).collect();
    let mmr: Vec<Value> = [0usize, 1, 2, 3, 4, 5, 7, 8, 11, 16, 31, 32, 33, 63, 64, 70]
        .iter()
        .map(|&n| {
            let peaks: Vec<String> = r::peaks(&leaves[..n]).iter().map(|p| hx(p)).collect();
            json!({"leaves": n, "peaks": peaks, "root": hx(&r::mmr_root(&leaves[..n]))})
        })
        .collect();

    let inclusion_proofs: Vec<Value> = [(1usize, 0usize), (2, 1), (3, 2), (7, 0), (7, 4), (7, 6), (8, 5), (11, 9), (70, 0), (70, 37), (70, 69)]
        .iter()
        .map(|&(n, i)| json!({"leaves": n, "index": i, "root": hx(&r::mmr_root(&leaves[..n])), "proof": hx(&r::inclusion_proof(&leaves[..n], i))}))
        .collect();

    let page_trees: Vec<Value> = [0usize, 1, 2, 3, 4, 5, 7, 8, 9, 13, 70]
        .iter()
        .map(|&n| json!({"count": n, "top": hx(&r::page_top(&leaves[..n])), "root": hx(&r::page_root(&leaves[..n]))}))
        .collect();

    let heads: Vec<Value> = [(3u8, 0usize), (3, 1), (4, 70)]
        .iter()
        .map(|&(secret, n)| {
            let key = author_key(secret);
            let a = key.verifying_key().to_bytes();
            let root = r::mmr_root(&leaves[..n]);
            use ed25519_dalek::Signer;
            let sig = key.sign(&r::head_message(&a, n as u64, &root)).to_bytes();
            let mut enc = vec![1u8];
            enc.extend_from_slice(&a);
            enc.extend_from_slice(&(n as u64).to_le_bytes());
            enc.extend_from_slice(&root);
            enc.extend_from_slice(&sig);
            json!({"secret": hx(&[secret; 32]), "length": n, "root": hx(&root), "encoded": hx(&enc)})
        })
        .collect();

    json!({
        "about": "Xaeroflux test vectors v1. Feed events for `mmr`, `inclusion_proofs` and `page_trees`: see `feed_events` in core/tests/vectors.rs (author secret [2;32]); leaf i is the leaf hash of event i.",
        "domains": domains,
        "events": events,
        "feed_leaves": leaves.iter().map(|l| hx(l)).collect::<Vec<_>>(),
        "mmr": mmr,
        "inclusion_proofs": inclusion_proofs,
        "page_trees": page_trees,
        "heads": heads,
    })
}

fn load() -> Value {
    let text = std::fs::read_to_string(VECTORS).expect("core/tests/vectors.json is committed");
    serde_json::from_str(&text).expect("vectors.json is valid JSON")
}

fn h(v: &Value) -> Hash {
    Hash::from_hex(v.as_str().expect("hex string")).expect("64 hex digits")
}

#[test]
fn reference_matches_committed_vectors() {
    let generated = generate();
    if std::env::var_os("XF_UPDATE_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        std::fs::write(VECTORS, text).unwrap();
    }
    assert_eq!(
        generated,
        load(),
        "reference and vectors.json disagree; regenerate with XF_UPDATE_VECTORS=1 if intended"
    );
}

#[test]
fn implementation_matches_vectors() {
    let v = load();
    for d in v["domains"].as_array().unwrap() {
        let key = d["key"].as_str().unwrap();
        let ours = match d["name"].as_str().unwrap() {
            "leaf" => hash::LEAF_KEY,
            "mmr_node" => hash::MMR_NODE_KEY,
            "mmr_root" => hash::MMR_ROOT_KEY,
            "page_node" => hash::PAGE_NODE_KEY,
            "page_root" => hash::PAGE_ROOT_KEY,
            "page_checksum" => hash::PAGE_CHECKSUM_KEY,
            other => panic!("unknown domain {other}"),
        };
        assert_eq!(hx(&ours), key);
    }
    for e in v["events"].as_array().unwrap() {
        let mut author = [0u8; 32];
        author.copy_from_slice(&hex::decode(e["author"].as_str().unwrap()).unwrap());
        let payload = hex::decode(e["payload"].as_str().unwrap()).unwrap();
        let ev = Event::new(
            xaeroflux_core::AuthorId(author),
            e["seq"].as_str().unwrap().parse().unwrap(),
            e["timestamp_us"].as_str().unwrap().parse().unwrap(),
            e["kind"].as_u64().unwrap() as u16,
            EventFlags(e["flags"].as_u64().unwrap() as u8),
            &payload,
        );
        assert_eq!(hx(ev.encoded()), e["encoded"].as_str().unwrap());
        assert_eq!(ev.leaf_hash(), h(&e["leaf_hash"]));
        let parsed = EventRef::parse(ev.encoded()).unwrap();
        assert_eq!(parsed.payload(), &payload[..]);
    }
    let leaves: Vec<Hash> = v["feed_leaves"].as_array().unwrap().iter().map(h).collect();
    for case in v["mmr"].as_array().unwrap() {
        let n = case["leaves"].as_u64().unwrap() as usize;
        let mut m = mmr::Mmr::new();
        for l in &leaves[..n] {
            m.append(*l);
        }
        let peaks: Vec<Hash> = case["peaks"].as_array().unwrap().iter().map(h).collect();
        assert_eq!(m.peaks().peaks(), &peaks[..], "peaks of {n}");
        assert_eq!(m.root(), h(&case["root"]), "root of {n}");
        assert_eq!(hash::mmr_root(n as u64, &peaks), h(&case["root"]));
    }
    for case in v["inclusion_proofs"].as_array().unwrap() {
        let n = case["leaves"].as_u64().unwrap() as usize;
        let i = case["index"].as_u64().unwrap();
        let mut m = mmr::Mmr::new();
        for l in &leaves[..n] {
            m.append(*l);
        }
        let proof = m.inclusion_proof(i).unwrap();
        assert_eq!(hx(&proof.encode()), case["proof"].as_str().unwrap(), "inclusion proof {i} of {n}");
        let decoded = mmr::InclusionProof::decode(&hex::decode(case["proof"].as_str().unwrap()).unwrap()).unwrap();
        decoded.verify(&leaves[i as usize], &h(&case["root"])).unwrap();
    }
    for case in v["page_trees"].as_array().unwrap() {
        let n = case["count"].as_u64().unwrap() as usize;
        assert_eq!(page::page_tree_root(&leaves[..n]), h(&case["root"]), "page root of {n}");
    }
    for case in v["heads"].as_array().unwrap() {
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&hex::decode(case["secret"].as_str().unwrap()).unwrap());
        let head = AuthorKey::from_secret_bytes(&secret).sign_head(case["length"].as_u64().unwrap(), h(&case["root"]));
        assert_eq!(hx(&head.encode()), case["encoded"].as_str().unwrap());
        let dec = SignedHead::decode(&hex::decode(case["encoded"].as_str().unwrap()).unwrap()).unwrap();
        dec.verify().unwrap();
    }
}

/// The worked example at the end of `docs/formats.md`, recomputed so the doc cannot drift.
#[test]
fn docs_worked_example() {
    let doc = include_str!("../../docs/formats.md");
    // In each ```text block, the first word of every line is hex; the rest is commentary.
    let squash = |s: &str| s.lines().filter_map(|l| l.split_whitespace().next()).collect::<String>();
    let key = AuthorKey::from_secret_bytes(&[1; 32]);
    let ev = Event::new(key.author(), 0, 1_764_000_000_000_000, 1, EventFlags::NONE, b"hi");
    let root = hash::mmr_root(1, &[ev.leaf_hash()]);
    let head = key.sign_head(1, root);
    let blocks: Vec<String> =
        doc.split("```text").skip(1).map(|b| squash(b.split("```").next().unwrap_or(""))).collect();
    assert!(blocks.contains(&hx(ev.encoded())), "event bytes in docs/formats.md are out of date: {}", hx(ev.encoded()));
    assert!(
        blocks.contains(&hx(&head.encode())),
        "head bytes in docs/formats.md are out of date: {}",
        hx(&head.encode())
    );
    for value in
        [key.author().to_string(), ev.leaf_hash().to_string(), root.to_string(), hash::mmr_root(0, &[]).to_string()]
    {
        assert!(doc.contains(&value), "docs/formats.md lacks {value}");
    }
}
