//! `xf serve`, `join`, `sync` and `watch`: background sync in the foreground (feature `net`).
//!
//! `serve`, `join` and `watch` run until interrupted (Ctrl-C or SIGTERM; the store is closed
//! cleanly) or for `--for SECS`, printing what sync does: one line per event, or with `--json`
//! one JSON object per line. `sync` returns once this store holds everything the ticket's
//! node announced.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use xaeroflux::Core;
use xaeroflux::net::{NetConfig, Replication, SpaceId, Subscription, SyncEvent, Ticket, TorStatus};

use crate::args::{Cli, NetArgs, ServeArgs, SyncArgs, TicketArgs, WatchArgs};
use crate::commands::status::StatusSocket;
use crate::error::CliError;
use crate::output::{Out, author_hex};
use crate::store::open_waiting;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Ctrl-C and SIGTERM stop the loop (the store then closes cleanly).
fn catch_signals() {
    let handler = on_signal as extern "C" fn(libc::c_int);
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
}

/// A space named on the command line: 64 hex digits, or a name.
pub fn parse_space(s: &str) -> SpaceId {
    s.parse().unwrap_or_else(|_| SpaceId::from_name(s))
}

pub fn parse_ticket(s: &str) -> Result<Ticket, CliError> {
    s.trim().parse().map_err(|e| CliError::Ticket(s.to_string(), e))
}

/// Opens the existing store with sync running.
fn open_syncing(cli: &Cli, a: &NetArgs) -> Result<Core, CliError> {
    open_syncing_as(cli, a, a.only_followed)
}

/// Opens the existing store with sync running, keeping only followed feeds if `only_followed`.
pub fn open_syncing_as(cli: &Cli, a: &NetArgs, only_followed: bool) -> Result<Core, CliError> {
    if !cli.store.exists() {
        return Err(CliError::NoStore(cli.store.clone()));
    }
    let mut cfg = NetConfig::default().with_bind_addr(a.bind).with_port_kept(!a.fresh_port);
    if let Some(r) = &a.relay {
        cfg = cfg.with_relay_url(r.clone());
    }
    if let Some(p) = &a.tor_config {
        cfg = cfg.with_tor_config_file(p);
    }
    if only_followed {
        cfg = cfg.with_replication(Replication::Followed);
    }
    let mut backends = Vec::new();
    if !a.tor_only {
        backends.push("iroh");
        if !a.no_gossip {
            backends.push("iroh-gossip");
        }
    }
    if a.tor || a.tor_only {
        backends.push("tor");
    }
    open_waiting(&cli.store, || {
        Core::builder().with_sync_backends(&backends).with_net_config(cfg.clone()).open(&cli.store)
    })
}

fn short(bytes: &[u8; 32]) -> String {
    hex::encode(&bytes[..4])
}

/// One line (or JSON object) for an event.
fn print_event(cli: &Cli, core: &Core, ev: &SyncEvent, out: &mut Out) -> Result<(), CliError> {
    let j = match ev {
        SyncEvent::PeerConnected { space, peer } => {
            if !cli.json {
                return out.line(format!("connected   peer {} in space {}", short(&peer.0), short(&space.0)));
            }
            json!({"event": "connected", "space": space.to_string(), "peer": peer.to_string()})
        }
        SyncEvent::Received { space, peer, author, seqs } => {
            let len = core.feed_len(author);
            if !cli.json {
                return out.line(format!(
                    "received    {} events of feed {} from {} (feed now {len})",
                    seqs.end - seqs.start,
                    short(&author.0),
                    short(&peer.0)
                ));
            }
            json!({"event": "received", "space": space.to_string(), "peer": peer.to_string(),
                   "author": author_hex(author), "from": seqs.start, "to": seqs.end, "feed_len": len})
        }
        SyncEvent::Progress { space, peer, behind } => {
            if !cli.json {
                return out.line(format!("progress    {behind} events behind peer {}", short(&peer.0)));
            }
            json!({"event": "progress", "space": space.to_string(), "peer": peer.to_string(), "behind": behind})
        }
        SyncEvent::Synced { space, peer } => {
            if !cli.json {
                return out.line(format!("synced      with peer {} in space {}", short(&peer.0), short(&space.0)));
            }
            json!({"event": "synced", "space": space.to_string(), "peer": peer.to_string()})
        }
        SyncEvent::Rejected { space, peer, error } => {
            if !cli.json {
                return out.line(format!("REJECTED    peer {}: {error}", short(&peer.0)));
            }
            json!({"event": "rejected", "space": space.to_string(), "peer": peer.to_string(), "error": error.to_string()})
        }
        SyncEvent::BadAnnouncement { space, from } => {
            if !cli.json {
                return out.line(format!("REJECTED    a gossip announcement relayed by {}", short(&from.0)));
            }
            json!({"event": "bad_announcement", "space": space.to_string(), "from": from.to_string()})
        }
        SyncEvent::Fork { space, evidence } => {
            let a = evidence.author();
            if !cli.json {
                return out
                    .line(format!("FORK        author {} signed two histories: feed no longer synced", short(&a.0)));
            }
            json!({"event": "fork", "space": space.to_string(), "author": author_hex(&a)})
        }
        SyncEvent::PeerDisconnected { space, peer, code, by_peer } => {
            if !cli.json {
                let who = if *by_peer { "by the peer" } else { "here" };
                return out.line(format!("closed      peer {} ({}, {who})", short(&peer.0), code.name()));
            }
            json!({"event": "disconnected", "space": space.to_string(), "peer": peer.to_string(),
                   "code": code.0, "by_peer": by_peer})
        }
        SyncEvent::ConnectFailed { space, peer } => {
            if !cli.json {
                return out.line(format!("unreachable peer {} (retrying)", short(&peer.0)));
            }
            json!({"event": "connect_failed", "space": space.to_string(), "peer": peer.to_string()})
        }
        SyncEvent::StoreFailed { space, peer, author } => {
            if !cli.json {
                return out.line(format!("STORE FAILED for feed {} from {}", short(&author.0), short(&peer.0)));
            }
            json!({"event": "store_failed", "space": space.to_string(), "peer": peer.to_string(), "author": author_hex(author)})
        }
        SyncEvent::Lagged { missed } => {
            if !cli.json {
                return out.line(format!("(missed {missed} events)"));
            }
            json!({"event": "lagged", "missed": missed})
        }
        _ => return Ok(()),
    };
    out.json(&j)
}

