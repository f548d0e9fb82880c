//! Reading a feed on demand without storing it, and proving what was read, on this machine
//! (127.0.0.1): a seller's store holds 10 000 listings; a buyer's store keeps only the feeds it
//! follows (`Replication::Followed`), reads the seller's latest listings and one page of older
//! ones, each verified against the seller's signed head, proves one listing to a third party,
//! and, with the seller gone, reads and proves what it read before from memory, then again
//! after restarting (from the reads the store kept, verified again when it opens).
//!
//! ```sh
//! cargo run -p xaeroflux --example read_on_demand
//! ```

use std::time::{Duration, Instant};

use xaeroflux::Core;
use xaeroflux::net::{Fetch, NetConfig, Replication, SpaceId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dirs = (tempfile::tempdir()?, tempfile::tempdir()?);
    let loopback = NetConfig::default().with_bind_addr("127.0.0.1:0".parse()?);

    let seller = Core::builder().with_sync_backends(&["iroh"]).with_net_config(loopback.clone()).open(dirs.0.path())?;
    let listings: Vec<String> = (0..10_000).map(|i| format!("listing #{i}: a chair, {} EUR", 20 + i % 80)).collect();
    seller.append_batch(listings.iter().map(String::as_bytes))?;
    let ticket = seller.ticket(SpaceId::from_name("xaeroflux market example"))?;
    let author = seller.author();

    // The buyer keeps only the feeds it follows: the seller's is read on demand.
    let sparse = loopback.with_replication(Replication::Followed);
    let open_buyer =
        || Core::builder().with_sync_backends(&["iroh"]).with_net_config(sparse.clone()).open(dirs.1.path());
    let buyer = open_buyer()?;
    buyer.join_ticket(&ticket)?;
    let timeout = Duration::from_secs(30);

    let t = Instant::now();
    let latest = buyer.fetch_events(&author, Fetch::Latest(5), timeout)?;
    println!("the latest {} listings in {:.1} ms (from a fresh join):", latest.len(), ms(t));
    for listing in latest.iter() {
        println!("  #{} {}", listing.seq(), String::from_utf8_lossy(listing.payload()));
    }
    let t = Instant::now();
    let page = buyer.fetch_events(&author, Fetch::Seqs(4_000..4_050), timeout)?;
    println!(
        "listings {:?} in {:.2} ms, verified against the seller's head of {} events",
        page.seqs(),
        ms(t),
        page.head().length
    );
    assert_eq!(buyer.feed_len(&author), 0, "nothing read is stored");

    // Any listing read can be proved to anyone from what was read, with no second request:
    // the event, its inclusion proof and the seller's signed head are all a third party needs
    // (`proof_file::encode` writes them as the proof file `xf verify` checks).
    let proved = page.prove(4_042).ok_or("a listing of the page")?;
    xaeroflux::verify_event(&proved.event(), proved.proof(), proved.head())?;
    println!("listing #4042 proved against the seller's signed head of {} events", proved.head().length);

    // The seller goes offline: what the buyer read is still there, verified, and provable.
    seller.close()?;
    let again = buyer.fetch_events(&author, Fetch::Seqs(4_010..4_020), Duration::from_millis(500))?;
    let proof = buyer.fetch_proof(&author, 4_015, Duration::from_millis(500))?;
    xaeroflux::verify_event(&proof.event(), proof.proof(), proof.head())?;
    println!(
        "seller offline: listings {:?} read again from memory ({}), #4015 proved from memory ({})",
        again.seqs(),
        again.from_cache(),
        proof.from_cache()
    );
    let unread = buyer.fetch_events(&author, Fetch::Seqs(0..10), Duration::from_millis(500));
    println!("listings never read: {}", unread.err().map_or("?".into(), |e| e.to_string()));

    // The buyer restarts, still offline: the reads it kept come back, verified again.
    buyer.close()?;
    let t = Instant::now();
    let buyer = open_buyer()?;
    let opened = ms(t);
    let kept = buyer.fetch_events(&author, Fetch::Seqs(4_000..4_050), Duration::from_millis(500))?;
    let proof = buyer.fetch_proof(&author, 4_042, Duration::from_millis(500))?;
    xaeroflux::verify_event(&proof.event(), proof.proof(), proof.head())?;
    println!(
        "restarted offline (opened in {opened:.1} ms): listings {:?} read from the reads kept ({}), #4042 proved",
        kept.seqs(),
        kept.from_cache()
    );
    Ok(())
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
