//! Heads, wants, credit, fork handling and the sync status.

use super::*;
use crate::Hash;
use crate::mmr::ConsistencyProof;
use crate::xsp::message::{Fork, HeadList, WantList};

impl<S: FeedSource> Session<S> {
    pub(super) fn on_heads(&mut self, list: HeadList<'_>) {
        let Some(peer) = &self.peer else { return };
        if !self.config.capabilities.contains(Capabilities::SYNC) {
            // Sent optimistically before the peer read our HELLO: skipped.
            return;
        }
        if !peer.caps.contains(Capabilities::SYNC) {
            return self.fail(SessionError::Capability(Capabilities::SYNC));
        }
        self.heads_seen += 1;
        self.sync_dirty = true;
        let mut news = false;
        for head in list.iter() {
            let known = self.remote_idx.get(&head.author).copied();
            if known.is_some_and(|r| self.remote[r as usize].head == head) {
                // The very head announced before (signature included): nothing new.
                continue;
            }
            if head.verify().is_err() {
                return self.fail(SessionError::BadSignature(head.author));
            }
            match known {
                Some(r) => {
                    let prev = self.remote[r as usize].head;
                    if head.length < prev.length {
                        return self.fail(SessionError::HeadRegressed {
                            author: head.author,
                            from: prev.length,
                            to: head.length,
                        });
                    }
                    if head.length == prev.length {
                        if head.root != prev.root {
                            news = true;
                            self.found_fork(ForkEvidence { first: prev, second: head, proof: None }, false);
                        }
                        continue;
                    }
                    news = true;
                    self.remote[r as usize].head = head;
                    self.remote_head(r, head);
                }
                None => {
                    if self.remote.len() >= self.config.limits.max_feeds as usize {
                        return self.fail(SessionError::TooManyFeeds(self.config.limits.max_feeds));
                    }
                    news = true;
                    let r = self.remote.len() as u32;
                    let author = head.author;
                    let wanted = self.source.wants(&author);
                    let have = self.source.prefix(&author).map_or(0, |p| p.leaves());
                    self.remote.push(RemoteFeed {
                        head,
                        wanted,
                        forked: self.forked.contains(&author),
                        have,
                        want: WantState::Idle,
                        peaks: None,
                        track: None,
                        unwanting: false,
                    });
                    self.remote_idx.insert(author, r);
                    self.remote_authors.push(author);
                    self.remote_head(r, head);
                }
            }
            if self.phase != Phase::Open {
                return;
            }
        }
        if !news {
            self.chatter();
        }
    }

    /// A new head `head` for remote feed `r`: fork checks against what we hold, then a want.
    pub(super) fn remote_head(&mut self, r: u32, head: SignedHead) {
        let author = head.author;
        if self.forked.contains(&author) {
            self.remote[r as usize].forked = true;
            return;
        }
        if let Some(evidence) = self.fork_with_ours(&head) {
            return self.found_fork(evidence, true);
        }
        self.events.push_back(Event::RemoteHead(head));
        let rf = &mut self.remote[r as usize];
        if rf.want == (WantState::Active { live: true }) {
            // The peer pushes the new events on this want: extend the claim to them, so that
            // another session of the host hearing the same head from its peer first waits for
            // these instead of fetching them too (whatever the answer, the push comes).
            let _ = self.source.claim_want(&author, head.length);
        }
        if rf.want == WantState::Idle || rf.want == WantState::Deferred {
            // A deferred want is tried again for the longer head.
            rf.want = WantState::Idle;
            let prefix = self.source.prefix(&author);
            let have = prefix.as_ref().map_or(0, |p| p.leaves());
            rf.have = rf.have.max(have);
            if head.length > 0
                && head.length <= have
                && self.source.head(&author).is_none_or(|o| o.length < head.length)
            {
                // We hold the events of this head (a store can hold events past its own
                // head after an interrupted sync): confirm it if its root is theirs.
                let root_at = |s: &S| match &prefix {
                    Some(p) if p.leaves() == head.length => Some(p.root()),
                    Some(p) => s.consistency_proof(&author, head.length, have)?.prefix_root(&p.root()).ok(),
                    None => None,
                };
                if root_at(&self.source) == Some(head.root) {
                    self.events.push_back(Event::HeadConfirmed(head));
                }
            }
            let rf = &self.remote[r as usize];
            if rf.wanted && !rf.forked && rf.have < head.length && self.config.capabilities.contains(Capabilities::SYNC)
            {
                self.want_or_check(r, head);
            }
        }
    }

