//! Error types: one enum per operation, each `#[non_exhaustive]`.

use core::fmt;
use core::ops::Range;
use std::io;
use std::path::PathBuf;

use xaeroflux_core::AuthorId;
use xaeroflux_core::head::HeadError;
use xaeroflux_core::mmr::ProofError as MmrProofError;
use xaeroflux_core::page::PageDecodeError;

/// An I/O failure of the store's files (segments, index, key file), with what was being done.
///
/// Errors of the redb index are carried the same way, with the redb error as the source.
#[derive(Debug)]
pub struct IoError {
    /// What the store was doing ("write segment", "commit index", ...).
    pub op: &'static str,
    /// The file concerned, when there is one.
    pub path: Option<PathBuf>,
    /// The underlying error.
    pub source: io::Error,
}

impl IoError {
    pub(crate) fn new(op: &'static str, path: Option<PathBuf>, source: io::Error) -> Self {
        IoError { op, path, source }
    }
    pub(crate) fn index(op: &'static str, e: impl Into<redb::Error>) -> Self {
        IoError { op, path: None, source: io::Error::other(e.into()) }
    }
    /// Whether the failure is a full disk (`ENOSPC`) or quota (`EDQUOT`).
    pub fn is_disk_full(&self) -> bool {
        matches!(self.source.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
            || matches!(self.source.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{} ({}): {}", self.op, p.display(), self.source),
            None => write!(f, "{}: {}", self.op, self.source),
        }
    }
}

impl core::error::Error for IoError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Why a store could not be opened or created.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The path exists but is not a Xaeroflux store (and is not an empty directory).
    NotAStore {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The store was written by a newer version of Xaeroflux.
    NewerFormat {
        /// Format version found.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },
    /// The store's directory or files cannot be written.
    ReadOnly {
        /// The directory.
        path: PathBuf,
    },
    /// Another handle (in this or another process) has the store open.
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// The author key file is damaged or not ours.
    BadKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A builder setting is invalid, or disagrees with the existing store.
    Config(&'static str),
    /// Stored metadata or the tail of the local feed is damaged beyond what recovery repairs.
    Corrupt {
        /// What is damaged.
        what: &'static str,
        /// The page check that failed, when a page is the cause.
        page: Option<PageDecodeError>,
    },
    /// An I/O or index error.
    Io(IoError),
    /// Background sync could not start (see [`crate::net::NetError`]).
    #[cfg(feature = "net")]
    Net(crate::net::NetError),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAStore { path, reason } => write!(f, "{} is not a xaeroflux store: {reason}", path.display()),
            Self::NewerFormat { found, supported } => {
                write!(f, "store format version {found} is newer than this build supports ({supported})")
            }
            Self::ReadOnly { path } => write!(f, "store directory {} is not writable", path.display()),
            Self::Locked { path } => write!(f, "store {} is already open elsewhere", path.display()),
            Self::BadKeyFile { path, reason } => write!(f, "author key file {}: {reason}", path.display()),
            Self::Config(what) => write!(f, "invalid store configuration: {what}"),
            Self::Corrupt { what, page: Some(e) } => write!(f, "store is damaged: {what}: {e}"),
            Self::Corrupt { what, page: None } => write!(f, "store is damaged: {what}"),
            Self::Io(e) => write!(f, "cannot open store: {e}"),
            #[cfg(feature = "net")]
            Self::Net(e) => write!(f, "cannot start sync: {e}"),
        }
    }
}

impl core::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            #[cfg(feature = "net")]
            Self::Net(e) => Some(e),
            _ => None,
        }
    }
}

impl From<IoError> for OpenError {
    fn from(e: IoError) -> Self {
        OpenError::Io(e)
    }
}

