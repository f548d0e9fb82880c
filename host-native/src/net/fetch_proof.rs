//! Proofs about feeds this store does not hold, from peers: an event and its inclusion proof
//! ([`Core::fetch_proof`]), both verified, ready to be shown to anyone (the proof file of `xf
//! prove`, which `xf verify` checks with no store at all); and a newer head of a feed with the
//! proof that it extends one seen before ([`Core::fetch_consistency`]).
//!
//! A proof of one event is a read of it (XSP's RANGE_REQUEST: the event with a range proof
//! against the peer's latest signed head, verified by the session): the range's leaf and the
//! range proof's nodes are every node the event's inclusion path needs, so the inclusion proof
//! is derived from them ([`RangeProof::inclusion_proof`], checked against the head's root),
//! with no second request; an event read before is proved so from memory. A consistency proof
//! is XSP's PROOF_REQUEST, verified by the session against the head it comes with.
//!
//! [`RangeProof::inclusion_proof`]: xaeroflux_core::mmr::RangeProof::inclusion_proof

use std::sync::Arc;
use std::time::Duration;

use xaeroflux_core::mmr::{ConsistencyProof, InclusionProof};
use xaeroflux_core::xsp::{ForkEvidence, ProofKind, RangeMode, VerifiedProof};
use xaeroflux_core::{AuthorId, EventRef, SignedHead};

use super::driver::Control;
use super::fetch::{
    AbortOnDrop, FetchError, FetchStep, FetchedEvents, Misses, answer, deadline_after, fetch, send, sessions_to_ask,
    wait_for_task, wait_or_give_up,
};
use super::node::NetInner;
use super::ticket::PeerId;
use crate::Core;
use crate::verify::verify_consistency;

/// An event read from a peer with its inclusion proof against the author's signed head, both
/// verified: what [`Core::inclusion_proof`] and [`Core::get`] give for a stored feed.
#[derive(Clone, Debug)]
pub struct FetchedProof {
    event: FetchedEvents,
    proof: InclusionProof,
    head: SignedHead,
}

impl FetchedProof {
    /// `event` (exactly one) with its verified `proof` against `head`.
    pub(super) fn new(event: FetchedEvents, proof: InclusionProof, head: SignedHead) -> Self {
        FetchedProof { event, proof, head }
    }

    /// Whether the event and its proof came from what earlier reads verified (the proof
    /// derived from the range proof the event came with) rather than from a peer just now.
    pub fn from_cache(&self) -> bool {
        self.event.from_cache()
    }

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

/// A newer signed head of a feed with the proof that it extends an older one
/// ([`Core::fetch_consistency`]): the author did not rewrite what the older head signed.
#[derive(Clone, Debug)]
pub struct FetchedConsistency {
    peer: PeerId,
    head: SignedHead,
    proof: ConsistencyProof,
}

impl FetchedConsistency {
    /// The peer that sent the head and the proof.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// The peer's latest signed head of the feed (at least as long as the older one).
    pub fn head(&self) -> &SignedHead {
        &self.head
    }

    /// The proof that the older head's feed is a prefix of [`head`](Self::head)'s
    /// ([`verify_consistency`](crate::verify_consistency) checks it).
    pub fn proof(&self) -> &ConsistencyProof {
        &self.proof
    }
}

impl Core {
    /// Reads event `seq` of `author`'s feed from a connected peer together with its inclusion
    /// proof against the author's signed head, both verified, without storing anything: a
    /// proof of an event of a feed this store does not keep, to show to anyone
    /// ([`xaeroflux_core::proof_file::encode`] writes the proof file `xf verify` checks).
    /// Peers are asked in the order of [`Core::fetch_events`]; blocks until the proof came or
    /// `timeout` passed (`Duration::MAX`: no timeout). An event an earlier read verified and
    /// still kept ([`NetConfig::with_fetch_cache`](super::NetConfig::with_fetch_cache)) is
    /// proved at once from the range proof it came with, against the head it was verified
    /// with, with no peer asked ([`FetchedEvents::prove`]; [`FetchedProof::from_cache`]).
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
        if let Some(proved) = proved_from_cache(&inner, author, seq) {
            return Ok(proved);
        }
        let handle = inner.handle.clone();
        wait_for_task(&handle, fetch_proof(inner, *author, seq, timeout))
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
        if let Some(proved) = proved_from_cache(&inner, author, seq) {
            return Ok(proved);
        }
        let task = AbortOnDrop(inner.handle.clone().spawn(fetch_proof(inner, *author, seq, timeout)));
        task.await
    }
}

