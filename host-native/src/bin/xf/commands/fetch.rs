//! `xf fetch` (a sparse read from a ticket's node), `xf follow` and `xf unfollow` (the feeds
//! sync keeps with `--only-followed`). Feature `net`.

use std::time::{Duration, Instant};

use serde_json::json;
use xaeroflux::SignedHead;
use xaeroflux::net::{Fetch, FetchError};

use crate::args::{Cli, FetchArgs, FollowArgs, UnfollowArgs};
use crate::commands::net::{open_syncing_as, parse_ticket};
use crate::commands::proof::{parse_head, write_proof};
use crate::commands::read::log_line;
use crate::commands::secret;
use crate::error::CliError;
use crate::output::{Out, author_hex, event_json, hash_hex, hex};
use crate::store::{open_existing, resolve_author};

/// `START..END`.
fn parse_seqs(s: &str) -> Result<std::ops::Range<u64>, CliError> {
    let bad = || CliError::BadSeqs(s.to_string());
    let (a, b) = s.split_once("..").ok_or_else(bad)?;
    let (a, b) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
    if a >= b {
        return Err(bad());
    }
    Ok(a..b)
}

/// `xf fetch`: joins the ticket's space keeping only followed feeds (so nothing else is
/// downloaded), reads the events asked for from a peer that announced the feed, prints them
/// (as `xf log` does) and the signed head they were verified against, and exits.
/// With `--prove SEQ`, writes the proof file of event SEQ (as `xf prove` does) instead; with
/// `--since HEAD`, checks that the feed still extends an older head.
pub fn fetch(cli: &Cli, a: &FetchArgs, out: &mut Out) -> Result<(), CliError> {
    let which = match (&a.seqs, a.latest, a.prove) {
        (Some(s), _, _) => Some(Fetch::Seqs(parse_seqs(s)?)),
        (None, Some(n), _) => Some(Fetch::Latest(n)),
        (None, None, Some(seq)) => Some(Fetch::Seqs(seq..seq.saturating_add(1))),
        (None, None, None) => None,
    };
    let since = a.since.as_deref().map(|h| parse_head("--since", h)).transpose()?;
    let ticket = parse_ticket(&a.ticket)?;
    let secrets = secret::load(cli)?;
    let core = open_syncing_as(cli, &a.net, true)?;
    let start = Instant::now();
    let (which, author) = match (which, since, a.author.as_deref()) {
        (_, Some(old), _) => {
            core.join_ticket(&ticket).map_err(CliError::Net)?;
            return check_since(cli, &core, &old, a, start, out);
        }
        (Some(which), None, Some(author)) => (which, resolve_author(&core, Some(author))?),
        // clap asks for one of --latest, --seqs, --prove, --since, and --author without --since.
        _ => return Err(CliError::BadSeqs(String::new())),
    };
    core.join_ticket(&ticket).map_err(CliError::Net)?;
    if let Some(seq) = a.prove {
        let proved = core.fetch_proof(&author, seq, Duration::from_secs(a.timeout)).map_err(CliError::Fetch)?;
        let whence = format!(" (from peer {} in {:.2} s)", proved.peer(), start.elapsed().as_secs_f64());
        return write_proof(cli, &proved.event(), proved.proof(), proved.head(), a.out.as_deref(), &whence, out);
    }
    let got = core.fetch_events(&author, which, Duration::from_secs(a.timeout)).map_err(CliError::Fetch)?;
    let secs = start.elapsed().as_secs_f64();
    let head = got.head();
    if cli.json {
        for ev in got.iter() {
            out.json(&event_json(&ev, false, &secrets))?;
        }
        out.json(&json!({"fetched": got.len(), "from": got.seqs().start, "to": got.seqs().end,
                         "peer": got.peer().to_string(), "secs": secs,
                         "head": {"author": author_hex(&head.author), "length": head.length, "root": hash_hex(&head.root)}}))?;
    } else {
        for ev in got.iter() {
            out.line(log_line(&ev, &secrets))?;
        }
        out.line(format!(
            "{} events (seqs {}..{}) from peer {} in {secs:.2} s, verified against the author's signed head \
             of length {} (root {})",
            got.len(),
            got.seqs().start,
            got.seqs().end,
            got.peer(),
            head.length,
            hash_hex(&head.root)
        ))?;
    }
    Ok(())
}

