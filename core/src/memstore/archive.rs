//! Store archives: a whole store in one file, to move it between hosts (a browser's
//! IndexedDB store to the `xf` tool and back), keep it somewhere safe, or give a snapshot of
//! a space to someone.
//!
//! An archive holds what [`Restore`] needs: the page size, optionally the local author's
//! secret key, every feed's [`FeedState`] and page images, the fork evidence and the arrival
//! runs, as a stream of tagged records closed by a BLAKE3 checksum of everything before it.
//! The byte format is in `docs/formats.md` ("Store archives"). Reading one
//! ([`read_archive`]) checks the checksum and then everything again with [`Restore`]
//! (pages, packing, signatures, roots, proofs): a damaged or tampered archive is refused, never
//! half-restored.
//!
//! Writing is streamed: [`ArchiveWriter`] appends each record to a caller's buffer, so a host
//! can write a large store to a file a page at a time. [`MemStore::to_archive`] writes a
//! whole in-memory store.
//!
//! ```
//! use xaeroflux_core::memstore::{MemStore, NewEvent, read_archive};
//! use xaeroflux_core::page::PageConfig;
//! use xaeroflux_core::AuthorKey;
//!
//! let key = AuthorKey::from_secret_bytes(&[5; 32]);
//! let mut store = MemStore::new(key, PageConfig::new(1024)?);
//! store.append_batch((0..50u64).map(|i| NewEvent::new(i, b"an event")))?;
//!
//! let bytes = store.to_archive(true);
//! let back = read_archive(&bytes)?;
//! assert_eq!((back.author(), back.mmr_root()), (store.author(), store.mmr_root()));
//! assert!(back.iter_events().eq(store.iter_events()));
//!
//! let mut bad = bytes.clone();
//! bad[100] ^= 1;
//! assert!(read_archive(&bad).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::vec::Vec;
use core::fmt;

use super::archive_seal::{KdfParams, KeySeal, SEALED_KEY_LEN, SealError, SealedKey};
use super::{ArrivalRun, FeedState, FeedStateDecodeError, MemStore, Restore, RestoreError};
use crate::event::{HEADER_LEN as EVENT_HEADER_LEN, MAX_PAYLOAD_LEN};
use crate::head::{AuthorId, AuthorKey};
use crate::page::{PageConfig, PageConfigError, pack, span_for};
use crate::xsp::{DecodeError, ForkEvidence, ForkEvidenceError};

/// The first 8 bytes of every archive.
pub const ARCHIVE_MAGIC: [u8; 8] = *b"XFARCHIV";
/// The archive format version this crate writes and reads.
pub const ARCHIVE_VERSION: u8 = 1;
/// The BLAKE3 `derive_key` context of the closing checksum.
pub const ARCHIVE_CHECKSUM_CONTEXT: &str = "xaeroflux 2026-12 store archive v1";

/// Header flag: the local author's secret key follows the page size.
const HAS_KEY: u8 = 1;
/// Header flag (with [`HAS_KEY`]): the key is sealed with a password ([`SealedKey`]).
const KEY_SEALED: u8 = 2;
/// Header length without and with the key.
const HEADER_LEN: usize = 8 + 1 + 1 + 4;
const KEY_LEN: usize = 32;

/// Record tags (docs/formats.md).
pub(super) mod tag {
    pub const END: u8 = 0;
    pub const FEED: u8 = 1;
    pub const PAGE: u8 = 2;
    pub const FORK: u8 = 3;
    pub const ARRIVAL: u8 = 4;
}

/// The longest body of a record that is not a page or the end (feed states, fork evidence and
/// arrival runs are far shorter in every archive written: a feed state with a pending head's
/// proof is under 5 KiB, an arrival record of 4 096 runs 196 608 bytes).
const MAX_OTHER_BODY: usize = 1 << 20;

/// The longest body a record of `tag` may have (docs/formats.md): readers refuse a longer one
/// ([`ArchiveError::RecordTooLong`]), so a damaged length cannot make them allocate gigabytes.
pub(super) fn max_body_len(config: &PageConfig, tag: u8) -> usize {
    match tag {
        tag::PAGE => usize::from(span_for(config, EVENT_HEADER_LEN + MAX_PAYLOAD_LEN as usize))
            .saturating_mul(config.page_size() as usize),
        tag::END => 32,
        _ => MAX_OTHER_BODY,
    }
}

