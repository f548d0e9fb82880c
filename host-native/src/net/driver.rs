//! Drives one XSP [`Session`] over one QUIC bidirectional stream.
//!
//! The loop: feed received bytes to the session; take its events (verified batches go to the
//! importer, whose bounded queue is the back-pressure); write what it has to send; sleep until
//! the next of: bytes from the peer, room in the send window, the session's timer, a feed
//! change anywhere in the store, a control message, or shutdown. Reading and writing wait
//! together (both QUIC calls are cancel-safe), so two sides pushing pages at each other never
//! deadlock on full windows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iroh::endpoint::VarInt;
use tokio::sync::{broadcast, mpsc};
use xaeroflux_core::AuthorId;
use xaeroflux_core::xsp::message::Message;
use xaeroflux_core::xsp::{Capabilities, Config, Event, ProofKind, RangeMode, Role, Session, SessionError, varint};

use super::fetch::{FetchReply, FetchStep, LengthReply};
use super::import::ImportJob;
use super::node::NetInner;
use super::source::CoreSource;
use super::status::{PeerStatus, SyncEvent};
use super::stream::Stream;
use super::ticket::{PeerId, SpaceId};

/// Bytes read from the stream at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes taken from the session at a time.
const WRITE_CHUNK: usize = 256 * 1024;
/// Time a peer has to send its HELLO on a new stream.
pub(crate) const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest first frame (the HELLO limit of `docs/xsp.md`), plus its length prefix.
const HELLO_MAX: usize = 4096 + varint::MAX_VARINT_LEN;
/// Stream reset code when the peer is refused.
const REFUSED: u32 = 1;
/// Stream reset code when the peer opened a session we already have the other way round.
const DUPLICATE: u32 = 2;
/// Stream reset code for a session of an earlier incarnation of the peer.
const GONE: u32 = 3;

/// What other tasks ask of a running session.
#[derive(Debug)]
pub(crate) enum Control {
    /// Close normally.
    Close,
    /// The peer is gone (it restarted since it answered): stop at once, resetting the stream,
    /// without waiting for the dead peer to take what is queued for it.
    Abort,
    /// Whether the store fetches this author's feed may have changed
    /// ([`Session::wants_changed`]); a want under way that is no longer wanted is taken back
    /// (XSP's UNWANT), or, with a peer that does not offer UNWANT, closes the session (the
    /// next session does not send it).
    WantsChanged(AuthorId),
    /// A sparse read of the peer's feed ([`Session::request_range`]), answered on `reply`.
    Fetch {
        /// The feed.
        author: AuthorId,
        /// Which events.
        mode: RangeMode,
        /// Where the verified events (or the refusal) go.
        reply: FetchReply,
    },
    /// A proof about the peer's feed ([`Session::request_proof`]): inclusion of event `a`,
    /// or consistency with the feed's first `a` events; answered on `reply` as a fetch is.
    Prove {
        /// The feed.
        author: AuthorId,
        /// Which proof.
        kind: ProofKind,
        /// The event's seq, or the older length.
        a: u64,
        /// Where the verified proof (or the refusal) goes.
        reply: FetchReply,
    },
    /// The length of the peer's latest head of a feed, if it announced the feed (answered at
    /// once on `reply`): a fetch asks the peers with the longest heads first.
    AnnouncedLength {
        /// The feed.
        author: AuthorId,
        /// Where the answer goes.
        reply: LengthReply,
    },
}

