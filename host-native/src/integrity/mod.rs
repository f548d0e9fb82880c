//! A full integrity check of a store: [`Core::check_integrity`] (and `xf check`).
//!
//! Reads see a damaged page only when they reach it, and a page that was checked once is not
//! checked again while the store is open. This check reads everything again, from the files,
//! and recomputes what the store keeps about it:
//!
//! 1. **Pages.** Every page of every feed is parsed from its mapped bytes (checksum, encoding,
//!    author, consecutive seqs from where the page index says it starts).
//! 2. **Page rows.** Where the index holds a page's row (written at checkpoints), its page
//!    tree root must be the root over the page's first `count` events.
//! 3. **MMR.** The feed's MMR is rebuilt from the events' leaf hashes. Its root must be the
//!    stored one; every node the index keeps for proofs (heights ≥ 6) must be the rebuilt one.
//! 4. **Signed heads.** A peer's head that the store holds must carry a valid signature, and
//!    its root must be the rebuilt root at its length.
//! 5. **Arrival order.** The runs behind [`Core::iter_events`] must cover every feed's events
//!    once, in order.
//!
//! Problems go into the [`IntegrityReport`]; only a failure to read the index ends the check
//! early ([`CheckError`]). Once a page of a feed is damaged, that feed's MMR is not rebuilt
//! further (its leaves are unknown), so its later nodes and root are not checked.
//!
//! The check may run while the store is written: it checks each feed up to the length it
//! had when the check reached it.

use core::fmt;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use redb::ReadableDatabase as _;
use xaeroflux_core::event::{EventRef, MAX_PAYLOAD_LEN};
use xaeroflux_core::hash::leaf_hashes_into;
use xaeroflux_core::head::HeadError;
use xaeroflux_core::mmr::{MmrPeaks, NodeStore as _, mmr_size};
use xaeroflux_core::page::{PAGE_HEADER_LEN, PageRef, page_tree_root};
use xaeroflux_core::{AuthorId, Hash, SignedHead};

use crate::Core;
use crate::error::{CorruptReason, IoError, ReadError};
use crate::read::Events;
use crate::store::check::check_tail;
use crate::store::meta::{self, PageRow};
use crate::store::nodes::{NodeReader, stored_positions};
use crate::store::state::{FeedState, Shared, lock, read};

/// How far a check has got, given to the callback of [`Core::check_integrity_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckProgress {
    /// Events checked so far.
    pub events_checked: u64,
    /// Events the check will read (the feeds' lengths when it started).
    pub events_total: u64,
}

/// What [`Core::check_integrity`] read and found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct IntegrityReport {
    /// Feeds checked.
    pub feeds: u64,
    /// Pages read.
    pub pages: u64,
    /// Events read and hashed.
    pub events: u64,
    /// Everything found wrong, in the order found; empty for a sound store.
    pub problems: Vec<IntegrityProblem>,
}

impl IntegrityReport {
    /// Whether nothing was found wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One thing [`Core::check_integrity`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntegrityProblem {
    /// Events that cannot be read: their page is damaged, missing or not where the index says.
    DamagedEvents {
        /// The feed.
        author: AuthorId,
        /// The events lost with the page.
        seqs: Range<u64>,
        /// What is wrong with it.
        reason: CorruptReason,
    },
    /// A page's row in the index does not match the page (its root, or where it starts).
    PageRow {
        /// The feed.
        author: AuthorId,
        /// The page's number in its feed.
        page_no: u64,
    },
    /// The MMR root rebuilt from the events is not the stored one.
    Root {
        /// The feed.
        author: AuthorId,
        /// Its length.
        len: u64,
        /// The stored root.
        stored: Hash,
        /// The root rebuilt from the events.
        rebuilt: Hash,
    },
    /// An MMR node kept for proofs is missing or differs from the rebuilt one.
    Node {
        /// The feed.
        author: AuthorId,
        /// The node's position (post-order, from 0).
        pos: u64,
    },
    /// A stored signed head of the feed does not hold.
    Head {
        /// The feed.
        author: AuthorId,
        /// Why.
        why: HeadProblem,
    },
    /// The arrival runs (the order of [`Core::iter_events`]) skip or repeat events of a feed.
    ArrivalOrder {
        /// The feed.
        author: AuthorId,
        /// The seq the next run of the feed should have started at.
        expected: u64,
        /// The run found instead (`expected..expected` for events no run covers).
        found: Range<u64>,
    },
    /// An arrival run names a feed the store does not have.
    UnknownFeedInArrivals {
        /// The run's number.
        run: u64,
    },
    /// Fork evidence recorded against `author` does not prove a fork (`None`: a row of the
    /// fork table does not decode).
    ForkEvidence {
        /// The author it names.
        author: Option<AuthorId>,
    },
}

