//! `Store`: the JavaScript class of a Xaeroflux store that persists in IndexedDB.
//!
//! Call rules (also in the package README):
//! - `Store.open(name)` takes an exclusive Web Lock named after the store, so one tab (or
//!   worker) has a store open at a time; another gets a `LOCKED` error. Different names are
//!   different stores with different authors.
//! - Writes (`append`, `appendBatch`, events from peers) change the store at once, so reads
//!   see them immediately; their promise resolves once IndexedDB has committed them.
//! - Reads are synchronous and copy what they return into plain JavaScript objects.
//! - `subscribe(listener)` reports changes after they are committed.

mod archive;
mod forks;
mod inner;
mod kept;
mod open;

use std::rc::Rc;

use js_sys::Array;
use wasm_bindgen::prelude::*;
use xaeroflux_core::memstore::{AppendError, NewEvent, ProveError};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::sealed::SpaceSecret;
use xaeroflux_core::{AuthorId, EventFlags};

pub use archive::archive_info;
#[cfg(test)]
pub(crate) use inner::Durable;
pub(crate) use inner::{Change, FeedListener, FetchedRead, Inner, commit_later};
pub use open::OpenError;
use open::Options;

use crate::error::{ArgError, ErrorCode, JsError, make_js_error};
use crate::hex;
use crate::js::{self, Obj, prop, prop_num, prop_str};
use crate::platform;

fn arg(e: ArgError) -> JsValue {
    e.to_js()
}

impl JsError for AppendError {
    fn code(&self) -> ErrorCode {
        match self {
            AppendError::Event { error: xaeroflux_core::event::EventDecodeError::TooLarge { .. }, .. } => {
                ErrorCode::PayloadTooLarge
            }
            AppendError::Event { .. } => ErrorCode::InvalidArgument,
            _ => ErrorCode::Closed,
        }
    }
}

impl JsError for ProveError {
    fn code(&self) -> ErrorCode {
        match self {
            ProveError::UnknownFeed(_) | ProveError::OutOfRange { .. } => ErrorCode::NotFound,
            _ => ErrorCode::InvalidArgument,
        }
    }
}

fn parse_options(options: &JsValue) -> Result<Options, JsValue> {
    let page = match prop_num(options, "pageSize").map_err(arg)? {
        Some(n) => PageConfig::new(n as u32).map_err(|e| OpenError::PageSize(e).to_js())?,
        None => PageConfig::default(),
    };
    let secret = match prop(options, "secretKey") {
        Some(v) => {
            let b = js::bytes_or_hex(&v, "secretKey").map_err(arg)?;
            let n = b.len();
            Some(<[u8; 32]>::try_from(b).map_err(|_| OpenError::SecretKey(n).to_js())?)
        }
        None => None,
    };
    let strict = match prop_str(options, "durability").map_err(arg)?.as_deref() {
        None | Some("strict") => true,
        Some("relaxed") => false,
        Some(_) => return Err(arg(ArgError { name: "durability", expected: "\"strict\" or \"relaxed\"" })),
    };
    let fetch_cache = match prop_num(options, "fetchCache").map_err(arg)? {
        Some(n) if n >= 0.0 && n.fract() == 0.0 => n.min(usize::MAX as f64) as usize,
        Some(_) => return Err(arg(ArgError { name: "fetchCache", expected: "a number of bytes (0 or more)" })),
        None => inner::FETCH_CACHE,
    };
    let persist_fetch_cache = match prop(options, "persistFetchCache") {
        None => true,
        Some(v) => v.as_bool().ok_or_else(|| arg(ArgError { name: "persistFetchCache", expected: "a boolean" }))?,
    };
    Ok(Options { page, secret, strict, fetch_cache, persist_fetch_cache })
}

/// What `append` and `appendBatch` were asked to do besides storing the payloads.
struct AppendOptions {
    kind: u16,
    flags: u8,
    /// Seal every payload with this space secret and set `ENCRYPTED`.
    secret: Option<SpaceSecret>,
}

/// A Xaeroflux store: the local author's feed and replicas of other feeds, persisted in
/// IndexedDB (or only in memory), with Merkle proofs for every event.
#[wasm_bindgen]
pub struct Store {
    pub(crate) inner: Rc<Inner>,
}

