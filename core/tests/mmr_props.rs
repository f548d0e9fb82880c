//! Property tests of `xaeroflux_core::mmr` against a naive model.
//!
//! The model recomputes everything from the leaf list with the recursive definition: the
//! leaves are split into perfect trees of decreasing power-of-two sizes (the set bits of
//! the leaf count), each tree's root is `mmr_node(root(left half), root(right half))`, the
//! node list is the post-order walk of the trees, and the root is `mmr_root(n, peaks)`.
//! It shares nothing with the implementation but the two hash functions.

use proptest::prelude::*;
use xaeroflux_core::hash::{Hash, leaf_hash, mmr_node, mmr_root};
use xaeroflux_core::mmr::{
    ConsistencyProof, InclusionProof, MAX_LEAVES, Mmr, MmrPeaks, NodeStore, ProofDecodeError, ProofError, RangeProof,
    consistency_proof, inclusion_proof, leaf_to_pos, mmr_size, peak_positions, range_proof, verify_extension,
};

// ---------------------------------------------------------------------------------------
// The naive model
// ---------------------------------------------------------------------------------------

/// The sizes of the perfect trees of an MMR of `n` leaves, largest first.
fn naive_mountain_sizes(n: usize) -> Vec<usize> {
    (0..usize::BITS).rev().map(|b| 1usize << b).filter(|s| n & s != 0).collect()
}

/// The mountains as slices of the leaf list.
fn naive_mountains(leaves: &[Hash]) -> Vec<&[Hash]> {
    let mut rest = leaves;
    naive_mountain_sizes(leaves.len())
        .into_iter()
        .map(|s| {
            let (m, r) = rest.split_at(s);
            rest = r;
            m
        })
        .collect()
}

fn naive_tree_root(leaves: &[Hash]) -> Hash {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let (l, r) = leaves.split_at(leaves.len() / 2);
    mmr_node(&naive_tree_root(l), &naive_tree_root(r))
}

fn naive_peaks(leaves: &[Hash]) -> Vec<Hash> {
    naive_mountains(leaves).into_iter().map(naive_tree_root).collect()
}

fn naive_root(leaves: &[Hash]) -> Hash {
    mmr_root(leaves.len() as u64, &naive_peaks(leaves))
}

/// Post-order walk of a perfect tree: pushes every node, records leaf positions.
fn naive_post_order(leaves: &[Hash], nodes: &mut Vec<Hash>, leaf_pos: &mut Vec<u64>) -> Hash {
    let h = if leaves.len() == 1 {
        leaf_pos.push(nodes.len() as u64);
        leaves[0]
    } else {
        let (l, r) = leaves.split_at(leaves.len() / 2);
        let a = naive_post_order(l, nodes, leaf_pos);
        let b = naive_post_order(r, nodes, leaf_pos);
        mmr_node(&a, &b)
    };
    nodes.push(h);
    h
}

/// Every node in position order, the leaf positions and the peak positions.
fn naive_nodes(leaves: &[Hash]) -> (Vec<Hash>, Vec<u64>, Vec<u64>) {
    let (mut nodes, mut leaf_pos, mut peak_pos) = (Vec::new(), Vec::new(), Vec::new());
    for m in naive_mountains(leaves) {
        naive_post_order(m, &mut nodes, &mut leaf_pos);
        peak_pos.push(nodes.len() as u64 - 1);
    }
    (nodes, leaf_pos, peak_pos)
}

/// Siblings from leaf `j` of a perfect tree up to its root, bottom first.
fn naive_path(tree: &[Hash], j: usize) -> Vec<Hash> {
    if tree.len() == 1 {
        return Vec::new();
    }
    let half = tree.len() / 2;
    let (l, r) = tree.split_at(half);
    let (mut path, sibling) = if j < half { (naive_path(l, j), r) } else { (naive_path(r, j - half), l) };
    path.push(naive_tree_root(sibling));
    path
}

fn leaf(i: u64) -> Hash {
    leaf_hash(&i.to_le_bytes())
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(leaf).collect()
}

