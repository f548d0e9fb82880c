//! The x86-64 backends: [`Vector`] over AVX-512F (16 lanes) and AVX2 (8 lanes), run-time
//! detection, and the `#[target_feature]` entry points.
//!
//! The `unsafe` blocks in the `Vector` impls call intrinsics of the impl's instruction set:
//! sound because `Vector`'s methods may only be called where that set is available (its
//! safety contract), which `hash_many` checks before entering a backend.

use core::arch::x86_64::*;

use crate::Backend;
use crate::MAX_LANES;
use crate::compress::{BLOCK_LEN, Vector, hash_groups};

#[derive(Clone, Copy)]
struct Avx512(__m512i);

impl Vector for Avx512 {
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Avx512(unsafe { _mm512_set1_epi32(x as i32) })
    }
    #[inline(always)]
    unsafe fn load(words: &[u32; MAX_LANES]) -> Self {
        // SAFETY: `words` holds 16 u32 = 64 readable bytes; the load is unaligned.
        Avx512(unsafe { _mm512_loadu_si512(words.as_ptr().cast()) })
    }
    #[inline(always)]
    unsafe fn store(self, words: &mut [u32; MAX_LANES]) {
        // SAFETY: `words` holds 16 u32 = 64 writable bytes; the store is unaligned.
        unsafe { _mm512_storeu_si512(words.as_mut_ptr().cast(), self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        Avx512(unsafe { _mm512_add_epi32(self.0, other.0) })
    }
    #[inline(always)]
    unsafe fn xor(self, other: Self) -> Self {
        Avx512(unsafe { _mm512_xor_si512(self.0, other.0) })
    }
    #[inline(always)]
    unsafe fn ror16(self) -> Self {
        Avx512(unsafe { _mm512_ror_epi32::<16>(self.0) })
    }
    #[inline(always)]
    unsafe fn ror12(self) -> Self {
        Avx512(unsafe { _mm512_ror_epi32::<12>(self.0) })
    }
    #[inline(always)]
    unsafe fn ror8(self) -> Self {
        Avx512(unsafe { _mm512_ror_epi32::<8>(self.0) })
    }
    #[inline(always)]
    unsafe fn ror7(self) -> Self {
        Avx512(unsafe { _mm512_ror_epi32::<7>(self.0) })
    }
    #[inline(always)]
    unsafe fn select(mask: Self, a: Self, b: Self) -> Self {
        Avx512(unsafe { _mm512_or_si512(_mm512_and_si512(mask.0, a.0), _mm512_andnot_si512(mask.0, b.0)) })
    }
    const WHOLE_BLOCKS: bool = true;
    #[inline(always)]
    unsafe fn load_blocks(blocks: &[&[u8; BLOCK_LEN]; MAX_LANES]) -> [Self; 16] {
        // Each lane's block in one 64-byte load, then a 16 × 16 transposition of 32-bit
        // words, as BLAKE3's own AVX-512 `hash_many` does.
        // SAFETY: each block is 64 readable bytes; the loads are unaligned.
        unsafe {
            let rows: [__m512i; 16] = core::array::from_fn(|l| _mm512_loadu_si512(blocks[l].as_ptr().cast()));
            transpose16(rows).map(Avx512)
        }
    }
}

/// Transposes 16 rows of 16 32-bit words: word `w` of row `r` becomes word `r` of row `w`.
#[inline(always)]
unsafe fn transpose16(r: [__m512i; 16]) -> [__m512i; 16] {
    // SAFETY: called only from functions compiled with AVX-512F (`Vector`'s contract).
    unsafe {
        // Within each 128-bit lane `k`: (a[4k] b[4k] a[4k+1] b[4k+1]) and the same for 4k+2, 4k+3.
        let lo32 = |a: usize| _mm512_unpacklo_epi32(r[a], r[a + 1]);
        let hi32 = |a: usize| _mm512_unpackhi_epi32(r[a], r[a + 1]);
        let (ab0, ab2, cd0, cd2) = (lo32(0), hi32(0), lo32(2), hi32(2));
        let (ef0, ef2, gh0, gh2) = (lo32(4), hi32(4), lo32(6), hi32(6));
        let (ij0, ij2, kl0, kl2) = (lo32(8), hi32(8), lo32(10), hi32(10));
        let (mn0, mn2, op0, op2) = (lo32(12), hi32(12), lo32(14), hi32(14));
        // Within each 128-bit lane `k`: word 4k+j of four rows, for j = 0..4.
        let quad = |x02: __m512i, y02: __m512i, x2: __m512i, y2: __m512i| {
            [
                _mm512_unpacklo_epi64(x02, y02),
                _mm512_unpackhi_epi64(x02, y02),
                _mm512_unpacklo_epi64(x2, y2),
                _mm512_unpackhi_epi64(x2, y2),
            ]
        };
        let abcd = quad(ab0, cd0, ab2, cd2);
        let efgh = quad(ef0, gh0, ef2, gh2);
        let ijkl = quad(ij0, kl0, ij2, kl2);
        let mnop = quad(mn0, op0, mn2, op2);
        // 128-bit lanes: `lo` takes lanes 0 and 2 of each, `hi` lanes 1 and 3.
        let lo = |a: __m512i, b: __m512i| _mm512_shuffle_i32x4::<0x88>(a, b);
        let hi = |a: __m512i, b: __m512i| _mm512_shuffle_i32x4::<0xdd>(a, b);
        // Rows 0–7: words j and 8+j (`lo`), 4+j and 12+j (`hi`); rows 8–15 likewise.
        let first: [__m512i; 8] =
            core::array::from_fn(|x| if x < 4 { lo(abcd[x], efgh[x]) } else { hi(abcd[x - 4], efgh[x - 4]) });
        let second: [__m512i; 8] =
            core::array::from_fn(|x| if x < 4 { lo(ijkl[x], mnop[x]) } else { hi(ijkl[x - 4], mnop[x - 4]) });
        core::array::from_fn(|w| if w < 8 { lo(first[w], second[w]) } else { hi(first[w - 8], second[w - 8]) })
    }
}

#[derive(Clone, Copy)]
struct Avx2(__m256i);

impl Vector for Avx2 {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Avx2(unsafe { _mm256_set1_epi32(x as i32) })
    }
    #[inline(always)]
    unsafe fn load(words: &[u32; MAX_LANES]) -> Self {
        // SAFETY: `words` holds 16 u32; the first 8 (32 bytes) are read, unaligned.
        Avx2(unsafe { _mm256_loadu_si256(words.as_ptr().cast()) })
    }
    #[inline(always)]
    unsafe fn store(self, words: &mut [u32; MAX_LANES]) {
        // SAFETY: `words` holds 16 u32; the first 8 (32 bytes) are written, unaligned.
        unsafe { _mm256_storeu_si256(words.as_mut_ptr().cast(), self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        Avx2(unsafe { _mm256_add_epi32(self.0, other.0) })
    }
    #[inline(always)]
    unsafe fn xor(self, other: Self) -> Self {
        Avx2(unsafe { _mm256_xor_si256(self.0, other.0) })
    }
    #[inline(always)]
    unsafe fn ror16(self) -> Self {
        // Shifts, not a byte shuffle (`vpshufb`, as BLAKE3's own AVX2 code has it): on the
        // AMD EPYC of our benchmarks the shuffles made the 312-byte hashes 4 % slower.
        Avx2(unsafe { _mm256_or_si256(_mm256_srli_epi32::<16>(self.0), _mm256_slli_epi32::<16>(self.0)) })
    }
    #[inline(always)]
    unsafe fn ror12(self) -> Self {
        Avx2(unsafe { _mm256_or_si256(_mm256_srli_epi32::<12>(self.0), _mm256_slli_epi32::<20>(self.0)) })
    }
    #[inline(always)]
    unsafe fn ror8(self) -> Self {
        Avx2(unsafe { _mm256_or_si256(_mm256_srli_epi32::<8>(self.0), _mm256_slli_epi32::<24>(self.0)) })
    }
    #[inline(always)]
    unsafe fn ror7(self) -> Self {
        Avx2(unsafe { _mm256_or_si256(_mm256_srli_epi32::<7>(self.0), _mm256_slli_epi32::<25>(self.0)) })
    }
    #[inline(always)]
    unsafe fn select(mask: Self, a: Self, b: Self) -> Self {
        Avx2(unsafe { _mm256_or_si256(_mm256_and_si256(mask.0, a.0), _mm256_andnot_si256(mask.0, b.0)) })
    }
    const WHOLE_BLOCKS: bool = true;
    #[inline(always)]
    unsafe fn load_blocks(blocks: &[&[u8; BLOCK_LEN]; MAX_LANES]) -> [Self; 16] {
        // Each lane's block as two 32-byte loads (words 0–7 and 8–15), then two 8 × 8
        // transpositions of 32-bit words, as BLAKE3's own AVX2 `hash_many` does.
        // SAFETY: each block is 64 readable bytes; the loads are unaligned.
        unsafe {
            let p = |l: usize| blocks[l].as_ptr();
            let low = transpose8([
                _mm256_loadu_si256(p(0).cast()),
                _mm256_loadu_si256(p(1).cast()),
                _mm256_loadu_si256(p(2).cast()),
                _mm256_loadu_si256(p(3).cast()),
                _mm256_loadu_si256(p(4).cast()),
                _mm256_loadu_si256(p(5).cast()),
                _mm256_loadu_si256(p(6).cast()),
                _mm256_loadu_si256(p(7).cast()),
            ]);
            let high = transpose8([
                _mm256_loadu_si256(p(0).add(32).cast()),
                _mm256_loadu_si256(p(1).add(32).cast()),
                _mm256_loadu_si256(p(2).add(32).cast()),
                _mm256_loadu_si256(p(3).add(32).cast()),
                _mm256_loadu_si256(p(4).add(32).cast()),
                _mm256_loadu_si256(p(5).add(32).cast()),
                _mm256_loadu_si256(p(6).add(32).cast()),
                _mm256_loadu_si256(p(7).add(32).cast()),
            ]);
            [
                Avx2(low[0]),
                Avx2(low[1]),
                Avx2(low[2]),
                Avx2(low[3]),
                Avx2(low[4]),
                Avx2(low[5]),
                Avx2(low[6]),
                Avx2(low[7]),
                Avx2(high[0]),
                Avx2(high[1]),
                Avx2(high[2]),
                Avx2(high[3]),
                Avx2(high[4]),
                Avx2(high[5]),
                Avx2(high[6]),
                Avx2(high[7]),
            ]
        }
    }
}

/// Transposes 8 rows of 8 32-bit words: word `w` of row `r` becomes word `r` of row `w`.
#[inline(always)]
unsafe fn transpose8(r: [__m256i; 8]) -> [__m256i; 8] {
    // SAFETY: called only from functions compiled with AVX2 (`Vector`'s contract).
    unsafe {
        // 32-bit words of row pairs: (a0 b0 a1 b1 | a4 b4 a5 b5) and (a2 b2 a3 b3 | a6 b6 a7 b7).
        let ab_lo = _mm256_unpacklo_epi32(r[0], r[1]);
        let ab_hi = _mm256_unpackhi_epi32(r[0], r[1]);
        let cd_lo = _mm256_unpacklo_epi32(r[2], r[3]);
        let cd_hi = _mm256_unpackhi_epi32(r[2], r[3]);
        let ef_lo = _mm256_unpacklo_epi32(r[4], r[5]);
        let ef_hi = _mm256_unpackhi_epi32(r[4], r[5]);
        let gh_lo = _mm256_unpacklo_epi32(r[6], r[7]);
        let gh_hi = _mm256_unpackhi_epi32(r[6], r[7]);
        // 64-bit pairs: words 0 and 4, 1 and 5, 2 and 6, 3 and 7 of four rows.
        let abcd_04 = _mm256_unpacklo_epi64(ab_lo, cd_lo);
        let abcd_15 = _mm256_unpackhi_epi64(ab_lo, cd_lo);
        let abcd_26 = _mm256_unpacklo_epi64(ab_hi, cd_hi);
        let abcd_37 = _mm256_unpackhi_epi64(ab_hi, cd_hi);
        let efgh_04 = _mm256_unpacklo_epi64(ef_lo, gh_lo);
        let efgh_15 = _mm256_unpackhi_epi64(ef_lo, gh_lo);
        let efgh_26 = _mm256_unpacklo_epi64(ef_hi, gh_hi);
        let efgh_37 = _mm256_unpackhi_epi64(ef_hi, gh_hi);
        // 128-bit halves: the low halves give words 0–3, the high halves words 4–7.
        [
            _mm256_permute2x128_si256::<0x20>(abcd_04, efgh_04),
            _mm256_permute2x128_si256::<0x20>(abcd_15, efgh_15),
            _mm256_permute2x128_si256::<0x20>(abcd_26, efgh_26),
            _mm256_permute2x128_si256::<0x20>(abcd_37, efgh_37),
            _mm256_permute2x128_si256::<0x31>(abcd_04, efgh_04),
            _mm256_permute2x128_si256::<0x31>(abcd_15, efgh_15),
            _mm256_permute2x128_si256::<0x31>(abcd_26, efgh_26),
            _mm256_permute2x128_si256::<0x31>(abcd_37, efgh_37),
        ]
    }
}

/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn hash_many_avx512(key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) {
    // Eight inputs or fewer go faster through AVX2's eight lanes than through half of
    // AVX-512's sixteen: 110 against 125 ns per 312-byte input for 8, 202 against 232 for 4
    // (`cargo bench -p xaeroflux-lanes`, an Intel Xeon; both with whole-block loads). So the
    // inputs after the last full group of sixteen go there when they are that few.
    let tail = inputs.len() % Avx512::LANES;
    let split = if tail <= Avx2::LANES { inputs.len() - tail } else { inputs.len() };
    let ((wide, rest), (wide_out, rest_out)) = (inputs.split_at(split), out.split_at_mut(split));
    // SAFETY: this function runs only where AVX-512F is available, and AVX-512F implies AVX2.
    unsafe {
        hash_groups::<Avx512>(key, wide, wide_out);
        hash_groups::<Avx2>(key, rest, rest_out);
    }
}

/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn hash_many_avx2(key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) {
    // SAFETY: this function runs only where AVX2 is available.
    unsafe { hash_groups::<Avx2>(key, inputs, out) }
}

fn has_avx512() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avx512f")
    }
}

