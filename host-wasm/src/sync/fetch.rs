//! Reads on demand: `session.fetchEvents(author, range)` asks the peer for events of a feed
//! (XSP's RANGE_REQUEST) and resolves with them once the session has verified them against
//! the author's signed head (a range proof). Nothing is stored. `session.fetchProof(author,
//! seq)` reads one event so and resolves with the proof file `store.prove` would make: the
//! event's inclusion proof is derived from the range proof it came with
//! ([`VerifiedRange::inclusion_proof`]), with no second request. `session.fetchConsistency`
//! asks for a consistency proof (PROOF_REQUEST).
//!
//! What `fetchEvents` and `fetchProof` verified is kept by the store for later reads (the
//! store option `fetchCache`, [`FetchCache`](xaeroflux_core::xsp::FetchCache)), each answer
//! with the head and range proof it was verified with: a read of seqs inside an earlier
//! answer, from any of the store's sessions, resolves at once with no request; so does a read
//! of the latest events when an earlier answer ends where this session's peer's head of the
//! feed ends. The answer says `fromCache: true`. A `fetchProof` of an event inside an earlier
//! answer resolves at once too, with the proof derived from the answer's range proof
//! ([`VerifiedRange::inclusion_proof`]) against its head.
//!
//! A request made before the peer announced the feed (the session just started) waits until
//! it does; if the session is synced and the peer never announced it, the promise rejects
//! with `NOT_FOUND`. A range larger than one XSP frame is asked for in several requests,
//! each verified. Every pending request rejects with `SYNC` when the session ends.

use std::collections::HashMap;

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;
use xaeroflux_core::xsp::{
    FetchCache, ForkEvidence, ProofKind, ProofStatus, RangeMode, RequestError, VerifiedProof, VerifiedRange,
};
use xaeroflux_core::{AuthorId, SignedHead};

use super::{Driver, SyncSession};
use crate::error::{ArgError, ErrorCode, JsError, make_js_error};
use crate::hex;
use crate::js::{Obj, index, prop, prop_num};
use crate::store::FetchedRead;

/// What a request is for.
enum Kind {
    /// `fetchEvents`.
    Events,
    /// `fetchProof`: the event, its proof derived from the range proof it comes with.
    Prove,
    /// `fetchConsistency`: a proof that the feed extends this older head.
    Extends(SignedHead),
}

/// One `fetchEvents`, `fetchProof` or `fetchConsistency` call, until its first request went.
pub(super) struct Pending {
    author: AuthorId,
    kind: Kind,
    /// What to ask for next.
    mode: RangeMode,
    /// The events so far (`StoredEvent` objects).
    events: Array,
    /// The first seq, once the first answer came.
    start: Option<u64>,
    /// The head of the last answer.
    head: Option<SignedHead>,
    /// `fetchEvents`: the verified answers so far, kept by the store once the read is done.
    blocks: Vec<VerifiedRange>,
    resolve: Function,
    reject: Function,
}

impl Pending {
    fn reject(self, code: ErrorCode, message: &str) {
        let _ = self.reject.call1(&JsValue::NULL, &make_js_error(code, message));
    }
}

/// A proof asked for (`fetchConsistency`): that the feed extends the older head `old`.
struct Proving {
    old: SignedHead,
    resolve: Function,
    reject: Function,
}

/// The session's requests.
#[derive(Default)]
pub(super) struct Fetches {
    /// Sent, by request id.
    sent: HashMap<u64, Pending>,
    /// Proofs asked for, by request id.
    proving: HashMap<u64, Proving>,
    /// Waiting for the session to open or the peer to announce the feed.
    parked: Vec<Pending>,
}

