//! Opening a store: creation, the index checkpoint, and recovery of the local feed's tail.
//!
//! Recovery rule (see `docs/storage.md`): the index holds a checkpoint. Everything the local
//! feed appended after it is in pages at the checkpoint's tail page and in the slots from
//! the checkpoint's frontier on, in order. Recovery takes the longest chain of valid pages
//! of the local author that continue the feed, and zeroes whatever follows (the leftovers of
//! an interrupted commit). Its cost depends on the checkpoint interval and the segment size,
//! never on the number of events stored.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redb::{ReadableDatabase as _, ReadableTable as _};
use xaeroflux_core::mmr::{MmrPeaks, mmr_size};
use xaeroflux_core::page::{PAGE_HEADER_LEN, PageBuilder, PageConfig};
use xaeroflux_core::{AuthorKey, Hash};

use super::check::check_tail;
use super::files::{self, DirState, FORMAT_VERSION};
use super::forks;
use super::hasher::LeafHasher;
use super::meta::{self, FeedRow, Loc, PageRow, Run};
use super::segments::{FileIo, Mapped, SegmentIo, SegmentMaps};
use super::space::Space;
use super::state::{
    CHECKED, Counters, FeedInner, FeedState, FeedTable, Located, PageEntry, PageWalk, RunLog, Shared, UNCHECKED,
};
use super::tail::Tail;
use super::taillog;
use super::writer::{WFeed, Writer};
use crate::Durability;
use crate::error::{IoError, OpenError};

pub(crate) struct Options {
    pub page_size: Option<u32>,
    pub segment_pages: u32,
    pub durability: Durability,
    pub io: Option<Box<dyn SegmentIo>>,
    pub hash_helper: bool,
    /// Pages sealed between two checkpoints.
    pub checkpoint_pages: u64,
    /// How long to wait for a store another process (or `Core`) holds.
    pub lock_wait: Duration,
    /// The author key of a store created by this open (a backup's: its source's); `None`: a
    /// fresh key. An existing store must hold this key.
    pub author_key: Option<AuthorKey>,
}

/// How often an open waiting for a held store tries again.
const LOCK_POLL: Duration = Duration::from_millis(10);

/// Opens the index of the store at `path`, trying again for at most `wait` while another
/// process (or another `Core` of this one) holds it.
fn open_index(path: &Path, wait: Duration) -> Result<redb::Database, OpenError> {
    let deadline = Instant::now().checked_add(wait);
    loop {
        match redb_builder().open(path.join(files::INDEX_FILE)) {
            Ok(db) => return Ok(db),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                let left = deadline.map_or(LOCK_POLL, |d| d.saturating_duration_since(Instant::now()));
                if left.is_zero() {
                    return Err(OpenError::Locked { path: path.to_path_buf() });
                }
                std::thread::sleep(left.min(LOCK_POLL));
            }
            Err(e) => return Err(ix("open index")(e.into())),
        }
    }
}

fn ix(op: &'static str) -> impl Fn(redb::Error) -> OpenError {
    move |e| OpenError::Io(IoError::index(op, e))
}

fn corrupt(what: &'static str) -> OpenError {
    OpenError::Corrupt { what, page: None }
}

