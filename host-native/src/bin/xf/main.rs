//! `xf`: the Xaeroflux command-line tool.
//!
//! ```text
//! xf init                         create a store (./xaeroflux.db, or --store DIR, or $XF_STORE)
//! xf append "hello" "world"       two events, one durable commit (or lines of stdin)
//! xf log | show 1 | root | head   read
//! xf prove 1 -o p.json            an inclusion proof of event #1 with the signed head
//! xf verify p.json [--root R | --head H]   check it, with no store at all
//! xf secret new -o s.key          a space secret; --secret-file s.key encrypts appends
//!                                 and decrypts what log and show print
//! xf stats | export | import      inspect, dump and load NDJSON
//! xf serve | join T | sync T | watch   sync over the network (feature `net`)
//! xf status                            the sync state of the serve/join/watch running here
//! xf fetch T --author A --latest N     read a feed on demand, not stored (--seqs a..b;
//!                                      --prove SEQ -o p.json: one event's proof file)
//! ```
//!
//! `--json` makes every command print JSON for scripts. Errors are one line on stderr and a
//! non-zero exit status (1 for a failure, 2 for a usage error).

mod args;
mod commands;
mod error;
mod ndjson;
mod output;
mod password;
mod proof_file;
mod store;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use error::CliError;
use output::Out;

fn run(cli: &Cli) -> Result<(), CliError> {
    let mut out = Out::new();
    match &cli.command {
        Command::Init(a) => commands::write::init(cli, a, &mut out)?,
        Command::Append(a) => commands::write::append(cli, a, &mut out)?,
        Command::Log(a) => commands::read::log(cli, a, &mut out)?,
        Command::Show(a) => commands::read::show(cli, a, &mut out)?,
        Command::Secret(c) => commands::secret::run(cli, c, &mut out)?,
        Command::Root(a) => commands::read::root(cli, a, &mut out)?,
        Command::Head(a) => commands::read::head(cli, a, &mut out)?,
        Command::Stats => commands::read::stats(cli, &mut out)?,
        Command::Check => commands::check::check(cli, &mut out)?,
        Command::Backup(a) => commands::backup::backup(cli, a, &mut out)?,
        Command::Archive(a) => commands::archive::archive(cli, a, &mut out)?,
        Command::Restore(a) => commands::archive::restore(cli, a, &mut out)?,
        Command::Prove(a) => commands::proof::prove(cli, a, &mut out)?,
        Command::Verify(a) => commands::proof::verify(cli, a, &mut out)?,
        Command::Import(a) => ndjson::import(cli, a, &mut out)?,
        Command::Export(a) => ndjson::export(cli, a, &mut out)?,
        Command::Forks(a) => commands::forks::forks(cli, a, &mut out)?,
        #[cfg(feature = "net")]
        Command::Serve(a) => commands::net::serve(cli, a, &mut out)?,
        #[cfg(feature = "net")]
        Command::Join(a) => commands::net::join(cli, a, &mut out)?,
        #[cfg(feature = "net")]
        Command::Sync(a) => commands::net::sync(cli, a, &mut out)?,
        #[cfg(feature = "net")]
        Command::Watch(a) => commands::net::watch(cli, a, &mut out)?,
        #[cfg(feature = "net")]
        Command::Status => commands::status::status(cli, &mut out)?,
        #[cfg(feature = "net")]
        Command::Fetch(a) => commands::fetch::fetch(cli, a, &mut out)?,
        #[cfg(feature = "net")]
        Command::Follow(a) => commands::fetch::follow(cli, a, &mut out)?,
        #[cfg(feature = "net")]
        Command::Unfollow(a) => commands::fetch::unfollow(cli, a, &mut out)?,
    }
    out.flush()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) | Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xf: error: {e}");
            ExitCode::FAILURE
        }
    }
}
