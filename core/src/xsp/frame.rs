//! Framing: `len: varint ‖ type: u8 ‖ body`, where `len` counts the type byte and the body.
//!
//! [`FrameDecoder`] reassembles frames from a byte stream cut anywhere. A frame that arrives
//! whole inside one input slice is handed out in place (no copy); otherwise its bytes are
//! collected in a buffer that grows as they arrive and never past the frame's length, which
//! was checked against the limit before anything was buffered.
//!
//! ```
//! use xaeroflux_core::xsp::frame::{FrameDecoder, Ready, encode_frame};
//!
//! let mut wire = Vec::new();
//! encode_frame(&mut wire, 0x0c, b"");
//! encode_frame(&mut wire, 0x0e, b"\x00hello");
//! let mut dec = FrameDecoder::new();
//! let mut input = &wire[..];
//! let Ok(Some(Ready::Direct(f))) = dec.poll(&mut input, 100) else { panic!() };
//! assert_eq!(f, &[0x0c]);
//! let Ok(Some(Ready::Direct(f))) = dec.poll(&mut input, 100) else { panic!() };
//! assert_eq!(f, b"\x0e\x00hello");
//! assert!(matches!(dec.poll(&mut input, 100), Ok(None)));
//! ```

use alloc::vec::Vec;
use core::fmt;

use super::varint::{self, MAX_VARINT_LEN, VarintError};

/// The largest first frame (it must be a HELLO).
pub const HELLO_MAX: u64 = 4096;
/// Every implementation accepts frames at least this long; a sender may use this size
/// before it has read the peer's HELLO.
pub const MIN_FRAME: u64 = 64 * 1024;
/// Buffers above this are released after use instead of kept for the next frame.
const KEEP_BUFFER: usize = 256 * 1024;

/// Why the byte stream is not a sequence of acceptable frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix is not a valid varint.
    BadLength(VarintError),
    /// A frame of length 0 (it must hold at least its type byte).
    Empty,
    /// A frame longer than the limit in force.
    TooLarge {
        /// The declared length.
        len: u64,
        /// The limit.
        limit: u64,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength(e) => write!(f, "bad frame length: {e}"),
            Self::Empty => f.write_str("frame of length 0"),
            Self::TooLarge { len, limit } => write!(f, "frame of {len} bytes is over the {limit}-byte limit"),
        }
    }
}

impl core::error::Error for FrameError {}

/// A complete frame (type byte first).
#[derive(Debug, PartialEq, Eq)]
pub enum Ready<'a> {
    /// The frame, borrowed from the input slice.
    Direct(&'a [u8]),
    /// The frame was reassembled: take it with [`FrameDecoder::take_buffered`].
    Buffered,
}

/// Streaming frame reassembly.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    len_bytes: [u8; MAX_VARINT_LEN],
    len_n: usize,
    /// Declared length of the frame being buffered (0: reading the length).
    body_len: usize,
    buf: Vec<u8>,
}

impl FrameDecoder {
    /// A decoder at a frame boundary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the decoder is between frames (nothing partial buffered).
    pub fn is_idle(&self) -> bool {
        self.len_n == 0 && self.body_len == 0
    }

    /// Bytes currently held for a partial frame.
    pub fn buffered(&self) -> usize {
        self.buf.capacity().max(self.len_n)
    }

    /// Consumes bytes from `input` until a frame is complete (returned) or `input` is
    /// empty (`Ok(None)`). `limit` is the largest acceptable frame length.
    pub fn poll<'a>(&mut self, input: &mut &'a [u8], limit: u64) -> Result<Option<Ready<'a>>, FrameError> {
        if self.body_len == 0 {
            // Reading the length prefix, possibly across calls.
            loop {
                let Some((&b, rest)) = input.split_first() else { return Ok(None) };
                *input = rest;
                self.len_bytes[self.len_n] = b;
                self.len_n += 1;
                if b & 0x80 == 0 {
                    break;
                }
                if self.len_n == MAX_VARINT_LEN {
                    return Err(FrameError::BadLength(VarintError::Overflow));
                }
            }
            let (len, _) = varint::decode(&self.len_bytes[..self.len_n]).map_err(FrameError::BadLength)?;
            self.len_n = 0;
            if len == 0 {
                return Err(FrameError::Empty);
            }
            if len > limit {
                return Err(FrameError::TooLarge { len, limit });
            }
            let len = usize::try_from(len).map_err(|_| FrameError::TooLarge { len, limit })?;
            if self.buf.is_empty() && input.len() >= len {
                let (frame, rest) = input.split_at(len);
                *input = rest;
                return Ok(Some(Ready::Direct(frame)));
            }
            self.body_len = len;
        }
        let need = self.body_len - self.buf.len();
        let take = need.min(input.len());
        if self.buf.capacity() < self.buf.len() + take {
            let target = (self.buf.capacity() * 2).max(self.buf.len() + take).max(4096).min(self.body_len);
            self.buf.reserve_exact(target - self.buf.len());
        }
        let (head, rest) = input.split_at(take);
        self.buf.extend_from_slice(head);
        *input = rest;
        if self.buf.len() == self.body_len {
            self.body_len = 0;
            return Ok(Some(Ready::Buffered));
        }
        Ok(None)
    }

    /// The frame reassembled by the last [`poll`](Self::poll) that returned
    /// [`Ready::Buffered`]. Give the buffer back with [`recycle`](Self::recycle).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.buf)
    }

    /// Returns a buffer from [`take_buffered`](Self::take_buffered) for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() <= KEEP_BUFFER && self.buf.capacity() == 0 {
            buf.clear();
            self.buf = buf;
        }
    }
}

