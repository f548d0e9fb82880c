//! `xf check`: the store's integrity check (`Core::check_integrity`).

use serde_json::json;
use xaeroflux::{IntegrityProblem, IntegrityReport};

use crate::args::Cli;
use crate::error::CliError;
use crate::output::{EventsBar, Out, author_hex};
use crate::store::open_existing;

/// `xf check`.
pub fn check(cli: &Cli, out: &mut Out) -> Result<(), CliError> {
    let core = open_existing(&cli.store)?;
    let mut bar = EventsBar::new("checking");
    let report = core.check_integrity_with(|p| bar.set(p.events_checked, p.events_total)).map_err(CliError::Check)?;
    bar.finish();
    if cli.json {
        out.json(&report_json(&report))?;
    } else {
        for p in &report.problems {
            out.line(p.to_string())?;
        }
        let verdict = if report.is_ok() { "ok" } else { "DAMAGED" };
        out.line(format!(
            "checked {}, {}, {}: {verdict}",
            count(report.feeds, "feed"),
            count(report.pages, "page"),
            count(report.events, "event")
        ))?;
    }
    if report.is_ok() { Ok(()) } else { Err(CliError::Damaged(report.problems.len())) }
}

/// "1 feed", "2 feeds".
fn count(n: u64, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

fn report_json(r: &IntegrityReport) -> serde_json::Value {
    let problems: Vec<_> = r.problems.iter().map(problem_json).collect();
    json!({ "ok": r.is_ok(), "feeds": r.feeds, "pages": r.pages, "events": r.events, "problems": problems })
}

fn problem_json(p: &IntegrityProblem) -> serde_json::Value {
    let (kind, author, seqs) = match p {
        IntegrityProblem::DamagedEvents { author, seqs, .. } => ("damaged_events", Some(author), Some(seqs.clone())),
        IntegrityProblem::PageRow { author, .. } => ("page_row", Some(author), None),
        IntegrityProblem::Root { author, .. } => ("root", Some(author), None),
        IntegrityProblem::Node { author, .. } => ("mmr_node", Some(author), None),
        IntegrityProblem::Head { author, .. } => ("signed_head", Some(author), None),
        IntegrityProblem::ArrivalOrder { author, .. } => ("arrival_order", Some(author), None),
        IntegrityProblem::UnknownFeedInArrivals { .. } => ("arrival_order", None, None),
        IntegrityProblem::ForkEvidence { author } => ("fork_evidence", author.as_ref(), None),
        _ => ("other", None, None),
    };
    json!({
        "kind": kind,
        "author": author.map(author_hex),
        "seqs": seqs.map(|s| [s.start, s.end]),
        "message": p.to_string(),
    })
}
