// Reads of one answer are written `&[0..n]`: a list of answers.
#![allow(clippy::single_range_in_vec_init)]

use super::*;
use xaeroflux_core::AuthorKey;
use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;

/// A feed of `len` events of a few bytes each.
fn feed(secret: u8, len: u64) -> MemStore {
    let key = AuthorKey::from_secret_bytes(&[secret; 32]);
    let mut store = MemStore::new(key, PageConfig::new(4096).unwrap());
    let bodies: Vec<Vec<u8>> = (0..len).map(|i| vec![i as u8; 10 + i as usize % 5]).collect();
    store.append_batch(bodies.iter().map(|b| NewEvent::new(1, b))).unwrap();
    store
}

/// Events `seqs` of `store`'s feed as a verified answer.
fn answer(store: &MemStore, seqs: Range<u64>) -> VerifiedRange {
    store.verified_range(&store.author().unwrap(), seqs).unwrap()
}

/// A read of `store`'s feed that came in answers `parts` (one run of seqs).
fn read(store: &MemStore, parts: &[Range<u64>]) -> FetchedEvents {
    let blocks: Vec<VerifiedRange> = parts.iter().map(|p| answer(store, p.clone())).collect();
    let (start, end) = (parts[0].start, parts[parts.len() - 1].end);
    FetchedEvents {
        peer: PeerId([3; 32]),
        head: store.head(&store.author().unwrap()).unwrap(),
        start,
        len: end - start,
        blocks: Arc::new(blocks),
        skip: 0,
        cached: false,
    }
}

fn events_of(f: &FetchedEvents) -> Vec<(u64, Vec<u8>)> {
    f.iter().map(|e| (e.seq(), e.payload().to_vec())).collect()
}

#[test]
fn a_kept_read_comes_back_with_its_events_proofs_and_peer() {
    let store = feed(1, 40);
    let got = read(&store, &[0..12, 12..30]);
    let back = FetchedEvents::decode_kept(&got.encode_kept()).unwrap();
    assert_eq!((back.seqs(), back.head, back.peer), (0..30, got.head, got.peer));
    assert_eq!(events_of(&back), events_of(&got));
    assert!(back.from_cache());
    for seq in [0, 11, 12, 29] {
        assert_eq!(back.prove(seq).unwrap().proof(), got.prove(seq).unwrap().proof());
    }
    // A part of a larger answer (what the cache hands out) keeps its place.
    let part = got.part(5..20);
    let back = FetchedEvents::decode_kept(&part.encode_kept()).unwrap();
    assert_eq!(events_of(&back), events_of(&part));
}

#[test]
fn a_damaged_kept_read_is_refused() {
    let store = feed(2, 20);
    let bytes = read(&store, &[0..7, 7..20]).encode_kept();
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        assert!(FetchedEvents::decode_kept(&bad).is_err(), "byte {at} changed");
        assert!(FetchedEvents::decode_kept(&bytes[..at]).is_err(), "cut at {at}");
    }
    // Answers that are not one run of seqs, of another author, or of none.
    let other = feed(3, 20);
    let mut mixed = read(&store, &[0..7, 7..20]);
    Arc::make_mut(&mut mixed.blocks)[1] = answer(&other, 7..20);
    assert!(FetchedEvents::decode_kept(&mixed.encode_kept()).unwrap_err().to_string().contains("one run"));
    let mut gap = read(&store, &[0..7, 8..20]);
    gap.len = 19;
    assert!(FetchedEvents::decode_kept(&gap.encode_kept()).unwrap_err().to_string().contains("one run"));
    let mut past = read(&store, &[0..7]);
    past.len = 8;
    assert!(FetchedEvents::decode_kept(&past.encode_kept()).unwrap_err().to_string().contains("within"));
}

fn job(dir: &KeptReads, got: &FetchedEvents) {
    dir.run(KeptJob::Write(got.head.author, got.clone()));
}