fn build(leaves: &[Hash]) -> Mmr {
    let mut mmr = Mmr::new();
    for (i, l) in leaves.iter().enumerate() {
        assert_eq!(mmr.append(*l), i as u64);
    }
    mmr
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = *h;
    b.0[bit / 8] ^= 1 << (bit % 8);
    b
}

// ---------------------------------------------------------------------------------------
// Exhaustive checks over small sizes
// ---------------------------------------------------------------------------------------

#[test]
fn root_peaks_nodes_positions_every_size() {
    let all = leaves(400);
    let mut mmr = Mmr::new();
    let mut peaks = MmrPeaks::new();
    for n in 0..=all.len() {
        let prefix = &all[..n];
        let (nodes, leaf_pos, peak_pos) = naive_nodes(prefix);
        assert_eq!(mmr.nodes(), nodes.as_slice(), "nodes of {n}");
        assert_eq!(mmr.peaks().peaks(), naive_peaks(prefix).as_slice(), "peaks of {n}");
        assert_eq!(mmr.root(), naive_root(prefix), "root of {n}");
        assert_eq!(peaks, *mmr.peaks());
        assert_eq!(mmr_size(n as u64), nodes.len() as u64);
        assert_eq!(peak_positions(n as u64), peak_pos);
        for (i, p) in leaf_pos.iter().enumerate() {
            assert_eq!(leaf_to_pos(i as u64), *p);
        }
        assert_eq!(MmrPeaks::from_store(mmr.nodes(), n as u64).unwrap(), peaks);
        if n < all.len() {
            mmr.append(all[n]);
            peaks.append(all[n]);
        }
    }
    assert_eq!(Mmr::new().root(), mmr_root(0, &[]));
}

#[test]
fn restored_peaks_keep_appending() {
    let all = leaves(300);
    for m in 0..=64usize {
        let mut restored = MmrPeaks::from_parts(m as u64, naive_peaks(&all[..m])).unwrap();
        for n in m..all.len() {
            restored.append(all[n]);
            if n % 17 == 0 || n < 70 {
                assert_eq!(restored.root(), naive_root(&all[..=n]), "restored at {m}, size {}", n + 1);
            }
        }
        assert_eq!(restored.peaks(), naive_peaks(&all).as_slice());
    }
}

#[test]
fn inclusion_every_leaf() {
    let all = leaves(300);
    let later = build(&all);
    let mut mmr = Mmr::new();
    for n in 1..=all.len() {
        mmr.append(all[n - 1]);
        let prefix = &all[..n];
        let root = naive_root(prefix);
        let mountains = naive_mountains(prefix);
        let peaks = naive_peaks(prefix);
        for i in 0..n {
            let proof = mmr.inclusion_proof(i as u64).unwrap();
            assert_eq!((proof.leaf_index, proof.leaves), (i as u64, n as u64));
            proof.verify(&all[i], &root).unwrap();
            if n <= 100 {
                // The exact content, against the model.
                let (mut first, mut own) = (0, 0);
                while first + mountains[own].len() <= i {
                    first += mountains[own].len();
                    own += 1;
                }
                assert_eq!(proof.path(), naive_path(mountains[own], i - first).as_slice());
                let mut others = peaks.clone();
                others.remove(own);
                assert_eq!(proof.other_peaks(), others.as_slice());
                let wrong_leaf = all[(i + 1) % n];
                if n > 1 {
                    assert_eq!(proof.verify(&wrong_leaf, &root), Err(ProofError::RootMismatch));
                }
            }
            // The store-based generator for an older size agrees with the current one.
            if n % 7 == 0 {
                assert_eq!(inclusion_proof(later.nodes(), n as u64, i as u64).unwrap(), proof);
            }
        }
        assert_eq!(
            mmr.inclusion_proof(n as u64),
            Err(ProofError::LeafIndexOutOfRange { leaf_index: n as u64, leaves: n as u64 })
        );
    }
}