impl Driver {
    /// Sends `p`'s next request, or parks it until the peer announced the feed.
    fn send_fetch(&self, p: Pending) {
        let r = match &p.kind {
            Kind::Extends(old) => {
                self.session.borrow_mut().request_proof(&p.author, ProofKind::Consistency, old.length)
            }
            Kind::Events | Kind::Prove => self.session.borrow_mut().request_range(&p.author, p.mode),
        };
        match r {
            Ok(id) => match p.kind {
                Kind::Extends(old) => {
                    let proving = Proving { old, resolve: p.resolve, reject: p.reject };
                    self.fetches.borrow_mut().proving.insert(id, proving);
                }
                Kind::Events | Kind::Prove => {
                    self.fetches.borrow_mut().sent.insert(id, p);
                }
            },
            Err(RequestError::UnknownFeed) if self.session.borrow().is_synced() => {
                // Synced: the peer announced every feed it holds, and not this one.
                let msg = format!("the peer does not hold the feed {}", hex::encode(p.author.as_bytes()));
                p.reject(ErrorCode::NotFound, &msg);
            }
            Err(RequestError::NotOpen | RequestError::UnknownFeed | RequestError::TooManyRequests)
                if !self.session.borrow().is_closed() =>
            {
                self.fetches.borrow_mut().parked.push(p);
            }
            Err(e) => p.reject(ErrorCode::Sync, &format!("cannot ask the peer: {e}")),
        }
    }

    /// Tries the parked requests again (the peer announced heads, answered one, or the
    /// session became synced: then a feed the peer has not announced is one it does not hold).
    pub(super) fn retry_fetches(&self) {
        let parked = std::mem::take(&mut self.fetches.borrow_mut().parked);
        for p in parked {
            self.send_fetch(p);
        }
    }

    /// Verified events of a request: asks for the rest, or resolves.
    pub(super) fn on_range(&self, range: VerifiedRange) {
        let Some(mut p) = self.fetches.borrow_mut().sent.remove(&range.id) else { return };
        let start = *p.start.get_or_insert(range.start);
        for ev in range.events.iter() {
            p.events.push(&crate::js::event(&ev));
        }
        p.head = Some(range.head);
        if matches!(p.kind, Kind::Prove) {
            self.prove_fetched(p, range);
        } else {
            self.fetched_more(p, start, range);
        }
        self.retry_fetches();
    }

    /// `fetchEvents`: verified events came; asks for the rest, or resolves (and keeps the events
    /// for later reads).
    fn fetched_more(&self, mut p: Pending, start: u64, range: VerifiedRange) {
        let rest = range.rest(p.mode);
        if !range.events.is_empty() {
            p.blocks.push(range);
        }
        if let Some(rest) = rest {
            p.mode = rest;
            self.send_fetch(p);
        } else {
            let result = fetched_object(&p.author, start, p.head.as_ref(), p.events, false);
            self.keep_fetched(p.author, start, p.head, p.blocks);
            let _ = p.resolve.call1(&JsValue::NULL, &result);
        }
    }

    /// `fetchProof`: the event came (or the peer's feed ends before it) with its range proof,
    /// verified against the peer's head: its inclusion proof is derived from that, with no
    /// second request, and the event kept for later reads.
    fn prove_fetched(&self, p: Pending, range: VerifiedRange) {
        let RangeMode::Range { start: seq, .. } = p.mode else { return };
        let proved = range
            .events
            .get(0)
            .filter(|e| e.seq() == seq)
            .zip(range.inclusion_proof(seq))
            .map(|(event, proof)| crate::verify::proof_object(&event, &proof, &range.head));
        let Some(answer) = proved else {
            let author = hex::encode(p.author.as_bytes());
            let msg = format!("no event #{seq} in the feed of {author}: the peer holds {}", range.head.length);
            return p.reject(ErrorCode::NotFound, &msg);
        };
        self.keep_fetched(p.author, seq, Some(range.head), vec![range]);
        let _ = p.resolve.call1(&JsValue::NULL, &answer);
    }