fn create(path: &Path, opts: &Options) -> Result<(), OpenError> {
    let page_size = opts.page_size.unwrap_or(xaeroflux_core::page::DEFAULT_PAGE_SIZE);
    PageConfig::new(page_size).map_err(|_| OpenError::Config("page size out of range"))?;
    std::fs::create_dir_all(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            OpenError::ReadOnly { path: path.to_path_buf() }
        }
        _ => OpenError::Io(IoError::new("create store directory", Some(path.to_path_buf()), e)),
    })?;
    files::check_writable(path)?;
    files::clear_partial(path)?;
    let sdir = path.join(files::SEGMENT_DIR);
    std::fs::create_dir(&sdir).map_err(files::io("create segment directory", &sdir))?;
    let key = match &opts.author_key {
        Some(key) => {
            files::write_key(path, key)?;
            key.clone()
        }
        None => files::create_key(path)?,
    };
    let db = redb_builder().create(path.join(files::INDEX_FILE)).map_err(|e| ix("create index")(e.into()))?;
    let txn = db.begin_write().map_err(|e| ix("create index")(e.into()))?;
    {
        let mut s = txn.open_table(meta::SETTINGS).map_err(|e| ix("create index")(e.into()))?;
        let put = |s: &mut redb::Table<&str, &[u8]>, k: &str, v: &[u8]| {
            s.insert(k, v).map(|_| ()).map_err(|e| ix("create index")(e.into()))
        };
        put(&mut s, meta::K_FORMAT, &FORMAT_VERSION.to_le_bytes())?;
        put(&mut s, meta::K_PAGE_SIZE, &page_size.to_le_bytes())?;
        put(&mut s, meta::K_SEGMENT_PAGES, &opts.segment_pages.to_le_bytes())?;
        put(&mut s, meta::K_LOCAL_FEED, &0u32.to_le_bytes())?;
        put(&mut s, meta::K_FRONTIER, &Loc::default().encode())?;
        let mut f = txn.open_table(meta::FEEDS).map_err(|e| ix("create index")(e.into()))?;
        let row = FeedRow { author: key.author(), local: true, len: 0, pages: 0, peaks: MmrPeaks::new(), head: None };
        f.insert(0, row.encode().as_slice()).map_err(|e| ix("create index")(e.into()))?;
        txn.open_table(meta::PAGES).map_err(|e| ix("create index")(e.into()))?;
        txn.open_table(meta::NODES).map_err(|e| ix("create index")(e.into()))?;
        txn.open_table(meta::RUNS).map_err(|e| ix("create index")(e.into()))?;
    }
    txn.commit().map_err(|e| ix("create index")(e.into()))?;
    drop(db);
    files::sync_dir(path)?;
    files::write_marker(path)?;
    Ok(())
}

fn redb_builder() -> redb::Builder {
    let mut b = redb::Builder::new();
    // The index is small and read rarely on the hot paths: keep its cache small (memory goal).
    b.set_cache_size(8 << 20);
    b
}

/// Raises a store of an older format to [`FORMAT_VERSION`], in the index and then in the
/// marker, before anything of the newer format is written: a build that reads only the older
/// format then refuses the store (`NewerFormat`) instead of ignoring what it cannot read.
///
/// Format 1 had no tail log; format 2 may hold records in `tail.log` that must be replayed;
/// format 3 may hold version-2 pages (their checksum is XXH3), which older builds cannot
/// read. This build reads all three the same way, so the upgrade rewrites only the two version
/// numbers. A crash between the two leaves one raised, which older builds refuse as well.
fn upgrade(path: &Path, db: &redb::Database, index_format: u32) -> Result<(), OpenError> {
    if index_format < FORMAT_VERSION {
        let txn = db.begin_write().map_err(|e| ix("upgrade index")(e.into()))?;
        {
            let mut s = txn.open_table(meta::SETTINGS).map_err(|e| ix("upgrade index")(e.into()))?;
            let v = FORMAT_VERSION.to_le_bytes();
            s.insert(meta::K_FORMAT, v.as_slice()).map_err(|e| ix("upgrade index")(e.into()))?;
        }
        txn.commit().map_err(|e| ix("upgrade index")(e.into()))?;
    }
    files::write_marker(path)?;
    Ok(())
}

