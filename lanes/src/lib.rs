//! Many short BLAKE3 keyed hashes at once, one input per SIMD lane.
//!
//! Xaeroflux hashes every event (a few hundred bytes) and every Merkle node (64 bytes) with
//! `blake3::keyed_hash`. For inputs that short, BLAKE3 is a chain of compressions of one
//! 64-byte block each, and the `blake3` crate runs that chain one compression at a time: its
//! SIMD code only parallelizes the 1 KiB chunks of a *long* input. Hashing many independent
//! short inputs is a different shape of work: 16 (AVX-512) or 8 (AVX2) inputs can go through
//! their compressions side by side, one input per 32-bit lane, the way BLAKE3's own
//! `hash_many` processes the chunks of a long input.
//!
//! [`keyed_hash_many`] does exactly that and returns, for every input, the same 32 bytes as
//! `blake3::keyed_hash(key, input)`. Inputs of one chunk (≤ [`CHUNK_LEN`] = 1024 bytes) take
//! the lanes; longer ones are handed to the `blake3` crate one by one, as are groups of fewer
//! than 4 inputs, where the idle lanes would cost more than they save. Lanes whose inputs
//! have fewer blocks than the longest input of their group sit idle (masked) for the
//! remaining blocks, so inputs of similar length (a page's events, a level of Merkle nodes)
//! make the best use of the lanes.
//!
//! # Backends
//!
//! | backend | lanes | chosen when |
//! |---|---:|---|
//! | AVX-512 (`avx512f`) | 16 | the CPU has it (feature `std`), or it is enabled at compile time |
//! | AVX2 | 8 | the same, and AVX-512 is not available |
//! | WebAssembly `simd128` | 4 | wasm32 builds with `-C target-feature=+simd128` (no run-time detection exists in wasm) |
//! | portable | 1 | otherwise: `blake3::keyed_hash` per input |
//!
//! [`backend`] tells which one runs. The test suite checks every backend the CPU has against
//! `blake3::keyed_hash` on every length from 0 to 1 100 bytes and on random groups.
//!
//! The message words reach the lanes in one of two ways. AVX2 and AVX-512 load each lane's
//! whole 64-byte block and transpose 8 × 8 or 16 × 16 words in registers (as BLAKE3's own
//! `hash_many` does). `simd128` gathers the words one by one into an array first: on AVX2
//! hardware that path runs in the tests through a test-only backend, so native test runs
//! check it too. On AVX-512, the inputs after the last full group of sixteen go through the
//! AVX2 code when they are eight or fewer (faster than half of the sixteen lanes).
//!
//! # Example
//!
//! ```
//! let key = [7u8; 32];
//! let inputs: [&[u8]; 3] = [b"", b"one event", &[0xAB; 300]];
//! let mut out = [[0u8; 32]; 3];
//! xaeroflux_lanes::keyed_hash_many(&key, &inputs, &mut out);
//! for (input, hash) in inputs.iter().zip(&out) {
//!     assert_eq!(hash, blake3::keyed_hash(&key, input).as_bytes());
//! }
//! ```

#![no_std]
#![deny(missing_docs)]

#[cfg(any(feature = "std", test))]
extern crate std;

#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
mod compress;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(target_arch = "x86_64")]
mod x86;

/// The longest input that takes a lane: one BLAKE3 chunk.
pub const CHUNK_LEN: usize = 1024;

/// The widest group any backend hashes at once.
pub const MAX_LANES: usize = 16;

/// Groups of fewer inputs than this go through `blake3::keyed_hash` one by one: with so
/// many lanes idle, a vector compression costs more than separate ones (measured by the
/// `lanes` bench: 1 input in 16 lanes is 3× slower, 4 inputs break even).
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
const MIN_GROUP: usize = 4;

/// The implementation [`keyed_hash_many`] uses on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// 16 lanes of AVX-512F.
    Avx512,
    /// 8 lanes of AVX2.
    Avx2,
    /// 4 lanes of WebAssembly's 128-bit SIMD (wasm32 builds with `simd128` enabled).
    Simd128,
    /// One input at a time through `blake3::keyed_hash`.
    Portable,
}

impl Backend {
    /// How many inputs this backend hashes side by side.
    pub const fn lanes(self) -> usize {
        match self {
            Backend::Avx512 => 16,
            Backend::Avx2 => 8,
            Backend::Simd128 => 4,
            Backend::Portable => 1,
        }
    }
}

/// The fastest backend this machine supports (detected once, then cached, with `std`).
pub fn backend() -> Backend {
    #[cfg(target_arch = "x86_64")]
    {
        x86::detect()
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        Backend::Simd128
    }
    #[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
    {
        Backend::Portable
    }
}

/// Writes `blake3::keyed_hash(key, inputs[i])` to `out[i]` for every `i`.
///
/// # Panics
///
/// If `inputs` and `out` differ in length (a caller's bug, never a property of the data).
pub fn keyed_hash_many(key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) {
    keyed_hash_many_with(backend(), key, inputs, out)
}

/// [`keyed_hash_many`] with a given backend, for tests and benchmarks. A backend the CPU
/// does not have is replaced by [`Backend::Portable`].
pub fn keyed_hash_many_with(backend: Backend, key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) {
    assert_eq!(inputs.len(), out.len(), "keyed_hash_many: one output per input");
    #[cfg(target_arch = "x86_64")]
    if x86::hash_many(backend, key, inputs, out) {
        return;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if backend == Backend::Simd128 {
        wasm::hash_many(key, inputs, out);
        return;
    }
    let _ = backend;
    portable(key, inputs, out);
}

fn portable(key: &[u8; 32], inputs: &[&[u8]], out: &mut [[u8; 32]]) {
    for (input, hash) in inputs.iter().zip(out.iter_mut()) {
        *hash = *blake3::keyed_hash(key, input).as_bytes();
    }
}

#[cfg(test)]
mod tests;
