//! `xf export` and `xf import`: NDJSON, one JSON object per line.
//!
//! An export holds, per feed, a head line then the feed's events in seq order:
//!
//! ```text
//! {"type":"head","author":"<hex>","length":3,"root":"<hex>","head":"<hex of SignedHead::encode>"}
//! {"type":"event","author":"<hex>","seq":0,...,"encoded":"<hex of the event bytes>"}
//! ```
//!
//! Import trusts only `head` and `encoded`: the events of a feed are stored only when they
//! extend what the store has to the feed's signed head (`Core::store_verified`). Lines
//! without a `type`, `{"payload": "text"}` or `{"payload_hex": "..."}`, are appended as new
//! events of the local feed, `--batch` per durable commit.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};
use xaeroflux::Core;
use xaeroflux_core::event::EventDecodeError;
use xaeroflux_core::head::HeadError;
use xaeroflux_core::{AuthorId, Event, EventRef, SignedHead};

use crate::args::{Cli, ExportArgs, ImportArgs};
use crate::commands::read::feed_head;
use crate::error::CliError;
use crate::output::{Out, author_hex, event_json, hash_hex, hex};
use crate::store::{Pipelined, open_existing, resolve_author};

/// Why one import line was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum LineError {
    /// Not JSON.
    Json(serde_json::Error),
    /// JSON, but not an object.
    NotAnObject,
    /// A `type` this tool does not know.
    UnknownType(String),
    /// A needed field is missing or has the wrong type.
    Field(&'static str),
    /// A hex field is not hex.
    Hex(&'static str),
    /// The event bytes do not decode.
    Event(EventDecodeError),
    /// The signed head bytes do not decode or their signature does not verify.
    Head(HeadError),
    /// Two heads of one author with the same length and different roots: a fork.
    Fork,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "not JSON: {e}"),
            Self::NotAnObject => f.write_str("not a JSON object"),
            Self::UnknownType(t) => write!(f, "unknown \"type\": {t:?} (expected \"head\" or \"event\")"),
            Self::Field(n) => write!(f, "field \"{n}\" is missing or has the wrong type"),
            Self::Hex(n) => write!(f, "field \"{n}\" is not valid hex"),
            Self::Event(e) => write!(f, "malformed event: {e}"),
            Self::Head(e) => write!(f, "bad signed head: {e}"),
            Self::Fork => f.write_str("a second, different signed head of the same length for this author (fork)"),
        }
    }
}

impl std::error::Error for LineError {}

/// The head line of an export.
#[derive(Serialize)]
struct HeadLine {
    #[serde(rename = "type")]
    line_type: &'static str,
    author: String,
    length: u64,
    root: String,
    head: String,
}

fn to_json(v: &impl Serialize) -> Result<String, CliError> {
    serde_json::to_string(v).map_err(|e| CliError::Stdout(io::Error::other(e)))
}

/// `xf export`.
pub fn export(cli: &Cli, a: &ExportArgs, out: &mut Out) -> Result<(), CliError> {
    let core = open_existing(&cli.store)?;
    let authors: Vec<AuthorId> = match &a.author {
        Some(arg) => vec![resolve_author(&core, Some(arg))?],
        None => core.feeds().into_iter().map(|f| f.author).collect(),
    };
    let (mut feeds, mut events) = (0u64, 0u64);
    let mut sink: Box<dyn Write> = match &a.out {
        Some(p) => Box::new(BufWriter::new(File::create(p).map_err(|e| CliError::io(p.display(), e))?)),
        None => Box::new(io::stdout().lock()),
    };
    let werr = |e: io::Error| match &a.out {
        Some(p) => CliError::io(p.display(), e),
        None => CliError::stdout(e),
    };
    for author in authors {
        let head = feed_head(&core, &author)?;
        let line = HeadLine {
            line_type: "head",
            author: author_hex(&author),
            length: head.length,
            root: hash_hex(&head.root),
            head: hex(&head.encode()),
        };
        writeln!(sink, "{}", to_json(&line)?).map_err(werr)?;
        feeds += 1;
        for ev in core.range(&author, 0..head.length).map_err(CliError::Read)? {
            let mut v = event_json(&ev, true, &[]);
            v.line_type = Some("event");
            writeln!(sink, "{}", to_json(&v)?).map_err(werr)?;
            events += 1;
        }
    }
    sink.flush().map_err(werr)?;
    drop(sink);
    match &a.out {
        Some(p) if cli.json => out.json(&json!({ "file": p.display().to_string(), "feeds": feeds, "events": events })),
        Some(p) => out.line(format!("exported {feeds} feeds, {events} events to {}", p.display())),
        None => Ok(()),
    }
}

/// What the input lines hold, gathered per feed.
#[derive(Default)]
struct Gathered {
    heads: BTreeMap<[u8; 32], SignedHead>,
    events: BTreeMap<[u8; 32], Vec<Event>>,
}

fn hex_field(v: &Value, name: &'static str) -> Result<Vec<u8>, LineError> {
    let s = v.get(name).and_then(Value::as_str).ok_or(LineError::Field(name))?;
    hex::decode(s.trim()).map_err(|_| LineError::Hex(name))
}

