//! `xf log`, `show`, `root`, `head` and `stats`.

use serde_json::json;
use xaeroflux::{Core, SpaceSecret};
use xaeroflux_core::{AuthorId, EventRef, SignedHead};

use crate::args::{Cli, FeedArgs, HeadArgs, LogArgs, ShowArgs};
use crate::commands::forks::{describe, evidence_json};
use crate::commands::secret;
use crate::error::CliError;
use crate::output::{Out, Shown, author_hex, author_short, event_json, hash_hex, hex, utc};
use crate::store::{open_existing, resolve_author};

/// The signed head of a feed: the store's own for the local author, the stored one otherwise.
pub fn feed_head(core: &Core, author: &AuthorId) -> Result<SignedHead, CliError> {
    if *author == core.author() {
        return Ok(core.head());
    }
    core.feed_head(author).ok_or_else(|| CliError::UnknownAuthor(author_hex(author)))
}

pub fn log_line(ev: &EventRef<'_>, secrets: &[SpaceSecret]) -> String {
    let kind = if ev.kind() == 0 { String::new() } else { format!("[kind {}] ", ev.kind()) };
    format!(
        "#{:<6} {}  {}  {kind}{}",
        ev.seq(),
        author_short(&ev.author()),
        utc(ev.timestamp_us()),
        Shown::of(ev, secrets).preview(ev, 80)
    )
}

/// `xf log`.
pub fn log(cli: &Cli, a: &LogArgs, out: &mut Out) -> Result<(), CliError> {
    let secrets = secret::load(cli)?;
    let core = open_existing(&cli.store)?;
    let limit = a.limit.unwrap_or(u64::MAX);
    let mut shown = 0u64;
    let mut emit = |ev: EventRef<'_>, out: &mut Out| -> Result<bool, CliError> {
        if shown >= limit {
            return Ok(false);
        }
        shown += 1;
        if cli.json {
            out.json(&event_json(&ev, false, &secrets))?
        } else {
            out.line(log_line(&ev, &secrets))?
        }
        Ok(true)
    };
    match &a.author {
        Some(arg) => {
            let author = resolve_author(&core, Some(arg))?;
            let len = core.feed_len(&author);
            let from = a.from.unwrap_or(0).min(len);
            for ev in core.range(&author, from..len).map_err(CliError::Read)? {
                if !emit(ev, out)? {
                    break;
                }
            }
        }
        None => {
            for ev in core.iter_events() {
                if !emit(ev.map_err(CliError::Read)?, out)? {
                    break;
                }
            }
        }
    }
    if shown == 0 && !cli.json {
        out.line("(no events)")?;
    }
    Ok(())
}

/// `xf show`.
pub fn show(cli: &Cli, a: &ShowArgs, out: &mut Out) -> Result<(), CliError> {
    let secrets = secret::load(cli)?;
    let core = open_existing(&cli.store)?;
    let author = resolve_author(&core, a.feed.author.as_deref())?;
    let ev = core
        .get(&author, a.seq)
        .map_err(CliError::Read)?
        .ok_or_else(|| CliError::NoSuchEvent(author, a.seq, core.feed_len(&author)))?;
    let shown = Shown::of(&ev, &secrets);
    if a.raw {
        // The plaintext when the secret opens the event, else the stored bytes.
        return match &shown {
            Shown::Opened(plain) => out.bytes(plain),
            _ => out.bytes(ev.payload()),
        };
    }
    if cli.json {
        return out.json(&event_json(&ev, true, &secrets));
    }
    out.line(format!("event #{} of feed {}", ev.seq(), author_hex(&ev.author())))?;
    out.line(format!("time     {} ({} µs)", utc(ev.timestamp_us()), ev.timestamp_us()))?;
    out.line(format!("kind     {}", ev.kind()))?;
    out.line(format!("flags    {:#04x}", ev.flags().0))?;
    out.line(format!("leaf     {}", hash_hex(&ev.leaf_hash())))?;
    match shown {
        Shown::Plain(payload) => {
            out.line(format!("payload  {} bytes", payload.len()))?;
            payload_lines(payload, out)
        }
        Shown::Opened(plain) => {
            out.line(format!(
                "payload  {} bytes, encrypted; opened with the secret: {} bytes",
                ev.payload().len(),
                plain.len()
            ))?;
            payload_lines(&plain, out)
        }
        sealed @ Shown::Sealed(_) => {
            out.line(format!("payload  {} bytes", ev.payload().len()))?;
            out.line(sealed.preview(&ev, 0))
        }
    }
}