/// Reads the peer's HELLO from a stream it opened, then runs a responder session in the
/// space it names, or refuses the stream with the precise XSP error if that space is not
/// joined or the first frame is not a HELLO.
pub(crate) async fn accept_stream(inner: Arc<NetInner>, peer: PeerId, mut stream: Stream) {
    let mut first = Vec::with_capacity(512);
    let space = tokio::time::timeout(HELLO_TIMEOUT, async {
        let mut buf = [0u8; 1024];
        loop {
            match hello_space(&first) {
                Hello::Space(s, incarnation) => return Some((s, incarnation)),
                Hello::Invalid => return None,
                Hello::Incomplete => {}
            }
            match stream.recv.read(&mut buf).await {
                Ok(Some(n)) => first.extend_from_slice(&buf[..n]),
                _ => return None,
            }
        }
    })
    .await
    .ok()
    .flatten();
    match space {
        Some((s, incarnation)) if inner.has_space(&s) => {
            if inner.admit_incoming(&s, &peer, incarnation) {
                run_session(inner.clone(), s, peer, Role::Responder, stream, first).await;
            } else {
                stream.reset(DUPLICATE);
            }
        }
        other => refuse(other.map(|(s, _)| s), stream, &first).await,
    }
}

enum Hello {
    /// The space, and the sender's incarnation if it named one.
    Space(SpaceId, Option<u64>),
    Incomplete,
    Invalid,
}

/// The space named by the HELLO at the start of `bytes`.
fn hello_space(bytes: &[u8]) -> Hello {
    let Ok((len, used)) = varint::decode(bytes) else {
        return if bytes.len() < varint::MAX_VARINT_LEN { Hello::Incomplete } else { Hello::Invalid };
    };
    let Ok(len) = usize::try_from(len) else { return Hello::Invalid };
    if used + len > HELLO_MAX {
        return Hello::Invalid;
    }
    match bytes.get(used..used + len) {
        None => Hello::Incomplete,
        Some(frame) => match Message::decode(frame) {
            Ok(Message::Hello(h)) => Hello::Space(SpaceId(h.space), h.incarnation),
            _ => Hello::Invalid,
        },
    }
}

/// Answers a stream we will not serve with what a session would say (SPACE_MISMATCH for a
/// space not joined, the decoding error otherwise), without announcing anything.
async fn refuse(space: Option<SpaceId>, mut stream: Stream, first: &[u8]) {
    // A space certainly different from the peer's, so its HELLO is refused as a mismatch.
    let other = space.map_or([0u8; 32], |s| s.0.map(|b| !b));
    let config = Config::new(other).with_capabilities(Capabilities::NONE).with_live(false);
    let mut session = Session::new(config, Role::Responder, 0, CoreSourceNone);
    session.handle_input(0, first);
    if !session.is_closed() {
        session.close();
    }
    let mut out = vec![0u8; 8192];
    while let Some(n) = session.poll_transmit(&mut out) {
        if stream.send.write_all(&out[..n]).await.is_err() {
            break;
        }
    }
    stream.recv.stop(REFUSED);
    stream.send.finish(Duration::from_secs(1)).await;
}

/// A source with no feeds, for refusals.
struct CoreSourceNone;

impl xaeroflux_core::xsp::FeedSource for CoreSourceNone {
    fn for_each_head(&self, _: &mut dyn FnMut(&xaeroflux_core::SignedHead)) {}
    fn head(&self, _: &AuthorId) -> Option<xaeroflux_core::SignedHead> {
        None
    }
    fn prefix(&self, _: &AuthorId) -> Option<xaeroflux_core::mmr::MmrPeaks> {
        None
    }
    fn locate(&self, _: &AuthorId, _: u64) -> Option<(u64, u64)> {
        None
    }
    fn with_page(&self, _: &AuthorId, _: u64, _: &mut dyn FnMut(&[u8])) -> bool {
        false
    }
    fn consistency_proof(&self, _: &AuthorId, _: u64, _: u64) -> Option<xaeroflux_core::mmr::ConsistencyProof> {
        None
    }
    fn inclusion_proof(&self, _: &AuthorId, _: u64, _: u64) -> Option<xaeroflux_core::mmr::InclusionProof> {
        None
    }
    fn range_proof(&self, _: &AuthorId, _: u64, _: u64, _: u64) -> Option<xaeroflux_core::mmr::RangeProof> {
        None
    }
}

