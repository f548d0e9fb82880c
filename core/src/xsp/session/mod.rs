//! The sans-IO session state machine. See the [module docs](super) for the call rules.

mod heads;
mod output;
mod pages;
mod requests;
mod serve;
mod unwant;

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::ToString;
use alloc::vec::Vec;

use super::codec::DecodeError;
use super::config::{Capabilities, Config, MIN_FEEDS, MIN_WINDOW_BYTES, Role, VERSION};
use super::error::{ErrorCode, RequestError, SessionError};
use super::event::{Closed, Event};
use super::fork::ForkEvidence;
use super::frame::{FrameBuf, FrameDecoder, HELLO_MAX, MIN_FRAME, Ready};
use super::message::{Hello, MAX_REASON, Message, ProofKind, RangeMode};
use super::source::FeedSource;
use crate::head::{AuthorId, SignedHead};
use crate::mmr::MmrPeaks;
use crate::page::PageConfig;

/// Microseconds on the host's monotonic clock (any epoch; only differences matter).
pub type Micros = u64;

/// What we know about the peer after its HELLO.
#[derive(Debug, Clone)]
struct Peer {
    hello: Hello,
    caps: Capabilities,
    pages: PageConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    /// An ERROR frame is queued; nothing else is sent or read.
    Closing,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WantState {
    Idle,
    Queued,
    /// Waiting for the consistency proof from our pending head to the peer's head (a
    /// [`OurRequest::ForkCheck`]) before the want is queued.
    Checking,
    Active {
        live: bool,
    },
    /// The source refused the want for now ([`FeedSource::claim_want`]: another session of
    /// the host is fetching the feed); tried again on the next `feed_updated` or head.
    Deferred,
}

/// Where the stream of a feed's pages stands (receiver side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageTrack {
    page: u64,
    /// Events of `page` received or held before the stream.
    events: u64,
    /// Bytes of those events, if the page was seen from its start.
    used: Option<u64>,
}

