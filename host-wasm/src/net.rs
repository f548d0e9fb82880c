//! Sync with native peers over iroh, through a relay (feature `iroh`; the package's
//! `xaeroflux-wasm/net` entry).
//!
//! A browser cannot send UDP, so its iroh endpoint reaches peers only through an iroh relay
//! (a WebSocket to the relay server). [`Store::connect`] binds such an endpoint, dials the
//! peer with the ALPN of XSP ([`XSP_ALPN`], the same as the native `xaeroflux` crate's), opens
//! one bidirectional QUIC stream and runs a [`SyncSession`](crate::SyncSession) over it as
//! the initiator: the native peer learns the space from the HELLO, exactly as when another
//! native node dials it.
//!
//! Bytes the session sends go through an unbounded channel to a task that writes them to the
//! stream (the session produces at most a frame at a time and stops when the peer's
//! flow-control window is full, so the queue stays bounded by XSP's limits); a second task
//! reads the stream into the session.

use core::fmt;
use std::cell::RefCell;
use std::rc::Rc;

use iroh::endpoint::presets;
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMap, RelayMode, RelayUrl, SecretKey};
use js_sys::{Function, Uint8Array};
use wasm_bindgen::prelude::*;
use xaeroflux_core::xsp::Role;

use crate::error::{ArgError, ErrorCode, JsError};
use crate::hex;
use crate::js::{Obj, prop, prop_str};
use crate::store::Store;
use crate::sync::{self, SyncSession};

/// The ALPN of XSP version 1 over QUIC (as `xaeroflux::net::XSP_ALPN`).
pub const XSP_ALPN: &[u8] = b"xaeroflux/xsp/1";

/// Why a connection could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// An option is missing or invalid.
    Arg(ArgError),
    /// The iroh endpoint could not start.
    Bind(String),
    /// The peer could not be reached through the relay, or refused the protocol.
    Connect(String),
    /// The stream could not be opened.
    Stream(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Arg(e) => write!(f, "{e}"),
            Self::Bind(e) => write!(f, "cannot start the iroh endpoint: {e}"),
            Self::Connect(e) => write!(f, "cannot connect to the peer through the relay: {e}"),
            Self::Stream(e) => write!(f, "cannot open the sync stream: {e}"),
        }
    }
}

impl JsError for ConnectError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Arg(_) => ErrorCode::InvalidArgument,
            _ => ErrorCode::Sync,
        }
    }
}

/// A live connection to a peer: its iroh endpoint, and the sync session over it.
#[wasm_bindgen]
pub struct Connection {
    endpoint: Endpoint,
    conn: iroh::endpoint::Connection,
    session: Rc<RefCell<Option<SyncSession>>>,
}

#[wasm_bindgen]
impl Connection {
    /// The peer's node id (hex).
    #[wasm_bindgen(getter)]
    pub fn peer(&self) -> String {
        self.conn.remote_id().to_string()
    }

    /// This browser's node id for this connection (hex; a fresh one per connection).
    #[wasm_bindgen(getter, js_name = nodeId)]
    pub fn node_id(&self) -> String {
        self.endpoint.id().to_string()
    }

    /// Whether the sync session has ended.
    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        self.session.borrow().as_ref().is_none_or(SyncSession::closed)
    }

    /// Reads events of a feed from the peer without storing them, as
    /// [`SyncSession::fetch_events`] (`session.fetchEvents`).
    #[wasm_bindgen(js_name = fetchEvents, unchecked_return_type = "Promise<FetchedEvents>")]
    pub fn fetch_events(
        &self,
        author: &str,
        #[wasm_bindgen(unchecked_param_type = "FetchRange")] range: JsValue,
    ) -> Result<js_sys::Promise, JsValue> {
        match &*self.session.borrow() {
            Some(s) => s.fetch_events(author, range),
            None => Err(ConnectError::Stream(String::from("no session")).to_js()),
        }
    }

    /// Proves an event of a feed with the peer's help, as [`SyncSession::fetch_proof`]
    /// (`session.fetchProof`).
    #[wasm_bindgen(js_name = fetchProof, unchecked_return_type = "Promise<ProofFile>")]
    pub fn fetch_proof(&self, author: &str, seq: f64) -> Result<js_sys::Promise, JsValue> {
        match &*self.session.borrow() {
            Some(s) => s.fetch_proof(author, seq),
            None => Err(ConnectError::Stream(String::from("no session")).to_js()),
        }
    }

    /// Checks a signed head seen before against the peer's feed, as
    /// [`SyncSession::fetch_consistency`] (`session.fetchConsistency`).
    #[wasm_bindgen(js_name = fetchConsistency, unchecked_return_type = "Promise<FetchedConsistency>")]
    pub fn fetch_consistency(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SignedHeadInfo | Uint8Array | string")] head: JsValue,
    ) -> Result<js_sys::Promise, JsValue> {
        match &*self.session.borrow() {
            Some(s) => s.fetch_consistency(head),
            None => Err(ConnectError::Stream(String::from("no session")).to_js()),
        }
    }

    /// Changes the feeds the session fetches and stores, as [`SyncSession::set_fetch`]
    /// (`session.setFetch`).
    #[wasm_bindgen(js_name = setFetch)]
    pub fn set_fetch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "\"all\" | \"none\" | string[]")] fetch: JsValue,
    ) -> Result<(), JsValue> {
        match &*self.session.borrow() {
            Some(s) => s.set_fetch(fetch),
            None => Err(ConnectError::Stream(String::from("no session")).to_js()),
        }
    }

    /// Ends the session, then the connection and the endpoint.
    pub fn close(&self) {
        if let Some(s) = &*self.session.borrow() {
            s.close();
        }
        let ep = self.endpoint.clone();
        wasm_bindgen_futures::spawn_local(async move {
            // Give the session's closing frame a moment to leave, then close everything.
            crate::platform::sleep_ms(100.0).await;
            ep.close().await;
        });
    }
}

