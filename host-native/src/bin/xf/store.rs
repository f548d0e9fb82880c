//! Opening the store and naming feeds from the command line.

use std::path::Path;
use std::time::{Duration, Instant};

use xaeroflux::{Core, OpenError, PendingAppend, SpaceSecret};
use xaeroflux_core::AuthorId;

use crate::error::CliError;

/// The file name of the status socket a running `xf serve`, `join` or `watch` listens on in
/// the store directory (see `commands::status`).
pub const STATUS_SOCKET: &str = "xf.sock";

/// How long a command waits for a store another process holds without a status socket: most
/// likely another short command (`xf status` reading the store's counts, `xf head`) about to
/// release it.
const HELD_WAIT: Duration = Duration::from_secs(2);

/// How often a command looks again at a store another process holds.
pub const HELD_POLL: Duration = Duration::from_millis(20);

/// Opens the existing store at `path` (commands other than `init` never create one), waiting
/// as [`open_waiting`] does for a store another short command holds.
pub fn open_existing(path: &Path) -> Result<Core, CliError> {
    open_existing_within(path, HELD_WAIT)
}

/// [`open_existing`], waiting at most `wait` for a store another process holds without a
/// status socket (`Duration::ZERO`: not at all).
pub fn open_existing_within(path: &Path, wait: Duration) -> Result<Core, CliError> {
    if !path.exists() {
        return Err(CliError::NoStore(path.to_path_buf()));
    }
    open_within(path, wait, || Core::builder().open(path))
}

/// Opens the store at `path` with `open`. While another process holds the store and no
/// long-running command's status socket is there, tries again for at most [`HELD_WAIT`]; a
/// store held by `xf serve`, `join` or `watch` fails at once.
pub fn open_waiting(path: &Path, open: impl FnMut() -> Result<Core, OpenError>) -> Result<Core, CliError> {
    open_within(path, HELD_WAIT, open)
}

/// [`open_waiting`], waiting at most `wait`.
fn open_within(
    path: &Path,
    wait: Duration,
    mut open: impl FnMut() -> Result<Core, OpenError>,
) -> Result<Core, CliError> {
    let deadline = Instant::now() + wait;
    loop {
        match open() {
            Err(OpenError::Locked { .. }) if Instant::now() < deadline && !path.join(STATUS_SOCKET).exists() => {
                std::thread::sleep(HELD_POLL);
            }
            opened => return opened.map_err(|e| CliError::Open(path.to_path_buf(), e)),
        }
    }
}

/// The feed `--author` names: full hex, or a unique prefix of a stored feed's author; the
/// local author when absent.
pub fn resolve_author(core: &Core, arg: Option<&str>) -> Result<AuthorId, CliError> {
    let Some(arg) = arg else {
        return Ok(core.author());
    };
    let want = arg.trim().to_ascii_lowercase();
    if want.is_empty() || want.len() > 64 || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CliError::BadAuthor(arg.to_string()));
    }
    if want.len() == 64 {
        let mut id = [0u8; 32];
        hex::decode_to_slice(&want, &mut id).map_err(|_| CliError::BadAuthor(arg.to_string()))?;
        return Ok(AuthorId(id));
    }
    let mut found = None;
    for feed in core.feeds() {
        if hex::encode(feed.author.0).starts_with(&want) {
            if found.is_some() {
                return Err(CliError::AmbiguousAuthor(arg.to_string()));
            }
            found = Some(feed.author);
        }
    }
    found.ok_or_else(|| CliError::UnknownAuthor(arg.to_string()))
}

/// Commits batches pipelined ([`Core::submit_batch`]): a batch's `fdatasync` runs while the
/// next one is read and written; `stored` counts the events known durable. With a secret,
/// every payload is encrypted with it first.
pub struct Pipelined<'c> {
    core: &'c Core,
    secret: Option<SpaceSecret>,
    in_flight: Option<PendingAppend<'c>>,
    /// Events known durable so far.
    pub stored: u64,
}

impl<'c> Pipelined<'c> {
    /// Nothing in flight yet.
    pub fn new(core: &'c Core, secret: Option<SpaceSecret>) -> Self {
        Pipelined { core, secret, in_flight: None, stored: 0 }
    }

    /// Submits `payloads` as one commit, and waits for the one before.
    pub fn commit(&mut self, payloads: &[Vec<u8>]) -> Result<(), CliError> {
        let submitted = match &self.secret {
            None => self.core.submit_batch(payloads.iter().map(Vec::as_slice)),
            Some(secret) => {
                let events = payloads
                    .iter()
                    .map(|p| self.core.new_event(p).encrypt(secret))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(CliError::Encrypt)?;
                self.core.submit_events(events)
            }
        };
        let p = submitted.map_err(|e| CliError::Append(self.stored, e))?;
        if let Some(before) = self.in_flight.replace(p) {
            self.acknowledge(before)?;
        }
        Ok(())
    }

    fn acknowledge(&mut self, p: PendingAppend<'_>) -> Result<(), CliError> {
        let range = p.wait().map_err(|e| CliError::Append(self.stored, e))?;
        self.stored += range.end - range.start;
        Ok(())
    }

    /// Waits for the last batch; the events stored in all.
    pub fn finish(mut self) -> Result<u64, CliError> {
        if let Some(p) = self.in_flight.take() {
            self.acknowledge(p)?;
        }
        Ok(self.stored)
    }
}
