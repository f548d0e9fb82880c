//! The random scenario of one seed: peers joining over time, appends, connections opened and
//! dropped mid-flight, then a settle phase over a spanning tree until every peer holds
//! every feed.

use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::{Capabilities, Config, Limits, Micros, ProofKind, RangeMode};
use xaeroflux_core::{AuthorId, AuthorKey, Hash};

use super::check;
use super::rng::Rng;
pub use super::world::Stats;
use super::world::{Request, World};

/// A random payload: mostly small, sometimes larger than a page, rarely up to 70 KB.
pub fn payload(rng: &mut Rng) -> Vec<u8> {
    let n = match rng.range(0, 100) {
        0..75 => rng.range(0, 300),
        75..94 => rng.range(300, 3000),
        94..99 => rng.range(3000, 20_000),
        _ => rng.range(20_000, 70_000),
    } as usize;
    let fill = rng.next_u64() as u8;
    let mut p = vec![fill; n];
    for (i, b) in p.iter_mut().enumerate().step_by(61) {
        *b = (i as u8) ^ fill;
    }
    p
}

/// A session configuration: a page size, live or not, and limits from roomy to tight (tight
/// windows and small frames exercise flow control and multi-frame pages).
pub fn config(rng: &mut Rng, space: [u8; 32], page_size: u32, live: bool) -> Config {
    let mut c = Config::new(space).with_live(live).with_page_size(page_size).expect("valid page size");
    if rng.chance(1, 2) {
        let limits = Limits {
            max_frame: if rng.chance(1, 2) { 256 * 1024 } else { Limits::default().max_frame },
            max_pages: rng.range(1, 9),
            max_bytes: rng.range(64 * 1024, 256 * 1024),
            max_feeds: 1024,
            max_requests: rng.range(1, 5) as u32,
        };
        c = c.with_limits(limits).expect("valid limits");
    }
    if rng.chance(1, 4) {
        // A peer that cannot take wants back: its sessions with others close instead.
        let without = Capabilities(c.capabilities().0 & !Capabilities::UNWANT.0);
        c = c.with_capabilities(without);
    }
    c.with_target_frame(rng.range(1024, 300 * 1024) as usize)
}

/// An author that is not a peer: its events were imported into some peers beforehand, each
/// holding a prefix with a head signed at its length.
struct Offline {
    author: AuthorId,
    /// The longest prefix any peer holds: what everyone must end up with.
    truth: u64,
}

/// What every peer must hold at the end: `(author, length)`.
pub fn truth(world: &World, offline: &[(AuthorId, u64)]) -> Vec<(AuthorId, u64)> {
    let mut t: Vec<(AuthorId, u64)> = (0..world.peers.len())
        .map(|p| (world.author(p), world.peers[p].store.borrow().feed_len(&world.author(p))))
        .collect();
    t.extend_from_slice(offline);
    t
}