/// Opens (creating if needed) the store at `path`, runs recovery, and returns the shared state
/// and the writer (not yet started).
pub(crate) fn open(path: &Path, mut opts: Options) -> Result<(Arc<Shared>, Writer), OpenError> {
    let marker = match files::inspect(path)? {
        DirState::Fresh => {
            create(path, &opts)?;
            FORMAT_VERSION
        }
        DirState::Store(v) if v > FORMAT_VERSION => {
            return Err(OpenError::NewerFormat { found: v, supported: FORMAT_VERSION });
        }
        DirState::Store(0) => {
            return Err(OpenError::NotAStore { path: path.to_path_buf(), reason: "format version 0" });
        }
        DirState::Store(v) => {
            files::check_writable(path)?;
            v
        }
    };
    let key = files::load_key(path)?;
    if opts.author_key.as_ref().is_some_and(|k| k.author() != key.author()) {
        return Err(OpenError::Config("the store holds another author key"));
    }
    let db = open_index(path, opts.lock_wait)?;
    let rtx = db.begin_read().map_err(|e| ix("read index")(e.into()))?;
    let settings = rtx.open_table(meta::SETTINGS).map_err(|e| ix("read index")(e.into()))?;
    let get_u32 = |k: &str| -> Result<u32, OpenError> {
        let v = settings.get(k).map_err(|e| ix("read index")(e.into()))?.ok_or(corrupt("a setting is missing"))?;
        meta::u32_at(v.value(), 0).ok_or(corrupt("a setting is malformed"))
    };
    let format = get_u32(meta::K_FORMAT)?;
    if format > FORMAT_VERSION {
        return Err(OpenError::NewerFormat { found: format, supported: FORMAT_VERSION });
    }
    let page_size = get_u32(meta::K_PAGE_SIZE)?;
    if opts.page_size.is_some_and(|p| p != page_size) {
        return Err(OpenError::Config("page size differs from the existing store's"));
    }
    let config = PageConfig::new(page_size).map_err(|_| corrupt("stored page size is invalid"))?;
    let local_idx = get_u32(meta::K_LOCAL_FEED)?;
    // Work done by the open, for `Stats` (see the "reopen" test): index rows read.
    let mut rows: u64 = 4;
    let frontier = settings
        .get(meta::K_FRONTIER)
        .map_err(|e| ix("read index")(e.into()))?
        .and_then(|v| Loc::decode(v.value()))
        .ok_or(corrupt("checkpoint frontier missing"))?;
    let log_epoch = match settings.get(meta::K_LOG_EPOCH).map_err(|e| ix("read index")(e.into()))? {
        None => 0,
        Some(v) => {
            let b: [u8; 8] = v.value().try_into().map_err(|_| corrupt("malformed tail log epoch"))?;
            u64::from_le_bytes(b)
        }
    };
    drop(settings);

    // Feeds, with their last page and the in-memory part of their MMR nodes.
    let feeds_t = rtx.open_table(meta::FEEDS).map_err(|e| ix("read index")(e.into()))?;
    let pages_t = rtx.open_table(meta::PAGES).map_err(|e| ix("read index")(e.into()))?;
    let mut table = FeedTable::default();
    for item in feeds_t.iter().map_err(|e| ix("read index")(e.into()))? {
        let (k, v) = item.map_err(|e| ix("read index")(e.into()))?;
        let idx = k.value();
        if idx as usize != table.list.len() {
            return Err(corrupt("feed numbers are not dense"));
        }
        let row = FeedRow::decode(v.value()).ok_or(corrupt("malformed feed row"))?;
        rows += 1;
        let mut pages = Vec::new();
        if row.pages > 0 {
            let v = pages_t
                .get((idx, row.pages - 1))
                .map_err(|e| ix("read index")(e.into()))?
                .ok_or(corrupt("page row missing"))?;
            let p = PageRow::decode(v.value()).ok_or(corrupt("malformed page row"))?;
            pages.push(PageEntry::new(p.first_seq, p.loc, p.span, UNCHECKED));
            rows += 1;
        }
        // MMR nodes before the checkpoint are in the index or recomputed (see `nodes`).
        let node_base = mmr_size(row.len);
        let nodes = Vec::new();
        let feed = Arc::new(FeedState {
            idx,
            author: row.author,
            local: row.local,
            inner: RwLock::new(FeedInner {
                len: row.len,
                peaks: row.peaks,
                pages_base: row.pages.saturating_sub(1),
                pages,
                node_base,
                nodes,
                head: row.head,
            }),
            write_lock: Mutex::new(()),
        });
        table.by_author.insert(row.author, feed.clone());
        table.list.push(feed);
    }
    let local = table.list.get(local_idx as usize).cloned().ok_or(corrupt("local feed missing"))?;
    if local.author != key.author() || !local.local {
        return Err(corrupt("the key file does not belong to this store's local feed"));
    }
    // Only the newest arrival run is read: older ones are read from the index by iterators.
    let runs_t = rtx.open_table(meta::RUNS).map_err(|e| ix("read index")(e.into()))?;
    let mut runs = RunLog::default();
    if let Some((k, v)) = runs_t.last().map_err(|e| ix("read index")(e.into()))? {
        rows += 1;
        runs.base = k.value();
        runs.mem.push(Run::decode(v.value()).ok_or(corrupt("malformed arrival run"))?);
    }
    let runs_ckpt = runs.len();
    let forks = forks::load(&rtx).map_err(|e| match e {
        forks::LoadError::Index(e) => ix("read index")(e),
        forks::LoadError::Malformed => corrupt("malformed fork evidence row"),
    })?;
    rows += forks.len() as u64;
    drop((feeds_t, pages_t, runs_t, rtx));
    if format < FORMAT_VERSION || marker < FORMAT_VERSION {
        upgrade(path, &db, format)?;
    }

    let segment_pages = opts.segment_pages;
    let mut io: Box<dyn SegmentIo> = opts.io.take().unwrap_or_else(|| Box::new(FileIo::new(path)));
    // First the writes the tail log describes (they may not have reached the segments), then
    // the recovery of local appends newer than the index.
    let (log, replayed, log_bytes) = taillog::open_and_replay(path, log_epoch, config.page_size(), io.as_mut())?;
    let rec = recover(path, &config, &local, &key, frontier, segment_pages, io.as_mut())?;

    // Map the segments that remain.
    let maps = SegmentMaps::new();
    let mut known = HashMap::new();
    let page_size = u64::from(config.page_size());
    for n in files::list_segments(path)? {
        let m = Mapped::map(path, n)?;
        known.insert(n, u32::try_from(m.bytes().len() as u64 / page_size).unwrap_or(u32::MAX));
        maps.set(n, m);
    }
    let recovered = rec.len - read_len(&local);
    {
        let mut inner = local.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = inner.pages.last() {
            p.state.store(CHECKED, Ordering::Release);
        }
        let old_len = inner.len;
        inner.len = rec.len;
        inner.peaks = rec.peaks;
        inner.pages.extend(rec.pages);
        inner.nodes.extend(rec.nodes);
        if rec.len > old_len {
            runs.extend(local.idx, old_len, rec.len);
        }
    }
    let shared = Arc::new(Shared {
        dir: path.to_path_buf(),
        config,
        page_size,
        segment_pages,
        db,
        maps,
        feeds: RwLock::new(table),
        runs: RwLock::new(runs),
        key,
        local: local.clone(),
        poisoned: AtomicBool::new(false),
        counters: Counters::default(),
        head_cache: Mutex::new(None),
        batch_pool: Mutex::new(Vec::new()),
        forks: RwLock::new(forks),
    });
    shared.counters.recovered_events.store(recovered, Ordering::Relaxed);
    shared.counters.open_index_rows.store(rows, Ordering::Relaxed);
    shared.counters.open_pages_examined.store(rec.pages_examined, Ordering::Relaxed);
    shared.counters.open_bytes_examined.store(rec.bytes_examined + log_bytes, Ordering::Relaxed);
    shared.counters.truncated_bytes.store(rec.zeroed, Ordering::Relaxed);
    shared.counters.segments.store(known.len() as u64, Ordering::Relaxed);
    let seg_slots = known.get(&rec.next.seg).copied().unwrap_or(0);
    let mut wfeeds = HashMap::new();
    let dirty = recovered > 0 || rec.zeroed > 0 || !rec.rows.is_empty() || replayed > 0;
    wfeeds.insert(local.idx, WFeed { feed: local.clone(), tail: Some(rec.tail), rows: rec.rows, dirty });
    let mut writer = Writer {
        shared: shared.clone(),
        space: Space {
            io,
            next: rec.next,
            seg_slots,
            known,
            dirty: Vec::new(),
            logged: Vec::new(),
            log,
            zero_from: None,
            deferred: Vec::new(),
            deferred_buf: Vec::new(),
            sync_log_first: false,
            unsynced_since: None,
        },
        durability: opts.durability,
        feeds: wfeeds,
        runs_ckpt,
        sealed_since_ckpt: 0,
        checkpoint_pages: opts.checkpoint_pages,
        poisoned: false,
        stopped: false,
        scratch: Vec::new(),
        hasher: LeafHasher::new(opts.hash_helper),
        leaves: Vec::new(),
        pending: Default::default(),
        inflight: None,
    };
    if dirty {
        writer.checkpoint()?;
    }
    Ok((shared, writer))
}

