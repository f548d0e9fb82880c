//! The tail log (`tail.log`): what makes rewriting a page that already holds committed events
//! safe against a power cut.
//!
//! A tail page grows in place: a commit writes its new event bytes after the used ones and
//! rewrites the 64-byte header (count, used, checksum). The disk may persist those two writes
//! in either order, so a power cut could leave a header that no longer matches the bytes, and
//! the previous header would be gone. So every write into a page that holds events of an
//! earlier commit is first described by a *record* in this log — the page's location, the new
//! header and the new bytes — and the commit's `fdatasync` is the log's. The segment writes
//! themselves go to the page cache and are synced at the next checkpoint. A whole page written
//! into a fresh slot needs no record: nothing valid was there, and a torn one fails its
//! checksum (a fresh tail page may get one anyway, to spare the commit a segment `fdatasync`:
//! see `tail::write_tail`).
//!
//! Records of one *epoch* are written back to back from the start of the file, each chained to
//! the previous one by its check value. A checkpoint makes every segment durable, commits the
//! next epoch number to the index and starts the log again at offset 0. On open, the records
//! of the index's epoch are replayed, in order, up to the first one that does not verify.
//! The file is preallocated with zeros written (not `posix_fallocate`), so a commit's
//! `fdatasync` changes no metadata. Byte layout: `docs/storage.md`, "The tail log".

use std::path::Path;
use std::sync::OnceLock;

use xaeroflux_core::page::PAGE_HEADER_LEN;

use super::meta::{u32_at, u64_at};
use super::segments::SegmentIo;
use crate::error::{IoError, OpenError};

/// File name of the log in the store directory.
pub(crate) const LOG_FILE: &str = "tail.log";
/// Smallest log file (bytes).
const LOG_MIN: u64 = 4 << 20;
/// Magic bytes of a record.
const RECORD_MAGIC: [u8; 4] = *b"XFLR";
/// Record format version.
const RECORD_VERSION: u8 = 1;
/// Bytes of a record before its page bytes.
pub(crate) const FIXED_LEN: usize = 48 + PAGE_HEADER_LEN;
/// Bytes of the check value that ends a record.
const CHECK_LEN: usize = 8;
/// Unit of the log's writes: each `pwrite` covers whole blocks of this many bytes (see
/// [`TailLog::flush`]).
pub(crate) const LOG_BLOCK: u64 = 4096;

/// The BLAKE3 key of record check values.
fn check_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| blake3::derive_key("xaeroflux 2026-12 tail log record v1", &[]))
}