/// Runs the scenario of `seed`; `Err` describes the first failure.
pub fn run(seed: u64) -> Result<Stats, String> {
    let mut rng = Rng::new(seed);
    let mut world = World::new(rng.fork());
    let space = rng.bytes32();
    let n = rng.range(2, 6) as usize;
    let all_live = rng.chance(3, 4);
    let shared_page = 1u32 << rng.range(10, 15);
    let mixed_pages = rng.chance(1, 4);
    for p in 0..n {
        let live = all_live || rng.chance(1, 2);
        let page = if mixed_pages { 1u32 << rng.range(10, 15) } else { shared_page };
        let key = AuthorKey::from_secret_bytes(&rng.bytes32());
        let c = config(&mut rng, space, page, live);
        let pages = PageConfig::new(page).expect("valid page size");
        world.add_peer(key, pages, c);
        let _ = p;
    }
    let joined: Vec<Micros> = (0..n).map(|p| if p < 2 { 0 } else { rng.range(0, 1_500_000) }).collect();

    // Offline authors, held in part by some peers (so both sides of a session are behind
    // on different feeds).
    let mut offline = Vec::new();
    for _ in 0..rng.range(0, 4) {
        let key = AuthorKey::from_secret_bytes(&rng.bytes32());
        let mut origin = MemStore::new(key.clone(), PageConfig::new(shared_page).expect("valid"));
        let total = rng.range(1, 40);
        let payloads: Vec<Vec<u8>> = (0..total).map(|_| payload(&mut rng)).collect();
        let evs: Vec<NewEvent> = payloads.iter().enumerate().map(|(i, p)| NewEvent::new(i as u64 * 1000, p)).collect();
        origin.append_batch(evs).map_err(|e| e.to_string())?;
        let mut truth = 0;
        for p in 0..n {
            if !rng.chance(1, 2) {
                continue;
            }
            let len = rng.range(1, total + 1);
            let root: Hash = origin.peaks_at(&key.author(), len).map_err(|e| e.to_string())?.root();
            let head = key.sign_head(len, root);
            let events: Vec<_> = origin.range(&key.author(), 0..len).collect();
            world.peers[p].store.borrow_mut().import_events(&head, &events).map_err(|e| e.to_string())?;
            truth = truth.max(len);
        }
        if truth > 0 {
            offline.push(Offline { author: key.author(), truth });
        }
    }
    let offline: Vec<(AuthorId, u64)> = offline.iter().map(|o| (o.author, o.truth)).collect();

    // Feeds some peers do not fetch (a host's choice, `FeedSource::wants`): a feed a peer never
    // wanted must not grow in its store; the choice changes during the run.
    let authors: Vec<AuthorId> = (0..n).map(|p| world.author(p)).chain(offline.iter().map(|o| o.0)).collect();
    let mut never_wanted: Vec<(usize, AuthorId, u64)> = Vec::new();
    for p in 0..n {
        if rng.chance(1, 4) {
            let a = authors[rng.index(authors.len())];
            if a != world.author(p) {
                world.set_wanted(p, a, false);
                never_wanted.push((p, a, world.peers[p].store.borrow().feed_len(&a)));
            }
        }
    }

    // The eventful phase.
    let mut t: Micros = 0;
    let mut ts = 1_700_000_000_000_000u64;
    for _ in 0..rng.range(5, 40) {
        t += rng.range(0, 150_000);
        world.run_until(t);
        let up: Vec<usize> = (0..n).filter(|&p| joined[p] <= t).collect();
        match rng.range(0, 100) {
            0..41 => {
                let p = up[rng.index(up.len())];
                let payloads: Vec<Vec<u8>> = (0..rng.range(1, 7)).map(|_| payload(&mut rng)).collect();
                let evs: Vec<NewEvent> = payloads
                    .iter()
                    .map(|pl| {
                        ts += rng.range(1, 5000);
                        NewEvent::new(ts, pl).kind(rng.range(0, 3) as u16)
                    })
                    .collect();
                world.append(p, &evs);
            }
            41..45 => {
                // A feed unfollowed and followed again within about a round trip, while its
                // author may append: the want taken back (UNWANT) is wanted again before the
                // peer confirms, and must start afresh after the confirmation.
                // Most often the two peers of a connection, so that a want may be under way.
                let (p, q) = if !world.conns.is_empty() && rng.chance(3, 4) {
                    let c = &world.conns[rng.index(world.conns.len())];
                    let side = rng.index(2);
                    (c.peers[side], c.peers[1 - side])
                } else {
                    (up[rng.index(up.len())], up[rng.index(up.len())])
                };
                let a = world.author(q);
                if p != q {
                    world.set_wanted(p, a, false);
                    if rng.chance(1, 2) {
                        let evs = [NewEvent::new(ts + 1, b"while taken back")];
                        ts += 1;
                        world.append(q, &evs);
                    }
                    t += if rng.chance(1, 4) { 0 } else { rng.range(0, 40_000) };
                    world.run_until(t);
                    world.set_wanted(p, a, true);
                    never_wanted.retain(|&(r, b, _)| (r, b) != (p, a));
                }
            }
            45..80 => {
                let a = up[rng.index(up.len())];
                let b = up[rng.index(up.len())];
                // Now and then a second connection between the same two peers (both dialed).
                if a != b && (!world.connected(a, b) || rng.chance(1, 5)) {
                    let (lat, jit, chunk) = link(&mut rng);
                    world.connect(a, b, lat, jit, chunk);
                }
            }
            80..93 if !world.conns.is_empty() => {
                let id = world.conns[rng.index(world.conns.len())].id;
                world.drop_conn(id);
            }
            93..97 => {
                // A restart: connections lost, the store persisted and rebuilt (verifying
                // everything, pending heads of interrupted syncs included).
                let p = up[rng.index(up.len())];
                world.restart(p)?;
            }
            _ => {
                let p = up[rng.index(up.len())];
                let a = authors[rng.index(authors.len())];
                let wanted = rng.chance(1, 2);
                if a != world.author(p) {
                    world.set_wanted(p, a, wanted);
                    if wanted {
                        never_wanted.retain(|&(q, b, _)| (q, b) != (p, a));
                    }
                }
            }
        }
        for _ in 0..rng.range(0, 3) {
            if !world.conns.is_empty() {
                request(&mut world, &mut rng);
            }
        }
        if !world.failures.is_empty() {
            return Err(world.failures.join("\n"));
        }
    }
    t = t.max(*joined.iter().max().unwrap_or(&0));
    world.run_until(t);
    for &(p, a, len) in &never_wanted {
        let now = world.peers[p].store.borrow().feed_len(&a);
        if now != len {
            return Err(format!("peer {p} never wanted the feed of {a} but it grew from {len} to {now}"));
        }
    }
    // Every feed wanted again: the settling checks that each peer then fetches what it
    // skipped.
    for p in 0..n {
        for &a in &authors {
            if a != world.author(p) {
                world.set_wanted(p, a, true);
            }
        }
    }

    // Settle: connect a random spanning tree and run until everyone holds everything.
    let tree: Vec<(usize, usize)> = (1..n).map(|p| (rng.index(p), p)).collect();
    let want = truth(&world, &offline);
    let limit = world.now + 600_000_000;
    loop {
        for &(a, b) in &tree {
            if !world.connected(a, b) {
                let (lat, jit, chunk) = link(&mut rng);
                world.connect(a, b, lat, jit, chunk);
            }
        }
        let round = (world.now + 60_000_000).min(limit);
        if world.run_while(round, |w| check::converged(w, &want) && check::quiet(w)) {
            break;
        }
        if !world.failures.is_empty() {
            return Err(world.failures.join("\n"));
        }
        if world.now >= limit {
            return Err(format!(
                "did not converge by {}s of simulated time:\n{}",
                world.now / 1_000_000,
                check::describe(&world, &want)
            ));
        }
    }
    if !world.failures.is_empty() {
        return Err(world.failures.join("\n"));
    }
    check::final_state(&world, &want)?;
    check::requests(&world)?;
    Ok(world.stats)
}

