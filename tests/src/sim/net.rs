//! The simulated network: one-way links with latency that deliver byte chunks in order, and
//! connections (two sessions joined by two links).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use xaeroflux_core::memstore::MemStore;
use xaeroflux_core::xsp::frame::FrameDecoder;
use xaeroflux_core::xsp::{Micros, Session};

/// The store of a simulated peer, shared by all its sessions.
pub type Store = Rc<RefCell<MemStore>>;

/// One direction of a connection: chunks in flight, delivered in order after a latency.
#[derive(Debug, Default)]
pub struct Link {
    queue: VecDeque<(Micros, Vec<u8>)>,
    /// One-way latency.
    pub latency: Micros,
    /// Extra random delay per chunk (order is kept).
    pub jitter: Micros,
    last: Micros,
    /// Bytes sent over the link.
    pub bytes: u64,
    /// Chunks sent over the link.
    pub chunks: u64,
}

impl Link {
    /// A link with this latency and jitter.
    pub fn new(latency: Micros, jitter: Micros) -> Self {
        Link { latency, jitter, ..Link::default() }
    }

    /// Sends `bytes` at `now`, to arrive after the latency plus `extra` (at most the jitter).
    pub fn send(&mut self, now: Micros, bytes: Vec<u8>, extra: Micros) {
        let at = (now + self.latency + extra.min(self.jitter)).max(self.last);
        self.last = at;
        self.bytes += bytes.len() as u64;
        self.chunks += 1;
        self.queue.push_back((at, bytes));
    }

    /// When the next chunk arrives.
    pub fn next_due(&self) -> Option<Micros> {
        self.queue.front().map(|(t, _)| *t)
    }

    /// The next chunk if it has arrived by `now`.
    pub fn pop_due(&mut self, now: Micros) -> Option<Vec<u8>> {
        if self.queue.front().is_some_and(|(t, _)| *t <= now) { self.queue.pop_front().map(|(_, b)| b) } else { None }
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Bytes in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.iter().map(|(_, b)| b.len()).sum()
    }
}

/// A connection between peers `a` (the initiator) and `b`.
pub struct Conn {
    /// Unique id in the run.
    pub id: u64,
    /// The peers: `peers[0]` initiated.
    pub peers: [usize; 2],
    /// The sessions, one per side.
    pub sessions: [Session<Store>; 2],
    /// `links[0]` carries what side 0 sends, `links[1]` what side 1 sends.
    pub links: [Link; 2],
    /// Largest chunk a side writes at once.
    pub max_chunk: usize,
    /// Whether the sides have seen a Synced event.
    pub synced: [bool; 2],
    /// Frame decoders that print what each side sends (XSP_SIM_TRACE).
    pub tracers: [FrameDecoder; 2],
}

impl Conn {
    /// Whether both sessions have ended and nothing is left to deliver.
    pub fn is_finished(&self) -> bool {
        self.sessions.iter().all(|s| s.is_closed() && s.is_drained()) && self.links.iter().all(Link::is_empty)
    }

    /// The side of peer `p`, if it is an end of this connection.
    pub fn side_of(&self, p: usize) -> Option<usize> {
        self.peers.iter().position(|&x| x == p)
    }
}
