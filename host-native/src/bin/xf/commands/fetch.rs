//! `xf fetch` (a sparse read from a ticket's node), `xf follow` and `xf unfollow` (the feeds
//! sync keeps with `--only-followed`). Feature `net`.

use std::time::{Duration, Instant};

use serde_json::json;
use xaeroflux::SignedHead;
use xaeroflux::net::{Fetch, FetchError, NetError};

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
/// `--since HEAD` (repeated, or a file of heads), checks that each feed still extends an older
/// head.
pub fn fetch(cli: &Cli, a: &FetchArgs, out: &mut Out) -> Result<(), CliError> {
    let which = match (&a.seqs, a.latest, a.prove) {
        (Some(s), _, _) => Some(Fetch::Seqs(parse_seqs(s)?)),
        (None, Some(n), _) => Some(Fetch::Latest(n)),
        (None, None, Some(seq)) => Some(Fetch::Seqs(seq..seq.saturating_add(1))),
        (None, None, None) => None,
    };
    let since = parse_heads(&a.since)?;
    let ticket = parse_ticket(&a.ticket)?;
    let secrets = secret::load(cli)?;
    let core = open_syncing_as(cli, &a.net, true)?;
    let start = Instant::now();
    let (which, author) = match (which, since.is_empty(), a.author.as_deref()) {
        (_, false, _) => {
            core.join_ticket(&ticket).map_err(CliError::Net)?;
            return check_since(cli, &core, &since, a, start, out);
        }
        (Some(which), true, Some(author)) => (which, resolve_author(&core, Some(author))?),
        // clap asks for one of --latest, --seqs, --prove, --since, and --author without --since.
        _ => return Err(CliError::BadSeqs(String::new())),
    };
    core.join_ticket(&ticket).map_err(CliError::Net)?;
    if let Some(seq) = a.prove {
        let proved = core.fetch_proof(&author, seq, Duration::from_secs(a.timeout)).map_err(CliError::Fetch)?;
        let whence =
            format!(" ({} in {:.2} s)", source(proved.from_cache(), proved.peer()), start.elapsed().as_secs_f64());
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
                         "peer": got.peer().to_string(), "cached": got.from_cache(), "secs": secs,
                         "head": {"author": author_hex(&head.author), "length": head.length, "root": hash_hex(&head.root)}}))?;
    } else {
        for ev in got.iter() {
            out.line(log_line(&ev, &secrets))?;
        }
        out.line(format!(
            "{} events (seqs {}..{}) {} in {secs:.2} s, verified against the author's signed head \
             of length {} (root {})",
            got.len(),
            got.seqs().start,
            got.seqs().end,
            source(got.from_cache(), got.peer()),
            head.length,
            hash_hex(&head.root)
        ))?;
    }
    Ok(())
}

/// Where events came from: a peer just now, or what an earlier read verified (kept in memory,
/// or on disk in the store across runs).
fn source(cached: bool, peer: xaeroflux::net::PeerId) -> String {
    if cached { format!("kept from an earlier read of peer {peer}") } else { format!("from peer {peer}") }
}

/// The older heads of `--since`: each value a signed head (hex, or a file holding one as `xf
/// head -o` writes it), or a file of heads one per line (as `xf fetch --since -o` writes them).
fn parse_heads(args: &[String]) -> Result<Vec<SignedHead>, CliError> {
    let mut heads = Vec::new();
    for arg in args {
        if let Ok(head) = parse_head("--since", arg) {
            heads.push(head);
            continue;
        }
        let bad = || CliError::BadHead("--since", arg.clone());
        let text = std::fs::read_to_string(arg).map_err(|_| bad())?;
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        if lines.is_empty() {
            return Err(bad());
        }
        for line in lines {
            heads.push(parse_head("--since", line).map_err(|_| bad())?);
        }
    }
    Ok(heads)
}

