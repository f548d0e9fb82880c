//! `xf secret new`, and reading the `--secret-file` the other commands take.

use std::io::Write;
use std::path::Path;

use serde_json::json;
use xaeroflux::{SpaceSecret, new_space_secret, parse_space_secret, space_secret_hex};

use crate::args::{Cli, SecretCommand};
use crate::error::CliError;
use crate::output::{Out, hex};

/// `xf secret …`.
pub fn run(cli: &Cli, c: &SecretCommand, out: &mut Out) -> Result<(), CliError> {
    match c {
        SecretCommand::New { out: path } => new(cli, path.as_deref(), out),
    }
}

/// `xf secret new`: prints a new secret, or writes it to a new file readable only by the user.
fn new(cli: &Cli, path: Option<&Path>, out: &mut Out) -> Result<(), CliError> {
    let secret = new_space_secret().map_err(CliError::Random)?;
    let text = space_secret_hex(&secret);
    let key_id = hex(&secret.key_id());
    let Some(path) = path else {
        return if cli.json { out.json(&json!({ "secret": text, "key_id": key_id })) } else { out.line(&text) };
    };
    write_new_private(path, format!("{text}\n").as_bytes()).map_err(|e| CliError::io(path.display(), e))?;
    if cli.json {
        out.json(&json!({ "path": path.display().to_string(), "key_id": key_id }))
    } else {
        out.line(format!("wrote a new space secret to {} (key id {key_id})", path.display()))?;
        out.line("hand it to the members of the space; keep it from everyone else")
    }
}

/// Creates `path` (never over an existing file), readable and writable by the user alone.
fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The secrets of every `--secret-file`, in order.
pub fn load(cli: &Cli) -> Result<Vec<SpaceSecret>, CliError> {
    cli.secret_file
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path.display(), e))?;
            parse_space_secret(&text).map_err(|e| CliError::Secret(path.clone(), e))
        })
        .collect()
}

/// The one secret new events are sealed with, if any: sealing with one of several would be a
/// guess.
pub fn load_for_sealing(cli: &Cli) -> Result<Option<SpaceSecret>, CliError> {
    let mut secrets = load(cli)?;
    match secrets.len() {
        0 | 1 => Ok(secrets.pop()),
        n => Err(CliError::SealWithOne(n)),
    }
}
