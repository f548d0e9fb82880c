//! `xf backup`: a backup of the store in a new directory (`Core::backup_with`).

use serde_json::json;

use crate::args::{BackupArgs, Cli};
use crate::error::CliError;
use crate::output::{EventsBar, Out};
use crate::store::open_existing;

/// `xf backup DEST`.
pub fn backup(cli: &Cli, args: &BackupArgs, out: &mut Out) -> Result<(), CliError> {
    let core = open_existing(&cli.store)?;
    let mut bar = EventsBar::new("backing up");
    let report =
        core.backup_with(&args.dest, |p| bar.set(p.events_copied, p.events_total)).map_err(CliError::Backup)?;
    bar.finish();
    let secs = report.elapsed.as_secs_f64();
    if cli.json {
        out.json(&json!({
            "path": report.path.display().to_string(),
            "feeds": report.feeds,
            "events": report.events,
            "event_bytes": report.event_bytes,
            "forks": report.forks,
            "seconds": secs,
        }))?;
    } else {
        out.line(format!(
            "backed up {} events of {} feed{} ({:.1} MB) to {} in {secs:.2} s; every feed checked against its signed head",
            report.events,
            report.feeds,
            if report.feeds == 1 { "" } else { "s" },
            report.event_bytes as f64 / 1e6,
            report.path.display(),
        ))?;
    }
    Ok(())
}
