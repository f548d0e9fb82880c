//! The BLAKE3 compression function over vectors of 32-bit lanes, one input per lane, and
//! the chaining of one group of single-chunk inputs through it.
//!
//! Everything here is `#[inline(always)]` and generic over [`Vector`], so that it compiles
//! into the backend's `#[target_feature]` function with that backend's instructions.

use crate::{CHUNK_LEN, MAX_LANES, MIN_GROUP};

pub(crate) const BLOCK_LEN: usize = 64;

const IV: [u32; 8] =
    [0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A, 0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19];

const CHUNK_START: u32 = 1 << 0;
const CHUNK_END: u32 = 1 << 1;
const ROOT: u32 = 1 << 3;
const KEYED_HASH: u32 = 1 << 4;

/// The message word permutation applied after each round (BLAKE3 spec, section 2.2).
const PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];

/// `SCHEDULE[r][i]`: which original message word round `r` uses in position `i`.
const SCHEDULE: [[usize; 16]; 7] = {
    let mut s = [[0; 16]; 7];
    let mut i = 0;
    while i < 16 {
        s[0][i] = i;
        i += 1;
    }
    let mut r = 1;
    while r < 7 {
        let mut i = 0;
        while i < 16 {
            s[r][i] = s[r - 1][PERMUTATION[i]];
            i += 1;
        }
        r += 1;
    }
    s
};

/// A vector of `LANES` 32-bit words (`LANES` ≤ [`MAX_LANES`]).
///
/// # Safety
///
/// Every method may use instructions of the backend's instruction set: call them only from a
/// function compiled with that set enabled, on a CPU that has it.
pub(crate) trait Vector: Copy {
    const LANES: usize;
    unsafe fn splat(x: u32) -> Self;
    /// Lane `l` from `words[l]`, for `l < LANES`.
    unsafe fn load(words: &[u32; MAX_LANES]) -> Self;
    /// Lane `l` to `words[l]`, for `l < LANES`.
    unsafe fn store(self, words: &mut [u32; MAX_LANES]);
    unsafe fn add(self, other: Self) -> Self;
    unsafe fn xor(self, other: Self) -> Self;
    unsafe fn ror16(self) -> Self;
    unsafe fn ror12(self) -> Self;
    unsafe fn ror8(self) -> Self;
    unsafe fn ror7(self) -> Self;
    /// Per lane: `a` where `mask` is all ones, `b` where it is zero.
    unsafe fn select(mask: Self, a: Self, b: Self) -> Self;
    /// Whether the backend loads whole blocks ([`load_blocks`](Self::load_blocks)): groups
    /// then go through [`hash_group_whole_blocks`]. Otherwise [`hash_group`] gathers the
    /// message words one by one into an array and loads them from there (the `simd128`
    /// backend's way, kept as it was measured: the compiler's code for that loop turned out
    /// sensitive to its surroundings, up to 1.4× slower in a restructured version on AVX2).
    const WHOLE_BLOCKS: bool = false;
    /// The 16 message words of one block per lane: word `w` of lane `l` is the `w`-th
    /// little-endian `u32` of `blocks[l]`, for `l < LANES`. Used when
    /// [`WHOLE_BLOCKS`](Self::WHOLE_BLOCKS); the default gathers the words.
    #[inline(always)]
    unsafe fn load_blocks(blocks: &[&[u8; BLOCK_LEN]; MAX_LANES]) -> [Self; 16] {
        let mut msg = [[0u32; MAX_LANES]; 16];
        for (lane, block) in blocks.iter().take(Self::LANES).enumerate() {
            put_block(&mut msg, lane, &block[..]);
        }
        // A plain loop, not a closure: closures do not inherit the caller's target features,
        // and an intrinsic that is not inlined is a function call per vector.
        let mut m = [unsafe { Self::splat(0) }; 16];
        for (v, words) in m.iter_mut().zip(&msg) {
            // SAFETY: the caller's contract (the backend's instruction set is available).
            *v = unsafe { Self::load(words) };
        }
        m
    }
}

/// A block of zeros: the message of a lane without an input.
const ZERO_BLOCK: [u8; BLOCK_LEN] = [0; BLOCK_LEN];

#[inline(always)]
unsafe fn g<V: Vector>(v: &mut [V; 16], a: usize, b: usize, c: usize, d: usize, x: V, y: V) {
    unsafe {
        v[a] = v[a].add(v[b]).add(x);
        v[d] = v[d].xor(v[a]).ror16();
        v[c] = v[c].add(v[d]);
        v[b] = v[b].xor(v[c]).ror12();
        v[a] = v[a].add(v[b]).add(y);
        v[d] = v[d].xor(v[a]).ror8();
        v[c] = v[c].add(v[d]);
        v[b] = v[b].xor(v[c]).ror7();
    }
}

