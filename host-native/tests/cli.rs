//! End-to-end tests of the `xf` binary: each runs the built executable on a fresh store in a
//! temporary directory and checks its stdout, stderr and exit status.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A temporary directory with a store path in it.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env { dir: tempfile::tempdir().expect("tempdir") }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `xf --store <store> args…` with `stdin`.
    fn xf(&self, args: &[&str], stdin: &[u8]) -> Output {
        run(Some(&self.store()), args, stdin)
    }

    /// Runs it and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.xf(args, b"");
        assert_success(&out, args);
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs it with `--json` and parses the one JSON object printed.
    fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let text = self.ok(&a);
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("xf {args:?} printed no JSON ({e}): {text}"))
    }
}

fn run(store: Option<&Path>, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xf"));
    cmd.env_remove("XF_STORE").env_remove("XF_SECRET_FILE");
    if let Some(s) = store {
        cmd.arg("--store").arg(s);
    }
    let mut child =
        cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn xf");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait for xf")
}

fn assert_success(out: &Output, args: &[&str]) {
    assert!(out.status.success(), "xf {args:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
}

/// A failure must be exactly one line on stderr, with no panic and no debug dump.
fn assert_one_line_error(out: &Output, code: i32, needle: &str) -> String {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("xf: error: "), "{err:?}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    assert!(!err.contains("panicked") && !err.contains("{ "), "{err:?}");
    err
}

fn ndjson(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("NDJSON line")).collect()
}

#[test]
fn append_log_show_roundtrip() {
    let env = Env::new();
    let init = env.json(&["init"]);
    assert_eq!(init["created"], true);
    assert_eq!(init["length"], 0);
    let again = env.json(&["init"]);
    assert_eq!(again["created"], false);
    assert_eq!(again["author"], init["author"]);

    let a = env.json(&["append", "alpha", "beta"]);
    assert_eq!((a["first_seq"].as_u64(), a["count"].as_u64(), a["length"].as_u64()), (Some(0), Some(2), Some(2)));
    let out = env.xf(&["--json", "append"], b"gamma\r\ndelta\n\n  \nepsilon");
    assert_success(&out, &["append (stdin)"]);
    let b: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((b["first_seq"].as_u64(), b["count"].as_u64()), (Some(2), Some(4)), "empty lines are skipped: {b}");

    let log = ndjson(&env.ok(&["--json", "log"]));
    let texts: Vec<&str> = log.iter().map(|e| e["payload"].as_str().expect("text")).collect();
    assert_eq!(texts, ["alpha", "beta", "gamma", "delta", "  ", "epsilon"]);
    for (i, e) in log.iter().enumerate() {
        assert_eq!(e["seq"].as_u64(), Some(i as u64));
        assert_eq!(e["author"], init["author"]);
    }
    let limited = ndjson(&env.ok(&["--json", "log", "-n", "2"]));
    assert_eq!(limited.len(), 2);
    let from = ndjson(&env.ok(&["--json", "log", "--author", init["author"].as_str().expect("hex"), "--from", "3"]));
    assert_eq!(from.iter().map(|e| e["seq"].as_u64().unwrap_or(99)).collect::<Vec<_>>(), [3, 4, 5]);

    let human = env.ok(&["log"]);
    assert_eq!(human.lines().count(), 6);
    assert!(human.lines().nth(1).is_some_and(|l| l.starts_with("#1") && l.ends_with("beta")), "{human}");

    let show = env.json(&["show", "2"]);
    assert_eq!(show["payload"], "gamma");
    assert_eq!(show["leaf"], log[2]["leaf"]);
    assert!(show["encoded"].as_str().is_some_and(|h| h.len() == 2 * (56 + 5)), "{show}");
    assert_eq!(env.ok(&["show", "2", "--raw"]), "gamma");

    let file = env.path("blob.bin");
    std::fs::write(&file, [0u8, 159, 146, 150, 255]).expect("write blob");
    let c = env.json(&["append", "--file", file.to_str().expect("path")]);
    assert_eq!(c["first_seq"].as_u64(), Some(6));
    let show = env.json(&["show", "6"]);
    assert_eq!(show["payload"], Value::Null);
    assert_eq!(show["payload_hex"], "009f9296ff");
    assert!(env.ok(&["show", "6"]).contains("009f9296ff"));

    let stats = env.json(&["stats"]);
    assert_eq!(stats["events"].as_u64(), Some(7));
    assert_eq!(stats["feeds"][0]["length"].as_u64(), Some(7));
}

#[test]
fn root_head_prove_verify() {
    let env = Env::new();
    env.ok(&["init"]);
    env.ok(&["append", "one", "two", "three"]);
    let root = env.json(&["root"]);
    let head = env.json(&["head", "-o", env.path("head.hex").to_str().expect("path")]);
    assert_eq!(root["root"], head["root"]);
    assert_eq!(root["length"].as_u64(), Some(3));
    assert_eq!(head["encoded"].as_str().map(str::len), Some(2 * 137));

    let proof = env.path("p1.json");
    let p = proof.to_str().expect("path");
    env.ok(&["prove", "1", "-o", p]);
    let stdout_proof = env.ok(&["prove", "1"]);
    assert_eq!(std::fs::read_to_string(&proof).expect("proof").trim(), stdout_proof.trim());

    // No store needed to verify.
    let plain = run(None, &["verify", p], b"");
    assert_success(&plain, &["verify"]);
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(text.contains("proof VALID") && text.contains("two"), "{text}");
    let r = root["root"].as_str().expect("root");
    let v: Value = serde_json::from_slice(&run(None, &["--json", "verify", p, "--root", r], b"").stdout).expect("json");
    assert_eq!((v["valid"].as_bool(), v["seq"].as_u64(), v["payload"].as_str()), (Some(true), Some(1), Some("two")));
    let h = head["encoded"].as_str().expect("hex");
    assert_success(&run(None, &["verify", p, "--head", h], b""), &["verify --head hex"]);
    let hf = env.path("head.hex");
    assert_success(&run(None, &["verify", p, "--head", hf.to_str().expect("path")], b""), &["verify --head file"]);
    let proof_text = std::fs::read(&proof).expect("proof");
    assert_success(&run(None, &["verify", "-"], &proof_text), &["verify stdin"]);

    // A root of another length, a tampered event, a tampered head: all refused.
    env.ok(&["append", "four"]);
    let new_root = env.json(&["root"])["root"].as_str().expect("root").to_string();
    let bad = run(None, &["verify", p, "--root", &new_root], b"");
    assert_one_line_error(&bad, 1, "proof INVALID");
    let new_head = env.json(&["head"])["encoded"].as_str().expect("hex").to_string();
    assert_one_line_error(
        &run(None, &["verify", p, "--head", &new_head], b""),
        1,
        "feed of 3 events but the head is for 4",
    );

    let mut doc: Value = serde_json::from_slice(&proof_text).expect("proof json");
    let ev = doc["event"].as_str().expect("event").to_string();
    let last = ev.len() - 1;
    let flipped = format!("{}{}", &ev[..last], if &ev[last..] == "0" { "1" } else { "0" });
    doc["event"] = Value::String(flipped);
    let tampered = env.path("tampered.json");
    std::fs::write(&tampered, doc.to_string()).expect("write");
    let out = run(None, &["--json", "verify", tampered.to_str().expect("path")], b"");
    assert_one_line_error(&out, 1, "proof INVALID");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["valid"], false);

    let mut doc: Value = serde_json::from_slice(&proof_text).expect("proof json");
    let hd = doc["head"].as_str().expect("head").to_string();
    // Change the signature's last byte (to "00", or to "01" where it already was "00").
    let byte = if hd.ends_with("00") { "01" } else { "00" };
    doc["head"] = Value::String(format!("{}{}", &hd[..hd.len() - 2], byte));
    std::fs::write(&tampered, doc.to_string()).expect("write");
    assert_one_line_error(
        &run(None, &["verify", tampered.to_str().expect("path")], b""),
        1,
        "signed head is not valid",
    );

    let mut doc: Value = serde_json::from_slice(&proof_text).expect("proof json");
    doc["seq"] = Value::from(2);
    std::fs::write(&tampered, doc.to_string()).expect("write");
    assert_one_line_error(&run(None, &["verify", tampered.to_str().expect("path")], b""), 1, "disagrees");
}