/// Why a stored signed head does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadProblem {
    /// Its signature or key is not valid.
    Signature(HeadError),
    /// It names another author than the feed's.
    Author(AuthorId),
    /// Its root is not the root rebuilt from the feed's first `length` events.
    Root {
        /// The head's length.
        length: u64,
    },
}

impl fmt::Display for HeadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signature(e) => write!(f, "{e}"),
            Self::Author(a) => write!(f, "it is signed by {a}"),
            Self::Root { length } => write!(f, "its root is not the root of the first {length} events"),
        }
    }
}

impl fmt::Display for IntegrityProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DamagedEvents { author, seqs, reason } => {
                write!(f, "damaged page: feed {author} events {}..{}: {reason}", seqs.start, seqs.end)
            }
            Self::PageRow { author, page_no } => {
                write!(f, "index row of page {page_no} of feed {author} does not match the page")
            }
            Self::Root { author, len, stored, rebuilt } => {
                write!(f, "feed {author}: stored root {stored} is not the root {rebuilt} of its {len} events")
            }
            Self::Node { author, pos } => {
                write!(f, "feed {author}: stored MMR node {pos} is missing or wrong (proofs through it fail)")
            }
            Self::Head { author, why } => write!(f, "feed {author}: stored signed head: {why}"),
            Self::ArrivalOrder { author, expected, found } => write!(
                f,
                "arrival order: feed {author} continues at event {expected}, but its next run is {}..{}",
                found.start, found.end
            ),
            Self::UnknownFeedInArrivals { run } => write!(f, "arrival run {run} names a feed the store does not have"),
            Self::ForkEvidence { author: Some(a) } => {
                write!(f, "the fork evidence recorded against {a} proves no fork")
            }
            Self::ForkEvidence { author: None } => f.write_str("a row of the fork table does not decode"),
        }
    }
}

/// Why an integrity check could not run to its end.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckError {
    /// Reading the index failed.
    Io(IoError),
    /// Reading the arrival runs failed.
    Read(ReadError),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "integrity check failed: {e}"),
            Self::Read(e) => write!(f, "integrity check failed: {e}"),
        }
    }
}

impl core::error::Error for CheckError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Read(e) => Some(e),
        }
    }
}

/// Events between two progress callbacks (at page boundaries).
const PROGRESS_EVERY: u64 = 1 << 16;

impl Core {
    /// Reads the whole store again and checks it (see [`IntegrityReport`] and the `check`
    /// module's rules): every page's checksum and encoding, the index's page rows, each feed's
    /// MMR root and stored nodes rebuilt from the events, the stored signed heads, and the
    /// arrival order. It may run while the store is written.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let core = xaeroflux::Core::open(dir.path().join("s"))?;
    /// core.append_batch([&b"one"[..], b"two"])?;
    /// let report = core.check_integrity()?;
    /// assert!(report.is_ok(), "{:?}", report.problems);
    /// assert_eq!(report.events, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn check_integrity(&self) -> Result<IntegrityReport, CheckError> {
        self.check_integrity_with(|_| {})
    }

    /// [`Core::check_integrity`], calling `progress` as it goes (every 65 536 events or so,
    /// and once at the end): for a progress bar.
    pub fn check_integrity_with(&self, mut progress: impl FnMut(CheckProgress)) -> Result<IntegrityReport, CheckError> {
        let shared = &self.shared;
        let mut feeds: Vec<Arc<FeedState>> = read(&shared.feeds).list.clone();
        feeds.sort_by_key(|f| !f.local);
        let mut p = CheckProgress { events_checked: 0, events_total: 0 };
        p.events_total = feeds.iter().map(|f| read(&f.inner).len).sum();
        let mut report = IntegrityReport::default();
        let mut reported = 0;
        for feed in &feeds {
            FeedCheck::new(shared, feed).run(&mut report, &mut |n| {
                p.events_checked += n;
                if p.events_checked - reported >= PROGRESS_EVERY {
                    reported = p.events_checked;
                    progress(p);
                }
            })?;
            report.feeds += 1;
        }
        check_arrivals(shared, &feeds, &mut report)?;
        check_forks(shared, &mut report)?;
        progress(p);
        Ok(report)
    }
}