/// Arrival runs per record written by [`MemStore::to_archive`].
const RUNS_PER_RECORD: usize = 4096;
/// Bytes of one encoded arrival run.
pub(super) const RUN_LEN: usize = 48;

/// Writes an archive record by record into a caller's buffer (drain it to a file between
/// calls, or keep it whole).
///
/// Call rules: [`new`](Self::new) writes the header; then any [`fork`](Self::fork)
/// evidence; then, per feed, [`feed`](Self::feed) followed by its [`page`](Self::page)s in
/// order (page 0 first; a feed may have none); then the [`arrival`](Self::arrival) runs (in
/// arrival order, covering every event of every feed exactly once, or none at all); last
/// [`finish`](Self::finish).
/// Every byte appended to `out` must reach the file, in order: the checksum covers them.
#[derive(Debug)]
pub struct ArchiveWriter {
    hasher: blake3::Hasher,
}

impl ArchiveWriter {
    /// Starts an archive of pages of `config`, with the local author's secret key if `key`
    /// is given (an archive without one restores as a store of a new author holding every
    /// feed as a replica).
    pub fn new(config: PageConfig, key: Option<&AuthorKey>, out: &mut Vec<u8>) -> Self {
        let start = out.len();
        out.extend_from_slice(&header_prefix(config, if key.is_some() { HAS_KEY } else { 0 }));
        if let Some(k) = key {
            out.extend_from_slice(&k.secret_bytes());
        }
        Self::hashing(&out[start..])
    }

    /// Starts an archive of pages of `config` holding the local author's `key` sealed with a
    /// password ([`archive_seal`](super::archive_seal)): it restores as that author only with
    /// the password. The caller must give the local feed a signed head over all its archived
    /// events (a reader checks the feeds without the key).
    pub fn sealed(
        config: PageConfig,
        key: &AuthorKey,
        seal: &KeySeal<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Self, SealError> {
        let start = out.len();
        let prefix = header_prefix(config, HAS_KEY | KEY_SEALED);
        out.extend_from_slice(&prefix);
        if let Err(e) = SealedKey::seal(key, seal, prefix, out) {
            out.truncate(start);
            return Err(e);
        }
        Ok(Self::hashing(&out[start..]))
    }

    fn hashing(header: &[u8]) -> Self {
        let mut hasher = blake3::Hasher::new_derive_key(ARCHIVE_CHECKSUM_CONTEXT);
        hasher.update(header);
        ArchiveWriter { hasher }
    }

    fn record(&mut self, tag: u8, body: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.push(tag);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        self.hasher.update(&out[start..]);
    }

    /// Starts a feed: its state (the pages that follow must hold `state.len` events).
    pub fn feed(&mut self, state: &FeedState, out: &mut Vec<u8>) {
        self.record(tag::FEED, &state.encode(), out);
    }

    /// The next page image of the current feed.
    pub fn page(&mut self, image: &[u8], out: &mut Vec<u8>) {
        self.record(tag::PAGE, image, out);
    }

    /// Fork evidence of one author.
    pub fn fork(&mut self, evidence: &ForkEvidence, out: &mut Vec<u8>) {
        self.record(tag::FORK, &evidence.encode(), out);
    }

    /// The next arrival runs.
    pub fn arrival(&mut self, runs: &[ArrivalRun], out: &mut Vec<u8>) {
        let mut body = Vec::with_capacity(runs.len() * RUN_LEN);
        for r in runs {
            body.extend_from_slice(&r.encode());
        }
        self.record(tag::ARRIVAL, &body, out);
    }

    /// Closes the archive with its checksum.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(tag::END);
        out.extend_from_slice(&32u32.to_le_bytes());
        self.hasher.update(&out[start..]);
        let sum = self.hasher.finalize();
        out.extend_from_slice(sum.as_bytes());
    }
}

/// An archive header's first 14 bytes: magic, version, flags, page size.
fn header_prefix(config: PageConfig, flags: u8) -> [u8; HEADER_LEN] {
    let mut p = [0u8; HEADER_LEN];
    p[..8].copy_from_slice(&ARCHIVE_MAGIC);
    p[8] = ARCHIVE_VERSION;
    p[9] = flags;
    p[10..].copy_from_slice(&config.page_size().to_le_bytes());
    p
}

