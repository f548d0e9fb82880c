//! `xf status`: the sync state of the `xf serve`, `join` or `watch` running on a store, asked
//! from another process (a store is open in one process at a time).
//!
//! While it runs, such a command listens on a Unix socket in the store directory
//! ([`SOCKET`], mode 0600: only the store's owner connects) and answers each connection with
//! one JSON object, its sync status at that moment, then closes it. `xf status` connects and
//! prints it; with no command running it says so and prints what the store holds. Feature
//! `net`, Unix only.
//!
//! A client may send one request line first, within [`REQUEST_WAIT`] of connecting (JSON):
//! `{"status": true}` (what `xf status` sends; a connection that sends nothing gets the same)
//! or `{"backup": "<absolute path>", "update": bool}` (what `xf backup` sends when a command
//! holds the store): the running command backs its store up (`Core::backup_with`, or
//! `Core::update_backup_with`), writing a line
//! `{"progress": [copied, total]}` as it goes, then `{"backup": {report}}` or
//! `{"error": "<message>"}`; or `{"archive": "<absolute path>", "with_key": bool}` (what
//! `xf archive` sends; with `"password_hex": "<hex>"`, the key sealed with that password),
//! answered the same way with `{"archive": {report}}` at the end (`Core::archive_with`,
//! `Core::archive_sealed`). Each connection is answered on a thread of its own, so status
//! answers do not wait for a backup or an archive in progress; backups and archives run one at
//! a time, and a command stopping waits for the one in progress.
//!
//! A command holds the store a moment before its socket is there (starting) and after it is
//! gone or no longer answers (stopping): `xf status` then looks for the socket again, for up
//! to [`SETTLING`]. Reading what the store holds, `xf status` holds the store itself for a
//! moment; a command starting then waits for it (`store::open_waiting`).
//!
//! A Unix socket's address holds a path of at most 107 bytes. For a store whose socket path
//! is longer, both sides reach the same file through a descriptor of the store directory,
//! `/proc/self/fd/N/xf.sock` (Linux); elsewhere such a store answers no status.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xaeroflux::{Core, OpenError};

use crate::args::Cli;
use crate::error::CliError;
use crate::output::{Out, author_hex};
use crate::store::{HELD_POLL, open_existing_within};

/// The status socket's file name in the store directory.
pub const SOCKET: &str = crate::store::STATUS_SOCKET;

/// How long `xf status` waits for the status socket of a command that holds the store but
/// has none yet (it is starting, or ending).
const SETTLING: Duration = Duration::from_secs(5);

/// The longest path a Unix socket address holds (`sun_path` is 108 bytes with the NUL).
const SUN_PATH_MAX: usize = 107;

/// The path `bind` and `connect` are given for `store`'s socket, and the open directory that
/// path goes through, if it does (kept open while the path is used).
fn socket_addr_path(store: &Path) -> io::Result<(PathBuf, Option<File>)> {
    let path = store.join(SOCKET);
    if path.as_os_str().len() <= SUN_PATH_MAX || !cfg!(target_os = "linux") {
        return Ok((path, None));
    }
    use std::os::fd::AsRawFd;
    let dir = File::open(store)?;
    Ok((PathBuf::from(format!("/proc/self/fd/{}/{SOCKET}", dir.as_raw_fd())), Some(dir)))
}

/// How long `xf status` waits for the running command's answer.
const ANSWER: Duration = Duration::from_secs(5);

/// How long a running command waits for a connection's request line before it answers with
/// its status.
const REQUEST_WAIT: Duration = Duration::from_millis(200);

/// How long `xf backup` waits for the next line of a running command's backup (progress
/// comes every 65 536 events).
const BACKUP_LINE: Duration = Duration::from_secs(120);

/// The status socket of a running command; the file is removed when this is dropped.
pub struct StatusSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl StatusSocket {
    /// Listens on the store's status socket. A file left there by a command that was killed
    /// is replaced: the caller holds the store open, so no other process serves it.
    pub fn bind(store: &Path) -> io::Result<StatusSocket> {
        let path = store.join(SOCKET);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let (addr, _dir) = socket_addr_path(store)?;
        let listener = UnixListener::bind(&addr)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(StatusSocket { path, listener })
    }

