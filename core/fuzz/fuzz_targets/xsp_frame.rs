//! XSP framing and message decoding on arbitrary bytes: no panic; the decoder never holds
//! more than the limit; every frame that decodes re-encodes to a message that decodes the
//! same; compact events decode without panicking.
//!
//! The first input byte sets the chunk size the stream is cut into and the frame limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xaeroflux_core::xsp::Message;
use xaeroflux_core::xsp::frame::{FrameDecoder, Ready};
use xaeroflux_core::xsp::wire_page::CompactDecoder;

fn check_frame(frame: &[u8]) {
    if let Ok(m) = Message::decode(frame) {
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(Message::decode(&out).as_ref(), Ok(&m), "re-encoding is stable");
    }
    // Treat the body as compact events too (the PAGES and RANGE_RESPONSE sections).
    let mut dec = CompactDecoder::new(frame.get(1..).unwrap_or_default());
    for _ in 0..64 {
        if dec.next_event(1 << 20).is_err() {
            break;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let chunk = usize::from(mode & 0x1f) + 1;
    let limit = 16u64 << (mode >> 5);
    let mut dec = FrameDecoder::new();
    for piece in rest.chunks(chunk) {
        let mut input = piece;
        loop {
            match dec.poll(&mut input, limit) {
                Ok(Some(Ready::Direct(f))) => {
                    assert!(f.len() as u64 <= limit);
                    check_frame(f);
                }
                Ok(Some(Ready::Buffered)) => {
                    let b = dec.take_buffered();
                    assert!(b.len() as u64 <= limit);
                    check_frame(&b);
                    dec.recycle(b);
                }
                Ok(None) => break,
                Err(_) => return,
            }
            assert!(dec.buffered() as u64 <= limit.max(4096));
        }
    }
});
