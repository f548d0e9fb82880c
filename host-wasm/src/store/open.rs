//! Opening a store: a new one (a fresh author key), or rebuilding a persisted one from
//! IndexedDB with every page, head and proof verified again.

use core::fmt;

use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use xaeroflux_core::memstore::{MemStore, Restore, RestoreError};
use xaeroflux_core::page::{PageConfig, PageConfigError};
use xaeroflux_core::{AuthorId, AuthorKey};

use crate::error::{ErrorCode, JsError};
use crate::hex;
use crate::idb::{self, Loaded, Put, StorageError};
use crate::persist::{self, RecordError};
use crate::platform;

/// The storage format version this package writes in `meta.format`: 2 since page version 2
/// (its checksum is XXH3, `docs/formats.md`), which older packages cannot read.
pub const FORMAT: f64 = 2.0;

/// The first storage format: only version-1 pages, which this package still reads. A store
/// of this format is raised to [`FORMAT`] once it has been read, before anything is written.
const FORMAT_1: f64 = 1.0;

/// Why a store could not be opened.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OpenError {
    /// IndexedDB failed or is missing.
    Storage(StorageError),
    /// Another tab or worker has the store open.
    Locked(String),
    /// No Web Crypto to make a key with.
    NoRandomness,
    /// An option is invalid.
    PageSize(PageConfigError),
    /// A `secretKey` option that is not 32 bytes.
    SecretKey(usize),
    /// The database was written by a newer version of this package.
    Format(String),
    /// A stored record does not decode.
    Record(RecordError),
    /// A feed's pages do not verify.
    Feed {
        /// The feed.
        author: AuthorId,
        /// Why.
        error: RestoreError,
    },
    /// A feed's page is missing.
    MissingPage {
        /// The feed.
        author: AuthorId,
        /// The first page number missing.
        page: u64,
    },
    /// Stored fork evidence does not verify.
    Fork(String),
    /// The stored arrival order does not match the events.
    Arrival(RestoreError),
    /// `Store.restoreArchive` into a name that holds a store already.
    Exists(String),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Storage(e) => write!(f, "{e}"),
            Self::Locked(name) => write!(f, "store \"{name}\" is open in another tab or worker"),
            Self::NoRandomness => f.write_str("no crypto.getRandomValues to make an author key with"),
            Self::PageSize(e) => write!(f, "invalid pageSize: {e}"),
            Self::SecretKey(n) => write!(f, "invalid secretKey: expected 32 bytes, got {n}"),
            Self::Format(what) => write!(f, "cannot read this store: {what}"),
            Self::Record(e) => write!(f, "stored data is damaged: {e}"),
            Self::Feed { author, error } => write!(f, "stored feed {author} does not verify: {error}"),
            Self::MissingPage { author, page } => write!(f, "page {page} of stored feed {author} is missing"),
            Self::Fork(e) => write!(f, "stored fork evidence does not verify: {e}"),
            Self::Arrival(e) => write!(f, "stored arrival order is damaged: {e}"),
            Self::Exists(name) => {
                write!(f, "store \"{name}\" exists already: delete it first or restore under another name")
            }
        }
    }
}

impl JsError for OpenError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Storage(e) => e.code(),
            Self::Locked(_) => ErrorCode::Locked,
            Self::Exists(_) => ErrorCode::Exists,
            Self::NoRandomness => ErrorCode::Unsupported,
            Self::PageSize(_) | Self::SecretKey(_) => ErrorCode::InvalidArgument,
            Self::Format(_)
            | Self::Record(_)
            | Self::Feed { .. }
            | Self::MissingPage { .. }
            | Self::Fork(_)
            | Self::Arrival(_) => ErrorCode::Corrupt,
        }
    }
}

/// Options of `Store.open` and `Store.openInMemory`, already checked.
#[derive(Clone)]
pub struct Options {
    /// Page size of a new store.
    pub page: PageConfig,
    /// The author key of a new store (else a random one).
    pub secret: Option<[u8; 32]>,
    /// Commit with strict durability.
    pub strict: bool,
    /// Bytes of events read on demand kept for later reads.
    pub fetch_cache: usize,
    /// Whether those are also kept in IndexedDB across page loads.
    pub persist_fetch_cache: bool,
}

