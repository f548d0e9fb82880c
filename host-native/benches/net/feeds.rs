//! Many small feeds (a social space: many authors, a few events each): a store holding N
//! feeds of 10 events of 200 B serves; a fresh store joins its ticket; the time runs from
//! `join_ticket` until every event is verified and durably stored. Both stores run in this
//! process (over 127.0.0.1), so this measures the sync's handling of many feeds (one WANT
//! each, the importer's grouped commits), not two processes' CPUs.

use std::time::{Duration, Instant};

use xaeroflux_core::AuthorKey;
use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;

use crate::BoxError;
use crate::sync::open;

/// Events per feed.
pub(crate) const EVENTS: u64 = 10;
const PATIENCE: Duration = Duration::from_secs(120);

pub(crate) fn run(feeds: u32) -> Result<Duration, BoxError> {
    let (da, db) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let server = open(da.path(), None)?;
    for i in 0..feeds {
        let mut secret = [3u8; 32];
        secret[..4].copy_from_slice(&i.to_le_bytes());
        let key = AuthorKey::from_secret_bytes(&secret);
        let mut src = MemStore::new(key.clone(), PageConfig::default());
        let payload = [i as u8; 200];
        src.append_batch((0..EVENTS).map(|k| NewEvent::new(1_000 + k, &payload)))?;
        let head = src.local_head().ok_or("no head")?;
        let events: Vec<_> = src.range(&key.author(), 0..EVENTS).collect();
        server.store_verified(&head, &events)?;
    }
    let ticket = server.ticket(xaeroflux::net::SpaceId::from_name("xaeroflux bench many feeds"))?;
    let joiner = open(db.path(), None)?;
    let want = u64::from(feeds) * EVENTS;
    let start = Instant::now();
    joiner.join_ticket(&ticket)?;
    while joiner.stats().total_events < want {
        if start.elapsed() > PATIENCE {
            return Err(
                format!("many feeds: {} of {want} events after {PATIENCE:?}", joiner.stats().total_events).into()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(start.elapsed())
}
