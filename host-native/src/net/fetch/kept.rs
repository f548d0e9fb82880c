//! Reads on demand kept on disk: every answer the fetch cache holds is also written to
//! `net.fetched/` in the store directory, one file per answer, and read back when sync starts,
//! so that a restarted node answers reads it made before with no peer, offline too.
//!
//! The files are a cache, not part of the store: written without `fdatasync` (a crash may lose
//! the last ones), dropped with the answers the cache drops, and never trusted. Each is
//! verified again when read back, as a peer's answer is (the signed heads, every event, the
//! range proofs: [`VerifiedRange::decode_kept`]); a file that does not verify, a forked
//! author's, or one the cache's budget has no room for is deleted. Layout in
//! `docs/storage.md`, "Reads on demand kept".
//!
//! The writes and deletions run in order on one thread (`xaeroflux-kept`), so that a read
//! returns without waiting for the disk; the thread ends, after its last job, when sync stops.

use std::fs;
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::SystemTime;

use xaeroflux_core::head::SIGNED_HEAD_LEN;
use xaeroflux_core::xsp::{FetchCache, KeptRangeError, VerifiedRange};
use xaeroflux_core::{AuthorId, SignedHead, hex};

use super::FetchedEvents;
use crate::net::ticket::PeerId;

/// The directory in the store that holds them.
pub(crate) const KEPT_DIR: &str = "net.fetched";
const MAGIC: [u8; 4] = *b"XFKR";
const VERSION: u8 = 1;
/// Magic, version, three zero bytes, the peer, the head, start, len, skip.
const HEADER_LEN: usize = 4 + 1 + 3 + 32 + SIGNED_HEAD_LEN + 8 + 8 + 8;
/// The header and its checksum (the first 8 bytes of its BLAKE3 hash: the peer and the
/// numbers are not covered by the signatures and proofs that verify the rest).
const FIXED_LEN: usize = HEADER_LEN + 8;

fn header_checksum(header: &[u8]) -> [u8; 8] {
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&blake3::hash(header).as_bytes()[..8]);
    sum
}

/// Why a kept file was refused (and deleted).
#[derive(Debug)]
pub(crate) enum KeptFileError {
    /// Not a kept read of this version, or its numbers do not fit its answers.
    Malformed(&'static str),
    /// The head does not decode or verify.
    Head(xaeroflux_core::head::HeadError),
    /// An answer does not verify.
    Range(KeptRangeError),
}

impl std::fmt::Display for KeptFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeptFileError::Malformed(what) => write!(f, "malformed kept read: {what}"),
            KeptFileError::Head(e) => write!(f, "kept read's head: {e}"),
            KeptFileError::Range(e) => write!(f, "{e}"),
        }
    }
}

/// What the thread is asked to do, in order.
pub(crate) enum KeptJob {
    /// Write the answer for `author`'s seqs.
    Write(AuthorId, FetchedEvents),
    /// Delete the answer for `author`'s seqs (dropped from the cache: least recently used,
    /// covered by a wider one, a forked author's, or cleared).
    Remove(AuthorId, Range<u64>),
}