/// A subscription made by `Store.subscribe`.
#[wasm_bindgen]
pub struct Subscription {
    inner: std::rc::Weak<Inner>,
    id: u32,
}

#[wasm_bindgen]
impl Subscription {
    /// Stops the listener. Calling it again does nothing.
    pub fn unsubscribe(&self) {
        if let Some(i) = self.inner.upgrade() {
            i.listeners.borrow_mut().remove(&self.id);
        }
    }
}

impl Store {
    fn author_arg(&self, author: Option<String>) -> Result<AuthorId, JsValue> {
        match author {
            Some(a) => hex::author(&a, "author").map_err(arg),
            None => Ok(self.inner.author),
        }
    }

    fn payloads(list: &JsValue) -> Result<Vec<Vec<u8>>, JsValue> {
        let arr = list
            .dyn_ref::<Array>()
            .ok_or_else(|| arg(ArgError { name: "payloads", expected: "an array of strings or Uint8Arrays" }))?;
        arr.iter().map(|p| js::payload_bytes(&p, "payloads").map_err(arg)).collect()
    }

    async fn append_many(inner: Rc<Inner>, payloads: Vec<Vec<u8>>, opts: AppendOptions) -> Result<JsValue, JsValue> {
        inner.check_open()?;
        let AppendOptions { kind, mut flags, secret } = opts;
        let payloads = match secret {
            Some(secret) => {
                flags |= EventFlags::ENCRYPTED.0;
                crate::secret::seal_all(&secret, &inner.author, &payloads).map_err(|e| e.to_js())?
            }
            None => payloads,
        };
        let ts = platform::now_us();
        let seqs = {
            let mut mem = inner.mem.borrow_mut();
            let events = payloads.iter().map(|p| NewEvent::new(ts, p).kind(kind).flags(EventFlags(flags)));
            mem.append_batch(events).map_err(|e| e.to_js())?
        };
        if !seqs.is_empty() {
            let change = inner::Change { author: inner.author, start: seqs.start, end: seqs.end, local: true };
            inner.touch(inner.author, seqs.start, Some(change));
        }
        inner::commit(&inner).await?;
        let mem = inner.mem.borrow();
        Ok(js::array(mem.range(&inner.author, seqs).map(|e| js::event(&e))).into())
    }

    /// The options of `append` and `appendBatch` (`AppendOptions`).
    fn append_options(options: Option<JsValue>) -> Result<AppendOptions, JsValue> {
        let options = options.unwrap_or(JsValue::UNDEFINED);
        let (kind, flags) = Self::kind_flags(&options)?;
        let secret =
            prop(&options, "secret").map(|s| crate::secret::secret_arg(&s)).transpose().map_err(|e| e.to_js())?;
        // The flag alone encrypts nothing: the plaintext would go out marked as sealed.
        if secret.is_none() && EventFlags(flags).contains(EventFlags::ENCRYPTED) {
            return Err(arg(ArgError {
                name: "flags",
                expected: "no ENCRYPTED bit (1) without a secret: append with { secret } to encrypt",
            }));
        }
        Ok(AppendOptions { kind, flags, secret })
    }

    fn kind_flags(options: &JsValue) -> Result<(u16, u8), JsValue> {
        let kind = prop_num(options, "kind").map_err(arg)?.unwrap_or(0.0);
        let kind = u16::try_from(js::index(kind, "kind").map_err(arg)?)
            .map_err(|_| arg(ArgError { name: "kind", expected: "an integer in 0..=65535" }))?;
        Ok((kind, js::prop_flags(options).map_err(arg)?))
    }
}

impl Store {
    /// `Store.open` for Rust callers: opens (or creates) the persisted store `name`.
    pub async fn open_persistent(name: String, options: JsValue) -> Result<Store, JsValue> {
        Self::open_with(name, parse_options(&options)?).await
    }

    async fn open_with(name: String, options: Options) -> Result<Store, JsValue> {
        let opts = options.clone();
        Self::open_locked(name, &options, async move |db| open::open_db(db, &opts).await.map_err(|e| e.to_js())).await
    }