#[test]
fn consistency_every_pair() {
    let all = leaves(200);
    let roots: Vec<Hash> = (0..=all.len()).map(|n| naive_root(&all[..n])).collect();
    let mut mmr = Mmr::new();
    let mut max_nodes = 0;
    for n in 0..=all.len() {
        if n > 0 {
            mmr.append(all[n - 1]);
        }
        for m in 0..=n {
            let proof = mmr.consistency_proof(m as u64).unwrap();
            assert_eq!(proof.old_peaks(), naive_peaks(&all[..m]).as_slice());
            proof.verify(&roots[m], &roots[n]).unwrap();
            assert_eq!(proof.prefix_root(&roots[n]).unwrap(), roots[m]);
            max_nodes = max_nodes.max(proof.nodes().len());
            if m < n {
                assert_eq!(proof.verify(&roots[m + 1], &roots[n]), Err(ProofError::OldRootMismatch));
                assert_eq!(proof.verify(&roots[m], &roots[n - 1]), Err(ProofError::NewRootMismatch));
                assert_eq!(proof.prefix_root(&roots[n - 1]), Err(ProofError::NewRootMismatch));
            } else {
                assert!(proof.nodes().is_empty());
            }
            let back = ConsistencyProof::decode(&proof.encode()).unwrap();
            assert_eq!(back, proof);
        }
        assert_eq!(
            mmr.consistency_proof(n as u64 + 1),
            Err(ProofError::OldLargerThanNew { old_leaves: n as u64 + 1, new_leaves: n as u64 })
        );
    }
    assert!(max_nodes <= 2 * 7, "{max_nodes}");
}

#[test]
fn range_every_range() {
    let all = leaves(40);
    let mut mmr = Mmr::new();
    for n in 1..=all.len() {
        mmr.append(all[n - 1]);
        let root = naive_root(&all[..n]);
        for start in 0..n {
            for end in start + 1..=n {
                let proof = mmr.range_proof(start as u64, end as u64).unwrap();
                proof.verify(&all[start..end], &root).unwrap();
                assert_eq!(RangeProof::decode(&proof.encode()).unwrap(), proof);
                if start > 0 {
                    assert!(proof.verify(&all[start - 1..end - 1], &root).is_err());
                }
                if end < n {
                    assert_eq!(
                        proof.verify(&all[start..end + 1], &root),
                        Err(ProofError::WrongLeafCount {
                            expected: (end - start) as u64,
                            found: (end - start + 1) as u64
                        })
                    );
                }
                assert_eq!(
                    proof.verify(&all[start..end - 1], &root),
                    Err(ProofError::WrongLeafCount { expected: (end - start) as u64, found: (end - start - 1) as u64 })
                );
            }
            assert_eq!(
                mmr.range_proof(start as u64, start as u64),
                Err(ProofError::BadRange { start: start as u64, end: start as u64, leaves: n as u64 })
            );
        }
        // A single-leaf range agrees with the inclusion proof's content.
        let r = range_proof(mmr.nodes(), n as u64, 0, 1).unwrap();
        let i = mmr.inclusion_proof(0).unwrap();
        assert_eq!(r.nodes().len(), i.path().len() + i.other_peaks().len());
    }
}

#[test]
fn inclusion_from_range_every_leaf_of_every_range() {
    let all = leaves(40);
    let mut mmr = Mmr::new();
    for n in 1..=all.len() {
        mmr.append(all[n - 1]);
        let root = mmr.root();
        for start in 0..n {
            for end in start + 1..=n {
                let range = mmr.range_proof(start as u64, end as u64).unwrap();
                for i in start..end {
                    let derived = range.inclusion_proof(&all[start..end], i as u64, &root).unwrap();
                    assert_eq!(derived, mmr.inclusion_proof(i as u64).unwrap(), "n {n} {start}..{end} leaf {i}");
                }
                for outside in [start.wrapping_sub(1), end] {
                    assert!(matches!(
                        range.inclusion_proof(&all[start..end], outside as u64, &root),
                        Err(ProofError::LeafIndexOutOfRange { .. })
                    ));
                }
                assert_eq!(
                    range.inclusion_proof(&all[start..end], start as u64, &leaf(999)),
                    Err(ProofError::RootMismatch)
                );
            }
        }
    }
}

