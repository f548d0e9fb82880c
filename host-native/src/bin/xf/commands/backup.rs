//! `xf backup`: a backup of the store in a new directory (`Core::backup_with`).

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::args::{BackupArgs, Cli};
use crate::error::CliError;
use crate::output::Out;
use crate::store::open_existing;

/// Stores of fewer events are backed up without a progress bar.
const BAR_MIN_EVENTS: u64 = 200_000;

/// `xf backup DEST`.
pub fn backup(cli: &Cli, args: &BackupArgs, out: &mut Out) -> Result<(), CliError> {
    let core = open_existing(&cli.store)?;
    let mut bar: Option<ProgressBar> = None;
    let report = core
        .backup_with(&args.dest, |p| {
            if p.events_total < BAR_MIN_EVENTS {
                return;
            }
            let pb = bar.get_or_insert_with(|| {
                let pb = ProgressBar::new(p.events_total);
                if let Ok(style) = ProgressStyle::with_template("backing up [{bar:40}] {pos}/{len} events ({eta})") {
                    pb.set_style(style.progress_chars("=> "));
                }
                pb
            });
            pb.set_position(p.events_copied);
        })
        .map_err(CliError::Backup)?;
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
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
