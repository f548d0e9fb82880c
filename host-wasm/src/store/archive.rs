//! Store archives in the browser: `store.exportArchive()` writes the whole store as one file
//! (the format of `docs/formats.md`, "Store archives", which `xf restore` reads), and
//! `Store.restoreArchive(name, bytes)` / `Store.openArchive(bytes)` rebuild a store from one
//! (also one `xf archive` wrote), verifying everything first.
//!
//! An IndexedDB store can be evicted by the browser (storage pressure, "clear site data"),
//! and the author key lives only there: an archive with the key is how an app keeps its
//! user's identity and feed.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use xaeroflux_core::memstore::{
    ArchiveError, KdfParams, KeySeal, MemStore, SealError, archive_header, read_archive, read_archive_as,
    read_archive_with_password,
};

use super::open::{self, OpenError, Options};
use super::{Store, arg, inner, parse_options};
use crate::error::{ArgError, ErrorCode, JsError, make_js_error};
use crate::hex;
use crate::idb::{self, Put};
use crate::js::{self, prop};
use crate::{persist, platform};

/// What a password must be, for a [`SealError`].
fn seal_expected(e: SealError) -> &'static str {
    match e {
        SealError::EmptyPassword => "a password that is not empty",
        _ => "a password Argon2id takes",
    }
}

impl JsError for ArchiveError {
    fn code(&self) -> ErrorCode {
        match self {
            ArchiveError::PasswordNeeded | ArchiveError::WrongPassword => ErrorCode::Password,
            _ => ErrorCode::Malformed,
        }
    }
}

/// The `password` option (a string, used as its UTF-8 bytes).
fn password_of(options: &JsValue) -> Result<Option<String>, JsValue> {
    match prop(options, "password") {
        None => Ok(None),
        Some(v) => v.as_string().map(Some).ok_or_else(|| arg(ArgError { name: "password", expected: "a string" })),
    }
}

/// The archive's bytes, from a `Uint8Array` (or an `ArrayBuffer`).
fn archive_bytes(v: &JsValue) -> Result<Vec<u8>, JsValue> {
    js::binary(v).ok_or_else(|| arg(ArgError { name: "archive", expected: "a Uint8Array or an ArrayBuffer" }))
}

/// Reads an archive into a store: with the archive's key (unsealed with `password` if it is
/// sealed), or (an archive without one) the `secretKey` option's or a new one.
fn read(bytes: &[u8], options: &Options, password: Option<&str>) -> Result<MemStore, JsValue> {
    let header = archive_header(bytes).map_err(|e| e.to_js())?;
    let mem = match (&header.key, &header.sealed, password) {
        (Some(_), _, _) => read_archive(bytes),
        (None, Some(_), Some(password)) => read_archive_with_password(bytes, password.as_bytes()),
        (None, Some(_), None) => Err(ArchiveError::PasswordNeeded),
        (None, None, _) => read_archive_as(bytes, open::new_key(options).map_err(|e| e.to_js())?),
    };
    mem.map_err(|e| e.to_js())
}

/// Every record of `mem` to write into a new database.
fn puts_of(mem: &MemStore) -> (Vec<Put>, usize) {
    let mut puts = Vec::new();
    if let Some(key) = mem.key() {
        puts.push(Put::Meta("format", JsValue::from_f64(open::FORMAT)));
        puts.push(Put::Meta("pageSize", JsValue::from_f64(f64::from(mem.page_config().page_size()))));
        puts.push(Put::Meta("secret", Uint8Array::from(&key.secret_bytes()[..]).into()));
    }
    for ev in mem.forks() {
        puts.push(Put::Fork(hex::encode(ev.first.author.as_bytes()), persist::encode_fork(ev)));
    }
    for f in mem.feeds() {
        let a = hex::encode(f.author.as_bytes());
        for p in 0..mem.page_count(&f.author) {
            if let Some(img) = mem.page(&f.author, p) {
                puts.push(Put::Page(a.clone(), p, img.into_owned()));
            }
        }
        if let Some(state) = mem.feed_state(&f.author) {
            puts.push(Put::Feed(a, persist::encode_feed_state(&state)));
        }
    }
    let runs = mem.arrival_runs();
    let n = runs.len();
    for (i, run) in runs.enumerate() {
        puts.push(Put::Arrival(i as u64, persist::encode_run(&run)));
    }
    (puts, n)
}

impl Store {
    /// `Store.restoreArchive` for Rust callers.
    pub async fn restore_archive_persistent(
        name: String,
        archive: Vec<u8>,
        options: JsValue,
    ) -> Result<Store, JsValue> {
        let password = password_of(&options)?;
        Self::restore_archive_with(name, archive, parse_options(&options)?, password).await
    }

    async fn restore_archive_with(
        name: String,
        archive: Vec<u8>,
        options: Options,
        password: Option<String>,
    ) -> Result<Store, JsValue> {
        let mem = read(&archive, &options, password.as_deref())?;
        drop(archive);
        let exists = OpenError::Exists(name.clone());
        Self::open_locked(name, &options, async move |db| {
            let loaded = idb::load(db).await.map_err(|e| OpenError::Storage(e).to_js())?;
            if !loaded.meta.is_empty() || !loaded.feeds.is_empty() || !loaded.pages.is_empty() {
                return Err(exists.to_js());
            }
            let (puts, runs_saved) = puts_of(&mem);
            idb::commit(db, puts, true).await.map_err(|e| OpenError::Storage(e).to_js())?;
            Ok(open::Opened { mem, runs_saved, fetched: Vec::new() })
        })
        .await
    }
}

