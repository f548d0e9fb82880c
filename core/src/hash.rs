//! Hashing: blake3 in keyed mode, one key per domain.
//!
//! Every hash in Xaeroflux is `blake3::keyed_hash(domain_key, input)`, where each
//! domain has its own 32-byte key derived once with
//! `blake3::derive_key(context, b"")`. Keyed mode costs exactly what plain blake3
//! costs (the key replaces the IV), so an interior node over two 32-byte children is
//! one 64-byte block and one compression, while a leaf can never be confused with a
//! node, a node with a root, or an MMR node with a page node: the keys differ.
//!
//! | domain | input | function |
//! |---|---|---|
//! | event leaf | the encoded event (header + payload) | [`leaf_hash`] |
//! | MMR node | left child ‖ right child | [`mmr_node`] |
//! | MMR root | `u64` LE leaf count ‖ peaks, left to right | [`mmr_root`] |
//! | page node | left child ‖ right child | [`page_node`] |
//! | page root | `u32` LE event count ‖ top node of the page tree | [`page_root`] |
//! | page checksum (version-1 pages, read only) | page header ‖ events | [`page_checksum_v1`] |
//!
//! The page checksum of version-2 pages ([`page_checksum`]) is not a blake3 hash: it only
//! catches torn and corrupted writes (authenticity comes from the page tree and the MMR), so
//! it is XXH3-64, seeded with [`PAGE_CHECKSUM_SEED`], over the events followed by the page
//! header: 3–5× cheaper per page than keyed blake3 on the machines we measured
//! (`docs/benchmarks.md`).
//!
//! The keys and the seed are constants in this module; a unit test re-derives them from their
//! context strings, so a change to either is caught.

use alloc::vec::Vec;
use core::fmt;