    /// Queues the want of remote feed `r` (idle, behind its announced `head`). If we hold
    /// events past our complete head, verified against a shorter pending head, the session
    /// first asks the peer to prove that its head extends that pending head: the pages of a
    /// want only prove the events the peer sends, and a fork after the events we hold would
    /// go unnoticed (a fork before them would fail as `VERIFICATION`, blaming an honest peer).
    fn want_or_check(&mut self, r: u32, head: SignedHead) {
        let author = head.author;
        let have = self.remote[r as usize].have;
        let pending = self.source.pending_head(&author).filter(|p| p.length > have && p.length < head.length);
        let room = self.peer.as_ref().is_some_and(|p| self.requests.len() < p.hello.limits.max_requests as usize);
        let rf = &mut self.remote[r as usize];
        match pending {
            Some(p) if room => {
                rf.want = WantState::Checking;
                self.push_request(OurRequest::ForkCheck { feed: r, a: p.length });
            }
            // No room for another request (the application's fill the peer's limit): want at
            // once, as a peer without the check would.
            _ => {
                rf.want = WantState::Queued;
                self.want_queue.push_back(r);
            }
        }
    }

    /// Our signed head of `author` of exactly `length` events: the complete one or the
    /// pending one.
    pub(super) fn our_head_of(&self, author: &AuthorId, length: u64) -> Option<SignedHead> {
        [self.source.head(author), self.source.pending_head(author)].into_iter().flatten().find(|h| h.length == length)
    }

    /// The answer to a [`OurRequest::ForkCheck`] of remote feed `r`: `implied` is the root
    /// at length `a` the peer's proof implies (`None` if it could not make one). A root other
    /// than our head's of that length is a fork; otherwise the want goes out.
    pub(super) fn fork_checked(&mut self, r: u32, a: u64, implied: Option<(Hash, ConsistencyProof)>) {
        let author = self.remote_authors[r as usize];
        let head = self.remote[r as usize].head;
        self.remote[r as usize].want = WantState::Idle;
        self.sync_dirty = true;
        if self.remote[r as usize].forked {
            return;
        }
        if let Some((root, proof)) = implied
            && let Some(ours) = self.our_head_of(&author, a)
            && ours.root != root
        {
            return self.found_fork(ForkEvidence { first: ours, second: head, proof: Some(proof) }, true);
        }
        let rf = &mut self.remote[r as usize];
        if rf.wanted && rf.have < head.length {
            rf.want = WantState::Queued;
            self.want_queue.push_back(r);
        }
    }

    /// Evidence that the peer's `head` contradicts a signed head we hold: the complete head,
    /// or the pending head the events held past it were verified against (a want from those
    /// events could only fail to verify).
    pub(super) fn fork_with_ours(&self, head: &SignedHead) -> Option<ForkEvidence> {
        let author = head.author;
        let ours = [self.source.head(&author), self.source.pending_head(&author)];
        ours.into_iter().flatten().find_map(|ours| {
            if ours.length == head.length && ours.root != head.root {
                return Some(ForkEvidence { first: ours, second: *head, proof: None });
            }
            if ours.length > head.length
                && let Some(proof) = self.source.consistency_proof(&author, head.length, ours.length)
                && proof.prefix_root(&ours.root).is_ok_and(|implied| implied != head.root)
            {
                return Some(ForkEvidence { first: *head, second: ours, proof: Some(proof) });
            }
            None
        })
    }

    /// Reports a fork, stops syncing the author, and tells the peer if we found it.
    pub(super) fn found_fork(&mut self, evidence: ForkEvidence, tell_peer: bool) {
        let author = evidence.author();
        if !self.forked.insert(author) {
            return;
        }
        if let Some(&r) = self.remote_idx.get(&author) {
            let rf = &mut self.remote[r as usize];
            rf.forked = true;
        }
        if let Some(&l) = self.local_idx.get(&author) {
            self.local[l as usize].serving = None;
        }
        self.sync_dirty = true;
        if tell_peer {
            self.forks_out.push_back(evidence.clone());
        }
        self.events.push_back(Event::Fork(evidence));
    }