    /// Answers each connection (see the module docs: the status of `command` on `core`, or a
    /// backup or an archive of `core`) until `stop` is set (looked at every 50 ms), each on a
    /// thread of its own: a status answer never waits for a backup or an archive in progress.
    /// Backups and archives run one at a time (two at one destination would share its
    /// temporary path). Returns once the answers in progress are done.
    pub fn serve(&self, command: &str, core: &Core, stop: &AtomicBool) {
        let jobs = Mutex::new(());
        std::thread::scope(|scope| {
            while !stop.load(Ordering::SeqCst) {
                match self.listener.accept() {
                    Ok((conn, _)) => {
                        let jobs = &jobs;
                        // A connection no thread can be made for is closed unanswered.
                        let _ = std::thread::Builder::new()
                            .name("xf-status".into())
                            .spawn_scoped(scope, move || answer(conn, command, core, jobs));
                    }
                    // None waiting (or a failed accept): look again shortly.
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
    }
}

/// Answers one connection: its request (a backup or an archive, after any other in progress
/// under `jobs`), or the status of `command`.
fn answer(mut conn: UnixStream, command: &str, core: &Core, jobs: &Mutex<()>) {
    // A client that does not read is dropped after a while, not waited for.
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_write_timeout(Some(ANSWER));
    let request = read_request(&conn);
    let update = request.as_ref().is_some_and(|r| r["update"] == true);
    let path = |key: &str| request.as_ref().and_then(|r| r.get(key)).and_then(Value::as_str);
    if let Some(dest) = path("backup") {
        let _turn = jobs.lock().unwrap_or_else(PoisonError::into_inner);
        answer_backup(&mut conn, core, Path::new(dest), update);
    } else if let Some(dest) = path("archive") {
        let with_key = request.as_ref().is_none_or(|r| r["with_key"] != false);
        let password = path("password_hex").map(|h| hex::decode(h).map_err(|_| ()));
        let _turn = jobs.lock().unwrap_or_else(PoisonError::into_inner);
        answer_archive(&mut conn, core, Path::new(dest), with_key, password);
    } else {
        let _ = conn.write_all(format!("{}\n", status_json(command, core)).as_bytes());
    }
}

/// The connection's request line, if it sends one within [`REQUEST_WAIT`].
fn read_request(conn: &UnixStream) -> Option<Value> {
    conn.set_read_timeout(Some(REQUEST_WAIT)).ok()?;
    let mut line = String::new();
    io::BufRead::read_line(&mut io::BufReader::new(conn).take(4096), &mut line).ok()?;
    serde_json::from_str(&line).ok()
}

/// Backs `core` up to `dest` for a client, writing its progress and result (a client gone
/// meanwhile does not stop the backup).
fn answer_backup(conn: &mut UnixStream, core: &Core, dest: &Path, update: bool) {
    let progress = |p: xaeroflux::BackupProgress| {
        let _ = conn.write_all(format!("{}\n", json!({"progress": [p.events_copied, p.events_total]})).as_bytes());
    };
    let r = if update { core.update_backup_with(dest, progress) } else { core.backup_with(dest, progress) };
    let line = match r {
        Ok(report) => json!({"backup": super::backup::report_json(&report), "pid": std::process::id()}),
        Err(e) => json!({"error": e.to_string()}),
    };
    let _ = conn.write_all(format!("{line}\n").as_bytes());
}

/// Writes an archive of `core` to `dest` for a client, as [`answer_backup`] does a backup.
/// `password`: the key sealed with it (`Err`: the request's password is not hex).
fn answer_archive(
    conn: &mut UnixStream,
    core: &Core,
    dest: &Path,
    with_key: bool,
    password: Option<Result<Vec<u8>, ()>>,
) {
    let progress = |p: xaeroflux::BackupProgress| {
        let _ = conn.write_all(format!("{}\n", json!({"progress": [p.events_copied, p.events_total]})).as_bytes());
    };
    let result = match &password {
        None => core.archive_with(dest, with_key, progress).map_err(|e| e.to_string()),
        Some(Ok(password)) => core.archive_sealed(dest, password, progress).map_err(|e| e.to_string()),
        Some(Err(())) => Err("archive refused: the request's password_hex is not hex".to_string()),
    };
    let line = match result {
        Ok(report) => json!({"archive": super::archive::report_json(&report), "pid": std::process::id()}),
        Err(e) => json!({"error": e}),
    };
    let _ = conn.write_all(format!("{line}\n").as_bytes());
}

/// Asks the command running on `store` to back it up to `dest` (absolute; `update`: bring the
/// backup there up to date), calling `progress(copied, total)` on its progress lines.
/// `Ok(None)`: no command answers on the store (none runs, or it is stopping).
pub fn request_backup(
    store: &Path,
    dest: &Path,
    update: bool,
    progress: impl FnMut(u64, u64),
) -> Result<Option<Value>, CliError> {
    let request = json!({"backup": dest.display().to_string(), "update": update});
    request_job(store, &request, "backup", progress)
}

/// Asks the command running on `store` to write an archive of it to `dest` (absolute), as
/// [`request_backup`] asks for a backup.
pub fn request_archive(
    store: &Path,
    dest: &Path,
    with_key: bool,
    password: Option<&[u8]>,
    progress: impl FnMut(u64, u64),
) -> Result<Option<Value>, CliError> {
    let mut request = json!({"archive": dest.display().to_string(), "with_key": with_key});
    if let Some(password) = password {
        request["password_hex"] = json!(crate::output::hex(password));
    }
    request_job(store, &request, "archive", progress)
}

/// Sends `request` to the command running on `store` and reads its progress lines until the
/// answer under `key` (returned whole) or an error.
fn request_job(
    store: &Path,
    request: &Value,
    key: &str,
    mut progress: impl FnMut(u64, u64),
) -> Result<Option<Value>, CliError> {
    let path = store.join(SOCKET);
    let conn = match socket_addr_path(store).and_then(|(addr, _dir)| UnixStream::connect(addr)) {
        Ok(conn) => conn,
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) => return Ok(None),
        Err(e) => return Err(CliError::io(path.display(), e)),
    };
    let request = format!("{request}\n");
    (&conn).write_all(request.as_bytes()).map_err(|e| CliError::io(path.display(), e))?;
    conn.set_read_timeout(Some(BACKUP_LINE)).map_err(|e| CliError::io(path.display(), e))?;
    for line in io::BufRead::lines(io::BufReader::new(&conn)) {
        let line = match line {
            Ok(line) => line,
            // Closed unanswered: the command is stopping.
            Err(e) if is_ended(&e) => return Ok(None),
            Err(e) => return Err(CliError::io(path.display(), e)),
        };
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| CliError::io(path.display(), io::Error::new(io::ErrorKind::InvalidData, e)))?;
        if let Some([done, total]) = v["progress"].as_array().map(Vec::as_slice) {
            progress(done.as_u64().unwrap_or(0), total.as_u64().unwrap_or(0));
        } else if let Some(message) = v["error"].as_str() {
            return Err(CliError::ServedBackup(message.to_string()));
        } else if v.get(key).is_some() {
            return Ok(Some(v));
        } else {
            // A status answer: the command runs a build that takes no backup requests.
            return Ok(None);
        }
    }
    Ok(None)
}

impl Drop for StatusSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What the running `command` answers: its process, the store's feeds, and the sync status.
fn status_json(command: &str, core: &Core) -> Value {
    let stats = core.stats();
    let mut v = json!({
        "running": true,
        "command": command,
        "pid": std::process::id(),
        "author": author_hex(&core.author()),
        "events": stats.total_events,
        "feeds": core.feeds().len(),
    });
    match core.sync_status() {
        Ok(s) => {
            let peers: Vec<Value> = s
                .peers
                .iter()
                .map(|p| {
                    json!({"space": p.space.to_string(), "peer": p.peer.to_string(), "initiator": p.initiator,
                           "connected": p.connected, "synced": p.synced, "behind": p.behind,
                           "received_events": p.received_events, "bytes_in": p.bytes_in, "bytes_out": p.bytes_out})
                })
                .collect();
            v["node"] = json!(s.node.to_string());
            v["spaces"] = json!(s.spaces.iter().map(|sp| sp.to_string()).collect::<Vec<_>>());
            v["peers"] = json!(peers);
            v["bytes_in"] = json!(s.bytes_in);
            v["bytes_out"] = json!(s.bytes_out);
            if let Some(t) = s.tor {
                v["tor"] = json!({"bootstrap_percent": t.bootstrap_percent, "ready": t.ready,
                                  "service": t.service.as_str(), "reachable": t.service.is_reachable()});
            }
        }
        Err(e) => v["sync_error"] = json!(e.to_string()),
    }
    v
}

/// `xf status`.
pub fn status(cli: &Cli, out: &mut Out) -> Result<(), CliError> {
    let path = cli.store.join(SOCKET);
    let deadline = Instant::now() + SETTLING;
    let answer = loop {
        let connected = socket_addr_path(&cli.store)
            .and_then(|(addr, _dir)| UnixStream::connect(addr))
            .and_then(|mut conn| conn.write_all(b"{\"status\":true}\n").map(|()| conn));
        match connected {
            Ok(conn) => match read_answer(conn) {
                Ok(answer) if !answer.is_empty() => break answer,
                // The connection closed unanswered: the command is stopping, and its socket
                // goes away next.
                Ok(_) if Instant::now() < deadline => std::thread::sleep(HELD_POLL),
                Err(e) if Instant::now() < deadline && is_ended(&e) => std::thread::sleep(HELD_POLL),
                Ok(_) => return Err(CliError::io(path.display(), io::ErrorKind::UnexpectedEof.into())),
                Err(e) => return Err(CliError::io(path.display(), e)),
            },
            // No command answers on the store (a file left by a killed one refuses
            // connections): what the store holds, unless another process holds it. Then a
            // command is starting or ending: its socket is looked for again.
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) => {
                match not_running(cli, out) {
                    Err(CliError::Open(_, OpenError::Locked { .. })) if Instant::now() < deadline => {
                        std::thread::sleep(HELD_POLL);
                    }
                    done => return done,
                }
            }
            Err(e) => return Err(CliError::io(path.display(), e)),
        }
    };
    let v: Value = serde_json::from_str(&answer)
        .map_err(|e| CliError::io(path.display(), io::Error::new(io::ErrorKind::InvalidData, e)))?;
    if cli.json {
        return out.json(&v);
    }
    let text = |k: &str| v[k].as_str().unwrap_or("?").to_string();
    let spaces = v["spaces"].as_array().map_or(0, Vec::len);
    out.line(format!(
        "xf {} running (pid {}), node {}, in {spaces} space(s); the store holds {} events in {} feeds",
        text("command"),
        v["pid"],
        text("node"),
        v["events"],
        v["feeds"]
    ))?;
    for p in v["peers"].as_array().into_iter().flatten() {
        let state = match (p["connected"].as_bool(), p["synced"].as_bool()) {
            (Some(true), Some(true)) => "synced".to_string(),
            (Some(true), _) => format!("{} events behind", p["behind"]),
            _ => "connecting".to_string(),
        };
        let peer = p["peer"].as_str().unwrap_or("?");
        out.line(format!("  peer {peer}: {state}, {} events received", p["received_events"]))?;
    }
    if let Some(t) = v.get("tor") {
        out.line(format!("  tor: bootstrap {} %, onion service {}", t["bootstrap_percent"], t["service"]))?;
    }
    Ok(())
}

/// Whether a failed read of an answer means the command ended meanwhile.
fn is_ended(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof)
}

/// The running command's one JSON line.
fn read_answer(mut conn: UnixStream) -> io::Result<String> {
    conn.set_read_timeout(Some(ANSWER))?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer)?;
    Ok(answer)
}

/// No command runs on the store: says so, with what the store holds.
fn not_running(cli: &Cli, out: &mut Out) -> Result<(), CliError> {
    // Not waiting: the loop in `status` looks for a starting command's socket meanwhile.
    let core = open_existing_within(&cli.store, Duration::ZERO)?;
    let (events, feeds) = (core.stats().total_events, core.feeds().len());
    if cli.json {
        return out.json(&json!({"running": false, "events": events, "feeds": feeds}));
    }
    out.line(format!(
        "no xf serve, join or watch is running on {}; it holds {events} events in {feeds} feeds",
        cli.store.display()
    ))
}
