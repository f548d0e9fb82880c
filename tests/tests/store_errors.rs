//! Opening something that is not a store, a store of a newer format, a store already open,
//! a read-only directory: each is a clear error, and no data is lost.

use std::path::Path;
use std::process::Command;

use xaeroflux::{Core, OpenError};

fn store_with(path: &Path, n: u64) -> xaeroflux::Hash {
    let core = Core::open(path).unwrap();
    let p: Vec<Vec<u8>> = (0..n).map(|i| i.to_le_bytes().to_vec()).collect();
    core.append_batch(p.iter().map(|v| v.as_slice())).unwrap();
    let root = core.mmr_root();
    core.close().unwrap();
    root
}

#[test]
fn not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"my notes").unwrap();
    let e = Core::open(dir.path()).unwrap_err();
    assert!(matches!(e, OpenError::NotAStore { .. }), "{e:?}");
    assert!(e.to_string().contains("not a xaeroflux store"), "{e}");
    assert_eq!(std::fs::read(dir.path().join("notes.txt")).unwrap(), b"my notes", "nothing touched");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let file = dir.path().join("notes.txt");
    assert!(matches!(Core::open(&file), Err(OpenError::NotAStore { .. })));

    // A marker that is not ours.
    let d2 = tempfile::tempdir().unwrap();
    std::fs::write(d2.path().join("XAEROFLUX"), b"something else entirely").unwrap();
    assert!(matches!(Core::open(d2.path()), Err(OpenError::NotAStore { .. })));
}

#[test]
fn newer_format() {
    let dir = tempfile::tempdir().unwrap();
    let root = store_with(dir.path(), 10);
    let marker = dir.path().join("XAEROFLUX");
    let orig = std::fs::read(&marker).unwrap();
    let mut b = orig.clone();
    b[8..12].copy_from_slice(&(xaeroflux::FORMAT_VERSION + 1).to_le_bytes());
    std::fs::write(&marker, &b).unwrap();
    let e = Core::open(dir.path()).unwrap_err();
    assert!(matches!(e, OpenError::NewerFormat { found, supported } if found == supported + 1), "{e:?}");
    assert!(e.to_string().contains("newer"), "{e}");
    std::fs::write(&marker, &orig).unwrap();
    let core = Core::open(dir.path()).unwrap();
    assert_eq!(core.mmr_root(), root, "no data lost");
}

#[test]
fn already_open() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(dir.path()).unwrap();
    core.append(core.new_event(b"x")).unwrap();
    let e = Core::open(dir.path()).unwrap_err();
    assert!(matches!(e, OpenError::Locked { .. }), "{e:?}");
    assert_eq!(core.feed_len(&core.author()), 1);
}

const HOLD_ENV: &str = "XF_HOLD_CHILD_STORE";

/// Child side of `an_open_waits_for_a_store_another_process_holds`: holds the store, appends,
/// says so, and closes it after a while.
#[test]
fn hold_child_entry() {
    let Ok(path) = std::env::var(HOLD_ENV) else { return };
    let core = Core::open(&path).unwrap();
    core.append(core.new_event(b"from the holder")).unwrap();
    println!("held");
    std::thread::sleep(std::time::Duration::from_millis(600));
    core.close().unwrap();
}

/// Another process holds the store for a while: an open fails at once by default, after its
/// wait with a short `with_lock_wait`, and succeeds with a long one once the holder closed,
/// seeing what it appended.
#[test]
fn an_open_waits_for_a_store_another_process_holds() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    store_with(&path, 3);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "hold_child_entry", "--nocapture", "--test-threads=1"])
        .env(HOLD_ENV, &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The harness may print "test hold_child_entry ... " on the same line.
    assert!(lines.any(|l| l.is_ok_and(|l| l.trim_end().ends_with("held"))), "the child holds the store");

    let t = Instant::now();
    assert!(matches!(Core::open(&path), Err(OpenError::Locked { .. })));
    let short = Core::builder().with_lock_wait(Duration::from_millis(100)).open(&path);
    assert!(matches!(short, Err(OpenError::Locked { .. })), "{:?}", short.err());
    assert!(t.elapsed() >= Duration::from_millis(100), "waited: {:?}", t.elapsed());
    let core = Core::builder().with_lock_wait(Duration::from_secs(30)).open(&path).unwrap();
    assert!(t.elapsed() < Duration::from_secs(20), "opened once the holder closed: {:?}", t.elapsed());
    assert_eq!(core.feed_len(&core.author()), 4, "what the holder appended is there");
    assert!(child.wait().unwrap().success());
}

#[test]
fn bad_key_file() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 3);
    let key = dir.path().join("author.key");
    let mut b = std::fs::read(&key).unwrap();
    b[20] ^= 1;
    std::fs::write(&key, &b).unwrap();
    let e = Core::open(dir.path()).unwrap_err();
    assert!(matches!(e, OpenError::BadKeyFile { .. }), "{e:?}");
}

#[cfg(unix)]
#[test]
fn key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 1);
    let mode = std::fs::metadata(dir.path().join("author.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

const RO_ENV: &str = "XF_RO_CHILD_STORE";

/// Child side of `read_only_directory` when running as root: the store directory is a
/// read-only bind mount in this process's mount namespace.
#[test]
fn read_only_child_entry() {
    let Ok(path) = std::env::var(RO_ENV) else { return };
    let e = Core::open(&path).unwrap_err();
    assert!(matches!(e, OpenError::ReadOnly { .. }), "{e:?}");
    assert!(e.to_string().contains("not writable"), "{e}");
    let e = Core::open(Path::new(&path).join("new-store")).unwrap_err();
    assert!(matches!(e, OpenError::ReadOnly { .. }), "{e:?}");
}

#[test]
fn read_only_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let root = store_with(&path, 25);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o555)).unwrap();
        let e = Core::open(&path).unwrap_err();
        assert!(matches!(e, OpenError::ReadOnly { .. }), "{e:?}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    } else {
        // Root ignores permission bits: use a read-only bind mount in a private mount namespace.
        let exe = std::env::current_exe().unwrap();
        let script = format!(
            "mount --bind -o ro '{p}' '{p}' && exec '{exe}' --exact read_only_child_entry --test-threads=1",
            p = path.display(),
            exe = exe.display()
        );
        let out = Command::new("unshare").args(["-m", "sh", "-c", &script]).env(RO_ENV, &path).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("1 passed"), "the child ran the check: {text}");
    }
    let core = Core::open(&path).unwrap();
    assert_eq!(core.mmr_root(), root, "no data lost");
    assert_eq!(core.feed_len(&core.author()), 25);
}

#[test]
fn page_size_mismatch_and_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    Core::builder().with_page_size(4096).open(dir.path()).unwrap().close().unwrap();
    let e = Core::builder().with_page_size(8192).open(dir.path()).unwrap_err();
    assert!(matches!(e, OpenError::Config(_)), "{e:?}");
    assert!(matches!(Core::builder().with_segment_pages(0).open(dir.path()), Err(OpenError::Config(_))));
    assert!(matches!(Core::builder().with_checkpoint_pages(0).open(dir.path()), Err(OpenError::Config(_))));
    let d2 = tempfile::tempdir().unwrap();
    assert!(matches!(Core::builder().with_page_size(100).open(d2.path()), Err(OpenError::Config(_))));
    assert_eq!(Core::open(dir.path()).unwrap().page_size(), 4096);
}
