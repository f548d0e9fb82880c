//! Two stores syncing over the network, on this machine (127.0.0.1, no internet needed):
//! Alice appends posts and gives Bob a ticket; Bob joins it, catches up with everything
//! verified against Alice's signed head, then sees her next post live, and answers; Alice
//! sees his answer.
//!
//! ```sh
//! cargo run -p xaeroflux --example sync
//! ```

use std::time::{Duration, Instant};

use xaeroflux::Core;
use xaeroflux::net::{NetConfig, SpaceId, Subscription, SyncEvent};

/// How long the example waits for anything before it gives up.
const PATIENCE: Duration = Duration::from_secs(30);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dirs = (tempfile::tempdir()?, tempfile::tempdir()?);
    // Loopback only: direct addresses, no relay.
    let config = NetConfig::default().with_bind_addr("127.0.0.1:0".parse()?);
    let open = |dir: &std::path::Path| {
        Core::builder().with_sync_backends(&["iroh", "iroh-gossip"]).with_net_config(config.clone()).open(dir)
    };
    let alice = open(dirs.0.path())?;
    let posts: Vec<String> = (0..1_000).map(|i| format!("post #{i}")).collect();
    alice.append_batch(posts.iter().map(String::as_bytes))?;

    // The ticket names the space and how to reach Alice's node: give it as text.
    let ticket = alice.ticket(SpaceId::from_name("xaeroflux sync example"))?.to_string();
    println!("alice: {} posts; ticket {}…", alice.feed_len(&alice.author()), &ticket[..24]);

    let bob = open(dirs.1.path())?;
    let bob_events = bob.subscribe()?;
    let started = Instant::now();
    bob.join_ticket(&ticket.parse()?)?;
    wait(&bob_events, || bob.feed_len(&alice.author()) == 1_000)?;
    let took = started.elapsed().as_secs_f64() * 1e3;
    println!("bob: caught up with alice's 1000 posts in {took:.0} ms, each verified against her signed head");

    // A live append reaches the connected peer in milliseconds, both ways.
    let alice_events = alice.subscribe()?;
    let sent = Instant::now();
    alice.append(alice.new_event(b"a live post"))?;
    wait(&bob_events, || bob.feed_len(&alice.author()) == 1_001)?;
    let live = bob.get(&alice.author(), 1_000)?.ok_or("the live post is stored")?;
    println!(
        "bob: got {:?} {:.1} ms after alice appended it",
        text(live.payload()),
        sent.elapsed().as_secs_f64() * 1e3
    );
    bob.append(bob.new_event(b"bob's answer"))?;
    wait(&alice_events, || alice.feed_len(&bob.author()) == 1)?;
    let answer = alice.get(&bob.author(), 0)?.ok_or("the answer is stored")?;
    println!("alice: got {:?}", text(answer.payload()));

    // Everything Bob holds of Alice's feed is what she signed.
    assert_eq!(bob.feed_len(&alice.author()), 1_001);
    assert_eq!(bob.feeds().iter().find(|f| f.author == alice.author()).map(|f| f.root), Some(alice.mmr_root()));
    println!("bob's copy of alice's feed has her root: {:?}", alice.mmr_root());
    Ok(())
}

/// Waits until `done` holds, looking again whenever sync reports something (and every 50 ms).
fn wait(events: &Subscription, done: impl Fn() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        let left = deadline.checked_duration_since(Instant::now()).ok_or(format!("nothing after {PATIENCE:?}"))?;
        if let Some(SyncEvent::Rejected { peer, error, .. }) = events.recv_timeout(left.min(Duration::from_millis(50)))
        {
            return Err(format!("peer {peer} sent something that does not verify: {error}"));
        }
    }
    Ok(())
}

fn text(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload).into_owned()
}