impl FetchedEvents {
    /// The file's bytes (layout in the module docs).
    fn encode_kept(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED_LEN + self.byte_len() + 1024 * self.blocks.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[VERSION, 0, 0, 0]);
        out.extend_from_slice(&self.peer.0);
        out.extend_from_slice(&self.head.encode());
        for n in [self.start, self.len, self.skip] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        let sum = header_checksum(&out);
        out.extend_from_slice(&sum);
        VerifiedRange::encode_kept_list(&self.blocks, &mut out);
        out
    }

    /// Reads a file written by [`FetchedEvents::encode_kept`], verifying every answer in it
    /// again; marked as [`FetchedEvents::from_cache`].
    fn decode_kept(bytes: &[u8]) -> Result<FetchedEvents, KeptFileError> {
        use KeptFileError::Malformed;
        let fixed = bytes.get(..FIXED_LEN).ok_or(Malformed("shorter than its header"))?;
        if fixed[..4] != MAGIC || fixed[4] != VERSION || fixed[5..8] != [0, 0, 0] {
            return Err(Malformed("not a kept read of version 1"));
        }
        if fixed[HEADER_LEN..] != header_checksum(&fixed[..HEADER_LEN]) {
            return Err(Malformed("its header's checksum does not match"));
        }
        let mut peer = [0u8; 32];
        peer.copy_from_slice(&fixed[8..40]);
        let head = SignedHead::decode(&fixed[40..40 + SIGNED_HEAD_LEN]).map_err(KeptFileError::Head)?;
        head.verify().map_err(KeptFileError::Head)?;
        let at = 40 + SIGNED_HEAD_LEN;
        let word = |i: usize| u64::from_le_bytes(fixed[at + 8 * i..at + 8 * i + 8].try_into().unwrap_or([0xFF; 8]));
        let (start, len, skip) = (word(0), word(1), word(2));
        let blocks = VerifiedRange::decode_kept_list(&bytes[FIXED_LEN..]).map_err(KeptFileError::Range)?;
        if !VerifiedRange::are_one_read(&head, &blocks) {
            return Err(Malformed("the answers are not one run of the head's feed"));
        }
        let (first, end) = match (blocks.first(), blocks.last()) {
            (Some(f), Some(l)) => (f.start, l.seqs().end),
            _ => return Err(Malformed("no answer")),
        };
        let shown = first.checked_add(skip).zip(start.checked_add(len));
        if len == 0 || shown.is_none_or(|(s, e)| s != start || e > end) {
            return Err(Malformed("the events shown are not within the answers"));
        }
        Ok(FetchedEvents { peer: PeerId(peer), head, start, len, blocks: Arc::new(blocks), skip, cached: true })
    }
}

/// The directory of kept reads of one store.
#[derive(Clone)]
pub(crate) struct KeptReads {
    dir: PathBuf,
}

/// What [`KeptReads::load`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Loaded {
    /// Answers read back into the cache.
    pub(crate) kept: usize,
    /// Files deleted: refused, a forked author's, or beyond the cache's budget.
    pub(crate) dropped: usize,
}

impl KeptReads {
    pub(crate) fn new(store: &Path) -> Self {
        KeptReads { dir: store.join(KEPT_DIR) }
    }

    fn file(&self, author: &AuthorId, seqs: &Range<u64>) -> PathBuf {
        self.dir.join(format!("{}.{}-{}", hex::encode(&author.0), seqs.start, seqs.end))
    }

    /// Reads every kept answer back into `cache` (the oldest written first, so the least
    /// recently kept are dropped first), verifying each; deletes what it refuses, the answers
    /// of authors `forked` names, and what the cache's budget has no room for.
    pub(crate) fn load(&self, cache: &mut FetchCache<FetchedEvents>, forked: impl Fn(&AuthorId) -> bool) -> Loaded {
        let mut loaded = Loaded::default();
        let Ok(dir) = fs::read_dir(&self.dir) else { return loaded };
        let mut files: Vec<(SystemTime, PathBuf)> = dir
            .filter_map(Result::ok)
            .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH), e.path()))
            .collect();
        files.sort();
        for (_, path) in files {
            let got = fs::read(&path).ok().and_then(|b| FetchedEvents::decode_kept(&b).ok());
            let named = got.as_ref().is_some_and(|g| path == self.file(&g.head.author, &g.seqs()));
            let Some(got) = got.filter(|g| named && !forked(&g.head.author)) else {
                let _ = fs::remove_file(&path);
                loaded.dropped += 1;
                continue;
            };
            let author = got.head.author;
            let (seqs, bytes) = (got.seqs(), got.byte_len());
            let inserted = cache.insert(author, seqs, bytes, got);
            for (a, s) in &inserted.dropped {
                let _ = fs::remove_file(self.file(a, s));
                loaded.kept = loaded.kept.saturating_sub(1);
                loaded.dropped += 1;
            }
            if inserted.kept {
                loaded.kept += 1;
            } else {
                let _ = fs::remove_file(&path);
                loaded.dropped += 1;
            }
        }
        loaded
    }

    /// Deletes every kept answer's file (and temporary file) in the directory, with sync not
    /// running (no thread writes them). Returns how many answers' files were deleted; other
    /// names are left alone.
    pub(crate) fn remove_all(&self) -> io::Result<usize> {
        let dir = match fs::read_dir(&self.dir) {
            Ok(dir) => dir,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in dir {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let (answer, tmp) = match name.strip_suffix(".tmp") {
                Some(answer) => (answer, true),
                None => (name, false),
            };
            if is_kept_name(answer) {
                fs::remove_file(entry.path())?;
                removed += usize::from(!tmp);
            }
        }
        Ok(removed)
    }

    /// Does one job. Failures are ignored: the files are a cache.
    fn run(&self, job: KeptJob) {
        match job {
            KeptJob::Write(author, got) => {
                let _ = self.write(&self.file(&author, &got.seqs()), &got.encode_kept());
            }
            KeptJob::Remove(author, seqs) => {
                let _ = fs::remove_file(self.file(&author, &seqs));
            }
        }
    }

    /// Writes `bytes` to `path` through a temporary file renamed over it (a reader never sees
    /// half a file; a crash leaves at worst a temporary file, refused and deleted at the next
    /// load, or a torn one, refused likewise).
    fn write(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        drop(f);
        fs::rename(&tmp, path)
    }

    /// Starts the thread that does the jobs sent to `jobs`, in order, until every sender is
    /// dropped.
    pub(crate) fn spawn(self, jobs: Receiver<KeptJob>) -> io::Result<JoinHandle<()>> {
        std::thread::Builder::new().name("xaeroflux-kept".into()).spawn(move || {
            for job in jobs {
                self.run(job);
            }
        })
    }
}