/// The check of one feed, up to the length it had when the check started.
struct FeedCheck<'a> {
    shared: &'a Shared,
    feed: &'a Arc<FeedState>,
    len: u64,
    stored_root: Hash,
    head: Option<SignedHead>,
    /// The rebuilt MMR, while every page so far was sound.
    peaks: Option<MmrPeaks>,
    /// The rebuilt root at the head's length, once reached.
    root_at_head: Option<Hash>,
}

/// Pages read per round: their checks and leaf hashes (most of the work) are split between the
/// calling thread and a helper, while the calling thread extends the MMR by the round before.
const CHUNK_PAGES: usize = 256;

/// Rounds with fewer pages are read by the calling thread alone.
const PARALLEL_MIN_PAGES: usize = 8;

/// A page to read: where it is and the events it must hold.
#[derive(Clone, Copy)]
struct PageJob {
    page_no: u64,
    loc: meta::Loc,
    span: u16,
    first_seq: u64,
    /// One past the last event to take from it.
    end: u64,
    /// The feed's last page (checked as a tail page).
    last: bool,
}

/// One step of a round, in seq order.
enum Step {
    Read(PageJob),
    /// Events no page holds (a damaged page list).
    Damaged(IntegrityProblem),
}

/// Where the walk of a feed's page list stands.
struct Walk {
    seq: u64,
    page_no: u64,
    /// The page list ended before the feed did.
    ended: bool,
}

/// The leaf hashes of some of a round's pages, back to back, and each page's outcome.
#[derive(Default)]
struct Hashed {
    leaves: Vec<Hash>,
    results: Vec<Result<Range<usize>, CorruptReason>>,
}

/// Reads the pages of `steps` into `hashed` (a quarter on this thread, the rest on a helper;
/// all here for a few pages), and runs `meanwhile` on this thread once its share is read.
fn hash_pages<R>(
    shared: &Shared,
    feed: &FeedState,
    steps: &[Step],
    hashed: &mut [Hashed; 2],
    meanwhile: impl FnOnce() -> R,
) -> R {
    let jobs: Vec<&PageJob> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Read(j) => Some(j),
            Step::Damaged(_) => None,
        })
        .collect();
    let read_all = |jobs: &[&PageJob], out: &mut Hashed| {
        out.leaves.clear();
        out.results.clear();
        for job in jobs {
            let r = read_page(shared, feed, job, &mut out.leaves);
            out.results.push(r);
        }
    };
    let [first, second] = hashed;
    if jobs.len() < PARALLEL_MIN_PAGES {
        read_all(&jobs, first);
        read_all(&[], second);
        return meanwhile();
    }
    let (mine, theirs) = jobs.split_at(jobs.len() / 4);
    let (helped, r) = std::thread::scope(|s| {
        let helper = s.spawn(|| read_all(theirs, second));
        read_all(mine, first);
        let r = meanwhile();
        (helper.join().is_ok(), r)
    });
    if !helped {
        // Unreachable (reading a page does not panic); those pages count as unread.
        second.results.clear();
    }
    r
}

/// Checks a page afresh and appends the leaf hashes of its events `first_seq..end` to
/// `leaves`; returns where they are. The feed's last page may hold the leftovers of an
/// interrupted write past its used bytes, which recovery tolerates (see `store::check`).
fn read_page(
    shared: &Shared,
    feed: &FeedState,
    job: &PageJob,
    leaves: &mut Vec<Hash>,
) -> Result<Range<usize>, CorruptReason> {
    let bytes = shared.page_bytes(job.loc, job.span)?;
    // The writer rewrites a feed's tail page in place under this lock. A page that was not the
    // tail when the round was planned is sealed and never written again.
    let _w = job.last.then(|| lock(&feed.write_lock));
    let header = if job.last {
        check_tail(bytes, &shared.config).map_err(CorruptReason::Page)?.0
    } else {
        *PageRef::parse(bytes, &shared.config).map_err(CorruptReason::Page)?.header()
    };
    let misplaced =
        CorruptReason::Truncated { segment: job.loc.seg, offset: u64::from(job.loc.slot) * shared.page_size };
    let want = job.end - job.first_seq;
    if header.author() != feed.author || header.first_seq() != job.first_seq || u64::from(header.count()) < want {
        return Err(misplaced);
    }
    let mut events: Vec<&[u8]> = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
    let mut rest = bytes.get(PAGE_HEADER_LEN..).unwrap_or_default();
    while (events.len() as u64) < want {
        let (ev, used) = EventRef::parse_prefix(rest, MAX_PAYLOAD_LEN).map_err(|_| misplaced.clone())?;
        events.push(ev.encoded());
        rest = rest.get(used..).unwrap_or_default();
    }
    let start = leaves.len();
    leaves.resize(start + events.len(), Hash::ZERO);
    leaf_hashes_into(&events, &mut leaves[start..]);
    Ok(start..leaves.len())
}