#[test]
fn extension_every_pair() {
    let all = leaves(130);
    let roots: Vec<Hash> = (0..=all.len()).map(|n| naive_root(&all[..n])).collect();
    for m in 0..=all.len() {
        let old = MmrPeaks::from_parts(m as u64, naive_peaks(&all[..m])).unwrap();
        for n in m..=all.len() {
            let new = verify_extension(&old, &all[m..n], &roots[n]).unwrap();
            assert_eq!(new.leaves(), n as u64);
            assert_eq!(new.peaks(), naive_peaks(&all[..n]).as_slice());
            if n > m {
                assert_eq!(verify_extension(&old, &all[m..n - 1], &roots[n]), Err(ProofError::RootMismatch));
                let mut swapped = all[m..n].to_vec();
                swapped[0] = leaf(1000);
                assert_eq!(verify_extension(&old, &swapped, &roots[n]), Err(ProofError::RootMismatch));
            }
        }
    }
}

#[test]
fn generation_needs_the_nodes() {
    let mmr = build(&leaves(20));
    let few = &mmr.nodes()[..10];
    assert!(matches!(inclusion_proof(few, 20, 19), Err(ProofError::MissingNode(_))));
    assert!(matches!(consistency_proof(few, 3, 20), Err(ProofError::MissingNode(_))));
    assert!(matches!(range_proof(few, 20, 0, 2), Err(ProofError::MissingNode(_))));
    assert_eq!(inclusion_proof(mmr.nodes(), MAX_LEAVES + 1, 0), Err(ProofError::TooManyLeaves(MAX_LEAVES + 1)));
    assert_eq!(mmr.node(10), Some(mmr.nodes()[10]));
    assert_eq!(mmr.node(u64::MAX), None);
}

// ---------------------------------------------------------------------------------------
// Random leaves, tampering, random bytes
// ---------------------------------------------------------------------------------------

fn any_hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