/// Why an append failed. Nothing of a failed append is visible or acknowledged.
#[derive(Debug)]
#[non_exhaustive]
pub enum AppendError {
    /// The payload is larger than [`xaeroflux_core::event::MAX_PAYLOAD_LEN`].
    TooLarge {
        /// Payload length.
        len: usize,
        /// The limit.
        limit: u32,
    },
    /// Reserved event flag bits were set.
    ReservedFlags(u8),
    /// The event is flagged `ENCRYPTED` but its payload is not a sealed payload: the flag
    /// alone encrypts nothing (use [`NewEvent::encrypt`](crate::NewEvent::encrypt)).
    NotSealed,
    /// Writing or syncing failed (a full disk among others: see [`IoError::is_disk_full`]).
    /// Everything acknowledged before is intact; after a failed sync the store refuses further
    /// writes until it is reopened.
    Io(IoError),
    /// An earlier sync failed; reopen the store (recovery decides what is durable).
    Poisoned,
    /// The store is closed (its writer has stopped).
    Closed,
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, limit } => write!(f, "payload of {len} bytes is over the {limit}-byte limit"),
            Self::ReservedFlags(b) => write!(f, "reserved event flag bits set: {b:#04x}"),
            Self::NotSealed => {
                f.write_str("the event is flagged ENCRYPTED but its payload is not sealed (use NewEvent::encrypt)")
            }
            Self::Io(e) => write!(f, "append failed: {e}"),
            Self::Poisoned => f.write_str("an earlier sync failed: reopen the store before writing"),
            Self::Closed => f.write_str("the store is closed"),
        }
    }
}

impl core::error::Error for AppendError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a read failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The page holding these events failed its checks (checksum, truncated file, bad
    /// encoding). Other pages are unaffected.
    Corrupt {
        /// The feed.
        author: AuthorId,
        /// The seqs of the damaged page.
        seqs: Range<u64>,
        /// What the check found.
        reason: CorruptReason,
    },
    /// The requested range goes past the end of the feed.
    OutOfRange {
        /// The range asked for.
        requested: Range<u64>,
        /// The feed's length.
        len: u64,
    },
    /// Reading the index failed.
    Io(IoError),
}

/// What is wrong with a damaged page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    /// The page's bytes do not decode or their checksum does not match.
    Page(PageDecodeError),
    /// The segment file is shorter than the page's location (truncated or missing).
    Truncated {
        /// Segment number.
        segment: u32,
        /// Byte offset of the page in the segment.
        offset: u64,
    },
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Page(e) => write!(f, "{e}"),
            Self::Truncated { segment, offset } => {
                write!(f, "segment {segment} ends before the page at byte {offset}")
            }
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt { author, seqs, reason } => {
                write!(f, "damaged page: feed {author} events {}..{}: {reason}", seqs.start, seqs.end)
            }
            Self::OutOfRange { requested, len } => {
                write!(f, "range {}..{} is past the end of the feed ({len} events)", requested.start, requested.end)
            }
            Self::Io(e) => write!(f, "read failed: {e}"),
        }
    }
}

impl core::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<IoError> for ReadError {
    fn from(e: IoError) -> Self {
        ReadError::Io(e)
    }
}

/// Why a proof could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProveError {
    /// The store holds no feed of this author.
    UnknownFeed(AuthorId),
    /// The seq or length is not inside the stored feed.
    OutOfRange {
        /// The seq or length asked for.
        requested: u64,
        /// The feed's length.
        len: u64,
    },
    /// The MMR nodes needed were missing or inconsistent.
    Mmr(MmrProofError),
    /// Reading the stored MMR nodes failed.
    Io(IoError),
    /// Reading the events a low MMR node is recomputed from failed (a damaged page).
    Read(ReadError),
}

impl fmt::Display for ProveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFeed(a) => write!(f, "no feed of author {a} in this store"),
            Self::OutOfRange { requested, len } => write!(f, "{requested} is outside the feed of {len} events"),
            Self::Mmr(e) => write!(f, "cannot build proof: {e}"),
            Self::Io(e) => write!(f, "cannot build proof: {e}"),
            Self::Read(e) => write!(f, "cannot build proof: {e}"),
        }
    }
}

