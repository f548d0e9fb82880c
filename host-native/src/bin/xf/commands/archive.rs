//! `xf archive` and `xf restore`: the store as one archive file (`Core::archive_with`; the
//! format the browser package's `store.exportArchive()` writes and `Store.restoreArchive`
//! reads), and a new store made from one (`Core::restore_archive_with`).
//!
//! When an `xf serve`, `join` or `watch` holds the store, `xf archive` asks that command over
//! the store's status socket, as `xf backup` does (`commands::status`).

use serde_json::{Value, json};
use xaeroflux::{ArchiveReport, Core, RestoreProgress};

use crate::args::{ArchiveArgs, Cli, RestoreArgs};
use crate::error::CliError;
use crate::output::{EventsBar, Out, author_hex};
use crate::password;
use crate::store::open_existing;

/// `xf archive FILE`.
pub fn archive(cli: &Cli, args: &ArchiveArgs, out: &mut Out) -> Result<(), CliError> {
    // The running command's working directory may differ from this one's.
    let dest = std::path::absolute(&args.file).map_err(|e| CliError::io(args.file.display(), e))?;
    let with_key = !args.no_key;
    let password = match (&args.password_file, args.password) {
        (Some(file), _) => Some(password::from_file(file)?),
        (None, true) => Some(password::prompt("Password to seal the author key with: ", true)?),
        (None, false) => None,
    };
    let mut bar = EventsBar::new("archiving");
    #[cfg(feature = "net")]
    if cli.store.join(crate::store::STATUS_SOCKET).exists()
        && let Some(answer) =
            super::status::request_archive(&cli.store, &dest, with_key, password.as_deref(), |done, total| {
                bar.set(done, total)
            })?
    {
        bar.finish();
        let by = answer["pid"].as_u64().map(|pid| format!(" by the xf command running on the store (pid {pid})"));
        return print(cli, out, &answer["archive"], "archived", by.as_deref().unwrap_or(""));
    }
    let core = open_existing(&cli.store)?;
    let progress = |p: xaeroflux::BackupProgress| bar.set(p.events_copied, p.events_total);
    let report = match &password {
        Some(password) => core.archive_sealed(&dest, password, progress),
        None => core.archive_with(&dest, with_key, progress),
    }
    .map_err(CliError::Archive)?;
    bar.finish();
    print(cli, out, &report_json(&report), "archived", "")
}

/// `xf restore ARCHIVE`: a new store at `--store`.
pub fn restore(cli: &Cli, args: &RestoreArgs, out: &mut Out) -> Result<(), CliError> {
    let password = match (&args.password_file, args.password) {
        (Some(file), _) => Some(password::from_file(file)?),
        (None, true) => Some(password::prompt("Password of the archive's key: ", false)?),
        (None, false) => None,
    };
    if args.check {
        let mut checking = EventsBar::of_bytes("checking");
        let report = Core::check_archive(&args.archive, password.as_deref(), |p| {
            if let RestoreProgress::Checking { bytes, total } = p {
                checking.set(bytes, total);
            }
        });
        checking.finish();
        let report = report.map_err(CliError::Restore)?;
        return print(cli, out, &report_json(&report), "checked", "");
    }
    let (mut checking, mut restoring) = (Some(EventsBar::of_bytes("checking")), EventsBar::new("restoring"));
    let progress = |p| match p {
        RestoreProgress::Checking { bytes, total } => {
            if let Some(bar) = &mut checking {
                bar.set(bytes, total);
            }
        }
        RestoreProgress::Writing(p) => {
            if let Some(bar) = checking.take() {
                bar.finish();
            }
            restoring.set(p.events_copied, p.events_total);
        }
        _ => {}
    };
    let report = match &password {
        Some(password) => Core::restore_archive_with_password(&args.archive, &cli.store, password, progress),
        None => Core::restore_archive_with(&args.archive, &cli.store, progress),
    };
    if let Some(bar) = checking {
        bar.finish();
    }
    restoring.finish();
    let report = report.map_err(CliError::Restore)?;
    print(cli, out, &report_json(&report), "restored", "")
}

/// The JSON form of an archive's report (what `xf archive --json` and `xf restore --json`
/// print).
pub fn report_json(report: &ArchiveReport) -> Value {
    json!({
        "path": report.path.display().to_string(),
        "feeds": report.feeds,
        "events": report.events,
        "bytes": report.bytes,
        "author": report.key_of.as_ref().map(author_hex),
        "sealed": report.sealed,
        "seconds": report.elapsed.as_secs_f64(),
    })
}

/// Prints a report (`report_json`) of what was `done`, by whom.
fn print(cli: &Cli, out: &mut Out, report: &Value, done: &str, by: &str) -> Result<(), CliError> {
    if cli.json {
        return out.json(report);
    }
    let n = |k: &str| report[k].as_u64().unwrap_or(0);
    let feeds = n("feeds");
    let key = match report["author"].as_str() {
        Some(a) if report["sealed"] == true => format!("with the key of author {a}, sealed with a password"),
        Some(a) => format!("with the key of author {a}"),
        None => "without an author key (every feed a replica)".to_string(),
    };
    let (from_to, verified) = match done {
        "restored" => ("into", "; every page, signature and proof verified"),
        "checked" => ("in", "; every page, signature and proof verified"),
        _ => ("to", ""),
    };
    out.line(format!(
        "{done} {} events of {feeds} feed{} ({:.1} MB archive, {key}) {from_to} {}{by} in {:.2} s{verified}",
        n("events"),
        if feeds == 1 { "" } else { "s" },
        n("bytes") as f64 / 1e6,
        report["path"].as_str().unwrap_or("?"),
        report["seconds"].as_f64().unwrap_or(0.0),
    ))
}