fn read_len(feed: &FeedState) -> u64 {
    feed.inner.read().unwrap_or_else(|p| p.into_inner()).len
}

/// What recovery found for the local feed.
struct Recovered {
    tail: Tail,
    rows: Vec<(u64, PageRow)>,
    pages: Vec<PageEntry>,
    peaks: MmrPeaks,
    nodes: Vec<Hash>,
    len: u64,
    next: Loc,
    zeroed: u64,
    /// Pages whose bytes recovery checked.
    pages_examined: u64,
    /// Bytes of segment files recovery read (pages checked, and the tail of the segment
    /// holding the end, scanned for leftovers).
    bytes_examined: u64,
}

struct TempMaps<'a> {
    dir: &'a Path,
    maps: HashMap<u32, Option<Mapped>>,
}

impl TempMaps<'_> {
    fn get(&mut self, seg: u32) -> Result<Option<&[u8]>, IoError> {
        if !self.maps.contains_key(&seg) {
            let m = if files::segment_path(self.dir, seg).exists() { Some(Mapped::map(self.dir, seg)?) } else { None };
            self.maps.insert(seg, m);
        }
        Ok(self.maps.get(&seg).and_then(|m| m.as_ref()).map(|m| m.bytes()))
    }
}

/// A valid page: its bytes, span and whether its padding is dirty.
type Candidate<'m> = Option<(&'m [u8], u16, bool)>;

