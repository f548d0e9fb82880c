//! Event (and signed head) decoding on arbitrary bytes: no panic, and whatever is
//! accepted is consistent with the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xaeroflux_core::event::MAX_PAYLOAD_LEN;
use xaeroflux_core::{Event, EventRef, SignedHead};

fuzz_target!(|data: &[u8]| {
    // Exact parsing: accepted bytes are exactly one event, and re-encode to themselves.
    if let Ok(ev) = EventRef::parse(data) {
        assert_eq!(ev.encoded(), data);
        assert_eq!(ev.payload().len(), ev.header().payload_len() as usize);
        let owned = Event::try_new(ev.author(), ev.seq(), ev.timestamp_us(), ev.kind(), ev.flags(), ev.payload())
            .expect("an accepted event re-encodes");
        assert_eq!(owned.encoded(), data);
        assert_eq!(owned.leaf_hash(), ev.leaf_hash());
    }
    // Events back to back, as a reader of a segment or a page walks them, with a limit
    // taken from the input.
    let limit = data.get(..4).map_or(MAX_PAYLOAD_LEN, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let mut rest = data;
    while let Ok((ev, used)) = EventRef::parse_prefix(rest, limit) {
        assert!(used <= rest.len());
        assert!(ev.header().payload_len() <= limit.min(MAX_PAYLOAD_LEN));
        assert_eq!(ev.encoded(), &rest[..used]);
        rest = &rest[used..];
    }
    let _ = Event::from_bytes(data.to_vec());
    if let Ok(head) = SignedHead::decode(data) {
        assert_eq!(&head.encode()[..], data);
        let _ = head.verify();
    }
});