impl Core {
    /// Asks a connected peer for its latest signed head of `old`'s feed and the proof that it
    /// extends `old` (XSP's consistency proof), both verified: a head seen before (last week's
    /// [`FetchedEvents::head`], one from a proof file) is checked against the feed as it is
    /// now, without storing the feed. If the author signed a head that disagrees with `old`
    /// (a fork), the answer is [`FetchError::Forked`] with the checked evidence, which
    /// [`Core::record_fork`] keeps (nothing is recorded on its own). Peers are asked longest head
    /// first; one whose feed is shorter than `old` cannot prove it
    /// ([`FetchError::Failed`] with [`ProofStatus::OutOfRange`](xaeroflux_core::xsp::ProofStatus::OutOfRange) if none can). Blocks until the
    /// proof came or `timeout` passed (`Duration::MAX`: no timeout).
    ///
    /// ```no_run
    /// # use xaeroflux::Core;
    /// # use xaeroflux::net::Fetch;
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let core = Core::builder().with_sync_backends(&["iroh"]).open("reader.db")?;
    /// # let author = core.author();
    /// let seen = core.fetch_events(&author, Fetch::Latest(20), Duration::from_secs(10))?.head().clone();
    /// // ... later: the feed grew, and still holds what `seen` signed.
    /// let now = core.fetch_consistency(&seen, Duration::from_secs(10))?;
    /// xaeroflux::verify_consistency(&seen, now.head(), now.proof())?; // checks again
    /// # Ok(())
    /// # }
    /// ```
    pub fn fetch_consistency(&self, old: &SignedHead, timeout: Duration) -> Result<FetchedConsistency, FetchError> {
        let inner = self.net_slot().inner()?;
        let handle = inner.handle.clone();
        wait_for_task(&handle, fetch_consistency(inner, *old, timeout))
    }

    /// [`Core::fetch_consistency`] for async code, as [`Core::fetch_events_async`] is.
    pub async fn fetch_consistency_async(
        &self,
        old: &SignedHead,
        timeout: Duration,
    ) -> Result<FetchedConsistency, FetchError> {
        let inner = self.net_slot().inner()?;
        let task = AbortOnDrop(inner.handle.clone().spawn(fetch_consistency(inner, *old, timeout)));
        task.await
    }
}

/// [`Core::fetch_consistency`] on the running sync `inner`, as a task of the sync's runtime.
async fn fetch_consistency(
    inner: Arc<NetInner>,
    old: SignedHead,
    timeout: Duration,
) -> Result<FetchedConsistency, FetchError> {
    old.verify().map_err(FetchError::BadHead)?;
    let (author, deadline) = (old.author, deadline_after(timeout));
    let (mut misses, mut inconsistent) = (Misses::default(), None);
    loop {
        let activity = inner.activity.notified();
        tokio::pin!(activity);
        activity.as_mut().enable();
        // The newest head is the one worth proving against: longest first.
        for id in sessions_to_ask(&inner, author, RangeMode::Latest(1), deadline, &misses).await {
            let Some(peer) = inner.session_peer(id) else { continue };
            let (kind, a) = (ProofKind::Consistency, old.length);
            let Some(proofs) = send(&inner, id, deadline, |reply| Control::Prove { author, kind, a, reply }).await
            else {
                continue;
            };
            match answer(&inner, proofs, deadline, author, peer).await {
                Ok(Some(FetchStep::Proof(verified))) => match consistency_with(&old, *verified) {
                    Consistency::Extends(head, proof) => return Ok(FetchedConsistency { peer, head, proof }),
                    Consistency::Forked(evidence) => return Err(FetchError::Forked { peer, evidence }),
                    Consistency::Unrelated => inconsistent = Some(peer),
                },
                Ok(Some(FetchStep::Failed(status))) => misses.refused(FetchError::Failed { author, peer, status }),
                Ok(_) => {}
                Err(silent) => misses.stalled(id, silent),
            }
        }
        if let Some(peer) = inconsistent {
            return Err(FetchError::Inconsistent { author, peer });
        }
        wait_or_give_up(&inner, author, deadline, &mut misses, activity).await?;
    }
}

/// What a verified consistency proof says about the older head asked about.
enum Consistency {
    /// The peer's head extends it.
    Extends(SignedHead, ConsistencyProof),
    /// The peer's head, signed by the same author, holds something else where the older head
    /// ends: checked fork evidence.
    Forked(Box<ForkEvidence>),
    /// The proof is not about the older head (a faulty peer).
    Unrelated,
}