    /// A store in memory around `mem` (not persisted).
    fn in_memory(mem: xaeroflux_core::memstore::MemStore, options: &Options) -> Store {
        Store { inner: Rc::new(Inner::new(None, mem, None, options.strict, 0, options.fetch_cache, false)) }
    }

    /// Takes the Web Lock of the store `name`, opens its database and makes the store with
    /// `make` (its in-memory store, the arrival runs persisted, the kept reads found). On
    /// failure the database is closed and the lock released.
    async fn open_locked(
        name: String,
        options: &Options,
        make: impl AsyncFnOnce(&web_sys::IdbDatabase) -> Result<open::Opened, JsValue>,
    ) -> Result<Store, JsValue> {
        let release = platform::acquire_lock(&crate::idb::db_name(&name))
            .await?
            .ok_or_else(|| OpenError::Locked(name.clone()).to_js())?;
        let result = async {
            let db = crate::idb::open(&name).await.map_err(|e| OpenError::Storage(e).to_js())?;
            match make(&db).await {
                Ok(o) => Ok((db, o)),
                Err(e) => {
                    db.close();
                    Err(e)
                }
            }
        }
        .await;
        let (db, opened) = match result {
            Ok(x) => x,
            Err(e) => {
                let _ = release.call0(&JsValue::NULL);
                return Err(e);
            }
        };
        let inner = Inner::new(
            Some(name),
            opened.mem,
            Some(db),
            options.strict,
            opened.runs_saved,
            options.fetch_cache,
            options.persist_fetch_cache,
        );
        inner.restore_fetched(opened.fetched);
        *inner.release.borrow_mut() = Some(release);
        Ok(Store { inner: Rc::new(inner) })
    }
}

#[wasm_bindgen]
impl Store {
    /// Opens (or creates) the store `name`, persisted in IndexedDB. Everything stored is
    /// verified again while opening; a damaged database gives a `CORRUPT` error.
    #[wasm_bindgen(unchecked_return_type = "Promise<Store>")]
    pub fn open(
        name: String,
        #[wasm_bindgen(unchecked_optional_param_type = "StoreOptions")] options: Option<JsValue>,
    ) -> Result<js_sys::Promise, JsValue> {
        let options = parse_options(&options.unwrap_or(JsValue::UNDEFINED))?;
        Ok(wasm_bindgen_futures::future_to_promise(
            async move { Self::open_with(name, options).await.map(JsValue::from) },
        ))
    }

    /// A store that lives only in memory (Node.js, tests, throwaway sessions).
    #[wasm_bindgen(js_name = openInMemory)]
    pub fn open_in_memory(
        #[wasm_bindgen(unchecked_optional_param_type = "StoreOptions")] options: Option<JsValue>,
    ) -> Result<Store, JsValue> {
        let options = parse_options(&options.unwrap_or(JsValue::UNDEFINED))?;
        let key = open::new_key(&options).map_err(|e| e.to_js())?;
        Ok(Store::in_memory(xaeroflux_core::memstore::MemStore::new(key, options.page), &options))
    }

    /// Deletes the persisted store `name` (it must not be open anywhere).
    #[wasm_bindgen(js_name = delete, unchecked_return_type = "Promise<void>")]
    pub fn delete_store(name: String) -> js_sys::Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            crate::idb::delete(&name).await.map_err(|e| e.to_js())?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The store's name (`undefined` for an in-memory store).
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> Option<String> {
        self.inner.name.clone()
    }

    /// Forgets every answer of reads on demand the store kept for later reads (the options
    /// `fetchCache` and `persistFetchCache`), in memory and in IndexedDB: later reads ask a
    /// peer again. Returns how many answers were forgotten.
    #[wasm_bindgen(js_name = clearFetchCache)]
    pub fn clear_fetch_cache(&self) -> Result<u32, JsValue> {
        self.inner.check_open()?;
        let dropped = self.inner.fetched.borrow_mut().clear();
        self.inner.drop_reads(&dropped);
        Ok(u32::try_from(dropped.len()).unwrap_or(u32::MAX))
    }

    /// Whether the store persists in IndexedDB.
    #[wasm_bindgen(getter)]
    pub fn persistent(&self) -> bool {
        self.inner.db.is_some()
    }