/// Prints events until interrupted or `limit` passes, answering `xf status` meanwhile (as
/// `command`).
fn run_loop(
    cli: &Cli,
    command: &str,
    core: &Core,
    events: &Subscription,
    limit: Option<u64>,
    out: &mut Out,
) -> Result<(), CliError> {
    catch_signals();
    let socket = match StatusSocket::bind(&cli.store) {
        Ok(socket) => Some(socket),
        Err(e) => {
            eprintln!("xf: warning: no status socket in the store ({e}): `xf status` will not see this process");
            None
        }
    };
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        if let Some(socket) = &socket {
            scope.spawn(|| socket.serve(command, core, &done));
        }
        let printed = print_events(cli, core, events, limit, out);
        done.store(true, Ordering::SeqCst);
        printed
    })
}

/// [`run_loop`]'s printing.
fn print_events(
    cli: &Cli,
    core: &Core,
    events: &Subscription,
    limit: Option<u64>,
    out: &mut Out,
) -> Result<(), CliError> {
    let end = limit.map(|s| Instant::now() + Duration::from_secs(s));
    // The Tor state now (its first event may have come before the subscription), then each
    // change as an event.
    let mut tor_shown = None;
    if let Some(tor) = core.sync_status().map_err(CliError::Net)?.tor {
        print_tor_change(cli, tor, &mut tor_shown, out)?;
    }
    while !STOP.load(Ordering::SeqCst) && end.is_none_or(|e| Instant::now() < e) {
        if let Some(ev) = events.recv_timeout(Duration::from_millis(100)) {
            for ev in std::iter::once(ev).chain(std::iter::from_fn(|| events.try_recv())) {
                match ev {
                    SyncEvent::Tor(tor) => print_tor_change(cli, tor, &mut tor_shown, out)?,
                    ev => print_event(cli, core, &ev, out)?,
                }
            }
            out.flush()?;
        }
    }
    Ok(())
}

/// Prints the Tor client's and onion service's state `tor` if it is not the one `shown` (a
/// store on Tor takes from seconds to minutes to become reachable: this says where it is).
fn print_tor_change(cli: &Cli, tor: TorStatus, shown: &mut Option<TorStatus>, out: &mut Out) -> Result<(), CliError> {
    if shown.as_ref() == Some(&tor) {
        return Ok(());
    }
    if cli.json {
        out.json(&json!({"event": "tor", "bootstrap_percent": tor.bootstrap_percent, "ready": tor.ready,
                         "blockage": tor.blockage, "service": tor.service.as_str(),
                         "reachable": tor.service.is_reachable(), "problem": tor.service_problem}))?;
    } else {
        out.line(tor_line(&tor))?;
    }
    out.flush()?;
    *shown = Some(tor);
    Ok(())
}

/// One line of Tor state, e.g. `tor         bootstrap 100 %, onion service running`.
fn tor_line(tor: &TorStatus) -> String {
    let mut line = format!("tor         bootstrap {} %, onion service {}", tor.bootstrap_percent, tor.service.as_str());
    if let Some(b) = &tor.blockage {
        line.push_str(&format!(" (blocked: {b})"));
    }
    if let Some(p) = &tor.service_problem {
        line.push_str(&format!(" (problem: {p})"));
    }
    line
}