/// What an archive holds of the local author's key.
enum KeyField<'a> {
    None,
    Plain(&'a AuthorKey),
    Sealed(&'a AuthorKey, &'a KeySeal<'a>),
}

impl MemStore {
    /// This store as an archive ([module docs](crate::memstore::archive)), with the local
    /// author's secret key if `with_key` (keep such an archive as safe as the key: whoever has
    /// it can append to this author's feed). Without it, the local feed is archived with a
    /// head signed now over all its events, so it restores as a replica.
    pub fn to_archive(&self, with_key: bool) -> Vec<u8> {
        self.to_archive_upto(with_key, u64::MAX)
    }

    /// [`to_archive`](Self::to_archive) holding only the local feed's first `local_len`
    /// events: a host archives what it has made durable, so that a restored archive never
    /// holds an event the store itself may lose in a crash (the author would then sign a
    /// different event at the same seq: a fork of its own feed).
    pub fn to_archive_upto(&self, with_key: bool, local_len: u64) -> Vec<u8> {
        let field = match self.key().filter(|_| with_key) {
            Some(k) => KeyField::Plain(k),
            None => KeyField::None,
        };
        // Only sealing a key can fail.
        self.archive_with(field, local_len).unwrap_or_default()
    }

    /// [`to_archive_upto`](Self::to_archive_upto) with the local author's key sealed with a
    /// password ([`archive_seal`](super::archive_seal)). A replica store (no key) gives an
    /// archive without a key.
    pub fn to_archive_sealed(&self, seal: &KeySeal<'_>, local_len: u64) -> Result<Vec<u8>, SealError> {
        let field = match self.key() {
            Some(k) => KeyField::Sealed(k, seal),
            None => KeyField::None,
        };
        self.archive_with(field, local_len)
    }

    fn archive_with(&self, field: KeyField<'_>, local_len: u64) -> Result<Vec<u8>, SealError> {
        let mut out = Vec::with_capacity(self.memory_usage());
        let (mut w, plain) = match field {
            KeyField::None => (ArchiveWriter::new(self.page_config(), None, &mut out), false),
            KeyField::Plain(k) => (ArchiveWriter::new(self.page_config(), Some(k), &mut out), true),
            KeyField::Sealed(k, seal) => (ArchiveWriter::sealed(self.page_config(), k, seal, &mut out)?, false),
        };
        for evidence in self.forks() {
            w.fork(evidence, &mut out);
        }
        let local = self.author();
        let authors: Vec<AuthorId> = self.feeds().map(|f| f.author).collect();
        for author in &authors {
            let Some(mut state) = self.feed_state(author) else { continue };
            let mut repacked = None;
            if Some(*author) == local {
                if state.len > local_len {
                    state.len = local_len;
                    state.head = state.head.filter(|h| h.length <= local_len);
                    repacked = pack(&self.page_config(), self.range(author, 0..local_len)).ok();
                }
                // Without the key in clear, the local feed's events are all under a signed
                // head: a reader checks them without the key.
                if !plain
                    && let (Some(k), Ok(peaks)) = (self.key(), self.peaks_at(author, state.len))
                    && state.head.is_none_or(|h| h.length != state.len)
                    && state.len > 0
                {
                    state.head = Some(k.sign_head(state.len, peaks.root()));
                }
            }
            w.feed(&state, &mut out);
            match repacked {
                Some(pages) => pages.iter().for_each(|img| w.page(img, &mut out)),
                None => {
                    for p in 0..self.page_count(author) {
                        if let Some(img) = self.page(author, p) {
                            w.page(&img, &mut out);
                        }
                    }
                }
            }
        }
        let runs: Vec<ArrivalRun> = self
            .arrival_runs()
            .filter_map(|mut r| {
                if Some(r.author) == local {
                    r.seqs.end = r.seqs.end.min(local_len);
                }
                (r.seqs.start < r.seqs.end).then_some(r)
            })
            .collect();
        for chunk in runs.chunks(RUNS_PER_RECORD) {
            w.arrival(chunk, &mut out);
        }
        w.finish(&mut out);
        Ok(out)
    }
}

/// Why an archive could not be read. Nothing of it is restored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArchiveError {
    /// It does not start with [`ARCHIVE_MAGIC`]: not an archive.
    NotAnArchive,
    /// An archive of a format version this crate does not read.
    Version(u8),
    /// Header flags this crate does not know.
    ReservedFlags(u8),
    /// The page size is invalid.
    PageSize(PageConfigError),
    /// The archive ends early (a cut-off download or copy), or has no closing checksum.
    Truncated,
    /// The closing checksum does not match: the archive is damaged.
    Checksum,
    /// Bytes after the closing checksum.
    TrailingBytes(usize),
    /// A record of a tag this crate does not know.
    UnknownRecord {
        /// The tag.
        tag: u8,
        /// Its offset in the archive.
        offset: usize,
    },
    /// A page record before any feed record.
    PageWithoutFeed {
        /// Its offset in the archive.
        offset: usize,
    },
    /// Records out of their order (fork evidence, then feeds and their pages, then arrival
    /// runs).
    OutOfOrder {
        /// Its offset in the archive.
        offset: usize,
    },
    /// A feed state record does not decode.
    FeedState(FeedStateDecodeError),
    /// A feed's pages or heads do not verify.
    Feed {
        /// The feed.
        author: AuthorId,
        /// Why.
        error: RestoreError,
    },
    /// A fork evidence record does not decode.
    ForkRecord(DecodeError),
    /// Fork evidence does not verify.
    Fork(ForkEvidenceError),
    /// The archive's key is sealed with a password: read it with
    /// [`read_archive_with_password`].
    PasswordNeeded,
    /// The password does not unseal the archive's key (or its header was changed).
    WrongPassword,
    /// The key is sealed with a KDF this crate does not know.
    UnknownKdf(u8),
    /// The KDF's parameters are outside what this crate accepts ([`KdfParams::is_valid`]).
    KdfParams(KdfParams),
    /// A record longer than any archive writer makes one of its tag (a damaged length).
    RecordTooLong {
        /// The record's tag.
        tag: u8,
        /// The length its header names.
        len: usize,
    },
    /// An arrival record is not a whole number of runs, or the runs do not cover every event
    /// once.
    Arrival(RestoreError),
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnArchive => f.write_str("not a Xaeroflux store archive (bad magic)"),
            Self::Version(v) => write!(f, "archive format version {v} (this version reads {ARCHIVE_VERSION})"),
            Self::ReservedFlags(b) => write!(f, "unknown archive flags {b:#04x}"),
            Self::PageSize(e) => write!(f, "invalid page size in the archive: {e}"),
            Self::Truncated => f.write_str("the archive is truncated"),
            Self::Checksum => f.write_str("the archive's checksum does not match: it is damaged"),
            Self::TrailingBytes(n) => write!(f, "{n} bytes after the end of the archive"),
            Self::UnknownRecord { tag, offset } => write!(f, "unknown record tag {tag} at byte {offset}"),
            Self::PageWithoutFeed { offset } => write!(f, "a page before any feed at byte {offset}"),
            Self::OutOfOrder { offset } => write!(f, "a record out of order at byte {offset}"),
            Self::FeedState(e) => write!(f, "a feed state does not decode: {e}"),
            Self::Feed { author, error } => write!(f, "feed {author} does not verify: {error}"),
            Self::ForkRecord(e) => write!(f, "fork evidence does not decode: {e}"),
            Self::Fork(e) => write!(f, "fork evidence does not verify: {e}"),
            Self::PasswordNeeded => f.write_str("the archive's key is sealed with a password: give the password"),
            Self::WrongPassword => {
                f.write_str("the password does not unseal the archive's key (a wrong password, or a damaged header)")
            }
            Self::UnknownKdf(k) => write!(f, "the archive's key is sealed with an unknown KDF ({k})"),
            Self::KdfParams(p) => write!(
                f,
                "the archive's key is sealed with Argon2id parameters this version refuses ({} KiB, {} passes, {} lanes)",
                p.memory_kib, p.iterations, p.lanes
            ),
            Self::RecordTooLong { tag, len } => {
                write!(f, "a record of tag {tag} names a length of {len} bytes, too long")
            }
            Self::Arrival(e) => write!(f, "the arrival order is damaged: {e}"),
        }
    }
}