/// Whether `name` is a kept answer's file name, `<author hex>.<start>-<end>`.
fn is_kept_name(name: &str) -> bool {
    let Some((author, seqs)) = name.split_once('.') else { return false };
    let Some((start, end)) = seqs.split_once('-') else { return false };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    author.len() == 64 && author.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) && digits(start) && digits(end)
}

/// The fuzz target `kept_read_decode` (`crate::net::fuzzing::kept_read`): a kept read from
/// arbitrary bytes, and (to reach the checks behind the header's checksum and the signatures)
/// a valid one tampered with by the input, read as (position, xor) byte triples: no panic,
/// and every file accepted re-encodes to its bytes and proves each event it shows against
/// the head of the answer it came in.
pub(crate) fn fuzz_kept_file(data: &[u8]) {
    let check = |bytes: &[u8]| {
        let Ok(got) = FetchedEvents::decode_kept(bytes) else { return };
        assert_eq!(got.encode_kept(), bytes, "an accepted kept read re-encodes to its bytes");
        for (ev, seq) in got.iter().zip(got.seqs()) {
            assert_eq!((ev.author(), ev.seq()), (got.head.author, seq));
            let proved = got.prove(seq).expect("an event shown is provable");
            crate::verify_event(&proved.event(), proved.proof(), proved.head()).expect("its proof verifies");
        }
    };
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode & 1 == 0 {
        return check(rest);
    }
    static VALID: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let mut kept = VALID.get_or_init(valid_file).clone();
    for edit in rest.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % kept.len();
        kept[at] ^= edit[2];
    }
    check(&kept);
}

/// A kept read of events 2..14 of a 16-event feed, in two answers, showing 4..12.
fn valid_file() -> Vec<u8> {
    use xaeroflux_core::AuthorKey;
    use xaeroflux_core::memstore::{MemStore, NewEvent};
    use xaeroflux_core::page::PageConfig;
    let key = AuthorKey::from_secret_bytes(&[12; 32]);
    let author = key.author();
    let Ok(page) = PageConfig::new(4096) else { return Vec::new() };
    let mut feed = MemStore::new(key, page);
    let bodies: Vec<Vec<u8>> = (0..16u8).map(|i| vec![i; usize::from(i) * 2]).collect();
    let (Ok(_), Some(head)) = (feed.append_batch(bodies.iter().map(|b| NewEvent::new(1, b))), feed.local_head()) else {
        return Vec::new();
    };
    let (Ok(first), Ok(second)) = (feed.verified_range(&author, 2..9), feed.verified_range(&author, 9..14)) else {
        return Vec::new();
    };
    let blocks = Arc::new(vec![first, second]);
    FetchedEvents { peer: PeerId([5; 32]), head, start: 4, len: 8, blocks, skip: 2, cached: false }.encode_kept()
}

#[cfg(test)]
mod tests;