#[test]
fn export_import_between_stores() {
    let a = Env::new();
    let b = Env::new();
    a.ok(&["init"]);
    b.ok(&["init"]);
    a.ok(&["append", "from a 0", "from a 1", "from a 2"]);
    let a_author = a.json(&["root"])["author"].as_str().expect("hex").to_string();
    let a_root = a.json(&["root"])["root"].as_str().expect("hex").to_string();
    let export = a.path("a.ndjson");
    a.ok(&["export", "-o", export.to_str().expect("path")]);
    let lines = ndjson(&std::fs::read_to_string(&export).expect("export"));
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["type"], "head");
    assert_eq!(lines[3]["payload"], "from a 2");

    let r = b.json(&["import", export.to_str().expect("path")]);
    assert_eq!(r["feeds"][0]["stored"].as_u64(), Some(3), "{r}");
    let r = b.json(&["import", export.to_str().expect("path")]);
    assert_eq!((r["feeds"][0]["stored"].as_u64(), r["feeds"][0]["already_present"].as_u64()), (Some(0), Some(3)));
    // B now holds A's feed, with A's root, and can prove A's events to anyone.
    let prefix = &a_author[..10];
    assert_eq!(b.json(&["root", "--author", prefix])["root"].as_str(), Some(a_root.as_str()));
    let proof = b.path("pa.json");
    b.ok(&["prove", "2", "--author", prefix, "-o", proof.to_str().expect("path")]);
    assert_success(&run(None, &["verify", proof.to_str().expect("path"), "--root", &a_root], b""), &["verify"]);
    assert_eq!(ndjson(&b.ok(&["--json", "log"])).len(), 3);

    // Payload lines become new events of B's own feed.
    let out =
        b.xf(&["import", "--batch", "2"], b"{\"payload\":\"x\"}\n\n{\"payload_hex\":\"00ff\"}\n{\"payload\":\"y\"}\n");
    assert_success(&out, &["import payloads"]);
    let mine = ndjson(&b.ok(&["--json", "log", "--author", b.json(&["root"])["author"].as_str().expect("hex")]));
    assert_eq!(mine.iter().map(|e| e["payload_hex"].as_str().unwrap_or("")).collect::<Vec<_>>(), ["78", "00ff", "79"]);

    // A tampered export is refused and changes nothing.
    let c = Env::new();
    c.ok(&["init"]);
    let mut text = std::fs::read_to_string(&export).expect("export");
    let pos = text.find("from a 1").expect("payload");
    text.replace_range(pos..pos + 8, "from A 1");
    let mut doc = ndjson(&text);
    let enc = doc[2]["encoded"].as_str().expect("hex").replace(&hex_of("from a 1"), &hex_of("from A 1"));
    doc[2]["encoded"] = Value::String(enc);
    let tampered: String = doc.iter().map(|v| format!("{v}\n")).collect();
    assert_one_line_error(&c.xf(&["import"], tampered.as_bytes()), 1, "refused");
    assert_eq!(c.json(&["stats"])["events"].as_u64(), Some(0));
    assert_one_line_error(&c.xf(&["import"], b"{\"type\":\"event\"}\n"), 1, "import line 1");
    assert_one_line_error(&c.xf(&["import"], b"not json\n"), 1, "import line 1: not JSON");
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn errors_are_one_clear_line() {
    let env = Env::new();
    assert_one_line_error(&env.xf(&["log"], b""), 1, "no store at");
    env.ok(&["init"]);
    assert_one_line_error(&env.xf(&["show", "7"], b""), 1, "no event #7");
    assert_one_line_error(&env.xf(&["prove", "0"], b""), 1, "no event #0");
    assert_one_line_error(&env.xf(&["root", "--author", "zz"], b""), 1, "not a hex author");
    assert_one_line_error(&env.xf(&["root", "--author", "abcdef"], b""), 1, "no feed in this store matches");
    let garbage = env.path("garbage");
    std::fs::write(&garbage, b"\x00\x01 not json").expect("write");
    assert_one_line_error(&run(None, &["verify", garbage.to_str().expect("path")], b""), 1, "not a proof file");
    assert_one_line_error(&run(None, &["verify", "/nonexistent/proof"], b""), 1, "/nonexistent/proof");
    assert_one_line_error(&env.xf(&["append", "--file", "/nonexistent/blob"], b""), 1, "/nonexistent/blob");
    let not_store = env.path("file-not-dir");
    std::fs::write(&not_store, b"hello").expect("write");
    assert_one_line_error(&run(Some(&not_store), &["stats"], b""), 1, "cannot open the store");
    // Usage errors are clap's: exit status 2.
    let usage = env.xf(&["show"], b"");
    assert_eq!(usage.status.code(), Some(2));
    let env_store = Command::new(env!("CARGO_BIN_EXE_xf"))
        .env("XF_STORE", env.store())
        .args(["--json", "stats"])
        .output()
        .expect("run");
    assert_success(&env_store, &["stats via XF_STORE"]);
}

