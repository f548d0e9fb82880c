//! Proving an event of a feed this store does not hold ([`Core::fetch_proof`]): the event and
//! its inclusion proof read from a peer, both verified, ready to be shown to anyone (the
//! proof file of `xf prove`, which `xf verify` checks with no store at all).
//!
//! A fetch of one event (XSP's RANGE_REQUEST, the event with a range proof against the peer's
//! latest signed head) is followed by an inclusion proof of it from the same peer
//! (PROOF_REQUEST), which the session verifies against the head it comes with. The two heads
//! may differ (the feed grew in between); the proof's leaf must be the event's, and the host
//! checks the whole proof again before it is returned.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc as tokio_mpsc;
use tokio::time::Instant;

use xaeroflux_core::mmr::InclusionProof;
use xaeroflux_core::xsp::{ProofStatus, RangeMode, VerifiedProof};
use xaeroflux_core::{AuthorId, EventRef, SignedHead};

use super::driver::Control;
use super::fetch::{
    AbortOnDrop, Answer, FetchError, FetchStep, FetchedEvents, deadline_after, fetch_from, local_answer,
    sessions_to_ask, wait_or_give_up,
};
use super::node::NetInner;
use super::ticket::PeerId;
use crate::Core;
use crate::verify::verify_event;

/// An event read from a peer with its inclusion proof against the author's signed head, both
/// verified: what [`Core::inclusion_proof`] and [`Core::get`] give for a stored feed.
#[derive(Clone, Debug)]
pub struct FetchedProof {
    event: FetchedEvents,
    proof: InclusionProof,
    head: SignedHead,
}

impl FetchedProof {
    /// The peer that sent the event and the proof.
    pub fn peer(&self) -> PeerId {
        self.event.peer()
    }

    /// The event.
    pub fn event(&self) -> EventRef<'_> {
        // A `FetchedProof` is made only from a fetch of exactly one event.
        self.event.iter().next().expect("a fetched proof holds its event")
    }

    /// The inclusion proof of the event in the feed of [`head`](Self::head).
    pub fn proof(&self) -> &InclusionProof {
        &self.proof
    }

    /// The author's signed head the proof leads to.
    pub fn head(&self) -> &SignedHead {
        &self.head
    }
}

impl Core {
    /// Reads event `seq` of `author`'s feed from a connected peer together with its inclusion
    /// proof against the author's signed head, both verified, without storing anything: a
    /// proof of an event of a feed this store does not keep, to show to anyone
    /// ([`xaeroflux_core::proof_file::encode`] writes the proof file `xf verify` checks).
    /// Peers are asked in the order of [`Core::fetch_events`]; blocks until the proof came or
    /// `timeout` passed (`Duration::MAX`: no timeout).
    ///
    /// ```no_run
    /// # use xaeroflux::Core;
    /// # use xaeroflux::net::{NetConfig, Replication};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = NetConfig::default().with_replication(Replication::Followed);
    /// let core = Core::builder().with_sync_backends(&["iroh"]).with_net_config(config).open("reader.db")?;
    /// # let ticket: xaeroflux::net::Ticket = "".parse()?;
    /// # let author = core.author();
    /// core.join_ticket(&ticket)?;
    /// let proved = core.fetch_proof(&author, 3, Duration::from_secs(10))?;
    /// xaeroflux::verify_event(&proved.event(), proved.proof(), proved.head())?; // checks again
    /// println!("event #3 is in the feed of {} events, root {:?}", proved.head().length, proved.head().root);
    /// # Ok(())
    /// # }
    /// ```
    pub fn fetch_proof(&self, author: &AuthorId, seq: u64, timeout: Duration) -> Result<FetchedProof, FetchError> {
        let inner = self.net_slot().inner()?;
        let (author, (done, result)) = (*author, std::sync::mpsc::sync_channel(1));
        drop(inner.handle.clone().spawn(async move {
            let _ = done.send(fetch_proof(inner, author, seq, timeout).await);
        }));
        // No answer: the sync's runtime shut down (the store is closing).
        result.recv().unwrap_or(Err(FetchError::Net(super::NetError::Stopped)))
    }

