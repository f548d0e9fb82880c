//! IndexedDB, the browser store's persistence, as a few async calls.
//!
//! One database per store, named `xaeroflux:<name>`, version [`DB_VERSION`], with six
//! object stores (`docs/browser-storage.md` has the record formats):
//!
//! | object store | key | value |
//! |---|---|---|
//! | `meta` | string | `"format"` → 1, `"pageSize"` → number, `"secret"` → 32 bytes |
//! | `pages` | `[author hex, page number]` | a page image |
//! | `feeds` | author hex | a feed state record |
//! | `arrival` | run index | an arrival run record |
//! | `forks` | author hex | a fork evidence record |
//! | `fetched` | `[author hex, start, end]` | a kept read (reads on demand, a cache) |
//!
//! Requests and transactions become futures by handing a promise's `resolve` and `reject`
//! functions to the request's `onsuccess`/`onerror` (no Rust closure per request, so nothing
//! leaks when only one of them fires). Every write of the store is one transaction, so a
//! reload sees each write entirely or not at all. Kept reads are written in transactions of
//! their own (a cache: a failed one loses a kept read, never the store).

use core::fmt;

use js_sys::{Array, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, IdbDatabase, IdbFactory, IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest, IdbTransaction,
};

use crate::error::{ErrorCode, JsError};

#[wasm_bindgen]
extern "C" {
    /// An `IDBDatabase`, for the one method web-sys has only as an unstable API.
    #[wasm_bindgen(extends = IdbDatabase)]
    type DbWithOptions;

    /// `db.transaction(stores, mode, { durability })`.
    #[wasm_bindgen(method, catch, js_name = transaction)]
    fn transaction_with_options(
        this: &DbWithOptions,
        stores: &Array,
        mode: &str,
        options: &JsValue,
    ) -> Result<IdbTransaction, JsValue>;
}

/// The schema version: 2 since the object store `fetched` (a database of version 1 is
/// upgraded by adding it).
pub const DB_VERSION: u32 = 2;
/// Object store names.
pub const META: &str = "meta";
/// Page images.
pub const PAGES: &str = "pages";
/// Feed states.
pub const FEEDS: &str = "feeds";
/// Arrival runs.
pub const ARRIVAL: &str = "arrival";
/// Fork evidence.
pub const FORKS: &str = "forks";
/// Reads on demand kept for later reads.
pub const FETCHED: &str = "fetched";
/// The object stores of the store itself, which every commit may write.
const STORE: [&str; 5] = [META, PAGES, FEEDS, ARRIVAL, FORKS];
const ALL: [&str; 6] = [META, PAGES, FEEDS, ARRIVAL, FORKS, FETCHED];

/// The database name of store `name`.
pub fn db_name(name: &str) -> String {
    format!("xaeroflux:{name}")
}

/// An IndexedDB failure, with the browser's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    /// What was being done.
    pub during: &'static str,
    /// The DOMException's name and message, or the thrown value.
    pub detail: String,
    /// Whether IndexedDB is missing altogether.
    pub unsupported: bool,
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndexedDB failed while {}: {}", self.during, self.detail)
    }
}

impl JsError for StorageError {
    fn code(&self) -> ErrorCode {
        if self.unsupported { ErrorCode::Unsupported } else { ErrorCode::Storage }
    }
}

fn describe(v: &JsValue) -> String {
    if let Some(d) = v.dyn_ref::<DomException>() {
        return format!("{}: {}", d.name(), d.message());
    }
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    // An `error` event: the request or transaction carries the DOMException.
    if let Ok(target) = Reflect::get(v, &JsValue::from_str("target"))
        && let Ok(err) = Reflect::get(&target, &JsValue::from_str("error"))
        && let Some(d) = err.dyn_ref::<DomException>()
    {
        return format!("{}: {}", d.name(), d.message());
    }
    v.as_string().unwrap_or_else(|| String::from("unknown error (the transaction was aborted)"))
}

fn fail(during: &'static str) -> impl Fn(JsValue) -> StorageError {
    move |v| StorageError { during, detail: describe(&v), unsupported: false }
}

fn factory() -> Result<IdbFactory, StorageError> {
    let unsupported = |detail: &str| StorageError { during: "opening", detail: detail.into(), unsupported: true };
    let v = Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .map_err(|_| unsupported("no indexedDB in this environment"))?;
    v.dyn_into::<IdbFactory>().map_err(|_| unsupported("no indexedDB in this environment (use Store.openInMemory)"))
}

/// Waits for a request to succeed and returns its result.
async fn request(req: &IdbRequest, during: &'static str) -> Result<JsValue, StorageError> {
    let p = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    JsFuture::from(p).await.map_err(fail(during))?;
    req.result().map_err(fail(during))
}