/// A 32-byte blake3 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(transparent)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash, used where a format needs a placeholder (never a real digest).
    pub const ZERO: Hash = Hash([0; 32]);

    /// The digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hexadecimal characters (either case).
    pub fn from_hex(hex: &str) -> Option<Hash> {
        crate::hex::decode_array(hex).map(Hash)
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Self {
        Hash(bytes)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Hash {
    /// Lower-case hexadecimal, 64 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

/// `derive_key("xaeroflux 2026-11 event leaf v1", b"")`
pub const LEAF_KEY: [u8; 32] = [
    0xf6, 0x2e, 0x1e, 0xa7, 0x16, 0x43, 0x14, 0xaa, 0x60, 0xff, 0xba, 0xa3, 0xf2, 0x6d, 0xb0, 0x1f, 0x55, 0xa3, 0x86,
    0x85, 0x1d, 0xd8, 0x12, 0x4c, 0x10, 0x76, 0x0b, 0xd1, 0x5f, 0x80, 0xcb, 0xe8,
];
/// `derive_key("xaeroflux 2026-11 mmr node v1", b"")`
pub const MMR_NODE_KEY: [u8; 32] = [
    0x57, 0xaa, 0x84, 0x6d, 0xe0, 0xdc, 0xcb, 0x06, 0x33, 0x98, 0x09, 0x55, 0xc4, 0x47, 0x78, 0xfe, 0x24, 0xe1, 0xcd,
    0x95, 0x94, 0x7e, 0x1a, 0xbf, 0xd3, 0xf4, 0x44, 0x2f, 0x9a, 0x34, 0xf3, 0x45,
];
/// `derive_key("xaeroflux 2026-11 mmr root v1", b"")`
pub const MMR_ROOT_KEY: [u8; 32] = [
    0x10, 0xf1, 0x8e, 0x84, 0x1f, 0x50, 0x26, 0x50, 0x12, 0xdb, 0x9c, 0x0f, 0x7d, 0xc4, 0xa3, 0xcf, 0xd3, 0xde, 0x97,
    0x20, 0xb5, 0x45, 0x76, 0x36, 0x20, 0x02, 0x92, 0x88, 0x3b, 0xd7, 0x76, 0xc9,
];
/// `derive_key("xaeroflux 2026-11 page node v1", b"")`
pub const PAGE_NODE_KEY: [u8; 32] = [
    0xb3, 0x32, 0x63, 0x0e, 0xf8, 0xcd, 0x32, 0x7e, 0xbf, 0x49, 0xf6, 0x3f, 0x77, 0xa9, 0xf9, 0x57, 0x64, 0xe6, 0xb3,
    0x74, 0x79, 0x35, 0x52, 0xb9, 0x90, 0x11, 0xd8, 0xf6, 0x2f, 0x9c, 0xce, 0x89,
];
/// `derive_key("xaeroflux 2026-11 page root v1", b"")`
pub const PAGE_ROOT_KEY: [u8; 32] = [
    0xcf, 0x93, 0xf6, 0xc1, 0xa4, 0x5e, 0x6a, 0x6b, 0x34, 0x62, 0x7e, 0xbb, 0x9b, 0xfc, 0xfc, 0x08, 0x0e, 0xac, 0xe7,
    0x17, 0x35, 0x99, 0x41, 0x92, 0x35, 0xec, 0xef, 0x5c, 0xe5, 0x5f, 0x3c, 0xec,
];
/// `derive_key("xaeroflux 2026-11 page checksum v1", b"")`: the key of the checksum of
/// version-1 pages ([`page_checksum_v1`]).
pub const PAGE_CHECKSUM_KEY: [u8; 32] = [
    0x3d, 0x8c, 0xab, 0x0c, 0x30, 0xc2, 0x79, 0xea, 0x83, 0x19, 0xc2, 0x7e, 0xe8, 0x27, 0xe9, 0x30, 0xc3, 0xdb, 0xd9,
    0x37, 0xfc, 0xba, 0xc1, 0x1a, 0xb6, 0x42, 0x99, 0x39, 0x9c, 0x71, 0x78, 0xa1,
];

/// Hash of one encoded event (header + payload): a leaf of the MMR and of a page tree.
#[inline]
pub fn leaf_hash(encoded_event: &[u8]) -> Hash {
    Hash(*blake3::keyed_hash(&LEAF_KEY, encoded_event).as_bytes())
}

/// Leaf hashes of many encoded events, appended to `out` in order: the same values as
/// [`leaf_hash`] of each, computed several at a time across SIMD lanes
/// ([`xaeroflux_lanes`]: 16 events at once with AVX-512, 8 with AVX2; one by one without
/// either). Prefer it wherever a batch of events is hashed: a received frame, a commit.
pub fn leaf_hashes<'a>(events: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<Hash>) {
    const GROUP: usize = 4 * xaeroflux_lanes::MAX_LANES;
    let mut group: [&[u8]; GROUP] = [&[]; GROUP];
    let mut filled = 0;
    let flush = |group: &[&[u8]], out: &mut Vec<Hash>| {
        let at = out.len();
        out.resize(at + group.len(), Hash::ZERO);
        leaf_hashes_into(group, &mut out[at..]);
    };
    for event in events {
        group[filled] = event;
        filled += 1;
        if filled == GROUP {
            flush(&group, out);
            filled = 0;
        }
    }
    flush(&group[..filled], out);
}

/// [`leaf_hashes`] into a slice: `out[i]` = [`leaf_hash`]`(events[i])`.
///
/// # Panics
///
/// If `events` and `out` differ in length.
pub fn leaf_hashes_into(events: &[&[u8]], out: &mut [Hash]) {
    xaeroflux_lanes::keyed_hash_many(&LEAF_KEY, events, bytemuck::cast_slice_mut(out));
}

/// `mmr_node(pairs[2i], pairs[2i + 1])` into `out[i]` for every `i`, many nodes at once
/// across SIMD lanes (see [`leaf_hashes_into`]): a level of a Merkle tree in one call.
///
/// # Panics
///
/// If `pairs.len() != 2 * out.len()`.
pub fn mmr_nodes_into(pairs: &[Hash], out: &mut [Hash]) {
    pair_hashes_into(&MMR_NODE_KEY, pairs, out);
}

/// `page_node(pairs[2i], pairs[2i + 1])` into `out[i]` for every `i`, as
/// [`mmr_nodes_into`].
///
/// # Panics
///
/// If `pairs.len() != 2 * out.len()`.
pub fn page_nodes_into(pairs: &[Hash], out: &mut [Hash]) {
    pair_hashes_into(&PAGE_NODE_KEY, pairs, out);
}

fn pair_hashes_into(key: &[u8; 32], pairs: &[Hash], out: &mut [Hash]) {
    assert_eq!(pairs.len(), 2 * out.len(), "two children per node");
    const GROUP: usize = 16;
    let mut inputs: [&[u8]; GROUP] = [&[]; GROUP];
    for (two_by_two, nodes) in pairs.chunks(2 * GROUP).zip(out.chunks_mut(GROUP)) {
        for (input, pair) in inputs.iter_mut().zip(two_by_two.chunks_exact(2)) {
            // Two adjacent hashes are the 64-byte block `left ‖ right`.
            *input = bytemuck::cast_slice(pair);
        }
        xaeroflux_lanes::keyed_hash_many(key, &inputs[..nodes.len()], bytemuck::cast_slice_mut(nodes));
    }
}

#[inline]
fn keyed_pair(key: &[u8; 32], left: &Hash, right: &Hash) -> Hash {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(&left.0);
    block[32..].copy_from_slice(&right.0);
    Hash(*blake3::keyed_hash(key, &block).as_bytes())
}

/// Interior node of a Merkle Mountain Range: one 64-byte block, one compression.
#[inline]
pub fn mmr_node(left: &Hash, right: &Hash) -> Hash {
    keyed_pair(&MMR_NODE_KEY, left, right)
}

/// Root of a Merkle Mountain Range of `leaf_count` leaves with the given peaks
/// (highest mountain, i.e. leftmost, first).
///
/// The leaf count is part of the input, so two ranges with the same peaks but a
/// different number of leaves (impossible for honest ranges) can never share a root.
pub fn mmr_root(leaf_count: u64, peaks: &[Hash]) -> Hash {
    let mut h = blake3::Hasher::new_keyed(&MMR_ROOT_KEY);
    h.update(&leaf_count.to_le_bytes());
    for p in peaks {
        h.update(&p.0);
    }
    Hash(*h.finalize().as_bytes())
}

/// Interior node of a page tree.
#[inline]
pub fn page_node(left: &Hash, right: &Hash) -> Hash {
    keyed_pair(&PAGE_NODE_KEY, left, right)
}

/// Root of a page tree of `count` events whose top node is `top`.
pub fn page_root(count: u32, top: &Hash) -> Hash {
    let mut h = blake3::Hasher::new_keyed(&PAGE_ROOT_KEY);
    h.update(&count.to_le_bytes());
    h.update(&top.0);
    Hash(*h.finalize().as_bytes())
}

/// The first 8 bytes of `derive_key("xaeroflux 2026-12 page checksum v2", b"")`, as a
/// little-endian `u64`: the seed of [`page_checksum`].
pub const PAGE_CHECKSUM_SEED: u64 = 0x0745_a70a_73cd_aed0;

/// The checksum of a version-2 page: XXH3-64 seeded with [`PAGE_CHECKSUM_SEED`] over the
/// page's events (the `used` bytes after the header) followed by its 64-byte header with the
/// checksum field zeroed.
///
/// The events come first so that a page that grows keeps the hash state of what it already
/// holds and only hashes its new bytes and the header again (`docs/formats.md`, "Checksum").
/// It detects torn and corrupted writes; authenticity comes from the Merkle trees.
pub fn page_checksum(header: &[u8], events: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::with_seed(PAGE_CHECKSUM_SEED);
    h.update(events);
    h.update(header);
    h.digest()
}

/// The checksum of a version-1 page (pages written before version 2 are still read): the
/// first 8 bytes (little-endian) of blake3 keyed with [`PAGE_CHECKSUM_KEY`] over the header
/// with the checksum field zeroed followed by the events.
pub fn page_checksum_v1(header: &[u8], events: &[u8]) -> u64 {
    let mut h = blake3::Hasher::new_keyed(&PAGE_CHECKSUM_KEY);
    h.update(header);
    h.update(events);
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.finalize().as_bytes()[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_their_contexts() {
        for (key, ctx) in [
            (LEAF_KEY, "xaeroflux 2026-11 event leaf v1"),
            (MMR_NODE_KEY, "xaeroflux 2026-11 mmr node v1"),
            (MMR_ROOT_KEY, "xaeroflux 2026-11 mmr root v1"),
            (PAGE_NODE_KEY, "xaeroflux 2026-11 page node v1"),
            (PAGE_ROOT_KEY, "xaeroflux 2026-11 page root v1"),
            (PAGE_CHECKSUM_KEY, "xaeroflux 2026-11 page checksum v1"),
        ] {
            assert_eq!(key, blake3::derive_key(ctx, b""), "{ctx}");
        }
        let seed = blake3::derive_key("xaeroflux 2026-12 page checksum v2", b"");
        assert_eq!(PAGE_CHECKSUM_SEED.to_le_bytes(), seed[..8]);
    }

    #[test]
    fn page_checksum_is_xxh3_over_events_then_header() {
        let header = [7u8; 64];
        for len in [0usize, 1, 63, 64, 240, 241, 1000, 16 * 1024 - 64] {
            let events: Vec<u8> = (0..len).map(|i| (i * 31 + 5) as u8).collect();
            let mut joined = events.clone();
            joined.extend_from_slice(&header);
            assert_eq!(
                page_checksum(&header, &events),
                xxhash_rust::xxh3::xxh3_64_with_seed(&joined, PAGE_CHECKSUM_SEED),
                "{len} bytes of events"
            );
        }
    }

    #[test]
    fn domains_are_separated() {
        let a = Hash([1; 32]);
        let b = Hash([2; 32]);
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&a.0);
        block[32..].copy_from_slice(&b.0);
        let leaf = leaf_hash(&block);
        assert_ne!(leaf, mmr_node(&a, &b));
        assert_ne!(mmr_node(&a, &b), page_node(&a, &b));
        assert_ne!(mmr_node(&a, &b), mmr_node(&b, &a));
    }

    #[test]
    fn hex_round_trip() {
        let h = leaf_hash(b"x");
        let s = alloc::format!("{h}");
        assert_eq!(Hash::from_hex(&s), Some(h));
        assert_eq!(Hash::from_hex("zz"), None);
    }
}