/// Whether `script` (util-linux) is here to give `xf` a pseudo-terminal; says so if not.
fn script_available() -> bool {
    let here = Command::new("script").arg("--version").output().is_ok();
    if !here {
        eprintln!("`script` (util-linux) is not installed: skipped");
    }
    here
}

/// Runs `xf --store <store> <args>` (`args` quoted for the shell) on a pseudo-terminal, under
/// `script`, typing `input` at it; what the terminal showed is the output's stdout.
fn on_terminal_typing(store: &Path, args: &str, input: &str) -> Output {
    let cmd = format!("'{}' --store '{}' {args}", env!("CARGO_BIN_EXE_xf"), store.display());
    let mut child = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("type");
    child.wait_with_output().expect("script")
}

/// [`on_terminal_typing`] on the test's store, typing nothing; requires success and returns
/// what the terminal showed.
fn on_terminal(env: &Env, args: &str) -> String {
    let out = on_terminal_typing(&env.store(), args, "");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// A long import shows a progress bar when stderr is a terminal (run under `script`, which
/// gives the tool a pseudo-terminal), and none when it is not.
#[test]
fn long_import_shows_a_progress_bar_on_a_terminal() {
    if !script_available() {
        return;
    }
    let env = Env::new();
    env.ok(&["init"]);
    let input = env.path("many.ndjson");
    let lines: String = (0..20_000).map(|i| format!("{{\"payload\":\"line {i}\"}}\n")).collect();
    std::fs::write(&input, lines).expect("write input");
    let text = on_terminal(&env, &format!("import --batch 500 '{}'", input.display()));
    assert!(text.contains("importing ["), "no progress bar on the terminal: {text:?}");
    assert!(text.contains("appended 20000 new events"), "{text:?}");
    assert_eq!(env.json(&["stats"])["events"].as_u64(), Some(20_000));
    // Not a terminal: no bar, stderr stays empty.
    let out = env.xf(&["import", input.to_str().expect("path")], b"");
    assert_success(&out, &["import (pipe)"]);
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn check_backup_and_archive_show_a_progress_bar_on_a_terminal() {
    if !script_available() {
        return;
    }
    let env = Env::new();
    env.ok(&["init"]);
    let lines: String = (0..200_000).map(|i| format!("{i}\n")).collect();
    assert_success(&env.xf(&["append"], lines.as_bytes()), &["append"]);
    for (args, bar, done) in [
        ("check".to_string(), "checking [", "200000 events: ok"),
        (format!("backup '{}'", env.path("copy").display()), "backing up [", "backed up 200000 events"),
        (format!("archive '{}'", env.path("a.xfa").display()), "archiving [", "archived 200000 events"),
    ] {
        let text = on_terminal(&env, &args);
        assert!(text.contains(bar), "no progress bar on the terminal: {text:?}");
        assert!(text.contains(done), "{text:?}");
    }
    // A restore shows the check of the archive (bytes), then the events written.
    let out = on_terminal_typing(&env.path("restored"), &format!("restore '{}'", env.path("a.xfa").display()), "");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    for shown in ["checking [", " MiB", "restoring [", "restored 200000 events"] {
        assert!(text.contains(shown), "{shown:?} not in {text:?}");
    }
    // Not a terminal: no bar, stderr stays empty.
    let out = env.xf(&["backup", env.path("copy2").to_str().expect("path")], b"");
    assert_success(&out, &["backup (pipe)"]);
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `--password` reads the password at the terminal (`/dev/tty`, under `script`), twice when it
/// seals a key; without a terminal it is one clear line.
#[test]
fn a_password_typed_at_the_terminal_seals_and_unseals() {
    if !script_available() {
        return;
    }
    let env = Env::new();
    env.ok(&["init"]);
    env.ok(&["append", "mine"]);
    let typed = |store: &Path, args: &str, input: &str| {
        let out = on_terminal_typing(store, args, input);
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let file = env.path("typed.xfa");
    let (ok, text) = typed(&env.store(), &format!("archive --password '{}'", file.display()), "pass word\npass word\n");
    assert!(ok && text.contains("Again: ") && text.contains("sealed with a password"), "{text}");
    let (ok, text) =
        typed(&env.store(), &format!("archive --password '{}'", env.path("x.xfa").display()), "one\ntwo\n");
    assert!(!ok && text.contains("the two typed differ"), "{text}");
    assert!(!env.path("x.xfa").exists());
    let copy = env.path("copy");
    let (ok, text) = typed(&copy, &format!("restore --password '{}'", file.display()), "pass word\n");
    assert!(ok && text.contains("restored 1 events"), "{text}");
    // The same password from a file opens it too.
    std::fs::write(env.path("pw"), "pass word").expect("write");
    let out = run(
        Some(&env.path("c2")),
        &["restore", "--password-file", env.path("pw").to_str().expect("path"), file.to_str().expect("path")],
        b"",
    );
    assert_success(&out, &["restore --password-file"]);
    // No terminal (a new session, no controlling terminal): one line.
    let out = Command::new("setsid")
        .arg("-w")
        .arg(env!("CARGO_BIN_EXE_xf"))
        .env_remove("XF_STORE")
        .args([
            "--store",
            env.path("c3").to_str().expect("path"),
            "restore",
            "--password",
            file.to_str().expect("path"),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run setsid xf");
    assert_one_line_error(&out, 1, "--password needs a terminal");
}

#[test]
fn check_passes_a_sound_store_and_lists_a_damaged_page() {
    use std::os::unix::fs::FileExt;
    let env = Env::new();
    env.ok(&["init", "--page-size", "1024", "--segment-pages", "8"]);
    let lines: String = (0..400).map(|i| format!("event number {i} with some text\n")).collect();
    assert_success(&env.xf(&["append"], lines.as_bytes()), &["append"]);
    let text = env.ok(&["check"]);
    assert_eq!(text.trim(), format!("checked 1 feed, {} pages, 400 events: ok", text_pages(&text)));
    let report = env.json(&["check"]);
    assert_eq!((report["ok"].as_bool(), report["events"].as_u64()), (Some(true), Some(400)));

    // Flip one byte in the second page of the first segment.
    let seg = env.store().join("segments").join("00000000.seg");
    let f = std::fs::OpenOptions::new().read(true).write(true).open(&seg).expect("segment");
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, 1024 + 500).expect("read");
    f.write_all_at(&[b[0] ^ 1], 1024 + 500).expect("write");
    drop(f);
    let out = env.xf(&["check"], b"");
    assert_one_line_error(&out, 1, "the store has 1 problem");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().next().is_some_and(|l| l.starts_with("damaged page: feed ")), "{stdout}");
    assert!(stdout.trim_end().ends_with("events: DAMAGED"), "{stdout}");
    let out = env.xf(&["--json", "check"], b"");
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["ok"], false);
    assert_eq!(report["problems"][0]["kind"], "damaged_events");
    let seqs = &report["problems"][0]["seqs"];
    assert!(seqs[0].as_u64() < seqs[1].as_u64(), "{seqs}");
}

#[test]
fn backup_writes_a_store_with_the_same_feeds_and_refuses_an_existing_destination() {
    let env = Env::new();
    env.ok(&["init", "--page-size", "1024"]);
    let lines: String = (0..300).map(|i| format!("event {i}\n")).collect();
    assert_success(&env.xf(&["append"], lines.as_bytes()), &["append"]);
    let copy = env.path("copy");
    let copy_arg = copy.to_str().expect("utf-8 path");
    let text = env.ok(&["backup", copy_arg]);
    assert!(text.starts_with("backed up 300 events of 1 feed ("), "{text}");
    assert!(text.contains("checked against its signed head"), "{text}");
    // The backup is a store of the same author with the same feed and signed head.
    let root = |store: &Path| String::from_utf8(run(Some(store), &["root"], b"").stdout).expect("utf-8");
    assert_eq!(root(&copy), root(&env.store()));
    let head = |store: &Path| String::from_utf8(run(Some(store), &["head"], b"").stdout).expect("utf-8");
    assert_eq!(head(&copy), head(&env.store()));
    let out = run(Some(&copy), &["check"], b"");
    assert_success(&out, &["check"]);

    let out = env.xf(&["backup", copy_arg], b"");
    assert_one_line_error(&out, 1, "exists (a backup writes over nothing)");
    // Updated: only the new events are copied.
    env.ok(&["append", "four", "five"]);
    let text = env.ok(&["backup", "--update", copy_arg]);
    assert!(text.starts_with("updated a backup of 300 events with 2 events of 1 feed"), "{text}");
    assert_eq!(root(&copy), root(&env.store()));
    let report = env.json(&["backup", "--update", copy_arg]);
    assert_eq!((report["events"].as_u64(), report["events_before"].as_u64()), (Some(0), Some(302)));
    let out = env.xf(&["backup", "--update", env.path("nowhere").to_str().expect("utf-8 path")], b"");
    assert_one_line_error(&out, 1, "is not a backup of this store");
    let report = env.json(&["backup", env.path("copy2").to_str().expect("utf-8 path")]);
    assert_eq!(
        (report["events"].as_u64(), report["feeds"].as_u64(), report["forks"].as_u64()),
        (Some(302), Some(1), Some(0))
    );
    assert!(report["path"].as_str().is_some_and(|p| p.ends_with("copy2")), "{report}");
}

/// The page count in `xf check`'s summary line.
fn text_pages(text: &str) -> u64 {
    text.split(" pages").next().and_then(|s| s.rsplit(' ').next()).and_then(|n| n.parse().ok()).expect("a page count")
}

#[test]
fn stats_marks_a_forked_feed_and_prints_its_evidence() {
    use xaeroflux::xaeroflux_core::xsp::ForkEvidence;
    use xaeroflux::xaeroflux_core::{AuthorKey, Hash};
    let env = Env::new();
    env.ok(&["init"]);
    let key = AuthorKey::from_secret_bytes(&[3; 32]);
    let evidence =
        ForkEvidence { first: key.sign_head(2, Hash([1; 32])), second: key.sign_head(2, Hash([2; 32])), proof: None };
    {
        let core = xaeroflux::Core::builder().open(env.store()).unwrap();
        assert!(core.record_fork(&evidence).unwrap());
        core.close().unwrap();
    }
    let text = env.ok(&["stats"]);
    assert!(
        text.contains(&format!("fork       {} signed two histories", hex_of_bytes(key.author().as_bytes()))),
        "{text}"
    );
    let v = env.json(&["stats"]);
    let forks = v["forks"].as_array().expect("a forks list");
    assert_eq!(forks.len(), 1);
    let printed = forks[0]["evidence"].as_str().unwrap();
    let decoded = ForkEvidence::decode(&hex::decode(printed).unwrap()).unwrap();
    assert_eq!(decoded, evidence, "the evidence printed is the evidence recorded, checkable by anyone");
    assert!(decoded.verify().is_ok());
}

/// `xf forks --check` verifies evidence with no store; `--record` keeps it (once per author)
/// and the feed is then marked forked; the listing prints it back, checkable by anyone; what
/// proves no fork is a one-line error.
#[test]
fn forks_checks_records_and_lists_evidence() {
    use xaeroflux::xaeroflux_core::xsp::ForkEvidence;
    use xaeroflux::xaeroflux_core::{AuthorKey, Hash};
    let env = Env::new();
    env.ok(&["init"]);
    assert_eq!(env.json(&["forks"])["forks"], serde_json::json!([]));
    assert!(env.ok(&["forks"]).contains("no fork evidence held"));
    let key = AuthorKey::from_secret_bytes(&[4; 32]);
    let evidence =
        ForkEvidence { first: key.sign_head(5, Hash([1; 32])), second: key.sign_head(5, Hash([2; 32])), proof: None };
    let hex = hex_of_bytes(&evidence.encode());
    let author = hex_of_bytes(key.author().as_bytes());

    // Checked with no store at all.
    let out = run(None, &["--json", "forks", "--check", &hex], b"");
    assert_success(&out, &["forks", "--check"]);
    let checked: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((checked["valid"].as_bool(), checked["author"].as_str()), (Some(true), Some(&*author)));
    let same = ForkEvidence { second: evidence.first, ..evidence.clone() };
    let out = run(None, &["forks", "--check", &hex_of_bytes(&same.encode())], b"");
    assert_one_line_error(&out, 1, "the heads are equal");
    assert_one_line_error(&env.xf(&["forks", "--record", "beef"], b""), 1, "neither evidence in hex nor a file");

    // Recorded from a file holding a JSON object with `evidence`, as `xf fetch --since --json` prints.
    let file = env.path("evidence.json");
    std::fs::write(&file, format!("{{\"forked\": true, \"evidence\": \"{hex}\"}}\n")).unwrap();
    let text = env.ok(&["forks", "--record", file.to_str().unwrap()]);
    assert!(text.contains(&format!("recorded {author}")), "{text}");
    assert!(text.contains(&format!("{author} signed two histories: 5 events")), "{text}");
    assert!(env.ok(&["forks", "--record", &hex]).contains("already held evidence"));
    let listed = env.json(&["forks"]);
    let forks = listed["forks"].as_array().unwrap();
    assert_eq!(forks.len(), 1);
    assert_eq!(forks[0]["evidence"].as_str(), Some(&*hex));
    assert_eq!((forks[0]["first"]["length"].as_u64(), forks[0]["proof"].as_bool()), (Some(5), Some(false)));
    let stats = env.json(&["stats"]);
    assert_eq!(stats["forks"][0]["evidence"].as_str(), Some(&*hex), "stats prints the same evidence");
}

fn hex_of_bytes(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `xf secret new` makes a private secret file; `--secret-file` encrypts appends, and `log`
/// and `show` open them; without it (or with another secret) they stay sealed; an export
/// carries them sealed, and the store that imports it reads them with the secret.
#[test]
fn events_appended_with_a_secret_are_read_only_with_it() {
    let env = Env::new();
    env.ok(&["init"]);
    let key = env.path("space.key");
    let key_arg = key.to_str().expect("utf-8 path");
    let made = env.json(&["secret", "new", "-o", key_arg]);
    assert_eq!(made["key_id"].as_str().map(str::len), Some(8));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("secret file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the secret file is private");
    }
    assert_one_line_error(&env.xf(&["secret", "new", "-o", key_arg], b""), 1, "exists");

    env.ok(&["append", "in the clear"]);
    let appended = env.json(&["--secret-file", key_arg, "append", "members only", "also secret"]);
    assert_eq!(appended["encrypted"], true);

    let sealed_log = env.ok(&["log"]);
    assert!(sealed_log.contains("in the clear") && !sealed_log.contains("members only"), "{sealed_log}");
    assert_eq!(sealed_log.matches("<encrypted, key id").count(), 2, "{sealed_log}");
    let open_log = env.ok(&["--secret-file", key_arg, "log"]);
    assert!(
        open_log.contains("[encrypted] members only") && open_log.contains("[encrypted] also secret"),
        "{open_log}"
    );

    let shown = env.json(&["--secret-file", key_arg, "show", "1"]);
    assert_eq!((shown["encrypted"].as_bool(), shown["plaintext"].as_str()), (Some(true), Some("members only")));
    assert_ne!(shown["payload_hex"], hex_of("members only"));
    let raw = env.xf(&["--secret-file", key_arg, "show", "--raw", "2"], b"");
    assert_eq!(raw.stdout, b"also secret");
    // A proof of an encrypted event verifies for anyone; only a member reads the payload.
    let proof = env.path("sealed-proof.json");
    env.ok(&["prove", "1", "-o", proof.to_str().expect("utf-8 path")]);
    let verified = env.ok(&["verify", proof.to_str().expect("utf-8 path")]);
    assert!(verified.contains("proof VALID") && verified.contains("<encrypted, key id"), "{verified}");
    let verified = env.ok(&["--secret-file", key_arg, "verify", proof.to_str().expect("utf-8 path")]);
    assert!(verified.contains("[encrypted] members only"), "{verified}");

    let other = env.path("other.key");
    env.ok(&["secret", "new", "-o", other.to_str().expect("utf-8 path")]);
    let other_arg = other.to_str().expect("utf-8 path");
    let wrong = env.ok(&["--secret-file", other_arg, "log"]);
    assert_eq!(wrong.matches("<encrypted with another secret").count(), 2, "{wrong}");

    // A space that changed its secret: each event opens with the secret whose key id it
    // carries; new events are sealed with one secret only.
    env.ok(&["--secret-file", other_arg, "append", "after the change"]);
    let both = env.ok(&["--secret-file", other_arg, "--secret-file", key_arg, "log"]);
    for text in ["members only", "also secret", "after the change"] {
        assert!(both.contains(&format!("[encrypted] {text}")), "{both}");
    }
    let two = env.xf(&["--secret-file", other_arg, "--secret-file", key_arg, "append", "x"], b"");
    assert_one_line_error(&two, 1, "one --secret-file");
    let bad = env.path("bad.key");
    std::fs::write(&bad, "not a secret\n").expect("write");
    assert_one_line_error(&env.xf(&["--secret-file", bad.to_str().expect("utf-8 path"), "log"], b""), 1, "hex");

    // Exported sealed, imported verified elsewhere, read there with the secret.
    let export = env.path("feed.ndjson");
    env.ok(&["export", "-o", export.to_str().expect("utf-8 path")]);
    assert!(!std::fs::read_to_string(&export).expect("export").contains("members only"));
    let other_env = Env::new();
    other_env.ok(&["init"]);
    other_env.ok(&["import", export.to_str().expect("utf-8 path")]);
    let author = appended["author"].as_str().expect("author");
    let read = other_env.ok(&["--secret-file", key_arg, "log", "--author", author]);
    assert!(read.contains("[encrypted] members only"), "{read}");

    // New events from NDJSON payload lines are encrypted too.
    let lines = env.path("new.ndjson");
    std::fs::write(&lines, "{\"payload\": \"imported secret\"}\n").expect("write");
    env.ok(&["--secret-file", key_arg, "import", lines.to_str().expect("utf-8 path")]);
    assert!(!env.ok(&["log"]).contains("imported secret"));
    assert!(env.ok(&["--secret-file", key_arg, "log"]).contains("[encrypted] imported secret"));
}

#[test]
fn archive_and_restore_move_a_store_through_one_file() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.ok(&["init", "--page-size", "1024"]);
    let lines: String = (0..300).map(|i| format!("event {i}\n")).collect();
    assert_success(&env.xf(&["append"], lines.as_bytes()), &["append"]);
    let file = env.path("s.xfa");
    let file_arg = file.to_str().expect("utf-8 path");
    let text = env.ok(&["archive", file_arg]);
    assert!(text.starts_with("archived 300 events of 1 feed ("), "{text}");
    assert!(text.contains("with the key of author"), "{text}");
    let mode = std::fs::metadata(&file).expect("archive").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "an archive with the key is the owner's only");
    let out = env.xf(&["archive", file_arg], b"");
    assert_one_line_error(&out, 1, "exists (an archive writes over nothing)");

    // Restored: the same author, feed, head; it goes on appending.
    let copy = env.path("copy");
    let out = run(Some(&copy), &["restore", file_arg], b"");
    assert_success(&out, &["restore"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("restored 300 events of 1 feed ("), "{text}");
    assert!(text.contains("every page, signature and proof verified"), "{text}");
    let head = |store: &Path| String::from_utf8(run(Some(store), &["head"], b"").stdout).expect("utf-8");
    assert_eq!(head(&copy), head(&env.store()));
    assert_success(&run(Some(&copy), &["append", "after"], b""), &["append"]);
    assert_success(&run(Some(&copy), &["check"], b""), &["check"]);
    // Not over an existing store.
    let out = run(Some(&copy), &["restore", file_arg], b"");
    assert_one_line_error(&out, 1, "exists (a restore writes over nothing)");

    // Without the key: --json, a store of another author holding the feed as a replica.
    let public = env.path("public.xfa");
    let report = env.json(&["archive", "--no-key", public.to_str().expect("utf-8 path")]);
    assert_eq!((report["events"].as_u64(), report["author"].as_str()), (Some(300), None));
    let other = env.path("other");
    let out = run(Some(&other), &["--json", "restore", public.to_str().expect("utf-8 path")], b"");
    assert_success(&out, &["restore --json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((report["events"].as_u64(), report["feeds"].as_u64()), (Some(300), Some(1)));
    let author = env.json(&["head"])["author"].as_str().expect("author").to_string();
    let out = run(Some(&other), &["--json", "head", "--author", &author], b"");
    assert_success(&out, &["head --author"]);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).expect("json")["length"].as_u64(), Some(300));

    // The key sealed with a password (from a file, or stdin): restored only with it.
    let pw = env.path("pw.txt");
    std::fs::write(&pw, "open sesame\n").expect("write");
    let pw_arg = pw.to_str().expect("utf-8 path");
    let sealed = env.path("sealed.xfa");
    let sealed_arg = sealed.to_str().expect("utf-8 path");
    let text = env.ok(&["archive", "--password-file", pw_arg, sealed_arg]);
    assert!(text.contains("sealed with a password"), "{text}");
    let out =
        env.xf(&["archive", "--no-key", "--password-file", pw_arg, env.path("x.xfa").to_str().expect("path")], b"");
    assert_eq!(out.status.code(), Some(2), "--no-key with a password is a usage error");
    let locked = env.path("locked");
    let out = run(Some(&locked), &["restore", sealed_arg], b"");
    assert_one_line_error(&out, 1, "sealed with a password: give it with --password or --password-file FILE");
    let out = run(Some(&locked), &["restore", "--password-file", "-", sealed_arg], b"open sesame?\n");
    assert_one_line_error(&out, 1, "the password does not unseal the archive's key");
    assert!(!locked.exists());
    let out = run(Some(&locked), &["--json", "restore", "--password-file", "-", sealed_arg], b"open sesame\r\n");
    assert_success(&out, &["restore --password-file -"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((report["events"].as_u64(), report["sealed"].as_bool()), (Some(300), Some(true)));
    assert_eq!(head(&locked), head(&env.store()), "the same author and head");
    // Checked only, no store made: with or without the password.
    let nowhere = env.path("nowhere");
    let out = run(Some(&nowhere), &["restore", "--check", sealed_arg], b"");
    assert_success(&out, &["restore --check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("checked 300 events of 1 feed (") && text.contains("sealed with a password"), "{text}");
    assert!(text.contains("every page, signature and proof verified"), "{text}");
    let out = run(Some(&nowhere), &["restore", "--check", "--password-file", "-", sealed_arg], b"nope\n");
    assert_one_line_error(&out, 1, "the password does not unseal the archive's key");
    assert!(!nowhere.exists(), "a check makes no store");

    // A damaged archive: one clear line, no store made.
    let mut bytes = std::fs::read(&file).expect("archive");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(env.path("bad.xfa"), &bytes).expect("write");
    let bad = env.path("bad");
    let out = run(Some(&bad), &["restore", env.path("bad.xfa").to_str().expect("utf-8 path")], b"");
    assert_one_line_error(&out, 1, "restore refused: the archive's checksum does not match");
    assert!(!bad.exists());
    let out = run(Some(&bad), &["restore", "--check", env.path("bad.xfa").to_str().expect("utf-8 path")], b"");
    assert_one_line_error(&out, 1, "the archive's checksum does not match");
}