/// Every single-bit change of `bytes` makes `check` fail.
fn every_flip_fails(bytes: &[u8], check: impl Fn(&[u8]) -> bool) {
    assert!(check(bytes), "the untouched proof must verify");
    for bit in 0..bytes.len() * 8 {
        let mut b = bytes.to_vec();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(!check(&b), "flipped bit {bit} of {} still verifies", bytes.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_leaves_match_model(all in prop::collection::vec(any_hash(), 1..300), seed in any::<u64>()) {
        let n = all.len();
        let mmr = build(&all);
        let root = naive_root(&all);
        prop_assert_eq!(mmr.root(), root);
        let (nodes, _, _) = naive_nodes(&all);
        prop_assert_eq!(mmr.nodes(), nodes.as_slice());
        let i = (seed % n as u64) as usize;
        mmr.inclusion_proof(i as u64).unwrap().verify(&all[i], &root).unwrap();
        let m = (seed >> 20) as usize % (n + 1);
        mmr.consistency_proof(m as u64).unwrap().verify(&naive_root(&all[..m]), &root).unwrap();
        let old = MmrPeaks::from_parts(m as u64, naive_peaks(&all[..m])).unwrap();
        prop_assert_eq!(&verify_extension(&old, &all[m..], &root).unwrap(), mmr.peaks());
        let (s, e) = (i.min(m), i.max(m) + 1);
        let e = e.min(n);
        if s < e {
            mmr.range_proof(s as u64, e as u64).unwrap().verify(&all[s..e], &root).unwrap();
        }
    }

    #[test]
    fn inclusion_flips_fail(n in 1u64..300, i in any::<u64>(), bit in 0usize..256) {
        let all = leaves(n);
        let mmr = build(&all);
        let i = i % n;
        let (leaf, root) = (all[i as usize], mmr.root());
        let bytes = mmr.inclusion_proof(i).unwrap().encode();
        every_flip_fails(&bytes, |b| InclusionProof::decode(b).is_ok_and(|p| p.verify(&leaf, &root).is_ok()));
        let proof = InclusionProof::decode(&bytes).unwrap();
        prop_assert_eq!(proof.verify(&flip(&leaf, bit), &root), Err(ProofError::RootMismatch));
        prop_assert_eq!(proof.verify(&leaf, &flip(&root, bit)), Err(ProofError::RootMismatch));
    }

    #[test]
    fn consistency_flips_fail(n in 0u64..300, m in any::<u64>(), bit in 0usize..256) {
        let all = leaves(n);
        let mmr = build(&all);
        let m = m % (n + 1);
        let (old_root, new_root) = (naive_root(&all[..m as usize]), mmr.root());
        let bytes = mmr.consistency_proof(m).unwrap().encode();
        every_flip_fails(&bytes, |b| ConsistencyProof::decode(b).is_ok_and(|p| p.verify(&old_root, &new_root).is_ok()));
        // prefix_root: a tampered proof never yields the true prefix root for the new root.
        every_flip_fails(&bytes, |b| {
            ConsistencyProof::decode(b).is_ok_and(|p| p.prefix_root(&new_root) == Ok(old_root))
        });
        let proof = ConsistencyProof::decode(&bytes).unwrap();
        prop_assert!(proof.verify(&flip(&old_root, bit), &new_root).is_err());
        prop_assert!(proof.verify(&old_root, &flip(&new_root, bit)).is_err());
    }

    #[test]
    fn range_flips_fail(n in 1u64..80, a in any::<u64>(), b in any::<u64>(), bit in 0usize..256) {
        let all = leaves(n);
        let mmr = build(&all);
        let (a, b) = (a % n, b % n);
        let (start, end) = (a.min(b), a.max(b) + 1);
        let range = &all[start as usize..end as usize];
        let root = mmr.root();
        let bytes = mmr.range_proof(start, end).unwrap().encode();
        every_flip_fails(&bytes, |b| RangeProof::decode(b).is_ok_and(|p| p.verify(range, &root).is_ok()));
        let proof = RangeProof::decode(&bytes).unwrap();
        prop_assert_eq!(proof.verify(range, &flip(&root, bit)), Err(ProofError::RootMismatch));
        for k in 0..range.len() {
            let mut changed = range.to_vec();
            changed[k] = flip(&changed[k], bit);
            prop_assert_eq!(proof.verify(&changed, &root), Err(ProofError::RootMismatch));
        }
    }

    /// Deep MMRs too: a leaf's inclusion proof derived from a range proof is the one the
    /// MMR gives, and no changed leaf of the range yields one for the true root.
    #[test]
    fn inclusion_from_range_is_the_mmrs(n in 1u64..3000, a in any::<u64>(), b in any::<u64>(), i in any::<u64>(), bit in 0usize..256) {
        let all = leaves(n);
        let mmr = build(&all);
        let (a, b) = (a % n, b % n);
        let (start, end) = (a.min(b), a.max(b) + 1);
        let i = start + i % (end - start);
        let range = &all[start as usize..end as usize];
        let root = mmr.root();
        let proof = mmr.range_proof(start, end).unwrap();
        prop_assert_eq!(proof.inclusion_proof(range, i, &root).unwrap(), mmr.inclusion_proof(i).unwrap());
        let k = (i - start) as usize;
        let mut changed = range.to_vec();
        changed[k] = flip(&changed[k], bit);
        prop_assert_eq!(proof.inclusion_proof(&changed, i, &root), Err(ProofError::RootMismatch));
    }

    #[test]
    fn extension_flips_fail(n in 1u64..200, m in any::<u64>(), bit in 0usize..256, k in any::<usize>()) {
        let all = leaves(n);
        let m = m % n;
        let old = MmrPeaks::from_parts(m, naive_peaks(&all[..m as usize])).unwrap();
        let new_leaves = &all[m as usize..];
        let root = naive_root(&all);
        prop_assert!(verify_extension(&old, new_leaves, &root).is_ok());
        prop_assert_eq!(verify_extension(&old, new_leaves, &flip(&root, bit)), Err(ProofError::RootMismatch));
        let mut changed = new_leaves.to_vec();
        let k = k % changed.len();
        changed[k] = flip(&changed[k], bit);
        prop_assert_eq!(verify_extension(&old, &changed, &root), Err(ProofError::RootMismatch));
        if m > 0 {
            let mut peaks = old.peaks().to_vec();
            let p = k % peaks.len();
            peaks[p] = flip(&peaks[p], bit);
            let bad = MmrPeaks::from_parts(m, peaks).unwrap();
            prop_assert_eq!(verify_extension(&bad, new_leaves, &root), Err(ProofError::RootMismatch));
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), h in any_hash()) {
        decode_and_verify_all(&bytes, &h);
    }

    /// Headers that pass the first checks (right version and kind, sizes anywhere in the
    /// u64 range, counts right or nearly right), then random hashes.
    #[test]
    fn crafted_headers_never_panic(
        kind in 0u8..5,
        sizes in prop::array::uniform3(prop_oneof![
            0u64..300,
            (MAX_LEAVES - 300)..=(MAX_LEAVES + 2),
            (u64::MAX - 3)..=u64::MAX,
            any::<u64>(),
        ]),
        counts in prop::array::uniform2(0u8..=255),
        hashes in 0usize..200,
        h in any_hash(),
    ) {
        let mut bytes = vec![1, kind];
        for s in sizes {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        let header_end = if kind == 3 { 26 } else { 18 };
        bytes.truncate(header_end);
        bytes.extend_from_slice(&counts);
        if kind == 3 { bytes.truncate(27) }
        bytes.extend(std::iter::repeat_n(0xA5, hashes * 32));
        decode_and_verify_all(&bytes, &h);
    }
}

/// Feeds `bytes` to every decoder; whatever decodes is verified against junk, which must
/// fail without panicking.
fn decode_and_verify_all(bytes: &[u8], h: &Hash) {
    if let Ok(p) = InclusionProof::decode(bytes) {
        assert!(p.verify(h, h).is_err());
        assert_eq!(InclusionProof::decode(&p.encode()), Ok(p));
    }
    if let Ok(p) = ConsistencyProof::decode(bytes) {
        assert!(p.verify(h, h).is_err());
        assert!(p.prefix_root(h).is_err());
        assert_eq!(ConsistencyProof::decode(&p.encode()), Ok(p));
    }
    if let Ok(p) = RangeProof::decode(bytes) {
        let leaves = vec![*h; usize::try_from(p.end - p.start).unwrap_or(usize::MAX).min(4096)];
        assert!(p.verify(&leaves, h).is_err());
        assert_eq!(RangeProof::decode(&p.encode()), Ok(p));
    }
}

#[test]
fn decode_errors_are_precise() {
    let mmr = build(&leaves(11));
    let inc = mmr.inclusion_proof(4).unwrap().encode();
    assert_eq!(InclusionProof::decode(&inc[..5]), Err(ProofDecodeError::TooShort { needed: 20, found: 5 }));
    let mut b = inc.clone();
    b[0] = 2;
    assert_eq!(InclusionProof::decode(&b), Err(ProofDecodeError::BadVersion(2)));
    assert_eq!(RangeProof::decode(&inc), Err(ProofDecodeError::WrongKind { expected: 3, found: 1 }));
    let mut b = inc.clone();
    b[18] += 1;
    assert_eq!(InclusionProof::decode(&b), Err(ProofDecodeError::WrongPathLength { expected: 3, found: 4 }));
    let mut b = inc.clone();
    b[19] = 7;
    assert_eq!(InclusionProof::decode(&b), Err(ProofDecodeError::WrongPeakCount { expected: 2, found: 7 }));
    let mut b = inc.clone();
    b.push(0);
    assert_eq!(
        InclusionProof::decode(&b),
        Err(ProofDecodeError::LengthMismatch { expected: inc.len(), found: inc.len() + 1 })
    );
    let mut b = inc.clone();
    b[10..18].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(InclusionProof::decode(&b), Err(ProofDecodeError::TooManyLeaves(u64::MAX)));
    let mut b = inc.clone();
    b[2..10].copy_from_slice(&11u64.to_le_bytes());
    assert_eq!(InclusionProof::decode(&b), Err(ProofDecodeError::LeafIndexOutOfRange { leaf_index: 11, leaves: 11 }));

    let con = mmr.consistency_proof(3).unwrap().encode();
    let mut b = con.clone();
    b[2..10].copy_from_slice(&12u64.to_le_bytes());
    assert_eq!(
        ConsistencyProof::decode(&b),
        Err(ProofDecodeError::OldLargerThanNew { old_leaves: 12, new_leaves: 11 })
    );
    let mut b = con.clone();
    b[19] += 1;
    assert!(matches!(ConsistencyProof::decode(&b), Err(ProofDecodeError::WrongNodeCount { .. })));

    let ran = mmr.range_proof(2, 5).unwrap().encode();
    let mut b = ran.clone();
    b[10..18].copy_from_slice(&2u64.to_le_bytes());
    assert_eq!(RangeProof::decode(&b), Err(ProofDecodeError::BadRange { start: 2, end: 2, leaves: 11 }));

    // Huge stated sizes with consistent counts are refused by length, before allocating.
    let mut b = vec![1, 1];
    b.extend_from_slice(&(MAX_LEAVES - 1).to_le_bytes());
    b.extend_from_slice(&MAX_LEAVES.to_le_bytes());
    b.extend_from_slice(&[63, 0]);
    assert_eq!(InclusionProof::decode(&b), Err(ProofDecodeError::LengthMismatch { expected: 20 + 63 * 32, found: 20 }));
    b.extend(std::iter::repeat_n(7, 63 * 32));
    let p = InclusionProof::decode(&b).unwrap();
    assert_eq!(p.verify(&leaf(0), &leaf(1)), Err(ProofError::RootMismatch));
}

#[test]
fn largest_sizes_verify_without_overflow() {
    // A fake MMR of MAX_LEAVES - 1 leaves (63 mountains), proven through a sparse store.
    struct Sparse;
    impl NodeStore for Sparse {
        fn node(&self, pos: u64) -> Option<Hash> {
            Some(leaf_hash(&pos.to_le_bytes()))
        }
    }
    for (n, i) in [(MAX_LEAVES, 0), (MAX_LEAVES, MAX_LEAVES - 1), (MAX_LEAVES - 1, MAX_LEAVES - 2), (MAX_LEAVES - 1, 5)]
    {
        let p = inclusion_proof(&Sparse, n, i).unwrap();
        assert_eq!(InclusionProof::decode(&p.encode()).unwrap(), p);
        assert_eq!(p.verify(&leaf(0), &leaf(0)), Err(ProofError::RootMismatch));
    }
    for (m, n) in [(1, MAX_LEAVES), (MAX_LEAVES - 1, MAX_LEAVES), (MAX_LEAVES / 3, MAX_LEAVES - 1)] {
        let p = consistency_proof(&Sparse, m, n).unwrap();
        assert!(p.nodes().len() <= 126);
        assert_eq!(ConsistencyProof::decode(&p.encode()).unwrap(), p);
        assert_eq!(p.verify(&leaf(0), &leaf(0)), Err(ProofError::OldRootMismatch));
    }
    let mut max = 0;
    for (s, e, n) in
        [(1, 2, MAX_LEAVES), (MAX_LEAVES / 3, MAX_LEAVES / 3 + 2, MAX_LEAVES - 1), (1, MAX_LEAVES - 1, MAX_LEAVES)]
    {
        let p = range_proof(&Sparse, n, s, e).unwrap();
        max = max.max(p.nodes().len());
        assert_eq!(RangeProof::decode(&p.encode()).unwrap(), p);
        assert!(p.verify(&[leaf(0), leaf(1)], &leaf(0)).is_err());
    }
    assert!(max <= 189, "{max}");
}

/// The worked example of `docs/formats.md`: every hash and encoding printed there is
/// recomputed here (hashes through the naive model), so the document cannot drift.
#[test]
fn docs_worked_example() {
    let l: Vec<Hash> = (0..4).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect();
    let hex_of = |h: &Hash| h.to_string();
    let (nodes, _, _) = naive_nodes(&l);
    let doc_nodes = [
        "9422d026b78bd8d3aed65fa77a32ac435f7c37808a798978926cd22aaebe4146",
        "a69e78ae16438a8ffb3b3f15ba0147f1cb44e743da27d1ae78a7f86face60d9b",
        "ab9ef28c005fca2f1a172b66c3f44392d889fac2d72dda1474804d5ba3711754",
        "b4eeb04b680852deca6d95b9e51cea8be10398268ae5a75d34823e928bf9ce5f",
        "b61e332266732f084d92bbe9e6df89a834bc2534110ab3e2ea8291188b212e5d",
        "a0e4619a2f8ab644ed9a61f6d3cd6658a363be527b7c109bc988b5a933f7ebfe",
        "a2d38cdbe4256129b3507ab29319202be81c084279e943d44923359a359abcec",
    ];
    assert_eq!(nodes.iter().map(hex_of).collect::<Vec<_>>(), doc_nodes);
    let doc_roots = [
        "b3fb78a8067ea0236e64a157a1abd63a3b7d5f11ecb88a925aea38cbbf39e039",
        "2fd89f8ca9a6fc7860043e976595bdc244253d5f5bdf9f2c9c6e1f408898e809",
        "ddda9f87cc2af92f92812e145e3dee9d661d34cf9b8b3d5ba22538113bd645b3",
        "f672d18322953e14fac5338a7666347b2319c6a24a9c7ee530a6132e1b4eb895",
        "60aa895d7baa6ff9dc12f5bfcc5515f54711df992d215ed3b6bcd696810bb843",
    ];
    for (n, root) in doc_roots.iter().enumerate() {
        assert_eq!(hex_of(&naive_root(&l[..n])), *root, "root of {n}");
    }
    let mmr3 = build(&l[..3]);
    let mmr4 = build(&l);
    let enc = |b: Vec<u8>| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let cases = [
        (
            enc(mmr3.inclusion_proof(2).unwrap().encode()),
            "01010200000000000000030000000000000000 01 \
             ab9ef28c005fca2f1a172b66c3f44392d889fac2d72dda1474804d5ba3711754",
        ),
        (
            enc(mmr4.inclusion_proof(1).unwrap().encode()),
            "01010100000000000000040000000000000002 00 \
             9422d026b78bd8d3aed65fa77a32ac435f7c37808a798978926cd22aaebe4146 \
             a0e4619a2f8ab644ed9a61f6d3cd6658a363be527b7c109bc988b5a933f7ebfe",
        ),
        (
            enc(mmr4.consistency_proof(3).unwrap().encode()),
            "01020300000000000000040000000000000002 01 \
             ab9ef28c005fca2f1a172b66c3f44392d889fac2d72dda1474804d5ba3711754 \
             b4eeb04b680852deca6d95b9e51cea8be10398268ae5a75d34823e928bf9ce5f \
             b61e332266732f084d92bbe9e6df89a834bc2534110ab3e2ea8291188b212e5d",
        ),
        (
            enc(mmr4.range_proof(1, 3).unwrap().encode()),
            "0103010000000000000003000000000000000400000000000000 02 \
             9422d026b78bd8d3aed65fa77a32ac435f7c37808a798978926cd22aaebe4146 \
             b61e332266732f084d92bbe9e6df89a834bc2534110ab3e2ea8291188b212e5d",
        ),
    ];
    for (got, doc) in cases {
        let doc: String = doc.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        assert_eq!(got, doc);
    }
}
