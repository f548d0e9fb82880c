//! The checksum of a page that grows by small commits, without rehashing what did not change.
//!
//! A page's checksum ([`crate::hash::page_checksum`]) is BLAKE3 (keyed) over the 64-byte header
//! followed by the events. BLAKE3 cuts its input into 1 KiB chunks and hashes them as the leaves
//! of a binary tree, so when a tail page grows by one event and its header's count, `used` and
//! checksum change, only three kinds of tree nodes change: chunk 0 (it holds the header), the
//! last chunk (it holds the new bytes), and the parents above them. Every other chunk lies wholly
//! inside the events written before, and its chaining value stays what it was.
//!
//! [`GrowingChecksum`] keeps those chaining values between calls (through the `blake3::hazmat`
//! interface) and recomputes only chunk 0, the incomplete last chunk and the parent nodes: a
//! commit of one event costs about 50 compressions however full the page is, where hashing the
//! whole page again cost up to 16 KiB (256 compressions) at the default page size.
//!
//! The result is exactly `page_checksum(header ‖ body)`; tests compare the two on every
//! chunk boundary and by proptest over random growth.

use alloc::vec::Vec;

use blake3::hazmat::{ChainingValue, HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root};

use super::header::PAGE_HEADER_LEN;
use crate::hash::PAGE_CHECKSUM_KEY;

/// BLAKE3's chunk length.
const CHUNK: usize = blake3::CHUNK_LEN;

/// Chaining values of the complete chunks after chunk 0 of a message `header ‖ body` whose
/// body only grows.
///
/// Call rule: between two calls of [`GrowingChecksum::checksum`], `body` may only be extended
/// (the bytes already passed must not change) unless [`GrowingChecksum::clear`] is called.
#[derive(Clone, Debug, Default)]
pub(crate) struct GrowingChecksum {
    /// `cvs[i]` is the chaining value of chunk `i + 1` of the message.
    cvs: Vec<ChainingValue>,
}

impl GrowingChecksum {
    /// Forgets every chaining value (the body was replaced).
    pub(crate) fn clear(&mut self) {
        self.cvs.clear();
    }

    /// The page checksum of `head ‖ body`: the first 8 bytes (little-endian) of the keyed hash,
    /// as [`crate::hash::page_checksum`].
    pub(crate) fn checksum(&mut self, head: &[u8; PAGE_HEADER_LEN], body: &[u8]) -> u64 {
        let len = PAGE_HEADER_LEN + body.len();
        let digest = if len <= CHUNK {
            // One chunk: it is the root, nothing to reuse.
            let mut joined = [0u8; CHUNK];
            joined[..PAGE_HEADER_LEN].copy_from_slice(head);
            joined[PAGE_HEADER_LEN..len].copy_from_slice(body);
            blake3::keyed_hash(&PAGE_CHECKSUM_KEY, &joined[..len])
        } else {
            self.root(head, body, len)
        };
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_bytes()[..8]);
        u64::from_le_bytes(first)
    }

    /// The root hash of a message of `len > CHUNK` bytes.
    fn root(&mut self, head: &[u8; PAGE_HEADER_LEN], body: &[u8], len: usize) -> blake3::Hash {
        let chunks = len.div_ceil(CHUNK);
        // Chunk `i ≥ 1` covers body bytes `i·CHUNK − 64 .. (i+1)·CHUNK − 64`.
        let body_of =
            |i: usize| &body[i * CHUNK - PAGE_HEADER_LEN..((i + 1) * CHUNK - PAGE_HEADER_LEN).min(body.len())];
        // Complete chunks other than chunk 0 and the last: cache any not cached yet. (The last
        // chunk may be complete too; it is hashed below either way, and cached once another
        // chunk follows it.)
        let stable = chunks - 2;
        if self.cvs.len() > stable {
            // The body shrank: the call rule was broken. Start again rather than answer wrong.
            self.cvs.clear();
        }
        while self.cvs.len() < stable {
            let i = self.cvs.len() + 1;
            self.cvs.push(chunk_cv(i, body_of(i)));
        }
        let mut first = [0u8; CHUNK];
        first[..PAGE_HEADER_LEN].copy_from_slice(head);
        first[PAGE_HEADER_LEN..].copy_from_slice(&body[..CHUNK - PAGE_HEADER_LEN]);
        let first_cv = chunk_cv(0, &first);
        let last_cv = chunk_cv(chunks - 1, body_of(chunks - 1));
        let cv = |i: usize| -> ChainingValue {
            if i == 0 {
                first_cv
            } else if i == chunks - 1 {
                last_cv
            } else {
                self.cvs[i - 1]
            }
        };
        let mode = Mode::KeyedHash(&PAGE_CHECKSUM_KEY);
        let split = left_chunks(chunks);
        let left = subtree(&cv, 0, split, mode);
        let right = subtree(&cv, split, chunks, mode);
        merge_subtrees_root(&left, &right, mode)
    }
}

