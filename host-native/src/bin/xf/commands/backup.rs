//! `xf backup`: a backup of the store in a new directory (`Core::backup_with`), made by this
//! process, or, when an `xf serve`, `join` or `watch` holds the store, by that command, asked
//! over the store's status socket (`commands::status`).

use serde_json::{Value, json};
use xaeroflux::BackupReport;

use crate::args::{BackupArgs, Cli};
use crate::error::CliError;
use crate::output::{EventsBar, Out};
use crate::store::open_existing;

/// `xf backup DEST`.
pub fn backup(cli: &Cli, args: &BackupArgs, out: &mut Out) -> Result<(), CliError> {
    // The running command's working directory may differ from this one's.
    let dest = std::path::absolute(&args.dest).map_err(|e| CliError::io(args.dest.display(), e))?;
    let mut bar = EventsBar::new("backing up");
    #[cfg(feature = "net")]
    if cli.store.join(crate::store::STATUS_SOCKET).exists()
        && let Some(answer) =
            super::status::request_backup(&cli.store, &dest, args.update, |done, total| bar.set(done, total))?
    {
        bar.finish();
        let by = answer["pid"].as_u64().map(|pid| format!(" by the xf command running on the store (pid {pid})"));
        return print(cli, out, &answer["backup"], by.as_deref().unwrap_or(""));
    }
    let core = open_existing(&cli.store)?;
    let progress = |p: xaeroflux::BackupProgress| bar.set(p.events_copied, p.events_total);
    let report = if args.update { core.update_backup_with(&dest, progress) } else { core.backup_with(&dest, progress) }
        .map_err(CliError::Backup)?;
    bar.finish();
    print(cli, out, &report_json(&report), "")
}

/// The JSON form of a backup's report (what `xf backup --json` prints).
pub fn report_json(report: &BackupReport) -> Value {
    json!({
        "path": report.path.display().to_string(),
        "feeds": report.feeds,
        "events": report.events,
        "events_before": report.events_before,
        "event_bytes": report.event_bytes,
        "forks": report.forks,
        "seconds": report.elapsed.as_secs_f64(),
    })
}

/// Prints a backup's report (`report_json`), made `by` whom.
fn print(cli: &Cli, out: &mut Out, report: &Value, by: &str) -> Result<(), CliError> {
    if cli.json {
        return out.json(report);
    }
    let n = |k: &str| report[k].as_u64().unwrap_or(0);
    let feeds = n("feeds");
    let what = match n("events_before") {
        0 => "backed up",
        before => &format!("updated a backup of {before} events with"),
    };
    out.line(format!(
        "{what} {} events of {feeds} feed{} ({:.1} MB) to {}{by} in {:.2} s; every feed checked against its signed head",
        n("events"),
        if feeds == 1 { "" } else { "s" },
        n("event_bytes") as f64 / 1e6,
        report["path"].as_str().unwrap_or("?"),
        report["seconds"].as_f64().unwrap_or(0.0),
    ))
}