impl<'a> FeedCheck<'a> {
    fn new(shared: &'a Shared, feed: &'a Arc<FeedState>) -> Self {
        let inner = read(&feed.inner);
        FeedCheck {
            shared,
            feed,
            len: inner.len,
            stored_root: inner.peaks.root(),
            head: inner.head,
            peaks: Some(MmrPeaks::default()),
            root_at_head: None,
        }
    }

    fn run(mut self, report: &mut IntegrityReport, progress: &mut dyn FnMut(u64)) -> Result<(), CheckError> {
        let author = self.feed.author;
        let (shared, feed) = (self.shared, self.feed);
        shared.ensure_pages(feed).map_err(CheckError::Io)?;
        let mut rows = self.page_rows()?;
        let nodes = NodeReader::new(shared, feed.clone(), self.len);
        if self.head.is_some_and(|h| h.length == 0) {
            self.root_at_head = Some(MmrPeaks::default().root());
        }
        // Round k's pages are folded into the MMR on this thread while round k + 1's are read
        // and hashed (a quarter here, the rest on a helper).
        let mut walk = Walk { seq: 0, page_no: 0, ended: false };
        let (mut steps, mut next_steps) = (Vec::with_capacity(CHUNK_PAGES), Vec::with_capacity(CHUNK_PAGES));
        let (mut hashed, mut next_hashed) =
            ([Hashed::default(), Hashed::default()], [Hashed::default(), Hashed::default()]);
        self.plan_chunk(&mut walk, &mut steps);
        hash_pages(shared, feed, &steps, &mut hashed, || ());
        while !steps.is_empty() {
            next_steps.clear();
            if walk.seq < self.len && !walk.ended {
                self.plan_chunk(&mut walk, &mut next_steps);
            }
            hash_pages(shared, feed, &next_steps, &mut next_hashed, || {
                self.fold(&steps, &hashed, &mut rows, &nodes, report, progress)
            })?;
            std::mem::swap(&mut steps, &mut next_steps);
            std::mem::swap(&mut hashed, &mut next_hashed);
        }
        if let Some(peaks) = &self.peaks {
            let rebuilt = peaks.root();
            if rebuilt != self.stored_root {
                report.problems.push(IntegrityProblem::Root {
                    author,
                    len: self.len,
                    stored: self.stored_root,
                    rebuilt,
                });
            }
        }
        self.check_head(report);
        Ok(())
    }

    /// Takes one round's pages, in order: their outcome, their index rows, and their leaves
    /// into the MMR.
    fn fold(
        &mut self,
        steps: &[Step],
        hashed: &[Hashed; 2],
        rows: &mut PageRows,
        nodes: &NodeReader<'_>,
        report: &mut IntegrityReport,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), CheckError> {
        let author = self.feed.author;
        let [first, second] = hashed;
        let mut outcomes = first.results.iter().map(|r| (r, first)).chain(second.results.iter().map(|r| (r, second)));
        for step in steps {
            let job = match step {
                Step::Damaged(problem) => {
                    report.problems.push(problem.clone());
                    self.peaks = None;
                    continue;
                }
                Step::Read(job) => job,
            };
            let Some((result, half)) = outcomes.next() else { break };
            let n = job.end - job.first_seq;
            report.pages += 1;
            match result {
                Ok(range) => {
                    let leaves = half.leaves.get(range.clone()).unwrap_or_default();
                    if let Some(row) = rows.get(job.page_no)?
                        && !row_matches(&row, job.first_seq, leaves)
                    {
                        report.problems.push(IntegrityProblem::PageRow { author, page_no: job.page_no });
                    }
                    self.extend_mmr(job.first_seq, leaves, nodes, report);
                }
                Err(reason) => {
                    let seqs = job.first_seq..job.end;
                    report.problems.push(IntegrityProblem::DamagedEvents { author, seqs, reason: reason.clone() });
                    self.peaks = None;
                }
            }
            report.events += n;
            progress(n);
        }
        Ok(())
    }

