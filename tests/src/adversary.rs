//! A man in the middle for XSP: an honest victim session talks to a real session of a
//! malicious peer, and every frame the malicious side sends passes through a tampering
//! function that may change, drop, repeat or add frames. Frames can also be injected raw.
//!
//! The victim's host duties are done as in the simulation (verified batches are stored), so
//! a test can check that nothing of the malicious peer's data reached the store.

use std::cell::RefCell;
use std::rc::Rc;

use xaeroflux_core::memstore::MemStore;
use xaeroflux_core::xsp::frame::{FrameDecoder, Ready, encode_frame};
use xaeroflux_core::xsp::{Closed, Config, ErrorCode, Event, Message, Micros, Role, Session, varint};

/// What the tampering function gets and gives: frames as `type ‖ body` (no length prefix).
pub type Frame = Vec<u8>;

/// Wraps a frame (`type ‖ body`) in its length prefix.
pub fn wire(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint::push(&mut out, frame.len() as u64);
    out.extend_from_slice(frame);
    out
}

/// Encodes a message as a frame (`type ‖ body`).
pub fn frame_of(msg: &Message<'_>) -> Frame {
    let mut out = Vec::new();
    msg.encode(&mut out);
    out
}

/// The whole wire form (length prefix included) of a message.
pub fn wire_of(msg: &Message<'_>) -> Vec<u8> {
    let mut body = Vec::new();
    msg.encode(&mut body);
    let mut out = Vec::new();
    encode_frame(&mut out, body[0], &body[1..]);
    out
}

/// The victim, the malicious peer's session, and what went between them.
pub struct Mitm {
    /// The malicious peer's session (a real implementation whose output is tampered with).
    pub evil: Session<MemStore>,
    /// The honest session under attack.
    pub victim: Session<Rc<RefCell<MemStore>>>,
    /// The victim's store.
    pub store: Rc<RefCell<MemStore>>,
    /// Simulated time.
    pub now: Micros,
    /// Everything the victim reported.
    pub events: Vec<Event>,
    /// Frames the victim sent.
    pub victim_frames: Vec<Frame>,
    /// Frames delivered to the victim (after tampering).
    pub delivered: Vec<Frame>,
    from_evil: FrameDecoder,
    from_victim: FrameDecoder,
    /// Largest `buffered_input` the victim reported.
    pub max_buffered: usize,
}

impl Mitm {
    /// The malicious peer (initiator) holds `evil_store`; the victim (responder) `victim_store`.
    pub fn new(evil_store: MemStore, evil_config: Config, victim_store: MemStore, victim_config: Config) -> Self {
        let store = Rc::new(RefCell::new(victim_store));
        Mitm {
            evil: Session::new(evil_config, Role::Initiator, 0, evil_store),
            victim: Session::new(victim_config, Role::Responder, 0, store.clone()),
            store,
            now: 0,
            events: Vec::new(),
            victim_frames: Vec::new(),
            delivered: Vec::new(),
            from_evil: FrameDecoder::new(),
            from_victim: FrameDecoder::new(),
            max_buffered: 0,
        }
    }

    /// Delivers raw bytes to the victim and handles what it reports.
    pub fn inject(&mut self, bytes: &[u8]) {
        self.victim.handle_input(self.now, bytes);
        self.max_buffered = self.max_buffered.max(self.victim.buffered_input());
        self.victim_events();
    }

    /// Delivers frames to the victim.
    pub fn inject_frames(&mut self, frames: &[Frame]) {
        for f in frames {
            self.delivered.push(f.clone());
            self.inject(&wire(f));
        }
    }

    fn victim_events(&mut self) {
        let mut updated = Vec::new();
        while let Some(ev) = self.victim.poll_event() {
            match &ev {
                Event::Verified(b) if self.store.borrow_mut().store_batch(b).is_ok() => updated.push(b.author()),
                Event::HeadConfirmed(h) => {
                    let _ = self.store.borrow_mut().adopt_head(h);
                }
                Event::Fork(e) => {
                    let _ = self.store.borrow_mut().record_fork(e);
                }
                _ => {}
            }
            self.events.push(ev);
        }
        for a in updated {
            self.victim.feed_updated(&a);
        }
    }

