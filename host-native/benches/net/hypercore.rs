//! Hypercore replication of the same data, two Node processes (bench/hypercore/replicate.mjs).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::{BoxError, child, median};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/hypercore/replicate.mjs")
}

fn node(args: &[&str], records: usize) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(script()).args(args).env("XF_BENCH_N", records.to_string());
    cmd
}

/// Median time for a fresh clone to download the `records` blocks.
pub(crate) fn run(records: usize, runs: usize) -> Result<Duration, BoxError> {
    if !script().with_file_name("node_modules").join("hypercore").exists() {
        return Err("bench/hypercore/node_modules is missing (run scripts/bench-net.sh, which installs it)".into());
    }
    let mut times = Vec::new();
    for _ in 0..runs {
        let server = child::spawn_cmd(node(&["serve"], records))?;
        let mut parts = server.line.split_whitespace();
        let port = parts.next().ok_or("no port")?.to_string();
        let key = parts.next().ok_or("no key")?.to_string();
        let fetch = child::spawn_cmd(node(&["fetch", &port, &key], records))?;
        let out = fetch.finish()?;
        server.finish()?;
        let secs = out
            .split("\"secs\":")
            .nth(1)
            .and_then(|s| s.trim_end_matches('}').trim().parse::<f64>().ok())
            .ok_or_else(|| format!("unexpected output from replicate.mjs: {out}"))?;
        times.push(Duration::from_secs_f64(secs));
    }
    Ok(median(times))
}
