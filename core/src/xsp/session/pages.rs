//! Receiving PAGES: rebuild canonical events, check the page structure and the flow
//! window, verify against the signed head, report.

use super::*;
use crate::event::MAX_PAYLOAD_LEN;
use crate::mmr::{ConsistencyProof, verify_extension};
use crate::page::PAGE_HEADER_LEN;
use crate::xsp::codec::Reader;
use crate::xsp::error::PageFault;
use crate::xsp::event::{BatchPage, EventBlock, VerifiedBatch};
use crate::xsp::message::Pages;
use crate::xsp::wire_page::{CompactDecoder, write_canonical};

const HEADER: u64 = PAGE_HEADER_LEN as u64;

struct Decoded {
    block: EventBlock,
    pages: Vec<BatchPage>,
    end: u64,
    track: PageTrack,
    cost: (u64, u64),
}

/// Page units a page share of `bytes` canonical bytes costs.
pub(super) fn page_cost(bytes: u64, page_size: u64) -> u64 {
    (HEADER + bytes).div_ceil(page_size).max(1)
}

impl<S: FeedSource> Session<S> {
    pub(super) fn on_pages(&mut self, p: Pages<'_>) {
        if !self.require(Capabilities::SYNC) {
            return;
        }
        let Some(r) = usize::try_from(p.feed).ok().filter(|&r| r < self.remote.len()) else {
            return self.fail(SessionError::UnknownFeed(p.feed));
        };
        let WantState::Active { live } = self.remote[r].want else {
            return self.fail(SessionError::Unexpected("PAGES for a feed with no active WANT"));
        };
        let decoded = match self.decode_pages(r, &p) {
            Ok(d) => d,
            Err(e) => return self.fail(e),
        };
        let author = self.remote_authors[r];
        self.rx_out_pages += decoded.cost.0;
        self.rx_out_bytes += decoded.cost.1;
        let rf = &self.remote[r];
        if rf.forked {
            // The feed was refused after the want went out: drop, but return the credit.
            self.credit_due.0 += decoded.cost.0;
            self.credit_due.1 += decoded.cost.1;
            return;
        }
        let head = rf.head;
        let Some(mut peaks) = rf.peaks.clone() else {
            return self.fail(SessionError::Internal("active want without verified peaks"));
        };
        let verification = |error| SessionError::Verification { author, first_seq: p.first_seq, error };
        let mut batch_proof = None;
        if decoded.end == p.target {
            if !p.proof.is_empty() {
                return self.fail(SessionError::BadProof {
                    author,
                    what: "a batch that reaches the head carries a proof",
                    decode: None,
                });
            }
            match verify_extension(&peaks, &decoded.block.leaves, &head.root) {
                Ok(np) => peaks = np,
                Err(e) => return self.fail(verification(e)),
            }
        } else {
            if p.proof.is_empty() {
                return self.fail(SessionError::BadProof {
                    author,
                    what: "a batch that ends before the head has no consistency proof",
                    decode: None,
                });
            }
            let proof = match ConsistencyProof::decode(p.proof) {
                Ok(proof) => proof,
                Err(e) => {
                    return self.fail(SessionError::BadProof {
                        author,
                        what: "consistency proof does not decode",
                        decode: Some(e),
                    });
                }
            };
            if proof.old_leaves != decoded.end || proof.new_leaves != p.target {
                return self.fail(SessionError::BadProof {
                    author,
                    what: "consistency proof is not from the batch end to the head",
                    decode: None,
                });
            }
            if peaks.extend_from_slice(&decoded.block.leaves).is_err() {
                return self.fail(verification(crate::mmr::ProofError::TooManyLeaves(decoded.end)));
            }
            if let Err(e) = proof.verify(&peaks.root(), &head.root) {
                return self.fail(verification(e));
            }
            batch_proof = Some(proof);
        }
        let complete = decoded.end == head.length;
        let rf = &mut self.remote[r];
        rf.have = decoded.end;
        rf.track = Some(decoded.track);
        rf.peaks = Some(peaks.clone());
        if complete && !live {
            rf.want = WantState::Idle;
            rf.peaks = None;
            rf.track = None;
        }
        self.sync_dirty = true;
        self.events.push_back(Event::Verified(VerifiedBatch {
            head,
            first_seq: p.first_seq,
            events: decoded.block,
            peaks,
            pages: decoded.pages,
            complete,
            proof: batch_proof,
            cost: decoded.cost,
        }));
    }