/// `xf fetch --since HEAD`: the peer's newer head of the older head's feed with the proof that
/// it extends it, both verified; written to `-o` for the next check. A fork is an error (exit
/// 1) after, with `--json`, a line holding the evidence, which anyone can check.
fn check_since(
    cli: &Cli,
    core: &xaeroflux::Core,
    old: &SignedHead,
    a: &FetchArgs,
    start: Instant,
    out: &mut Out,
) -> Result<(), CliError> {
    let now = match core.fetch_consistency(old, Duration::from_secs(a.timeout)) {
        Ok(now) => now,
        Err(FetchError::Forked { peer, evidence }) => {
            if cli.json {
                out.json(&json!({"extends": false, "forked": true, "peer": peer.to_string(),
                                 "old": head_json(&evidence.first), "head": head_json(&evidence.second),
                                 "evidence": hex(&evidence.encode())}))?;
                out.flush()?;
            }
            return Err(CliError::Fetch(FetchError::Forked { peer, evidence }));
        }
        Err(e) => return Err(CliError::Fetch(e)),
    };
    let (secs, head) = (start.elapsed().as_secs_f64(), now.head());
    let written = a.out.as_deref().map(|path| write_head(path, head)).transpose()?;
    if cli.json {
        return out.json(&json!({"extends": true, "peer": now.peer().to_string(), "secs": secs,
                                "old": head_json(old), "head": head_json(head), "written": written}));
    }
    out.line(format!(
        "the feed of {} extends the head given: {} events then, {} now (root {}), consistency proof from peer {} verified in {secs:.2} s",
        author_hex(&old.author),
        old.length,
        head.length,
        hash_hex(&head.root),
        now.peer()
    ))?;
    if let Some(path) = written {
        out.line(format!("(the newer signed head written to {path})"))?;
    }
    Ok(())
}

/// Writes `head` encoded in hex to `path` (as `xf head -o` does); its display form.
fn write_head(path: &std::path::Path, head: &SignedHead) -> Result<String, CliError> {
    std::fs::write(path, format!("{}\n", hex(&head.encode()))).map_err(|e| CliError::io(path.display(), e))?;
    Ok(path.display().to_string())
}

fn head_json(head: &SignedHead) -> serde_json::Value {
    json!({"author": author_hex(&head.author), "length": head.length, "root": hash_hex(&head.root),
           "encoded": hex(&head.encode())})
}

/// `xf follow`: follows the authors named, or lists those followed.
pub fn follow(cli: &Cli, a: &FollowArgs, out: &mut Out) -> Result<(), CliError> {
    set_follows(cli, &a.authors, true, out)
}

/// `xf unfollow`: stops following the authors named.
pub fn unfollow(cli: &Cli, a: &UnfollowArgs, out: &mut Out) -> Result<(), CliError> {
    set_follows(cli, &a.authors, false, out)
}

/// Follows (`on`) or unfollows `authors`, then lists the authors followed.
fn set_follows(cli: &Cli, authors: &[String], on: bool, out: &mut Out) -> Result<(), CliError> {
    let core = open_existing(&cli.store)?;
    for arg in authors {
        let author = resolve_author(&core, Some(arg))?;
        if on { core.follow(&author) } else { core.unfollow(&author) }.map_err(CliError::Net)?;
    }
    list(cli, &core, out)
}

fn list(cli: &Cli, core: &xaeroflux::Core, out: &mut Out) -> Result<(), CliError> {
    let followed = core.followed().map_err(CliError::Net)?;
    if cli.json {
        let authors: Vec<String> = followed.iter().map(author_hex).collect();
        return out.json(&json!({ "followed": authors }));
    }
    if followed.is_empty() {
        return out.line("no author followed");
    }
    for author in &followed {
        out.line(format!("{}  {} events stored", author_hex(author), core.feed_len(author)))?;
    }
    Ok(())
}
