//! A feed's tail page under construction, and how a commit writes it: what is new of it,
//! through the tail log when the write could tear a page holding committed events.

use std::sync::atomic::Ordering;

use xaeroflux_core::page::{PAGE_HEADER_LEN, PageBuilder};

use super::check::check_tail;
use super::meta::Loc;
use super::space::{Space, other};
use super::state::{CHECKED, FeedState, PageWalk, Shared, read};
use super::taillog::PageWrite;
use crate::error::{CorruptReason, IoError};

/// A feed's tail page under construction.
pub(crate) struct Tail {
    pub b: PageBuilder,
    /// Where the page is (set when its first event is pushed).
    pub loc: Option<Loc>,
    /// Event bytes already written at `loc`.
    pub written: usize,
    /// The next write must be the whole page image (the slot may hold other bytes). False
    /// for a fresh slot known to hold zeros (a slot of a segment this process created, never
    /// handed out before): its first write may then be just the header and the events.
    pub full: bool,
    /// The slot holds events of an earlier commit: a write that changes its header goes
    /// through the tail log (see `taillog`).
    pub on_disk: bool,
    /// A record of this page is durable in the tail log's current epoch, so a torn rewrite
    /// of the page can be repaired from the log.
    pub covered: bool,
    pub page_no: u64,
}

impl Tail {
    /// The tail of a feed without pages: its first event starts page 0 in a fresh slot.
    pub(crate) fn empty(config: xaeroflux_core::page::PageConfig, author: xaeroflux_core::AuthorId) -> Self {
        Tail {
            b: PageBuilder::new(config, author, 0),
            loc: None,
            written: 0,
            full: true,
            on_disk: false,
            covered: false,
            page_no: 0,
        }
    }

    /// The tail of a feed whose last page, rebuilt in `b`, is stored at `loc`; `full`: the
    /// next write must be the whole page image (the slot may hold other bytes after it).
    pub(crate) fn stored(b: PageBuilder, loc: Loc, page_no: u64, full: bool) -> Self {
        Tail { written: b.used(), b, loc: Some(loc), full, on_disk: true, covered: false, page_no }
    }
}

/// Builds the tail of a feed from its published last page (after a rollback, or for a feed
/// the writer has not touched yet).
pub(crate) fn load_tail(shared: &Shared, feed: &FeedState) -> Result<Tail, CorruptReason> {
    let inner = read(&feed.inner);
    let Some(last) = inner.pages.last() else {
        return Ok(Tail::empty(shared.config, feed.author));
    };
    let page_no = inner.page_count() - 1;
    let (first_seq, loc, span, len) = (last.first_seq, last.loc, last.span, inner.len);
    let state = last.state.load(Ordering::Acquire);
    drop(inner);
    let bytes = shared.page_bytes(loc, span)?;
    if state != CHECKED {
        check_tail(bytes, &shared.config).map_err(CorruptReason::Page)?;
    }
    let page = super::state::Located { bytes, first_seq, end: len, page_no };
    let mut b = PageBuilder::new(shared.config, feed.author, first_seq);
    for ev in PageWalk::new(&page) {
        b.push(ev).map_err(|_| CorruptReason::Truncated { segment: loc.seg, offset: u64::from(loc.slot) })?;
    }
    if b.next_seq() != len {
        return Err(CorruptReason::Truncated { segment: loc.seg, offset: u64::from(loc.slot) * shared.page_size });
    }
    Ok(Tail::stored(b, loc, page_no, true))
}

/// Writes what is new of a tail page (events, then header), or its whole image. A write
/// that changes the header of a page holding events of an earlier commit is described in
/// the tail log first (see `taillog`).
///
/// With `log_fresh` (the commit's last write under `EachAppend`, when nothing else of it
/// needs a segment `fdatasync`), the first write of a page into a zeroed slot goes through
/// the tail log too: the commit then syncs only the log, not the segment (whose first
/// write into a preallocated extent also commits file-system metadata: 350 µs against
/// 65 µs on the VMs of our benchmarks, once per page of per-event appends).
pub(crate) fn write_tail(
    space: &mut Space,
    shared: &Shared,
    scratch: &mut Vec<u8>,
    tail: &mut Tail,
    log_fresh: bool,
) -> Result<(), IoError> {
    let Some(loc) = tail.loc else { return Ok(()) };
    let off = u64::from(loc.slot) * shared.page_size;
    let used = tail.b.used();
    // A fresh page's first write goes through the log only when nothing on the slot needs
    // overwriting (not `full`) and its record fits: otherwise it is written whole, below.
    let fresh_via_log =
        log_fresh && !tail.on_disk && !tail.full && tail.b.span() == 1 && space.log.has_room(shared.config.page_size());
    if (tail.on_disk || fresh_via_log) && tail.written < used {
        let (at, header, bytes) = if tail.full {
            scratch.resize(tail.b.page_len(), 0);
            tail.b.write_to(scratch).map_err(|_| other("write page", "page image size"))?;
            let (head, rest) = scratch.split_at(PAGE_HEADER_LEN);
            (PAGE_HEADER_LEN, head, rest)
        } else {
            let head = tail.b.growing_header();
            scratch.clear();
            scratch.extend_from_slice(head.as_bytes());
            let body = tail.b.event_bytes().get(tail.written..used).unwrap_or_default();
            (PAGE_HEADER_LEN + tail.written, &scratch[..], body)
        };
        let header: [u8; PAGE_HEADER_LEN] = header.try_into().map_err(|_| other("write page", "page header size"))?;
        let at32 = u32::try_from(at).map_err(|_| other("write page", "offset in page"))?;
        if !space.log.has_room(shared.config.page_size()) {
            return Err(other("write tail log", "no room left for the commit's record"));
        }
        space.log.add(&PageWrite { seg: loc.seg, page_off: off, at: at32, header, bytes });
        space.defer(loc.seg, off + at as u64, bytes);
        space.defer(loc.seg, off, &header);
        space.sync_log_first |= !tail.covered;
        tail.covered = true;
        tail.full = false;
        tail.written = used;
        tail.on_disk = true;
        return Ok(());
    }
    if tail.full || tail.written == 0 {
        scratch.resize(tail.b.page_len(), 0);
        tail.b.write_to(scratch).map_err(|_| other("write page", "page image size"))?;
        space.write(loc.seg, off, scratch)?;
        tail.full = false;
    } else if tail.written < used {
        let body = tail.b.event_bytes().get(tail.written..used).unwrap_or_default();
        space.write(loc.seg, off + (PAGE_HEADER_LEN + tail.written) as u64, body)?;
        space.write(loc.seg, off, tail.b.growing_header().as_bytes())?;
    }
    tail.written = used;
    tail.on_disk = true;
    Ok(())
}
