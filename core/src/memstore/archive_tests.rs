//! Tests of store archives: everything a store holds comes back, and no damaged, truncated
//! or reordered archive is ever restored.

use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::archive::*;
use super::*;
use crate::hash::Hash;
use crate::head::AuthorKey;
use crate::page::pack;
use crate::xsp::ForkEvidence;

/// [`read_archive`](super::archive::read_archive), with the streaming check's verdict on the
/// same bytes compared ([`check_archive`]): a refusal whenever it refuses (the same error for
/// an archive whose checksum matches), and the same feeds, heads and forks when it reads.
fn read_archive(bytes: &[u8]) -> Result<MemStore, ArchiveError> {
    let read = super::archive::read_archive(bytes);
    agree(&read, check_archive(bytes));
    read
}

/// [`read_archive_as`](super::archive::read_archive_as), compared as [`read_archive`] is.
fn read_archive_as(bytes: &[u8], key: AuthorKey) -> Result<MemStore, ArchiveError> {
    let stream = ArchiveCheck::start_as(bytes, key.author()).and_then(|c| archive_check::check_records(c, bytes));
    let read = super::archive::read_archive_as(bytes, key);
    agree(&read, stream);
    read
}

fn agree(read: &Result<MemStore, ArchiveError>, stream: Result<CheckedArchive, ArchiveError>) {
    match (read, stream) {
        (Ok(store), Ok(checked)) => {
            // The store has its own feed besides the archive's (empty, for `read_archive_as`).
            let extra = store.feeds().filter(|f| !checked.feeds.iter().any(|c| c.author == f.author));
            assert!(extra.map(|f| store.feed_len(&f.author)).all(|n| n == 0));
            for f in &checked.feeds {
                let a = f.author;
                assert_eq!((f.len, Some(f.root)), (store.feed_len(&a), store.root(&a)), "feed {a}");
                assert_eq!((f.head, f.pending.as_ref()), (store.head(&a), store.pending_head(&a)), "feed {a}");
            }
            let forks: Vec<_> = store.forks().cloned().collect();
            assert_eq!(checked.forks, forks);
        }
        // The streaming check reads a sealed archive's feeds without the password.
        (Err(ArchiveError::PasswordNeeded), _) => {}
        (Err(e), Err(s)) => {
            let content =
                !matches!(e, ArchiveError::Checksum | ArchiveError::Truncated | ArchiveError::TrailingBytes(_));
            if content {
                assert_eq!(&s, e, "the same content error");
            }
        }
        (read, stream) => panic!("read_archive: {:?}, check_archive: {:?}", read.as_ref().err(), stream.err()),
    }
}

fn key(b: u8) -> AuthorKey {
    AuthorKey::from_secret_bytes(&[b; 32])
}

fn config() -> PageConfig {
    PageConfig::new(1024).unwrap()
}

/// A store of author `b` with `n` events of `size`-byte payloads.
fn source(b: u8, n: u64, size: usize) -> MemStore {
    let mut s = MemStore::new(key(b), config());
    let payload = vec![b; size];
    s.append_batch((0..n).map(|i| NewEvent::new(i * 7, &payload).kind(i as u16))).unwrap();
    s
}

/// Imports `src`'s feed into `s` up to `len`, with a head signed at `len`.
fn import_prefix(s: &mut MemStore, src: &MemStore, b: u8, from: u64, len: u64) {
    let a = key(b).author();
    let head = key(b).sign_head(len, src.peaks_at(&a, len).unwrap().root());
    let events: Vec<_> = src.range(&a, from..len).collect();
    s.import_events(&head, &events).unwrap();
}