/// The chaining value of chunk `index` (not the root: the message has more than one chunk).
fn chunk_cv(index: usize, bytes: &[u8]) -> ChainingValue {
    let mut h = blake3::Hasher::new_keyed(&PAGE_CHECKSUM_KEY);
    h.set_input_offset((index * CHUNK) as u64);
    h.update(bytes);
    h.finalize_non_root()
}

/// Chunks in the left subtree of a tree over `n ≥ 2` chunks: the largest power of two below
/// `n` (BLAKE3's left-balanced tree; the last chunk is never empty).
fn left_chunks(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The chaining value of the (non-root) subtree over chunks `start..end`.
fn subtree(cv: &impl Fn(usize) -> ChainingValue, start: usize, end: usize, mode: Mode<'_>) -> ChainingValue {
    if end - start == 1 {
        return cv(start);
    }
    let split = start + left_chunks(end - start);
    let left = subtree(cv, start, split, mode);
    let right = subtree(cv, split, end, mode);
    merge_subtrees_non_root(&left, &right, mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::page_checksum;
    use alloc::vec;

    fn one_shot(head: &[u8; PAGE_HEADER_LEN], body: &[u8]) -> u64 {
        let mut m = head.to_vec();
        m.extend_from_slice(body);
        page_checksum(&m)
    }

    #[test]
    fn left_chunks_is_the_largest_power_of_two_below() {
        assert_eq!([2, 3, 4, 5, 8, 9, 17].map(left_chunks), [1, 2, 2, 4, 4, 8, 16]);
    }

    #[test]
    fn equals_one_shot_on_every_length_grown_byte_by_byte() {
        let body: Vec<u8> = (0..(6 * CHUNK + 100)).map(|i| (i * 7 + 3) as u8).collect();
        let mut g = GrowingChecksum::default();
        for n in 0..=body.len() {
            // The header changes with every call, as a tail page's count and used do.
            let head = [n as u8; PAGE_HEADER_LEN];
            assert_eq!(g.checksum(&head, &body[..n]), one_shot(&head, &body[..n]), "body length {n}");
        }
    }

    #[test]
    fn equals_one_shot_around_every_chunk_boundary_in_big_steps() {
        let body: Vec<u8> = (0..(70 * CHUNK)).map(|i| (i * 13 + 1) as u8).collect();
        for start in [0usize, 1, 959, 960, 961, 1983, 1984, 1985] {
            let mut g = GrowingChecksum::default();
            let mut n = start;
            while n <= body.len() {
                let head = [(n % 251) as u8; PAGE_HEADER_LEN];
                assert_eq!(g.checksum(&head, &body[..n]), one_shot(&head, &body[..n]), "body length {n}");
                n += 1024 * 3 + 1;
            }
        }
    }

    #[test]
    fn a_shrunk_body_is_recomputed_not_answered_wrong() {
        let body = vec![9u8; 5 * CHUNK];
        let head = [1u8; PAGE_HEADER_LEN];
        let mut g = GrowingChecksum::default();
        g.checksum(&head, &body);
        let other = vec![4u8; 3 * CHUNK];
        assert_eq!(g.checksum(&head, &other), one_shot(&head, &other));
        g.clear();
        assert_eq!(g.checksum(&head, &body), one_shot(&head, &body));
    }
}