impl core::error::Error for ArchiveError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Feed { error, .. } | Self::Arrival(error) => Some(error),
            Self::Fork(e) => Some(e),
            _ => None,
        }
    }
}

/// What an archive's header says, read without checking the rest ([`archive_header`]).
#[derive(Clone, Debug)]
pub struct ArchiveHeader {
    /// The page size of its pages.
    pub config: PageConfig,
    /// The local author's key, if the archive holds it in clear.
    pub key: Option<AuthorKey>,
    /// The local author's key sealed with a password, if the archive holds it so.
    pub sealed: Option<SealedKey>,
    /// Where the records start.
    pub records_at: usize,
}

/// Reads an archive's header only (to show what it is, or to check its key before the work
/// of [`read_archive`]).
pub fn archive_header(bytes: &[u8]) -> Result<ArchiveHeader, ArchiveError> {
    let Some(head) = bytes.get(..HEADER_LEN) else {
        let magic = &bytes[..bytes.len().min(ARCHIVE_MAGIC.len())];
        return Err(if ARCHIVE_MAGIC.starts_with(magic) {
            ArchiveError::Truncated
        } else {
            ArchiveError::NotAnArchive
        });
    };
    if head[..8] != ARCHIVE_MAGIC {
        return Err(ArchiveError::NotAnArchive);
    }
    if head[8] != ARCHIVE_VERSION {
        return Err(ArchiveError::Version(head[8]));
    }
    let flags = head[9];
    if flags & !(HAS_KEY | KEY_SEALED) != 0 || flags == KEY_SEALED {
        return Err(ArchiveError::ReservedFlags(flags));
    }
    let mut size = [0u8; 4];
    size.copy_from_slice(&head[10..14]);
    let config = PageConfig::new(u32::from_le_bytes(size)).map_err(ArchiveError::PageSize)?;
    let rest = &bytes[HEADER_LEN..];
    let (key, sealed, records_at) = if flags & KEY_SEALED != 0 {
        let mut prefix = [0u8; HEADER_LEN];
        prefix.copy_from_slice(head);
        (None, Some(SealedKey::decode(prefix, rest)?), HEADER_LEN + SEALED_KEY_LEN)
    } else if flags & HAS_KEY != 0 {
        let k: &[u8; KEY_LEN] = rest.get(..KEY_LEN).and_then(|s| s.try_into().ok()).ok_or(ArchiveError::Truncated)?;
        (Some(AuthorKey::from_secret_bytes(k)), None, HEADER_LEN + KEY_LEN)
    } else {
        (None, None, HEADER_LEN)
    };
    Ok(ArchiveHeader { config, key, sealed, records_at })
}