/// A feed the peer announced.
#[derive(Debug, Clone)]
struct RemoteFeed {
    head: SignedHead,
    wanted: bool,
    forked: bool,
    /// Our verified length as far as this session knows.
    have: u64,
    want: WantState,
    /// Verified peaks at `have` while a want is active.
    peaks: Option<MmrPeaks>,
    track: Option<PageTrack>,
    /// An UNWANT of the feed was queued or sent and its UNWANT_DONE has not come: no WANT
    /// of it goes out meanwhile.
    unwanting: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Serving {
    live: bool,
    next: u64,
}

/// A feed we announced.
#[derive(Debug, Clone)]
struct LocalFeed {
    announced: SignedHead,
    serving: Option<Serving>,
    queued: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OurRequest {
    Range {
        feed: u32,
        mode: RangeMode,
    },
    Proof {
        feed: u32,
        kind: ProofKind,
        a: u64,
    },
    /// The session's own consistency request from the length `a` of our pending head, made
    /// before wanting a longer head of the peer: the events held past our complete head were
    /// verified against that pending head, and only the peer can prove whether its head
    /// extends it. Answered like a `Proof`, but never reported to the application.
    ForkCheck {
        feed: u32,
        a: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeerRequest {
    Range { id: u64, feed: u32, mode: RangeMode },
    Proof { id: u64, feed: u32, kind: ProofKind, a: u64 },
}

/// One XSP session over one byte stream.
///
/// See the [module docs](super) for how to drive it.
pub struct Session<S: FeedSource> {
    source: S,
    config: Config,
    role: Role,
    pages: PageConfig,
    now: Micros,
    phase: Phase,
    rx: FrameDecoder,
    peer: Option<Peer>,
    hello_sent: bool,
    last_rx: Micros,
    last_tx: Micros,
    // Our feeds.
    local: Vec<LocalFeed>,
    local_idx: BTreeMap<AuthorId, u32>,
    announce: VecDeque<AuthorId>,
    announce_set: BTreeSet<AuthorId>,
    heads_sent: u64,
    serve: VecDeque<u32>,
    tx_out_pages: u64,
    tx_out_bytes: u64,
    peer_requests: VecDeque<PeerRequest>,
    // The peer's feeds.
    remote: Vec<RemoteFeed>,
    remote_idx: BTreeMap<AuthorId, u32>,
    remote_authors: Vec<AuthorId>,
    local_authors: Vec<AuthorId>,
    heads_seen: u64,
    want_queue: VecDeque<u32>,
    /// Remote feeds to send UNWANT for.
    unwant_out: VecDeque<u32>,
    /// Local feeds to send UNWANT_DONE for.
    unwant_done_out: VecDeque<u32>,
    rx_out_pages: u64,
    rx_out_bytes: u64,
    credit_due: (u64, u64),
    requests: BTreeMap<u64, OurRequest>,
    request_queue: VecDeque<u64>,
    next_request: u64,
    // Control.
    pong_due: bool,
    ping_due: bool,
    forks_out: VecDeque<ForkEvidence>,
    forked: BTreeSet<AuthorId>,
    app_out: VecDeque<(u64, Vec<u8>)>,
    app_bytes: usize,
    sync_sent: Option<(u64, u64)>,
    peer_done: Option<(u64, u64)>,
    caught_up: bool,
    sync_dirty: bool,
    synced: bool,
    close_frame: Option<(ErrorCode, u64, Vec<u8>)>,
    events: VecDeque<Event>,
    chatter: u64,
    chatter_at: Micros,
    out: FrameBuf,
    out_pos: usize,
    scratch: Vec<u8>,
    page_tmp: Vec<u8>,
}

impl<S: FeedSource> core::fmt::Debug for Session<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role)
            .field("phase", &self.phase)
            .field("local_feeds", &self.local.len())
            .field("remote_feeds", &self.remote.len())
            .field("synced", &self.synced)
            .finish_non_exhaustive()
    }
}

const CHATTER_UNIT: u64 = 1_000_000;

impl<S: FeedSource> Session<S> {
    /// A session at time `now`, reading the local store through `source`. It sends HELLO
    /// and its heads as soon as the host polls for bytes.
    pub fn new(config: Config, role: Role, now: Micros, source: S) -> Self {
        // The config's page size was checked when it was set.
        let pages = PageConfig::new(config.page_size).unwrap_or_default();
        let chatter = u64::from(config.chatter_burst) * CHATTER_UNIT;
        let mut s = Session {
            source,
            role,
            pages,
            now,
            phase: Phase::Open,
            rx: FrameDecoder::new(),
            peer: None,
            hello_sent: false,
            last_rx: now,
            last_tx: now,
            local: Vec::new(),
            local_idx: BTreeMap::new(),
            announce: VecDeque::new(),
            announce_set: BTreeSet::new(),
            heads_sent: 0,
            serve: VecDeque::new(),
            tx_out_pages: 0,
            tx_out_bytes: 0,
            peer_requests: VecDeque::new(),
            remote: Vec::new(),
            remote_idx: BTreeMap::new(),
            remote_authors: Vec::new(),
            local_authors: Vec::new(),
            heads_seen: 0,
            want_queue: VecDeque::new(),
            unwant_out: VecDeque::new(),
            unwant_done_out: VecDeque::new(),
            rx_out_pages: 0,
            rx_out_bytes: 0,
            credit_due: (0, 0),
            requests: BTreeMap::new(),
            request_queue: VecDeque::new(),
            next_request: 0,
            pong_due: false,
            ping_due: false,
            forks_out: VecDeque::new(),
            forked: BTreeSet::new(),
            app_out: VecDeque::new(),
            app_bytes: 0,
            sync_sent: None,
            peer_done: None,
            caught_up: false,
            sync_dirty: true,
            synced: false,
            close_frame: None,
            events: VecDeque::new(),
            chatter,
            chatter_at: now,
            out: FrameBuf::default(),
            out_pos: 0,
            scratch: Vec::new(),
            page_tmp: Vec::new(),
            config,
        };
        if s.config.capabilities.contains(Capabilities::SYNC) {
            let mut authors = Vec::new();
            s.source.for_each_head(&mut |h| authors.push(h.author));
            for a in authors {
                s.queue_announce(a);
            }
        }
        s
    }

    /// The local store handle.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Mutable access to the local store handle.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the session has ended (an ERROR frame may still be waiting in
    /// [`poll_transmit`](Self::poll_transmit)).
    pub fn is_closed(&self) -> bool {
        self.phase != Phase::Open
    }

    /// Whether everything has been sent after closing: the host may drop the stream.
    pub fn is_drained(&self) -> bool {
        self.phase == Phase::Closed && self.out_pos >= self.out.bytes().len()
    }

