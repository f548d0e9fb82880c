//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// xf: an embedded, append-only, verifiable event store on the command line.
///
/// Every event goes into its author's append-only feed, a Merkle Mountain Range whose root
/// the author signs; `prove` writes a proof that anyone can check with `verify`, without the
/// store.
#[derive(Parser, Debug)]
#[command(name = "xf", version, propagate_version = true, disable_help_subcommand = true)]
pub struct Cli {
    /// Store directory.
    #[arg(
        long,
        global = true,
        env = "XF_STORE",
        hide_env_values = true,
        default_value = "xaeroflux.db",
        value_name = "DIR"
    )]
    pub store: PathBuf,

    /// Print machine-readable JSON (one object, or one object per line for lists).
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a store (with a new author key) in --store.
    Init(InitArgs),
    /// Append events to your feed: each argument is one event, or each line of stdin; all in
    /// one durable commit.
    Append(AppendArgs),
    /// List events, in local arrival order or of one feed.
    Log(LogArgs),
    /// Show one event in full.
    Show(ShowArgs),
    /// Print a feed's MMR root and length.
    Root(FeedArgs),
    /// Print a feed's signed head (author, length, root, signature).
    Head(HeadArgs),
    /// Write an inclusion proof of one event (to a file or stdout).
    Prove(ProveArgs),
    /// Check a proof file against a signed head or a root (no store needed).
    Verify(VerifyArgs),
    /// Print store statistics.
    Stats,
    /// Import NDJSON: an `xf export` (verified against its signed heads), or lines of
    /// {"payload": "..."} appended as new events of your feed.
    Import(ImportArgs),
    /// Export feeds as NDJSON (a signed head line, then one line per event).
    Export(ExportArgs),
}

/// `xf init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Page size in bytes (a power of two; default 16 KiB).
    #[arg(long, value_name = "BYTES")]
    pub page_size: Option<u32>,
    /// Pages per segment file.
    #[arg(long, value_name = "N")]
    pub segment_pages: Option<u32>,
}

/// `xf append`.
#[derive(Args, Debug)]
pub struct AppendArgs {
    /// Event payloads (UTF-8 text). Without any, each non-empty line of stdin is one event.
    #[arg(value_name = "TEXT", conflicts_with = "file")]
    pub text: Vec<String>,
    /// Append the whole content of a file (any bytes) as one event.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
}

/// Selects a feed.
#[derive(Args, Debug)]
pub struct FeedArgs {
    /// The feed's author (hex, or a unique prefix of a stored feed); default: your own feed.
    #[arg(long, value_name = "HEX")]
    pub author: Option<String>,
}

/// `xf log`.
#[derive(Args, Debug)]
pub struct LogArgs {
    /// Only this feed, in seq order (hex or unique prefix); default: every feed in arrival order.
    #[arg(long, value_name = "HEX")]
    pub author: Option<String>,
    /// With --author: start at this seq.
    #[arg(long, value_name = "SEQ", requires = "author")]
    pub from: Option<u64>,
    /// At most this many events.
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<u64>,
}

/// `xf show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The event's seq in its feed.
    pub seq: u64,
    #[command(flatten)]
    pub feed: FeedArgs,
    /// Write only the payload bytes to stdout.
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,
}

/// `xf head`.
#[derive(Args, Debug)]
pub struct HeadArgs {
    #[command(flatten)]
    pub feed: FeedArgs,
    /// Also write the encoded head (hex) to this file, for `xf verify --head`.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// `xf prove`.
#[derive(Args, Debug)]
pub struct ProveArgs {
    /// The event's seq in its feed.
    pub seq: u64,
    #[command(flatten)]
    pub feed: FeedArgs,
    /// Write the proof here instead of stdout.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// `xf verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The proof file (`-` for stdin).
    #[arg(value_name = "PROOF")]
    pub proof: PathBuf,
    /// Trust this MMR root (64 hex digits), e.g. from `xf root` on the author's store.
    #[arg(long, value_name = "HEX", conflicts_with = "head")]
    pub root: Option<String>,
    /// Trust this signed head: hex (as printed by `xf head`), or a file holding it.
    /// Without --root or --head, the head inside the proof file is used (its signature is
    /// checked, so the proof shows the author signed a feed holding the event).
    #[arg(long, value_name = "HEX|PATH")]
    pub head: Option<String>,
}

/// `xf import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// NDJSON file (`-` or nothing for stdin).
    #[arg(value_name = "PATH")]
    pub input: Option<PathBuf>,
    /// New local events per durable commit when importing payload lines.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub batch: usize,
}

/// `xf export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Only this feed (hex or unique prefix); default: every feed.
    #[arg(long, value_name = "HEX")]
    pub author: Option<String>,
    /// Write here instead of stdout.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: Option<PathBuf>,
}
