//! Files of reads kept on disk (`net.fetched/`, `xaeroflux::net::fuzzing::kept_read`), from
//! arbitrary bytes and tampered with: no panic, and a file accepted is canonical and proves
//! every event it shows. A store reads them back when sync starts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xaeroflux::net::fuzzing::kept_read(data));
