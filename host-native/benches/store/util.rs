//! Shared pieces of the store benchmark: configuration, record generation, timing,
//! peak-RSS measurement and the one-line result format children report to the parent.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

/// Errors of a benchmark case: the bench is a binary, a boxed error is enough to report one line.
pub type BenchResult<T> = Result<T, Box<dyn Error>>;

/// Size of every record (event payload / redb value / file record) in bytes.
pub const RECORD_LEN: usize = 256;

/// Run-time configuration, read from environment variables (inherited by the children).
#[derive(Clone, Debug)]
pub struct Config {
    /// Records appended by the batched cases (`XF_BENCH_N`, default 1 000 000).
    pub n: u64,
    /// Records appended by the per-event durable cases (`XF_BENCH_N_EVENT`, default 20 000).
    pub n_event: u64,
    /// Records per durable commit in the batched cases (`XF_BENCH_BATCH`, default 1 000).
    pub batch: u64,
    /// Random point reads (`XF_BENCH_READS`, default `n`).
    pub reads: u64,
    /// Scratch directory for the stores (`XF_BENCH_DIR`, default `<target>/bench-store`).
    pub dir: PathBuf,
    /// Keep the scratch files after the run (`XF_BENCH_KEEP=1`).
    pub keep: bool,
    /// Rounds of every case, interleaved; the median is reported (`XF_BENCH_ROUNDS`, default 1).
    pub rounds: u64,
}

fn env_u64(name: &str, default: u64) -> BenchResult<u64> {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.replace('_', "");
            let n: u64 = v.parse().map_err(|_| format!("{name}={v} is not a number"))?;
            if n == 0 {
                return Err(format!("{name} must be at least 1").into());
            }
            Ok(n)
        }
        Err(_) => Ok(default),
    }
}

impl Config {
    /// Reads the configuration from the environment.
    pub fn from_env() -> BenchResult<Config> {
        let n = env_u64("XF_BENCH_N", 1_000_000)?;
        let n_event = env_u64("XF_BENCH_N_EVENT", 20_000)?;
        let batch = env_u64("XF_BENCH_BATCH", 1_000)?;
        let reads = env_u64("XF_BENCH_READS", n)?;
        let dir = match std::env::var_os("XF_BENCH_DIR") {
            Some(d) => PathBuf::from(d),
            None => default_dir()?,
        };
        let keep = std::env::var("XF_BENCH_KEEP").is_ok_and(|v| v == "1");
        let rounds = env_u64("XF_BENCH_ROUNDS", 1)?;
        Ok(Config { n, n_event, batch, reads, dir, keep, rounds })
    }
}

/// `<target>/bench-store`, found from the bench executable (`<target>/<profile>/deps/store-…`).
/// Kept off `/tmp`, which is a RAM disk on many machines (an fdatasync there costs nothing).
fn default_dir() -> BenchResult<PathBuf> {
    let exe = std::env::current_exe()?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or("cannot locate the target directory from the bench executable; set XF_BENCH_DIR")?;
    Ok(target.join("bench-store"))
}

/// Fills `out` with the record of sequence number `seq`: deterministic, not compressible
/// in any useful way, the same bytes for every system.
pub fn fill_record(seq: u64, out: &mut [u8]) {
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x.to_le_bytes()
    };
    // Whole 8-byte chunks are fixed-size stores; a variable-length copy per chunk (a `memmove`
    // call each) made this generator cost ~15 % of a run, inside every case's timing.
    let mut chunks = out.chunks_exact_mut(8);
    for chunk in &mut chunks {
        chunk.copy_from_slice(&next());
    }
    let rest = chunks.into_remainder();
    let n = rest.len();
    rest.copy_from_slice(&next()[..n]);
    out[..8].copy_from_slice(&seq.to_le_bytes());
}

/// A tiny deterministic PRNG (xorshift64*) for the random reads.
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// A value in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

/// Peak resident set size of this process in KiB (`VmHWM` of `/proc/self/status`), 0 where
/// the platform has no such file.
pub fn peak_rss_kib() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets this process's peak RSS to its current RSS (Linux: `5` written to
/// `/proc/self/clear_refs`), so [`peak_rss_kib`] then reports the peak of what follows alone.
/// Returns whether it could.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

/// What one case measured.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Operations done (records appended, scanned or read).
    pub ops: u64,
    /// Wall time of the timed part, in seconds.
    pub secs: f64,
    /// Payload bytes moved (ops × 256).
    pub bytes: u64,
    /// Peak RSS of the process that ran the case, KiB.
    pub rss_kib: u64,
    /// Free-form note printed under the table (durability semantics, …).
    pub note: Option<String>,
    /// (max - min) / median throughput over the rounds, when there were several.
    pub spread: Option<f64>,
}

impl Measured {
    /// A measurement of `ops` records of [`RECORD_LEN`] bytes timed from `start`.
    pub fn since(start: Instant, ops: u64) -> Measured {
        Measured {
            ops,
            secs: start.elapsed().as_secs_f64(),
            bytes: ops * RECORD_LEN as u64,
            rss_kib: 0,
            note: None,
            spread: None,
        }
    }

    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        if self.secs > 0.0 { self.ops as f64 / self.secs } else { 0.0 }
    }

    /// Payload megabytes (10^6 bytes) per second.
    pub fn mb_per_sec(&self) -> f64 {
        if self.secs > 0.0 { self.bytes as f64 / self.secs / 1e6 } else { 0.0 }
    }

    /// The line a child prints for the parent.
    pub fn to_line(&self, case: &str) -> String {
        let mut line = format!(
            "XFBENCH case={case} ops={} secs={:.6} bytes={} rss_kib={}",
            self.ops, self.secs, self.bytes, self.rss_kib
        );
        if let Some(note) = &self.note {
            line.push_str(" note=");
            line.push_str(&note.replace('\n', " "));
        }
        line
    }

    /// Parses a child's line; `None` for any other line.
    pub fn from_line(line: &str) -> Option<(String, Measured)> {
        let rest = line.strip_prefix("XFBENCH ")?;
        let (rest, note) = match rest.split_once(" note=") {
            Some((r, n)) => (r, Some(n.to_string())),
            None => (rest, None),
        };
        let mut case = None;
        let mut m = Measured { ops: 0, secs: 0.0, bytes: 0, rss_kib: 0, note, spread: None };
        for kv in rest.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            match k {
                "case" => case = Some(v.to_string()),
                "ops" => m.ops = v.parse().ok()?,
                "secs" => m.secs = v.parse().ok()?,
                "bytes" => m.bytes = v.parse().ok()?,
                "rss_kib" => m.rss_kib = v.parse().ok()?,
                _ => {}
            }
        }
        Some((case?, m))
    }
}