/// Appends one frame (`len ‖ ty ‖ body`) to `out`.
pub fn encode_frame(out: &mut Vec<u8>, ty: u8, body: &[u8]) {
    varint::push(out, body.len() as u64 + 1);
    out.push(ty);
    out.extend_from_slice(body);
}

/// A frame under construction: `MAX_VARINT_LEN` bytes of room for the length prefix, then
/// the type and body; [`finish`](Self::finish) writes the prefix.
#[derive(Debug, Default)]
pub(crate) struct FrameBuf {
    pub(crate) buf: Vec<u8>,
    start: usize,
}

impl FrameBuf {
    /// Length of the frame so far (type + body).
    pub(crate) fn frame_len(&self) -> usize {
        self.buf.len() - MAX_VARINT_LEN
    }

    /// Writes the prefix; the frame is `self.bytes()`.
    pub(crate) fn finish(&mut self) {
        let len = self.frame_len() as u64;
        let n = varint::len(len);
        self.start = MAX_VARINT_LEN - n;
        varint::encode(len, &mut self.buf[self.start..MAX_VARINT_LEN]);
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Forgets the frame (keeps the allocation).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames_of(chunks: &[&[u8]], limit: u64) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut dec = FrameDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            let mut input = *c;
            while let Some(r) = dec.poll(&mut input, limit)? {
                match r {
                    Ready::Direct(f) => out.push(f.to_vec()),
                    Ready::Buffered => {
                        let b = dec.take_buffered();
                        out.push(b.clone());
                        dec.recycle(b);
                    }
                }
            }
        }
        Ok(out)
    }

    proptest! {
        #[test]
        fn reassembles_any_cut(frames in proptest::collection::vec(
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..8),
            cuts in proptest::collection::vec(1usize..64, 1..50)) {
            let mut wire = Vec::new();
            for (t, b) in &frames {
                encode_frame(&mut wire, *t, b);
            }
            let mut chunks = Vec::new();
            let mut rest = &wire[..];
            for c in cuts.iter().cycle() {
                if rest.is_empty() { break; }
                let n = (*c).min(rest.len());
                chunks.push(&rest[..n]);
                rest = &rest[n..];
            }
            let got = frames_of(&chunks, 1000).unwrap();
            prop_assert_eq!(got.len(), frames.len());
            for (g, (t, b)) in got.iter().zip(&frames) {
                prop_assert_eq!(g[0], *t);
                prop_assert_eq!(&g[1..], &b[..]);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..2000),
                                                       cut in 1usize..100) {
            let mut dec = FrameDecoder::new();
            for chunk in bytes.chunks(cut) {
                let mut input = chunk;
                loop {
                    match dec.poll(&mut input, 512) {
                        Ok(Some(Ready::Buffered)) => { let b = dec.take_buffered(); dec.recycle(b); }
                        Ok(Some(Ready::Direct(f))) => prop_assert!(f.len() <= 512),
                        Ok(None) => break,
                        Err(_) => return Ok(()),
                    }
                    prop_assert!(dec.buffered() <= 512);
                }
            }
        }
    }

    #[test]
    fn limits_and_bad_lengths() {
        let mut wire = Vec::new();
        encode_frame(&mut wire, 1, &[0; 100]);
        assert_eq!(frames_of(&[&wire], 50), Err(FrameError::TooLarge { len: 101, limit: 50 }));
        assert_eq!(frames_of(&[&[0]], 50), Err(FrameError::Empty));
        assert_eq!(frames_of(&[&[0x80, 0x00]], 50), Err(FrameError::BadLength(VarintError::Overlong)));
        assert_eq!(frames_of(&[&[0xff; 11]], 50), Err(FrameError::BadLength(VarintError::Overflow)));
        // A huge declared length is refused before any body byte is buffered.
        let mut dec = FrameDecoder::new();
        let mut input = &[0xff, 0xff, 0xff, 0x7f, 1, 2, 3][..];
        assert!(matches!(dec.poll(&mut input, 1 << 20), Err(FrameError::TooLarge { .. })));
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn frame_buf_prefix() {
        let mut f = FrameBuf::default();
        f.buf.resize(MAX_VARINT_LEN, 0);
        f.buf.push(4);
        f.buf.extend_from_slice(&[9; 200]);
        f.finish();
        let mut expect = Vec::new();
        encode_frame(&mut expect, 4, &[9; 200]);
        assert_eq!(f.bytes(), &expect[..]);
    }
}
