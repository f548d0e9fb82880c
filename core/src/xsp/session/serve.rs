//! Serving: PAGES for active wants, and answers to range and proof requests.

use super::pages::page_cost;
use super::*;
use crate::event::EventRef;
use crate::page::PageRef;
use crate::xsp::message::{ProofResponse, ProofStatus, RangeResponse, ty, write_pages_header};
use crate::xsp::varint;
use crate::xsp::wire_page::CompactEncoder;

/// Room kept in a frame for its header and a proof (an MMR proof is at most ~130 hashes).
const PROOF_RESERVE: usize = 4096 + 64;

/// Reads page `page` of `author` and calls `f` with each event with seq in `from..to`.
/// Returns whether the page exists and parses.
pub(super) fn read_events<S: FeedSource>(
    source: &S,
    pages: &PageConfig,
    author: &AuthorId,
    page: u64,
    from: u64,
    to: u64,
    f: &mut dyn FnMut(EventRef<'_>),
) -> Result<u64, SessionError> {
    let mut ok = false;
    let mut last = None;
    let checksum_verified = source.pages_checksum_verified();
    let found = source.with_page(author, page, &mut |img| {
        let parsed =
            if checksum_verified { PageRef::parse_checksum_verified(img, pages) } else { PageRef::parse(img, pages) };
        if let Ok(p) = parsed {
            ok = p.author() == *author;
            last = Some(p.end_seq());
            if ok {
                for ev in p.events().filter(|e| e.seq() >= from && e.seq() < to) {
                    f(ev);
                }
            }
        }
    });
    match (found && ok, last) {
        (true, Some(end)) => Ok(end),
        _ => Err(SessionError::Internal("a page of an announced feed cannot be read")),
    }
}

impl<S: FeedSource> Session<S> {
    /// One PAGES frame for the first feed in the serve queue; false if credit is exhausted.
    pub(super) fn build_pages(&mut self) -> Result<bool, SessionError> {
        let Some(peer) = &self.peer else { return Ok(false) };
        let limits = peer.hello.limits;
        let frame_limit = limits.max_frame as usize;
        let i = loop {
            let Some(&i) = self.serve.front() else { return Ok(false) };
            let lf = &mut self.local[i as usize];
            match lf.serving {
                Some(sv) if sv.next < lf.announced.length => break i,
                Some(sv) if !sv.live => lf.serving = None,
                Some(_) => {}
                None => {}
            }
            lf.queued = false;
            self.serve.pop_front();
        };
        let author = self.local_authors[i as usize];
        let lf = &self.local[i as usize];
        let target = lf.announced.length;
        let Some(sv) = lf.serving else { return Ok(false) };
        let avail_pages = limits.max_pages.saturating_sub(self.tx_out_pages);
        let avail_bytes = limits.max_bytes.saturating_sub(self.tx_out_bytes);
        let nothing_out = self.tx_out_pages == 0 && self.tx_out_bytes == 0;
        if !nothing_out && (avail_pages == 0 || avail_bytes == 0) {
            return Ok(false);
        }
        let budget = self.frame_budget().saturating_sub(PROOF_RESERVE).max(1024);
        let page_size = u64::from(self.pages.page_size());
        let (first_page, page_first) =
            self.source.locate(&author, sv.next).ok_or(SessionError::Internal("cannot locate an announced event"))?;
        if page_first > sv.next {
            return Err(SessionError::Internal("the store located an event in a later page"));
        }
        let mut section = core::mem::take(&mut self.scratch);
        let mut tmp = core::mem::take(&mut self.page_tmp);
        section.clear();
        let mut page = first_page;
        let mut seq = sv.next;
        let (mut n_pages, mut cost_pages, mut cost_bytes) = (0u64, 0u64, 0u64);
        let result = loop {
            if seq >= target {
                break Ok(());
            }
            tmp.clear();
            let mut enc = CompactEncoder::new();
            let (mut count, mut part) = (0u64, 0u64);
            let page_end = match read_events(&self.source, &self.pages, &author, page, seq, target, &mut |ev| {
                enc.encode(&mut tmp, ev);
                count += 1;
                part += ev.encoded().len() as u64;
            }) {
                Ok(end) => end,
                Err(e) => break Err(e),
            };
            if count == 0 {
                break Err(SessionError::Internal("a page holds none of the events it should"));
            }
            let c = page_cost(part, page_size);
            let fits_window = cost_pages + c <= avail_pages && cost_bytes + part <= avail_bytes;
            let first = n_pages == 0;
            if !(fits_window || first && nothing_out) {
                break Ok(());
            }
            let add = varint::len(count) + tmp.len();
            if !first && section.len() + add > budget {
                break Ok(());
            }
            if first && section.len() + add + PROOF_RESERVE > frame_limit {
                break Err(SessionError::Internal("a page does not fit in the peer's frame limit"));
            }
            varint::push(&mut section, count);
            section.extend_from_slice(&tmp);
            n_pages += 1;
            cost_pages += c;
            cost_bytes += part;
            seq += count;
            if !fits_window || seq < page_end.min(target) {
                break Ok(()); // a lone over-window page, or the page was cut at the target
            }
            page += 1;
        };
        self.page_tmp = tmp;
        if let Err(e) = result {
            self.scratch = section;
            return Err(e);
        }
        if n_pages == 0 {
            self.scratch = section;
            return Ok(false);
        }
        let proof = if seq < target {
            match self.source.consistency_proof(&author, seq, target) {
                Some(p) => p.encode(),
                None => {
                    self.scratch = section;
                    return Err(SessionError::Internal("cannot build a consistency proof"));
                }
            }
        } else {
            Vec::new()
        };
        let out = &mut self.out.buf;
        out.clear();
        out.resize(varint::MAX_VARINT_LEN, 0);
        out.push(ty::PAGES);
        write_pages_header(out, u64::from(i), target, sv.next, first_page, sv.next - page_first, &proof);
        varint::push(out, n_pages);
        out.extend_from_slice(&section);
        self.out.finish();
        self.scratch = section;
        self.tx_out_pages += cost_pages;
        self.tx_out_bytes += cost_bytes;
        let lf = &mut self.local[i as usize];
        if let Some(s) = lf.serving.as_mut() {
            s.next = seq;
        }
        self.serve.pop_front();
        if seq < target {
            self.serve.push_back(i);
        } else {
            lf.queued = false;
            if !sv.live {
                lf.serving = None;
            }
        }
        Ok(true)
    }

    /// Answers one queued request of the peer.
    pub(super) fn build_response(&mut self, req: PeerRequest) -> Result<(), SessionError> {
        match req {
            PeerRequest::Range { id, feed, mode } => self.build_range_response(id, feed, mode),
            PeerRequest::Proof { id, feed, kind, a } => self.build_proof_response(id, feed, kind, a),
        }
    }

    fn build_range_response(&mut self, id: u64, feed: u32, mode: RangeMode) -> Result<(), SessionError> {
        let author = self.local_authors[feed as usize];
        let target = self.local[feed as usize].announced.length;
        let (start, end) = match mode {
            RangeMode::Range { start, end } => (start.min(target), end.min(target)),
            RangeMode::Latest(n) => (target - n.min(target), target),
        };
        let max_bytes = self.peer.as_ref().map_or(0, |p| p.hello.limits.max_bytes);
        let budget = self.frame_budget().saturating_sub(PROOF_RESERVE).max(1024);
        let mut events = core::mem::take(&mut self.scratch);
        events.clear();
        let mut enc = CompactEncoder::new();
        let (mut seq, mut canon) = (start, 0u64);
        let mut full = false;
        while seq < end && !full {
            let (page, _) = self.source.locate(&author, seq).ok_or(SessionError::Internal("cannot locate an event"))?;
            let before = seq;
            read_events(&self.source, &self.pages, &author, page, seq, end, &mut |ev| {
                let len = ev.encoded().len() as u64;
                if full || (seq > start && (events.len() + enc.encoded_len(ev) > budget || canon + len > max_bytes)) {
                    full = true;
                    return;
                }
                enc.encode(&mut events, ev);
                canon += len;
                seq += 1;
            })?;
            if seq == before && !full {
                self.scratch = events;
                return Err(SessionError::Internal("a page holds none of the events it should"));
            }
        }
        let count = seq - start;
        let proof = if count > 0 {
            match self.source.range_proof(&author, target, start, seq) {
                Some(p) => p.encode(),
                None => {
                    self.scratch = events;
                    return Err(SessionError::Internal("cannot build a range proof"));
                }
            }
        } else {
            Vec::new()
        };
        self.emit(&Message::RangeResponse(RangeResponse { id, target, start, count, proof: &proof, events: &events }));
        self.scratch = events;
        Ok(())
    }

    fn build_proof_response(&mut self, id: u64, feed: u32, kind: ProofKind, a: u64) -> Result<(), SessionError> {
        let author = self.local_authors[feed as usize];
        let target = self.local[feed as usize].announced.length;
        let mut resp = ProofResponse { id, kind, status: ProofStatus::Ok, target, leaf: None, proof: &[] };
        let bytes;
        match kind {
            ProofKind::Inclusion if a >= target => resp.status = ProofStatus::OutOfRange,
            ProofKind::Consistency if a > target => resp.status = ProofStatus::OutOfRange,
            ProofKind::Inclusion => {
                let mut leaf = None;
                if let Some((page, _)) = self.source.locate(&author, a) {
                    read_events(&self.source, &self.pages, &author, page, a, a + 1, &mut |ev| {
                        leaf = Some(ev.leaf_hash())
                    })?;
                }
                match (leaf, self.source.inclusion_proof(&author, target, a)) {
                    (Some(l), Some(p)) => {
                        bytes = p.encode();
                        resp.leaf = Some(l);
                        resp.proof = &bytes;
                    }
                    _ => resp.status = ProofStatus::Unavailable,
                }
            }
            ProofKind::Consistency => match self.source.consistency_proof(&author, a, target) {
                Some(p) => {
                    bytes = p.encode();
                    resp.proof = &bytes;
                }
                None => resp.status = ProofStatus::Unavailable,
            },
        }
        self.emit(&Message::ProofResponse(resp));
        Ok(())
    }
}