    /// The local author (hex public key): the feed this store appends to.
    #[wasm_bindgen(getter)]
    pub fn author(&self) -> String {
        hex::encode(self.inner.author.as_bytes())
    }

    /// Number of events in the local author's feed.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> f64 {
        self.inner.mem.borrow().feed_len(&self.inner.author) as f64
    }

    /// Number of events held, all feeds together.
    #[wasm_bindgen(getter, js_name = eventCount)]
    pub fn event_count(&self) -> f64 {
        self.inner.mem.borrow().event_count() as f64
    }

    /// The MMR root (hex) of the local author's feed.
    #[wasm_bindgen(getter)]
    pub fn root(&self) -> String {
        hex::encode(self.inner.mem.borrow().mmr_root().as_bytes())
    }

    /// The page size in bytes.
    #[wasm_bindgen(getter, js_name = pageSize)]
    pub fn page_size(&self) -> u32 {
        self.inner.mem.borrow().page_config().page_size()
    }

    /// Whether the store was closed (or stopped after a failed write).
    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        self.inner.closed.borrow().is_some()
    }

    /// The latest signed head of `author`'s feed (default: the local author), or
    /// `undefined` before the first event.
    #[wasm_bindgen(unchecked_return_type = "SignedHeadInfo | undefined")]
    pub fn head(&self, author: Option<String>) -> Result<JsValue, JsValue> {
        let a = self.author_arg(author)?;
        Ok(self.inner.mem.borrow().head(&a).map_or(JsValue::UNDEFINED, |h| js::head(&h)))
    }

    /// Appends one event (a string is stored as UTF-8) to the local feed. Resolves with the
    /// stored event once it is committed.
    ///
    /// With `options.secret` (a space secret: 64 hex characters or 32 bytes, see
    /// `generateSpaceSecret`) the payload is encrypted for the members of the space and the
    /// event has the `ENCRYPTED` flag (bit 0); read it back with `decryptEvent`.
    #[wasm_bindgen(unchecked_return_type = "Promise<StoredEvent>")]
    pub fn append(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | ArrayBuffer")] payload: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "AppendOptions")] options: Option<JsValue>,
    ) -> Result<js_sys::Promise, JsValue> {
        self.inner.check_open()?;
        let bytes = js::payload_bytes(&payload, "payload").map_err(arg)?;
        let opts = Self::append_options(options)?;
        let inner = self.inner.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let all = Self::append_many(inner, vec![bytes], opts).await?;
            Ok(all.unchecked_into::<Array>().get(0))
        }))
    }

    /// Appends several events at once (all or none, one signed head, one commit). With
    /// `options.secret`, every payload is encrypted, as with `append`.
    #[wasm_bindgen(js_name = appendBatch, unchecked_return_type = "Promise<StoredEvent[]>")]
    pub fn append_batch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Array<string | Uint8Array | ArrayBuffer>")] payloads: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "AppendOptions")] options: Option<JsValue>,
    ) -> Result<js_sys::Promise, JsValue> {
        self.inner.check_open()?;
        let bytes = Self::payloads(&payloads)?;
        let opts = Self::append_options(options)?;
        let inner = self.inner.clone();
        Ok(wasm_bindgen_futures::future_to_promise(Self::append_many(inner, bytes, opts)))
    }

    /// Event `seq` of `author`'s feed (default: the local author), or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "StoredEvent | undefined")]
    pub fn get(&self, seq: f64, author: Option<String>) -> Result<JsValue, JsValue> {
        self.inner.check_open()?;
        let a = self.author_arg(author)?;
        let seq = js::index(seq, "seq").map_err(arg)?;
        Ok(self.inner.mem.borrow().get(&a, seq).map_or(JsValue::UNDEFINED, |e| js::event(&e)))
    }

    /// Events `start` (inclusive) to `end` (exclusive) of `author`'s feed (default: the
    /// local author), clipped to the events held.
    #[wasm_bindgen(unchecked_return_type = "StoredEvent[]")]
    pub fn range(&self, start: f64, end: f64, author: Option<String>) -> Result<Array, JsValue> {
        self.inner.check_open()?;
        let a = self.author_arg(author)?;
        let start = js::index(start, "start").map_err(arg)?;
        let end = if end == f64::INFINITY { u64::MAX } else { js::index(end, "end").map_err(arg)? };
        Ok(js::array(self.inner.mem.borrow().range(&a, start..end).map(|e| js::event(&e))))
    }

    /// Every event held, all feeds, in the order this store received them: `limit` events
    /// from position `offset` (defaults: 0 and all).
    #[wasm_bindgen(unchecked_return_type = "StoredEvent[]")]
    pub fn list(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ListOptions")] options: Option<JsValue>,
    ) -> Result<Array, JsValue> {
        self.inner.check_open()?;
        let options = options.unwrap_or(JsValue::UNDEFINED);
        let offset = js::index(prop_num(&options, "offset").map_err(arg)?.unwrap_or(0.0), "offset").map_err(arg)?;
        let limit = match prop_num(&options, "limit").map_err(arg)? {
            None => u64::MAX,
            Some(l) if l == f64::INFINITY => u64::MAX,
            Some(l) => js::index(l, "limit").map_err(arg)?,
        };
        let mem = self.inner.mem.borrow();
        let it = mem.iter_events().skip(usize::try_from(offset).unwrap_or(usize::MAX));
        Ok(js::array(it.take(usize::try_from(limit).unwrap_or(usize::MAX)).map(|e| js::event(&e))))
    }

    /// A summary of every feed held: the local one first.
    #[wasm_bindgen(unchecked_return_type = "FeedInfo[]")]
    pub fn feeds(&self) -> Result<Array, JsValue> {
        self.inner.check_open()?;
        let mem = self.inner.mem.borrow();
        Ok(js::array(mem.feeds().map(|f| {
            Obj::new()
                .set("author", hex::encode(f.author.as_bytes()))
                .num("length", f.len)
                .num("bytes", f.bytes)
                .num("pages", f.pages)
                .set("root", mem.root(&f.author).map(|r| hex::encode(r.as_bytes())))
                .set("head", f.head.map_or(JsValue::UNDEFINED, |h| js::head(&h)))
                .set("local", f.local)
                .set("forked", f.forked)
                .build()
        })))
    }

    /// A proof file for event `seq` of `author`'s feed (default: the local author) against
    /// the feed's latest signed head: give it to anyone, who checks it with `verifyProof`
    /// (or `xf verify`) without a store.
    #[wasm_bindgen(unchecked_return_type = "ProofFile")]
    pub fn prove(&self, seq: f64, author: Option<String>) -> Result<JsValue, JsValue> {
        self.inner.check_open()?;
        let a = self.author_arg(author)?;
        let seq = js::index(seq, "seq").map_err(arg)?;
        let mem = self.inner.mem.borrow();
        let head = mem.head(&a).ok_or_else(|| {
            make_js_error(ErrorCode::NotFound, &format!("no signed head of {a} is held: nothing to prove against"))
        })?;
        if seq >= head.length {
            return Err(ProveError::OutOfRange { requested: seq, held: head.length }.to_js());
        }
        let proof = mem.inclusion_proof(&a, seq).map_err(|e| e.to_js())?;
        let ev = mem.get(&a, seq).ok_or_else(|| ProveError::OutOfRange { requested: seq, held: 0 }.to_js())?;
        Ok(crate::verify::proof_object(&ev, &proof, &head))
    }

    /// Calls `listener` with each change (`{ author, start, end, origin }`) once it is
    /// committed: local appends (`origin: "local"`) and events from peers (`"sync"`).
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(change: StoreChange) => void")] listener: js_sys::Function,
    ) -> Subscription {
        let id = self.inner.next_listener.get();
        self.inner.next_listener.set(id.wrapping_add(1));
        self.inner.listeners.borrow_mut().insert(id, listener);
        Subscription { inner: Rc::downgrade(&self.inner), id }
    }

    /// Resolves once everything written so far is committed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            inner::commit(&inner).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Closes the store after committing what is pending, and releases it for other tabs.
    /// Later calls throw `CLOSED`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            if inner.closed.borrow().is_some() {
                return Ok(JsValue::UNDEFINED);
            }
            let result = inner::commit(&inner).await;
            inner.stop(String::from("the store is closed"));
            result.map(|_| JsValue::UNDEFINED)
        })
    }
}