    /// [`Core::fetch_proof`] for async code, as [`Core::fetch_events_async`] is: a task on the
    /// sync's own threads; dropping the future stops it.
    pub async fn fetch_proof_async(
        &self,
        author: &AuthorId,
        seq: u64,
        timeout: Duration,
    ) -> Result<FetchedProof, FetchError> {
        let inner = self.net_slot().inner()?;
        let task = AbortOnDrop(inner.handle.clone().spawn(fetch_proof(inner, *author, seq, timeout)));
        task.await
    }
}

/// What one session made of a proof.
enum ProofAnswer {
    /// The event and its proof.
    Got(Box<FetchedProof>),
    /// The peer's feed ends before the event (its head's length).
    Short(u64),
    /// The peer could not send the event or the proof.
    Failed(PeerId, ProofStatus),
    /// The event and the proof disagree.
    Inconsistent(PeerId),
    /// The peer did not announce the feed (yet), or the session ended first.
    None,
}

/// [`Core::fetch_proof`] on the running sync `inner`, as a task of the sync's runtime.
async fn fetch_proof(
    inner: Arc<NetInner>,
    author: AuthorId,
    seq: u64,
    timeout: Duration,
) -> Result<FetchedProof, FetchError> {
    let end = seq.checked_add(1).ok_or(FetchError::Empty)?;
    let mode = RangeMode::Range { start: seq, end };
    let deadline = deadline_after(timeout);
    let (mut failed, mut inconsistent, mut short) = (None, None, None);
    loop {
        // As in `fetch`: woken early by any sync event, registered before the sessions are
        // looked at.
        let activity = inner.activity.notified();
        tokio::pin!(activity);
        activity.as_mut().enable();
        for id in sessions_to_ask(&inner, author, mode, deadline).await {
            match prove_from(&inner, id, author, seq, deadline).await? {
                ProofAnswer::Got(proved) => return Ok(*proved),
                ProofAnswer::Short(length) => short = short.max(Some(length)),
                ProofAnswer::Failed(peer, status) => failed = Some((peer, status)),
                ProofAnswer::Inconsistent(peer) => inconsistent = Some(peer),
                ProofAnswer::None => {}
            }
        }
        if let Some(peer) = inconsistent {
            return Err(FetchError::Inconsistent { author, peer });
        }
        if let Some(length) = short {
            return Err(FetchError::OutOfRange { author, seq, length });
        }
        wait_or_give_up(&inner, author, deadline, failed, activity).await?;
    }
}