/// The key of a new store.
pub fn new_key(options: &Options) -> Result<AuthorKey, OpenError> {
    let secret = match options.secret {
        Some(s) => s,
        None => platform::random_array::<32>().ok_or(OpenError::NoRandomness)?,
    };
    Ok(AuthorKey::from_secret_bytes(&secret))
}

/// What opening produced: the store, and how many arrival runs are already persisted.
pub struct Opened {
    /// The rebuilt (or new) store.
    pub mem: MemStore,
    /// Arrival runs on disk.
    pub runs_saved: usize,
    /// The kept reads found (not decoded yet: `Inner::restore_fetched` verifies them).
    pub fetched: Vec<(JsValue, Option<idb::FetchedKey>, Vec<u8>)>,
}

fn meta<'a>(loaded: &'a Loaded, key: &str) -> Option<&'a JsValue> {
    loaded.meta.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Creates the store in `db`, or rebuilds it from what `db` holds.
pub async fn open_db(db: &web_sys::IdbDatabase, options: &Options) -> Result<Opened, OpenError> {
    let loaded = idb::load(db).await.map_err(OpenError::Storage)?;
    let Some(secret) = meta(&loaded, "secret") else {
        if !loaded.feeds.is_empty() || !loaded.pages.is_empty() {
            return Err(OpenError::Format(String::from("pages without an author key")));
        }
        let key = new_key(options)?;
        let puts = vec![
            Put::Meta("format", JsValue::from_f64(FORMAT)),
            Put::Meta("pageSize", JsValue::from_f64(f64::from(options.page.page_size()))),
            Put::Meta("secret", Uint8Array::from(&key.secret_bytes()[..]).into()),
        ];
        idb::commit(db, puts, true).await.map_err(OpenError::Storage)?;
        return Ok(Opened { mem: MemStore::new(key, options.page), runs_saved: 0, fetched: loaded.fetched });
    };
    let upgrade = match meta(&loaded, "format").and_then(JsValue::as_f64) {
        Some(FORMAT) => false,
        Some(FORMAT_1) => true,
        Some(v) => return Err(OpenError::Format(format!("storage format {v} (this package reads {FORMAT})"))),
        None => return Err(OpenError::Format(String::from("no storage format recorded"))),
    };
    let secret: [u8; 32] = secret
        .dyn_ref::<Uint8Array>()
        .and_then(|a| a.to_vec().try_into().ok())
        .ok_or_else(|| OpenError::Format(String::from("the stored author key is not 32 bytes")))?;
    let page_size = meta(&loaded, "pageSize").and_then(JsValue::as_f64).unwrap_or(0.0);
    let page = PageConfig::new(page_size as u32)
        .map_err(|_| OpenError::Format(format!("stored page size {page_size} is invalid")))?;
    let key = AuthorKey::from_secret_bytes(&secret);
    let mut restore = Restore::new(Some(key), page);
    for f in &loaded.forks {
        let ev = persist::decode_fork(f).map_err(OpenError::Record)?;
        restore.fork(&ev).map_err(|e| OpenError::Fork(e.to_string()))?;
    }
    for rec in &loaded.feeds {
        let state = persist::decode_feed_state(rec).map_err(OpenError::Record)?;
        let a = hex::encode(state.author.as_bytes());
        let pages: Vec<&[u8]> = loaded.pages.iter().filter(|(pa, _, _)| *pa == a).map(|(_, _, img)| &img[..]).collect();
        // Page keys are consecutive from 0: check, so that a missing page is named as such.
        for (i, (_, n, _)) in loaded.pages.iter().filter(|(pa, _, _)| *pa == a).enumerate() {
            if *n != i as u64 {
                return Err(OpenError::MissingPage { author: state.author, page: i as u64 });
            }
        }
        restore.feed(&state, pages).map_err(|error| OpenError::Feed { author: state.author, error })?;
    }
    let runs = loaded.arrival.iter().map(|r| persist::decode_run(r)).collect::<Result<Vec<_>, _>>();
    let runs = runs.map_err(OpenError::Record)?;
    let runs_saved = runs.len();
    restore.arrival(runs).map_err(OpenError::Arrival)?;
    if upgrade {
        idb::commit(db, vec![Put::Meta("format", JsValue::from_f64(FORMAT))], true)
            .await
            .map_err(OpenError::Storage)?;
    }
    Ok(Opened { mem: restore.finish(), runs_saved, fetched: loaded.fetched })
}
