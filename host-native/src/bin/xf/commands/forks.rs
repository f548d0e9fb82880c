//! `xf forks`: the fork evidence a store holds (authors who signed two histories), evidence
//! recorded by hand (a friend's, or what `xf fetch --since` found), and evidence checked
//! with no store.
//!
//! Evidence is given as hex (XSP's FORK body, as `xf forks --json` and `xf fetch --since
//! --json` print it in `evidence`), or as a file holding that hex, the raw bytes, or one such
//! JSON object.

use serde_json::{Value, json};
use xaeroflux::xaeroflux_core::xsp::ForkEvidence;
use xaeroflux::{Core, SignedHead};

use crate::args::{Cli, ForksArgs};
use crate::commands::proof::{ArgMissing, decode_arg};
use crate::error::CliError;
use crate::output::{Out, author_hex, hash_hex, hex};
use crate::store::open_existing;

/// `xf forks`: with `--check`, checks evidence (no store); with `--record`, records it; then
/// lists what the store holds.
pub fn forks(cli: &Cli, a: &ForksArgs, out: &mut Out) -> Result<(), CliError> {
    if !a.check.is_empty() {
        return check(cli, &a.check, out);
    }
    let core = open_existing(&cli.store)?;
    for arg in &a.record {
        let evidence = parse_evidence(arg)?;
        let new = core.record_fork(&evidence).map_err(|e| CliError::RecordFork(arg.clone(), e))?;
        if !cli.json {
            let what = if new { "recorded" } else { "already held evidence against" };
            out.line(format!("{what} {}: the store takes no more of its feed", author_hex(&evidence.author())))?;
        }
    }
    list(cli, &core, out)
}

/// Every evidence held.
fn list(cli: &Cli, core: &Core, out: &mut Out) -> Result<(), CliError> {
    let held = core.forks();
    if cli.json {
        let forks: Vec<Value> = held.iter().map(evidence_json).collect();
        return out.json(&json!({ "forks": forks }));
    }
    if held.is_empty() {
        return out.line("no fork evidence held");
    }
    for e in &held {
        out.line(describe(e))?;
    }
    Ok(())
}

/// `--check`: each evidence verified; exit 1 if any does not prove a fork.
fn check(cli: &Cli, args: &[String], out: &mut Out) -> Result<(), CliError> {
    for arg in args {
        let evidence = parse_evidence(arg)?;
        if let Err(e) = evidence.verify() {
            if cli.json {
                out.json(&json!({ "valid": false, "reason": e.to_string() }))?;
                out.flush()?;
            }
            return Err(CliError::BadEvidence(arg.clone(), e.to_string()));
        }
        if cli.json {
            let mut v = evidence_json(&evidence);
            v["valid"] = json!(true);
            out.json(&v)?;
        } else {
            out.line(format!("evidence VALID: {}", describe(&evidence)))?;
        }
    }
    Ok(())
}

/// One line about `e` (`xf stats` prints it too).
pub fn describe(e: &ForkEvidence) -> String {
    let proof = if e.proof.is_some() { ", with the consistency proof" } else { "" };
    format!(
        "{} signed two histories: {} events (root {}) and {} events (root {}){proof}",
        author_hex(&e.author()),
        e.first.length,
        hash_hex(&e.first.root),
        e.second.length,
        hash_hex(&e.second.root)
    )
}

/// `e` as `--json` prints it (`xf stats` too): the heads, and the evidence in hex.
pub fn evidence_json(e: &ForkEvidence) -> Value {
    let head = |h: &SignedHead| json!({ "length": h.length, "root": hash_hex(&h.root) });
    json!({ "author": author_hex(&e.author()), "first": head(&e.first), "second": head(&e.second),
            "proof": e.proof.is_some(), "evidence": hex(&e.encode()) })
}

/// Evidence given on the command line: hex, or a file holding hex, the raw bytes or a JSON
/// object with `evidence`.
fn parse_evidence(arg: &str) -> Result<ForkEvidence, CliError> {
    decode_arg(arg, true, "evidence", |b| ForkEvidence::decode(b).ok()).map_err(|missing| {
        let why = match missing {
            ArgMissing::NoFile => "neither evidence in hex nor a file holding some",
            ArgMissing::NotInFile => "the file holds no fork evidence",
        };
        CliError::BadEvidence(arg.to_string(), why.to_string())
    })
}
