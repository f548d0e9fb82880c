//! The simulated world: peers with their stores, connections, simulated time, and the loop
//! that drives every session the way a host would (quinn-proto's `Pair::drive`, for many).

use std::cell::RefCell;
use std::rc::Rc;

use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::frame::{FrameDecoder, Ready};
use xaeroflux_core::xsp::{Config, ErrorCode, Event, Message, Micros, ProofKind, RangeMode, Role, Session};
use xaeroflux_core::{AuthorId, AuthorKey};

use super::net::{Conn, Link, Store};
use super::rng::Rng;

/// Time steps after which a run is declared stuck (deterministic, unlike a wall clock).
pub const MAX_STEPS: u64 = 2_000_000;

/// One simulated peer.
pub struct Peer {
    /// The local author's key.
    pub key: AuthorKey,
    /// Its store, shared by its sessions.
    pub store: Store,
    /// The session configuration it uses.
    pub config: Config,
}

/// Something a session reported that the test may want to look at later.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The connection.
    pub conn: u64,
    /// The peer that saw it.
    pub peer: usize,
    /// The event (never `Verified`: those go to the store).
    pub event: Event,
}

/// A sparse read or proof request made on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// RANGE_REQUEST.
    Range(RangeMode),
    /// PROOF_REQUEST.
    Proof(ProofKind, u64),
}

/// A request made, to check its answer at the end.
#[derive(Debug, Clone)]
pub struct Asked {
    /// The connection.
    pub conn: u64,
    /// The peer that asked.
    pub peer: usize,
    /// The request id the session gave.
    pub id: u64,
    /// The feed.
    pub author: AuthorId,
    /// What was asked.
    pub what: Request,
}

/// Counters of a run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Connections opened.
    pub connections: u64,
    /// Connections dropped mid-flight.
    pub drops: u64,
    /// Verified batches stored.
    pub batches: u64,
    /// Events new to a store from a batch.
    pub events_stored: u64,
    /// Bytes put on the wire.
    pub wire_bytes: u64,
    /// `Synced` events.
    pub synced: u64,
    /// Sessions that ended normally.
    pub closed_normally: u64,
    /// Time steps taken.
    pub steps: u64,
    /// Answers to range and proof requests.
    pub answers: u64,
    /// Peer restarts (store persisted and rebuilt).
    pub restarts: u64,
    /// Pending heads (interrupted syncs) that survived a restart.
    pub pending_restored: u64,
    /// Feeds wanted again by a session's side while it was still taking the feed's want back
    /// (its UNWANT not yet confirmed): the want waits for UNWANT_DONE, then starts afresh.
    pub rewanted_while_taking_back: u64,
}

impl Stats {
    /// Adds another run's counters.
    pub fn add(&mut self, o: &Stats) {
        self.connections += o.connections;
        self.drops += o.drops;
        self.batches += o.batches;
        self.events_stored += o.events_stored;
        self.wire_bytes += o.wire_bytes;
        self.synced += o.synced;
        self.closed_normally += o.closed_normally;
        self.steps += o.steps;
        self.answers += o.answers;
        self.restarts += o.restarts;
        self.pending_restored += o.pending_restored;
        self.rewanted_while_taking_back += o.rewanted_while_taking_back;
    }
}

/// The world: peers, connections and simulated time.
pub struct World {
    /// Randomness for chunk sizes and jitter.
    pub rng: Rng,
    /// Simulated time.
    pub now: Micros,
    /// The peers.
    pub peers: Vec<Peer>,
    /// Open connections.
    pub conns: Vec<Conn>,
    next_conn: u64,
    /// Everything sessions reported except verified batches.
    pub seen: Vec<Seen>,
    /// What went wrong (an honest run has none).
    pub failures: Vec<String>,
    /// Error codes that are expected to close sessions (adversarial runs).
    pub allowed_errors: Vec<ErrorCode>,
    /// Counters.
    pub stats: Stats,
    /// Print every step (XSP_SIM_TRACE).
    pub trace: bool,
    /// Requests made.
    pub asked: Vec<Asked>,
    buf: Vec<u8>,
}

impl World {
    /// An empty world.
    pub fn new(rng: Rng) -> Self {
        World {
            rng,
            now: 0,
            peers: Vec::new(),
            conns: Vec::new(),
            next_conn: 0,
            seen: Vec::new(),
            failures: Vec::new(),
            allowed_errors: Vec::new(),
            stats: Stats::default(),
            trace: std::env::var_os("XSP_SIM_TRACE").is_some(),
            asked: Vec::new(),
            buf: vec![0; 1 << 16],
        }
    }