    /// Runs both sides until the victim has closed and sent everything, or nothing moves;
    /// every frame of the malicious side goes through `tamper`, every frame of the victim
    /// through `back` on its way to the malicious side.
    pub fn run(&mut self, mut tamper: impl FnMut(&[u8]) -> Vec<Frame>, mut back: impl FnMut(&[u8]) -> Vec<Frame>) {
        let mut buf = vec![0u8; 1 << 16];
        for _ in 0..100_000 {
            let mut progress = false;
            let mut out = Vec::new();
            while let Some(n) = self.evil.poll_transmit(&mut buf) {
                out.extend_from_slice(&buf[..n]);
            }
            for frame in frames(&mut self.from_evil, &out) {
                progress = true;
                for f in tamper(&frame) {
                    self.delivered.push(f.clone());
                    self.inject(&wire(&f));
                }
            }
            let mut out = Vec::new();
            while let Some(n) = self.victim.poll_transmit(&mut buf) {
                out.extend_from_slice(&buf[..n]);
            }
            for frame in frames(&mut self.from_victim, &out) {
                progress = true;
                self.victim_frames.push(frame.clone());
                for f in back(&frame) {
                    self.evil.handle_input(self.now, &wire(&f));
                }
            }
            while self.evil.poll_event().is_some() {}
            self.victim_events();
            if (self.victim.is_closed() && self.victim.is_drained()) || !progress {
                break;
            }
        }
    }

    /// Runs without tampering.
    pub fn run_clean(&mut self) {
        self.run(|f| vec![f.to_vec()], |f| vec![f.to_vec()]);
    }

    /// Sends whatever the victim still has to send, and records it.
    pub fn drain_victim(&mut self) {
        let mut buf = vec![0u8; 1 << 16];
        let mut out = Vec::new();
        while let Some(n) = self.victim.poll_transmit(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        let fs = frames(&mut self.from_victim, &out);
        self.victim_frames.extend(fs);
    }

    /// How the victim's session ended, if it did.
    pub fn closed(&self) -> Option<&Closed> {
        self.events.iter().find_map(|e| match e {
            Event::Closed(c) => Some(c),
            _ => None,
        })
    }

    /// The code of the ERROR frame the victim sent, if any.
    pub fn error_sent(&self) -> Option<ErrorCode> {
        self.victim_frames.iter().find_map(|f| match Message::decode(f) {
            Ok(Message::Error(e)) => Some(ErrorCode(e.code)),
            _ => None,
        })
    }

    /// Number of verified batches the victim reported.
    pub fn verified(&self) -> usize {
        self.events.iter().filter(|e| matches!(e, Event::Verified(_))).count()
    }

    /// Checks that the victim closed the session itself with `code`, told the peer with an
    /// ERROR frame of that code, and ignores further input.
    pub fn assert_closed_with(&mut self, code: ErrorCode) {
        self.drain_victim();
        let closed = self.closed().cloned().unwrap_or_else(|| panic!("victim did not close; events {:?}", self.events));
        assert_eq!(closed.code, code, "closed with {closed:?}");
        assert!(!closed.by_peer, "the victim closed the session");
        assert!(closed.error.is_some(), "with a precise error");
        assert_eq!(self.error_sent(), Some(code), "and sent ERROR {code}");
        assert!(self.victim.is_closed());
        let events = self.events.len();
        self.inject(&wire_of(&Message::Ping));
        assert_eq!(self.events.len(), events, "nothing is reported after the close");
        assert_eq!(self.victim.buffered_input(), 0, "nothing is buffered after the close");
    }
}

/// Splits `bytes` (continuing earlier input) into complete frames.
pub fn frames(dec: &mut FrameDecoder, bytes: &[u8]) -> Vec<Frame> {
    let mut input = bytes;
    let mut out = Vec::new();
    while let Ok(Some(r)) = dec.poll(&mut input, u64::MAX) {
        out.push(match r {
            Ready::Direct(f) => f.to_vec(),
            Ready::Buffered => {
                let b = dec.take_buffered();
                let v = b.clone();
                dec.recycle(b);
                v
            }
        });
    }
    out
}
