//! What a finished simulation must satisfy.

use std::fmt::Write as _;

use xaeroflux_core::AuthorId;
use xaeroflux_core::memstore::{MemStore, Restore};
use xaeroflux_core::page::pack;

use xaeroflux_core::xsp::{Event, ProofKind, ProofStatus, RangeMode, VerifiedProof};

use super::world::{Request, World};

/// Whether every peer holds exactly `want` (each author's length), with a head of that
/// length.
pub fn converged(world: &World, want: &[(AuthorId, u64)]) -> bool {
    world.peers.iter().all(|p| {
        let s = p.store.borrow();
        want.iter().all(|(a, len)| s.feed_len(a) == *len && s.head(a).map_or(0, |h| h.length) == *len)
    })
}

/// Whether nothing is in flight and every open session is synced.
pub fn quiet(world: &World) -> bool {
    world
        .conns
        .iter()
        .all(|c| c.links.iter().all(|l| l.is_empty()) && c.sessions.iter().all(|s| s.is_closed() || s.is_synced()))
}

/// Who holds what, for a failure message.
pub fn describe(world: &World, want: &[(AuthorId, u64)]) -> String {
    let mut out = String::new();
    for (a, len) in want {
        let _ = write!(out, "  feed {} (want {len}):", &a.to_string()[..8]);
        for p in &world.peers {
            let s = p.store.borrow();
            let _ = write!(out, " {}/{}", s.feed_len(a), s.head(a).map_or(0, |h| h.length));
        }
        out.push('\n');
    }
    for c in &world.conns {
        let _ = writeln!(
            out,
            "  conn #{} {:?}: closed {:?} synced {:?} in flight {:?}",
            c.id,
            c.peers,
            c.sessions.each_ref().map(|s| s.is_closed()),
            c.sessions.each_ref().map(|s| s.is_synced()),
            c.links.each_ref().map(|l| l.in_flight())
        );
    }
    out
}

/// The end state: every replica of a feed is the same events, under a verified head with the
/// same root, packed into the same pages (for equal page sizes); arrival order lists every
/// event once; and a store survives a persist-and-restore round trip.
pub fn final_state(world: &World, want: &[(AuthorId, u64)]) -> Result<(), String> {
    let reference = world.peers[0].store.borrow();
    for (i, p) in world.peers.iter().enumerate() {
        let s = p.store.borrow();
        let mut total = 0;
        for (a, len) in want {
            total += len;
            if *len == 0 {
                continue;
            }
            let head = s.head(a).ok_or_else(|| format!("peer {i}: no head for {a}"))?;
            head.verify().map_err(|e| format!("peer {i}: head of {a}: {e}"))?;
            if s.root(a) != Some(head.root) || reference.head(a).map(|h| h.root) != Some(head.root) {
                return Err(format!("peer {i}: root of {a} differs"));
            }
            if !s.iter_feed(a).map(|e| e.encoded()).eq(reference.iter_feed(a).map(|e| e.encoded())) {
                return Err(format!("peer {i}: events of {a} differ"));
            }
            let cfg = s.page_config();
            let expected = pack(&cfg, s.iter_feed(a)).map_err(|e| e.to_string())?;
            for (k, img) in expected.iter().enumerate() {
                if s.page(a, k as u64).as_deref() != Some(&img[..]) {
                    return Err(format!("peer {i}: page {k} of {a} is not the packing rule's"));
                }
            }
        }
        if s.iter_events().count() as u64 != total || s.event_count() != total {
            return Err(format!("peer {i}: arrival order lists {} events, want {total}", s.iter_events().count()));
        }
    }
    // One store per run (a different one each seed) survives a persist-and-restore round trip.
    let i = (world.stats.wire_bytes % world.peers.len() as u64) as usize;
    let s = world.peers[i].store.borrow();
    let back = restore(&s).map_err(|e| format!("peer {i}: restore: {e}"))?;
    if !back.iter_events().eq(s.iter_events()) || back.feeds().ne(s.feeds()) {
        return Err(format!("peer {i}: restored store differs"));
    }
    Ok(())
}

/// Persists a store (feed states, page images, arrival runs) and rebuilds it.
pub fn restore(s: &MemStore) -> Result<MemStore, String> {
    let mut r = Restore::new(s.key().cloned(), s.page_config());
    for info in s.feeds() {
        let state = s.feed_state(&info.author).ok_or("no state")?;
        let pages: Vec<Vec<u8>> = (0..info.pages)
            .map(|k| s.page(&info.author, k).map(|p| p.into_owned()))
            .collect::<Option<_>>()
            .ok_or("missing page")?;
        r.feed(&state, pages.iter().map(|p| &p[..])).map_err(|e| e.to_string())?;
    }
    for f in s.forks() {
        r.fork(f).map_err(|e| e.to_string())?;
    }
    r.arrival(s.arrival_runs()).map_err(|e| e.to_string())?;
    Ok(r.finish())
}

/// Every answer to a request matches the feed as it ended up (the answers were verified
/// against signed heads; here they are compared with the converged stores).
pub fn requests(world: &World) -> Result<(), String> {
    let reference = world.peers[0].store.borrow();
    for seen in &world.seen {
        let id = match &seen.event {
            Event::Range(r) => r.id,
            Event::Proof(VerifiedProof::Inclusion { id, .. } | VerifiedProof::Consistency { id, .. }) => *id,
            Event::RequestFailed { id, .. } => *id,
            _ => continue,
        };
        let asked = world
            .asked
            .iter()
            .find(|a| a.conn == seen.conn && a.peer == seen.peer && a.id == id)
            .ok_or_else(|| format!("#{} peer {}: answer to unknown request {id}", seen.conn, seen.peer))?;
        let a = &asked.author;
        match (&seen.event, asked.what) {
            (Event::Range(r), Request::Range(mode)) => {
                let target = r.head.length;
                let (start, end) = match mode {
                    RangeMode::Range { start, end } => (start.min(target), end.min(target)),
                    RangeMode::Latest(n) => (target - n.min(target), target),
                };
                if r.start != start || r.events.len() as u64 > end - start || (r.events.is_empty() && end > start) {
                    return Err(format!("range answer {}+{} for {mode:?} at {target}", r.start, r.events.len()));
                }
                if !r
                    .events
                    .iter()
                    .map(|e| e.encoded())
                    .eq(reference.range(a, start..start + r.events.len() as u64).map(|e| e.encoded()))
                {
                    return Err(format!("range answer for {mode:?} differs from the feed"));
                }
            }
            (
                Event::Proof(VerifiedProof::Inclusion { seq, leaf, head, .. }),
                Request::Proof(ProofKind::Inclusion, s),
            ) => {
                if *seq != s || reference.get(a, s).map(|e| e.leaf_hash()) != Some(*leaf) || head.length <= s {
                    return Err(format!("inclusion answer for seq {s} is wrong"));
                }
            }
            (
                Event::Proof(VerifiedProof::Consistency { old_len, old_root, .. }),
                Request::Proof(ProofKind::Consistency, l),
            ) => {
                let root = reference.peaks_at(a, l).map(|p| p.root()).map_err(|e| e.to_string())?;
                if *old_len != l || *old_root != root {
                    return Err(format!("consistency answer for length {l} is wrong"));
                }
            }
            (Event::RequestFailed { status, .. }, Request::Proof(_, _)) if *status == ProofStatus::OutOfRange => {}
            (ev, what) => return Err(format!("answer {ev:?} to request {what:?}")),
        }
    }
    Ok(())
}
