//! End-to-end test of the `xf` sync commands on 127.0.0.1: `serve` prints a ticket and
//! serves; `sync` fetches everything and exits; `watch --for` prints events as JSON lines;
//! `serve` stops cleanly on SIGTERM; `status` asks a running `serve` from another process;
//! bad tickets are one-line errors; `fetch` reads a feed, proves an event of it and checks an
//! older head against it, without storing it; `follow` and `sync --only-followed` keep only the feeds followed.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn xf(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xf"))
        .env_remove("XF_STORE")
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run xf")
}

fn ok_json(store: &Path, args: &[&str]) -> Vec<Value> {
    let out = xf(store, args);
    assert!(out.status.success(), "xf {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

type Lines = std::io::Lines<BufReader<std::process::ChildStdout>>;

/// `xf serve --json` on `store` in `space`: the child, the rest of its output, and the ticket
/// it printed first.
fn serve(store: &Path, space: &str) -> (std::process::Child, Lines, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xf"))
        .env_remove("XF_STORE")
        .arg("--store")
        .arg(store)
        .args(["--json", "serve", "--space", space, "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["event"], "ticket");
    let ticket = first["ticket"].as_str().unwrap().to_string();
    (child, lines, ticket)
}

#[test]
fn serve_sync_watch_and_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok_json(&a, &["--json", "init"]);
    ok_json(&b, &["--json", "init"]);
    ok_json(&a, &["--json", "append", "one", "two", "three"]);
    let author = ok_json(&a, &["--json", "head"])[0]["author"].as_str().unwrap().to_string();
    let b_author = ok_json(&b, &["--json", "head"])[0]["author"].as_str().unwrap().to_string();

    let (mut serve, lines, ticket) = serve(&a, "cli test");
    assert!(ticket.starts_with("xfs1"));

    let done = ok_json(&b, &["--json", "sync", &ticket, "--bind", "127.0.0.1:0", "--timeout", "60"]);
    assert_eq!(done[0]["synced"], true);
    assert_eq!(done[0]["received"], 3);
    assert!(done[0]["bytes"].as_u64().is_some_and(|b| b > 0), "{done:?}");
    let log = ok_json(&b, &["--json", "log", "--author", &author]);
    let payloads: Vec<_> = log.iter().map(|e| e["payload"].as_str().unwrap()).collect();
    assert_eq!(payloads, ["one", "two", "three"]);

    // B appends; `watch` on B pushes it to A, and prints what happens as JSON lines.
    ok_json(&b, &["--json", "append", "four"]);
    let events = ok_json(&b, &["--json", "watch", "--ticket", &ticket, "--bind", "127.0.0.1:0", "--for", "2"]);
    let kinds: Vec<_> = events.iter().map(|e| e["event"].as_str().unwrap_or("").to_string()).collect();
    assert!(kinds.iter().any(|k| k == "connected"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "synced"), "{kinds:?}");

    // `xf status` from another process: A's serve answers on its status socket.
    let status = ok_json(&a, &["--json", "status"]);
    assert_eq!((status[0]["running"].as_bool(), status[0]["command"].as_str()), (Some(true), Some("serve")));
    assert_eq!(status[0]["pid"].as_u64(), Some(u64::from(serve.id())), "{status:?}");
    assert_eq!((status[0]["events"].as_u64(), status[0]["feeds"].as_u64()), (Some(4), Some(2)), "{status:?}");
    assert_eq!(status[0]["spaces"].as_array().map(Vec::len), Some(1), "{status:?}");
    let text = String::from_utf8_lossy(&xf(&a, &["status"]).stdout).to_string();
    assert!(text.starts_with("xf serve running (pid "), "{text}");

    // `xf backup` while A's serve holds the store: the serve makes it, and says so.
    let copy = dir.path().join("a-copy");
    let out = xf(&a, &["backup", copy.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("backed up 4 events of 2 feeds"), "{text}");
    assert!(text.contains(&format!("by the xf command running on the store (pid {})", serve.id())), "{text}");
    let out = xf(&a, &["backup", copy.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("exists") && err.contains("running on the store") && err.lines().count() == 1, "{err}");
    let out = xf(&a, &["backup", "--update", copy.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("updated a backup of 4 events with 0 events of 2 feeds"), "{text}");
    // A relative destination is this process's, not the serve's.
    let out = Command::new(env!("CARGO_BIN_EXE_xf"))
        .current_dir(dir.path())
        .args(["--store", a.to_str().unwrap(), "--json", "backup", "relative-copy"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["events"].as_u64(), report["feeds"].as_u64()), (Some(4), Some(2)), "{report}");
    assert!(dir.path().join("relative-copy").join("XAEROFLUX").exists());
    // `xf archive` likewise, and the archive restores as a store holding both feeds.
    let archive = dir.path().join("a.xfa");
    let out = xf(&a, &["archive", archive.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("archived 4 events of 2 feeds"), "{text}");
    assert!(text.contains(&format!("by the xf command running on the store (pid {})", serve.id())), "{text}");
    let out = xf(&a, &["archive", archive.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exists") && err.contains("running on the store") && err.lines().count() == 1, "{err}");
    let restored = dir.path().join("restored");
    assert!(xf(&restored, &["restore", archive.to_str().unwrap()]).status.success());
    // Sealed with a password, by the serve too.
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret").unwrap();
    let sealed = dir.path().join("sealed.xfa");
    let written =
        ok_json(&a, &["--json", "archive", "--password-file", pw.to_str().unwrap(), sealed.to_str().unwrap()]);
    assert_eq!((written[0]["sealed"].as_bool(), written[0]["events"].as_u64()), (Some(true), Some(4)), "{written:?}");
    let unsealed = dir.path().join("unsealed");
    assert!(!xf(&unsealed, &["restore", sealed.to_str().unwrap()]).status.success());
    let back =
        ok_json(&unsealed, &["--json", "restore", "--password-file", pw.to_str().unwrap(), sealed.to_str().unwrap()]);
    assert_eq!(back[0]["author"], written[0]["author"]);

    // A's serve printed that it received B's event.
    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    let status = serve.wait().unwrap();
    assert!(status.success(), "serve stops cleanly on SIGTERM: {status}");
    let printed: Vec<Value> = lines.map_while(Result::ok).filter_map(|l| serde_json::from_str(&l).ok()).collect();
    assert!(printed.iter().any(|e| e["event"] == "received" && e["to"] == 1), "{printed:?}");
    let log = ok_json(&a, &["--json", "log"]);
    assert!(log.iter().any(|e| e["payload"] == "four"), "A stored B's event");
    // The backups hold what A held: both feeds, with their roots.
    for copy in [&copy, &dir.path().join("relative-copy"), &restored] {
        for who in [None, Some(b_author.as_str())] {
            let args: Vec<&str> =
                ["--json", "root"].into_iter().chain(who.map(|w| ["--author", w]).into_iter().flatten()).collect();
            assert_eq!(ok_json(copy, &args), ok_json(&a, &args));
        }
    }
    // Stopped: no status socket left, and `xf status` says none runs.
    assert!(!a.join("xf.sock").exists());
    let status = ok_json(&a, &["--json", "status"]);
    assert_eq!((status[0]["running"].as_bool(), status[0]["events"].as_u64()), (Some(false), Some(4)), "{status:?}");
    // A socket file left by a killed process answers no one: none runs either.
    std::fs::write(a.join("xf.sock"), b"").unwrap();
    assert_eq!(ok_json(&a, &["--json", "status"])[0]["running"], false);

    // A bad ticket is a one-line error.
    let out = xf(&b, &["sync", "xfs1notaticket"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("xf: error: bad ticket") && err.trim_end().lines().count() == 1, "{err}");
}

#[test]
fn fetch_follow_and_only_followed_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok_json(&a, &["--json", "init"]);
    ok_json(&b, &["--json", "init"]);
    let words: Vec<String> = (0..50).map(|i| format!("post {i}")).collect();
    // The head after 20 events, kept by a reader to check the feed against later.
    let old_head = dir.path().join("head-20.hex");
    for (part, keep) in [(&words[..20], Some(&old_head)), (&words[20..], None)] {
        let mut args = vec!["--json", "append"];
        args.extend(part.iter().map(String::as_str));
        ok_json(&a, &args);
        if let Some(path) = keep {
            ok_json(&a, &["--json", "head", "-o", path.to_str().unwrap()]);
        }
    }
    let author = ok_json(&a, &["--json", "head"])[0]["author"].as_str().unwrap().to_string();
    let (mut serve, _lines, ticket) = serve(&a, "cli fetch");

    // The three latest events, verified, printed, not stored.
    let got = ok_json(&b, &["--json", "fetch", &ticket, "--author", &author, "--latest", "3", "--bind", "127.0.0.1:0"]);
    let payloads: Vec<_> = got.iter().filter_map(|e| e["payload"].as_str()).collect();
    assert_eq!(payloads, ["post 47", "post 48", "post 49"]);
    let summary = got.last().unwrap();
    assert_eq!(
        (summary["fetched"].as_u64(), summary["from"].as_u64(), summary["to"].as_u64()),
        (Some(3), Some(47), Some(50))
    );
    assert_eq!(summary["head"]["length"], 50);
    assert_eq!(summary["head"]["author"], author.as_str());
    let got =
        ok_json(&b, &["--json", "fetch", &ticket, "--author", &author, "--seqs", "10..12", "--bind", "127.0.0.1:0"]);
    let payloads: Vec<_> = got.iter().filter_map(|e| e["payload"].as_str()).collect();
    assert_eq!(payloads, ["post 10", "post 11"]);
    // An event with its inclusion proof, as `xf prove` writes it; `xf verify` needs no store.
    let proof = dir.path().join("p.json");
    let p = proof.to_str().unwrap();
    let wrote = ok_json(
        &b,
        &["--json", "fetch", &ticket, "--author", &author, "--prove", "7", "-o", p, "--bind", "127.0.0.1:0"],
    );
    assert_eq!((wrote[0]["seq"].as_u64(), wrote[0]["leaves"].as_u64()), (Some(7), Some(50)), "{wrote:?}");
    let checked = ok_json(&dir.path().join("nowhere"), &["--json", "verify", p]);
    assert_eq!(checked[0]["valid"], true, "{checked:?}");
    assert_eq!(checked[0]["seq"], 7, "{checked:?}");
    let out = xf(&b, &["fetch", &ticket, "--author", &author, "--prove", "50", "--bind", "127.0.0.1:0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(1) && err.contains("no event #50") && err.contains("50 events"), "{err}");
    // The head seen after 20 events, checked against the feed as the node holds it now: the
    // newer head (written for the next check) with a verified consistency proof.
    let new_head = dir.path().join("head-now.hex");
    let (old_p, new_p) = (old_head.to_str().unwrap(), new_head.to_str().unwrap());
    let since = ["--json", "fetch", &ticket, "--since", old_p, "-o", new_p, "--bind", "127.0.0.1:0"];
    let checked = &ok_json(&b, &since)[0];
    assert_eq!((checked["extends"].as_bool(), checked["old"]["length"].as_u64()), (Some(true), Some(20)), "{checked}");
    assert_eq!((checked["head"]["length"].as_u64(), checked["head"]["author"].as_str()), (Some(50), Some(&*author)));
    let written = std::fs::read_to_string(&new_head).unwrap();
    assert_eq!(written.trim(), checked["head"]["encoded"].as_str().unwrap());
    let again = ok_json(&b, &["--json", "fetch", &ticket, "--since", new_p, "--bind", "127.0.0.1:0"]);
    assert_eq!((again[0]["extends"].as_bool(), again[0]["old"]["length"].as_u64()), (Some(true), Some(50)));
    let out = xf(&b, &["fetch", &ticket, "--since", "not-a-head", "--bind", "127.0.0.1:0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(1) && err.starts_with("xf: error: --since \"not-a-head\""), "{err}");
    let stats = ok_json(&b, &["--json", "stats"]);
    assert_eq!(stats[0]["events"], 0, "nothing fetched was stored: {stats:?}");

    // Only followed feeds: nothing of A's until it is followed, then all of it.
    let only = ["--json", "watch", "--ticket", &ticket, "--only-followed", "--bind", "127.0.0.1:0", "--for", "2"];
    ok_json(&b, &only);
    assert_eq!(ok_json(&b, &["--json", "stats"])[0]["events"], 0);
    let listed = ok_json(&b, &["--json", "follow", &author]);
    assert_eq!(listed[0]["followed"], serde_json::json!([author]));
    let done = ok_json(&b, &["--json", "sync", &ticket, "--only-followed", "--bind", "127.0.0.1:0", "--timeout", "60"]);
    assert_eq!(done[0]["received"], 50, "{done:?}");
    let listed = ok_json(&b, &["--json", "unfollow", &author]);
    assert_eq!(listed[0]["followed"], serde_json::json!([]));
    // A range that is not one is a one-line error.
    let out = xf(&b, &["fetch", &ticket, "--author", &author, "--seqs", "5..2"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("xf: error: bad --seqs") && err.trim_end().lines().count() == 1, "{err}");

    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    assert!(serve.wait().unwrap().success());

    // The node gone: what earlier runs read is read and proved again from the store's kept
    // reads; the latest events are not (no peer says which they are).
    let offline = ["--bind", "127.0.0.1:0", "--timeout", "1"];
    let mut args = vec!["--json", "fetch", &ticket, "--author", &author, "--seqs", "10..12"];
    args.extend(offline);
    let got = ok_json(&b, &args);
    let payloads: Vec<_> = got.iter().filter_map(|e| e["payload"].as_str()).collect();
    assert_eq!(payloads, ["post 10", "post 11"]);
    assert_eq!(got.last().unwrap()["cached"], true, "{got:?}");
    let mut args = vec!["fetch", &ticket, "--author", &author, "--prove", "48", "-o", p];
    args.extend(offline);
    let out = xf(&b, &args);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("kept from an earlier read"));
    assert_eq!(ok_json(&dir.path().join("nowhere"), &["--json", "verify", p])[0]["seq"], 48);
    let mut args = vec!["fetch", &ticket, "--author", &author, "--latest", "3"];
    args.extend(offline);
    assert_eq!(xf(&b, &args).status.code(), Some(1));
}

/// Copies a store directory (a backup restored elsewhere: the same author key).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// An author who signed two histories (a store copied, then appended to in both copies): `xf
/// fetch --since` a head of the other history exits 1 and prints the evidence, and `xf forks
/// --record` keeps what it printed.
#[test]
fn a_fork_found_by_fetch_since_is_recorded_by_forks() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, r) = (dir.path().join("x"), dir.path().join("y"), dir.path().join("r"));
    ok_json(&x, &["--json", "init"]);
    ok_json(&x, &["--json", "append", "a", "b", "c"]);
    copy_dir(&x, &y);
    ok_json(&x, &["--json", "append", "x 1", "x 2"]);
    ok_json(&y, &["--json", "append", "y 1"]);
    let other = dir.path().join("y.hex");
    let author =
        ok_json(&y, &["--json", "head", "-o", other.to_str().unwrap()])[0]["author"].as_str().unwrap().to_string();
    ok_json(&r, &["--json", "init"]);
    let (mut serve, _lines, ticket) = serve(&x, "cli fork");

    let out = xf(&r, &["--json", "fetch", &ticket, "--since", other.to_str().unwrap(), "--bind", "127.0.0.1:0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(1) && err.contains("forked") && err.trim_end().lines().count() == 1, "{err}");
    let printed: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!((printed["forked"].as_bool(), printed["old"]["length"].as_u64()), (Some(true), Some(4)), "{printed}");
    assert_eq!(printed["head"]["length"].as_u64(), Some(5));
    let evidence = dir.path().join("evidence.json");
    std::fs::write(&evidence, &out.stdout).unwrap();
    let held = ok_json(&r, &["--json", "forks", "--record", evidence.to_str().unwrap()]);
    assert_eq!(held[0]["forks"][0]["author"].as_str(), Some(&*author), "{held:?}");
    assert_eq!(held[0]["forks"][0]["evidence"], printed["evidence"]);

    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    assert!(serve.wait().unwrap().success());
}

/// `xf fetch --since` with several heads (repeated, or a file of heads): each is reported on a
/// line of its own, the newer heads are written one per line (one not checked as it was given)
/// for the next check, which reads that file back; a fork makes it exit 1 after every head
/// was checked.
#[test]
fn fetch_since_checks_many_heads_and_writes_the_newer_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, z, r) = (dir.path().join("x"), dir.path().join("y"), dir.path().join("z"), dir.path().join("r"));
    let head_file = |store: &Path, name: &str| {
        let path = dir.path().join(name);
        ok_json(store, &["--json", "head", "-o", path.to_str().unwrap()]);
        path.to_str().unwrap().to_string()
    };
    ok_json(&x, &["--json", "init"]);
    ok_json(&x, &["--json", "append", "a", "b", "c"]);
    let at_3 = head_file(&x, "x3.hex");
    copy_dir(&x, &y);
    ok_json(&x, &["--json", "append", "x 1", "x 2"]);
    ok_json(&y, &["--json", "append", "y 1"]);
    let forked = head_file(&y, "y4.hex");
    ok_json(&z, &["--json", "init"]);
    ok_json(&z, &["--json", "append", "elsewhere"]);
    let unknown = head_file(&z, "z1.hex");
    ok_json(&r, &["--json", "init"]);
    let (mut serve, _lines, ticket) = serve(&x, "cli since many");

    let heads = dir.path().join("heads.txt");
    let h = heads.to_str().unwrap();
    let mut args = vec!["--json", "fetch", &ticket, "--bind", "127.0.0.1:0", "--timeout", "3", "-o", h];
    args.extend(["--since", &at_3, "--since", &forked, "--since", &unknown]);
    let out = xf(&r, &args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(1) && err.contains("forked") && err.trim_end().lines().count() == 1, "{err}");
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!((lines[0]["extends"].as_bool(), lines[0]["head"]["length"].as_u64()), (Some(true), Some(5)));
    assert_eq!(lines[0]["written"].as_str(), Some(h));
    assert_eq!((lines[1]["forked"].as_bool(), lines[1]["old"]["length"].as_u64()), (Some(true), Some(4)));
    assert!(lines[2]["extends"].is_null() && lines[2]["error"].as_str().is_some(), "{}", lines[2]);
    let written = std::fs::read_to_string(&heads).unwrap();
    let written: Vec<&str> = written.lines().collect();
    let given = |path: &str| std::fs::read_to_string(path).unwrap().trim().to_string();
    assert_eq!(written, [lines[0]["head"]["encoded"].as_str().unwrap(), &given(&forked), &given(&unknown)]);

    // The file of heads read back: the first extends itself, the second is still a fork.
    let out = xf(&r, &["--json", "fetch", &ticket, "--bind", "127.0.0.1:0", "--timeout", "3", "--since", h]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!((lines[0]["extends"].as_bool(), lines[0]["old"]["length"].as_u64()), (Some(true), Some(5)));
    assert_eq!(lines[1]["forked"].as_bool(), Some(true));
    // Two heads that both extend: exit 0, a line each in text.
    let out = xf(&r, &["fetch", &ticket, "--bind", "127.0.0.1:0", "--since", &at_3, "--since", &at_3]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.lines().filter(|l| l.contains("extends the head given")).count(), 2, "{text}");

    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    assert!(serve.wait().unwrap().success());
}

/// A store whose socket path is longer than a Unix socket address holds (108 bytes): the
/// running command still answers `xf status` (through the directory's descriptor).
#[test]
fn status_answers_for_a_store_at_a_long_path() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("d".repeat(70)).join("e".repeat(70));
    assert!(a.join("xf.sock").as_os_str().len() > 108);
    std::fs::create_dir_all(a.parent().unwrap()).unwrap();
    ok_json(&a, &["--json", "init"]);
    ok_json(&a, &["--json", "append", "one"]);
    let (mut serve, _lines, _ticket) = serve(&a, "long path");
    let status = ok_json(&a, &["--json", "status"]);
    assert_eq!((status[0]["running"].as_bool(), status[0]["events"].as_u64()), (Some(true), Some(1)), "{status:?}");
    assert!(a.join("xf.sock").exists(), "the socket is in the store directory");
    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    assert!(serve.wait().unwrap().success());
    assert!(!a.join("xf.sock").exists(), "and removed when the command ends");
    let status = ok_json(&a, &["--json", "status"]);
    assert_eq!(status[0]["running"].as_bool(), Some(false));
}

/// `xf status` while `xf serve` starts on the same store: neither fails. Before the serve has
/// its status socket, `status` finds the store held (it waits for the socket) or free (it
/// reads the store's counts, holding it a moment, which the starting serve waits out).
#[test]
fn status_while_serve_starts_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    ok_json(&a, &["--json", "init"]);
    ok_json(&a, &["--json", "append", "one"]);
    for round in 0..4 {
        let mut serve = Command::new(env!("CARGO_BIN_EXE_xf"))
            .env_remove("XF_STORE")
            .arg("--store")
            .arg(&a)
            .args(["--json", "serve", "--space", "status race", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // At once, and again while it starts.
        for _ in 0..3 {
            let status = ok_json(&a, &["--json", "status"]);
            assert_eq!(status[0]["events"].as_u64(), Some(1), "round {round}: {status:?}");
        }
        let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        if !first.contains("\"ticket\"") {
            let _ = serve.kill();
            let mut err = String::new();
            let _ = serve.stderr.take().unwrap().read_to_string(&mut err);
            panic!("round {round}: the serve did not start: {first} {err}");
        }
        let status = ok_json(&a, &["--json", "status"]);
        assert_eq!(status[0]["running"].as_bool(), Some(true), "round {round}: {status:?}");
        unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
        // While it stops, and after.
        let status = ok_json(&a, &["--json", "status"]);
        assert_eq!(status[0]["events"].as_u64(), Some(1), "round {round}: {status:?}");
        assert!(serve.wait().unwrap().success());
    }
}

/// `--tor` in a build without the feature `tor` is a one-line error that names the feature;
/// `--tor-only` with gossip options is refused by the parser.
#[test]
#[cfg(not(feature = "tor"))]
fn tor_without_the_feature_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    ok_json(&a, &["--json", "init"]);
    let out = xf(&a, &["serve", "--tor", "--bind", "127.0.0.1:0", "--for", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("feature \"tor\"") && err.trim_end().lines().count() == 1, "{err}");
    let out = xf(&a, &["serve", "--tor-only", "--no-gossip"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A status answer does not wait for an archive the running command is writing (each
/// connection has a thread of its own): asked once the archive has sent its first progress
/// line, it comes back before the archive's last line.
#[test]
fn status_answers_while_an_archive_runs() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    {
        let core = xaeroflux::Core::open(&a).unwrap();
        let payload = [7u8; 64];
        for _ in 0..12 {
            core.append_batch((0..50_000).map(|_| &payload[..])).unwrap();
        }
    }
    let (mut serve, _lines, _ticket) = serve(&a, "busy");
    // Ask for an archive over the status socket, as `xf archive` does; its lines are read, and
    // timed, on another thread.
    let mut job = UnixStream::connect(a.join("xf.sock")).unwrap();
    let request = serde_json::json!({"archive": dir.path().join("a.xfa"), "with_key": true});
    writeln!(job, "{request}").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(job).lines() {
            let _ = tx.send((Instant::now(), line.unwrap()));
        }
    });
    let (_, first) = rx.recv().unwrap();
    assert!(first.contains("\"progress\""), "{first}");
    // The status, asked as `xf status` asks it.
    let mut ask = UnixStream::connect(a.join("xf.sock")).unwrap();
    writeln!(ask, "{{\"status\": true}}").unwrap();
    let mut answer = String::new();
    ask.read_to_string(&mut answer).unwrap();
    let answered = Instant::now();
    let status: Value = serde_json::from_str(&answer).unwrap();
    assert!(status["events"].as_u64().is_some(), "{status}");
    let (ended, last) = rx.iter().last().unwrap();
    reader.join().unwrap();
    let last: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(last["archive"]["events"].as_u64(), Some(600_000), "{last}");
    assert!(answered < ended, "the status answer came {:?} after the archive's end", answered - ended);
    eprintln!("status answered {:?} before the archive's end", ended - answered);
    // Two archives asked at once to one destination run one after the other: the first
    // writes it, the second finds it there.
    let dest = dir.path().join("b.xfa");
    let askers: Vec<_> = (0..2)
        .map(|_| {
            let mut conn = UnixStream::connect(a.join("xf.sock")).unwrap();
            writeln!(conn, "{}", serde_json::json!({"archive": dest, "with_key": true})).unwrap();
            std::thread::spawn(move || BufReader::new(conn).lines().last().unwrap().unwrap())
        })
        .collect();
    let mut lasts: Vec<Value> = askers.into_iter().map(|t| serde_json::from_str(&t.join().unwrap()).unwrap()).collect();
    lasts.sort_by_key(|v| v.get("error").is_some());
    assert_eq!(lasts[0]["archive"]["events"].as_u64(), Some(600_000), "{lasts:?}");
    assert!(lasts[1]["error"].as_str().is_some_and(|e| e.contains("exists")), "{lasts:?}");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!names.iter().any(|n| n.to_string_lossy().contains("partial")), "{names:?}");
    unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
    assert!(serve.wait().unwrap().success());
}
