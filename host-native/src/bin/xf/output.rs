//! Rendering for humans and for scripts: hex, UTC timestamps, payload previews, the JSON
//! form of an event, and a stdout writer that turns a closed pipe (`xf log | head`) into a
//! quiet exit instead of a panic.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Stdout, Write};

use serde::Serialize;
use xaeroflux::{DecryptError, EventFlags, SpaceSecret};
use xaeroflux_core::sealed::key_id_of;
use xaeroflux_core::{AuthorId, EventRef, Hash};

use crate::error::CliError;

/// Buffered stdout; every write reports errors (a closed pipe becomes [`CliError::BrokenPipe`]).
pub struct Out {
    inner: BufWriter<Stdout>,
}

impl Out {
    /// A writer on this process's stdout.
    pub fn new() -> Out {
        Out { inner: BufWriter::new(io::stdout()) }
    }

    /// Writes one line.
    pub fn line(&mut self, s: impl AsRef<str>) -> Result<(), CliError> {
        let r = self.inner.write_all(s.as_ref().as_bytes()).and_then(|()| self.inner.write_all(b"\n"));
        r.map_err(CliError::stdout)
    }

    /// Writes one JSON value on one line.
    pub fn json(&mut self, v: &impl Serialize) -> Result<(), CliError> {
        let text = serde_json::to_string(v).map_err(|e| CliError::Stdout(io::Error::other(e)))?;
        self.line(text)
    }

    /// Writes raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), CliError> {
        self.inner.write_all(b).map_err(CliError::stdout)
    }

    /// Flushes; call before returning from a command.
    pub fn flush(&mut self) -> Result<(), CliError> {
        self.inner.flush().map_err(CliError::stdout)
    }
}

/// Lower-case hex of any bytes.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Hex of a hash.
pub fn hash_hex(h: &Hash) -> String {
    hex::encode(h.0)
}

/// Hex of an author id.
pub fn author_hex(a: &AuthorId) -> String {
    hex::encode(a.0)
}

/// The first 8 hex digits of an author id, for tables.
pub fn author_short(a: &AuthorId) -> String {
    hex::encode(&a.0[..4])
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for a timestamp in microseconds since the Unix epoch.
pub fn utc(timestamp_us: u64) -> String {
    let secs = timestamp_us / 1_000_000;
    let micros = timestamp_us % 1_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// A one-line preview of a payload: escaped text (at most `max` characters), or a note and a
/// hex prefix for binary payloads.
pub fn preview(payload: &[u8], max: usize) -> String {
    match std::str::from_utf8(payload) {
        Ok(text) => {
            let mut out = String::new();
            for (i, c) in text.chars().enumerate() {
                if i == max {
                    out.push('…');
                    break;
                }
                if c.is_control() {
                    let _ = write!(out, "{}", c.escape_default());
                } else {
                    out.push(c);
                }
            }
            out
        }
        Err(_) => {
            let shown = &payload[..payload.len().min(16)];
            let more = if payload.len() > shown.len() { "…" } else { "" };
            format!("<{} bytes binary: {}{more}>", payload.len(), hex(shown))
        }
    }
}

/// What a reader holding `secret` (or none) sees of an event's payload.
pub enum Shown<'a> {
    /// Not encrypted: the payload itself.
    Plain(&'a [u8]),
    /// Encrypted, and opened with the secret.
    Opened(Vec<u8>),
    /// Encrypted, not opened: without a secret (`None`), or why it did not open.
    Sealed(Option<DecryptError>),
}

impl<'a> Shown<'a> {
    /// What a reader holding `secrets` sees of `ev`: an encrypted event is opened with the
    /// secret whose key id it carries (or tried with the first, for the error).
    pub fn of(ev: &EventRef<'a>, secrets: &[SpaceSecret]) -> Shown<'a> {
        if !ev.flags().contains(EventFlags::ENCRYPTED) {
            return Shown::Plain(ev.payload());
        }
        let id = key_id_of(ev.payload());
        let secret = secrets.iter().find(|s| Some(s.key_id()) == id).or(secrets.first());
        match secret.map(|s| ev.decrypt(s)) {
            None => Shown::Sealed(None),
            Some(Ok(plain)) => Shown::Opened(plain),
            Some(Err(e)) => Shown::Sealed(Some(e)),
        }
    }

    /// A one-line preview (see [`preview`]); encrypted payloads say so.
    pub fn preview(&self, ev: &EventRef<'_>, max: usize) -> String {
        match self {
            Shown::Plain(p) => preview(p, max),
            Shown::Opened(p) => format!("[encrypted] {}", preview(p, max)),
            Shown::Sealed(why) => {
                let id = key_id_of(ev.payload()).map_or_else(|| "?".to_string(), |id| hex(&id));
                match why {
                    None => format!("<encrypted, key id {id}, {} bytes>", ev.payload().len()),
                    Some(DecryptError::OtherSecret { .. }) => {
                        format!("<encrypted with another secret, key id {id}, {} bytes>", ev.payload().len())
                    }
                    Some(e) => format!("<encrypted, key id {id}, not opened: {e}>"),
                }
            }
        }
    }
}

/// The JSON form of an event (fields in this order). `payload` is the text when the payload
/// is UTF-8, else null; `payload_hex` is always there; `encoded` (the exact event bytes, what
/// `import` reads) only where asked for; `type` only in exports. For an encrypted event read
/// with a secret: `plaintext` (text or null) and `plaintext_hex` once opened, or
/// `decrypt_error`.
#[derive(Serialize)]
pub struct EventJson<'a> {
    /// `"event"` in an export line.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub line_type: Option<&'static str>,
    author: String,
    seq: u64,
    timestamp_us: u64,
    time: String,
    kind: u16,
    flags: u8,
    encrypted: bool,
    payload_len: usize,
    leaf: String,
    payload: Option<&'a str>,
    payload_hex: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decrypt_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoded: Option<String>,
}

/// The JSON form of `ev`, with its encoded bytes when `with_encoded`, opened with one of
/// `secrets` when it is encrypted and any are given.
pub fn event_json<'a>(ev: &EventRef<'a>, with_encoded: bool, secrets: &[SpaceSecret]) -> EventJson<'a> {
    let payload = ev.payload();
    let mut json = EventJson {
        line_type: None,
        author: author_hex(&ev.author()),
        seq: ev.seq(),
        timestamp_us: ev.timestamp_us(),
        time: utc(ev.timestamp_us()),
        kind: ev.kind(),
        flags: ev.flags().0,
        encrypted: ev.flags().contains(EventFlags::ENCRYPTED),
        payload_len: payload.len(),
        leaf: hash_hex(&ev.leaf_hash()),
        payload: std::str::from_utf8(payload).ok(),
        payload_hex: hex(payload),
        plaintext: None,
        plaintext_hex: None,
        decrypt_error: None,
        encoded: with_encoded.then(|| hex(ev.encoded())),
    };
    if !secrets.is_empty() {
        match Shown::of(ev, secrets) {
            Shown::Plain(_) | Shown::Sealed(None) => {}
            Shown::Opened(plain) => {
                json.plaintext_hex = Some(hex(&plain));
                json.plaintext = Some(String::from_utf8(plain).ok());
            }
            Shown::Sealed(Some(e)) => json.decrypt_error = Some(e.to_string()),
        }
    }
    json
}

