//! `xf fetch` (a sparse read from a ticket's node), `xf follow` and `xf unfollow` (the feeds
//! sync keeps with `--only-followed`). Feature `net`.

use std::time::{Duration, Instant};

use serde_json::json;
use xaeroflux::net::Fetch;

use crate::args::{Cli, FetchArgs, FollowArgs, UnfollowArgs};
use crate::commands::net::{open_syncing_as, parse_ticket};
use crate::commands::proof::write_proof;
use crate::commands::read::log_line;
use crate::commands::secret;
use crate::error::CliError;
use crate::output::{Out, author_hex, event_json, hash_hex};
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
/// With `--prove SEQ`, writes the proof file of event SEQ (as `xf prove` does) instead.
pub fn fetch(cli: &Cli, a: &FetchArgs, out: &mut Out) -> Result<(), CliError> {
    let which = match (&a.seqs, a.latest, a.prove) {
        (Some(s), _, _) => Fetch::Seqs(parse_seqs(s)?),
        (None, Some(n), _) => Fetch::Latest(n),
        (None, None, Some(seq)) => Fetch::Seqs(seq..seq.saturating_add(1)),
        (None, None, None) => return Err(CliError::BadSeqs(String::new())),
    };
    let ticket = parse_ticket(&a.ticket)?;
    let secrets = secret::load(cli)?;
    let core = open_syncing_as(cli, &a.net, true)?;
    let author = resolve_author(&core, Some(&a.author))?;
    let start = Instant::now();
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