/// Reads `verified` as an answer about `old`: the session checked the proof against the newer
/// head, so the prefix's root it implies is what the author signed at `old`'s length; the
/// host checks the whole again as anyone shown it will check it.
fn consistency_with(old: &SignedHead, verified: VerifiedProof) -> Consistency {
    let VerifiedProof::Consistency { head, old_len, old_root, proof, .. } = verified else {
        return Consistency::Unrelated;
    };
    if old_len != old.length || head.author != old.author {
        return Consistency::Unrelated;
    }
    if old_root == old.root {
        return match verify_consistency(old, &head, &proof) {
            Ok(()) => Consistency::Extends(head, proof),
            Err(_) => Consistency::Unrelated,
        };
    }
    match ForkEvidence::from_consistency(*old, head, proof) {
        Some(evidence) => Consistency::Forked(Box::new(evidence)),
        None => Consistency::Unrelated,
    }
}

/// Event `seq` of `author`'s feed proved from what earlier reads verified, if they kept it.
fn proved_from_cache(inner: &NetInner, author: &AuthorId, seq: u64) -> Option<FetchedProof> {
    let one = RangeMode::Range { start: seq, end: seq.checked_add(1)? };
    inner.cached(author, one, None)?.prove(seq)
}

/// [`Core::fetch_proof`] on the running sync `inner`, as a task of the sync's runtime: a read
/// of the one event (peers asked as by any read), its inclusion proof derived from the range
/// proof it came with.
async fn fetch_proof(
    inner: Arc<NetInner>,
    author: AuthorId,
    seq: u64,
    timeout: Duration,
) -> Result<FetchedProof, FetchError> {
    let end = seq.checked_add(1).ok_or(FetchError::Empty)?;
    let got = fetch(inner, author, RangeMode::Range { start: seq, end }, timeout).await?;
    // An answer without the event: the longest feed of the peers that answered ends before it.
    got.prove(seq).ok_or(FetchError::OutOfRange { author, seq, length: got.head().length })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xaeroflux_core::mmr::Mmr;
    use xaeroflux_core::{AuthorKey, Event, EventFlags, Hash};

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

    fn consistency(key: &AuthorKey, old_len: u64, old_root: Hash, mmr: &Mmr) -> VerifiedProof {
        VerifiedProof::Consistency {
            id: 1,
            head: key.sign_head(mmr.leaves(), mmr.root()),
            old_len,
            old_root,
            proof: mmr.consistency_proof(old_len).expect("a prefix"),
        }
    }

    #[test]
    fn a_newer_head_that_extends_the_older_is_kept_and_one_that_forks_is_evidence() {
        let key = AuthorKey::from_secret_bytes(&[5; 32]);
        let (_, short) = feed(&key, 12, None);
        let old = key.sign_head(12, short.root());
        let (_, long) = feed(&key, 30, None);
        let Consistency::Extends(head, _) = consistency_with(&old, consistency(&key, 12, old.root, &long)) else {
            panic!("a feed that extends the older head")
        };
        assert_eq!(head.length, 30);
        // Another history of 30 events whose event 3 differs: the prefix of 12 it implies (and
        // the session checked) is not `old`'s.
        let (forked_events, forked) = feed(&key, 30, Some(3));
        let mut prefix = Mmr::new();
        for e in &forked_events[..12] {
            prefix.append(e.leaf_hash());
        }
        let Consistency::Forked(evidence) = consistency_with(&old, consistency(&key, 12, prefix.root(), &forked))
        else {
            panic!("two histories")
        };
        assert_eq!((evidence.first, evidence.second.length), (old, 30));
        assert!(evidence.proof.is_some() && evidence.verify().is_ok());
        // Two roots signed for one length: evidence without a proof.
        let Consistency::Forked(evidence) = consistency_with(&old, consistency(&key, 12, prefix.root(), &prefix))
        else {
            panic!("two roots for one length")
        };
        assert!(evidence.proof.is_none() && evidence.verify().is_ok());
        // A proof from another length, of another author's feed, or of inclusion, is not one.
        assert!(matches!(consistency_with(&old, consistency(&key, 11, old.root, &long)), Consistency::Unrelated));
        let other = AuthorKey::from_secret_bytes(&[6; 32]);
        let (_, theirs) = feed(&other, 30, None);
        let prefix_root = theirs.consistency_proof(12).and_then(|p| p.prefix_root(&theirs.root())).expect("a prefix");
        let answer = consistency(&other, 12, prefix_root, &theirs);
        assert!(matches!(consistency_with(&old, answer), Consistency::Unrelated));
        let (events, mmr) = feed(&key, 30, None);
        assert!(matches!(consistency_with(&old, inclusion(&key, &events, &mmr, 3)), Consistency::Unrelated));
    }
}