#[test]
fn loading_verifies_each_file_and_deletes_what_it_cannot_keep() {
    let tmp = tempfile::tempdir().unwrap();
    let kept = KeptReads::new(tmp.path());
    let (a, b, c) = (feed(4, 30), feed(5, 30), feed(6, 30));
    let (ra, rb, rc) = (read(&a, &[0..10]), read(&b, &[5..25]), read(&c, &[0..30]));
    for r in [&ra, &rb, &rc] {
        job(&kept, r);
        // Distinct modification times: the load order follows them.
        std::thread::sleep(std::time::Duration::from_millis(15));
    }
    let files = || fs::read_dir(tmp.path().join(KEPT_DIR)).unwrap().count();
    assert_eq!(files(), 3);

    // Everything comes back, verified, into a cache with room.
    let mut cache = FetchCache::new(1 << 20);
    assert_eq!(kept.load(&mut cache, |_| false), Loaded { kept: 3, dropped: 0 });
    let hit = cache.covering(&b.author().unwrap(), &(6..9)).unwrap().1.clone();
    assert_eq!(events_of(&hit), events_of(&rb));

    // A cache with room for one: the one written last stays, the others are deleted.
    let mut small = FetchCache::new(rc.byte_len());
    assert_eq!(kept.load(&mut small, |_| false), Loaded { kept: 1, dropped: 2 });
    assert!(small.covering(&c.author().unwrap(), &(0..30)).is_some());
    assert_eq!(files(), 1);

    // A damaged file, a forked author's, a leftover temporary file and a misnamed copy: all
    // refused and deleted.
    job(&kept, &ra);
    job(&kept, &rb);
    let path = kept.file(&a.author().unwrap(), &(0..10));
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, bytes).unwrap();
    let named_c = kept.file(&c.author().unwrap(), &(0..30));
    fs::copy(&named_c, kept.file(&c.author().unwrap(), &(0..29))).unwrap();
    fs::write(tmp.path().join(KEPT_DIR).join("leftover.tmp"), b"half").unwrap();
    let forked = b.author().unwrap();
    let mut cache = FetchCache::new(1 << 20);
    assert_eq!(kept.load(&mut cache, |x| *x == forked), Loaded { kept: 1, dropped: 4 });
    assert_eq!(files(), 1);
    assert!(cache.covering(&c.author().unwrap(), &(0..30)).is_some());

    // An author the cache forgets (forked) loses its files, one removal per answer the cache
    // held; removing one answer deletes its file.
    job(&kept, &rb);
    let author_c = c.author().unwrap();
    for seqs in cache.forget(&author_c) {
        kept.run(KeptJob::Remove(author_c, seqs));
    }
    assert_eq!(files(), 1);
    kept.run(KeptJob::Remove(forked, 5..25));
    assert_eq!(files(), 0);
}

#[test]
fn the_fuzz_targets_valid_file_is_accepted_and_checked() {
    let valid = valid_file();
    let got = FetchedEvents::decode_kept(&valid).unwrap();
    assert_eq!((got.seqs(), got.len()), (4..12, 8));
    let mut input = vec![0];
    input.extend(&valid);
    fuzz_kept_file(&input);
    fuzz_kept_file(&[1, 0, 0, 0]); // a tampering that changes nothing
    fuzz_kept_file(&[1, 200, 0, 1]);
}

#[test]
fn only_kept_answers_names_are_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let kept = KeptReads::new(dir.path());
    let store = feed(3, 40);
    let author = store.author().unwrap();
    let ours = kept.file(&author, &(0..40));
    kept.write(&ours, b"anything").unwrap();
    let mut tmp = ours.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, b"half").unwrap();
    let others = ["notes.txt", "0a.1-2", &format!("{}.1-", "a".repeat(64)), &format!("{}.x-2", "a".repeat(64))];
    for name in others {
        std::fs::write(kept.dir.join(name), b"not ours").unwrap();
    }
    assert!(is_kept_name(&format!("{}.0-40", "0".repeat(64))));
    assert!(!is_kept_name(&format!("{}.0-40", "A".repeat(64))));
    assert_eq!(kept.remove_all().unwrap(), 1);
    assert!(!ours.exists() && !Path::new(&tmp).exists());
    for name in others {
        assert!(kept.dir.join(name).exists(), "{name}");
    }
    assert_eq!(KeptReads::new(&dir.path().join("absent")).remove_all().unwrap(), 0);
}