/// Opens (creating or upgrading) the database of store `name`.
pub async fn open(name: &str) -> Result<IdbDatabase, StorageError> {
    let req: IdbOpenDbRequest = factory()?.open_with_u32(&db_name(name), DB_VERSION).map_err(fail("opening"))?;
    let upgrade = Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new({
        let req = req.clone();
        move |_ev| {
            let Ok(db) = req.result().and_then(|r| r.dyn_into::<IdbDatabase>()) else {
                return;
            };
            let names = db.object_store_names();
            for s in ALL {
                if !names.contains(s) {
                    // A failure here aborts the upgrade, which the open request then reports.
                    let _ = db.create_object_store_with_optional_parameters(s, &IdbObjectStoreParameters::new());
                }
            }
        }
    });
    req.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let blocked = JsValue::from_str("the database is being upgraded or deleted by another tab");
    let p = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
        let reject_blocked: js_sys::Function = JsValue::from(reject.bind1(&JsValue::NULL, &blocked)).unchecked_into();
        req.set_onblocked(Some(&reject_blocked));
    });
    let result = JsFuture::from(p).await;
    req.set_onupgradeneeded(None);
    drop(upgrade);
    result.map_err(fail("opening"))?;
    req.result().map_err(fail("opening"))?.dyn_into::<IdbDatabase>().map_err(fail("opening"))
}

/// Deletes the database of store `name` (waits until no tab has it open).
pub async fn delete(name: &str) -> Result<(), StorageError> {
    let req = factory()?.delete_database(&db_name(name)).map_err(fail("deleting"))?;
    request(&req, "deleting").await.map(|_| ())
}

/// Everything a store persisted, read in one transaction.
pub struct Loaded {
    /// `meta` as (key, value) pairs.
    pub meta: Vec<(String, JsValue)>,
    /// Feed state records.
    pub feeds: Vec<Vec<u8>>,
    /// Page images as (author hex, page number, image), in key order: by author, then page.
    pub pages: Vec<(String, u64, Vec<u8>)>,
    /// Arrival run records in run order.
    pub arrival: Vec<Vec<u8>>,
    /// Fork evidence records.
    pub forks: Vec<Vec<u8>>,
    /// Kept reads as (key, record); a record under a key that is not `[author, start, end]`
    /// comes with `None`, to be deleted.
    pub fetched: Vec<(JsValue, Option<FetchedKey>, Vec<u8>)>,
}

/// The key of a kept read: the author (hex) and the seqs it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedKey {
    /// The author, hex.
    pub author: String,
    /// First seq.
    pub start: u64,
    /// One past the last seq.
    pub end: u64,
}

impl FetchedKey {
    fn to_js(&self) -> JsValue {
        Array::of3(
            &JsValue::from_str(&self.author),
            &JsValue::from_f64(self.start as f64),
            &JsValue::from_f64(self.end as f64),
        )
        .into()
    }

    fn from_js(k: &JsValue) -> Option<FetchedKey> {
        let k = k.dyn_ref::<Array>()?;
        let seq = |i| k.get(i).as_f64().filter(|n| *n >= 0.0 && n.fract() == 0.0).map(|n| n as u64);
        (k.length() == 3).then_some(())?;
        Some(FetchedKey { author: k.get(0).as_string()?, start: seq(1)?, end: seq(2)? })
    }
}

fn bytes_of(v: &JsValue, store: &'static str) -> Result<Vec<u8>, StorageError> {
    v.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec).ok_or_else(|| StorageError {
        during: "reading",
        detail: format!("a record of `{store}` is not bytes"),
        unsupported: false,
    })
}

/// Reads the whole database in one transaction. Every request is issued before the first
/// is awaited, so the transaction never goes inactive between them.
pub async fn load(db: &IdbDatabase) -> Result<Loaded, StorageError> {
    let tx = db.transaction_with_str_sequence(&names(&ALL)).map_err(fail("reading"))?;
    let mut reqs = Vec::with_capacity(2 * ALL.len());
    for store in ALL {
        let s = tx.object_store(store).map_err(fail("reading"))?;
        reqs.push(s.get_all_keys().map_err(fail("reading"))?);
        reqs.push(s.get_all().map_err(fail("reading"))?);
    }
    let mut results = Vec::with_capacity(reqs.len());
    for r in &reqs {
        let v: Array = request(r, "reading").await?.unchecked_into();
        results.push(v);
    }
    let pair = |i: usize| (results[2 * i].clone(), results[2 * i + 1].clone());
    let (mk, mv) = pair(0);
    let meta = mk.iter().zip(mv.iter()).filter_map(|(k, v)| Some((k.as_string()?, v))).collect();
    let (pk, pv) = pair(1);
    let mut pages = Vec::with_capacity(pv.length() as usize);
    for (k, v) in pk.iter().zip(pv.iter()) {
        let k: Array = k.dyn_into().map_err(|_| StorageError {
            during: "reading",
            detail: String::from("a page key is not [author, page]"),
            unsupported: false,
        })?;
        let (Some(author), Some(n)) = (k.get(0).as_string(), k.get(1).as_f64()) else {
            return Err(StorageError {
                during: "reading",
                detail: String::from("a page key is not [author, page]"),
                unsupported: false,
            });
        };
        pages.push((author, n as u64, bytes_of(&v, PAGES)?));
    }
    // Arrival keys are run indexes; getAll returns the values in key order.
    let list = |i: usize, store: &'static str| -> Result<Vec<Vec<u8>>, StorageError> {
        results[2 * i + 1].iter().map(|v| bytes_of(&v, store)).collect()
    };
    // A kept read that is not bytes is only a damaged cache entry: an empty record, refused
    // (and deleted) by whoever decodes it.
    let (fk, fv) = pair(5);
    let fetched = fk
        .iter()
        .zip(fv.iter())
        .map(|(k, v)| {
            let key = FetchedKey::from_js(&k);
            (k, key, v.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec).unwrap_or_default())
        })
        .collect();
    Ok(Loaded { meta, feeds: list(2, FEEDS)?, pages, arrival: list(3, ARRIVAL)?, forks: list(4, FORKS)?, fetched })
}