    fn decode_pages(&self, r: usize, p: &Pages<'_>) -> Result<Decoded, SessionError> {
        let rf = &self.remote[r];
        let author = self.remote_authors[r];
        let bad = |fault| SessionError::BadPage { author, fault };
        let page_size = self.peer.as_ref().map_or(u64::from(self.config.page_size), |x| u64::from(x.pages.page_size()));
        if p.target != rf.head.length {
            return Err(bad(PageFault::WrongTarget { announced: rf.head.length, got: p.target }));
        }
        if p.first_seq != rf.have {
            return Err(bad(PageFault::WrongFirstSeq { expected: rf.have, got: p.first_seq }));
        }
        // Where the stream stands: continue the current page or start the next one.
        let (mut page, mut in_page, mut used, mut prev_used) = match rf.track {
            Some(t) if p.first_page == t.page => {
                if p.page_offset != t.events {
                    return Err(bad(PageFault::WrongPageOffset { expected: t.events, got: p.page_offset }));
                }
                (t.page, t.events, t.used, None)
            }
            Some(t) if Some(p.first_page) == t.page.checked_add(1) => {
                if p.page_offset != 0 {
                    return Err(bad(PageFault::WrongPageOffset { expected: 0, got: p.page_offset }));
                }
                (p.first_page, 0, Some(0), t.used)
            }
            Some(t) => {
                return Err(bad(PageFault::WrongPageNumber { expected: t.page.saturating_add(1), got: p.first_page }));
            }
            None => {
                // The first frame of a want: its page numbers cannot be checked against the
                // stream yet, only against the seqs (every earlier page holds an event).
                let Some(before) = p.first_seq.checked_sub(p.page_offset) else {
                    return Err(bad(PageFault::WrongPageOffset { expected: p.first_seq, got: p.page_offset }));
                };
                if p.first_page > before || (p.first_page == 0) != (before == 0) {
                    return Err(bad(PageFault::WrongPageNumber {
                        expected: before.min(p.first_page),
                        got: p.first_page,
                    }));
                }
                (p.first_page, p.page_offset, (p.page_offset == 0).then_some(0), None)
            }
        };
        let limits = &self.config.limits;
        let nothing_out = self.rx_out_pages == 0 && self.rx_out_bytes == 0;
        let mut block = EventBlock::default();
        block.bytes.reserve(p.section.len().min(limits.max_bytes as usize));
        let mut pages = Vec::new();
        let mut dec = CompactDecoder::from_reader(Reader::new(p.section));
        let mut seq = p.first_seq;
        let (mut cost_pages, mut cost_bytes) = (0u64, 0u64);
        for i in 0..p.page_count {
            if i > 0 {
                prev_used = used;
                page = page.checked_add(1).ok_or(bad(PageFault::PageCount))?;
                in_page = 0;
                used = Some(0);
            }
            if dec.remaining() == 0 {
                return Err(bad(PageFault::PageCount));
            }
            let count = dec.page_count(u64::from(u32::MAX)).map_err(|e| bad(PageFault::Event(e)))?;
            let start = block.len();
            let offset = in_page;
            let mut part = 0u64;
            for k in 0..count {
                let ev = dec.next_event(MAX_PAYLOAD_LEN).map_err(|e| bad(PageFault::Event(e)))?;
                let len = ev.canonical_len() as u64;
                if k == 0
                    && offset == 0
                    && let Some(pu) = prev_used
                    && HEADER + pu + len <= page_size
                {
                    return Err(bad(PageFault::PackingRule { page: page - 1 }));
                }
                in_page += 1;
                part += len;
                used = used.map(|u| u + len);
                if in_page >= 2 && HEADER + used.unwrap_or(part) > page_size {
                    return Err(bad(PageFault::Overfull { page }));
                }
                if seq >= p.target {
                    return Err(bad(PageFault::PastTarget { end: seq.saturating_add(1), target: p.target }));
                }
                let bytes = cost_bytes + part;
                if self.rx_out_bytes + bytes > limits.max_bytes && !(nothing_out && i == 0) {
                    return Err(SessionError::FlowControl("PAGES over the byte window"));
                }
                write_canonical(&mut block.bytes, author, seq, &ev);
                let end = u32::try_from(block.bytes.len())
                    .map_err(|_| SessionError::FlowControl("PAGES over the byte window"))?;
                block.ends.push(end);
                seq += 1;
            }
            cost_pages += page_cost(part, page_size);
            cost_bytes += part;
            if self.rx_out_pages + cost_pages > limits.max_pages && !(nothing_out && i == 0) {
                return Err(SessionError::FlowControl("PAGES over the page window"));
            }
            pages.push(BatchPage { page, offset, events: start..block.len() });
        }
        dec.finish().map_err(|e| bad(PageFault::Event(e)))?;
        block.hash_leaves();
        Ok(Decoded {
            block,
            pages,
            end: seq,
            track: PageTrack { page, events: in_page, used },
            cost: (cost_pages, cost_bytes),
        })
    }
}