    /// A verified proof: resolves its `fetchConsistency` with the newer head and the proof, if
    /// the prefix it proves is the older head's (the proof was verified against a head the
    /// author signed; if the two disagree, the author forked or the peer is faulty).
    pub(super) fn on_proof(&self, verified: VerifiedProof) {
        let Some(p) = self.fetches.borrow_mut().proving.remove(&verified.id()) else { return };
        let old = p.old;
        let answer = match verified {
            VerifiedProof::Consistency { head, old_len, old_root, proof, .. }
                if old_len == old.length && old.author == head.author =>
            {
                if old_root == old.root {
                    let bytes = js_sys::Uint8Array::from(&proof.encode()[..]);
                    Ok(Obj::new().set("head", crate::js::head(&head)).set("proof", bytes).build())
                } else {
                    Err(ForkEvidence::from_consistency(old, head, proof))
                }
            }
            _ => Err(None),
        };
        let _ = match answer {
            Ok(answer) => p.resolve.call1(&JsValue::NULL, &answer),
            Err(Some(evidence)) => {
                let msg = format!(
                    "the author forked: the peer holds a signed head of length {} that does not extend the one of length {}",
                    evidence.second.length, evidence.first.length
                );
                let error = make_js_error(ErrorCode::Forked, &msg);
                let bytes = js_sys::Uint8Array::from(&evidence.encode()[..]);
                // Setting a property on a fresh Error object cannot fail.
                let _ = js_sys::Reflect::set(&error, &JsValue::from_str("evidence"), &bytes);
                p.reject.call1(&JsValue::NULL, &error)
            }
            Err(None) => {
                let msg = "the peer's proof disagrees with what it proves (the author forked, or the peer is faulty)";
                p.reject.call1(&JsValue::NULL, &make_js_error(ErrorCode::ProofInvalid, msg))
            }
        };
    }

    /// The peer could not answer a request.
    pub(super) fn on_request_failed(&self, id: u64, status: ProofStatus) {
        let mut fetches = self.fetches.borrow_mut();
        if let Some(p) = fetches.sent.remove(&id) {
            drop(fetches);
            p.reject(ErrorCode::Sync, &format!("the peer could not send the events ({status:?})"));
        } else if let Some(p) = fetches.proving.remove(&id) {
            drop(fetches);
            let msg = format!("the peer could not send the proof ({status:?})");
            let _ = p.reject.call1(&JsValue::NULL, &make_js_error(ErrorCode::Sync, &msg));
        }
    }

    /// The session ended: every request fails.
    pub(super) fn fail_fetches(&self) {
        let Fetches { sent, proving, parked } = std::mem::take(&mut *self.fetches.borrow_mut());
        for p in sent.into_values().chain(parked) {
            p.reject(ErrorCode::Sync, "the session ended before the events came");
        }
        for p in proving.into_values() {
            let error = make_js_error(ErrorCode::Sync, "the session ended before the proof came");
            let _ = p.reject.call1(&JsValue::NULL, &error);
        }
    }
}

/// The `FetchedEvents` object of `events` (from seq `start`) verified against `head`.
fn fetched_object(author: &AuthorId, start: u64, head: Option<&SignedHead>, events: Array, cached: bool) -> JsValue {
    let end = start + u64::from(events.length());
    Obj::new()
        .set("author", hex::encode(author.as_bytes()))
        .num("start", start)
        .num("end", end)
        .set("head", head.map_or(JsValue::UNDEFINED, crate::js::head))
        .set("events", events)
        .set("fromCache", cached)
        .build()
}

impl Driver {
    /// A `fetchEvents` of `author`'s feed answered from what the store's sessions verified
    /// before, if it holds it: seqs inside one earlier answer; the latest events if an earlier
    /// answer ends where this session's peer's head of the feed ends. A forked author's
    /// answers are dropped instead.
    fn cached_read(&self, author: &AuthorId, mode: RangeMode) -> Option<JsValue> {
        let mut cache = self.fetched_of(author)?;
        let longest = self.session.borrow().remote_head_of(author).map(|h| h.length);
        let hit = cache.answer(author, mode, longest)?;
        let skip = usize::try_from(hit.seqs.start - hit.held.start).ok()?;
        let len = usize::try_from(hit.seqs.end - hit.seqs.start).ok()?;
        let events = Array::new();
        for ev in hit.value.blocks.iter().flat_map(|r| r.events.iter()).skip(skip).take(len) {
            events.push(&crate::js::event(&ev));
        }
        Some(fetched_object(author, hit.seqs.start, Some(&hit.value.head), events, true))
    }

