//! `xf prove` and `xf verify`.

use std::io::Read;
use std::path::Path;

use serde_json::json;
use xaeroflux::InclusionProof;
use xaeroflux_core::head::SIGNED_HEAD_LEN;
use xaeroflux_core::{EventRef, Hash, SignedHead};

use crate::args::{Cli, ProveArgs, VerifyArgs};
use crate::commands::read::feed_head;
use crate::error::CliError;
use crate::output::{Out, Shown, author_hex, hash_hex};
use crate::proof_file::{self, Anchor, Trust};
use crate::store::{open_existing, resolve_author};

/// `xf prove`: the event, its inclusion proof and the signed head of the feed, in one file.
pub fn prove(cli: &Cli, a: &ProveArgs, out: &mut Out) -> Result<(), CliError> {
    let core = open_existing(&cli.store)?;
    let author = resolve_author(&core, a.feed.author.as_deref())?;
    let head = feed_head(&core, &author)?;
    let ev = core
        .get(&author, a.seq)
        .map_err(CliError::Read)?
        .filter(|_| a.seq < head.length)
        .ok_or(CliError::NoSuchEvent(author, a.seq, head.length))?;
    let proof = core.inclusion_proof(&author, a.seq).map_err(CliError::Prove)?;
    write_proof(cli, &ev, &proof, &head, a.out.as_deref(), "", out)
}

/// Writes the proof file of `ev` to `path` (and says so), or to stdout; `whence` ends the
/// line that says so (where the proof came from).
pub fn write_proof(
    cli: &Cli,
    ev: &EventRef<'_>,
    proof: &InclusionProof,
    head: &SignedHead,
    path: Option<&Path>,
    whence: &str,
    out: &mut Out,
) -> Result<(), CliError> {
    let file = proof_file::encode(ev, proof, head);
    let text = serde_json::to_string_pretty(&file).map_err(|e| CliError::Stdout(std::io::Error::other(e)))?;
    let Some(path) = path else {
        return out.line(text);
    };
    std::fs::write(path, format!("{text}\n")).map_err(|e| CliError::io(path.display(), e))?;
    if cli.json {
        return out.json(&json!({
            "proof_file": path.display().to_string(),
            "author": author_hex(&head.author),
            "seq": ev.seq(),
            "leaves": proof.leaves,
            "root": hash_hex(&head.root),
        }));
    }
    out.line(format!(
        "wrote the proof of event #{} (feed of {} events, root {}) to {}{whence}",
        ev.seq(),
        proof.leaves,
        hash_hex(&head.root),
        path.display()
    ))
}

fn read_input(path: &Path) -> Result<Vec<u8>, CliError> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(|e| CliError::io("stdin", e))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| CliError::io(path.display(), e))
}

/// Why [`decode_arg`] found no value.
pub enum ArgMissing {
    /// The argument is not the value, and no file of that name can be read.
    NoFile,
    /// The file holds no such value.
    NotInFile,
}

/// An encoded value given on the command line: the argument itself as text, if `inline`
/// (hex, or a JSON object whose `field` is hex), else (or failing that) the file it names,
/// holding the raw bytes or such text. `decode` makes the value of its bytes.
pub fn decode_arg<T>(
    arg: &str,
    inline: bool,
    field: &str,
    decode: impl Fn(&[u8]) -> Option<T>,
) -> Result<T, ArgMissing> {
    let from_text = |text: &str| {
        let text = text.trim();
        let hex_text = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => v.get(field)?.as_str()?.to_owned(),
            Err(_) => text.to_owned(),
        };
        decode(&hex::decode(hex_text.trim()).ok()?)
    };
    if inline && let Some(v) = from_text(arg) {
        return Ok(v);
    }
    let bytes = std::fs::read(arg).map_err(|_| ArgMissing::NoFile)?;
    if let Some(v) = decode(&bytes) {
        return Ok(v);
    }
    std::str::from_utf8(&bytes).ok().and_then(from_text).ok_or(ArgMissing::NotInFile)
}

/// A signed head given as `flag` (`--head`, `--since`): hex on the command line, or a file
/// holding hex, the JSON of `xf head --json` or the raw 137 bytes.
pub fn parse_head(flag: &'static str, arg: &str) -> Result<SignedHead, CliError> {
    let inline = arg.len() == 2 * SIGNED_HEAD_LEN;
    decode_arg(arg, inline, "encoded", |b| SignedHead::decode(b).ok())
        .map_err(|_| CliError::BadHead(flag, arg.to_string()))
}

/// `xf verify`: needs no store.
pub fn verify(cli: &Cli, a: &VerifyArgs, out: &mut Out) -> Result<(), CliError> {
    // A member (with --secret-file) sees what an encrypted event says; anyone else, that it
    // is sealed.
    let secrets = crate::commands::secret::load(cli)?;
    let bytes = read_input(&a.proof)?;
    let text = String::from_utf8_lossy(&bytes);
    let file = proof_file::decode(&text).map_err(CliError::ProofFile)?;
    let (anchor, trusted) = match (&a.root, &a.head) {
        (Some(r), _) => {
            (Anchor::Root(Hash::from_hex(r.trim()).ok_or_else(|| CliError::BadRoot(r.clone()))?), "the root given")
        }
        (None, Some(h)) => (Anchor::Head(parse_head("--head", h)?), "the signed head given"),
        (None, None) => (Anchor::FileHead, "the signed head in the proof file"),
    };
    let trust = Trust { anchor, author: None };
    let root = trust.root(&file);
    let ev = file.event.as_ref();
    if let Err(e) = proof_file::verify(&file, &trust) {
        if cli.json {
            out.json(&json!({ "valid": false, "reason": e.to_string() }))?;
            out.flush()?;
        }
        return Err(CliError::Rejected(e));
    }
    if cli.json {
        return out.json(&json!({
            "valid": true,
            "author": author_hex(&ev.author()),
            "seq": ev.seq(),
            "leaves": file.proof.leaves,
            "root": hash_hex(&root),
            "trusted": trusted,
            "payload": std::str::from_utf8(ev.payload()).ok(),
        }));
    }
    out.line(format!(
        "proof VALID: event #{} of feed {} is in that feed of {} events",
        ev.seq(),
        author_hex(&ev.author()),
        file.proof.leaves
    ))?;
    out.line(format!("root     {} (trusted: {trusted})", hash_hex(&root)))?;
    out.line(format!("payload  {}", Shown::of(&ev, &secrets).preview(&ev, 120)))
}