    /// Adds a peer with a fresh store; returns its index.
    pub fn add_peer(&mut self, key: AuthorKey, pages: PageConfig, config: Config) -> usize {
        let store = Rc::new(RefCell::new(MemStore::new(key.clone(), pages)));
        self.peers.push(Peer { key, store, config });
        self.peers.len() - 1
    }

    /// The author of peer `p`.
    pub fn author(&self, p: usize) -> AuthorId {
        self.peers[p].key.author()
    }

    fn log(&self, what: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("[{:>10}us] {}", self.now, what());
        }
    }

    /// Opens a connection from `a` to `b`; returns its id.
    pub fn connect(&mut self, a: usize, b: usize, latency: Micros, jitter: Micros, max_chunk: usize) -> u64 {
        let id = self.next_conn;
        self.next_conn += 1;
        let sa = Session::new(self.peers[a].config.clone(), Role::Initiator, self.now, self.peers[a].store.clone());
        let sb = Session::new(self.peers[b].config.clone(), Role::Responder, self.now, self.peers[b].store.clone());
        self.conns.push(Conn {
            id,
            peers: [a, b],
            sessions: [sa, sb],
            links: [Link::new(latency, jitter), Link::new(latency, jitter)],
            max_chunk: max_chunk.max(1),
            synced: [false; 2],
            tracers: [FrameDecoder::new(), FrameDecoder::new()],
        });
        self.stats.connections += 1;
        self.log(|| format!("connect #{id}: {a} -> {b} (latency {latency}us, chunks <= {max_chunk})"));
        id
    }

    /// Drops a connection as a broken transport would: bytes in flight are lost and neither
    /// session hears of it again.
    pub fn drop_conn(&mut self, id: u64) {
        if let Some(i) = self.conns.iter().position(|c| c.id == id) {
            let c = self.conns.remove(i);
            self.stats.drops += 1;
            self.log(|| {
                format!("drop #{id} with {}+{} bytes in flight", c.links[0].in_flight(), c.links[1].in_flight())
            });
        }
    }

    /// Restarts peer `p`: its connections drop, and its store is persisted and rebuilt with
    /// [`Restore`](xaeroflux_core::memstore::Restore).
    pub fn restart(&mut self, p: usize) -> Result<(), String> {
        let ids: Vec<u64> = self.conns.iter().filter(|c| c.side_of(p).is_some()).map(|c| c.id).collect();
        for id in ids {
            self.drop_conn(id);
        }
        let mut rebuilt = super::check::restore(&self.peers[p].store.borrow())?;
        // The choice of feeds is the host's, not the store's data: kept across the restart.
        let excluded: Vec<AuthorId> = self.peers[p].store.borrow().excluded().copied().collect();
        for a in excluded {
            rebuilt.exclude(a);
        }
        self.stats.restarts += 1;
        self.stats.pending_restored +=
            rebuilt.feeds().filter(|f| rebuilt.pending_head(&f.author).is_some()).count() as u64;
        self.log(|| format!("peer {p} restarts with {} events", rebuilt.event_count()));
        *self.peers[p].store.borrow_mut() = rebuilt;
        Ok(())
    }

    /// Whether `a` and `b` have an open connection.
    pub fn connected(&self, a: usize, b: usize) -> bool {
        self.conns.iter().any(|c| c.side_of(a).is_some() && c.side_of(b).is_some() && !c.sessions[0].is_closed())
    }

    /// Appends events to peer `p`'s feed and tells its sessions.
    pub fn append(&mut self, p: usize, events: &[NewEvent<'_>]) {
        let r = self.peers[p].store.borrow_mut().append_batch(events.iter().copied());
        match r {
            Ok(seqs) => {
                self.log(|| format!("peer {p} appends {seqs:?}"));
                let author = self.author(p);
                self.updated(p, &[author]);
            }
            Err(e) => self.failures.push(format!("peer {p}: append failed: {e}")),
        }
    }

    /// Makes a request on side `side` of connection `i` (ignored if the session refuses it,
    /// e.g. too many outstanding).
    pub fn request(&mut self, i: usize, side: usize, author: &AuthorId, what: Request) {
        let c = &mut self.conns[i];
        let r = match what {
            Request::Range(mode) => c.sessions[side].request_range(author, mode),
            Request::Proof(kind, a) => c.sessions[side].request_proof(author, kind, a),
        };
        if let Ok(id) = r {
            let (conn, peer) = (c.id, c.peers[side]);
            self.log(|| format!("#{conn} peer {peer} asks {what:?} of {author} (id {id})"));
            self.asked.push(Asked { conn, peer, id, author: *author, what });
        }
    }

    /// Peer `p` stops (`wanted == false`) or starts again fetching `author`'s feed, and tells
    /// its sessions: a want under way that is no longer wanted is taken back (UNWANT), or,
    /// with a peer that does not offer UNWANT, its session is closed, as a host does.
    pub fn set_wanted(&mut self, p: usize, author: AuthorId, wanted: bool) {
        {
            let mut s = self.peers[p].store.borrow_mut();
            if wanted {
                s.include(&author);
            } else {
                s.exclude(author);
            }
        }
        self.log(|| format!("peer {p} {} {author}", if wanted { "wants" } else { "no longer wants" }));
        for c in &mut self.conns {
            if let Some(side) = c.side_of(p) {
                if wanted && c.sessions[side].is_taking_back(&author) {
                    self.stats.rewanted_while_taking_back += 1;
                }
                if c.sessions[side].wants_changed(&author) {
                    c.sessions[side].close();
                }
            }
        }
    }

    /// Tells every session of peer `p` that these feeds changed.
    pub fn updated(&mut self, p: usize, authors: &[AuthorId]) {
        for c in &mut self.conns {
            if let Some(side) = c.side_of(p) {
                for a in authors {
                    c.sessions[side].feed_updated(a);
                }
            }
        }
    }

    /// Runs until simulated time `until`, delivering bytes and firing timers as they fall due.
    pub fn run_until(&mut self, until: Micros) {
        loop {
            self.settle();
            if !self.failures.is_empty() {
                break;
            }
            match self.next_time() {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.deliver_and_fire();
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs until `done` holds after a settled step, or time `limit`; returns whether it held.
    pub fn run_while(&mut self, limit: Micros, mut done: impl FnMut(&World) -> bool) -> bool {
        loop {
            self.settle();
            if done(self) {
                return true;
            }
            if !self.failures.is_empty() {
                return false;
            }
            match self.next_time() {
                Some(t) if t <= limit => {
                    self.now = self.now.max(t);
                    self.deliver_and_fire();
                }
                _ => {
                    self.now = self.now.max(limit);
                    return done(self);
                }
            }
        }
    }

    /// The next time something happens on its own (a delivery or a timer).
    pub fn next_time(&self) -> Option<Micros> {
        let mut next: Option<Micros> = None;
        let mut take = |t: Option<Micros>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for c in &self.conns {
            for l in &c.links {
                take(l.next_due());
            }
            for s in &c.sessions {
                take(s.poll_timeout());
            }
        }
        next
    }

    fn deliver_and_fire(&mut self) {
        self.stats.steps += 1;
        if self.stats.steps == MAX_STEPS {
            self.failures.push(format!("still busy after {MAX_STEPS} time steps (a livelock?)"));
        }
        if self.trace && self.stats.steps.is_multiple_of(100_000) {
            let state: Vec<_> = self
                .conns
                .iter()
                .map(|c| {
                    (c.id, c.links.each_ref().map(|l| l.in_flight()), c.sessions.each_ref().map(|s| s.poll_timeout()))
                })
                .collect();
            self.log(|| format!("step {}: {state:?}", self.stats.steps));
        }
        let now = self.now;
        for c in &mut self.conns {
            for side in 0..2 {
                // links[side] carries what `side` sent: deliver to the other side.
                while let Some(chunk) = c.links[side].pop_due(now) {
                    c.sessions[1 - side].handle_input(now, &chunk);
                }
            }
            for s in &mut c.sessions {
                if s.poll_timeout().is_some_and(|t| t <= now) {
                    s.handle_timeout(now);
                }
            }
        }
    }

    /// Handles events and transmits until nothing moves at the current time.
    pub fn settle(&mut self) {
        loop {
            let mut progress = false;
            for i in 0..self.conns.len() {
                for side in 0..2 {
                    progress |= self.handle_events(i, side);
                }
            }
            for i in 0..self.conns.len() {
                for side in 0..2 {
                    progress |= self.transmit(i, side);
                }
            }
            if !progress {
                break;
            }
        }
        self.conns.retain(|c| !c.is_finished());
    }

    fn transmit(&mut self, i: usize, side: usize) -> bool {
        let mut any = false;
        loop {
            let max = self.conns[i].max_chunk.min(self.buf.len());
            let n = self.rng.range(1, max as u64 + 1) as usize;
            let extra = self.rng.next_u64();
            let c = &mut self.conns[i];
            let Some(k) = c.sessions[side].poll_transmit(&mut self.buf[..n]) else { break };
            let jitter = if c.links[side].jitter > 0 { extra % (c.links[side].jitter + 1) } else { 0 };
            if self.trace {
                let (id, now) = (c.id, self.now);
                let mut input = &self.buf[..k];
                while let Ok(Some(r)) = c.tracers[side].poll(&mut input, u64::MAX) {
                    let frame = match r {
                        Ready::Direct(f) => f.to_vec(),
                        Ready::Buffered => c.tracers[side].take_buffered(),
                    };
                    let msg = Message::decode(&frame);
                    let text = format!("{msg:?}");
                    eprintln!(
                        "[{now:>10}us] #{id} side {side} sends {} bytes: {}",
                        frame.len(),
                        text.chars().take(300).collect::<String>()
                    );
                }
            }
            c.links[side].send(self.now, self.buf[..k].to_vec(), jitter);
            self.stats.wire_bytes += k as u64;
            any = true;
        }
        any
    }

    fn handle_events(&mut self, i: usize, side: usize) -> bool {
        let p = self.conns[i].peers[side];
        let id = self.conns[i].id;
        let store = self.peers[p].store.clone();
        let mut updated: Vec<AuthorId> = Vec::new();
        let mut any = false;
        while let Some(ev) = self.conns[i].sessions[side].poll_event() {
            any = true;
            match ev {
                Event::Verified(b) => {
                    self.stats.batches += 1;
                    let r = store.borrow_mut().store_batch(&b);
                    match r {
                        Ok(stored) => {
                            self.stats.events_stored += stored.seqs.end - stored.seqs.start;
                            if !stored.seqs.is_empty() || stored.head.is_some() {
                                updated.push(b.author());
                            }
                            self.log(|| {
                                format!(
                                    "#{id} peer {p} stores {:?} of {} (batch {}..{} to head {}{})",
                                    stored.seqs,
                                    b.author(),
                                    b.first_seq,
                                    b.end_seq(),
                                    b.head.length,
                                    if stored.head.is_some() { ", head adopted" } else { "" }
                                )
                            });
                        }
                        Err(e) => self.failures.push(format!(
                            "#{id} peer {p}: verified batch {}..{} of {} refused by the store: {e}",
                            b.first_seq,
                            b.end_seq(),
                            b.author()
                        )),
                    }
                }
                Event::HeadConfirmed(h) => {
                    let r = store.borrow_mut().adopt_head(&h);
                    match r {
                        Ok(true) => updated.push(h.author),
                        Ok(false) => {}
                        Err(e) => self.failures.push(format!("#{id} peer {p}: confirmed head refused: {e}")),
                    }
                }
                Event::Fork(e) => {
                    if let Err(err) = store.borrow_mut().record_fork(&e) {
                        self.failures.push(format!("#{id} peer {p}: fork evidence from the session refused: {err}"));
                    }
                    self.seen.push(Seen { conn: id, peer: p, event: Event::Fork(e) });
                }
                Event::Synced => {
                    self.stats.synced += 1;
                    self.conns[i].synced[side] = true;
                    self.seen.push(Seen { conn: id, peer: p, event: Event::Synced });
                }
                Event::Closed(c) => {
                    self.log(|| format!("#{id} peer {p} closed: {c:?}"));
                    if c.code == ErrorCode::NONE {
                        self.stats.closed_normally += 1;
                    } else if !self.allowed_errors.contains(&c.code) {
                        self.failures.push(format!("#{id} peer {p}: session closed: {c:?}"));
                    }
                    self.seen.push(Seen { conn: id, peer: p, event: Event::Closed(c) });
                }
                other => {
                    if matches!(other, Event::Range(_) | Event::Proof(_) | Event::RequestFailed { .. }) {
                        self.stats.answers += 1;
                    }
                    self.seen.push(Seen { conn: id, peer: p, event: other })
                }
            }
        }
        if !updated.is_empty() {
            updated.sort();
            updated.dedup();
            self.updated(p, &updated);
        }
        any
    }
}