/// One record of an archive.
struct Record<'a> {
    tag: u8,
    body: &'a [u8],
    offset: usize,
}

/// Splits the records of an archive whose checksum was checked; the end record last.
fn records(bytes: &[u8], from: usize) -> impl Iterator<Item = Result<Record<'_>, ArchiveError>> {
    let mut at = from;
    core::iter::from_fn(move || {
        if at >= bytes.len() {
            return None;
        }
        let offset = at;
        let rec = (|| {
            let tag = *bytes.get(at)?;
            let len: [u8; 4] = bytes.get(at + 1..at + 5)?.try_into().ok()?;
            let len = u32::from_le_bytes(len) as usize;
            let body = bytes.get(at + 5..(at + 5).checked_add(len)?)?;
            Some(Record { tag, body, offset })
        })();
        match rec {
            Some(r) => {
                at += 5 + r.body.len();
                Some(Ok(r))
            }
            None => {
                at = bytes.len();
                Some(Err(ArchiveError::Truncated))
            }
        }
    })
}

/// Where the end record starts, once the checksum over everything before it is checked.
fn check_end(bytes: &[u8], from: usize) -> Result<usize, ArchiveError> {
    let mut end = None;
    for r in records(bytes, from) {
        let r = r?;
        if r.tag == tag::END {
            end = Some(r);
            break;
        }
    }
    let end = end.ok_or(ArchiveError::Truncated)?;
    let sum: &[u8; 32] = end.body.try_into().map_err(|_| ArchiveError::Truncated)?;
    let stop = end.offset + 5 + 32;
    if stop < bytes.len() {
        return Err(ArchiveError::TrailingBytes(bytes.len() - stop));
    }
    let mut hasher = blake3::Hasher::new_derive_key(ARCHIVE_CHECKSUM_CONTEXT);
    hasher.update(&bytes[..end.offset + 5]);
    if hasher.finalize() != blake3::Hash::from_bytes(*sum) {
        return Err(ArchiveError::Checksum);
    }
    Ok(end.offset)
}

/// Reads an archive into a store, verifying everything: the checksum, then every page,
/// head, proof and fork evidence ([`Restore`]). The store's local author is the archive's
/// key, or, for an archive without one, a replica store (give it an author with
/// [`read_archive_as`]).
pub fn read_archive(bytes: &[u8]) -> Result<MemStore, ArchiveError> {
    let header = archive_header(bytes)?;
    if header.sealed.is_some() {
        return Err(ArchiveError::PasswordNeeded);
    }
    let key = header.key.clone();
    read_records(bytes, &header, key)
}