fn check(bytes: &[u8]) -> u64 {
    let h = blake3::keyed_hash(check_key(), bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// Size of the log file for pages of `page_size` bytes: room for many one-event records and
/// for at least four whole-page records, in whole blocks.
pub(crate) fn log_size(page_size: u32) -> u64 {
    LOG_MIN.max(4 * (u64::from(page_size) + (FIXED_LEN + CHECK_LEN) as u64)).next_multiple_of(LOG_BLOCK)
}

/// Longest record for pages of `page_size` bytes (a whole tail page rewritten).
pub(crate) fn max_record(page_size: u32) -> u64 {
    u64::from(page_size) + (FIXED_LEN + CHECK_LEN) as u64
}

/// One write into a page: the new header at the page's start, `bytes` at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageWrite<'a> {
    pub seg: u32,
    /// Byte offset of the page within its segment.
    pub page_off: u64,
    /// Byte offset within the page where `bytes` go (at least the header length).
    pub at: u32,
    pub header: [u8; PAGE_HEADER_LEN],
    pub bytes: &'a [u8],
}

/// Appends the record of `w` (in `epoch`, after the record whose check is `chain`) to `out`,
/// returning its check value.
pub(crate) fn encode(epoch: u64, chain: u64, w: &PageWrite<'_>, out: &mut Vec<u8>) -> u64 {
    let start = out.len();
    out.extend_from_slice(&RECORD_MAGIC);
    out.extend_from_slice(&[RECORD_VERSION, 0, 0, 0]);
    out.extend_from_slice(&epoch.to_le_bytes());
    out.extend_from_slice(&chain.to_le_bytes());
    out.extend_from_slice(&w.seg.to_le_bytes());
    out.extend_from_slice(&w.at.to_le_bytes());
    out.extend_from_slice(&w.page_off.to_le_bytes());
    // Pages are at most 1 MiB times a u16 span; a tail page is one page: the length fits.
    out.extend_from_slice(&u32::try_from(w.bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&w.header);
    out.extend_from_slice(w.bytes);
    let c = check(&out[start..]);
    out.extend_from_slice(&c.to_le_bytes());
    c
}

/// The records of `epoch` at the start of `log`, in order, up to the first that is not one
/// (torn, stale, another epoch, or not chained to the one before). Also returns the check value
/// of the last record taken (0 if none) and the offset after it.
pub(crate) fn scan(log: &[u8], epoch: u64, page_size: u32) -> (Vec<PageWrite<'_>>, u64, usize) {
    let mut out = Vec::new();
    let (mut pos, mut chain) = (0usize, 0u64);
    while let Some((w, c, len)) = record_at(log, pos, epoch, chain, page_size) {
        out.push(w);
        chain = c;
        pos += len;
    }
    (out, chain, pos)
}

fn record_at(log: &[u8], pos: usize, epoch: u64, chain: u64, page_size: u32) -> Option<(PageWrite<'_>, u64, usize)> {
    let r = log.get(pos..)?;
    if r.get(..4)? != RECORD_MAGIC || *r.get(4)? != RECORD_VERSION {
        return None;
    }
    if u64_at(r, 8)? != epoch || u64_at(r, 16)? != chain {
        return None;
    }
    let seg = u32_at(r, 24)?;
    let at = u32_at(r, 28)?;
    let page_off = u64_at(r, 32)?;
    let len = u32_at(r, 40)? as usize;
    if len as u64 > u64::from(page_size) || (at as usize) < PAGE_HEADER_LEN || at as usize + len > page_size as usize {
        return None;
    }
    let end = FIXED_LEN + len;
    let c = u64_at(r, end)?;
    if check(r.get(..end)?) != c {
        return None;
    }
    let header: [u8; PAGE_HEADER_LEN] = r.get(48..FIXED_LEN)?.try_into().ok()?;
    let bytes = r.get(FIXED_LEN..end)?;
    Some((PageWrite { seg, page_off, at, header, bytes }, c, end + CHECK_LEN))
}

/// The writer's end of the log: where the next record goes and what it chains to.
pub(crate) struct TailLog {
    pub epoch: u64,
    pub pos: u64,
    pub chain: u64,
    pub size: u64,
    /// Records of the commit in progress, written at its end.
    pub buf: Vec<u8>,
    /// The file's bytes from the start of the block holding `pos` up to `pos` (so
    /// `block.len() == pos % LOG_BLOCK`), written again in front of the next records.
    pub block: Vec<u8>,
    /// The write being assembled (kept for its capacity).
    pub out: Vec<u8>,
    /// Whether records were written since the last sync.
    pub unsynced: bool,
}

impl TailLog {
    /// Whether a commit may still add its (at most one) record without overflowing.
    pub(crate) fn has_room(&self, page_size: u32) -> bool {
        self.pos + self.buf.len() as u64 + max_record(page_size) <= self.size
    }

    /// Adds the record of `w` to the commit in progress.
    pub(crate) fn add(&mut self, w: &PageWrite<'_>) {
        self.chain = encode(self.epoch, self.chain, w, &mut self.buf);
    }

    /// Writes the commit's records (one `pwrite`), as whole blocks: the part of the first
    /// block before them (the same bytes again), the records, then zeros to the end of the
    /// last block. Whole aligned blocks are what lets the log bypass the page cache
    /// (`O_DIRECT`, see `logfile`); where it cannot, a write of whole blocks still never makes
    /// the kernel read a block first, and the page cache holds the log in small folios.
    ///
    /// With `sync_follows` (the commit syncs the log next, before it is acknowledged), the
    /// write may be made as late as that sync ([`SegmentIo::log_write_before_sync`]);
    /// otherwise it is made at once, so that a killed process leaves it to the page cache
    /// (group commit acknowledges written commits, and makes page writes that follow their
    /// records before the log's sync).
    pub(crate) fn flush(&mut self, io: &mut dyn SegmentIo, sync_follows: bool) -> Result<(), IoError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let start = self.pos - self.block.len() as u64;
        let end = self.pos + self.buf.len() as u64;
        let padded = end.next_multiple_of(LOG_BLOCK).min(self.size.max(end));
        self.out.clear();
        self.out.extend_from_slice(&self.block);
        self.out.extend_from_slice(&self.buf);
        let used = self.out.len();
        self.out.resize((padded - start) as usize, 0);
        if sync_follows {
            io.log_write_before_sync(start, &self.out)?;
        } else {
            io.log_write(start, &self.out)?;
        }
        let keep = (end % LOG_BLOCK) as usize;
        self.block.clear();
        self.block.extend_from_slice(&self.out[used - keep..used]);
        self.pos = end;
        self.buf.clear();
        self.unsynced = true;
        Ok(())
    }

    /// Forgets the records of a commit that failed before they were written. Records already
    /// written stay in the chain (a replay may apply them: a failed commit may or may not be
    /// present after a crash), so the next record chains to them.
    pub(crate) fn discard(&mut self, chain_before: u64) {
        if !self.buf.is_empty() {
            self.buf.clear();
            self.chain = chain_before;
        }
    }

    /// Where the records not yet written stand (their length and the chain), for
    /// [`discard_to`](Self::discard_to).
    pub(crate) fn mark(&self) -> (usize, u64) {
        (self.buf.len(), self.chain)
    }

    /// Forgets the records added since `mark`, if none was written since (as
    /// [`discard`](Self::discard) does for a whole commit): the records before it stay.
    pub(crate) fn discard_to(&mut self, mark: (usize, u64)) {
        if self.buf.len() >= mark.0 {
            self.buf.truncate(mark.0);
            self.chain = mark.1;
        }
    }

    /// After a checkpoint committed epoch `epoch + 1`: start again at the beginning.
    pub(crate) fn restart(&mut self) {
        self.epoch += 1;
        self.pos = 0;
        self.chain = 0;
        self.buf.clear();
        self.block.clear();
    }
}

/// On open: makes sure the log exists, replays the records of `epoch` into the segments
/// (then syncs them), and returns the writer's end of the log, the number of records
/// replayed (a replay must be followed by a checkpoint, which starts the next epoch) and the
/// bytes of the log read.
pub(crate) fn open_and_replay(
    dir: &Path,
    epoch: u64,
    page_size: u32,
    io: &mut dyn SegmentIo,
) -> Result<(TailLog, usize, u64), OpenError> {
    let size = log_size(page_size);
    let path = dir.join(LOG_FILE);
    let (bytes, file_len) = read_records(&path, epoch, page_size)?;
    let (records, chain, end) = scan(&bytes, epoch, page_size);
    let mut touched: Vec<u32> = Vec::new();
    for w in &records {
        let bad = |_| OpenError::Corrupt { what: "a tail log record names a page outside the segments", page: None };
        io.write_at(w.seg, w.page_off, &w.header).map_err(bad)?;
        io.write_at(w.seg, w.page_off + u64::from(w.at), w.bytes).map_err(bad)?;
        if !touched.contains(&w.seg) {
            touched.push(w.seg);
        }
    }
    for seg in touched {
        io.sync(seg)?;
    }
    if file_len < size {
        io.log_prepare(size)?;
    }
    let block = bytes.get(end - end % LOG_BLOCK as usize..end).unwrap_or_default().to_vec();
    let log = TailLog {
        epoch,
        pos: end as u64,
        chain,
        size: size.max(file_len),
        buf: Vec::new(),
        block,
        out: Vec::new(),
        unsynced: false,
    };
    Ok((log, records.len(), bytes.len() as u64))
}

/// Reads the start of the log, in growing pieces, until past the last record of `epoch` (an
/// open reads [`FIRST_READ`] bytes after a clean close, not the whole file). Returns the bytes read and the
/// file's length (0 if it is missing).
fn read_records(path: &Path, epoch: u64, page_size: u32) -> Result<(Vec<u8>, u64), OpenError> {
    use std::os::unix::fs::FileExt;
    let err = |e| OpenError::Io(IoError::new("read tail log", Some(path.to_path_buf()), e));
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(err(e)),
    };
    let len = f.metadata().map_err(err)?.len();
    let mut buf = Vec::new();
    let mut piece = FIRST_READ;
    loop {
        let start = buf.len() as u64;
        let n = piece.min(len.saturating_sub(start));
        if n == 0 {
            return Ok((buf, len));
        }
        buf.resize((start + n) as usize, 0);
        f.read_exact_at(&mut buf[start as usize..], start).map_err(err)?;
        let (_, chain, end) = scan(&buf, epoch, page_size);
        if !cut_short(&buf, end, epoch, chain) {
            return Ok((buf, len));
        }
        piece *= 2;
    }
}

