//! Sync: XSP sessions between a browser store and its peers, over any byte stream.
//!
//! [`SyncSession`] drives one [`xaeroflux_core::xsp::Session`] for a store. It owns no
//! transport: JavaScript hands it the bytes that arrive (`receive`) and gives it a `send`
//! function for the bytes to go out. Any reliable, ordered stream works: an iroh
//! connection through a relay (see [`crate::net`] where built with it), a WebSocket, a
//! `MessagePort` or a pair of `BroadcastChannel` names between two tabs.
//!
//! The driver follows the session's call rules: after every input, timer or store change
//! it drains the session's events (storing verified batches, adopting heads, recording
//! forks), then its output, then re-arms the timer. Calls never nest: a `send` that makes
//! the peer answer synchronously queues the answer, which the running loop then takes.

mod fetch;
mod view;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, VecDeque};
use std::rc::{Rc, Weak};

use js_sys::{Function, Uint8Array};
use wasm_bindgen::prelude::*;
use xaeroflux_core::AuthorId;
use xaeroflux_core::memstore::AdoptError;
use xaeroflux_core::xsp::{Config, Event, Role, Session};

pub use view::{Feeds, View};

use crate::error::{ArgError, JsError};
use crate::hex;
use crate::js::{Obj, prop, prop_str};
use crate::platform::{self, Timer};
use crate::store::{Change, FeedListener, Inner, Store, commit_later};

/// Size of the buffer output is taken in.
const CHUNK: usize = 64 * 1024;

/// The space of sessions that name none: 32 zero bytes.
pub const DEFAULT_SPACE: [u8; 32] = [0; 32];

struct Driver {
    store: Rc<Inner>,
    session: RefCell<Session<View>>,
    send: Function,
    on_event: Option<Function>,
    busy: Cell<bool>,
    inbox: RefCell<VecDeque<Vec<u8>>>,
    updated: RefCell<BTreeSet<AuthorId>>,
    /// Feeds whose want may have changed (fork evidence recorded).
    rewanted: RefCell<BTreeSet<AuthorId>>,
    timed_out: Cell<bool>,
    close_requested: Cell<bool>,
    closed: Cell<bool>,
    timer: RefCell<Option<Timer>>,
    me: RefCell<Weak<Driver>>,
    /// Reads on demand under way (`fetchEvents`).
    fetches: RefCell<fetch::Fetches>,
}

impl FeedListener for Driver {
    fn feed_updated(&self, author: &AuthorId) {
        self.updated.borrow_mut().insert(*author);
        self.run();
    }

    fn wants_changed(&self, author: &AuthorId) {
        self.rewanted.borrow_mut().insert(*author);
        self.run();
    }

    fn store_closed(&self) {
        self.close_requested.set(true);
        self.run();
    }
}

impl Driver {
    fn emit(&self, ev: JsValue) {
        if let Some(f) = &self.on_event {
            // A listener that throws must not break the session.
            let _ = f.call1(&JsValue::NULL, &ev);
        }
    }