/// A progress bar of events (or bytes) done out of a total, for long work over the whole store
/// (`xf check`, `xf backup`) or a whole file (`xf restore` checking an archive): shown only
/// for [`EventsBar::MIN_EVENTS`] events or more ([`EventsBar::MIN_BYTES`] bytes).
pub struct EventsBar {
    /// What the work is, in the bar: "checking", "backing up".
    doing: &'static str,
    /// Counts bytes, not events.
    bytes: bool,
    bar: Option<indicatif::ProgressBar>,
}

impl EventsBar {
    /// Stores of fewer events get no bar.
    pub const MIN_EVENTS: u64 = 200_000;
    /// Files of fewer bytes get no bar.
    pub const MIN_BYTES: u64 = 8 << 20;

    /// No bar yet: [`EventsBar::set`] shows it.
    pub fn new(doing: &'static str) -> EventsBar {
        EventsBar { doing, bytes: false, bar: None }
    }

    /// A bar of bytes (shown as MiB, GiB, ...).
    pub fn of_bytes(doing: &'static str) -> EventsBar {
        EventsBar { doing, bytes: true, bar: None }
    }

    /// `done` of `total` events (or bytes).
    pub fn set(&mut self, done: u64, total: u64) {
        if total < if self.bytes { Self::MIN_BYTES } else { Self::MIN_EVENTS } {
            return;
        }
        let (doing, bytes) = (self.doing, self.bytes);
        let pb = self.bar.get_or_insert_with(|| {
            let pb = indicatif::ProgressBar::new(total);
            let counts = if bytes { "{bytes}/{total_bytes}" } else { "{pos}/{len} events" };
            let template = format!("{doing} [{{bar:40}}] {counts} ({{eta}})");
            if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
                pb.set_style(style.progress_chars("=> "));
            }
            pb
        });
        pb.set_position(done);
    }

    /// Clears the bar, if shown.
    pub fn finish(self) {
        if let Some(pb) = self.bar {
            pb.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_known_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(utc(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
        assert_eq!(utc(1_700_000_000_123_456), "2023-11-14T22:13:20.123456Z");
    }

    #[test]
    fn previews() {
        assert_eq!(preview(b"hi\nthere", 40), "hi\\nthere");
        assert_eq!(preview(b"abcdef", 3), "abc…");
        assert_eq!(preview(&[0xff, 0x00], 40), "<2 bytes binary: ff00>");
    }
}