/// `xf fetch --since HEAD…`: for each older head, the peer's newer head of its feed with the
/// proof that it extends it, both verified; the newer heads written to `-o` for the next
/// check (a head not checked, as it was). Each head is reported, one line each; then a fork
/// or a failure is an error (exit 1): the first fork, else the first failure. With `--json`, a
/// fork's line holds the evidence, which anyone can check.
fn check_since(
    cli: &Cli,
    core: &xaeroflux::Core,
    olds: &[SignedHead],
    a: &FetchArgs,
    start: Instant,
    out: &mut Out,
) -> Result<(), CliError> {
    let (mut newer, mut forked, mut failed) = (Vec::with_capacity(olds.len()), None, None);
    let target = a.out.as_deref().map(|p| p.display().to_string());
    let answers = check_all(core, olds, Duration::from_secs(a.timeout));
    for (old, answer) in olds.iter().zip(answers) {
        match answer {
            Ok(now) => {
                report_extends(cli, old, &now, start, target.as_deref(), out)?;
                newer.push(*now.head());
            }
            Err(FetchError::Forked { peer, evidence }) => {
                if cli.json {
                    out.json(&json!({"extends": false, "forked": true, "peer": peer.to_string(),
                                     "old": head_json(&evidence.first), "head": head_json(&evidence.second),
                                     "evidence": hex(&evidence.encode())}))?;
                } else if olds.len() > 1 {
                    out.line(format!("the author {} forked (peer {peer})", author_hex(&old.author)))?;
                }
                forked.get_or_insert(FetchError::Forked { peer, evidence });
                newer.push(*old);
            }
            Err(e) => {
                if olds.len() > 1 {
                    let author = author_hex(&old.author);
                    if cli.json {
                        out.json(&json!({"extends": null, "old": head_json(old), "error": e.to_string()}))?;
                    } else {
                        out.line(format!("the feed of {author} was not checked: {e}"))?;
                    }
                }
                failed.get_or_insert(e);
                newer.push(*old);
            }
        }
    }
    if let Some(path) = a.out.as_deref() {
        write_heads(path, &newer)?;
        if !cli.json {
            let what = if newer.len() == 1 { "the newer signed head" } else { "the newer signed heads" };
            out.line(format!("({what} written to {})", path.display()))?;
        }
    }
    match forked.or(failed) {
        Some(e) => {
            out.flush()?;
            Err(CliError::Fetch(e))
        }
        None => Ok(()),
    }
}

/// Heads of `--since` checked at once (each a round trip to a peer, most of it waiting).
const CHECKS_AT_ONCE: usize = 8;

/// Checks every head of `olds` (up to [`CHECKS_AT_ONCE`] at a time), each with `timeout`;
/// the answers in the order of `olds`.
fn check_all(
    core: &xaeroflux::Core,
    olds: &[SignedHead],
    timeout: Duration,
) -> Vec<Result<xaeroflux::net::FetchedConsistency, FetchError>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let answers: Vec<Mutex<Option<_>>> = olds.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..CHECKS_AT_ONCE.min(olds.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(old) = olds.get(i) else { break };
                    let answer = core.fetch_consistency(old, timeout);
                    *answers[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(answer);
                }
            });
        }
    });
    // Every index was taken by one thread, which answered it (a panic would have ended the
    // scope): `None` cannot remain.
    answers
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()).unwrap_or(Err(FetchError::Net(NetError::Stopped))))
        .collect()
}

/// One head of `--since` that the peer's feed extends.
fn report_extends(
    cli: &Cli,
    old: &SignedHead,
    now: &xaeroflux::net::FetchedConsistency,
    start: Instant,
    written: Option<&str>,
    out: &mut Out,
) -> Result<(), CliError> {
    let (secs, head) = (start.elapsed().as_secs_f64(), now.head());
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
    ))
}

/// Writes `heads` encoded in hex to `path`, one per line (for one head, what `xf head -o`
/// writes).
fn write_heads(path: &std::path::Path, heads: &[SignedHead]) -> Result<(), CliError> {
    let text: String = heads.iter().map(|h| format!("{}\n", hex(&h.encode()))).collect();
    std::fs::write(path, text).map_err(|e| CliError::io(path.display(), e))
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
