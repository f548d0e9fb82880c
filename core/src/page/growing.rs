//! The checksum of a page that grows by small commits, without rehashing what did not change.
//!
//! A version-2 page's checksum ([`crate::hash::page_checksum`]) is XXH3-64 over the events
//! followed by the 64-byte header. The events come first for this module: when a tail page
//! grows by one event, its header (count, `used`, checksum) changes but the events it held do
//! not, so [`GrowingChecksum`] keeps the hash state after the events it has seen, feeds it
//! only the new bytes, and finishes a copy of it with the new header. A commit of one event
//! then costs its own bytes plus the header, however full the page is.
//!
//! The result is exactly `page_checksum(header, body)`; tests compare the two on every length
//! and by proptest over random growth.

use xxhash_rust::xxh3::Xxh3;

use super::header::PAGE_HEADER_LEN;
use crate::hash::PAGE_CHECKSUM_SEED;

/// The hash state of a page body that only grows.
///
/// Call rule: between two calls of [`GrowingChecksum::checksum`], `body` may only be extended
/// (the bytes already passed must not change) unless [`GrowingChecksum::clear`] is called. A
/// body shorter than what was hashed is detected and hashed again from the start.
#[derive(Clone)]
pub(crate) struct GrowingChecksum {
    /// XXH3 over `body[..fed]`.
    state: Xxh3,
    fed: usize,
}

impl Default for GrowingChecksum {
    fn default() -> Self {
        GrowingChecksum { state: Xxh3::with_seed(PAGE_CHECKSUM_SEED), fed: 0 }
    }
}

impl core::fmt::Debug for GrowingChecksum {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GrowingChecksum").field("fed", &self.fed).finish_non_exhaustive()
    }
}

impl GrowingChecksum {
    /// Forgets the hashed body (it was replaced).
    pub(crate) fn clear(&mut self) {
        *self = GrowingChecksum::default();
    }

    /// The page checksum of `body` under `head` (checksum field zeroed), as
    /// [`crate::hash::page_checksum`].
    pub(crate) fn checksum(&mut self, head: &[u8; PAGE_HEADER_LEN], body: &[u8]) -> u64 {
        if body.len() < self.fed {
            self.clear();
        }
        self.state.update(body.get(self.fed..).unwrap_or_default());
        self.fed = body.len();
        let mut done = self.state.clone();
        done.update(head);
        done.digest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::page_checksum;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn equals_one_shot_on_every_length_grown_byte_by_byte() {
        let body: Vec<u8> = (0..(6 * 1024 + 100)).map(|i| (i * 7 + 3) as u8).collect();
        let mut g = GrowingChecksum::default();
        for n in 0..=body.len() {
            // The header changes with every call, as a tail page's count and used do.
            let head = [n as u8; PAGE_HEADER_LEN];
            assert_eq!(g.checksum(&head, &body[..n]), page_checksum(&head, &body[..n]), "body length {n}");
        }
    }

    #[test]
    fn equals_one_shot_in_big_steps() {
        let body: Vec<u8> = (0..(70 * 1024)).map(|i| (i * 13 + 1) as u8).collect();
        for start in [0usize, 1, 255, 256, 257, 1023, 1024, 1025] {
            let mut g = GrowingChecksum::default();
            let mut n = start;
            while n <= body.len() {
                let head = [(n % 251) as u8; PAGE_HEADER_LEN];
                assert_eq!(g.checksum(&head, &body[..n]), page_checksum(&head, &body[..n]), "body length {n}");
                n += 1024 * 3 + 1;
            }
        }
    }

    #[test]
    fn a_shrunk_body_is_recomputed_not_answered_wrong() {
        let body = vec![9u8; 5 * 1024];
        let head = [1u8; PAGE_HEADER_LEN];
        let mut g = GrowingChecksum::default();
        g.checksum(&head, &body);
        let other = vec![4u8; 3 * 1024];
        assert_eq!(g.checksum(&head, &other), page_checksum(&head, &other));
        g.clear();
        assert_eq!(g.checksum(&head, &body), page_checksum(&head, &body));
    }
}