    /// Processes everything pending until nothing is left, then re-arms the timer.
    fn run(&self) {
        if self.busy.get() || self.closed.get() {
            return;
        }
        self.busy.set(true);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let now = platform::monotonic_us();
            let mut work = false;
            while let Some(bytes) = self.inbox.borrow_mut().pop_front() {
                self.session.borrow_mut().handle_input(now, &bytes);
                work = true;
            }
            let updated = std::mem::take(&mut *self.updated.borrow_mut());
            for a in &updated {
                self.session.borrow_mut().feed_updated(a);
                work = true;
            }
            let rewanted = std::mem::take(&mut *self.rewanted.borrow_mut());
            for a in &rewanted {
                // A peer too old to take a want back goes on sending the feed; the store
                // refuses what comes (it takes no more of a forked feed).
                let _ = self.session.borrow_mut().wants_changed(a);
                work = true;
            }
            if self.timed_out.replace(false) {
                self.session.borrow_mut().handle_timeout(now);
                work = true;
            }
            if self.close_requested.replace(false) {
                self.session.borrow_mut().close();
                work = true;
            }
            loop {
                let ev = self.session.borrow_mut().poll_event();
                let Some(ev) = ev else { break };
                work = true;
                self.on_session_event(ev);
            }
            loop {
                let n = self.session.borrow_mut().poll_transmit(&mut buf);
                let Some(n) = n else { break };
                work = true;
                let bytes = Uint8Array::from(&buf[..n]);
                if let Err(e) = self.send.call1(&JsValue::NULL, &bytes) {
                    // The transport is gone: there is nobody left to tell.
                    self.emit(Obj::new().set("type", "transportError").set("error", e).build());
                    self.session.borrow_mut().close();
                }
            }
            if !work {
                break;
            }
        }
        if self.session.borrow().is_closed() && !self.closed.get() {
            // Closed without a Closed event reaching us (cannot happen; be safe).
            self.finish();
        }
        self.arm_timer();
        self.busy.set(false);
    }

    fn arm_timer(&self) {
        let deadline = if self.closed.get() { None } else { self.session.borrow().poll_timeout() };
        let Some(at) = deadline else {
            self.timer.borrow_mut().take();
            return;
        };
        let ms = (at.saturating_sub(platform::monotonic_us()) as f64 / 1000.0).ceil();
        let me = self.me.borrow().clone();
        let f = Closure::<dyn FnMut()>::new(move || {
            if let Some(d) = me.upgrade() {
                d.timed_out.set(true);
                d.run();
            }
        });
        *self.timer.borrow_mut() = Some(Timer::start(ms, f));
    }

    fn finish(&self) {
        self.closed.set(true);
        self.timer.borrow_mut().take();
    }

    fn on_session_event(&self, ev: Event) {
        let store = &self.store;
        match ev {
            Event::Connected { peer_page_size, capabilities, .. } => {
                let live = capabilities.contains(xaeroflux_core::xsp::Capabilities::LIVE);
                self.emit(
                    Obj::new().set("type", "connected").set("peerPageSize", peer_page_size).set("live", live).build(),
                );
            }
            Event::RemoteHead(h) => {
                self.emit(Obj::new().set("type", "head").set("head", crate::js::head(&h)).build());
                self.retry_fetches();
            }
            Event::Range(range) => self.on_range(range),
            Event::Proof(proof) => self.on_proof(proof),
            Event::RequestFailed { id, status } => self.on_request_failed(id, status),
            // Pages of a feed no longer fetched (`setFetch`), sent before the peer read the
            // UNWANT: verified, but not stored.
            Event::Verified(batch) if !self.session.borrow().source().1.contains(&batch.author()) => {}
            Event::Verified(batch) => {
                let author = batch.author();
                let result = store.mem.borrow_mut().store_batch(&batch);
                match result {
                    Ok(stored) => {
                        if !stored.seqs.is_empty() {
                            let change =
                                Change { author, start: stored.seqs.start, end: stored.seqs.end, local: false };
                            store.touch(author, stored.seqs.start, Some(change));
                        } else if stored.head.is_some() {
                            store.touch_state(author);
                        }
                        commit_later(store);
                        store.notify_sessions(&author);
                        self.emit(
                            Obj::new()
                                .set("type", "events")
                                .set("author", hex::encode(author.as_bytes()))
                                .num("start", stored.seqs.start)
                                .num("end", stored.seqs.end)
                                .build(),
                        );
                    }
                    Err(e) => self.emit(
                        Obj::new()
                            .set("type", "rejected")
                            .set("author", hex::encode(author.as_bytes()))
                            .set("reason", e.to_string())
                            .build(),
                    ),
                }
            }
            Event::HeadConfirmed(h) => {
                let result = store.mem.borrow_mut().adopt_head(&h);
                match result {
                    Ok(true) => {
                        store.touch_state(h.author);
                        commit_later(store);
                        store.notify_sessions(&h.author);
                    }
                    Ok(false) => {}
                    Err(AdoptError::Fork { evidence: Some(ev) }) => self.record_fork(&ev),
                    Err(e) => self.emit(
                        Obj::new()
                            .set("type", "rejected")
                            .set("author", hex::encode(h.author.as_bytes()))
                            .set("reason", e.to_string())
                            .build(),
                    ),
                }
            }
            Event::Fork(ev) => self.record_fork(&ev),
            Event::Synced => {
                self.emit(Obj::new().set("type", "synced").build());
                self.retry_fetches();
            }
            Event::App { channel, data } => self.emit(
                Obj::new().set("type", "app").num("channel", channel).set("data", Uint8Array::from(&data[..])).build(),
            ),
            Event::Closed(c) => {
                self.finish();
                self.fail_fetches();
                self.emit(
                    Obj::new()
                        .set("type", "closed")
                        .set("code", c.code.name())
                        .set("byPeer", c.by_peer)
                        .set("reason", c.error.map(|e| e.to_string()))
                        .build(),
                );
            }
            _ => {}
        }
    }

    fn record_fork(&self, ev: &xaeroflux_core::xsp::ForkEvidence) {
        let store = &self.store;
        if store.record_fork(ev) == Ok(true) {
            commit_later(store);
        }
        self.emit(Obj::new().set("type", "fork").set("author", hex::encode(ev.author().as_bytes())).build());
    }
}