    /// Whether both sides currently hold everything the other announced.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Capabilities in force, once the peer's HELLO arrived.
    pub fn capabilities(&self) -> Option<Capabilities> {
        self.peer.as_ref().map(|p| p.caps)
    }

    /// Bytes held for a partial input frame (bounded by the announced `max_frame`).
    pub fn buffered_input(&self) -> usize {
        self.rx.buffered()
    }

    /// Feeds the peer announced.
    pub fn remote_heads(&self) -> impl Iterator<Item = &SignedHead> + '_ {
        self.remote.iter().map(|r| &r.head)
    }

    /// The peer's latest head of `author`'s feed, if it announced the feed.
    pub fn remote_head_of(&self, author: &AuthorId) -> Option<&SignedHead> {
        self.remote_idx.get(author).and_then(|&i| self.remote.get(i as usize)).map(|r| &r.head)
    }

    /// Whether this side took back its want of `author`'s feed (UNWANT) and the peer has not
    /// confirmed yet (UNWANT_DONE): pages of the feed sent before the peer read the UNWANT may
    /// still arrive (verified and reported as usual), and no new want of the feed is sent
    /// until the confirmation, even if the host wants the feed again meanwhile.
    pub fn is_taking_back(&self, author: &AuthorId) -> bool {
        self.remote_idx.get(author).and_then(|&i| self.remote.get(i as usize)).is_some_and(|r| r.unwanting)
    }