/// Everything a reader sees of a store, to compare two stores by.
fn snapshot(s: &MemStore) -> impl PartialEq + core::fmt::Debug {
    let mut feeds: Vec<_> = s
        .feeds()
        .map(|f| {
            let a = f.author;
            let events: Vec<Vec<u8>> = s.iter_feed(&a).map(|e| e.encoded().to_vec()).collect();
            (a, events, s.head(&a), s.pending_head(&a).cloned(), s.fork(&a).cloned(), f.forked)
        })
        .collect();
    feeds.sort_by_key(|f| f.0);
    let arrival: Vec<ArrivalRun> = s.arrival_runs().collect();
    (s.author(), s.page_config(), feeds, arrival, s.mmr_root())
}

/// A store with every kind of content: its own feed, feeds imported in pieces between local
/// appends, a feed holding events past its head (a pending head), and fork evidence.
fn rich_store() -> MemStore {
    let mut s = source(1, 30, 90);
    let other = source(2, 40, 150);
    import_prefix(&mut s, &other, 2, 0, 12);
    s.append(NewEvent::new(999, b"between two imports").kind(42)).unwrap();
    import_prefix(&mut s, &other, 2, 12, 40);
    // A feed of 10 events held past a head of 0..10 toward a pending head of 25.
    let third = source(3, 25, 60);
    let c = key(3).author();
    let events: Vec<_> = third.range(&c, 0..10).collect();
    let pages = pack(&config(), events).unwrap();
    let pending = PendingHead { head: third.local_head().unwrap(), proof: third.consistency_proof(&c, 10).unwrap() };
    let state = FeedState { author: c, len: 10, head: None, pending: Some(pending) };
    let mut r = Restore::new(Some(key(1)), config());
    let mut runs: Vec<ArrivalRun> = s.arrival_runs().collect();
    for f in s.feeds().map(|f| f.author).collect::<Vec<_>>() {
        let st = s.feed_state(&f).unwrap();
        let imgs: Vec<Vec<u8>> = (0..s.page_count(&f)).map(|p| s.page(&f, p).unwrap().into_owned()).collect();
        r.feed(&st, imgs.iter().map(|p| &p[..])).unwrap();
    }
    r.feed(&state, pages.iter().map(|p| &p[..])).unwrap();
    runs.push(ArrivalRun { author: c, seqs: 0..10 });
    r.arrival(runs).unwrap();
    let mut s = r.finish();
    // Fork evidence of a fourth author.
    let d = key(4);
    let e = ForkEvidence { first: d.sign_head(3, Hash([1; 32])), second: d.sign_head(3, Hash([2; 32])), proof: None };
    assert!(s.record_fork(&e).unwrap());
    s
}

#[test]
fn an_archive_restores_everything() {
    let s = rich_store();
    let bytes = s.to_archive(true);
    let back = read_archive(&bytes).unwrap();
    assert_eq!(snapshot(&back), snapshot(&s));
    assert!(back.iter_events().eq(s.iter_events()), "the arrival order is kept");
    assert_eq!(back.to_archive(true), bytes, "archives are deterministic");
    // The restored store goes on as the same author.
    let mut back = back;
    assert_eq!(back.append(NewEvent::new(5, b"next")).unwrap(), 31);
    let h = archive_header(&bytes).unwrap();
    assert_eq!((h.config, h.key.map(|k| k.author())), (config(), Some(key(1).author())));
}

#[test]
fn an_archive_without_the_key_restores_as_replicas() {
    let mut s = source(1, 20, 100);
    // The local head lags behind nothing here; make a store whose head is older, too.
    let bytes = s.to_archive(false);
    assert!(archive_header(&bytes).unwrap().key.is_none());
    let back = read_archive(&bytes).unwrap();
    assert_eq!(back.author(), None);
    let a = key(1).author();
    assert_eq!(back.head(&a), s.local_head());
    assert!(back.iter_feed(&a).eq(s.iter_feed(&a)));
    // As the store of another author: the feeds are replicas beside its own.
    let mine = read_archive_as(&bytes, key(9)).unwrap();
    assert_eq!(mine.author(), Some(key(9).author()));
    assert_eq!(mine.feed_len(&a), 20);
    // Not as the store of an author whose feed the archive holds.
    assert!(matches!(
        read_archive_as(&bytes, key(1)),
        Err(ArchiveError::Feed { error: RestoreError::Duplicate(_), .. })
    ));
    // With a key in the archive, the archive's key is used.
    s.append(NewEvent::new(1, b"x")).unwrap();
    let keyed = s.to_archive(true);
    assert_eq!(read_archive_as(&keyed, key(9)).unwrap().author(), Some(a));
}