fn print_ticket(cli: &Cli, ticket: &Ticket, out: &mut Out) -> Result<(), CliError> {
    if cli.json {
        out.json(&json!({"event": "ticket", "ticket": ticket.to_string(), "space": ticket.space.to_string(),
                         "node": ticket.peer.to_string(), "addrs": ticket.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                         "onion": ticket.onion.map(|o| o.to_string())}))?;
    } else {
        out.line(format!("ticket for space {}:", ticket.space))?;
        out.line(ticket.to_string())?;
        if let Some(onion) = &ticket.onion {
            out.line(format!("onion service: {onion}"))?;
        }
    }
    out.flush()
}

/// `xf serve`: joins the space, prints a ticket for it, and syncs until interrupted.
pub fn serve(cli: &Cli, a: &ServeArgs, out: &mut Out) -> Result<(), CliError> {
    let core = open_syncing(cli, &a.net)?;
    let events = core.subscribe().map_err(CliError::Net)?;
    let ticket = core.ticket(parse_space(&a.space)).map_err(CliError::Net)?;
    print_ticket(cli, &ticket, out)?;
    run_loop(cli, "serve", &core, &events, a.net.duration, out)
}

/// `xf join`: joins the ticket's space through its node and syncs until interrupted.
pub fn join(cli: &Cli, a: &TicketArgs, out: &mut Out) -> Result<(), CliError> {
    let ticket = parse_ticket(&a.ticket)?;
    let core = open_syncing(cli, &a.net)?;
    let events = core.subscribe().map_err(CliError::Net)?;
    core.join_ticket(&ticket).map_err(CliError::Net)?;
    run_loop(cli, "join", &core, &events, a.net.duration, out)
}

/// `xf watch`: syncs the given spaces and tickets, printing progress, until interrupted.
pub fn watch(cli: &Cli, a: &WatchArgs, out: &mut Out) -> Result<(), CliError> {
    let tickets = a.tickets.iter().map(|t| parse_ticket(t)).collect::<Result<Vec<_>, _>>()?;
    let core = open_syncing(cli, &a.net)?;
    let events = core.subscribe().map_err(CliError::Net)?;
    for s in &a.spaces {
        core.join_space(parse_space(s)).map_err(CliError::Net)?;
    }
    for t in &tickets {
        core.join_ticket(t).map_err(CliError::Net)?;
    }
    run_loop(cli, "watch", &core, &events, a.net.duration, out)
}

/// `xf sync`: joins the ticket's space, waits until this store holds everything the ticket's
/// node announced, prints a summary and returns.
pub fn sync(cli: &Cli, a: &SyncArgs, out: &mut Out) -> Result<(), CliError> {
    let ticket = parse_ticket(&a.ticket)?;
    let core = open_syncing(cli, &a.net)?;
    let events = core.subscribe().map_err(CliError::Net)?;
    let held = |core: &Core| core.feeds().iter().map(|f| f.len).sum::<u64>();
    let before = held(&core);
    let start = Instant::now();
    core.join_ticket(&ticket).map_err(CliError::Net)?;
    let limit = Duration::from_secs(a.timeout);
    let mut last_progress = Instant::now();
    loop {
        if start.elapsed() > limit {
            return Err(CliError::SyncTimeout(a.timeout));
        }
        match events.recv_timeout(Duration::from_millis(50)) {
            Some(SyncEvent::Rejected { peer, error, .. }) if peer == ticket.peer => {
                return Err(CliError::SyncRejected(error));
            }
            _ => {}
        }
        let status = core.sync_status().map_err(CliError::Net)?;
        let done = status
            .peers
            .iter()
            .any(|p| p.peer == ticket.peer && p.space == ticket.space && p.connected && p.synced && p.behind == 0);
        if done {
            break;
        }
        if !cli.json && last_progress.elapsed() > Duration::from_millis(500) {
            let behind = status.behind(&ticket.space);
            eprintln!("xf: {} events received, {behind} behind", held(&core) - before);
            if let Some(tor) = status.tor.as_ref().filter(|t| !t.ready) {
                eprintln!("xf: {}", tor_line(tor));
            }
            last_progress = Instant::now();
        }
    }
    let received = held(&core) - before;
    let secs = start.elapsed().as_secs_f64();
    let bytes = core.sync_status().map_err(CliError::Net)?.bytes_in;
    let feeds = core.feeds();
    if cli.json {
        out.json(&json!({"synced": true, "space": ticket.space.to_string(), "peer": ticket.peer.to_string(),
                         "received": received, "bytes": bytes, "secs": secs, "feeds": feeds.iter().map(|f| json!({
                             "author": author_hex(&f.author), "len": f.len, "local": f.local})).collect::<Vec<_>>()}))?;
    } else {
        out.line(format!(
            "synced with {} in {secs:.2} s: {received} events received ({bytes} bytes)",
            short(&ticket.peer.0)
        ))?;
        for f in feeds {
            let mine = if f.local { " (yours)" } else { "" };
            out.line(format!("  feed {}  {} events{mine}", author_hex(&f.author), f.len))?;
        }
    }
    Ok(())
}
