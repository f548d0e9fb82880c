//! Helpers shared by the network tests (`net_*.rs`): nodes on 127.0.0.1, waiting with a
//! deadline, and counting this process's threads and sockets.
#![allow(dead_code)]

pub mod outsider;

use std::path::Path;
use std::time::{Duration, Instant};

use xaeroflux::Core;
use xaeroflux::net::{NetConfig, SpaceId};

/// Longest any test waits for a condition: far above what they need on an idle machine,
/// so a loaded CI machine does not fail them, while a hang still ends.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Network settings for tests: loopback only, quick re-announcements.
pub fn config() -> NetConfig {
    NetConfig::default()
        .with_bind_addr("127.0.0.1:0".parse().unwrap())
        .with_announce_interval(Duration::from_millis(300))
        .with_idle_timeout(Duration::from_secs(20))
}

/// A store at `dir` syncing with both backends on 127.0.0.1.
pub fn node(dir: &Path) -> Core {
    node_with(dir, &["iroh", "iroh-gossip"])
}

/// A store at `dir` syncing with `backends` on 127.0.0.1.
pub fn node_with(dir: &Path, backends: &[&str]) -> Core {
    Core::builder().with_page_size(16 * 1024).with_sync_backends(backends).with_net_config(config()).open(dir).unwrap()
}

/// A space id for a test.
pub fn space(name: &str) -> SpaceId {
    SpaceId::from_name(&format!("xaeroflux test {name}"))
}

/// Polls `cond` every 10 ms until it holds or [`PATIENCE`] passes; returns whether it held.
pub fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + PATIENCE;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads the ticket a child process prints (after the test harness's name on its line).
pub fn read_ticket(child: &mut std::process::Child) -> xaeroflux::net::Ticket {
    use std::io::{BufRead, BufReader};
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("the child printed its ticket").unwrap();
        if let Some(Ok(t)) = line.split_whitespace().last().map(str::parse) {
            return t;
        }
    }
}

/// `n` payloads of `size` bytes, numbered.
pub fn payloads(tag: u8, n: usize, size: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut p = vec![tag; size];
            p[..8].copy_from_slice(&(i as u64).to_le_bytes());
            p
        })
        .collect()
}

/// Appends `n` events of `size` bytes to `core`'s feed in batches of 1000.
pub fn append_n(core: &Core, tag: u8, n: usize, size: usize) {
    let all = payloads(tag, n, size);
    for chunk in all.chunks(1000) {
        core.append_batch(chunk.iter().map(|p| p.as_slice())).unwrap();
    }
}

/// Whether `a` and `b` hold the same non-empty feeds with the same roots.
pub fn same_feeds(a: &Core, b: &Core) -> bool {
    let list = |c: &Core| -> Vec<_> {
        c.feeds().into_iter().filter(|f| f.len > 0).map(|f| (f.author, f.len, f.root)).collect()
    };
    let (mut fa, mut fb) = (list(a), list(b));
    fa.sort();
    fb.sort();
    fa == fb
}

/// Threads of this process.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

/// UDP and TCP sockets (IPv4 and IPv6) this process has open.
///
/// Only internet sockets count: the process-wide Unix socket pair tokio's signal handling
/// creates once (on the first runtime built with I/O enabled) lives as long as the process
/// and is not a socket of any node.
pub fn socket_count() -> usize {
    let mut inet = std::collections::HashSet::new();
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/self/net/{table}")).unwrap_or_default();
        // Columns: sl local rem st queues tr retrnsmt uid timeout inode ...
        inet.extend(text.lines().skip(1).filter_map(|l| l.split_whitespace().nth(9).map(str::to_owned)));
    }
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|t| {
                    let t = t.to_string_lossy().into_owned();
                    t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')).map(str::to_owned)
                })
                .filter(|inode| inet.contains(inode))
                .count()
        })
        .unwrap_or(0)
}

/// Copies a store directory (as a backup restored elsewhere would be), without its network
/// identity, so the copy is another node with the same author key.
pub fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("net.") {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_store(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// Two stores of one author, at `x` and `y`, with 10 events each: the first 5 the same, the
/// last 5 different (`y` is a copy of `x` made after the first 5, as a restored backup
/// appending again would be). Both closed.
pub fn two_histories(x: &Path, y: &Path) {
    let open = |dir: &Path| Core::builder().with_page_size(16 * 1024).open(dir).unwrap();
    let store = open(x);
    append_n(&store, 1, 5, 64);
    store.close().unwrap();
    copy_store(x, y);
    for (dir, tag) in [(x, 2), (y, 3)] {
        let store = open(dir);
        append_n(&store, tag, 5, 64);
        store.close().unwrap();
    }
}

/// An in-memory replica of `core`'s own feed up to `head` (one of its signed heads), for a peer
/// driven by hand to serve (`outsider::serve_session`).
pub fn replica_of(core: &Core, head: &xaeroflux::SignedHead) -> xaeroflux_core::memstore::MemStore {
    let mut m = xaeroflux_core::memstore::MemStore::replica(xaeroflux_core::PageConfig::new(16 * 1024).unwrap());
    let events: Vec<_> = core.iter_feed(&core.author()).unwrap().take(head.length as usize).collect();
    m.import_events(head, &events).unwrap();
    m
}