/// An archive of only the first events of the local feed (what a host has made durable).
#[test]
fn an_archive_can_stop_the_local_feed_early() {
    let s = rich_store();
    let a = key(1).author();
    assert_eq!(s.feed_len(&a), 31);
    for cut in [0u64, 1, 12, 30, 31, 40] {
        for with_key in [true, false] {
            let back = read_archive(&s.to_archive_upto(with_key, cut)).unwrap();
            let held = cut.min(31);
            assert_eq!(back.feed_len(&a), held, "cut {cut}");
            assert!(back.iter_feed(&a).eq(s.range(&a, 0..held)));
            if held > 0 {
                assert_eq!(back.head(&a).unwrap().root, s.peaks_at(&a, held).unwrap().root());
            }
            // The other feeds whole, and the arrival order of what is held kept.
            let b = key(2).author();
            assert!(back.iter_feed(&b).eq(s.iter_feed(&b)));
            let kept: Vec<_> = s.iter_events().filter(|e| e.author() != a || e.seq() < held).collect();
            assert!(back.iter_events().eq(kept));
        }
    }
}

#[test]
fn every_truncation_and_every_flipped_byte_is_refused() {
    let s = source(1, 12, 40);
    let bytes = s.to_archive(true);
    for cut in 0..bytes.len() {
        assert!(read_archive(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= bit;
            assert!(read_archive(&bad).is_err(), "flip {bit:#x} at {i}");
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(read_archive(&longer).unwrap_err(), ArchiveError::TrailingBytes(1));
    assert_eq!(read_archive(b"hello").unwrap_err(), ArchiveError::NotAnArchive);
    assert_eq!(read_archive(b"XFAR").unwrap_err(), ArchiveError::Truncated);
    assert_eq!(read_archive(b"XFARCHIV\x01").unwrap_err(), ArchiveError::Truncated);
    assert_eq!(read_archive(b"XFARCHIX\x01").unwrap_err(), ArchiveError::NotAnArchive);
    let mut v2 = bytes.clone();
    v2[8] = 2;
    assert_eq!(read_archive(&v2).unwrap_err(), ArchiveError::Version(2));
    let mut flags = bytes;
    flags[9] |= 0x10;
    assert_eq!(read_archive(&flags).unwrap_err(), ArchiveError::ReservedFlags(0x11));
}

/// Archives with a valid checksum (written by a forger with [`ArchiveWriter`]) are still
/// checked record by record.
#[test]
fn a_forged_archive_is_refused() {
    let s = source(1, 30, 100);
    let a = key(1).author();
    let state = s.feed_state(&a).unwrap();
    let pages: Vec<Vec<u8>> = (0..s.page_count(&a)).map(|p| s.page(&a, p).unwrap().into_owned()).collect();
    let forge = |f: &dyn Fn(&mut ArchiveWriter, &mut Vec<u8>)| {
        let mut out = Vec::new();
        let mut w = ArchiveWriter::new(config(), None, &mut out);
        f(&mut w, &mut out);
        w.finish(&mut out);
        read_archive(&out)
    };
    let write_feed = |w: &mut ArchiveWriter, out: &mut Vec<u8>, pages: &[Vec<u8>]| {
        w.feed(&state, out);
        for p in pages {
            w.page(p, out);
        }
    };
    assert!(forge(&|w, out| write_feed(w, out, &pages)).is_ok());
    // A page changed (its checksum fixed up would still not match the head's root).
    let mut tampered = pages.clone();
    let n = tampered[1].len();
    tampered[1][n / 2] ^= 1;
    assert!(matches!(
        forge(&|w, out| write_feed(w, out, &tampered)),
        Err(ArchiveError::Feed { error: RestoreError::Page { page: 1, .. }, .. })
    ));
    // A page missing, a page before any feed, a feed after the arrival runs, an unknown tag.
    let mut missing = pages.clone();
    missing.pop();
    assert!(matches!(
        forge(&|w, out| write_feed(w, out, &missing)),
        Err(ArchiveError::Feed { error: RestoreError::StateMismatch { .. }, .. })
    ));
    assert_eq!(forge(&|w, out| w.page(&pages[0], out)).unwrap_err(), ArchiveError::PageWithoutFeed { offset: 14 });
    let runs: Vec<ArrivalRun> = s.arrival_runs().collect();
    assert!(matches!(
        forge(&|w, out| {
            w.arrival(&runs, out);
            write_feed(w, out, &pages);
        }),
        Err(ArchiveError::OutOfOrder { .. })
    ));
    // Arrival runs that do not cover every event.
    let short = [ArrivalRun { author: a, seqs: 0..29 }];
    assert!(matches!(
        forge(&|w, out| {
            write_feed(w, out, &pages);
            w.arrival(&short, out);
        }),
        Err(ArchiveError::Arrival(RestoreError::Arrival))
    ));
    // The same feed twice.
    assert!(matches!(
        forge(&|w, out| {
            write_feed(w, out, &pages);
            write_feed(w, out, &pages);
        }),
        Err(ArchiveError::Feed { error: RestoreError::Duplicate(_), .. })
    ));
    // Fork evidence that is no fork (the same head twice).
    let h = key(2).sign_head(3, Hash([1; 32]));
    let not_a_fork = ForkEvidence { first: h, second: h, proof: None };
    assert!(matches!(forge(&|w, out| w.fork(&not_a_fork, out)), Err(ArchiveError::Fork(_))));
}

/// The streaming check's own limits: pages not packed by the packing rule (what
/// [`Restore`] finds by packing the events again), a record length no writer makes, and a
/// damaged archive named as damaged rather than by the first check its damage fails.
#[test]
fn the_streaming_check_refuses_what_reading_refuses() {
    let s = source(1, 30, 100);
    let a = key(1).author();
    let state = s.feed_state(&a).unwrap();
    let events: Vec<_> = s.iter_feed(&a).collect();
    let archive_of = |pages: &[Vec<u8>]| {
        let mut out = Vec::new();
        let mut w = ArchiveWriter::new(config(), None, &mut out);
        w.feed(&state, &mut out);
        for p in pages {
            w.page(p, &mut out);
        }
        w.finish(&mut out);
        out
    };
    // A first page sealed one event early, the rest packed by the rule after it.
    let mut first = crate::page::PageBuilder::new(config(), a, 0);
    first.push(events[0]).unwrap();
    let mut pages = vec![first.finish()];
    pages.extend(pack(&config(), events[1..].iter().copied()).unwrap());
    let early = Err(ArchiveError::Feed { author: a, error: RestoreError::Packing { page: 0 } });
    assert_eq!(check_archive(&archive_of(&pages)).map(|_| ()), early);
    assert!(read_archive(&archive_of(&pages)).is_err());
    // A page of no event.
    let mut empty = pack(&config(), events.iter().copied()).unwrap();
    empty.insert(1, crate::page::PageBuilder::new(config(), a, empty.len() as u64).finish());
    assert!(check_archive(&archive_of(&empty)).is_err());
    assert!(read_archive(&archive_of(&empty)).is_err());

    let good = s.to_archive(true);
    let check = ArchiveCheck::start(&good).unwrap();
    let huge = [tag::ARRIVAL, 0xff, 0xff, 0xff, 0x7f];
    assert!(matches!(check.body_len(&huge), Err(ArchiveError::RecordTooLong { tag: tag::ARRIVAL, .. })));
    assert_eq!(check.body_len(&[tag::PAGE, 0, 4, 0, 0]), Ok(1024));
    // A record over its bound, with a valid checksum: refused by both readers.
    let mut long = Vec::new();
    let mut w = ArchiveWriter::new(config(), None, &mut long);
    w.feed(&state, &mut long);
    let runs = vec![ArrivalRun { author: a, seqs: 0..1 }; (1 << 20) / 48 + 1];
    w.arrival(&runs, &mut long);
    w.finish(&mut long);
    let too_long = ArchiveError::RecordTooLong { tag: tag::ARRIVAL, len: runs.len() * 48 };
    assert_eq!(check_archive(&long).unwrap_err(), too_long);
    assert_eq!(read_archive(&long).unwrap_err(), too_long);
    // A flipped byte inside a page: the page's own checksum fails first, but the verdict is
    // the archive's checksum, as reading's.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n / 2] ^= 4;
    assert_eq!(check_archive(&bad).unwrap_err(), ArchiveError::Checksum);
    assert_eq!(read_archive(&bad).unwrap_err(), ArchiveError::Checksum);
    let mut cut = good.clone();
    cut.truncate(n - 40);
    assert_eq!(check_archive(&cut).unwrap_err(), ArchiveError::Truncated);
}

fn seal(password: &[u8]) -> KeySeal<'_> {
    KeySeal { password, salt: [1; 16], nonce: [2; 24], params: KdfParams::MIN_FOR_TESTS }
}

/// The sealed key of an archive of author `[5; 32]` (page size 1 KiB, password "correct
/// horse", salt `[1; 16]`, nonce `[2; 24]`, Argon2id 8 KiB / 1 pass / 1 lane), computed by
/// independent implementations: Python's argon2-cffi (the reference C Argon2) and PyNaCl
/// (libsodium's XChaCha20-Poly1305), as `docs/formats.md` lays it out.
const SEALED_KEY_VECTOR: &str = "01080000000100000001000000010101010101010101010101010101010202020202020202020202020202020202020202020202026e7a1cdd29b0b78fd13af4c5598feff4ef2a97166e3ca6f2e4fbfccd80505bf1d7aa60901cbf1249ea52aca43d053e3eeb4a5c39a14ae1a0da7fd25eb5c877d31edaa02d4f66e6498bd9fb2c21cea144";

#[test]
fn a_sealed_key_matches_independent_implementations() {
    let mut s = MemStore::new(key(5), config());
    s.append(NewEvent::new(1, b"mine")).unwrap();
    let bytes = s.to_archive_sealed(&seal(b"correct horse"), u64::MAX).unwrap();
    assert_eq!(&bytes[..10], b"XFARCHIV\x01\x03");
    assert_eq!(hex::encode(&bytes[14..14 + archive_seal::SEALED_KEY_LEN]), SEALED_KEY_VECTOR);
    let header = archive_header(&bytes).unwrap();
    assert_eq!(header.records_at, 14 + archive_seal::SEALED_KEY_LEN);
    assert_eq!(header.sealed.unwrap().open(b"correct horse").unwrap().secret_bytes(), [5; 32]);
}

#[test]
fn a_sealed_archive_restores_as_its_author_only_with_the_password() {
    let s = rich_store();
    let bytes = s.to_archive_sealed(&seal(b"pw"), u64::MAX).unwrap();
    let header = archive_header(&bytes).unwrap();
    assert!(header.key.is_none());
    assert_eq!(header.sealed.as_ref().map(|k| k.author), Some(key(1).author()));
    assert_eq!(read_archive(&bytes).unwrap_err(), ArchiveError::PasswordNeeded);
    assert_eq!(read_archive_as(&bytes, key(9)).unwrap_err(), ArchiveError::PasswordNeeded);
    assert_eq!(read_archive_with_password(&bytes, b"pW").unwrap_err(), ArchiveError::WrongPassword);
    let back = read_archive_with_password(&bytes, b"pw").unwrap();
    let plain = read_archive(&s.to_archive(true)).unwrap();
    assert_eq!(snapshot(&back), snapshot(&plain));
    // Every feed checks out without the password (the local one under a head signed over all
    // its events); cut early, too.
    let checked = check_archive(&bytes).unwrap();
    assert_eq!(checked.feeds.len(), 3);
    for cut in [0u64, 7, 31] {
        let cut_bytes = s.to_archive_sealed(&seal(b"pw"), cut).unwrap();
        let back = read_archive_with_password(&cut_bytes, b"pw").unwrap();
        assert_eq!(back.feed_len(&key(1).author()), cut);
        assert!(check_archive(&cut_bytes).is_ok());
    }
    // The password is unused for an archive with the key in clear, or none.
    assert!(read_archive_with_password(&s.to_archive(true), b"x").is_ok());
    assert_eq!(read_archive_with_password(&s.to_archive(false), b"x").unwrap().author(), None);
    // Every byte of the sealed key's part of the header is authenticated.
    for i in 9..14 + archive_seal::SEALED_KEY_LEN {
        let mut bad = bytes.clone();
        bad[i] ^= 1;
        assert!(read_archive_with_password(&bad, b"pw").is_err(), "flip at {i}");
    }
    // Writers refuse an empty password and parameters readers refuse; readers refuse
    // parameters above their bounds before spending the memory.
    assert_eq!(s.to_archive_sealed(&seal(b""), u64::MAX).unwrap_err(), SealError::EmptyPassword);
    let mut costly = seal(b"pw");
    costly.params.memory_kib = KdfParams::MAX_MEMORY_KIB + 1;
    assert!(matches!(s.to_archive_sealed(&costly, u64::MAX), Err(SealError::Params(_))));
    let mut bad = bytes.clone();
    bad[15..19].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(archive_header(&bad), Err(ArchiveError::KdfParams(_))));
    bad[14] = 9;
    assert_eq!(archive_header(&bad).unwrap_err(), ArchiveError::UnknownKdf(9));
    let mut only_sealed = bytes;
    only_sealed[9] = 2;
    assert_eq!(archive_header(&only_sealed).unwrap_err(), ArchiveError::ReservedFlags(2));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random stores (local appends of random sizes, other feeds imported in random pieces in
    /// between) come back from their archive as they were, with and without the key.
    #[test]
    fn archives_round_trip(
        steps in prop::collection::vec((0u8..3, 1u64..20, 1usize..700), 1..12),
        page in 10u32..13,
    ) {
        let config = PageConfig::new(1 << page).unwrap();
        let mut s = MemStore::new(key(1), config);
        let others: Vec<MemStore> = (2..5u8).map(|b| source(b, 200, 50 + b as usize * 30)).collect();
        for (who, n, size) in steps {
            if who == 0 {
                let payload = vec![7u8; size];
                s.append_batch((0..n).map(|i| NewEvent::new(i, &payload))).unwrap();
            } else {
                let b = who + 1;
                let a = key(b).author();
                let from = s.feed_len(&a);
                let to = (from + n).min(200);
                if to > from {
                    import_prefix(&mut s, &others[who as usize - 1], b, from, to);
                }
            }
        }
        let back = read_archive(&s.to_archive(true)).unwrap();
        prop_assert_eq!(snapshot(&back), snapshot(&s));
        prop_assert!(back.iter_events().eq(s.iter_events()));
        let replica = read_archive(&s.to_archive(false)).unwrap();
        for f in s.feeds() {
            prop_assert!(replica.iter_feed(&f.author).eq(s.iter_feed(&f.author)));
        }
    }

    /// Random bytes after a valid header never panic and are refused.
    #[test]
    fn random_records_are_refused(tail in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = Vec::new();
        let _ = ArchiveWriter::new(config(), None, &mut bytes);
        bytes.extend_from_slice(&tail);
        prop_assert!(read_archive(&bytes).is_err());
    }
}
