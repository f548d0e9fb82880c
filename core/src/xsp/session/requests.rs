//! Range and proof requests: queueing the peer's, verifying the answers to ours.

use super::*;
use crate::event::MAX_PAYLOAD_LEN;
use crate::mmr::{ConsistencyProof, InclusionProof, RangeProof};
use crate::xsp::codec::Reader;
use crate::xsp::error::PageFault;
use crate::xsp::event::{EventBlock, VerifiedProof, VerifiedRange};
use crate::xsp::message::{ProofRequest, ProofResponse, ProofStatus, RangeRequest, RangeResponse};
use crate::xsp::wire_page::{CompactDecoder, write_canonical};

impl<S: FeedSource> Session<S> {
    fn queue_peer_request(&mut self, id: u64, feed: u64, req: PeerRequest) {
        if !self.require(Capabilities::SYNC) {
            return;
        }
        if usize::try_from(feed).ok().is_none_or(|f| f >= self.local.len()) {
            return self.fail(SessionError::UnknownFeed(feed));
        }
        let dup = self.peer_requests.iter().any(|q| match q {
            PeerRequest::Range { id: x, .. } | PeerRequest::Proof { id: x, .. } => *x == id,
        });
        if dup {
            return self.fail(SessionError::DuplicateRequest(id));
        }
        if self.peer_requests.len() >= self.config.limits.max_requests as usize {
            return self.fail(SessionError::TooManyRequests(self.config.limits.max_requests));
        }
        self.peer_requests.push_back(req);
    }

    pub(super) fn on_range_request(&mut self, q: RangeRequest) {
        let feed = u32::try_from(q.feed).unwrap_or(u32::MAX);
        self.queue_peer_request(q.id, q.feed, PeerRequest::Range { id: q.id, feed, mode: q.mode });
    }

    pub(super) fn on_proof_request(&mut self, q: ProofRequest) {
        let feed = u32::try_from(q.feed).unwrap_or(u32::MAX);
        self.queue_peer_request(q.id, q.feed, PeerRequest::Proof { id: q.id, feed, kind: q.kind, a: q.a });
    }

    pub(super) fn on_range_response(&mut self, resp: RangeResponse<'_>) {
        let Some(&OurRequest::Range { feed, mode }) = self.requests.get(&resp.id) else {
            return self.fail(SessionError::UnknownRequest(resp.id));
        };
        self.requests.remove(&resp.id);
        match self.verify_range(feed, mode, &resp) {
            Ok(ev) => self.events.push_back(ev),
            Err(e) => self.fail(e),
        }
        self.sync_dirty = true;
    }

    fn verify_range(&self, feed: u32, mode: RangeMode, resp: &RangeResponse<'_>) -> Result<Event, SessionError> {
        let rf = &self.remote[feed as usize];
        let author = self.remote_authors[feed as usize];
        let head = rf.head;
        let bad = |fault| SessionError::BadPage { author, fault };
        if resp.target != head.length {
            return Err(bad(PageFault::WrongTarget { announced: head.length, got: resp.target }));
        }
        let target = head.length;
        let (start, end) = match mode {
            RangeMode::Range { start, end } => (start.min(target), end.min(target)),
            RangeMode::Latest(n) => (target - n.min(target), target),
        };
        let max = end - start;
        if resp.start != start || resp.count > max || (resp.count == 0 && max > 0) {
            return Err(bad(PageFault::WrongRange));
        }
        let mut block = EventBlock::default();
        let mut dec = CompactDecoder::from_reader(Reader::new(resp.events));
        let max_bytes = self.config.limits.max_bytes;
        for i in 0..resp.count {
            let ev = dec.next_event(MAX_PAYLOAD_LEN).map_err(|e| bad(PageFault::Event(e)))?;
            if (block.bytes.len() + ev.canonical_len()) as u64 > max_bytes && i > 0 {
                return Err(SessionError::FlowControl("RANGE_RESPONSE over the byte window"));
            }
            write_canonical(&mut block.bytes, author, start + i, &ev);
            block.ends.push(
                u32::try_from(block.bytes.len())
                    .map_err(|_| SessionError::FlowControl("RANGE_RESPONSE over the byte window"))?,
            );
        }
        dec.finish().map_err(|e| bad(PageFault::Event(e)))?;
        block.hash_leaves();
        let bad_proof = |what, decode| SessionError::BadProof { author, what, decode };
        let proof = if resp.count == 0 {
            if !resp.proof.is_empty() {
                return Err(bad_proof("an empty range carries a proof", None));
            }
            None
        } else {
            let proof =
                RangeProof::decode(resp.proof).map_err(|e| bad_proof("range proof does not decode", Some(e)))?;
            if proof.start != start || proof.end != start + resp.count || proof.leaves != target {
                return Err(bad_proof("range proof is for another range", None));
            }
            proof.verify(&block.leaves, &head.root).map_err(|error| SessionError::Verification {
                author,
                first_seq: start,
                error,
            })?;
            Some(proof)
        };
        Ok(Event::Range(VerifiedRange { id: resp.id, head, start, events: block, proof }))
    }

