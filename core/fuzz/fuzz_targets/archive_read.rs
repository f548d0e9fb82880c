//! Store archives on arbitrary bytes: no panic; and with the closing checksum made valid
//! (what a forger can do), whatever is accepted is a store that archives again to an
//! archive that reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xaeroflux_core::memstore::archive::ARCHIVE_CHECKSUM_CONTEXT;
use xaeroflux_core::memstore::read_archive;

fuzz_target!(|data: &[u8]| {
    let _ = read_archive(data);
    // The input as header and records, closed by a valid end record.
    let mut forged = data.to_vec();
    forged.push(0);
    forged.extend_from_slice(&32u32.to_le_bytes());
    let sum = blake3::Hasher::new_derive_key(ARCHIVE_CHECKSUM_CONTEXT).update(&forged).finalize();
    forged.extend_from_slice(sum.as_bytes());
    if let Ok(store) = read_archive(&forged) {
        let again = store.to_archive(true);
        let back = read_archive(&again).expect("an archive of a restored store reads back");
        assert!(back.iter_events().eq(store.iter_events()));
        assert_eq!(back.mmr_root(), store.mmr_root());
        assert_eq!(back.author(), store.author());
    }
});
