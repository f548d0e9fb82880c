//! Xaeroflux: a store with N events serves; a fresh store joins its ticket and catches up;
//! then live appends one by one.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use xaeroflux::net::{NetConfig, SpaceId, SyncEvent, Ticket};
use xaeroflux::{AuthorId, Core};

use crate::{BoxError, RECORD, child, raw};

/// Live appends per run, and the pause between two.
const LIVE_APPENDS: usize = 100;
const LIVE_PAUSE_MS: u64 = 10;
const PATIENCE: Duration = Duration::from_secs(120);

/// One round: a catch-up, then live appends.
pub(crate) struct SyncResult {
    /// Catch-up time.
    pub time: Duration,
    /// Of that, the time before the session started (its HELLO was accepted).
    pub connect: Duration,
    /// Sessions started during the catch-up, and sessions rejected (the peer sent something
    /// that did not verify).
    pub sessions: usize,
    pub rejected: usize,
    /// XSP stream bytes the joining store received (over every session).
    pub wire_bytes: u64,
    /// Every live append's latency.
    pub latencies: Vec<Duration>,
}

/// A store syncing over iroh and iroh-gossip, or over Tor alone on the network of `tor`
/// (an arti configuration file).
pub(crate) fn open(dir: &Path, tor: Option<&Path>) -> Result<Core, BoxError> {
    let net = NetConfig::default().with_bind_addr("127.0.0.1:0".parse()?);
    let (net, backends): (_, &[&str]) = match tor {
        Some(config) => (net.with_tor_config_file(config), &["tor"]),
        None => (net, &["iroh", "iroh-gossip"]),
    };
    Ok(Core::builder().with_page_size(16 * 1024).with_sync_backends(backends).with_net_config(net).open(dir)?)
}

pub(crate) fn parse_author(s: &str) -> Result<AuthorId, BoxError> {
    let mut a = [0u8; 32];
    if s.len() != 64 {
        return Err("bad author".into());
    }
    for (i, b) in a.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)?;
    }
    Ok(AuthorId(a))
}

pub(crate) fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// In the serving child's environment: serve over Tor alone, on the network of this arti
/// configuration file.
pub(crate) const TOR_CONFIG_VAR: &str = "XF_NET_BENCH_TOR_CONFIG";

/// One round; over iroh, or over Tor alone on the network of the arti configuration `tor`.
pub(crate) fn run(records: usize, tor: Option<&Path>) -> Result<SyncResult, BoxError> {
    let mut envs = vec![("XF_NET_BENCH_RECORDS", records.to_string())];
    if let Some(config) = tor {
        envs.push((TOR_CONFIG_VAR, config.to_str().ok_or("non-UTF-8 path")?.to_owned()));
    }
    let mut c = child::spawn("xsp-serve", &envs)?;
    let mut parts = c.line.split_whitespace();
    let ticket: Ticket = parts.next().ok_or("no ticket")?.parse()?;
    let author = parse_author(parts.next().ok_or("no author")?)?;
    let dir = tempfile::tempdir()?;
    let core = open(dir.path(), tor)?;
    let sub = core.subscribe()?;
    let t = Instant::now();
    core.join_ticket(&ticket)?;
    let mut connect = None;
    let (mut sessions, mut rejected) = (0, 0);
    while core.feed_len(&author) < records as u64 {
        if t.elapsed() > PATIENCE {
            return Err(format!("catch-up stuck at {} events", core.feed_len(&author)).into());
        }
        match sub.recv_timeout(Duration::from_millis(50)) {
            Some(SyncEvent::PeerConnected { .. }) => {
                connect.get_or_insert(t.elapsed());
                sessions += 1;
            }
            Some(SyncEvent::Rejected { .. }) => rejected += 1,
            _ => {}
        }
    }
    let time = t.elapsed();
    let connect = connect.unwrap_or(time);
    let status = core.sync_status()?;
    // Every session's bytes: when both nodes dial each other at once, part of the catch-up
    // may have come over a session that was then closed.
    let wire_bytes = status.bytes_in;

    // Live appends, one at a time.
    let mut latencies = Vec::new();
    while sub.try_recv().is_some() {}
    let stdin = c.stdin.as_mut().ok_or("no stdin")?;
    writeln!(stdin, "live {LIVE_APPENDS} {LIVE_PAUSE_MS}")?;
    stdin.flush()?;
    let target = (records + LIVE_APPENDS) as u64;
    let start = Instant::now();
    while core.feed_len(&author) < target && start.elapsed() < PATIENCE {
        if let Some(SyncEvent::Received { author: a, seqs, .. }) = sub.recv_timeout(Duration::from_millis(100))
            && a == author
        {
            let now = now_us();
            // Only the live appends (the catch-up's last report may come after the drain).
            for seq in seqs.start.max(records as u64)..seqs.end {
                if let Some(ev) = core.get(&author, seq)? {
                    latencies.push(Duration::from_micros(now.saturating_sub(ev.timestamp_us())));
                }
            }
        }
    }
    let live = start.elapsed();
    drop(sub);
    let t = Instant::now();
    drop(core);
    let closed = t.elapsed();
    let t = Instant::now();
    c.finish()?;
    let child_closed = t.elapsed();
    // Not part of the figures, but a slow step is worth knowing about.
    for (step, took) in
        [("the live appends", live), ("closing the joining store", closed), ("the serving child's exit", child_closed)]
    {
        if took > Duration::from_secs(10) {
            println!("  (slow: {step} took {:.1} s)", took.as_secs_f64());
        }
    }
    Ok(SyncResult { time, connect, sessions, rejected, wire_bytes, latencies })
}

/// Child: a store with the records, serving (over Tor when its environment says so); prints
/// its ticket and author, then appends live events on request ("live K MS" on stdin) until
/// stdin closes.
pub(crate) fn child_serve() -> Result<(), BoxError> {
    let records: usize = std::env::var("XF_NET_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let tor = std::env::var_os(TOR_CONFIG_VAR).map(std::path::PathBuf::from);
    let core = open(dir.path(), tor.as_deref())?;
    let data = raw::payload(records);
    for chunk in data.chunks(RECORD * 1000) {
        core.append_batch(chunk.chunks(RECORD))?;
    }
    let ticket = core.ticket(SpaceId::from_name("xaeroflux network bench"))?;
    println!("{ticket} {}", core.author());
    std::io::stdout().flush()?;
    let mut line = String::new();
    while std::io::stdin().lock().read_line(&mut line)? > 0 {
        let mut w = line.split_whitespace();
        if w.next() == Some("live") {
            let k: usize = w.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            let ms: u64 = w.next().and_then(|v| v.parse().ok()).unwrap_or(10);
            for i in 0..k {
                let mut p = vec![7u8; RECORD];
                p[..8].copy_from_slice(&(i as u64).to_le_bytes());
                core.append(core.new_event(&p))?;
                std::thread::sleep(Duration::from_millis(ms));
            }
        }
        line.clear();
    }
    Ok(())
}