impl core::error::Error for ProveError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Read(e) => Some(e),
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Why verified events of another feed were refused. Nothing was stored.
#[derive(Debug)]
#[non_exhaustive]
pub enum ImportError {
    /// The signed head's signature does not verify.
    BadHead(HeadError),
    /// The head is of this store's own author: only this store extends its own feed.
    OwnFeed,
    /// An event is by another author than the head's.
    WrongAuthor {
        /// Index of the event in the batch.
        index: usize,
    },
    /// The events are not the next ones of the stored feed (consecutive seqs from its length).
    NotNext {
        /// Seq expected.
        expected: u64,
        /// Seq found.
        found: u64,
    },
    /// The events do not extend the stored feed to the signed head (wrong events, a forged or
    /// forked head, or a length that does not add up).
    NotAnExtension(MmrProofError),
    /// The head's length is not the stored length plus the events given.
    LengthMismatch {
        /// Length the head claims.
        head: u64,
        /// Stored length plus events given.
        computed: u64,
    },
    /// Another import of the same feed was stored first; fetch the new state and retry.
    Conflict,
    /// Fork evidence against the head's author is recorded ([`Core::record_fork`](crate::Core::record_fork)):
    /// the store takes no more of that feed.
    Forked,
    /// An event's encoding is invalid.
    BadEvent {
        /// Index of the event in the batch.
        index: usize,
    },
    /// Writing failed; nothing of this import is stored.
    Io(IoError),
    /// An earlier sync failed; reopen the store.
    Poisoned,
    /// The store is closed.
    Closed,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadHead(e) => write!(f, "refused signed head: {e}"),
            Self::OwnFeed => f.write_str("refused: events of this store's own feed can only be appended locally"),
            Self::WrongAuthor { index } => write!(f, "event {index} is not by the head's author"),
            Self::NotNext { expected, found } => write!(f, "expected event seq {expected}, got {found}"),
            Self::NotAnExtension(e) => write!(f, "events do not extend the stored feed to the signed head: {e}"),
            Self::LengthMismatch { head, computed } => {
                write!(f, "signed head length {head} != stored length plus events ({computed})")
            }
            Self::Conflict => f.write_str("the feed changed while importing; retry"),
            Self::Forked => f.write_str("refused: the author forked (fork evidence is recorded for this feed)"),
            Self::BadEvent { index } => write!(f, "event {index} is not a valid encoded event"),
            Self::Io(e) => write!(f, "import failed: {e}"),
            Self::Poisoned => f.write_str("an earlier sync failed: reopen the store before writing"),
            Self::Closed => f.write_str("the store is closed"),
        }
    }
}

impl core::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a sync, checkpoint or close failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SyncError {
    /// Writing or syncing failed.
    Io(IoError),
    /// An earlier sync failed; reopen the store.
    Poisoned,
    /// The store is closed.
    Closed,
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "sync failed: {e}"),
            Self::Poisoned => f.write_str("an earlier sync failed: reopen the store"),
            Self::Closed => f.write_str("the store is closed"),
        }
    }
}

impl core::error::Error for SyncError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Why fork evidence was not recorded ([`Core::record_fork`](crate::Core::record_fork)).
#[derive(Debug)]
#[non_exhaustive]
pub enum RecordForkError {
    /// The evidence does not prove a fork.
    BadEvidence(xaeroflux_core::xsp::ForkEvidenceError),
    /// Writing the index failed; nothing was recorded.
    Io(IoError),
    /// An earlier sync failed; reopen the store.
    Poisoned,
}

impl fmt::Display for RecordForkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadEvidence(e) => write!(f, "fork evidence refused: {e}"),
            Self::Io(e) => write!(f, "recording fork evidence failed: {e}"),
            Self::Poisoned => f.write_str("an earlier sync failed: reopen the store before writing"),
        }
    }
}

impl core::error::Error for RecordForkError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::BadEvidence(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Poisoned => None,
        }
    }
}