#[inline(always)]
unsafe fn round<V: Vector>(v: &mut [V; 16], m: &[V; 16], s: &[usize; 16]) {
    unsafe {
        g(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        g(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        g(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        g(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        g(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        g(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        g(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        g(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
}

/// One compression per lane with block counter 0; returns the new chaining values (for the
/// last block of a root chunk, the first 32 bytes of output: the hash).
#[inline(always)]
unsafe fn compress<V: Vector>(cv: &[V; 8], m: &[V; 16], block_len: V, flags: V) -> [V; 8] {
    unsafe {
        let zero = V::splat(0);
        let mut v = [
            cv[0],
            cv[1],
            cv[2],
            cv[3],
            cv[4],
            cv[5],
            cv[6],
            cv[7],
            V::splat(IV[0]),
            V::splat(IV[1]),
            V::splat(IV[2]),
            V::splat(IV[3]),
            zero,
            zero,
            block_len,
            flags,
        ];
        for s in &SCHEDULE {
            round(&mut v, m, s);
        }
        [
            v[0].xor(v[8]),
            v[1].xor(v[9]),
            v[2].xor(v[10]),
            v[3].xor(v[11]),
            v[4].xor(v[12]),
            v[5].xor(v[13]),
            v[6].xor(v[14]),
            v[7].xor(v[15]),
        ]
    }
}

/// Puts `block` (≤ 64 bytes, zero-padded) into lane `lane` of the message words.
#[inline(always)]
fn put_block(msg: &mut [[u32; MAX_LANES]; 16], lane: usize, block: &[u8]) {
    let mut padded = [0u8; BLOCK_LEN];
    let full: &[u8] = if block.len() == BLOCK_LEN {
        block
    } else {
        padded[..block.len()].copy_from_slice(block);
        &padded
    };
    for (w, word) in full.chunks_exact(4).enumerate() {
        msg[w][lane] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
    }
}

/// `out[l] = blake3::keyed_hash(key, inputs[l])` for a group of at most `V::LANES` inputs.
/// Inputs longer than one chunk are hashed by the `blake3` crate.
///
/// # Safety
///
/// As for [`Vector`]: the CPU must have the backend's instruction set.
#[inline(always)]
unsafe fn hash_group<V: Vector>(key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) {
    debug_assert!(inputs.len() <= V::LANES && inputs.len() == out.len());
    let n = inputs.len().min(V::LANES);
    let (blocks, max_blocks) = block_counts(&inputs[..n]);
    let mut msg = [[0u32; MAX_LANES]; 16];
    let mut block_len = [0u32; MAX_LANES];
    let mut flags = [0u32; MAX_LANES];
    let mut active = [0u32; MAX_LANES];
    let mut cv_words = [[0u32; MAX_LANES]; 8];
    unsafe {
        let mut cv = [V::splat(0); 8];
        for (i, word) in key.chunks_exact(4).enumerate() {
            cv[i] = V::splat(u32::from_le_bytes([word[0], word[1], word[2], word[3]]));
        }
        for b in 0..max_blocks {
            for lane in 0..n {
                if b < blocks[lane] {
                    let input = inputs[lane];
                    let start = b * BLOCK_LEN;
                    let block = &input[start..input.len().min(start + BLOCK_LEN)];
                    put_block(&mut msg, lane, block);
                    block_len[lane] = block.len() as u32;
                    let first = if b == 0 { CHUNK_START } else { 0 };
                    let last = if b + 1 == blocks[lane] { CHUNK_END | ROOT } else { 0 };
                    flags[lane] = KEYED_HASH | first | last;
                    active[lane] = u32::MAX;
                } else {
                    active[lane] = 0;
                }
            }
            let mut m = [V::splat(0); 16];
            for (vector, words) in m.iter_mut().zip(&msg) {
                *vector = V::load(words);
            }
            let next = compress(&cv, &m, V::load(&block_len), V::load(&flags));
            let mask = V::load(&active);
            for (c, n) in cv.iter_mut().zip(next) {
                *c = V::select(mask, n, *c);
            }
        }
        for (c, words) in cv.iter().zip(cv_words.iter_mut()) {
            c.store(words);
        }
    }
    write_hashes(key, inputs, &blocks, &cv_words, out);
}

/// [`hash_group`] for backends that load whole blocks ([`Vector::load_blocks`]): each lane's
/// block is read in place, or from a zero-padded copy for the last, partial one.
///
/// # Safety
///
/// As for [`Vector`]: the CPU must have the backend's instruction set.
#[inline(always)]
unsafe fn hash_group_whole_blocks<V: Vector>(key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) {
    debug_assert!(inputs.len() <= V::LANES && inputs.len() == out.len());
    let n = inputs.len().min(V::LANES);
    let (blocks, max_blocks) = block_counts(&inputs[..n]);
    let mut padded = [[0u8; BLOCK_LEN]; MAX_LANES];
    let mut block_len = [0u32; MAX_LANES];
    let mut flags = [0u32; MAX_LANES];
    let mut active = [0u32; MAX_LANES];
    let mut cv_words = [[0u32; MAX_LANES]; 8];
    unsafe {
        let mut cv = [V::splat(0); 8];
        for (i, word) in key.chunks_exact(4).enumerate() {
            cv[i] = V::splat(u32::from_le_bytes([word[0], word[1], word[2], word[3]]));
        }
        for b in 0..max_blocks {
            let mut messages: [&[u8]; MAX_LANES] = [&[]; MAX_LANES];
            for lane in 0..n {
                if b < blocks[lane] {
                    let input = inputs[lane];
                    let start = b * BLOCK_LEN;
                    let block = &input[start..input.len().min(start + BLOCK_LEN)];
                    if block.len() < BLOCK_LEN {
                        padded[lane] = ZERO_BLOCK;
                        padded[lane][..block.len()].copy_from_slice(block);
                    }
                    messages[lane] = block;
                    block_len[lane] = block.len() as u32;
                    let first = if b == 0 { CHUNK_START } else { 0 };
                    let last = if b + 1 == blocks[lane] { CHUNK_END | ROOT } else { 0 };
                    flags[lane] = KEYED_HASH | first | last;
                    active[lane] = u32::MAX;
                } else {
                    active[lane] = 0;
                }
            }
            let mut refs = [&ZERO_BLOCK; MAX_LANES];
            for (lane, (r, message)) in refs.iter_mut().zip(messages).enumerate().take(n) {
                *r = match <&[u8; BLOCK_LEN]>::try_from(message) {
                    Ok(full) => full,
                    Err(_) if active[lane] != 0 => &padded[lane],
                    Err(_) => &ZERO_BLOCK,
                };
            }
            let m = V::load_blocks(&refs);
            let next = compress(&cv, &m, V::load(&block_len), V::load(&flags));
            let mask = V::load(&active);
            for (c, n) in cv.iter_mut().zip(next) {
                *c = V::select(mask, n, *c);
            }
        }
        for (c, words) in cv.iter().zip(cv_words.iter_mut()) {
            c.store(words);
        }
    }
    write_hashes(key, inputs, &blocks, &cv_words, out);
}

/// Blocks per lane (0 for inputs the lanes do not take: longer than a chunk) and the most
/// of any lane; lanes past `inputs` have 0.
#[inline(always)]
fn block_counts(inputs: &[&[u8]]) -> ([usize; MAX_LANES], usize) {
    let mut blocks = [0usize; MAX_LANES];
    let mut max_blocks = 0;
    for (lane, input) in inputs.iter().take(MAX_LANES).enumerate() {
        if input.len() <= CHUNK_LEN {
            blocks[lane] = input.len().div_ceil(BLOCK_LEN).max(1);
            max_blocks = max_blocks.max(blocks[lane]);
        }
    }
    (blocks, max_blocks)
}

/// The hashes of a group from its lanes' chaining values; inputs the lanes did not take
/// (`blocks[lane] == 0`) through the `blake3` crate.
#[inline(always)]
fn write_hashes(
    key: &[u8; 32],
    inputs: &[&[u8]],
    blocks: &[usize; MAX_LANES],
    cv_words: &[[u32; MAX_LANES]; 8],
    out: &mut [[u8; 32]],
) {
    for (lane, (input, hash)) in inputs.iter().zip(out.iter_mut()).enumerate() {
        if blocks.get(lane).copied().unwrap_or(0) == 0 {
            *hash = *blake3::keyed_hash(key, input).as_bytes();
            continue;
        }
        for (i, words) in cv_words.iter().enumerate() {
            hash[4 * i..4 * i + 4].copy_from_slice(&words[lane].to_le_bytes());
        }
    }
}

/// [`hash_group`] over `inputs` cut into groups of `V::LANES`; a group of fewer than
/// [`MIN_GROUP`] inputs goes through `blake3::keyed_hash` one by one.
///
/// # Safety
///
/// As for [`Vector`]: the CPU must have the backend's instruction set.
#[inline(always)]
pub(crate) unsafe fn hash_groups<V: Vector>(key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) {
    for (group, hashes) in inputs.chunks(V::LANES).zip(out.chunks_mut(V::LANES)) {
        if group.len() < MIN_GROUP {
            crate::portable(key, group, hashes);
        } else {
            // SAFETY: the caller's contract.
            unsafe {
                if V::WHOLE_BLOCKS {
                    hash_group_whole_blocks::<V>(key, group, hashes)
                } else {
                    hash_group::<V>(key, group, hashes)
                }
            }
        }
    }
}
