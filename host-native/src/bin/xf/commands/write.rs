//! `xf init` and `xf append`.

use std::io::{self, BufRead};

use serde_json::json;
use xaeroflux::Core;

use crate::args::{AppendArgs, Cli, InitArgs};
use crate::error::CliError;
use crate::output::{Out, author_hex, hash_hex};
use crate::store::{Pipelined, open_existing, open_waiting};

/// Stdin lines are appended in batches of at most this many events (one durable commit each),
/// so an endless pipe never needs unbounded memory.
const STDIN_BATCH_EVENTS: usize = 100_000;
/// … or this many payload bytes.
const STDIN_BATCH_BYTES: usize = 64 << 20;

/// `xf init`: creates the store (or reports the one already there).
pub fn init(cli: &Cli, a: &InitArgs, out: &mut Out) -> Result<(), CliError> {
    let existed = std::fs::read_dir(&cli.store).is_ok_and(|mut d| d.next().is_some());
    let core = open_waiting(&cli.store, || {
        let mut builder = Core::builder();
        if let Some(p) = a.page_size {
            builder = builder.with_page_size(p);
        }
        if let Some(n) = a.segment_pages {
            builder = builder.with_segment_pages(n);
        }
        builder.open(&cli.store)
    })?;
    let author = core.author();
    let length = core.feed_len(&author);
    if cli.json {
        out.json(&json!({
            "store": cli.store.display().to_string(),
            "created": !existed,
            "author": author_hex(&author),
            "length": length,
        }))
    } else {
        let what = if existed { "opened existing store" } else { "created store" };
        out.line(format!("{what} at {}", cli.store.display()))?;
        out.line(format!("author  {}", author_hex(&author)))?;
        out.line(format!("length  {length}"))
    }
}

/// Reads the events to append from stdin, calling `flush` per batch.
fn stdin_batches(mut flush: impl FnMut(&[Vec<u8>]) -> Result<(), CliError>) -> Result<(), CliError> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line).map_err(|e| CliError::io("stdin", e))?;
        if n == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        if line.is_empty() {
            continue;
        }
        bytes += line.len();
        batch.push(line.clone());
        if batch.len() >= STDIN_BATCH_EVENTS || bytes >= STDIN_BATCH_BYTES {
            flush(&batch)?;
            batch.clear();
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        flush(&batch)?;
    }
    Ok(())
}

/// `xf append`: arguments, a file, or stdin lines; one durable commit per batch.
pub fn append(cli: &Cli, a: &AppendArgs, out: &mut Out) -> Result<(), CliError> {
    let secret = crate::commands::secret::load_for_sealing(cli)?;
    let core = open_existing(&cli.store)?;
    let author = core.author();
    let first = core.feed_len(&author);
    let mut batches = Pipelined::new(&core, secret);
    if let Some(path) = &a.file {
        let data = std::fs::read(path).map_err(|e| CliError::io(path.display(), e))?;
        batches.commit(&[data])?;
    } else if !a.text.is_empty() {
        let payloads: Vec<Vec<u8>> = a.text.iter().map(|t| t.as_bytes().to_vec()).collect();
        batches.commit(&payloads)?;
    } else {
        stdin_batches(|payloads| batches.commit(payloads))?;
    }
    let stored = batches.finish()?;
    let head = core.head();
    if cli.json {
        return out.json(&json!({
            "author": author_hex(&author),
            "first_seq": first,
            "count": stored,
            "encrypted": !cli.secret_file.is_empty(),
            "length": head.length,
            "root": hash_hex(&head.root),
        }));
    }
    let sealed = if cli.secret_file.is_empty() { "" } else { " (encrypted)" };
    match stored {
        0 => out.line("nothing to append (no non-empty input lines)")?,
        1 => out.line(format!("appended event #{first}{sealed}"))?,
        n => out.line(format!("appended {n} events #{first}..#{}{sealed}", first + n - 1))?,
    }
    out.line(format!("length  {}", head.length))?;
    out.line(format!("root    {}", hash_hex(&head.root)))
}
