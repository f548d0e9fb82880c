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

    /// A space secret file (`xf secret new` makes one): `append` and `import` encrypt new
    /// events with it, and `log` and `show` show the plaintext of the encrypted events it
    /// opens. Give it several times to read with several secrets (a space that changed its
    /// secret); each event is opened with the one whose key id it carries.
    #[arg(long, global = true, env = "XF_SECRET_FILE", hide_env_values = true, value_name = "PATH")]
    pub secret_file: Vec<PathBuf>,

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
    /// Make a space secret, to encrypt events end to end (see --secret-file).
    #[command(subcommand)]
    Secret(SecretCommand),
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
    /// Check the whole store: every page's checksum, the index, each feed's MMR root and the
    /// nodes proofs use, the stored signed heads. Lists what is wrong and exits 1 if anything is.
    Check,
    /// Write a backup of the store to a new directory: every feed, signed head, fork evidence
    /// and the author key, each feed checked against its signed head on the way. Open it as a
    /// store; copy it back to restore. An `xf serve`, `join` or `watch` holding the store makes
    /// the backup when asked.
    Backup(BackupArgs),
    /// Write the store as one archive file (.xfa): every feed up to its signed head, fork
    /// evidence, the arrival order and the author key (unless --no-key). `xf restore` and the
    /// browser package's `Store.restoreArchive` read it. An `xf serve`, `join` or `watch`
    /// holding the store writes it when asked.
    Archive(ArchiveArgs),
    /// Make a new store (at --store, which must not exist) from an archive file written by
    /// `xf archive` or by the browser package's `store.exportArchive()`, verified first.
    Restore(RestoreArgs),
    /// Import NDJSON: an `xf export` (verified against its signed heads), or lines of
    /// {"payload": "..."} appended as new events of your feed.
    Import(ImportArgs),
    /// Export feeds as NDJSON (a signed head line, then one line per event).
    Export(ExportArgs),
    /// List the fork evidence the store holds (authors who signed two histories; their feeds
    /// take no more events), record evidence, or check evidence with no store.
    Forks(ForksArgs),
    /// Sync a space over the network: print a ticket for it, then serve and fetch until
    /// interrupted.
    #[cfg(feature = "net")]
    Serve(ServeArgs),
    /// Join a space through the node of a ticket and sync until interrupted.
    #[cfg(feature = "net")]
    Join(TicketArgs),
    /// Fetch everything the node of a ticket holds, then exit.
    #[cfg(feature = "net")]
    Sync(SyncArgs),
    /// Sync spaces and tickets, printing every event and the progress (events behind per peer).
    #[cfg(feature = "net")]
    Watch(WatchArgs),
    /// Print the sync state (peers, events behind) of the `xf serve`, `join` or `watch`
    /// running on this store, from another shell; or say that none runs.
    #[cfg(feature = "net")]
    Status,
    /// Read events of a feed from the node of a ticket, verified against the author's signed
    /// head, without storing them (a sparse read).
    #[cfg(feature = "net")]
    Fetch(FetchArgs),
    /// Follow authors (kept in the store): with --only-followed, sync keeps only their feeds.
    /// Without arguments, list the authors followed.
    #[cfg(feature = "net")]
    Follow(FollowArgs),
    /// Stop following authors (their stored events stay).
    #[cfg(feature = "net")]
    Unfollow(UnfollowArgs),
}

/// `xf backup`.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Directory to write the backup to; it must not exist (with --update: a backup of this
    /// store).
    pub dest: PathBuf,
    /// Bring an existing backup of this store up to date: copy only what it lacks.
    #[arg(long)]
    pub update: bool,
}

/// `xf archive`.
#[derive(Args, Debug)]
pub struct ArchiveArgs {
    /// File to write the archive to; it must not exist.
    pub file: PathBuf,
    /// Leave the author's secret key out: the archive restores every feed as a replica in a
    /// store of another author (a snapshot to share). With the key, the file is readable by
    /// its owner only: whoever holds it can append as this store's author.
    #[arg(long, conflicts_with_all = ["password_file", "password"])]
    pub no_key: bool,
    /// Seal the author's key in the archive with the password in this file (its first line;
    /// `-`: standard input): the archive then restores as this author only with the password,
    /// and anyone holding the file without it can still read and check every feed.
    #[arg(long, value_name = "FILE", conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    /// Seal the author's key with a password typed at the terminal (twice), as
    /// `--password-file` does.
    #[arg(long)]
    pub password: bool,
}

/// `xf restore`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The archive file.
    pub archive: PathBuf,
    /// The password of an archive whose key is sealed with one, in this file (its first line;
    /// `-`: standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    /// The password of an archive whose key is sealed with one, typed at the terminal.
    #[arg(long)]
    pub password: bool,
    /// Only check the archive (checksum, every page, signature and proof; with
    /// `--password-file`, that the password unseals its key), making no store.
    #[arg(long)]
    pub check: bool,
}

/// `xf forks`.
#[derive(Args, Debug)]
pub struct ForksArgs {
    /// Record this evidence (hex, as `--json` prints it in `evidence`, or a file holding it or
    /// such a JSON object, e.g. what `xf fetch --since --json` printed): the store takes no
    /// more events of that author's feed, and sync neither fetches nor serves it.
    #[arg(long, value_name = "EVIDENCE", conflicts_with = "check")]
    pub record: Vec<String>,
    /// Check this evidence and print what it proves, with no store; exit 1 if it proves no
    /// fork.
    #[arg(long, value_name = "EVIDENCE")]
    pub check: Vec<String>,
}

