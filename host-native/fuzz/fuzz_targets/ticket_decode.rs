//! Tickets from arbitrary bytes and text (`xaeroflux::net::fuzzing::ticket`): no panic, and an
//! accepted ticket is canonical. Tickets come from other people (`xf join`, `Core::join_ticket`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| xaeroflux::net::fuzzing::ticket(data));
