//! Gossip announcements from arbitrary bytes, as heard and behind a valid signature
//! (`xaeroflux::net::fuzzing::announcement`): no panic, and an accepted announcement is
//! canonical. Announcements come from any node in a space.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xaeroflux::net::fuzzing::announcement(data));
