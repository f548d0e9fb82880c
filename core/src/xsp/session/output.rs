//! Building the next frame to send, in priority order.

use super::*;
use crate::xsp::message::{self, ErrorMsg, HeadList, ProofRequest, RangeRequest, WantEntry, WantList, head_len, ty};
use crate::xsp::varint;

impl<S: FeedSource> Session<S> {
    /// Largest frame we may send now.
    pub(super) fn frame_limit(&self) -> u64 {
        self.peer.as_ref().map_or(MIN_FRAME, |p| p.hello.limits.max_frame)
    }

    /// The size ordinary frames aim at.
    pub(super) fn frame_budget(&self) -> usize {
        (self.frame_limit().min(self.config.target_frame as u64) as usize).max(MIN_FRAME as usize / 4)
    }

    /// Produces the next frame into `self.out`; false if there is nothing to send (and the
    /// output buffer is then empty, so the previous frame is never sent twice).
    pub(super) fn next_frame(&mut self) -> bool {
        self.out.clear();
        self.out_pos = 0;
        let built = self.build_next_frame();
        if !built {
            self.out.clear();
        }
        built
    }

    fn build_next_frame(&mut self) -> bool {
        match self.phase {
            Phase::Closed => return false,
            Phase::Closing => {
                let (code, detail, reason) = self.close_frame.take().unwrap_or((ErrorCode::NONE, 0, Vec::new()));
                self.emit(&Message::Error(ErrorMsg { code: code.0, detail, reason: &reason }));
                self.phase = Phase::Closed;
                return true;
            }
            Phase::Open => {}
        }
        if !self.hello_sent {
            self.hello_sent = true;
            let hello = Hello {
                min_version: VERSION,
                max_version: VERSION,
                role: self.role,
                capabilities: self.config.capabilities,
                space: self.config.space,
                page_size: self.config.page_size,
                limits: self.config.limits,
                idle_ms: self.config.idle_timeout_us / 1000,
                incarnation: self.config.incarnation,
            };
            self.emit(&Message::Hello(hello));
            return true;
        }
        if !self.announce.is_empty() && self.build_heads() {
            return true;
        }
        if self.sync_dirty {
            // Announcements were skipped (the peer announced those very heads), or something
            // else changed whether we are caught up: decide now, so a SYNC_DONE due goes out
            // below and `Synced` is reported without waiting for the peer's next frame.
            self.update_sync();
            if self.phase != Phase::Open {
                return self.build_next_frame();
            }
        }
        if self.peer.is_none() {
            return false;
        }
        if self.pong_due {
            self.pong_due = false;
            self.emit(&Message::Pong);
            return true;
        }
        if let Some(f) = self.forks_out.pop_front() {
            let proof = f.proof_bytes();
            self.emit(&Message::Fork(message::Fork { first: f.first, second: f.second, proof: &proof }));
            return true;
        }
        if self.credit_ready() {
            let (pages, bytes) = self.credit_due;
            self.credit_due = (0, 0);
            self.rx_out_pages -= pages;
            self.rx_out_bytes -= bytes;
            self.emit(&Message::Credit { pages, bytes });
            return true;
        }
        if self.build_unwant() {
            return true;
        }
        if !self.want_queue.is_empty() && self.build_want() {
            return true;
        }
        if let Some(id) = self.request_queue.pop_front()
            && let Some(req) = self.requests.get(&id).copied()
        {
            {
                match req {
                    OurRequest::Range { feed, mode } => {
                        self.emit(&Message::RangeRequest(RangeRequest { id, feed: u64::from(feed), mode }))
                    }
                    OurRequest::Proof { feed, kind, a } => {
                        self.emit(&Message::ProofRequest(ProofRequest { id, feed: u64::from(feed), kind, a }))
                    }
                    OurRequest::ForkCheck { feed, a } => self.emit(&Message::ProofRequest(ProofRequest {
                        id,
                        feed: u64::from(feed),
                        kind: ProofKind::Consistency,
                        a,
                    })),
                }
                return true;
            }
        }
        if let Some((channel, data)) = self.app_out.pop_front() {
            self.app_bytes -= data.len();
            self.emit(&Message::App { channel, data: &data });
            return true;
        }
        if self.sync_done_due() {
            let state = (self.heads_seen, self.heads_sent);
            self.sync_sent = Some(state);
            self.emit(&Message::SyncDone { heads_seen: state.0, heads_sent: state.1 });
            return true;
        }
        if let Some(req) = self.peer_requests.pop_front() {
            return match self.build_response(req) {
                Ok(()) => true,
                Err(e) => {
                    self.fail(e);
                    self.next_frame()
                }
            };
        }
        if !self.serve.is_empty() {
            match self.build_pages() {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => {
                    self.fail(e);
                    return self.next_frame();
                }
            }
        }
        if self.ping_due {
            self.ping_due = false;
            self.emit(&Message::Ping);
            return true;
        }
        false
    }