/// One line: a head or an event goes into `g`; a payload is returned for a local append.
fn parse_line(line: &str, g: &mut Gathered) -> Result<Option<Vec<u8>>, LineError> {
    let v: Value = serde_json::from_str(line).map_err(LineError::Json)?;
    if !v.is_object() {
        return Err(LineError::NotAnObject);
    }
    match v.get("type").map(|t| t.as_str()) {
        Some(Some("head")) => {
            let head = SignedHead::decode(&hex_field(&v, "head")?).map_err(LineError::Head)?;
            head.verify().map_err(LineError::Head)?;
            match g.heads.get(&head.author.0) {
                Some(old) if old.length == head.length && old.root != head.root => return Err(LineError::Fork),
                Some(old) if old.length >= head.length => {}
                _ => {
                    g.heads.insert(head.author.0, head);
                }
            }
            Ok(None)
        }
        Some(Some("event")) => {
            let ev = Event::from_bytes(hex_field(&v, "encoded")?).map_err(LineError::Event)?;
            g.events.entry(ev.author().0).or_default().push(ev);
            Ok(None)
        }
        Some(Some(other)) => Err(LineError::UnknownType(other.to_string())),
        Some(None) => Err(LineError::Field("type")),
        None => match v.get("payload") {
            Some(Value::String(s)) => Ok(Some(s.as_bytes().to_vec())),
            Some(_) => Err(LineError::Field("payload")),
            None => hex_field(&v, "payload_hex").map(Some),
        },
    }
}

/// Result of importing one feed.
struct FeedOutcome {
    author: AuthorId,
    stored: u64,
    present: u64,
    length: u64,
}

/// Stores the gathered events of one feed that the store lacks, verified against its head.
fn import_feed(
    core: &Core,
    author: AuthorId,
    head: Option<&SignedHead>,
    mut evs: Vec<Event>,
) -> Result<FeedOutcome, CliError> {
    evs.sort_by_key(Event::seq);
    evs.dedup_by_key(|e| e.seq());
    let have = core.feed_len(&author);
    let mut present = 0u64;
    let mut fresh: Vec<EventRef<'_>> = Vec::new();
    for ev in &evs {
        if ev.seq() < have {
            let stored = core.get(&author, ev.seq()).map_err(CliError::Read)?;
            if stored.map(|s| s.leaf_hash()) != Some(ev.leaf_hash()) {
                return Err(CliError::Diverged(author, ev.seq()));
            }
            present += 1;
        } else {
            fresh.push(ev.as_ref());
        }
    }
    if !fresh.is_empty() {
        let head = head.ok_or(CliError::MissingHead(author))?;
        core.store_verified(head, &fresh).map_err(|e| CliError::Import(author, e))?;
    }
    Ok(FeedOutcome { author, stored: fresh.len() as u64, present, length: core.feed_len(&author) })
}

/// Appends the pending payload lines as one durable commit (pipelined: it completes while the
/// next lines are read).
fn flush(batches: &mut Pipelined<'_>, batch: &mut Vec<Vec<u8>>) -> Result<(), CliError> {
    if batch.is_empty() {
        return Ok(());
    }
    batches.commit(batch)?;
    batch.clear();
    Ok(())
}

fn progress(total: Option<u64>) -> ProgressBar {
    match total {
        Some(len) => {
            let pb = ProgressBar::new(len);
            if let Ok(style) = ProgressStyle::with_template("importing [{bar:40}] {bytes}/{total_bytes} {msg} ({eta})")
            {
                pb.set_style(style.progress_chars("=> "));
            }
            pb
        }
        None => {
            let pb = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("importing {spinner} {bytes} {msg}") {
                pb.set_style(style);
            }
            pb
        }
    }
}

/// `xf import`.
pub fn import(cli: &Cli, a: &ImportArgs, out: &mut Out) -> Result<(), CliError> {
    let core = open_existing(&cli.store)?;
    let local = core.author();
    let (reader, total, name): (Box<dyn BufRead>, Option<u64>, String) = match &a.input {
        Some(p) if p.as_os_str() != "-" => {
            let f = File::open(p).map_err(|e| CliError::io(p.display(), e))?;
            let len = f.metadata().ok().map(|m| m.len());
            (Box::new(BufReader::new(f)), len, p.display().to_string())
        }
        _ => (Box::new(BufReader::new(io::stdin())), None, "stdin".into()),
    };
    let pb = progress(total);
    let batch_max = a.batch.max(1);
    let mut g = Gathered::default();
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut batches = Pipelined::new(&core, crate::commands::secret::load_for_sealing(cli)?);
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| CliError::io(&name, e))?;
        pb.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(payload) = parse_line(&line, &mut g).map_err(|e| CliError::Line(i as u64 + 1, e))? {
            batch.push(payload);
            if batch.len() >= batch_max {
                flush(&mut batches, &mut batch)?;
                pb.set_message(format!("{} appended", batches.stored));
            }
        }
    }
    flush(&mut batches, &mut batch)?;
    let appended = batches.finish()?;
    pb.finish_and_clear();
    let mut outcomes = Vec::new();
    let mut authors: Vec<[u8; 32]> = g.heads.keys().chain(g.events.keys()).copied().collect();
    authors.sort_unstable();
    authors.dedup();
    for key in authors {
        let author = AuthorId(key);
        let evs = g.events.remove(&key).unwrap_or_default();
        if author == local {
            outcomes.push(import_feed(&core, author, None, evs)?);
        } else {
            outcomes.push(import_feed(&core, author, g.heads.get(&key), evs)?);
        }
    }
    if cli.json {
        let feeds: Vec<Value> = outcomes
            .iter()
            .map(|o| {
                json!({ "author": author_hex(&o.author), "stored": o.stored, "already_present": o.present, "length": o.length })
            })
            .collect();
        return out.json(&json!({ "appended": appended, "feeds": feeds }));
    }
    if appended > 0 || outcomes.is_empty() {
        out.line(format!("appended {appended} new events to your feed"))?;
    }
    for o in &outcomes {
        out.line(format!(
            "feed {}: {} events verified and stored, {} already present, length now {}",
            author_hex(&o.author),
            o.stored,
            o.present,
            o.length
        ))?;
    }
    Ok(())
}