fn arg(e: ArgError) -> ConnectError {
    ConnectError::Arg(e)
}

#[wasm_bindgen]
impl Store {
    /// Connects to a peer through an iroh relay and syncs with it live (XSP over one QUIC
    /// stream): `{ relayUrl, peer, space, onEvent }`, `peer` being the peer's node id (hex).
    /// Resolves once the stream is open; the session then reports through `onEvent`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Connection>")]
    pub fn connect(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ConnectOptions")] options: JsValue,
    ) -> Result<js_sys::Promise, JsValue> {
        self.inner.check_open()?;
        let relay = prop_str(&options, "relayUrl")
            .map_err(|e| arg(e).to_js())?
            .ok_or_else(|| arg(ArgError { name: "relayUrl", expected: "the URL of an iroh relay" }).to_js())?;
        let relay: RelayUrl = relay
            .parse()
            .map_err(|_| arg(ArgError { name: "relayUrl", expected: "the URL of an iroh relay" }).to_js())?;
        let peer = prop_str(&options, "peer").map_err(|e| arg(e).to_js())?.unwrap_or_default();
        let peer = hex::decode32(&peer)
            .and_then(|b| EndpointId::from_bytes(&b).ok())
            .ok_or_else(|| arg(ArgError { name: "peer", expected: "a node id: 64 hex characters" }).to_js())?;
        let on_event = match prop(&options, "onEvent") {
            None => None,
            Some(f) => Some(f.dyn_into::<Function>().map_err(|_| {
                arg(ArgError { name: "onEvent", expected: "a function (event: SyncEvent) => void" }).to_js()
            })?),
        };
        let (config, _, feeds) = sync::config(&self.inner, &options)?;
        let secret = crate::platform::random_array::<32>()
            .ok_or_else(|| ConnectError::Bind(String::from("no crypto.getRandomValues")).to_js())?;
        let inner = self.inner.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let endpoint = Endpoint::builder(presets::Minimal)
                .secret_key(SecretKey::from_bytes(&secret))
                .relay_mode(RelayMode::Custom(RelayMap::from(relay.clone())))
                .bind()
                .await
                .map_err(|e| ConnectError::Bind(e.to_string()).to_js())?;
            let addr = EndpointAddr::new(peer).with_relay_url(relay);
            let conn = match endpoint.connect(addr, XSP_ALPN).await {
                Ok(c) => c,
                Err(e) => {
                    endpoint.close().await;
                    return Err(ConnectError::Connect(e.to_string()).to_js());
                }
            };
            let (mut send, mut recv) = match conn.open_bi().await {
                Ok(s) => s,
                Err(e) => {
                    endpoint.close().await;
                    return Err(ConnectError::Stream(e.to_string()).to_js());
                }
            };

            // Outgoing: the session's `send` queues; one task writes in order.
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
            wasm_bindgen_futures::spawn_local(async move {
                while let Some(bytes) = rx.recv().await {
                    if send.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                let _ = send.finish();
            });
            let send_fn = Closure::<dyn FnMut(Uint8Array)>::new(move |b: Uint8Array| {
                let _ = tx.send(b.to_vec());
            });
            let session = sync::start(
                &inner,
                (config, Role::Initiator, feeds),
                send_fn.into_js_value().unchecked_into(),
                on_event.clone(),
            );
            let slot = Rc::new(RefCell::new(Some(session)));

            // Incoming: read the stream into the session until it ends.
            let reader = slot.clone();
            let events = on_event;
            wasm_bindgen_futures::spawn_local(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match recv.read(&mut buf).await {
                        Ok(Some(n)) => {
                            if let Some(s) = &*reader.borrow() {
                                s.receive(&buf[..n]);
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            if let Some(f) = &events {
                                let ev = Obj::new().set("type", "transportError").set("error", e.to_string()).build();
                                let _ = f.call1(&JsValue::NULL, &ev);
                            }
                            break;
                        }
                    }
                }
                if let Some(s) = &*reader.borrow() {
                    s.close();
                }
            });
            Ok(Connection { endpoint, conn, session: slot }.into())
        }))
    }
}
