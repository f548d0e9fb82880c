//! The one error type of the tool: every failure is one line on stderr and a non-zero exit.

use std::fmt;
use std::io;
use std::path::PathBuf;

use xaeroflux::{AppendError, ImportError, OpenError, ProveError, ReadError};
use xaeroflux_core::AuthorId;

use crate::ndjson::LineError;
use crate::output::author_hex;
use crate::proof_file::{ProofFileError, Rejection};

/// Why a command failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// There is no store at the path (and the command does not create one).
    NoStore(PathBuf),
    /// The store could not be opened.
    Open(PathBuf, OpenError),
    /// An append failed (nothing of that batch is stored; the count of events stored by
    /// earlier batches of the same command is given).
    Append(u64, AppendError),
    /// A read failed.
    Read(ReadError),
    /// A proof could not be made.
    Prove(ProveError),
    /// Verified import refused a feed.
    Import(AuthorId, ImportError),
    /// An import holds new events of a feed but no signed head to verify them against.
    MissingHead(AuthorId),
    /// An imported event differs from the stored one with the same seq.
    Diverged(AuthorId, u64),
    /// The event does not exist.
    NoSuchEvent(AuthorId, u64, u64),
    /// `--author` is not hex.
    BadAuthor(String),
    /// `--author` matches no stored feed.
    UnknownAuthor(String),
    /// `--author` prefix matches more than one feed.
    AmbiguousAuthor(String),
    /// `--root` is not 64 hex digits.
    BadRoot(String),
    /// `--head` (or `--since`, the flag named) is neither a signed head in hex nor a file
    /// holding one.
    BadHead(&'static str, String),
    /// Fork evidence given (the argument) is not evidence, or proves no fork (why).
    BadEvidence(String, String),
    /// Recording fork evidence (the argument) failed.
    RecordFork(String, xaeroflux::RecordForkError),
    /// The proof file cannot be read.
    ProofFile(ProofFileError),
    /// The proof does not verify.
    Rejected(Rejection),
    /// An import line is not acceptable.
    Line(u64, LineError),
    /// Reading or writing a file (or stdin) failed.
    Io(String, io::Error),
    /// Writing to stdout failed.
    Stdout(io::Error),
    /// The integrity check could not run to its end.
    Check(xaeroflux::CheckError),
    /// The backup failed (nothing was left at its destination).
    Backup(xaeroflux::BackupError),
    /// Writing the archive failed (nothing was left at its destination).
    Archive(xaeroflux::ArchiveWriteError),
    /// Restoring the archive failed (no store was made).
    Restore(xaeroflux::RestoreArchiveError),
    /// The backup or archive that the command running on the store made failed: its message.
    #[cfg(feature = "net")]
    ServedBackup(String),
    /// The integrity check found this many problems (listed on stdout).
    Damaged(usize),
    /// `--secret-file` does not hold a space secret.
    Secret(PathBuf, xaeroflux::ParseSecretError),
    /// New events are sealed with one secret, and this many were given.
    SealWithOne(usize),
    /// An event could not be encrypted.
    Encrypt(xaeroflux::EncryptError),
    /// The OS random number generator failed.
    Random(xaeroflux::RandomError),
    /// Stdout was closed by the reader (`xf log | head`): not an error, exit quietly.
    BrokenPipe,
    /// Sync failed.
    #[cfg(feature = "net")]
    Net(xaeroflux::net::NetError),
    /// A ticket does not parse.
    #[cfg(feature = "net")]
    Ticket(String, xaeroflux::net::TicketError),
    /// `xf sync` did not finish in time.
    #[cfg(feature = "net")]
    SyncTimeout(u64),
    /// The ticket's node sent something that does not verify.
    #[cfg(feature = "net")]
    SyncRejected(xaeroflux_core::xsp::SessionError),
    /// `xf fetch` failed.
    #[cfg(feature = "net")]
    Fetch(xaeroflux::net::FetchError),
    /// `xf fetch --seqs` does not parse.
    #[cfg(feature = "net")]
    BadSeqs(String),
}

impl CliError {
    /// Classifies a failed stdout write.
    pub fn stdout(e: io::Error) -> CliError {
        if e.kind() == io::ErrorKind::BrokenPipe { CliError::BrokenPipe } else { CliError::Stdout(e) }
    }

