//! Helpers shared by the tests that damage a store's files (`store_corrupt.rs`,
//! `store_integrity.rs`): where a segment file is, and what a page in it holds.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The page size those tests give their stores (small, so a store spans many pages).
pub const PAGE: u64 = 1024;

/// Segment file `n` of the store at `path`.
pub fn seg(path: &Path, n: u32) -> PathBuf {
    path.join("segments").join(format!("{n:08}.seg"))
}

/// Seqs held by the page at slot `slot` of segment `n` (from its header).
pub fn page_seqs(path: &Path, n: u32, slot: u64) -> std::ops::Range<u64> {
    let f = std::fs::File::open(seg(path, n)).unwrap();
    let mut h = [0u8; 64];
    f.read_exact_at(&mut h, slot * PAGE).unwrap();
    let count = u32::from_le_bytes(h[8..12].try_into().unwrap()) as u64;
    let first = u64::from_le_bytes(h[16..24].try_into().unwrap());
    first..first + count
}
