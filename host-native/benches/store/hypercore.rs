//! Hypercore (npm `hypercore@11.37.1`), run by Node from `bench/hypercore/` with the same
//! record count, record size and batch size. `scripts/bench-store.sh` installs it with `npm ci`.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{BenchResult, Config, Measured, RECORD_LEN};

/// Where the Node script lives in the repository.
pub fn script_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("bench").join("hypercore")
}

/// Why the Hypercore case cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if std::env::var("XF_BENCH_HYPERCORE").is_ok_and(|v| v == "0") {
        return Some("skipped (XF_BENCH_HYPERCORE=0)".into());
    }
    if !script_dir().join("node_modules").join("hypercore").exists() {
        return Some("skipped: bench/hypercore/node_modules missing (run scripts/bench-store.sh)".into());
    }
    None
}

fn field(v: &serde_json::Value, key: &str) -> BenchResult<f64> {
    v.get(key).and_then(serde_json::Value::as_f64).ok_or_else(|| format!("hypercore output lacks {key}").into())
}

/// Runs the Node script and reads its one JSON line.
pub fn batch(cfg: &Config) -> BenchResult<Measured> {
    let out = Command::new("node")
        .arg("bench.mjs")
        .current_dir(script_dir())
        .env("XF_BENCH_N", cfg.n.to_string())
        .env("XF_BENCH_BATCH", cfg.batch.to_string())
        .env("XF_BENCH_DIR", &cfg.dir)
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
        return Err(format!("node bench.mjs failed ({}): {last}", out.status).into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).ok_or("hypercore printed no JSON line")?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    let records = field(&v, "records")? as u64;
    let secs = field(&v, "secs")?;
    let rss_kib = field(&v, "peak_rss_kib")? as u64;
    let note = v.get("durability").and_then(serde_json::Value::as_str).map(|d| format!("hypercore: {d}"));
    Ok(Measured { ops: records, secs, bytes: records * RECORD_LEN as u64, rss_kib, note, spread: None })
}