    /// An I/O error about `what` (a path, or "stdin").
    pub fn io(what: impl fmt::Display, e: io::Error) -> CliError {
        CliError::Io(what.to_string(), e)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoStore(p) => write!(f, "no store at {} (create one with `xf init`, or pass --store)", p.display()),
            Self::Open(p, e) => write!(f, "cannot open the store at {}: {e}", p.display()),
            Self::Append(0, e) => write!(f, "append failed, nothing was stored: {e}"),
            Self::Append(n, e) => write!(f, "append failed after {n} events were stored durably: {e}"),
            Self::Read(e) => write!(f, "read failed: {e}"),
            Self::Prove(e) => write!(f, "cannot make the proof: {e}"),
            Self::Import(a, e) => write!(f, "feed {} refused: {e}", author_hex(a)),
            Self::MissingHead(a) => {
                write!(f, "the input has new events of feed {} but no signed head to verify them", author_hex(a))
            }
            Self::Diverged(a, seq) => {
                write!(f, "event #{seq} of feed {} in the input differs from the stored one (fork?)", author_hex(a))
            }
            Self::NoSuchEvent(a, seq, len) => {
                write!(f, "no event #{seq} in feed {} (it has {len} events)", author_hex(a))
            }
            Self::BadAuthor(s) => write!(f, "--author {s:?} is not a hex author id or prefix"),
            Self::UnknownAuthor(s) => write!(f, "no feed in this store matches --author {s}"),
            Self::AmbiguousAuthor(s) => write!(f, "--author {s} matches several feeds: give more digits"),
            Self::BadRoot(s) => write!(f, "--root {s:?} is not a root (64 hex digits)"),
            Self::BadHead(flag, s) => write!(f, "{flag} {s:?} is neither a signed head in hex nor a file holding one"),
            Self::ProofFile(e) => write!(f, "{e}"),
            Self::Rejected(e) => write!(f, "proof INVALID: {e}"),
            Self::BadEvidence(arg, why) => write!(f, "fork evidence {}: {why}", short(arg)),
            Self::RecordFork(arg, e) => write!(f, "fork evidence {}: {e}", short(arg)),
            Self::Line(n, e) => write!(f, "import line {n}: {e}"),
            Self::Io(what, e) => write!(f, "{what}: {e}"),
            Self::Stdout(e) => write!(f, "cannot write to stdout: {e}"),
            Self::Secret(p, e) => write!(f, "--secret-file {}: {e}", p.display()),
            Self::SealWithOne(n) => {
                write!(f, "new events are encrypted with one secret: give one --secret-file, not {n}")
            }
            Self::Encrypt(e) => write!(f, "cannot encrypt: {e}"),
            Self::Random(e) => write!(f, "{e}"),
            Self::Check(e) => write!(f, "{e}"),
            Self::Backup(e) => write!(f, "{e}"),
            Self::Archive(e) => write!(f, "{e}"),
            Self::Restore(xaeroflux::RestoreArchiveError::Archive(
                xaeroflux::xaeroflux_core::memstore::ArchiveError::PasswordNeeded,
            )) => f.write_str(
                "restore refused: the archive's key is sealed with a password: give it with --password or --password-file FILE",
            ),
            Self::Restore(e) => write!(f, "{e}"),
            #[cfg(feature = "net")]
            Self::ServedBackup(message) => write!(f, "{message} (in the xf command running on the store)"),
            Self::Damaged(1) => f.write_str("the store has 1 problem (listed above)"),
            Self::Damaged(n) => write!(f, "the store has {n} problems (listed above)"),
            Self::BrokenPipe => f.write_str("stdout closed"),
            #[cfg(feature = "net")]
            Self::Net(e) => write!(f, "sync: {e}"),
            #[cfg(feature = "net")]
            Self::Ticket(t, e) => write!(f, "bad ticket {t:?}: {e}"),
            #[cfg(feature = "net")]
            Self::SyncTimeout(s) => write!(f, "not synced after {s} s (is the ticket's node running and reachable?)"),
            #[cfg(feature = "net")]
            Self::SyncRejected(e) => write!(f, "the ticket's node sent data that does not verify: {e}"),
            #[cfg(feature = "net")]
            Self::Fetch(e) => write!(f, "fetch: {e}"),
            #[cfg(feature = "net")]
            Self::BadSeqs(s) => write!(f, "bad --seqs {s:?} (expected START..END, e.g. 0..100)"),
        }
    }
}

impl std::error::Error for CliError {}

/// An argument as an error names it: in full if short, else its first characters (evidence
/// in hex is a few hundred).
fn short(arg: &str) -> String {
    match arg.char_indices().nth(24) {
        Some((i, _)) => format!("{:?}", format!("{}…", &arg[..i])),
        None => format!("{arg:?}"),
    }
}
