//! The native peer: a `xaeroflux` store (host-native, with network sync) that joins the
//! demo's space through the local relay, and optionally appends an event of its own every
//! few seconds so that there is always something arriving.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use xaeroflux::net::{NetConfig, PeerId, SpaceId};
use xaeroflux::{Core, EventFlags};

/// The running native peer.
pub struct NativePeer {
    core: Arc<Core>,
    node: PeerId,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl NativePeer {
    /// Opens (or creates) the store at `dir`, starts sync through `relay_url` on loopback and
    /// joins `space`.
    pub fn start(dir: &Path, relay_url: &str, space: SpaceId) -> Result<NativePeer, Box<dyn std::error::Error>> {
        let net = NetConfig::default().with_relay_url(relay_url).with_bind_addr("127.0.0.1:0".parse()?);
        let core = Core::builder().with_sync_backends(&["iroh"]).with_net_config(net).open(dir)?;
        core.join_space(space)?;
        let node = core.node_id()?;
        Ok(NativePeer { core: Arc::new(core), node })
    }

    /// Waits (up to `timeout`) until the node is connected to its relay, so that the first
    /// page to dial it is not answered by silence (and QUIC's retransmission timers).
    pub fn wait_for_relay(&self, space: SpaceId, timeout: Duration) -> bool {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if self.core.ticket(space).is_ok_and(|t| t.relay.is_some()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The node id (hex), which the page dials.
    pub fn node_id(&self) -> String {
        hex(&self.node.0)
    }

    /// The native peer's author (hex).
    pub fn author(&self) -> String {
        hex(self.core.author().as_bytes())
    }

    /// Appends `text` to the native peer's feed; returns its seq.
    pub fn append(&self, text: &str) -> Result<u64, xaeroflux::AppendError> {
        let ev = self.core.new_event(text.as_bytes()).kind(1);
        Ok(self.core.append(ev)?.seq)
    }

    /// Appends `n` sample events (100-byte payloads) in batches.
    pub fn preload(&self, n: u64) -> Result<(), xaeroflux::AppendError> {
        let mut done = 0;
        while done < n {
            let k = (n - done).min(1000);
            let payloads: Vec<Vec<u8>> =
                (done..done + k).map(|i| format!("preloaded event {i:>8} {}", "·".repeat(36)).into_bytes()).collect();
            self.core.append_batch(payloads.iter().map(Vec::as_slice))?;
            done += k;
        }
        Ok(())
    }

    /// The events held (every feed, in arrival order) from position `offset`, as JSON.
    pub fn events(&self, offset: usize, limit: usize) -> Value {
        let list: Vec<Value> = self
            .core
            .iter_events()
            .skip(offset)
            .take(limit)
            .filter_map(Result::ok)
            .map(|e| {
                json!({
                    "author": hex(e.author().as_bytes()),
                    "seq": e.seq(),
                    "timestamp": e.timestamp_us(),
                    "flags": e.flags().0,
                    // The native peer holds no space secret: an encrypted event's payload is
                    // sealed bytes to it, never text.
                    "text": (!e.flags().contains(EventFlags::ENCRYPTED)).then(|| std::str::from_utf8(e.payload()).ok()).flatten(),
                })
            })
            .collect();
        json!({ "total": self.core.stats().total_events, "events": list })
    }

    /// The feeds held, as JSON.
    pub fn feeds(&self) -> Value {
        let feeds: Vec<Value> =
            self.core.feeds().iter().map(|f| json!({ "author": hex(f.author.as_bytes()), "length": f.len })).collect();
        Value::Array(feeds)
    }

    /// Appends an event every `every` (a heartbeat the page watches arrive).
    pub fn heartbeat(&self, every: Duration) {
        let core = self.core.clone();
        std::thread::Builder::new()
            .name("demo-heartbeat".into())
            .spawn(move || {
                for n in 1u64.. {
                    std::thread::sleep(every);
                    let text = format!("Native peer heartbeat #{n} — all systems nominal");
                    if core.append(core.new_event(text.as_bytes()).kind(3)).is_err() {
                        return;
                    }
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| eprintln!("web-demo: no heartbeat thread: {e}"));
    }
}