/// One XSP session between a store and a peer, over a transport JavaScript provides.
#[wasm_bindgen]
pub struct SyncSession {
    driver: Rc<Driver>,
}

#[wasm_bindgen]
impl SyncSession {
    /// Hands the session bytes received from the peer (any amount, cut anywhere).
    pub fn receive(&self, #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.driver.inbox.borrow_mut().push_back(bytes.to_vec());
        self.driver.run();
    }

    /// Ends the session normally (the peer is told).
    pub fn close(&self) {
        self.driver.close_requested.set(true);
        self.driver.run();
    }

    /// Whether the session has ended.
    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        self.driver.closed.get()
    }

    /// Whether both sides hold everything the other announced.
    #[wasm_bindgen(getter)]
    pub fn synced(&self) -> bool {
        self.driver.session.borrow().is_synced()
    }

    /// Changes the feeds this session fetches and stores (the option `fetch`: `"all"`,
    /// `"none"` or an array of authors). A feed now fetched is asked for at once; one no
    /// longer fetched stops coming: the peer is told (XSP's UNWANT) and the session goes on
    /// without it (with a peer too old to take a want back, a feed already coming keeps
    /// coming until the session ends). What is stored stays.
    #[wasm_bindgen(js_name = setFetch)]
    pub fn set_fetch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "\"all\" | \"none\" | string[]")] fetch: JsValue,
    ) -> Result<(), JsValue> {
        let feeds = feeds_of(&fetch)?;
        {
            let mut session = self.driver.session.borrow_mut();
            let was = &session.source().1;
            let changed: Vec<AuthorId> =
                session.remote_heads().map(|h| h.author).filter(|a| was.contains(a) != feeds.contains(a)).collect();
            session.source_mut().1 = feeds;
            for a in &changed {
                // `true`: a peer without UNWANT goes on sending it (see above).
                let _ = session.wants_changed(a);
            }
        }
        self.driver.run();
        Ok(())
    }
}

fn arg(e: ArgError) -> JsValue {
    e.to_js()
}

/// Builds the session configuration of a store from the JS options.
pub(crate) fn config(store: &Inner, options: &JsValue) -> Result<(Config, Role, Feeds), JsValue> {
    let space = match prop_str(options, "space").map_err(arg)? {
        Some(s) => hex::decode32(&s).ok_or_else(|| arg(ArgError { name: "space", expected: "64 hex characters" }))?,
        None => DEFAULT_SPACE,
    };
    let role = match prop_str(options, "role").map_err(arg)?.as_deref() {
        Some("initiator") | None => Role::Initiator,
        Some("responder") => Role::Responder,
        Some(_) => return Err(arg(ArgError { name: "role", expected: "\"initiator\" or \"responder\"" })),
    };
    let live = prop(options, "live").is_none_or(|v| v.as_bool() != Some(false));
    let feeds = feeds(options)?;
    let page = store.mem.borrow().page_config().page_size();
    let config = Config::new(space)
        .with_live(live)
        .with_page_size(page)
        .map_err(|e| crate::error::make_js_error(crate::error::ErrorCode::InvalidArgument, &e.to_string()))?;
    Ok((config, role, feeds))
}