/// Whether a close reason is the peer's fault as detected here (reported as rejected).
fn peer_fault(e: &SessionError) -> bool {
    !matches!(e, SessionError::Internal(_) | SessionError::Timeout | SessionError::Peer { .. })
}

/// Runs one session until it ends. If the stream failed or the peer fell silent for the idle
/// timeout, its QUIC connection is not reused for new sessions: it may have died unnoticed.
pub(crate) async fn run_session(
    inner: Arc<NetInner>,
    space: SpaceId,
    peer: PeerId,
    role: Role,
    mut stream: Stream,
    initial: Vec<u8>,
) {
    let idle = u64::try_from(inner.cfg.idle_timeout.as_micros()).unwrap_or(u64::MAX);
    let Ok(config) = Config::new(space.0).with_page_size(inner.core.page_size()) else { return };
    let config = config.with_idle_timeout_us(idle).with_incarnation(inner.incarnation);
    let clock = Instant::now();
    let now = move || u64::try_from(clock.elapsed().as_micros()).unwrap_or(u64::MAX);
    let source =
        CoreSource::new(inner.core.clone(), inner.forked.clone(), inner.follows.clone(), inner.claims.session());
    let mut session = Session::new(config, role, now(), source);
    let (ctl_tx, mut ctl_rx) = mpsc::unbounded_channel();
    let status = PeerStatus {
        space,
        peer,
        initiator: role == Role::Initiator,
        connected: false,
        synced: false,
        behind: 0,
        received_events: 0,
        bytes_in: initial.len() as u64,
        bytes_out: 0,
    };
    let id = inner.register(status, ctl_tx, stream.conn.as_ref());
    let mut changed = inner.changed.subscribe();
    let mut shutdown = inner.shutdown.subscribe();
    let import_tx = inner.import_tx.lock().ok().and_then(|t| t.clone());
    let mut d = Driver {
        inner: inner.clone(),
        id,
        space,
        peer,
        behind: None,
        stream_ok: true,
        peer_silent: false,
        fetches: HashMap::new(),
    };
    // A peer that has not answered our HELLO by then is gone (`admission::HANDSHAKE_WINDOW`).
    let handshake_by = tokio::time::Instant::now() + HELLO_TIMEOUT;
    if !initial.is_empty() {
        session.handle_input(now(), &initial);
    }
    let mut rbuf = vec![0u8; READ_CHUNK];
    let mut out = vec![0u8; WRITE_CHUNK];
    let (mut out_pos, mut out_len) = (0usize, 0usize);
    let (mut bytes_in, mut bytes_out) = (initial.len() as u64, 0u64);
    let (mut recv_done, mut closing) = (false, false);
    loop {
        let mut heads_changed = false;
        while let Some(ev) = session.poll_event() {
            heads_changed |= matches!(ev, Event::RemoteHead(_) | Event::Verified(_));
            d.on_event(ev, import_tx.as_ref()).await;
        }
        if heads_changed {
            d.progress(&session);
        }
        if out_pos == out_len {
            (out_pos, out_len) = (0, session.poll_transmit(&mut out).unwrap_or(0));
        }
        if session.is_closed() && out_pos == out_len {
            break;
        }
        if recv_done && out_pos == out_len && !session.is_closed() {
            // The peer ended its side without an ERROR frame: the connection went away.
            session.close();
            d.stream_ok = false;
            continue;
        }
        // The status reflects the session as it is when it starts waiting.
        let synced = session.is_synced();
        inner.update(id, |s| {
            s.bytes_in = bytes_in;
            s.bytes_out = bytes_out;
            s.synced = synced;
        });
        let deadline =
            session.poll_timeout().map(|us| tokio::time::Instant::from_std(clock + Duration::from_micros(us)));
        // Capabilities are known once the peer's HELLO was read.
        let handshake = (session.capabilities().is_none() && !session.is_closed()).then_some(handshake_by);
        let flush = stream.send.needs_flush();
        tokio::select! {
            r = shutdown.changed(), if !closing => {
                closing = true;
                if r.is_err() || *shutdown.borrow() {
                    session.close();
                }
            }
            c = ctl_rx.recv() => match c {
                Some(Control::Close) | None => session.close(),
                Some(Control::Abort) => {
                    session.close();
                    stream.reset(GONE);
                    d.stream_ok = false;
                    break;
                }
                Some(Control::WantsChanged(author)) => {
                    if session.wants_changed(&author) {
                        session.close();
                    }
                    d.progress(&session);
                }
                Some(Control::Fetch { author, mode, reply }) => match session.request_range(&author, mode) {
                    Ok(req) => {
                        let _ = reply.try_send(FetchStep::Sent);
                        d.fetches.insert(req, reply);
                    }
                    Err(_) => {
                        let _ = reply.try_send(FetchStep::NotSent);
                    }
                },
                Some(Control::Prove { author, kind, a, reply }) => {
                    match session.request_proof(&author, kind, a) {
                        Ok(req) => {
                            let _ = reply.try_send(FetchStep::Sent);
                            d.fetches.insert(req, reply);
                        }
                        Err(_) => {
                            let _ = reply.try_send(FetchStep::NotSent);
                        }
                    }
                }
                Some(Control::AnnouncedLength { author, reply }) => {
                    let _ = reply.send(session.remote_head_of(&author).map(|h| h.length));
                }
            },
            _ = sleep_until(handshake), if handshake.is_some() => {
                // The peer never answered our HELLO: it went to a process that is gone, over a
                // connection that died unnoticed, which is then not reused.
                session.close();
                stream.reset(GONE);
                d.stream_ok = false;
                break;
            }
            r = changed.recv() => match r {
                Ok(a) => {
                    session.feed_updated(&a);
                    while let Ok(a) = changed.try_recv() {
                        session.feed_updated(&a);
                    }
                    d.progress(&session);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    for a in inner.all_authors() {
                        session.feed_updated(&a);
                    }
                }
                Err(broadcast::error::RecvError::Closed) => session.close(),
            },
            // With nothing more to write now, this sends what a byte stream holds back (a
            // Tor stream's partly filled cell).
            r = stream.send.write_or_flush(&out[out_pos..out_len]), if out_pos < out_len || flush => match r {
                Ok(n) => {
                    out_pos += n;
                    bytes_out += n as u64;
                }
                Err(_) => {
                    d.stream_ok = false;
                    break;
                }
            },
            r = stream.recv.read(&mut rbuf), if !recv_done => match r {
                Ok(Some(n)) => {
                    bytes_in += n as u64;
                    session.handle_input(now(), &rbuf[..n]);
                }
                Ok(None) => recv_done = true,
                Err(_) => {
                    d.stream_ok = false;
                    recv_done = true;
                }
            },
            _ = sleep_until(deadline), if deadline.is_some() => session.handle_timeout(now()),
        }
    }
    while let Some(ev) = session.poll_event() {
        d.on_event(ev, import_tx.as_ref()).await;
    }
    if d.stream_ok {
        stream.send.finish(Duration::from_millis(500)).await;
    }
    if d.peer_silent {
        // The connection is dead too (every session on it hears the peer's keep-alives):
        // close it rather than let QUIC hold it until its own idle timeout, and make the next
        // session with the peer open a new one.
        if let Some(conn) = &stream.conn {
            conn.close(VarInt::from_u32(GONE), b"peer silent");
        }
        inner.forget_conns(&peer);
    }
    if let Some(conn) = stream.conn.as_ref().filter(|_| !d.stream_ok) {
        inner.forget_conn(&peer, conn);
    }
    inner.unregister(id, bytes_in, bytes_out);
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

struct Driver {
    inner: Arc<NetInner>,
    id: u64,
    space: SpaceId,
    peer: PeerId,
    behind: Option<u64>,
    stream_ok: bool,
    /// The session ended because the peer sent nothing for the idle timeout.
    peer_silent: bool,
    /// Sparse reads asked of the peer, by request id (dropped with the session, which the
    /// asker sees as the session's end).
    fetches: HashMap<u64, FetchReply>,
}

impl Driver {
    async fn on_event(&mut self, ev: Event, import_tx: Option<&mpsc::Sender<ImportJob>>) {
        let (space, peer) = (self.space, self.peer);
        match ev {
            Event::Connected { peer_incarnation, .. } => {
                self.inner.set_peer_incarnation(self.id, peer_incarnation);
                self.inner.update(self.id, |s| s.connected = true);
                self.inner.emit(SyncEvent::PeerConnected { space, peer });
            }
            Event::HeadConfirmed(head) => {
                if let Some(tx) = import_tx {
                    let _ = tx.send(ImportJob::Adopt { head }).await;
                }
            }
            // Pages of a feed no longer fetched, sent before the peer read our UNWANT (the
            // store unfollowed it meanwhile): verified, but not stored.
            Event::Verified(batch) if !self.inner.fetches(&batch.author()) => {}
            Event::Verified(batch) => {
                if let Some(tx) = import_tx {
                    let job = ImportJob::Batch { batch: Box::new(batch), space, peer, session: self.id };
                    if tx.send(job).await.is_err() {
                        self.inner.control(self.id, Control::Close);
                    }
                }
            }
            Event::Fork(evidence) => {
                self.inner.forked.found(evidence.author());
                // Kept in the store, so a restart does not fetch the feed again (a failure
                // leaves the store poisoned, which its next write reports).
                let (core, e) = (self.inner.core.clone(), evidence.clone());
                drop(tokio::task::spawn_blocking(move || core.record_fork(&e)));
                self.inner.emit(SyncEvent::Fork { space, evidence: Box::new(evidence) });
            }
            Event::Range(range) => {
                if let Some(reply) = self.fetches.remove(&range.id) {
                    let _ = reply.try_send(FetchStep::Events(Box::new(range)));
                }
            }
            Event::Proof(proof) => {
                if let Some(reply) = self.fetches.remove(&proof.id()) {
                    let _ = reply.try_send(FetchStep::Proof(Box::new(proof)));
                }
            }
            Event::RequestFailed { id, status } => {
                if let Some(reply) = self.fetches.remove(&id) {
                    let _ = reply.try_send(FetchStep::Failed(status));
                }
            }
            Event::Synced => {
                self.inner.update(self.id, |s| s.synced = true);
                self.inner.emit(SyncEvent::Synced { space, peer });
            }
            Event::Closed(c) => {
                if !c.by_peer && matches!(c.error, Some(SessionError::Timeout)) {
                    // Nothing, not even a keep-alive, came for the idle timeout: the peer is
                    // gone, or its process restarted and QUIC has not noticed yet (it will
                    // only at its own idle timeout). A redial must not go over this connection.
                    self.stream_ok = false;
                    self.peer_silent = true;
                }
                if let Some(e) = c.error.as_ref().filter(|e| !c.by_peer && peer_fault(e)) {
                    self.inner.emit(SyncEvent::Rejected { space, peer, error: e.clone() });
                }
                self.inner.emit(SyncEvent::PeerDisconnected { space, peer, code: c.code, by_peer: c.by_peer });
            }
            _ => {}
        }
    }

    /// Recomputes how far behind the peer this store is, and reports a change.
    fn progress(&mut self, session: &Session<CoreSource>) {
        let core = &self.inner.core;
        let behind: u64 = session
            .remote_heads()
            .filter(|h| self.inner.fetches(&h.author))
            .map(|h| h.length.saturating_sub(core.feed_len(&h.author)))
            .sum();
        self.inner.update(self.id, |s| s.behind = behind);
        if self.behind != Some(behind) {
            self.behind = Some(behind);
            self.inner.emit(SyncEvent::Progress { space: self.space, peer: self.peer, behind });
        }
    }
}
