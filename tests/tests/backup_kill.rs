//! A backup killed at random moments: a child process backs a store up and the parent kills
//! it with SIGKILL, many times. After each kill the destination is either absent or a whole
//! backup (it opens, and holds every feed of the source with its root, head and events); a
//! later backup to the same destination replaces the partial directory a kill left; the
//! source is unharmed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xaeroflux::Core;
use xaeroflux_core::EventRef;

const SRC_ENV: &str = "XF_BACKUP_CHILD_SRC";
const DEST_ENV: &str = "XF_BACKUP_CHILD_DEST";

/// Runs in the child process (selected by the environment): one backup, then "done".
#[test]
fn backup_child_entry() {
    let (Ok(src), Ok(dest)) = (std::env::var(SRC_ENV), std::env::var(DEST_ENV)) else { return };
    let core = Core::open(&src).expect("open source");
    core.backup_to(&dest).expect("backup");
    println!("done");
}

/// A closed store: a local feed of `n` events and another author's feed of `n / 4`.
fn source(dir: &Path, n: u64) -> PathBuf {
    let path = dir.join("src");
    let core = Core::builder().with_page_size(4096).with_segment_pages(64).open(&path).expect("open");
    let other = Core::builder().with_page_size(4096).open(dir.join("other")).expect("open other");
    let payloads: Vec<Vec<u8>> =
        (0..n).map(|i| format!("{i:08} {}", "x".repeat((i % 200) as usize)).into_bytes()).collect();
    for chunk in payloads.chunks(10_000) {
        core.append_batch(chunk.iter().map(Vec::as_slice)).expect("append");
    }
    other.append_batch(payloads[..(n / 4) as usize].iter().map(Vec::as_slice)).expect("append other");
    let evs: Vec<EventRef<'_>> = other.iter_feed(&other.author()).expect("feed").collect();
    core.store_verified(&other.head(), &evs).expect("import");
    core.close().expect("close");
    path
}

/// (author, len, root, head) of every feed.
fn summary(core: &Core) -> Vec<String> {
    let mut out: Vec<String> = core
        .feeds()
        .iter()
        .map(|f| format!("{} {} {:?} {:?}", f.author, f.len, f.root, core.feed_head(&f.author)))
        .collect();
    out.sort();
    out
}

fn spawn_backup(src: &Path, dest: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().expect("test executable"))
        .args(["--exact", "backup_child_entry", "--nocapture", "--test-threads", "1"])
        .env(SRC_ENV, src)
        .env(DEST_ENV, dest)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child")
}

#[test]
fn sigkill_during_a_backup_leaves_no_partial_backup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = source(dir.path(), 120_000);
    let expected = summary(&Core::open(&src).expect("open"));
    let dest = dir.path().join("backup");
    let partial = dir.path().join(".backup.backup-partial");

    // How long a whole backup takes in a child, to spread the kills over it.
    let t0 = Instant::now();
    let out = spawn_backup(&src, &dest).wait_with_output().expect("child");
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("done"));
    let whole = t0.elapsed();
    std::fs::remove_dir_all(&dest).expect("remove");

    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let (mut killed_before, mut killed_while_writing, mut complete) = (0, 0, 0);
    for _ in 0..16 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Up to a quarter past a whole backup's time, so that some kills come after it.
        let delay = Duration::from_micros(rng % (whole.as_micros() as u64 * 5 / 4 + 1));
        let mut child = spawn_backup(&src, &dest);
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        if dest.exists() {
            // Renamed into place: whole.
            let copy = Core::open(&dest).expect("a backup in place opens");
            assert_eq!(summary(&copy), expected);
            drop(copy);
            std::fs::remove_dir_all(&dest).expect("remove");
            complete += 1;
        } else {
            killed_before += 1;
            killed_while_writing += usize::from(partial.exists());
        }
    }
    eprintln!(
        "{killed_before} kills before the backup was in place ({killed_while_writing} while it was written), \
         {complete} after (whole backup {whole:?})"
    );
    assert!(killed_while_writing > 0, "no kill landed while a backup was written");

    // A backup to the same destination replaces what a kill left, and the source is intact.
    let core = Core::open(&src).expect("source opens after the kills");
    assert_eq!(summary(&core), expected);
    assert!(core.check_integrity().expect("check").is_ok());
    core.backup_to(&dest).expect("backup after the kills");
    assert!(!partial.exists());
    let copy = Core::open(&dest).expect("open backup");
    assert_eq!(summary(&copy), expected);
    assert!(copy.check_integrity().expect("check").is_ok());
}