fn has_avx2() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avx2")
    }
}

/// The best backend of this CPU (std's detection caches the CPUID results).
pub(crate) fn detect() -> Backend {
    if has_avx512() {
        Backend::Avx512
    } else if has_avx2() {
        Backend::Avx2
    } else {
        Backend::Portable
    }
}

/// Hashes with `backend` if the CPU has it; `false` (nothing written) if it does not.
pub(crate) fn hash_many(backend: Backend, key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) -> bool {
    match backend {
        // SAFETY: AVX-512F was detected (or enabled at compile time) just above.
        Backend::Avx512 if has_avx512() => unsafe { hash_many_avx512(key, inputs, out) },
        // SAFETY: AVX2 was detected (or enabled at compile time) just above.
        Backend::Avx2 if has_avx2() => unsafe { hash_many_avx2(key, inputs, out) },
        _ => return false,
    }
    true
}

/// The AVX2 instructions through the gather path of `hash_group` (the `simd128` backend's
/// path), so that native test runs check that path too.
#[cfg(test)]
#[derive(Clone, Copy)]
struct Avx2Gather(Avx2);

#[cfg(test)]
impl Vector for Avx2Gather {
    const LANES: usize = 8;
    unsafe fn splat(x: u32) -> Self {
        Avx2Gather(unsafe { Avx2::splat(x) })
    }
    unsafe fn load(words: &[u32; MAX_LANES]) -> Self {
        Avx2Gather(unsafe { Avx2::load(words) })
    }
    unsafe fn store(self, words: &mut [u32; MAX_LANES]) {
        unsafe { self.0.store(words) }
    }
    unsafe fn add(self, other: Self) -> Self {
        Avx2Gather(unsafe { self.0.add(other.0) })
    }
    unsafe fn xor(self, other: Self) -> Self {
        Avx2Gather(unsafe { self.0.xor(other.0) })
    }
    unsafe fn ror16(self) -> Self {
        Avx2Gather(unsafe { self.0.ror16() })
    }
    unsafe fn ror12(self) -> Self {
        Avx2Gather(unsafe { self.0.ror12() })
    }
    unsafe fn ror8(self) -> Self {
        Avx2Gather(unsafe { self.0.ror8() })
    }
    unsafe fn ror7(self) -> Self {
        Avx2Gather(unsafe { self.0.ror7() })
    }
    unsafe fn select(mask: Self, a: Self, b: Self) -> Self {
        Avx2Gather(unsafe { Avx2::select(mask.0, a.0, b.0) })
    }
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(test)]
#[target_feature(enable = "avx2")]
unsafe fn hash_many_avx2_gather(key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) {
    // SAFETY: this function runs only where AVX2 is available.
    unsafe { hash_groups::<Avx2Gather>(key, inputs, out) }
}

/// Hashes through the gather path with AVX2 instructions; `false` (nothing written) on a
/// CPU without AVX2.
#[cfg(test)]
pub(crate) fn hash_many_gather_path(key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) -> bool {
    if !has_avx2() {
        return false;
    }
    // SAFETY: AVX2 was detected just above.
    unsafe { hash_many_avx2_gather(key, inputs, out) };
    true
}