/// The option `fetch`: `"all"` (the default), `"none"`, or an array of authors (hex).
fn feeds(options: &JsValue) -> Result<Feeds, JsValue> {
    match prop(options, "fetch") {
        Some(v) => feeds_of(&v),
        None => Ok(Feeds::All),
    }
}

/// A `fetch` value: `"all"`, `"none"`, or an array of authors (hex).
fn feeds_of(v: &JsValue) -> Result<Feeds, JsValue> {
    let bad = || {
        arg(ArgError { name: "fetch", expected: "\"all\", \"none\" or an array of authors (64 hex characters each)" })
    };
    match v.as_string().as_deref() {
        Some("all") => return Ok(Feeds::All),
        Some("none") => return Ok(Feeds::Only(BTreeSet::new())),
        Some(_) => return Err(bad()),
        None => {}
    }
    if !js_sys::Array::is_array(v) {
        return Err(bad());
    }
    let mut set = BTreeSet::new();
    for a in js_sys::Array::from(v).iter() {
        let hex = a.as_string().ok_or_else(bad)?;
        set.insert(AuthorId(hex::decode32(&hex).ok_or_else(bad)?));
    }
    Ok(Feeds::Only(set))
}

/// Starts a session of `store` with `config`, sending through `send`.
pub(crate) fn start(
    store: &Rc<Inner>,
    (config, role, feeds): (Config, Role, Feeds),
    send: Function,
    on_event: Option<Function>,
) -> SyncSession {
    let session = Session::new(config, role, platform::monotonic_us(), View(store.clone(), feeds));
    let driver = Rc::new(Driver {
        store: store.clone(),
        session: RefCell::new(session),
        send,
        on_event,
        busy: Cell::new(false),
        inbox: RefCell::new(VecDeque::new()),
        updated: RefCell::new(BTreeSet::new()),
        rewanted: RefCell::new(BTreeSet::new()),
        timed_out: Cell::new(false),
        close_requested: Cell::new(false),
        closed: Cell::new(false),
        timer: RefCell::new(None),
        me: RefCell::new(Weak::new()),
        fetches: RefCell::default(),
    });
    *driver.me.borrow_mut() = Rc::downgrade(&driver);
    let listener: Rc<dyn FeedListener> = driver.clone();
    store.sessions.borrow_mut().push(Rc::downgrade(&listener));
    driver.run();
    SyncSession { driver }
}

#[wasm_bindgen]
impl Store {
    /// Starts an XSP session with a peer over a transport you provide: `options.send` is
    /// called with each chunk of bytes for the peer, and you pass what arrives from the peer
    /// to `session.receive(bytes)`. The two ends take different `role`s. With `live` (the
    /// default) the session stays open and pushes new events both ways as they are committed.
    /// `fetch` chooses the feeds the session fetches and stores: `"all"` (the default),
    /// `"none"`, or an array of authors; read others with `session.fetchEvents`.
    #[wasm_bindgen(unchecked_return_type = "SyncSession")]
    pub fn sync(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SyncOptions")] options: JsValue,
    ) -> Result<SyncSession, JsValue> {
        self.inner.check_open()?;
        let send = prop(&options, "send")
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(|| arg(ArgError { name: "send", expected: "a function (bytes: Uint8Array) => void" }))?;
        let on_event =
            match prop(&options, "onEvent") {
                None => None,
                Some(f) => Some(f.dyn_into::<Function>().map_err(|_| {
                    arg(ArgError { name: "onEvent", expected: "a function (event: SyncEvent) => void" })
                })?),
            };
        let settings = config(&self.inner, &options)?;
        Ok(start(&self.inner, settings, send, on_event))
    }
}
