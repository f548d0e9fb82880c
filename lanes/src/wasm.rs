//! The wasm32 backend: [`Vector`] over the 128-bit SIMD proposal (`simd128`, 4 lanes).
//!
//! WebAssembly has no run-time feature detection: a module that uses SIMD instructions does
//! not validate on an engine without them, so this backend exists only in builds made with
//! `-C target-feature=+simd128` (every current browser engine and Node ≥ 16.4 run them; the
//! npm package is built that way, see `scripts/wasm-env.sh`). Without it, wasm32 builds use
//! [`Backend::Portable`].
//!
//! The `unsafe` in [`Vector`]'s methods is that trait's contract; the `simd128` intrinsics
//! themselves are safe to call in a build that enables the feature.

use core::arch::wasm32::*;

use crate::MAX_LANES;
use crate::compress::{Vector, hash_groups};

#[derive(Clone, Copy)]
struct Simd128(v128);

impl Vector for Simd128 {
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Simd128(u32x4_splat(x))
    }
    #[inline(always)]
    unsafe fn load(words: &[u32; MAX_LANES]) -> Self {
        Simd128(u32x4(words[0], words[1], words[2], words[3]))
    }
    #[inline(always)]
    unsafe fn store(self, words: &mut [u32; MAX_LANES]) {
        words[0] = u32x4_extract_lane::<0>(self.0);
        words[1] = u32x4_extract_lane::<1>(self.0);
        words[2] = u32x4_extract_lane::<2>(self.0);
        words[3] = u32x4_extract_lane::<3>(self.0);
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        Simd128(u32x4_add(self.0, other.0))
    }
    #[inline(always)]
    unsafe fn xor(self, other: Self) -> Self {
        Simd128(v128_xor(self.0, other.0))
    }
    #[inline(always)]
    unsafe fn ror16(self) -> Self {
        // Whole-byte rotations are one byte shuffle (as in BLAKE3's own SIMD code).
        Simd128(i8x16_shuffle::<2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13>(self.0, self.0))
    }
    #[inline(always)]
    unsafe fn ror12(self) -> Self {
        Simd128(v128_or(u32x4_shr(self.0, 12), u32x4_shl(self.0, 20)))
    }
    #[inline(always)]
    unsafe fn ror8(self) -> Self {
        Simd128(i8x16_shuffle::<1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12>(self.0, self.0))
    }
    #[inline(always)]
    unsafe fn ror7(self) -> Self {
        Simd128(v128_or(u32x4_shr(self.0, 7), u32x4_shl(self.0, 25)))
    }
    #[inline(always)]
    unsafe fn select(mask: Self, a: Self, b: Self) -> Self {
        Simd128(v128_bitselect(a.0, b.0, mask.0))
    }
}

/// Hashes with the `simd128` lanes.
pub(crate) fn hash_many(key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) {
    // SAFETY: this module is only compiled with `simd128` enabled, which is all that
    // `Vector`'s contract asks.
    unsafe { hash_groups::<Simd128>(key, inputs, out) }
}