/// A sparse read or a proof request on a random session, for a random feed its peer announced.
fn request(world: &mut World, rng: &mut Rng) {
    let i = rng.index(world.conns.len());
    let side = rng.index(2);
    let heads: Vec<_> = world.conns[i].sessions[side].remote_heads().copied().collect();
    if heads.is_empty() {
        return;
    }
    let h = heads[rng.index(heads.len())];
    let len = h.length;
    let what = match rng.range(0, 4) {
        0 => {
            let a = rng.range(0, len + 2);
            Request::Range(RangeMode::Range { start: a, end: a + rng.range(0, 40) })
        }
        1 => Request::Range(RangeMode::Latest(rng.range(0, 30))),
        2 => Request::Proof(ProofKind::Inclusion, rng.range(0, len + 1)),
        _ => Request::Proof(ProofKind::Consistency, rng.range(0, len + 2)),
    };
    world.request(i, side, &h.author, what);
}

/// Random link parameters: latency, jitter, largest chunk.
pub fn link(rng: &mut Rng) -> (Micros, Micros, usize) {
    let lat = rng.range(0, 50_000);
    let jit = if rng.chance(1, 2) { rng.range(0, 5_000) } else { 0 };
    let chunk = match rng.range(0, 4) {
        0 => rng.range(1, 16),
        1 => rng.range(16, 1024),
        _ => rng.range(1024, 65_536),
    } as usize;
    (lat, jit, chunk)
}
