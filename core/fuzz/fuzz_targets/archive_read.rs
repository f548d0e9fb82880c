//! Store archives on arbitrary bytes: no panic; and with the closing checksum made valid
//! (what a forger can do), whatever is accepted is a store that archives again to an
//! archive that reads back the same. The streaming check (`check_archive`) accepts exactly
//! what `read_archive` accepts, with the same feeds (but for a sealed key, which only it needs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use xaeroflux_core::memstore::archive::ARCHIVE_CHECKSUM_CONTEXT;
use xaeroflux_core::memstore::{ArchiveError, check_archive, read_archive};

fuzz_target!(|data: &[u8]| {
    agree(data);
    // The input as header and records, closed by a valid end record.
    let mut forged = data.to_vec();
    forged.push(0);
    forged.extend_from_slice(&32u32.to_le_bytes());
    let sum = blake3::Hasher::new_derive_key(ARCHIVE_CHECKSUM_CONTEXT).update(&forged).finalize();
    forged.extend_from_slice(sum.as_bytes());
    agree(&forged);
    if let Ok(store) = read_archive(&forged) {
        let again = store.to_archive(true);
        let back = read_archive(&again).expect("an archive of a restored store reads back");
        assert!(back.iter_events().eq(store.iter_events()));
        assert_eq!(back.mmr_root(), store.mmr_root());
        assert_eq!(back.author(), store.author());
    }
});

/// `check_archive` and `read_archive` give the same verdict, and the same feeds.
fn agree(bytes: &[u8]) {
    let read = read_archive(bytes);
    let checked = check_archive(bytes);
    if read.as_ref().err() == Some(&ArchiveError::PasswordNeeded) {
        // A sealed key: the streaming check reads the feeds without the password.
        return;
    }
    assert_eq!(read.is_ok(), checked.is_ok(), "{:?} / {:?}", read.as_ref().err(), checked.as_ref().err());
    let (Ok(store), Ok(checked)) = (read, checked) else { return };
    for f in &checked.feeds {
        assert_eq!((store.feed_len(&f.author), store.root(&f.author)), (f.len, Some(f.root)));
        assert_eq!(store.head(&f.author), f.head);
    }
}