/// A payload as text, or as hex lines of 32 bytes.
fn payload_lines(payload: &[u8], out: &mut Out) -> Result<(), CliError> {
    match std::str::from_utf8(payload) {
        Ok(text) => out.line(text),
        Err(_) => {
            for chunk in payload.chunks(32) {
                out.line(hex(chunk))?;
            }
            Ok(())
        }
    }
}

/// `xf root`.
pub fn root(cli: &Cli, a: &FeedArgs, out: &mut Out) -> Result<(), CliError> {
    let core = open_existing(&cli.store)?;
    let author = resolve_author(&core, a.author.as_deref())?;
    let head = feed_head(&core, &author)?;
    if cli.json {
        return out.json(&json!({
            "author": author_hex(&author),
            "length": head.length,
            "root": hash_hex(&head.root),
        }));
    }
    out.line(format!("root    {}", hash_hex(&head.root)))?;
    out.line(format!("length  {}", head.length))?;
    out.line(format!("author  {}", author_hex(&author)))
}

/// `xf head`.
pub fn head(cli: &Cli, a: &HeadArgs, out: &mut Out) -> Result<(), CliError> {
    let core = open_existing(&cli.store)?;
    let author = resolve_author(&core, a.feed.author.as_deref())?;
    let head = feed_head(&core, &author)?;
    let encoded = hex(&head.encode());
    if let Some(path) = &a.out {
        std::fs::write(path, format!("{encoded}\n")).map_err(|e| CliError::io(path.display(), e))?;
    }
    if cli.json {
        return out.json(&json!({
            "author": author_hex(&head.author),
            "length": head.length,
            "root": hash_hex(&head.root),
            "signature": hex(&head.signature),
            "encoded": encoded,
        }));
    }
    out.line(format!("author     {}", author_hex(&head.author)))?;
    out.line(format!("length     {}", head.length))?;
    out.line(format!("root       {}", hash_hex(&head.root)))?;
    out.line(format!("signature  {}", hex(&head.signature)))?;
    out.line(format!("encoded    {encoded}"))?;
    if let Some(path) = &a.out {
        out.line(format!("(encoded head written to {})", path.display()))?;
    }
    Ok(())
}

/// `xf stats`.
pub fn stats(cli: &Cli, out: &mut Out) -> Result<(), CliError> {
    let core = open_existing(&cli.store)?;
    let s = core.stats();
    let author = core.author();
    let feeds = core.feeds();
    if cli.json {
        let feeds: Vec<_> = feeds
            .iter()
            .map(|f| {
                json!({ "author": author_hex(&f.author), "length": f.len, "root": hash_hex(&f.root), "local": f.local,
                        "forked": f.forked })
            })
            .collect();
        let forks: Vec<_> = core.forks().iter().map(evidence_json).collect();
        return out.json(&json!({
            "store": cli.store.display().to_string(),
            "author": author_hex(&author),
            "events": s.total_events,
            "local_events": s.local_events,
            "page_size": s.page_size,
            "segments": s.segments,
            "recovered_events": s.recovered_events,
            "repaired_bytes": s.repaired_bytes,
            "feeds": feeds,
            "forks": forks,
        }));
    }
    out.line(format!("store      {}", cli.store.display()))?;
    out.line(format!("author     {}", author_hex(&author)))?;
    out.line(format!("events     {} ({} in your feed)", s.total_events, s.local_events))?;
    let files = if s.segments == 1 { "segment file" } else { "segment files" };
    out.line(format!("page size  {} bytes ({} {files})", s.page_size, s.segments))?;
    if s.recovered_events > 0 || s.repaired_bytes > 0 {
        out.line(format!(
            "recovery   {} events recovered, {} bytes of an interrupted commit cleared on open",
            s.recovered_events, s.repaired_bytes
        ))?;
    }
    out.line(format!("feeds      {}", feeds.len()))?;
    for f in &feeds {
        let mine = if f.local { "  (yours)" } else { "" };
        let forked = if f.forked { "  FORKED" } else { "" };
        out.line(format!("  {}  {} events  root {}{mine}{forked}", author_hex(&f.author), f.len, hash_hex(&f.root)))?;
    }
    for e in core.forks() {
        out.line(format!("fork       {} (`xf forks --json` prints the evidence)", describe(&e)))?;
    }
    Ok(())
}