#[wasm_bindgen]
impl Store {
    /// The whole store as an archive (a `Uint8Array` to save as a file, `.xfa`): every feed,
    /// head, fork evidence and the arrival order, and the author key unless `withKey` is
    /// `false`. Resolves once everything written before is committed, and holds the local feed
    /// only as far as it is committed. `xf restore` and `Store.restoreArchive` read it.
    ///
    /// An archive with the key restores as this author, who can go on appending: keep it as
    /// safe as the key, or seal it with a `password` (then it restores as this author only
    /// with the password). One without restores the feeds as replicas, for anyone.
    #[wasm_bindgen(js_name = exportArchive, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn export_archive(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ExportArchiveOptions")] options: Option<JsValue>,
    ) -> Result<js_sys::Promise, JsValue> {
        let options = options.unwrap_or(JsValue::UNDEFINED);
        let with_key = match prop(&options, "withKey") {
            None => true,
            Some(v) => v.as_bool().ok_or_else(|| arg(ArgError { name: "withKey", expected: "a boolean" }))?,
        };
        let password = password_of(&options)?;
        if password.is_some() && !with_key {
            return Err(arg(ArgError {
                name: "password",
                expected: "no password with withKey: false (no key to seal)",
            }));
        }
        if password.as_deref() == Some("") {
            return Err(arg(ArgError { name: "password", expected: "a password that is not empty" }));
        }
        self.inner.check_open()?;
        let inner = self.inner.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            inner::commit(&inner).await?;
            let len = inner.durable.get().len;
            let mem = inner.mem.borrow();
            let bytes = match &password {
                None => mem.to_archive_upto(with_key, len),
                Some(password) => {
                    let (salt, nonce) =
                        platform::random_array::<16>().zip(platform::random_array::<24>()).ok_or_else(|| {
                            make_js_error(ErrorCode::Unsupported, "no crypto.getRandomValues to seal the key with")
                        })?;
                    let seal = KeySeal { password: password.as_bytes(), salt, nonce, params: KdfParams::DEFAULT };
                    mem.to_archive_sealed(&seal, len)
                        .map_err(|e| arg(ArgError { name: "password", expected: seal_expected(e) }))?
                }
            };
            Ok(Uint8Array::from(&bytes[..]).into())
        }))
    }

    /// Creates the store `name` in IndexedDB from an archive (`exportArchive`, or `xf archive`)
    /// and opens it. Everything in the archive is verified first; a damaged or tampered one is
    /// refused with `MALFORMED` and nothing is written. A store of that name must not exist
    /// (`EXISTS`). An archive without a key restores as a store of the `secretKey` option's
    /// author, or a new one; the page size is the archive's.
    #[wasm_bindgen(js_name = restoreArchive, unchecked_return_type = "Promise<Store>")]
    pub fn restore_archive(
        name: String,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] archive: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "RestoreArchiveOptions")] options: Option<JsValue>,
    ) -> Result<js_sys::Promise, JsValue> {
        let options = options.unwrap_or(JsValue::UNDEFINED);
        let password = password_of(&options)?;
        let options = parse_options(&options)?;
        let bytes = archive_bytes(&archive)?;
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            Self::restore_archive_with(name, bytes, options, password).await.map(JsValue::from)
        }))
    }

    /// A store in memory made from an archive (verified as `restoreArchive` does).
    #[wasm_bindgen(js_name = openArchive)]
    pub fn open_archive(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] archive: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "RestoreArchiveOptions")] options: Option<JsValue>,
    ) -> Result<Store, JsValue> {
        let options = options.unwrap_or(JsValue::UNDEFINED);
        let password = password_of(&options)?;
        let options = parse_options(&options)?;
        let mem = read(&archive_bytes(&archive)?, &options, password.as_deref())?;
        Ok(Store::in_memory(mem, &options))
    }
}

/// What an archive's header says: `{ pageSize, author, sealed }` (`author` is `null` for an
/// archive without the key; `sealed`: the key is sealed with a password). Checks only the
/// header, not the rest.
#[wasm_bindgen(js_name = archiveInfo, unchecked_return_type = "ArchiveInfo")]
pub fn archive_info(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] archive: JsValue,
) -> Result<JsValue, JsValue> {
    let bytes = archive_bytes(&archive)?;
    let h = archive_header(&bytes).map_err(|e| e.to_js())?;
    let author = match (&h.key, &h.sealed) {
        (Some(k), _) => JsValue::from_str(&hex::encode(k.author().as_bytes())),
        (None, Some(s)) => JsValue::from_str(&hex::encode(s.author.as_bytes())),
        (None, None) => JsValue::NULL,
    };
    Ok(js::Obj::new()
        .set("pageSize", f64::from(h.config.page_size()))
        .set("author", author)
        .set("sealed", h.sealed.is_some())
        .build())
}