/// Work done by recovery: pages checked and bytes read.
#[derive(Default)]
struct Work {
    pages: u64,
    bytes: u64,
}

/// A page candidate at `loc`: valid (checksum and events), by `author`, starting at `seq`.
fn candidate<'m>(
    maps: &'m mut TempMaps<'_>,
    config: &PageConfig,
    loc: Loc,
    author: &xaeroflux_core::AuthorId,
    seq: u64,
    work: &mut Work,
) -> Result<Candidate<'m>, IoError> {
    let ps = config.page_size() as usize;
    let Some(seg) = maps.get(loc.seg)? else { return Ok(None) };
    let start = loc.slot as usize * ps;
    let Some(head) = seg.get(start..start + PAGE_HEADER_LEN) else { return Ok(None) };
    let header: &xaeroflux_core::PageHeader = bytemuck::from_bytes(head);
    let span = header.span().max(1);
    let Some(bytes) = seg.get(start..start + usize::from(span) * ps) else { return Ok(None) };
    work.pages += 1;
    work.bytes += bytes.len() as u64;
    match check_tail(bytes, config) {
        Ok((h, dirty)) if h.author() == *author && h.first_seq() == seq && h.count() > 0 => {
            Ok(Some((bytes, span, dirty)))
        }
        _ => Ok(None),
    }
}

