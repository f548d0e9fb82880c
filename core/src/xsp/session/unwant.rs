//! Taking wants back (UNWANT capability): a side that stops wanting a feed sends UNWANT; the
//! holder stops sending the feed's pages and answers UNWANT_DONE after the last one it sent.
//!
//! The receiver keeps verifying the pages that were on their way (they are valid events of
//! the feed, reported as usual; the host may drop them) and sends no WANT of the feed until
//! the UNWANT_DONE: then any
//! want still active is the one taken back, and ends. If the feed is wanted again by then,
//! it is wanted afresh from what the store holds.

use super::*;
use crate::xsp::message::FeedList;

/// Feed indexes per UNWANT or UNWANT_DONE frame (at most 10 bytes each, in a frame of at
/// least `MIN_FRAME`).
const FEEDS_PER_FRAME: usize = 1024;

impl<S: FeedSource> Session<S> {
    /// Whether UNWANT is in force (both sides offered it).
    pub(super) fn unwant_in_force(&self) -> bool {
        self.peer.as_ref().is_some_and(|p| p.caps.contains(Capabilities::UNWANT))
    }

    /// Takes back the active want of remote feed `r`, if UNWANT is in force; false if not
    /// (the host must close the session to stop it).
    pub(super) fn take_want_back(&mut self, r: u32) -> bool {
        if !self.unwant_in_force() {
            return false;
        }
        let rf = &mut self.remote[r as usize];
        if !rf.unwanting {
            rf.unwanting = true;
            self.unwant_out.push_back(r);
        }
        true
    }

    /// The peer no longer wants these feeds of ours.
    pub(super) fn on_unwant(&mut self, list: FeedList<'_>) {
        if !self.require(Capabilities::SYNC) || !self.require(Capabilities::UNWANT) {
            return;
        }
        let mut stopped = false;
        for feed in list.iter() {
            let Some(lf) = usize::try_from(feed).ok().and_then(|i| self.local.get_mut(i)) else {
                return self.fail(SessionError::UnknownFeed(feed));
            };
            // Its pages leave the serve queue when the queue reaches them.
            stopped |= lf.serving.take().is_some();
            self.unwant_done_out.push_back(feed as u32);
        }
        if !stopped {
            // Nothing was being sent (a want that ended meanwhile is answered too, but counts
            // as chatter, so a peer cannot make us answer forever).
            self.chatter();
        }
    }

    /// The peer sends no more pages of these feeds of its.
    pub(super) fn on_unwant_done(&mut self, list: FeedList<'_>) {
        if !self.require(Capabilities::SYNC) || !self.require(Capabilities::UNWANT) {
            return;
        }
        for feed in list.iter() {
            let Some(r) = u32::try_from(feed).ok().filter(|&r| (r as usize) < self.remote.len()) else {
                return self.fail(SessionError::UnknownFeed(feed));
            };
            let rf = &mut self.remote[r as usize];
            if !rf.unwanting {
                return self.fail(SessionError::Unexpected("UNWANT_DONE for a feed not taken back"));
            }
            rf.unwanting = false;
            if matches!(rf.want, WantState::Active { .. }) {
                rf.want = WantState::Idle;
                rf.peaks = None;
                rf.track = None;
            }
            self.sync_dirty = true;
            // Wanted again meanwhile: the same path as a new head (what the store holds now,
            // fork checks, then the want), as `wants_changed` takes.
            if rf.wanted {
                let head = rf.head;
                self.remote_head(r, head);
            }
        }
        self.update_sync();
    }

    /// The next UNWANT_DONE or UNWANT frame, if one is due.
    pub(super) fn build_unwant(&mut self) -> bool {
        let (queue, done) = if !self.unwant_done_out.is_empty() {
            (&mut self.unwant_done_out, true)
        } else if !self.unwant_out.is_empty() {
            (&mut self.unwant_out, false)
        } else {
            return false;
        };
        let n = queue.len().min(FEEDS_PER_FRAME);
        let mut bytes = core::mem::take(&mut self.scratch);
        bytes.clear();
        let count = FeedList::encode_entries(queue.drain(..n).map(u64::from), &mut bytes);
        if let Ok(list) = FeedList::from_encoded(count, &bytes) {
            self.emit(&if done { Message::UnwantDone(list) } else { Message::Unwant(list) });
        }
        self.scratch = bytes;
        true
    }
}