    /// Whether to return credit now: half a window, or everything outstanding.
    fn credit_ready(&self) -> bool {
        let (p, b) = self.credit_due;
        if p == 0 && b == 0 {
            return false;
        }
        let l = &self.config.limits;
        p * 2 >= l.max_pages || b * 2 >= l.max_bytes || (p == self.rx_out_pages && b == self.rx_out_bytes)
    }

    /// Encodes a small message as the current output frame.
    pub(super) fn emit(&mut self, msg: &Message<'_>) {
        self.out.buf.clear();
        self.out.buf.resize(varint::MAX_VARINT_LEN, 0);
        msg.encode(&mut self.out.buf);
        self.out.finish();
    }

    fn build_heads(&mut self) -> bool {
        let budget = if self.peer.is_none() { MIN_FRAME as usize } else { self.frame_budget() };
        let max_feeds = self.peer.as_ref().map_or(MIN_FEEDS, |p| p.hello.limits.max_feeds) as usize;
        let mut entries = core::mem::take(&mut self.scratch);
        entries.clear();
        let mut count = 0u64;
        // Whatever leaves the queue changes whether we are caught up (it requires an empty
        // queue), even when it is skipped rather than sent.
        self.sync_dirty = true;
        while let Some(&author) = self.announce.front() {
            let head = self.source.head(&author);
            let known = self.local_idx.get(&author).copied();
            let skip = match (&head, known) {
                (None, _) => true,
                _ if self.forked.contains(&author) => true,
                (Some(h), Some(i)) => h.length <= self.local[i as usize].announced.length,
                (Some(h), None) => {
                    h.length == 0
                        || self.remote_idx.get(&author).is_some_and(|&r| {
                            let rh = &self.remote[r as usize].head;
                            rh.length == h.length && rh.root == h.root
                        })
                }
            };
            let Some(head) = head.filter(|_| !skip) else {
                self.announce.pop_front();
                self.announce_set.remove(&author);
                continue;
            };
            if known.is_none() && self.local.len() >= max_feeds {
                if self.peer.is_none() {
                    break; // the rest once the peer's HELLO says how many it takes
                }
                self.announce.pop_front();
                self.announce_set.remove(&author);
                continue;
            }
            if 12 + entries.len() + head_len(&head) > budget {
                break;
            }
            self.announce.pop_front();
            self.announce_set.remove(&author);
            message::write_head(&mut entries, &head);
            count += 1;
            match known {
                Some(i) => {
                    let lf = &mut self.local[i as usize];
                    lf.announced = head;
                    if let Some(sv) = lf.serving
                        && sv.next < head.length
                        && !lf.queued
                    {
                        lf.queued = true;
                        self.serve.push_back(i);
                    }
                }
                None => {
                    self.local_idx.insert(author, self.local.len() as u32);
                    self.local_authors.push(author);
                    self.local.push(LocalFeed { announced: head, serving: None, queued: false });
                }
            }
        }
        let built = count > 0;
        if built {
            let list = HeadList::from_encoded(count as usize, &entries);
            if let Ok(list) = list {
                self.emit(&Message::Heads(list));
            }
            self.heads_sent += 1;
            self.sync_dirty = true;
        }
        self.scratch = entries;
        built
    }

    fn build_want(&mut self) -> bool {
        let budget = self.frame_budget();
        let live = self.config.live && self.peer.as_ref().is_some_and(|p| p.caps.contains(Capabilities::LIVE));
        let mut entries: Vec<WantEntry> = Vec::new();
        let mut size = 12;
        while let Some(&r) = self.want_queue.front() {
            if size + 24 > budget {
                break;
            }
            self.want_queue.pop_front();
            let author = self.remote_authors[r as usize];
            let rf = &self.remote[r as usize];
            if rf.forked || rf.want != WantState::Queued {
                continue;
            }
            if rf.unwanting {
                // Wanted again before the peer confirmed the UNWANT: wanted afresh then.
                self.remote[r as usize].want = WantState::Idle;
                continue;
            }
            let peaks = self.source.prefix(&author).unwrap_or_default();
            let have = peaks.leaves();
            let rf = &mut self.remote[r as usize];
            rf.have = rf.have.max(have);
            if have >= rf.head.length {
                rf.want = WantState::Idle;
                continue;
            }
            let length = rf.head.length;
            if !self.source.claim_want(&author, length) {
                self.remote[r as usize].want = WantState::Deferred;
                continue;
            }
            let rf = &mut self.remote[r as usize];
            rf.want = WantState::Active { live };
            rf.peaks = Some(peaks);
            rf.have = have;
            rf.track = None;
            let e = WantEntry { feed: u64::from(r), have, live };
            size += varint::len(e.feed) + varint::len(e.have) + 1;
            entries.push(e);
        }
        self.sync_dirty = true;
        if entries.is_empty() {
            return false;
        }
        let mut bytes = core::mem::take(&mut self.scratch);
        bytes.clear();
        let n = WantList::encode_entries(&entries, &mut bytes);
        if let Ok(list) = WantList::from_encoded(n, &bytes) {
            self.emit(&Message::Want(list));
        }
        self.scratch = bytes;
        true
    }
}

#[allow(unused_imports)]
use ty as _;
