//! The redb index: table definitions and the byte layout of their values (all little-endian,
//! versioned; see `docs/storage.md`).

use redb::TableDefinition;
use xaeroflux_core::head::SIGNED_HEAD_LEN;
use xaeroflux_core::mmr::MmrPeaks;
use xaeroflux_core::xsp::ForkEvidence;
use xaeroflux_core::{AuthorId, Hash, SignedHead};

/// Settings and the checkpoint: name → value bytes.
pub(crate) const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");
/// Feeds: feed number → [`FeedRow`].
pub(crate) const FEEDS: TableDefinition<u32, &[u8]> = TableDefinition::new("feeds");
/// Pages: (feed number, page number) → [`PageRow`].
pub(crate) const PAGES: TableDefinition<(u32, u64), &[u8]> = TableDefinition::new("pages");
/// MMR nodes of height [`super::nodes::STORED_MIN_HEIGHT`] and more: (feed number, position)
/// → the node's 32-byte hash.
pub(crate) const NODES: TableDefinition<(u32, u64), &[u8]> = TableDefinition::new("mmr_nodes");
/// Arrival runs: run number → [`Run`].
pub(crate) const RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("arrivals");
/// Fork evidence: author (32 bytes) → [`encode_fork_row`]. Absent from stores that never
/// recorded a fork (it is created by the first record), which read as having none.
pub(crate) const FORKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("forks");

pub(crate) const K_FORMAT: &str = "format_version";
pub(crate) const K_PAGE_SIZE: &str = "page_size";
pub(crate) const K_SEGMENT_PAGES: &str = "segment_pages";
pub(crate) const K_LOCAL_FEED: &str = "local_feed";
pub(crate) const K_FRONTIER: &str = "frontier";
/// The tail log epoch whose records are not yet covered by a checkpoint (absent: 0).
pub(crate) const K_LOG_EPOCH: &str = "tail_log_epoch";

/// A location in the segment files: segment number and page slot within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Loc {
    pub seg: u32,
    pub slot: u32,
}

impl Loc {
    pub(crate) fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.seg.to_le_bytes());
        b[4..].copy_from_slice(&self.slot.to_le_bytes());
        b
    }
    pub(crate) fn decode(b: &[u8]) -> Option<Loc> {
        Some(Loc { seg: u32_at(b, 0)?, slot: u32_at(b, 4)? })
    }
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn arr32(b: &[u8], at: usize) -> Option<[u8; 32]> {
    b.get(at..at + 32)?.try_into().ok()
}

/// One row of the page table (56 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageRow {
    pub first_seq: u64,
    pub loc: Loc,
    pub span: u16,
    pub count: u32,
    pub root: Hash,
}

pub(crate) const PAGE_ROW_LEN: usize = 56;

impl PageRow {
    pub(crate) fn encode(&self) -> [u8; PAGE_ROW_LEN] {
        let mut b = [0u8; PAGE_ROW_LEN];
        b[0..8].copy_from_slice(&self.first_seq.to_le_bytes());
        b[8..16].copy_from_slice(&self.loc.encode());
        b[16..18].copy_from_slice(&self.span.to_le_bytes());
        b[20..24].copy_from_slice(&self.count.to_le_bytes());
        b[24..56].copy_from_slice(&self.root.0);
        b
    }
    pub(crate) fn decode(b: &[u8]) -> Option<PageRow> {
        if b.len() != PAGE_ROW_LEN {
            return None;
        }
        Some(PageRow {
            first_seq: u64_at(b, 0)?,
            loc: Loc::decode(b.get(8..16)?)?,
            span: u16::from_le_bytes(b.get(16..18)?.try_into().ok()?),
            count: u32_at(b, 20)?,
            root: Hash(arr32(b, 24)?),
        })
    }
}

/// One row of the feed table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FeedRow {
    pub author: AuthorId,
    pub local: bool,
    /// Events (MMR leaves).
    pub len: u64,
    /// Pages (the last one may be partial).
    pub pages: u64,
    pub peaks: MmrPeaks,
    /// The latest signed head stored for the feed (other feeds).
    pub head: Option<SignedHead>,
}

const FEED_ROW_VERSION: u8 = 1;
const FEED_FIXED: usize = 61 + SIGNED_HEAD_LEN;

impl FeedRow {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let peaks = self.peaks.peaks();
        let mut b = vec![0u8; FEED_FIXED + 32 * peaks.len()];
        b[0] = FEED_ROW_VERSION;
        b[1] = u8::from(self.local);
        b[4..36].copy_from_slice(self.author.as_bytes());
        b[36..44].copy_from_slice(&self.len.to_le_bytes());
        b[44..52].copy_from_slice(&self.pages.to_le_bytes());
        if let Some(h) = &self.head {
            b[60] = 1;
            b[61..FEED_FIXED].copy_from_slice(&h.encode());
        }
        for (i, p) in peaks.iter().enumerate() {
            b[FEED_FIXED + 32 * i..FEED_FIXED + 32 * (i + 1)].copy_from_slice(&p.0);
        }
        b
    }

    pub(crate) fn decode(b: &[u8]) -> Option<FeedRow> {
        if *b.first()? != FEED_ROW_VERSION || b.len() < FEED_FIXED {
            return None;
        }
        let len = u64_at(b, 36)?;
        let peaks_bytes = b.get(FEED_FIXED..)?;
        if peaks_bytes.len() % 32 != 0 {
            return None;
        }
        let peaks: Vec<Hash> = peaks_bytes.chunks_exact(32).filter_map(|c| c.try_into().ok().map(Hash)).collect();
        let peaks = MmrPeaks::from_parts(len, peaks).ok()?;
        let head = match b.get(60)? {
            0 => None,
            1 => Some(SignedHead::decode(b.get(61..FEED_FIXED)?).ok()?),
            _ => return None,
        };
        Some(FeedRow {
            author: AuthorId(arr32(b, 4)?),
            local: *b.get(1)? == 1,
            len,
            pages: u64_at(b, 44)?,
            peaks,
            head,
        })
    }
}

/// A run of consecutive events of one feed, in local arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub feed: u32,
    pub start: u64,
    pub end: u64,
}

impl Run {
    pub(crate) fn encode(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..4].copy_from_slice(&self.feed.to_le_bytes());
        b[4..12].copy_from_slice(&self.start.to_le_bytes());
        b[12..20].copy_from_slice(&self.end.to_le_bytes());
        b
    }
    pub(crate) fn decode(b: &[u8]) -> Option<Run> {
        if b.len() != 20 {
            return None;
        }
        Some(Run { feed: u32_at(b, 0)?, start: u64_at(b, 4)?, end: u64_at(b, 12)? })
    }
}

const FORK_ROW_VERSION: u8 = 1;

/// A fork table value: version (1), then the evidence as a FORK message body
/// ([`ForkEvidence::encode`]: both signed heads, then the consistency proof as `bytes`).
pub(crate) fn encode_fork_row(e: &ForkEvidence) -> Vec<u8> {
    let body = e.encode();
    let mut b = Vec::with_capacity(1 + body.len());
    b.push(FORK_ROW_VERSION);
    b.extend_from_slice(&body);
    b
}

/// Decodes [`encode_fork_row`]'s bytes (not verified: the evidence was when it was recorded,
/// and the integrity check verifies it again).
pub(crate) fn decode_fork_row(b: &[u8]) -> Option<ForkEvidence> {
    match b.split_first()? {
        (&FORK_ROW_VERSION, body) => ForkEvidence::decode(body).ok(),
        _ => None,
    }
}