fn names(stores: &[&str]) -> Array {
    stores.iter().map(|s| JsValue::from_str(s)).collect()
}

/// One write to commit.
pub enum Put {
    /// `meta[key] = value`.
    Meta(&'static str, JsValue),
    /// `pages[[author, page]] = image`.
    Page(String, u64, Vec<u8>),
    /// `feeds[author] = record`.
    Feed(String, Vec<u8>),
    /// `arrival[index] = record`.
    Arrival(u64, Vec<u8>),
    /// `forks[author] = record`.
    Fork(String, Vec<u8>),
}

/// Commits `puts` in one readwrite transaction and waits until it is complete. With
/// `strict`, the browser flushes to disk before reporting completion.
pub async fn commit(db: &IdbDatabase, puts: Vec<Put>, strict: bool) -> Result<(), StorageError> {
    let opts = crate::js::Obj::new().set("durability", if strict { "strict" } else { "relaxed" }).build();
    let tx = db
        .unchecked_ref::<DbWithOptions>()
        .transaction_with_options(&names(&STORE), "readwrite", &opts)
        .map_err(fail("writing"))?;
    let done = Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    });
    let result = (|| -> Result<(), JsValue> {
        for p in puts {
            let (store, key, value): (&str, JsValue, JsValue) = match p {
                Put::Meta(k, v) => (META, JsValue::from_str(k), v),
                Put::Page(a, n, img) => {
                    (PAGES, Array::of2(&JsValue::from_str(&a), &JsValue::from_f64(n as f64)).into(), u8s(&img))
                }
                Put::Feed(a, r) => (FEEDS, JsValue::from_str(&a), u8s(&r)),
                Put::Arrival(i, r) => (ARRIVAL, JsValue::from_f64(i as f64), u8s(&r)),
                Put::Fork(a, r) => (FORKS, JsValue::from_str(&a), u8s(&r)),
            };
            tx.object_store(store)?.put_with_key(&value, &key)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = tx.abort();
        let _ = JsFuture::from(done).await;
        return Err(fail("writing")(e));
    }
    match JsFuture::from(done).await {
        Ok(_) => Ok(()),
        Err(ev) => {
            let detail = tx.error().map(|d| format!("{}: {}", d.name(), d.message())).unwrap_or_else(|| describe(&ev));
            Err(StorageError { during: "writing", detail, unsupported: false })
        }
    }
}

fn u8s(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

/// A change to the kept reads.
pub enum FetchedOp {
    /// Keep a read under its key.
    Put(FetchedKey, Vec<u8>),
    /// Delete the read under this key.
    Delete(FetchedKey),
    /// Delete the record under this raw key (one that does not decode).
    DeleteRaw(JsValue),
}

/// Starts one transaction (relaxed durability) making `ops` on the kept reads, and returns a
/// promise of its completion. The transaction is created now: IndexedDB runs transactions on
/// one object store in the order they were created, so changes made one after another reach
/// the database in that order whenever their promises are awaited.
pub fn write_fetched(db: &IdbDatabase, ops: Vec<FetchedOp>) -> Result<Promise, StorageError> {
    let opts = crate::js::Obj::new().set("durability", "relaxed").build();
    let tx = db
        .unchecked_ref::<DbWithOptions>()
        .transaction_with_options(&names(&[FETCHED]), "readwrite", &opts)
        .map_err(fail("keeping a read"))?;
    let done = Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    });
    let store = tx.object_store(FETCHED).map_err(fail("keeping a read"))?;
    for op in ops {
        let r = match op {
            FetchedOp::Put(key, bytes) => store.put_with_key(&u8s(&bytes), &key.to_js()),
            FetchedOp::Delete(key) => store.delete(&key.to_js()),
            FetchedOp::DeleteRaw(key) => store.delete(&key),
        };
        if let Err(e) = r {
            let _ = tx.abort();
            return Err(fail("keeping a read")(e));
        }
    }
    Ok(done)
}