fn recover(
    dir: &Path,
    config: &PageConfig,
    local: &FeedState,
    key: &AuthorKey,
    frontier: Loc,
    segment_pages: u32,
    io: &mut dyn SegmentIo,
) -> Result<Recovered, OpenError> {
    let author = key.author();
    let ps = u64::from(config.page_size());
    let inner = local.inner.read().unwrap_or_else(|p| p.into_inner());
    let ckpt_len = inner.len;
    let mut peaks = inner.peaks.clone();
    let page_count = inner.page_count();
    let last = inner.pages.last().map(|p| (p.first_seq, p.loc, p.span));
    drop(inner);
    let mut maps = TempMaps { dir, maps: HashMap::new() };
    let mut zero_ranges: Vec<(u32, u64, u64)> = Vec::new();
    let mut nodes = Vec::new();
    let mut rows = Vec::new();
    let mut pages = Vec::new();
    let mut work = Work::default();

    let mut take_page = |bytes: &[u8], first_seq: u64, from: u64, b: &mut PageBuilder, peaks: &mut MmrPeaks| {
        let end =
            bytemuck::from_bytes::<xaeroflux_core::PageHeader>(&bytes[..PAGE_HEADER_LEN]).count() as u64 + first_seq;
        let page = Located { bytes, first_seq, end, page_no: 0 };
        for ev in PageWalk::new(&page) {
            if b.push(ev).is_err() {
                return false;
            }
            if ev.seq() >= from {
                let leaf = b.leaf_hashes().last().copied().unwrap_or_default();
                peaks.append_with(leaf, |_, h| nodes.push(*h));
            }
        }
        true
    };

    let mut tail = match last {
        None => Tail::empty(*config, author),
        Some((first_seq, loc, span)) => {
            let seg = maps.get(loc.seg)?.ok_or(corrupt("the segment of the local feed's last page is missing"))?;
            let start = u64::from(loc.slot) * ps;
            let bytes = seg
                .get(start as usize..(start + u64::from(span) * ps) as usize)
                .ok_or(corrupt("the segment of the local feed's last page is truncated"))?;
            work.pages += 1;
            work.bytes += bytes.len() as u64;
            let (h, dirty) = check_tail(bytes, config)
                .map_err(|e| OpenError::Corrupt { what: "the local feed's last page", page: Some(e) })?;
            if h.first_seq() != first_seq || h.first_seq() + u64::from(h.count()) < ckpt_len {
                return Err(corrupt("the local feed's last page holds fewer events than the index records"));
            }
            if dirty {
                zero_ranges.push((
                    loc.seg,
                    start + PAGE_HEADER_LEN as u64 + u64::from(h.used()),
                    start + u64::from(span) * ps,
                ));
            }
            let mut b = PageBuilder::new(*config, author, first_seq);
            if !take_page(bytes, first_seq, ckpt_len, &mut b, &mut peaks) {
                return Err(corrupt("the local feed's last page does not continue the feed"));
            }
            Tail::stored(b, loc, page_count - 1, false)
        }
    };

    // Pages appended after the checkpoint: consecutive slots from the frontier.
    let mut at = frontier;
    loop {
        let seq = tail.b.next_seq();
        let mut found =
            candidate(&mut maps, config, at, &author, seq, &mut work)?.map(|(b, s, d)| (at, b.to_vec(), s, d));
        if found.is_none() && at.slot > 0 {
            let next = Loc { seg: at.seg + 1, slot: 0 };
            found =
                candidate(&mut maps, config, next, &author, seq, &mut work)?.map(|(b, s, d)| (next, b.to_vec(), s, d));
        }
        let Some((loc, bytes, span, dirty)) = found else { break };
        if let Some(prev) = tail.loc.filter(|_| !tail.b.is_empty()) {
            let b = &tail.b;
            rows.push((
                tail.page_no,
                PageRow { first_seq: b.first_seq(), loc: prev, span: b.span(), count: b.count(), root: b.root() },
            ));
        }
        let mut b = PageBuilder::new(*config, author, seq);
        if !take_page(&bytes, seq, ckpt_len, &mut b, &mut peaks) {
            break;
        }
        let start = u64::from(loc.slot) * ps;
        if dirty {
            zero_ranges.push((loc.seg, start + (PAGE_HEADER_LEN + b.used()) as u64, start + u64::from(span) * ps));
        }
        pages.push(PageEntry::new(seq, loc, span, CHECKED));
        let page_no = if tail.b.is_empty() && tail.loc.is_none() { tail.page_no } else { tail.page_no + 1 };
        tail = Tail::stored(b, loc, page_no, false);
        at = Loc { seg: loc.seg, slot: loc.slot + u32::from(span) };
    }

    // Zero what an interrupted commit left after the end, and drop later segments.
    let mut zeroed = 0u64;
    let end = at;
    if let Some(seg) = maps.get(end.seg)? {
        let from = u64::from(end.slot) * ps;
        if (seg.len() as u64) < from {
            return Err(corrupt("the segment holding the local feed's newest pages is truncated"));
        }
        zero_ranges.push((end.seg, from, seg.len() as u64));
    }
    let later: Vec<u32> = files::list_segments(dir)?.into_iter().filter(|&n| n > end.seg).collect();
    let mut touched = Vec::new();
    for (seg, from, to) in zero_ranges {
        let Some(bytes) = maps.get(seg)? else { continue };
        let zeros = vec![0u8; 64 * 1024];
        let mut off = from;
        while off < to {
            let n = (to - off).min(zeros.len() as u64);
            let chunk = bytes.get(off as usize..(off + n) as usize).unwrap_or_default();
            work.bytes += chunk.len() as u64;
            if chunk.iter().any(|&b| b != 0) {
                io.write_at(seg, off, &zeros[..n as usize])?;
                zeroed += n;
                if !touched.contains(&seg) {
                    touched.push(seg);
                }
            }
            off += n;
        }
    }
    for seg in touched {
        io.sync(seg)?;
    }
    drop(maps);
    for n in later {
        let p = files::segment_path(dir, n);
        std::fs::remove_file(&p).map_err(files::io("remove leftover segment", &p))?;
    }
    if files::segment_path(dir, end.seg).exists() {
        let full = u64::from(segment_pages) * ps;
        let have = std::fs::metadata(files::segment_path(dir, end.seg)).map(|m| m.len()).unwrap_or(0);
        if have < full {
            io.extend(end.seg, full)?;
        }
    }
    let len = tail.b.next_seq().max(ckpt_len);
    Ok(Recovered {
        tail,
        rows,
        pages,
        peaks,
        nodes,
        len,
        next: end,
        zeroed,
        pages_examined: work.pages,
        bytes_examined: work.bytes,
    })
}

#[cfg(test)]
#[path = "compat_tests.rs"]
mod tests;