    /// A `fetchProof` of event `seq` of `author`'s feed answered from what the store's sessions
    /// verified before, if it holds the event: the proof file, with the proof derived from the
    /// range proof the event came with, against the head it was verified with.
    fn cached_proof(&self, author: &AuthorId, seq: u64) -> Option<JsValue> {
        let mut cache = self.fetched_of(author)?;
        let hit = cache.answer(author, RangeMode::Range { start: seq, end: seq.checked_add(1)? }, None)?;
        let range = hit.value.blocks.iter().find(|r| r.seqs().contains(&seq))?;
        let proof = range.inclusion_proof(seq)?;
        let event = range.events.get(usize::try_from(seq - range.start).ok()?)?;
        Some(crate::verify::proof_object(&event, &proof, &range.head))
    }

    /// The store's kept answers, to answer a read of `author`'s feed from; `None` (and that
    /// author's answers dropped) if the author forked.
    fn fetched_of(&self, author: &AuthorId) -> Option<std::cell::RefMut<'_, FetchCache<FetchedRead>>> {
        let mut cache = self.store.fetched.borrow_mut();
        if self.store.mem.borrow().fork(author).is_some() {
            let forgotten: Vec<_> = cache.forget(author).into_iter().map(|seqs| (*author, seqs)).collect();
            self.store.drop_reads(&forgotten);
            return None;
        }
        Some(cache)
    }

    /// Keeps the answers a `fetchEvents` (or `fetchProof`) of `author`'s feed verified (from
    /// seq `start`, the last against `head`) for later reads, unless the author forked.
    fn keep_fetched(&self, author: AuthorId, start: u64, head: Option<SignedHead>, blocks: Vec<VerifiedRange>) {
        let (count, bytes) = blocks.iter().fold((0, 0), |(n, b), r| (n + r.events.len() as u64, b + r.byte_len()));
        let Some(head) = head.filter(|_| count > 0) else { return };
        if self.store.mem.borrow().fork(&author).is_none() {
            let inserted = self.store.fetched.borrow_mut().insert(
                author,
                start..start + count,
                bytes,
                FetchedRead { head, blocks },
            );
            self.store.keep_read(author, start..start + count, inserted);
        }
    }
}

fn arg(e: ArgError) -> JsValue {
    e.to_js()
}

/// `{ latest }` or `{ start, end }`.
fn parse_range(range: &JsValue) -> Result<RangeMode, JsValue> {
    let expected = "{ latest: n } or { start, end } (non-negative integers, start < end)";
    let bad = || arg(ArgError { name: "range", expected });
    if let Some(n) = prop_num(range, "latest").map_err(arg)? {
        let n = index(n, "range.latest").map_err(arg)?;
        return if n > 0 { Ok(RangeMode::Latest(n)) } else { Err(bad()) };
    }
    let (Some(start), Some(end)) = (prop(range, "start"), prop(range, "end")) else { return Err(bad()) };
    let start = index(start.as_f64().ok_or_else(bad)?, "range.start").map_err(arg)?;
    let end = index(end.as_f64().ok_or_else(bad)?, "range.end").map_err(arg)?;
    if start < end { Ok(RangeMode::Range { start, end }) } else { Err(bad()) }
}

/// The older head of `fetchConsistency`: a `SignedHeadInfo` (its `bytes`), or a signed head's
/// bytes or hex; its signature checked.
fn old_head(head: &JsValue) -> Result<SignedHead, JsValue> {
    let value = prop(head, "bytes").unwrap_or_else(|| head.clone());
    let bytes = crate::js::bytes_or_hex(&value, "head").map_err(arg)?;
    let h = SignedHead::decode(&bytes)
        .map_err(|e| make_js_error(ErrorCode::Malformed, &format!("malformed signed head: {e}")))?;
    h.verify().map_err(|e| make_js_error(ErrorCode::BadSignature, &format!("signed head does not verify: {e}")))?;
    Ok(h)
}

#[wasm_bindgen]
impl SyncSession {
    /// Reads events of `author`'s feed (hex) from the peer without storing them:
    /// `{ latest: n }` for the last n, or `{ start, end }` for those seqs (cut to the peer's
    /// feed). Resolves with `{ author, start, end, head, events }` once the session verified
    /// them against the author's signed head `head`; rejects with `NOT_FOUND` if the peer does
    /// not hold the feed, `SYNC` if the session ends first.
    #[wasm_bindgen(js_name = fetchEvents, unchecked_return_type = "Promise<FetchedEvents>")]
    pub fn fetch_events(
        &self,
        author: &str,
        #[wasm_bindgen(unchecked_param_type = "FetchRange")] range: JsValue,
    ) -> Result<js_sys::Promise, JsValue> {
        self.request(author_arg(author)?, Kind::Events, parse_range(&range)?)
    }