/// The event `seq` from session `id`, then its inclusion proof from the same session.
async fn prove_from(
    inner: &NetInner,
    id: u64,
    author: AuthorId,
    seq: u64,
    deadline: Instant,
) -> Result<ProofAnswer, FetchError> {
    let mode = RangeMode::Range { start: seq, end: seq + 1 };
    let event = match fetch_from(inner, id, author, mode, deadline).await? {
        Answer::Got(got) if got.seqs() == (seq..seq + 1) => got,
        Answer::Got(got) => return Ok(ProofAnswer::Short(got.head().length)),
        Answer::Failed { peer, status } => return Ok(ProofAnswer::Failed(peer, status)),
        Answer::None => return Ok(ProofAnswer::None),
    };
    let peer = event.peer();
    let (reply, mut answer) = tokio_mpsc::channel(2);
    if !inner.control(id, Control::Prove { author, seq, reply }) {
        return Ok(ProofAnswer::None);
    }
    match tokio::time::timeout(local_answer(deadline), answer.recv()).await {
        Ok(Some(FetchStep::Sent)) => {}
        _ => return Ok(ProofAnswer::None),
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let verified = match tokio::time::timeout(left, answer.recv()).await {
        Ok(Some(FetchStep::Proof(p))) => *p,
        Ok(Some(FetchStep::Failed(status))) => return Ok(ProofAnswer::Failed(peer, status)),
        Ok(_) => return Ok(ProofAnswer::None),
        Err(_) => return Err(FetchError::TimedOut { author, peer }),
    };
    let Some(ev) = event.iter().next() else { return Ok(ProofAnswer::None) };
    let Some((proof, head)) = proof_of(&ev, verified) else { return Ok(ProofAnswer::Inconsistent(peer)) };
    Ok(ProofAnswer::Got(Box::new(FetchedProof { event, proof, head })))
}

/// The inclusion proof and head of `verified` if it proves `ev`. Both were verified against
/// heads the author signed: the proof must be of the event's seq and leaf, and is checked
/// again whole, as anyone shown it will check it; if not, the two heads disagree about the
/// event (a fork) or the peer answered another request.
fn proof_of(ev: &EventRef<'_>, verified: VerifiedProof) -> Option<(InclusionProof, SignedHead)> {
    let VerifiedProof::Inclusion { head, seq, leaf, proof, .. } = verified else { return None };
    let agrees = seq == ev.seq() && leaf == ev.leaf_hash() && verify_event(ev, &proof, &head).is_ok();
    agrees.then_some((proof, head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use xaeroflux_core::mmr::Mmr;
    use xaeroflux_core::{AuthorKey, Event, EventFlags};

    /// `n` events of `key`'s feed, the `fork`th (if any) with another payload, and the MMR.
    fn feed(key: &AuthorKey, n: u64, fork: Option<u64>) -> (Vec<Event>, Mmr) {
        let mut mmr = Mmr::new();
        let events: Vec<Event> = (0..n)
            .map(|s| {
                let payload: &[u8] = if Some(s) == fork { b"the other" } else { b"post" };
                Event::new(key.author(), s, 1_000 + s, 1, EventFlags::NONE, payload)
            })
            .collect();
        for e in &events {
            mmr.append(e.leaf_hash());
        }
        (events, mmr)
    }

    fn inclusion(key: &AuthorKey, events: &[Event], mmr: &Mmr, seq: u64) -> VerifiedProof {
        VerifiedProof::Inclusion {
            id: 1,
            head: key.sign_head(mmr.leaves(), mmr.root()),
            seq,
            leaf: events[seq as usize].leaf_hash(),
            proof: mmr.inclusion_proof(seq).expect("in the feed"),
        }
    }

    #[test]
    fn a_proof_of_the_event_against_a_longer_head_is_kept() {
        let key = AuthorKey::from_secret_bytes(&[3; 32]);
        let (events, mmr) = feed(&key, 20, None);
        // The event may have come with a shorter head; the proof comes with the head of 20.
        let (proof, head) = proof_of(&events[7].as_ref(), inclusion(&key, &events, &mmr, 7)).unwrap();
        assert_eq!((proof.leaves, head.length), (20, 20));
    }

    #[test]
    fn a_proof_of_another_event_at_the_seq_or_of_another_seq_is_refused() {
        let key = AuthorKey::from_secret_bytes(&[3; 32]);
        let (events, _) = feed(&key, 20, None);
        // The author signed a second feed whose event 7 differs: its proof is valid, of
        // another event.
        let (forked, forked_mmr) = feed(&key, 20, Some(7));
        assert!(proof_of(&events[7].as_ref(), inclusion(&key, &forked, &forked_mmr, 7)).is_none());
        let (_, mmr) = feed(&key, 20, None);
        assert!(proof_of(&events[7].as_ref(), inclusion(&key, &events, &mmr, 8)).is_none());
        let head = key.sign_head(mmr.leaves(), mmr.root());
        let consistency = VerifiedProof::Consistency {
            id: 1,
            head,
            old_len: 7,
            old_root: mmr.root(),
            proof: mmr.consistency_proof(7).expect("7 <= 20"),
        };
        assert!(proof_of(&events[7].as_ref(), consistency).is_none());
    }
}