    pub(super) fn on_fork(&mut self, f: Fork<'_>) {
        let proof = if f.proof.is_empty() {
            None
        } else {
            match ConsistencyProof::decode(f.proof) {
                Ok(p) => Some(p),
                Err(_) => return self.fail(SessionError::BadEvidence("the proof does not decode")),
            }
        };
        let evidence = ForkEvidence { first: f.first, second: f.second, proof };
        if let Err(e) = evidence.verify() {
            return self.fail(SessionError::BadEvidence(match e {
                crate::xsp::ForkEvidenceError::DifferentAuthors => "different authors",
                crate::xsp::ForkEvidenceError::BadSignature => "a signature does not verify",
                crate::xsp::ForkEvidenceError::SameHead => "the heads are equal",
                crate::xsp::ForkEvidenceError::Consistent => "the heads are consistent",
                _ => "the proof does not prove a fork",
            }));
        }
        if self.forked.contains(&evidence.author()) {
            self.chatter();
            return;
        }
        self.found_fork(evidence, false);
    }

    pub(super) fn on_want(&mut self, list: WantList<'_>) {
        if !self.require(Capabilities::SYNC) {
            return;
        }
        let live_ok = self.peer.as_ref().is_some_and(|p| p.caps.contains(Capabilities::LIVE));
        for e in list.iter() {
            let Some(lf) = usize::try_from(e.feed).ok().and_then(|i| self.local.get_mut(i)) else {
                return self.fail(SessionError::UnknownFeed(e.feed));
            };
            if e.live && !live_ok {
                return self.fail(SessionError::Capability(Capabilities::LIVE));
            }
            if lf.serving.is_some() {
                return self.fail(SessionError::Unexpected("WANT for a feed whose want is still active"));
            }
            if e.have > lf.announced.length {
                return self.fail(SessionError::Unexpected("WANT from beyond the announced head"));
            }
            if self.forked.contains(&lf.announced.author) {
                continue;
            }
            if e.have < lf.announced.length || e.live {
                lf.serving = Some(Serving { live: e.live, next: e.have });
                if e.have < lf.announced.length && !lf.queued {
                    lf.queued = true;
                    self.serve.push_back(e.feed as u32);
                }
            }
        }
    }

    pub(super) fn on_credit(&mut self, pages: u64, bytes: u64) {
        if pages > self.tx_out_pages || bytes > self.tx_out_bytes {
            return self.fail(SessionError::FlowControl("CREDIT returns more than is outstanding"));
        }
        if pages == 0 && bytes == 0 && !self.chatter() {
            return;
        }
        self.tx_out_pages -= pages;
        self.tx_out_bytes -= bytes;
    }

    pub(super) fn on_sync_done(&mut self, seen: u64, sent: u64) {
        if !self.require(Capabilities::SYNC) {
            return;
        }
        if seen > self.heads_sent {
            return self.fail(SessionError::Unexpected("SYNC_DONE names HEADS that were never sent"));
        }
        // The stream is ordered: every HEADS frame sent before this SYNC_DONE was read.
        if sent != self.heads_seen {
            return self.fail(SessionError::Unexpected("SYNC_DONE counts other HEADS than were received"));
        }
        if self.peer_done == Some((seen, sent)) && !self.chatter() {
            return;
        }
        self.peer_done = Some((seen, sent));
        self.sync_dirty = true;
    }

    /// Recomputes whether we are caught up and whether both sides are (after any change).
    pub(super) fn update_sync(&mut self) {
        if self.phase != Phase::Open || !self.sync_in_force() {
            return;
        }
        if self.sync_dirty {
            self.sync_dirty = false;
            self.caught_up = self.want_queue.is_empty()
                && self.announce.is_empty()
                && self.remote.iter().all(|r| r.forked || !r.wanted || r.have >= r.head.length);
        }
        let now = (self.heads_seen, self.heads_sent);
        let synced =
            self.caught_up && self.sync_sent == Some(now) && self.peer_done == Some((self.heads_sent, self.heads_seen));
        if synced && !self.synced {
            self.events.push_back(Event::Synced);
            let live = self.config.live && self.peer.as_ref().is_some_and(|p| p.caps.contains(Capabilities::LIVE));
            if !live && self.requests.is_empty() {
                self.synced = true;
                return self.close_with(ErrorCode::NONE, 0, b"synced".to_vec(), None);
            }
        }
        self.synced = synced;
    }

    /// Whether a SYNC_DONE should be sent now.
    pub(super) fn sync_done_due(&self) -> bool {
        self.caught_up && self.sync_in_force() && self.sync_sent != Some((self.heads_seen, self.heads_sent))
    }
}