    /// Feeds this side announced.
    pub fn announced_heads(&self) -> impl Iterator<Item = &SignedHead> + '_ {
        self.local.iter().map(|l| &l.announced)
    }

    /// Feeds bytes received from the peer, at time `now`.
    ///
    /// Any number of bytes, cut anywhere. Processes every complete frame; afterwards take
    /// the events with [`poll_event`](Self::poll_event) and the output with
    /// [`poll_transmit`](Self::poll_transmit). Bytes after the session closed are ignored.
    pub fn handle_input(&mut self, now: Micros, bytes: &[u8]) {
        self.advance(now);
        if self.phase != Phase::Open || bytes.is_empty() {
            return;
        }
        self.last_rx = self.now;
        let mut input = bytes;
        while self.phase == Phase::Open {
            let limit = if self.peer.is_none() { HELLO_MAX } else { self.config.limits.max_frame };
            match self.rx.poll(&mut input, limit) {
                Err(e) => self.fail(SessionError::Frame(e)),
                Ok(None) => break,
                Ok(Some(Ready::Direct(frame))) => self.on_frame(frame),
                Ok(Some(Ready::Buffered)) => {
                    let buf = self.rx.take_buffered();
                    self.on_frame(&buf);
                    self.rx.recycle(buf);
                }
            }
        }
        self.update_sync();
    }

    /// The next event for the application, if any.
    ///
    /// Taking a [`Event::Verified`] batch releases its flow-control credit: the peer may
    /// send more. Store each batch before taking the next.
    pub fn poll_event(&mut self) -> Option<Event> {
        let ev = self.events.pop_front()?;
        if let Event::Verified(b) = &ev {
            self.credit_due.0 += b.cost.0;
            self.credit_due.1 += b.cost.1;
        }
        Some(ev)
    }

    /// Writes bytes to send into `buf`; returns how many (`None`: nothing to send now).
    ///
    /// Frames are produced lazily, one at a time, so call it until it returns `None`
    /// whenever the stream can take bytes. It may be given a buffer of any size.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<usize> {
        let mut n = 0;
        while n < buf.len() {
            let pending = self.out.bytes().get(self.out_pos..).unwrap_or_default();
            if !pending.is_empty() {
                let k = pending.len().min(buf.len() - n);
                buf[n..n + k].copy_from_slice(&pending[..k]);
                self.out_pos += k;
                n += k;
                continue;
            }
            if !self.next_frame() {
                break;
            }
        }
        if n == 0 {
            return None;
        }
        self.last_tx = self.now;
        self.update_sync();
        Some(n)
    }

    /// The next time [`handle_timeout`](Self::handle_timeout) must be called, if any.
    pub fn poll_timeout(&self) -> Option<Micros> {
        if self.phase != Phase::Open {
            return None;
        }
        let mut next: Option<Micros> = None;
        let idle = self.config.idle_timeout_us;
        if idle > 0 {
            next = Some(self.last_rx.saturating_add(idle));
        }
        if let Some(peer) = &self.peer
            && peer.hello.idle_ms > 0
            && !self.ping_due
        {
            let half = peer.hello.idle_ms.saturating_mul(1000) / 2;
            let k = self.last_tx.saturating_add(half.max(1));
            next = Some(next.map_or(k, |n| n.min(k)));
        }
        next
    }

    /// Handles the passing of time: idle timeout and keep-alive.
    pub fn handle_timeout(&mut self, now: Micros) {
        self.advance(now);
        if self.phase != Phase::Open {
            return;
        }
        let idle = self.config.idle_timeout_us;
        if idle > 0 && self.now >= self.last_rx.saturating_add(idle) {
            self.fail(SessionError::Timeout);
            return;
        }
        if let Some(peer) = &self.peer
            && peer.hello.idle_ms > 0
            && self.now >= self.last_tx.saturating_add((peer.hello.idle_ms.saturating_mul(1000) / 2).max(1))
        {
            self.ping_due = true;
        }
    }

    /// Tells the session that the local store changed for `author` (new events appended
    /// locally or stored from any session). New heads are announced to the peer, and
    /// pushed to it if it asked for live updates.
    pub fn feed_updated(&mut self, author: &AuthorId) {
        if self.phase != Phase::Open || !self.config.capabilities.contains(Capabilities::SYNC) {
            return;
        }
        if let Some(&r) = self.remote_idx.get(author) {
            let have = self.source.prefix(author).map_or(0, |p| p.leaves());
            let rf = &mut self.remote[r as usize];
            if rf.want != (WantState::Active { live: true }) && rf.want != (WantState::Active { live: false }) {
                rf.have = rf.have.max(have);
            }
            if rf.want == WantState::Deferred {
                // Another session fetched some or all of it, or ended: want the rest again.
                if rf.have >= rf.head.length {
                    rf.want = WantState::Idle;
                } else {
                    rf.want = WantState::Queued;
                    self.want_queue.push_back(r);
                }
            }
            self.sync_dirty = true;
        }
        self.queue_announce(*author);
        self.update_sync();
    }

    /// Tells the session that [`FeedSource::wants`] may answer differently now for `author`
    /// (the host's choice of feeds to fetch changed). A feed now wanted that the peer
    /// announced past what we hold is wanted at once; a feed no longer wanted is not fetched
    /// for the peer's later heads, and no longer keeps the session from being synced.
    ///
    /// A want under way (sent and not finished, or live) that is no longer wanted is taken
    /// back with UNWANT when both sides offered the UNWANT capability: the pages already on
    /// their way are still verified and reported, then no more come. Without it, this
    /// returns `true`: the peer sends what was asked (and, for a live want, every later
    /// event) until the session ends, and a host that must stop that closes the session.
    pub fn wants_changed(&mut self, author: &AuthorId) -> bool {
        if self.phase != Phase::Open || !self.config.capabilities.contains(Capabilities::SYNC) {
            return false;
        }
        let Some(&r) = self.remote_idx.get(author) else { return false };
        let wanted = self.source.wants(author);
        let rf = &mut self.remote[r as usize];
        let was = core::mem::replace(&mut rf.wanted, wanted);
        self.sync_dirty = true;
        let under_way = !wanted && matches!(rf.want, WantState::Active { .. });
        if !wanted && matches!(rf.want, WantState::Queued | WantState::Deferred) {
            // Not sent yet: dropped (the queue skips a feed whose want is no longer queued).
            rf.want = WantState::Idle;
        }
        if wanted && !was {
            let head = rf.head;
            // The same path as a new head: fork checks against what we hold, then the want.
            self.remote_head(r, head);
        }
        let under_way = under_way && !self.take_want_back(r);
        self.update_sync();
        under_way
    }

    /// Closes the session normally (ERROR `NONE`).
    pub fn close(&mut self) {
        if self.phase == Phase::Open {
            self.close_with(ErrorCode::NONE, 0, b"closed by the application".to_vec(), None);
        }
    }

    /// Asks the peer for events of `author`'s feed (a range, or the latest n), with a range
    /// proof. The answer comes as [`Event::Range`] (or [`Event::RequestFailed`]).
    pub fn request_range(&mut self, author: &AuthorId, mode: RangeMode) -> Result<u64, RequestError> {
        let feed = self.request_feed(author)?;
        Ok(self.push_request(OurRequest::Range { feed, mode }))
    }

    /// Asks the peer for an inclusion proof of event `seq` or a consistency proof from
    /// length `a` of `author`'s feed, against its latest head. The answer comes as
    /// [`Event::Proof`] (or [`Event::RequestFailed`]); a consistency proof that contradicts
    /// a local head of that length is reported as [`Event::Fork`].
    pub fn request_proof(&mut self, author: &AuthorId, kind: ProofKind, a: u64) -> Result<u64, RequestError> {
        let feed = self.request_feed(author)?;
        Ok(self.push_request(OurRequest::Proof { feed, kind, a }))
    }

    /// Queues an APP frame (needs MCP in force). At most the peer's frame limit per frame
    /// and that much queued in total.
    pub fn send_app(&mut self, channel: u64, data: &[u8]) -> Result<(), RequestError> {
        let peer = self.open_peer()?;
        if !peer.caps.contains(Capabilities::MCP) {
            return Err(RequestError::Capability(Capabilities::MCP));
        }
        let limit = peer.hello.limits.max_frame.min(MIN_FRAME * 16) as usize;
        if data.len() + 12 > limit || self.app_bytes + data.len() > limit {
            return Err(RequestError::TooLarge);
        }
        self.app_bytes += data.len();
        self.app_out.push_back((channel, data.to_vec()));
        Ok(())
    }

    fn open_peer(&self) -> Result<&Peer, RequestError> {
        match (&self.peer, self.phase) {
            (Some(p), Phase::Open) => Ok(p),
            _ => Err(RequestError::NotOpen),
        }
    }

    fn request_feed(&self, author: &AuthorId) -> Result<u32, RequestError> {
        let peer = self.open_peer()?;
        if !peer.caps.contains(Capabilities::SYNC) {
            return Err(RequestError::Capability(Capabilities::SYNC));
        }
        let feed = *self.remote_idx.get(author).ok_or(RequestError::UnknownFeed)?;
        if self.requests.len() >= peer.hello.limits.max_requests as usize {
            return Err(RequestError::TooManyRequests);
        }
        Ok(feed)
    }

    fn push_request(&mut self, req: OurRequest) -> u64 {
        let id = self.next_request;
        self.next_request += 1;
        self.requests.insert(id, req);
        self.request_queue.push_back(id);
        id
    }

    fn advance(&mut self, now: Micros) {
        if now > self.now {
            self.now = now;
        }
    }

    fn queue_announce(&mut self, author: AuthorId) {
        if self.announce_set.insert(author) {
            self.announce.push_back(author);
            self.sync_dirty = true;
        }
    }

    /// Closes with a precise error: the peer gets ERROR with its code.
    fn fail(&mut self, error: SessionError) {
        if self.phase != Phase::Open {
            return;
        }
        let mut reason = error.to_string().into_bytes();
        reason.truncate(MAX_REASON);
        self.close_with(error.code(), error.detail(), reason, Some(error));
    }

    fn close_with(&mut self, code: ErrorCode, detail: u64, reason: Vec<u8>, error: Option<SessionError>) {
        self.phase = Phase::Closing;
        self.close_frame = Some((code, detail, reason));
        self.release_state();
        self.events.push_back(Event::Closed(Closed { code, by_peer: false, error }));
    }

    fn release_state(&mut self) {
        self.serve.clear();
        self.peer_requests.clear();
        self.want_queue.clear();
        self.unwant_out.clear();
        self.unwant_done_out.clear();
        self.app_out.clear();
        self.forks_out.clear();
        self.request_queue.clear();
        self.rx = FrameDecoder::new();
    }

    /// Takes one chatter token; false (and the session failed) if none is left.
    fn chatter(&mut self) -> bool {
        let elapsed = self.now.saturating_sub(self.chatter_at);
        self.chatter_at = self.now;
        let cap = u64::from(self.config.chatter_burst) * CHATTER_UNIT;
        self.chatter =
            self.chatter.saturating_add(elapsed.saturating_mul(u64::from(self.config.chatter_per_sec))).min(cap);
        if self.chatter < CHATTER_UNIT {
            self.fail(SessionError::Chatter);
            return false;
        }
        self.chatter -= CHATTER_UNIT;
        true
    }

    fn sync_in_force(&self) -> bool {
        self.peer.as_ref().is_some_and(|p| p.caps.contains(Capabilities::SYNC))
    }

    fn require(&mut self, cap: Capabilities) -> bool {
        if self.peer.as_ref().is_some_and(|p| p.caps.contains(cap)) {
            return true;
        }
        self.fail(SessionError::Capability(cap));
        false
    }

    fn on_frame(&mut self, frame: &[u8]) {
        let ty = frame.first().copied().unwrap_or(0);
        let msg = match Message::decode(frame) {
            Ok(m) => m,
            Err(error) => {
                if self.peer.is_none() && ty != super::message::ty::HELLO {
                    return self.fail(SessionError::FirstFrameNotHello(ty));
                }
                return self.fail(SessionError::Decode { ty, error });
            }
        };
        if self.peer.is_none() {
            return match msg {
                Message::Hello(h) => self.on_hello(h),
                _ => self.fail(SessionError::FirstFrameNotHello(ty)),
            };
        }
        match msg {
            Message::Hello(_) => self.fail(SessionError::Unexpected("a second HELLO")),
            Message::Heads(list) => self.on_heads(list),
            Message::Want(list) => self.on_want(list),
            Message::Pages(p) => self.on_pages(p),
            Message::Credit { pages, bytes } => self.on_credit(pages, bytes),
            Message::SyncDone { heads_seen, heads_sent } => self.on_sync_done(heads_seen, heads_sent),
            Message::RangeRequest(q) => self.on_range_request(q),
            Message::RangeResponse(r) => self.on_range_response(r),
            Message::ProofRequest(q) => self.on_proof_request(q),
            Message::ProofResponse(r) => self.on_proof_response(r),
            Message::Fork(f) => self.on_fork(f),
            Message::Ping => {
                if self.chatter() {
                    self.pong_due = true;
                }
            }
            Message::Pong => {
                self.chatter();
            }
            Message::App { channel, data } => {
                if self.require(Capabilities::MCP) {
                    self.events.push_back(Event::App { channel, data: data.to_vec() });
                }
            }
            Message::Error(e) => {
                self.phase = Phase::Closed;
                self.release_state();
                let code = ErrorCode(e.code);
                let error =
                    if code == ErrorCode::NONE { None } else { Some(SessionError::Peer { code, detail: e.detail }) };
                self.events.push_back(Event::Closed(Closed { code, by_peer: true, error }));
            }
            Message::Unwant(list) => self.on_unwant(list),
            Message::UnwantDone(list) => self.on_unwant_done(list),
            Message::Extension(_) => {
                self.chatter();
            }
        }
    }

    fn on_hello(&mut self, h: Hello) {
        if h.space != self.config.space {
            return self.fail(SessionError::SpaceMismatch);
        }
        let v = VERSION.min(h.max_version);
        if v < VERSION.max(h.min_version) {
            return self.fail(SessionError::Version { peer_min: h.min_version, peer_max: h.max_version });
        }
        if h.role == self.role {
            return self.fail(SessionError::SameRole);
        }
        let l = &h.limits;
        let below = if l.max_frame < MIN_FRAME {
            Some("max_frame")
        } else if l.max_pages == 0 {
            Some("max_pages")
        } else if l.max_bytes < MIN_WINDOW_BYTES {
            Some("max_bytes")
        } else if l.max_feeds < MIN_FEEDS {
            Some("max_feeds")
        } else if l.max_requests == 0 {
            Some("max_requests")
        } else {
            None
        };
        if let Some(field) = below {
            return self.fail(SessionError::LimitBelowMinimum(field));
        }
        let Ok(pages) = PageConfig::new(h.page_size) else {
            // The decoder already refused other page sizes.
            return self.fail(SessionError::Decode {
                ty: super::message::ty::HELLO,
                error: DecodeError::OutOfRange { field: "hello.page_size", value: u64::from(h.page_size) },
            });
        };
        let caps = self.config.capabilities.intersect(h.capabilities);
        self.events.push_back(Event::Connected {
            version: v,
            capabilities: caps,
            peer_role: h.role,
            peer_page_size: h.page_size,
            peer_limits: h.limits,
            peer_incarnation: h.incarnation,
        });
        if !caps.contains(Capabilities::SYNC) {
            self.announce.clear();
            self.announce_set.clear();
        }
        self.peer = Some(Peer { hello: h, caps, pages });
        self.sync_dirty = true;
    }
}