/// [`read_archive`], restoring as the store of `key` when the archive holds no key (with a
/// key, the archive's is used). The archive must not hold a feed of `key`'s author then
/// (its events would not be this store's own appends): [`RestoreError::Duplicate`].
pub fn read_archive_as(bytes: &[u8], key: AuthorKey) -> Result<MemStore, ArchiveError> {
    let header = archive_header(bytes)?;
    if header.sealed.is_some() {
        return Err(ArchiveError::PasswordNeeded);
    }
    let own = header.key.clone().unwrap_or(key);
    read_records(bytes, &header, Some(own))
}

/// [`read_archive`] of an archive whose key is sealed with a password (an archive whose key is
/// in clear, or that has none, is read as [`read_archive`] reads it, the password unused).
pub fn read_archive_with_password(bytes: &[u8], password: &[u8]) -> Result<MemStore, ArchiveError> {
    let mut header = archive_header(bytes)?;
    if let Some(sealed) = header.sealed.take() {
        header.key = Some(sealed.open(password)?);
    }
    let key = header.key.clone();
    read_records(bytes, &header, key)
}

fn read_records(bytes: &[u8], header: &ArchiveHeader, key: Option<AuthorKey>) -> Result<MemStore, ArchiveError> {
    let end = check_end(bytes, header.records_at)?;
    let stranger = header.key.is_none().then(|| key.as_ref().map(AuthorKey::author)).flatten();
    let mut restore = Restore::new(key, header.config);
    let mut feed: Option<(FeedState, Vec<&[u8]>)> = None;
    let mut runs: Option<Vec<ArrivalRun>> = None;
    // Records come in phases: fork evidence, feeds with their pages, arrival runs.
    let mut phase = Phase::Forks;
    let finish_feed = |restore: &mut Restore, f: Option<(FeedState, Vec<&[u8]>)>| -> Result<(), ArchiveError> {
        let Some((state, pages)) = f else { return Ok(()) };
        if Some(state.author) == stranger {
            return Err(ArchiveError::Feed { author: state.author, error: RestoreError::Duplicate(state.author) });
        }
        restore.feed(&state, pages).map_err(|error| ArchiveError::Feed { author: state.author, error })?;
        Ok(())
    };
    for r in records(&bytes[..end], header.records_at) {
        let r = r?;
        if r.body.len() > max_body_len(&header.config, r.tag) {
            return Err(ArchiveError::RecordTooLong { tag: r.tag, len: r.body.len() });
        }
        let now = Phase::of(r.tag).ok_or(ArchiveError::UnknownRecord { tag: r.tag, offset: r.offset })?;
        if now < phase {
            return Err(ArchiveError::OutOfOrder { offset: r.offset });
        }
        phase = now;
        match r.tag {
            tag::FORK => {
                let evidence = ForkEvidence::decode(r.body).map_err(ArchiveError::ForkRecord)?;
                restore.fork(&evidence).map_err(ArchiveError::Fork)?;
            }
            tag::FEED => {
                let state = FeedState::decode(r.body).map_err(ArchiveError::FeedState)?;
                finish_feed(&mut restore, feed.replace((state, Vec::new())))?;
            }
            tag::PAGE => match &mut feed {
                Some((_, pages)) => pages.push(r.body),
                None => return Err(ArchiveError::PageWithoutFeed { offset: r.offset }),
            },
            _ => {
                finish_feed(&mut restore, feed.take())?;
                if r.body.len() % RUN_LEN != 0 {
                    return Err(ArchiveError::Arrival(RestoreError::Arrival));
                }
                let list = runs.get_or_insert_with(Vec::new);
                list.extend(r.body.chunks_exact(RUN_LEN).filter_map(ArrivalRun::decode));
            }
        }
    }
    finish_feed(&mut restore, feed.take())?;
    if let Some(runs) = runs {
        restore.arrival(runs).map_err(ArchiveError::Arrival)?;
    }
    Ok(restore.finish())
}

/// The order of an archive's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Phase {
    Forks,
    Feeds,
    Arrival,
}

impl Phase {
    /// The phase of a record of `tag` (`None` for the end record and unknown tags).
    pub(super) fn of(tag: u8) -> Option<Phase> {
        match tag {
            tag::FORK => Some(Phase::Forks),
            tag::FEED | tag::PAGE => Some(Phase::Feeds),
            tag::ARRIVAL => Some(Phase::Arrival),
            _ => None,
        }
    }
}