    /// The next [`CHUNK_PAGES`] pages from the page list, and the gaps and overlaps found in
    /// the list on the way.
    fn plan_chunk(&self, plan: &mut Walk, steps: &mut Vec<Step>) {
        let author = self.feed.author;
        steps.clear();
        let mut reads = 0;
        while plan.seq < self.len && reads < CHUNK_PAGES {
            let (seq, page_no) = (plan.seq, plan.page_no);
            let entry = {
                let inner = read(&self.feed.inner);
                let i = page_no.checked_sub(inner.pages_base).and_then(|i| usize::try_from(i).ok());
                let last = page_no + 1 == inner.page_count();
                i.and_then(|i| Some((inner.pages.get(i)?, inner.page_end(i))))
                    .map(|(p, end)| (p.first_seq, p.loc, p.span, end, last))
            };
            let Some((first_seq, loc, span, end, last)) = entry else {
                let reason = CorruptReason::Truncated { segment: u32::MAX, offset: 0 };
                steps.push(Step::Damaged(IntegrityProblem::DamagedEvents { author, seqs: seq..self.len, reason }));
                plan.ended = true;
                return;
            };
            let end = end.min(self.len);
            let misplaced =
                || CorruptReason::Truncated { segment: loc.seg, offset: u64::from(loc.slot) * self.shared.page_size };
            if first_seq > seq {
                // A gap in the page list: no page holds these events.
                let seqs = seq..first_seq;
                steps.push(Step::Damaged(IntegrityProblem::DamagedEvents { author, seqs, reason: misplaced() }));
                plan.seq = first_seq;
                continue;
            }
            plan.page_no += 1;
            if first_seq < seq || end <= first_seq {
                // The page list overlaps itself or has an empty page: a damaged index.
                let seqs = first_seq..end.max(first_seq + 1);
                steps.push(Step::Damaged(IntegrityProblem::DamagedEvents { author, seqs, reason: misplaced() }));
                plan.seq = seq.max(end);
                continue;
            }
            steps.push(Step::Read(PageJob { page_no, loc, span, first_seq, end, last }));
            reads += 1;
            plan.seq = end;
        }
    }

    /// The feed's page rows in the index, in page order (read as the check goes, so memory
    /// stays flat however many pages the feed has).
    fn page_rows(&self) -> Result<PageRows, CheckError> {
        let txn = self.shared.db.begin_read().map_err(|e| index_error(e.into()))?;
        let table = txn.open_table(meta::PAGES).map_err(|e| index_error(e.into()))?;
        let range = table.range((self.feed.idx, 0)..=(self.feed.idx, u64::MAX)).map_err(|e| index_error(e.into()))?;
        Ok(PageRows { range, next: None })
    }

    /// Extends the rebuilt MMR by the page's leaves (events from `seq`), comparing every node
    /// the index keeps, and takes the root at the head's length when passing it.
    fn extend_mmr(&mut self, seq: u64, leaves: &[Hash], nodes: &NodeReader<'_>, report: &mut IntegrityReport) {
        let Some(peaks) = self.peaks.as_mut() else { return };
        let author = self.feed.author;
        // The new nodes the index keeps (height >= 6): about one per 32 leaves, so they are
        // listed up front rather than each new node's height worked out.
        let before_size = mmr_size(peaks.leaves());
        let stored: Vec<u64> = stored_positions(before_size, mmr_size(peaks.leaves() + leaves.len() as u64)).collect();
        let mut wrong = Vec::new();
        let mut check = |pos: u64, h: &Hash| {
            if stored.binary_search(&pos).is_ok() && nodes.node(pos).as_ref() != Some(h) {
                wrong.push(pos);
            }
        };
        let n = leaves.len() as u64;
        let at_head = self.head.map(|h| h.length).filter(|&l| l > seq && l <= seq + n);
        let split = at_head.map_or(leaves.len(), |l| (l - seq) as usize);
        let (before, after) = leaves.split_at(split);
        // The leaves of a feed shorter than 2^63 events: the MMR cannot overflow.
        let _ = peaks.extend_with(before, &mut check);
        if at_head.is_some() {
            self.root_at_head = Some(peaks.root());
            let _ = peaks.extend_with(after, &mut check);
        }
        report.problems.extend(wrong.into_iter().map(|pos| IntegrityProblem::Node { author, pos }));
    }