/// Bytes of the log an open reads first.
pub(crate) const FIRST_READ: u64 = 4096;

/// Whether the scan of `buf` may have stopped at `end` only because `buf` ends there: what
/// follows starts like the next record of the chain but is not all in `buf`.
fn cut_short(buf: &[u8], end: usize, epoch: u64, chain: u64) -> bool {
    let Some(r) = buf.get(end..) else { return false };
    if r.len() < FIXED_LEN {
        return true;
    }
    let starts_like =
        r[..4] == RECORD_MAGIC && r[4] == RECORD_VERSION && u64_at(r, 8) == Some(epoch) && u64_at(r, 16) == Some(chain);
    let len = u32_at(r, 40).unwrap_or(0) as usize;
    starts_like && r.len() < FIXED_LEN + len + CHECK_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(bytes: &[u8], at: u32) -> PageWrite<'_> {
        PageWrite { seg: 3, page_off: 16384 * 5, at, header: [7; PAGE_HEADER_LEN], bytes }
    }

    fn log_of(epoch: u64, writes: &[PageWrite<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chain = 0;
        for x in writes {
            chain = encode(epoch, chain, x, &mut out);
        }
        out
    }

    #[test]
    fn records_round_trip_in_order() {
        let a = [1u8; 300];
        let b = [2u8; 17];
        let mut log = log_of(9, &[w(&a, 64), w(&b, 364)]);
        log.extend_from_slice(&[0; 100]);
        let (got, _, end) = scan(&log, 9, 16384);
        assert_eq!(got, vec![w(&a, 64), w(&b, 364)]);
        assert_eq!(end, 2 * (FIXED_LEN + CHECK_LEN) + 317);
    }

    #[test]
    fn another_epoch_or_a_broken_chain_ends_the_scan() {
        let a = [1u8; 30];
        let log = log_of(9, &[w(&a, 64), w(&a, 94)]);
        assert!(scan(&log, 10, 16384).0.is_empty(), "a stale epoch is not replayed");
        // The second record of another run of the same epoch: not chained to the first.
        let mut mixed = log_of(9, &[w(&[5u8; 30], 64)]);
        let other = log_of(9, &[w(&a, 64), w(&a, 94)]);
        let first_len = FIXED_LEN + CHECK_LEN + 30;
        mixed.extend_from_slice(&other[first_len..]);
        assert_eq!(scan(&mixed, 9, 16384).0.len(), 1);
    }

    #[test]
    fn every_torn_byte_ends_the_scan_at_that_record() {
        let a = [1u8; 40];
        let b = [2u8; 40];
        let log = log_of(1, &[w(&a, 64), w(&b, 104)]);
        let first_len = FIXED_LEN + CHECK_LEN + 40;
        for i in 0..log.len() {
            let mut t = log.clone();
            t[i] ^= 0x40;
            let n = scan(&t, 1, 16384).0.len();
            assert_eq!(n, usize::from(i >= first_len), "byte {i} flipped");
            // A log cut short at any byte.
            assert_eq!(scan(&log[..i], 1, 16384).0.len(), usize::from(i >= first_len));
        }
    }

    #[test]
    fn an_open_reads_what_the_records_need_and_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_FILE);
        let big = vec![3u8; 9000];
        let small = [4u8; 100];
        // Three records spanning past the first read, then stale bytes of another epoch.
        let mut log = log_of(5, &[w(&small, 64), w(&big[..5000], 164), w(&small, 5164)]);
        let used = log.len();
        log.extend_from_slice(&log_of(4, &[w(&big, 64)]));
        log.resize(1 << 20, 0);
        std::fs::write(&path, &log).unwrap();
        let (bytes, len) = read_records(&path, 5, 16384).unwrap();
        assert_eq!(len, 1 << 20);
        assert!(bytes.len() >= used && bytes.len() < 64 * 1024, "{}", bytes.len());
        assert_eq!(scan(&bytes, 5, 16384).0.len(), 3);
        // No record of the epoch: only the first piece is read.
        assert_eq!(read_records(&path, 6, 16384).unwrap().0.len() as u64, FIRST_READ);
        assert_eq!(read_records(&dir.path().join("none"), 6, 16384).unwrap(), (Vec::new(), 0));
    }

    /// A commit that fails after its record was written (a page write failing, say) leaves
    /// the record in the chain: the next commit's record must chain to it, or a replay would
    /// stop before that next, acknowledged, commit.
    #[test]
    fn a_failed_commit_keeps_a_written_record_in_the_chain() {
        use crate::store::segments::FileIo;
        let dir = tempfile::tempdir().unwrap();
        let mut io = FileIo::new(dir.path());
        let (mut log, replayed, _) = open_and_replay(dir.path(), 0, 16384, &mut io).unwrap();
        assert_eq!(replayed, 0);
        let a = [1u8; 300];
        // Commit 1 fails after its record was written.
        let before = log.chain;
        log.add(&w(&a, 64));
        log.flush(&mut io, false).unwrap();
        log.discard(before);
        // Commit 2 fails before its record was written: it is forgotten.
        let before = log.chain;
        log.add(&w(&a, 364));
        log.discard(before);
        // Commit 3 succeeds.
        log.add(&w(&a, 664));
        log.flush(&mut io, false).unwrap();
        io.log_sync().unwrap();
        let bytes = std::fs::read(dir.path().join(LOG_FILE)).unwrap();
        let (got, _, _) = scan(&bytes, 0, 16384);
        assert_eq!(got, vec![w(&a, 64), w(&a, 664)]);
    }

    /// Records `log_write` calls and passes them on.
    struct Recording {
        inner: crate::store::segments::FileIo,
        writes: Vec<(u64, usize)>,
    }

    impl SegmentIo for Recording {
        fn create(&mut self, n: u32, len: u64) -> Result<(), IoError> {
            self.inner.create(n, len)
        }
        fn write_at(&mut self, n: u32, off: u64, buf: &[u8]) -> Result<(), IoError> {
            self.inner.write_at(n, off, buf)
        }
        fn sync(&mut self, n: u32) -> Result<(), IoError> {
            self.inner.sync(n)
        }
        fn extend(&mut self, n: u32, len: u64) -> Result<(), IoError> {
            self.inner.extend(n, len)
        }
        fn log_prepare(&mut self, len: u64) -> Result<(), IoError> {
            self.inner.log_prepare(len)
        }
        fn log_write(&mut self, off: u64, buf: &[u8]) -> Result<(), IoError> {
            self.writes.push((off, buf.len()));
            self.inner.log_write(off, buf)
        }
        fn log_sync(&mut self) -> Result<(), IoError> {
            self.inner.log_sync()
        }
    }

    /// Every write of the log covers whole blocks, and the file holds the records back to
    /// back: across block boundaries, across a reopen (which picks up the partial block
    /// from what it read) and after a restart.
    #[test]
    fn the_log_is_written_in_whole_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let mut io = Recording { inner: crate::store::segments::FileIo::new(dir.path()), writes: Vec::new() };
        let (mut log, _, _) = open_and_replay(dir.path(), 0, 16384, &mut io).unwrap();
        // The records name page 5 of segment 3, which a reopen replays them into.
        std::fs::create_dir(dir.path().join("segments")).unwrap();
        io.create(3, 6 * 16384).unwrap();
        let payloads: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 37 + 131 * usize::from(i % 11)]).collect();
        let writes: Vec<PageWrite<'_>> = payloads.iter().map(|p| w(p, 64)).collect();
        for (i, x) in writes.iter().enumerate() {
            if i == 25 {
                // Reopen mid-block: the next write must carry the block's earlier bytes.
                io.log_sync().unwrap();
                io = Recording { inner: crate::store::segments::FileIo::new(dir.path()), writes: Vec::new() };
                let (reopened, replayed, _) = open_and_replay(dir.path(), 0, 16384, &mut io).unwrap();
                assert_eq!(replayed, 25);
                assert_ne!(reopened.pos % LOG_BLOCK, 0, "the test should reopen mid-block");
                log = reopened;
            }
            log.add(x);
            log.flush(&mut io, false).unwrap();
        }
        io.log_sync().unwrap();
        assert!(
            io.writes.iter().all(|&(off, len)| off.is_multiple_of(LOG_BLOCK) && (len as u64).is_multiple_of(LOG_BLOCK)),
            "{:?}",
            io.writes
        );
        let bytes = std::fs::read(dir.path().join(LOG_FILE)).unwrap();
        let expect = log_of(0, &writes);
        assert_eq!(&bytes[..expect.len()], &expect[..]);
        assert!(
            bytes[expect.len()..(expect.len() as u64).next_multiple_of(LOG_BLOCK) as usize].iter().all(|&b| b == 0)
        );
        assert_eq!(scan(&bytes, 0, 16384).0, writes);
        // After a restart the next epoch starts at 0, over the old records.
        log.restart();
        log.add(&writes[3]);
        log.flush(&mut io, false).unwrap();
        let bytes = std::fs::read(dir.path().join(LOG_FILE)).unwrap();
        assert_eq!(scan(&bytes, 1, 16384).0, vec![w(&payloads[3], 64)]);
        assert_eq!(io.writes.last(), Some(&(0, LOG_BLOCK as usize)));
    }

    proptest::proptest! {
        /// The log is read from disk: any bytes, and any damage to a valid log, give a prefix
        /// of records that fit their page, never a panic.
        #[test]
        fn scan_takes_any_bytes(junk in proptest::collection::vec(proptest::num::u8::ANY, 0..2000),
                                sizes in proptest::collection::vec(0usize..600, 0..6),
                                flip in proptest::num::usize::ANY, x in 1u8..=255) {
            let _ = scan(&junk, 0, 4096);
            let bytes: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![9u8; n]).collect();
            let writes: Vec<PageWrite<'_>> = bytes.iter().enumerate().map(|(i, b)| w(b, 64 + 8 * i as u32)).collect();
            let mut log = log_of(3, &writes);
            let (all, _, end) = scan(&log, 3, 4096);
            proptest::prop_assert_eq!(&all, &writes);
            proptest::prop_assert_eq!(end, log.len());
            if !log.is_empty() {
                let i = flip % log.len();
                log[i] ^= x;
                let (got, _, _) = scan(&log, 3, 4096);
                proptest::prop_assert!(got.len() < writes.len());
                proptest::prop_assert_eq!(&got[..], &writes[..got.len()]);
            }
        }
    }

    #[test]
    fn records_that_do_not_fit_a_page_are_refused() {
        let a = [1u8; 100];
        assert!(scan(&log_of(1, &[w(&a, 16300)]), 1, 16384).0.is_empty());
        assert!(scan(&log_of(1, &[w(&a, 10)]), 1, 16384).0.is_empty());
        assert_eq!(scan(&log_of(1, &[w(&a, 16284)]), 1, 16384).0.len(), 1);
    }
}