    /// Proves event `seq` of `author`'s feed (hex) with the peer's help, for a feed this store
    /// does not hold: reads the event with its range proof against the author's signed head
    /// (verified), and derives the event's inclusion proof from it. Resolves with the proof
    /// file `store.prove` makes for a stored feed, which anyone checks with `verifyProof` (or
    /// `xf verify`). An event an earlier read of the store verified (and still keeps: the
    /// store option `fetchCache`) is proved at once with no request, also once the session
    /// ended. Rejects with `NOT_FOUND` if the peer does not hold the event, `SYNC` if the
    /// session ends first.
    #[wasm_bindgen(js_name = fetchProof, unchecked_return_type = "Promise<ProofFile>")]
    pub fn fetch_proof(&self, author: &str, seq: f64) -> Result<js_sys::Promise, JsValue> {
        let (author, seq) = (author_arg(author)?, index(seq, "seq").map_err(arg)?);
        self.request(author, Kind::Prove, RangeMode::Range { start: seq, end: seq + 1 })
    }

    /// Checks a signed head seen before (a `SignedHeadInfo` such as `fetchEvents` returns,
    /// or its bytes or hex) against the feed as the peer holds it now: resolves with
    /// `{ head, proof }`, the peer's latest signed head of the feed and the consistency proof
    /// (bytes) that it extends the older one, both verified by the session. Rejects with
    /// `BAD_SIGNATURE` or `MALFORMED` for a head that is not one, `FORKED` if the author's
    /// feed no longer extends it (the error's `evidence`: the fork evidence, checked, as XSP's
    /// FORK body), `PROOF_INVALID` if the peer's proof is about something else, `SYNC` if the peer cannot prove it (its
    /// feed is shorter) or the session ends first, `NOT_FOUND` if the peer does not hold the
    /// feed.
    #[wasm_bindgen(js_name = fetchConsistency, unchecked_return_type = "Promise<FetchedConsistency>")]
    pub fn fetch_consistency(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SignedHeadInfo | Uint8Array | string")] head: JsValue,
    ) -> Result<js_sys::Promise, JsValue> {
        let old = old_head(&head)?;
        self.request(old.author, Kind::Extends(old), RangeMode::Latest(1))
    }
}

impl SyncSession {
    /// Starts a request of `kind` about `author`'s feed (`mode`: the events to read; unused by
    /// `Kind::Extends`, which asks for a proof only) and returns the promise it settles.
    fn request(&self, author: AuthorId, kind: Kind, mode: RangeMode) -> Result<js_sys::Promise, JsValue> {
        // Events read before, by any session of the store: at once, even once this one ended.
        let cached = match (&kind, mode) {
            (Kind::Events, _) => self.driver.cached_read(&author, mode),
            (Kind::Prove, RangeMode::Range { start, .. }) => self.driver.cached_proof(&author, start),
            _ => None,
        };
        if let Some(answer) = cached {
            return Ok(js_sys::Promise::resolve(&answer));
        }
        if self.driver.closed.get() {
            return Err(make_js_error(ErrorCode::Sync, "the session has ended"));
        }
        let mut callbacks = None;
        let promise = js_sys::Promise::new(&mut |resolve, reject| callbacks = Some((resolve, reject)));
        let (resolve, reject) = callbacks.ok_or_else(|| make_js_error(ErrorCode::Sync, "no promise callbacks"))?;
        let blocks = Vec::new();
        let p = Pending { author, kind, mode, events: Array::new(), start: None, head: None, blocks, resolve, reject };
        self.driver.send_fetch(p);
        self.driver.run();
        Ok(promise)
    }
}

/// An author argument: 64 hex characters.
fn author_arg(author: &str) -> Result<AuthorId, JsValue> {
    hex::decode32(author).map(AuthorId).ok_or_else(|| arg(ArgError { name: "author", expected: "64 hex characters" }))
}