    fn check_head(&self, report: &mut IntegrityReport) {
        let Some(head) = self.head else { return };
        let author = self.feed.author;
        let mut problem = |why| report.problems.push(IntegrityProblem::Head { author, why });
        if head.author != author {
            problem(HeadProblem::Author(head.author));
        } else if let Err(e) = head.verify() {
            problem(HeadProblem::Signature(e));
        } else if let Some(root) = self.root_at_head
            && root != head.root
        {
            problem(HeadProblem::Root { length: head.length });
        }
    }
}

fn index_error(e: redb::Error) -> CheckError {
    CheckError::Io(IoError::index("read page index", e))
}

/// A feed's page rows, read in page order.
struct PageRows {
    range: redb::Range<'static, (u32, u64), &'static [u8]>,
    /// The next row, already read: its page number and the row.
    next: Option<(u64, PageRow)>,
}

impl PageRows {
    /// The row of page `page_no`, if the index has one (called with increasing numbers).
    fn get(&mut self, page_no: u64) -> Result<Option<PageRow>, CheckError> {
        loop {
            match self.next {
                Some((no, row)) if no == page_no => return Ok(Some(row)),
                Some((no, _)) if no > page_no => return Ok(None),
                _ => {}
            }
            let Some(item) = self.range.next() else {
                self.next = None;
                return Ok(None);
            };
            let (k, v) = item.map_err(|e| index_error(e.into()))?;
            let row = PageRow::decode(v.value()).ok_or_else(|| {
                CheckError::Io(IoError::new("read page index", None, std::io::Error::other("malformed page row")))
            })?;
            self.next = Some((k.value().1, row));
        }
    }
}

/// Whether an index row agrees with the page it names: same first seq, and its root is the
/// page tree root over the page's first `count` events (a tail page's row may be older than
/// its last events).
fn row_matches(row: &PageRow, first_seq: u64, leaves: &[Hash]) -> bool {
    let count = row.count as usize;
    row.first_seq == first_seq && leaves.get(..count).is_some_and(|l| page_tree_root(l) == row.root)
}

/// The arrival runs cover each feed's events once, in order, up to its length.
fn check_arrivals(shared: &Shared, feeds: &[Arc<FeedState>], report: &mut IntegrityReport) -> Result<(), CheckError> {
    let lens_before: Vec<u64> = feeds.iter().map(|f| read(&f.inner).len).collect();
    let mut events = Events::new(shared);
    let mut next: HashMap<u32, u64> = HashMap::new();
    for i in 0..events.runs_len() {
        let run = events.run(i).map_err(CheckError::Read)?;
        let at = next.entry(run.feed).or_insert(0);
        let Some(feed) = shared.feed_by_idx(run.feed) else {
            report.problems.push(IntegrityProblem::UnknownFeedInArrivals { run: i });
            continue;
        };
        if run.start != *at || run.end <= run.start {
            report.problems.push(IntegrityProblem::ArrivalOrder {
                author: feed.author,
                expected: *at,
                found: run.start..run.end,
            });
        }
        *at = (*at).max(run.end);
    }
    // Only a store not written meanwhile must have every event in a run.
    let lens_after: Vec<u64> = feeds.iter().map(|f| read(&f.inner).len).collect();
    if lens_before == lens_after {
        for (f, len) in feeds.iter().zip(lens_before) {
            let covered = next.get(&f.idx).copied().unwrap_or(0);
            if covered != len {
                report.problems.push(IntegrityProblem::ArrivalOrder {
                    author: f.author,
                    expected: covered,
                    found: covered..covered,
                });
            }
        }
    }
    Ok(())
}

/// Every fork evidence row, as stored, decodes and proves a fork.
fn check_forks(shared: &Shared, report: &mut IntegrityReport) -> Result<(), CheckError> {
    let rtx = shared.db.begin_read().map_err(|e| CheckError::Io(IoError::index("read index", e)))?;
    match crate::store::forks::load(&rtx) {
        Ok(forks) => {
            for (author, e) in forks {
                if e.verify().is_err() {
                    report.problems.push(IntegrityProblem::ForkEvidence { author: Some(author) });
                }
            }
        }
        Err(crate::store::forks::LoadError::Malformed) => {
            report.problems.push(IntegrityProblem::ForkEvidence { author: None })
        }
        Err(crate::store::forks::LoadError::Index(e)) => return Err(CheckError::Io(IoError::index("read index", e))),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