    pub(super) fn on_proof_response(&mut self, resp: ProofResponse<'_>) {
        let (feed, kind, a, check) = match self.requests.get(&resp.id) {
            Some(&OurRequest::Proof { feed, kind, a }) => (feed, kind, a, false),
            Some(&OurRequest::ForkCheck { feed, a }) => (feed, ProofKind::Consistency, a, true),
            _ => return self.fail(SessionError::UnknownRequest(resp.id)),
        };
        if kind != resp.kind {
            return self.fail(SessionError::Unexpected("PROOF_RESPONSE of another kind than asked"));
        }
        self.requests.remove(&resp.id);
        self.sync_dirty = true;
        let author = self.remote_authors[feed as usize];
        let head = self.remote[feed as usize].head;
        if resp.target != head.length {
            return self.fail(SessionError::BadPage {
                author,
                fault: PageFault::WrongTarget { announced: head.length, got: resp.target },
            });
        }
        let out_of_range = match kind {
            ProofKind::Inclusion => a >= head.length,
            ProofKind::Consistency => a > head.length,
        };
        match resp.status {
            ProofStatus::OutOfRange if out_of_range && check => return self.fork_checked(feed, a, None),
            ProofStatus::Unavailable if !out_of_range && check => return self.fork_checked(feed, a, None),
            ProofStatus::OutOfRange if out_of_range => {
                return self.events.push_back(Event::RequestFailed { id: resp.id, status: resp.status });
            }
            ProofStatus::Unavailable if !out_of_range => {
                return self.events.push_back(Event::RequestFailed { id: resp.id, status: resp.status });
            }
            ProofStatus::Ok if !out_of_range => {}
            _ => return self.fail(SessionError::Unexpected("PROOF_RESPONSE status contradicts the head")),
        }
        let bad = |what, decode| SessionError::BadProof { author, what, decode };
        match kind {
            ProofKind::Inclusion => {
                let proof = match InclusionProof::decode(resp.proof) {
                    Ok(p) => p,
                    Err(e) => return self.fail(bad("inclusion proof does not decode", Some(e))),
                };
                if proof.leaf_index != a || proof.leaves != head.length {
                    return self.fail(bad("inclusion proof is for another event", None));
                }
                let leaf = resp.leaf.unwrap_or_default();
                if let Err(error) = proof.verify(&leaf, &head.root) {
                    return self.fail(SessionError::Verification { author, first_seq: a, error });
                }
                self.events.push_back(Event::Proof(VerifiedProof::Inclusion {
                    id: resp.id,
                    head,
                    seq: a,
                    leaf,
                    proof,
                }));
            }
            ProofKind::Consistency => {
                let proof = match ConsistencyProof::decode(resp.proof) {
                    Ok(p) => p,
                    Err(e) => return self.fail(bad("consistency proof does not decode", Some(e))),
                };
                if proof.old_leaves != a || proof.new_leaves != head.length {
                    return self.fail(bad("consistency proof is for other lengths", None));
                }
                let old_root = match proof.prefix_root(&head.root) {
                    Ok(r) => r,
                    Err(error) => return self.fail(SessionError::Verification { author, first_seq: a, error }),
                };
                if check {
                    return self.fork_checked(feed, a, Some((old_root, proof)));
                }
                if let Some(ours) = self.our_head_of(&author, a)
                    && ours.root != old_root
                    && a < head.length
                {
                    return self.found_fork(ForkEvidence { first: ours, second: head, proof: Some(proof) }, true);
                }
                self.events.push_back(Event::Proof(VerifiedProof::Consistency {
                    id: resp.id,
                    head,
                    old_len: a,
                    old_root,
                    proof,
                }));
            }
        }
    }
}