/// `xf secret …`.
#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Draw a new space secret from the OS's random number generator and print it (64 hex
    /// digits), or write it to a new file readable only by you. Hand it to the members of the
    /// space out of band: peers without it store and sync their events but cannot read them.
    New {
        /// Write the secret to this new file (mode 0600) instead of stdout.
        #[arg(long, short = 'o', value_name = "PATH")]
        out: Option<PathBuf>,
    },
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

/// Network settings shared by the sync commands.
#[cfg(feature = "net")]
#[derive(Args, Debug)]
pub struct NetArgs {
    /// UDP address to listen on (`127.0.0.1:0` to stay on this machine). With port 0 the
    /// store binds the port it had last time if it is free, so its tickets stay valid.
    #[arg(long, default_value = "0.0.0.0:0", value_name = "ADDR")]
    pub bind: std::net::SocketAddr,
    /// With port 0, bind a new free port instead of the one this store had last time.
    #[arg(long)]
    pub fresh_port: bool,
    /// An iroh relay server to use (for example a local `iroh-relay`).
    #[arg(long, value_name = "URL")]
    pub relay: Option<String>,
    /// Do not announce heads on iroh-gossip (sessions only with the nodes named).
    #[arg(long)]
    pub no_gossip: bool,
    /// Sync over Tor as well: run an onion service (tickets name it) and dial the peers whose
    /// tickets name one over Tor. Needs xf built with the feature `tor`.
    #[arg(long)]
    pub tor: bool,
    /// Sync over Tor only: no gossip, no relay, and no address of this machine in tickets.
    #[arg(long, conflicts_with_all = ["tor", "relay", "no_gossip"])]
    pub tor_only: bool,
    /// An arti configuration file (TOML, arti's format) for Tor: bridges, or a private Tor
    /// network's authorities and fallback directories.
    #[arg(long, value_name = "PATH")]
    pub tor_config: Option<PathBuf>,
    /// Fetch and keep only the feeds of the authors followed (`xf follow`); read others with
    /// `xf fetch`.
    #[arg(long)]
    pub only_followed: bool,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long = "for", value_name = "SECS")]
    pub duration: Option<u64>,
}

/// `xf serve`.
#[cfg(feature = "net")]
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The space: 64 hex digits, or a name (everyone using the same name meets in one space).
    #[arg(long, default_value = "default", value_name = "NAME|HEX")]
    pub space: String,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `xf join`.
#[cfg(feature = "net")]
#[derive(Args, Debug)]
pub struct TicketArgs {
    /// A ticket printed by `xf serve` (or made with `Core::ticket`).
    #[arg(value_name = "TICKET")]
    pub ticket: String,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `xf sync`.
#[cfg(feature = "net")]
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// A ticket printed by `xf serve`.
    #[arg(value_name = "TICKET")]
    pub ticket: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub timeout: u64,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `xf watch`.
#[cfg(feature = "net")]
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Spaces to join (names or hex); repeatable.
    #[arg(long = "space", value_name = "NAME|HEX")]
    pub spaces: Vec<String>,
    /// Tickets to join; repeatable.
    #[arg(long = "ticket", value_name = "TICKET")]
    pub tickets: Vec<String>,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `xf fetch`.
#[cfg(feature = "net")]
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").args(["latest", "seqs", "prove", "since"]).required(true)))]
#[command(group(clap::ArgGroup::new("writes").args(["prove", "since"])))]
pub struct FetchArgs {
    /// A ticket of a node holding the feed (`xf serve` prints one).
    #[arg(value_name = "TICKET")]
    pub ticket: String,
    /// The feed's author (64 hex digits, or a unique prefix of a stored feed); with
    /// `--since`, the older head's.
    #[arg(long, value_name = "HEX", required_unless_present = "since", conflicts_with = "since")]
    pub author: Option<String>,
    /// The last N events of the feed.
    #[arg(long, value_name = "N", conflicts_with_all = ["seqs", "prove", "since"])]
    pub latest: Option<u64>,
    /// The events with these seqs, START..END (END not included).
    #[arg(long, value_name = "START..END", conflicts_with_all = ["prove", "since"])]
    pub seqs: Option<String>,
    /// Event SEQ with its inclusion proof: the proof file of `xf prove` (for `xf verify`),
    /// for a feed this store does not hold.
    #[arg(long, value_name = "SEQ", conflicts_with = "since")]
    pub prove: Option<u64>,
    /// A signed head seen before (hex, or a file written by `xf head -o` or `xf fetch --since
    /// -o`, which may hold one head per line): checks that the author's feed, as the peer
    /// holds it now, still extends it (a verified consistency proof), or shows that the author
    /// forked. Repeat it, or give a file of heads, to check several feeds at once (up to 8
    /// checked at the same time; reported in the order given).
    #[arg(long, value_name = "HEAD")]
    pub since: Vec<String>,
    /// With `--prove`: write the proof file here instead of stdout. With `--since`: write the
    /// peers' newer signed heads here (hex, one per line; a head that could not be checked is
    /// written as it was given), for the next check.
    #[arg(long, short = 'o', value_name = "PATH", requires = "writes")]
    pub out: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `xf follow`.
#[cfg(feature = "net")]
#[derive(Args, Debug)]
pub struct FollowArgs {
    /// Authors to follow (64 hex digits, or unique prefixes of stored feeds).
    #[arg(value_name = "HEX")]
    pub authors: Vec<String>,
}

/// `xf unfollow`.
#[cfg(feature = "net")]
#[derive(Args, Debug)]
pub struct UnfollowArgs {
    /// Authors to stop following.
    #[arg(value_name = "HEX", required = true)]
    pub authors: Vec<String>,
}
