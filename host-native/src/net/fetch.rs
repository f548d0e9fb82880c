//! Reading a feed from peers without storing it ([`Core::fetch_events`]), and choosing the
//! feeds sync keeps ([`Core::follow`], with [`Replication::Followed`](super::Replication)).
//!
//! A fetch is XSP's sparse read (RANGE_REQUEST): the peer sends the events with a range proof
//! against its latest signed head of the feed, and the session verifies both before the
//! events reach the caller. Nothing fetched is stored: the store holds a feed only as a
//! verified prefix, which sync fills for the feeds it keeps. What was fetched is kept in
//! memory for a while ([`FetchCache`](xaeroflux_core::xsp::FetchCache)), so a second read of it
//! asks no peer.

use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::futures::Notified;
use tokio::sync::{mpsc as tokio_mpsc, oneshot};
use tokio::time::Instant;

use xaeroflux_core::head::HeadError;
use xaeroflux_core::xsp::{ForkEvidence, ProofStatus, RangeMode, VerifiedProof, VerifiedRange};
use xaeroflux_core::{AuthorId, EventRef, SignedHead};

use super::config::NetError;
use super::driver::Control;
use super::fetch_proof::FetchedProof;
use super::follow::{Follows, Replication};
use super::node::NetInner;
use super::ticket::PeerId;
use crate::Core;
use crate::store::state::lock;

mod kept;
pub(crate) use kept::{KeptJob, KeptReads, fuzz_kept_file};

/// Where a session sends what became of one sparse read: [`FetchStep::Sent`] or
/// [`FetchStep::NotSent`] at once, then (if sent) the answer.
pub(crate) type FetchReply = tokio_mpsc::Sender<FetchStep>;

/// Where a session sends the length of its peer's head of a feed (`None`: not announced).
pub(crate) type LengthReply = oneshot::Sender<Option<u64>>;

/// What a session reports of a sparse read.
#[derive(Debug)]
pub(crate) enum FetchStep {
    /// The request went to the peer (which announced the feed).
    Sent,
    /// The request could not be sent ([`RequestError`](xaeroflux_core::xsp::RequestError)):
    /// the peer did not announce the feed, the session is not open yet, or as many requests
    /// are outstanding as the peer allows. The fetch asks the next peer (and, failing all,
    /// every peer again after a while).
    NotSent,
    /// The verified events.
    Events(Box<VerifiedRange>),
    /// The verified proof ([`Control::Prove`]).
    Proof(Box<VerifiedProof>),
    /// The peer could not answer ([`ProofStatus::Unavailable`]: its store failed to read
    /// the events or make the proof).
    Failed(ProofStatus),
}

/// How long a session may take to say whether it sent a request (at most what is left of the
/// fetch's timeout): it only has to take the request from its queue, but may be busy
/// verifying a large frame.
const LOCAL_ANSWER: Duration = Duration::from_secs(5);
/// ... but at least this long, even when the fetch's own timeout is nearly over.
const LOCAL_ANSWER_MIN: Duration = Duration::from_millis(20);

/// A deadline too far away to matter (about thirty years).
const FOREVER: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// How long a fetch waits before looking at the sessions again when none could answer (a
/// session that learns of a feed reports no event the fetch could wait for).
const RETRY: Duration = Duration::from_millis(100);

/// Which events of a feed to fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetch {
    /// The events with these seqs (or as many of them as the peer's feed holds).
    Seqs(Range<u64>),
    /// The last `n` events of the peer's feed (all of them if it holds fewer).
    Latest(u64),
}

/// Events of a feed read from a peer, verified against the author's signed head, not stored.
///
/// Cloning is cheap: the events are shared, not copied.
#[derive(Clone, Debug)]
pub struct FetchedEvents {
    peer: PeerId,
    head: SignedHead,
    start: u64,
    len: u64,
    /// The verified answers, in seq order, each with the head and range proof it was verified
    /// with; the events shown are `len` of them after the first `skip` (a read answered from a
    /// larger cached one).
    blocks: Arc<Vec<VerifiedRange>>,
    skip: u64,
    cached: bool,
}

impl FetchedEvents {
    /// Seqs `seqs` of these events (which hold them all), as the answer to a read made later:
    /// marked as [`FetchedEvents::from_cache`].
    fn part(&self, seqs: Range<u64>) -> FetchedEvents {
        debug_assert!(self.start <= seqs.start && seqs.end <= self.start + self.len);
        FetchedEvents {
            start: seqs.start,
            len: seqs.end - seqs.start,
            skip: self.skip + (seqs.start - self.start),
            cached: true,
            ..self.clone()
        }
    }

    /// The size of the events' canonical bytes and of the proofs kept with them (what the
    /// cache counts).
    fn byte_len(&self) -> usize {
        self.blocks.iter().map(VerifiedRange::byte_len).sum()
    }

    /// Event `seq` (one of these) with its inclusion proof against the signed head it was
    /// verified with, derived from the range proof it came with: no peer is asked, and the
    /// answer is what [`Core::fetch_proof`] gives (a proof to show anyone, as the proof file
    /// of `xf prove`). `None` if `seq` is not among [`seqs`](Self::seqs).
    ///
    /// ```no_run
    /// # use xaeroflux::Core;
    /// # use xaeroflux::net::Fetch;
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let core = Core::builder().with_sync_backends(&["iroh"]).open("reader.db")?;
    /// # let author = core.author();
    /// let posts = core.fetch_events(&author, Fetch::Seqs(100..120), Duration::from_secs(10))?;
    /// let proved = posts.prove(107).expect("one of the posts read");
    /// xaeroflux::verify_event(&proved.event(), proved.proof(), proved.head())?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn prove(&self, seq: u64) -> Option<FetchedProof> {
        if !self.seqs().contains(&seq) {
            return None;
        }
        let block = self.blocks.iter().find(|r| r.seqs().contains(&seq))?;
        let proof = block.inclusion_proof(seq)?;
        let head = block.head;
        // The event as part of these events (not marked as a cached read of them).
        let event = FetchedEvents { head, cached: self.cached, ..self.part(seq..seq + 1) };
        Some(FetchedProof::new(event, proof, head))
    }

    /// The peer that sent them.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// Whether they came from the events earlier reads verified
    /// ([`NetConfig::with_fetch_cache`](super::NetConfig::with_fetch_cache)) rather than
    /// from a peer just now. They are the same events either way, verified against
    /// [`FetchedEvents::head`] when they first came.
    pub fn from_cache(&self) -> bool {
        self.cached
    }

    /// The author's signed head they were proved against (the peer's latest when the last of
    /// them came; a fetch that took several messages proved the earlier ones against heads
    /// no longer than this, of the same feed).
    pub fn head(&self) -> &SignedHead {
        &self.head
    }

    /// The seqs of the events: what was asked, cut to what the peer's feed holds.
    pub fn seqs(&self) -> Range<u64> {
        self.start..self.start + self.len
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are none (the peer's feed ends before the seqs asked for).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The events in seq order.
    pub fn iter(&self) -> impl Iterator<Item = EventRef<'_>> + '_ {
        // Whole blocks before the first event shown are passed over without parsing them.
        let mut skip = usize::try_from(self.skip).unwrap_or(usize::MAX);
        let first = self.blocks.iter().position(|b| {
            let inside = skip < b.events.len();
            if !inside {
                skip -= b.events.len();
            }
            inside
        });
        let blocks = first.map_or(&self.blocks[..0], |i| &self.blocks[i..]);
        let len = usize::try_from(self.len).unwrap_or(usize::MAX);
        blocks.iter().flat_map(|b| b.events.iter()).skip(skip).take(len)
    }
}

/// Why [`Core::fetch_events`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum FetchError {
    /// Sync is not running, or stopped.
    Net(NetError),
    /// An empty range, or `Latest(0)`.
    Empty,
    /// No connected peer announced the feed before the timeout.
    NotFound {
        /// The feed.
        author: AuthorId,
    },
    /// The peers that announced the feed could not send the events (the last one's answer).
    Failed {
        /// The feed.
        author: AuthorId,
        /// The peer.
        peer: PeerId,
        /// Its answer ([`ProofStatus::Unavailable`]: its store could not read them).
        status: ProofStatus,
    },
    /// A peer announced the feed but did not answer before the timeout (the last peer asked
    /// that did not answer within the fetch patience, when no other peer could answer).
    TimedOut {
        /// The feed.
        author: AuthorId,
        /// The peer asked.
        peer: PeerId,
    },
    /// [`Core::fetch_proof`]: the feeds of the peers that answered end before the seq asked
    /// for.
    OutOfRange {
        /// The feed.
        author: AuthorId,
        /// The seq asked for.
        seq: u64,
        /// The longest of those peers' feeds.
        length: u64,
    },
    /// [`Core::fetch_consistency`]: a peer's proof was not about the older head given (a
    /// faulty peer), and no other peer proved it.
    Inconsistent {
        /// The feed.
        author: AuthorId,
        /// The peer.
        peer: PeerId,
    },
    /// [`Core::fetch_consistency`]: the older head given is not validly signed.
    BadHead(HeadError),
    /// [`Core::fetch_consistency`]: the author signed a head that does not extend the older
    /// one (the author forked). The evidence is checked ([`ForkEvidence::verify`]): both heads
    /// and, for heads of different lengths, the peer's proof that its feed holds something
    /// else where the older head's ends. Anyone can check it again;
    /// [`Core::record_fork`](crate::Core::record_fork) keeps it and stops syncing the feed.
    Forked {
        /// The peer whose head and proof show the fork.
        peer: PeerId,
        /// The older head given (`first`), the peer's head (`second`) and the proof.
        evidence: Box<ForkEvidence>,
    },
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Net(e) => write!(f, "{e}"),
            Self::Empty => f.write_str("nothing to fetch (an empty range)"),
            Self::NotFound { author } => write!(f, "no connected peer holds the feed {author}"),
            Self::Failed { author, peer, status } => {
                write!(f, "peer {peer} could not send the events of {author} ({status:?})")
            }
            Self::TimedOut { author, peer } => write!(f, "peer {peer} did not send the events of {author} in time"),
            Self::OutOfRange { author, seq, length } => {
                write!(f, "no event #{seq} in the feed of {author}: the peers hold {length} events")
            }
            Self::BadHead(e) => write!(f, "the older head: {e}"),
            Self::Inconsistent { author, peer } => write!(
                f,
                "peer {peer} sent a proof about the feed of {author} that disagrees with what was asked (the author forked, or the peer is faulty)"
            ),
            Self::Forked { peer, evidence } => write!(
                f,
                "the author {} forked: peer {peer} holds a signed head of length {} that does not extend the one of length {}",
                evidence.first.author, evidence.second.length, evidence.first.length
            ),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Net(e) => Some(e),
            Self::BadHead(e) => Some(e),
            _ => None,
        }
    }
}

impl From<NetError> for FetchError {
    fn from(e: NetError) -> Self {
        FetchError::Net(e)
    }
}

impl Core {
    /// Reads events of `author`'s feed from a connected peer, verified against the author's
    /// signed head (a range proof), without storing them: for feeds this store does not keep
    /// (see [`Replication::Followed`](super::Replication::Followed)), or parts of a feed not
    /// downloaded yet. Blocks the calling thread until the events came or `timeout` passed.
    ///
    /// The peers asked are those of open sessions that announced the feed; if none has yet (a
    /// ticket just joined), the fetch waits for one until the timeout. For [`Fetch::Seqs`],
    /// the peers whose announced head reaches the last seq asked for come first (the one that
    /// sent this store the most first), then the others, longest head first: a peer whose
    /// feed ends early sends fewer events, and the next peer is asked; the answer is the
    /// first that holds them all, or else the one that holds the most
    /// ([`FetchedEvents::seqs`] says which). [`Fetch::Latest`] asks the peer with the longest
    /// head first (a peer that is behind would answer with older events). A
    /// range larger than one XSP frame comes in several messages, each verified.
    ///
    /// ```no_run
    /// # use xaeroflux::Core;
    /// # use xaeroflux::net::{Fetch, NetConfig, Replication};
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = NetConfig::default().with_replication(Replication::Followed);
    /// let core = Core::builder().with_sync_backends(&["iroh"]).with_net_config(config).open("reader.db")?;
    /// # let ticket: xaeroflux::net::Ticket = "".parse()?;
    /// # let author = core.author();
    /// core.join_ticket(&ticket)?;
    /// // The 20 latest posts of a feed this store does not keep.
    /// let latest = core.fetch_events(&author, Fetch::Latest(20), Duration::from_secs(10))?;
    /// for e in latest.iter() {
    ///     println!("{} {:?}", e.seq(), e.payload());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn fetch_events(
        &self,
        author: &AuthorId,
        which: Fetch,
        timeout: Duration,
    ) -> Result<FetchedEvents, FetchError> {
        let inner = self.net_slot().inner()?;
        let (author, mode) = (*author, range_mode(which)?);
        // Seqs read before: answered here, without a hop to the sync's threads.
        if let Some(hit) = inner.cached(&author, mode, None) {
            return Ok(hit);
        }
        let handle = inner.handle.clone();
        wait_for_task(&handle, fetch(inner, author, mode, timeout))
    }

    /// [`Core::fetch_events`] for async code: the same fetch, run as a task on the sync's own
    /// threads, so that awaiting it never blocks the caller's executor (any executor: the
    /// future only needs to be polled). Any number may run at once; dropping the future stops
    /// the fetch.
    pub async fn fetch_events_async(
        &self,
        author: &AuthorId,
        which: Fetch,
        timeout: Duration,
    ) -> Result<FetchedEvents, FetchError> {
        let inner = self.net_slot().inner()?;
        let (author, mode) = (*author, range_mode(which)?);
        if let Some(hit) = inner.cached(&author, mode, None) {
            return Ok(hit);
        }
        let task = AbortOnDrop(inner.handle.clone().spawn(fetch(inner, author, mode, timeout)));
        task.await
    }

    /// Drops every answer of reads on demand kept for later reads
    /// ([`NetConfig::with_fetch_cache`](super::NetConfig::with_fetch_cache)), in memory and on
    /// disk ([`NetConfig::with_fetch_cache_on_disk`](super::NetConfig::with_fetch_cache_on_disk)):
    /// later reads ask a peer again. Returns how many answers were dropped. With sync running
    /// the files go in the background, before sync stops; with the store opened without sync,
    /// they are deleted before this returns.
    ///
    /// ```no_run
    /// # use xaeroflux::Core;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let core = Core::builder().with_sync_backends(&["iroh"]).open("reader.db")?;
    /// let dropped = core.clear_fetch_cache()?; // say, the user asked to forget what they read
    /// println!("{dropped} answers forgotten");
    /// # Ok(())
    /// # }
    /// ```
    pub fn clear_fetch_cache(&self) -> Result<usize, NetError> {
        let inner = match self.net_slot().inner() {
            Ok(inner) => inner,
            Err(NetError::NotRunning) => {
                return kept::KeptReads::new(self.path())
                    .remove_all()
                    .map_err(|source| NetError::Io { op: "delete kept reads", source });
            }
            Err(e) => return Err(e),
        };
        let mut cache = lock(&inner.fetch_cache);
        let dropped = cache.clear();
        let n = dropped.len();
        inner.drop_kept(dropped);
        Ok(n)
    }

    /// Follows `author`: with [`Replication::Followed`](super::Replication::Followed), sync
    /// fetches and keeps the author's feed from now on (at once from the peers already
    /// connected). The list of followed authors is kept in the store (`net.follows`) before
    /// this returns, and may be changed while sync is not running too (the store opened
    /// without sync backends). Returns whether the author was not followed already.
    pub fn follow(&self, author: &AuthorId) -> Result<bool, NetError> {
        self.set_follow(author, true)
    }

    /// Stops following `author`: sync no longer fetches the feed (the events stored stay). A
    /// session whose peer is pushing it live takes the want back (XSP's UNWANT) and goes on;
    /// with a peer that cannot (an older version), the session is closed and a new one is
    /// opened without it. Returns whether the author was followed.
    pub fn unfollow(&self, author: &AuthorId) -> Result<bool, NetError> {
        self.set_follow(author, false)
    }

    /// The followed authors, in byte order.
    pub fn followed(&self) -> Result<Vec<AuthorId>, NetError> {
        match self.net_slot().inner() {
            Ok(inner) => Ok(inner.follows.list()),
            Err(NetError::NotRunning) => Ok(Follows::load(self.path(), Replication::All)?.list()),
            Err(e) => Err(e),
        }
    }

    fn set_follow(&self, author: &AuthorId, on: bool) -> Result<bool, NetError> {
        match self.net_slot().inner() {
            Ok(inner) => {
                let changed = inner.follows.set(self.path(), *author, on)?;
                if changed {
                    inner.wants_changed(*author);
                }
                Ok(changed)
            }
            Err(NetError::NotRunning) => Follows::set_in_file(self.path(), *author, on),
            Err(e) => Err(e),
        }
    }
}

/// Runs `task` on the sync's runtime (`handle`) and blocks the calling thread until it is done.
pub(super) fn wait_for_task<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    task: impl Future<Output = Result<T, FetchError>> + Send + 'static,
) -> Result<T, FetchError> {
    let (done, result) = mpsc::sync_channel(1);
    drop(handle.spawn(async move {
        let _ = done.send(task.await);
    }));
    // No answer: the sync's runtime shut down (the store is closing).
    result.recv().unwrap_or(Err(FetchError::Net(NetError::Stopped)))
}

/// A task of the sync's runtime that stops when no one awaits it any more.
pub(super) struct AbortOnDrop<T>(pub(super) tokio::task::JoinHandle<Result<T, FetchError>>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, FetchError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| {
            // Not joined: the sync's runtime shut down (the store is closing).
            joined.unwrap_or(Err(FetchError::Net(NetError::Stopped)))
        })
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The kind of range request `which` asks for.
fn range_mode(which: Fetch) -> Result<RangeMode, FetchError> {
    match which {
        Fetch::Seqs(r) if r.start < r.end => Ok(RangeMode::Range { start: r.start, end: r.end }),
        Fetch::Latest(n) if n > 0 => Ok(RangeMode::Latest(n)),
        _ => Err(FetchError::Empty),
    }
}

/// [`Core::fetch_events`] on the running sync `inner`, as a task of the sync's runtime: a
/// fetch waits only on channels and timers, so any number run at once without holding a
/// thread.
pub(super) async fn fetch(
    inner: Arc<NetInner>,
    author: AuthorId,
    mode: RangeMode,
    timeout: Duration,
) -> Result<FetchedEvents, FetchError> {
    let deadline = deadline_after(timeout);
    let mut misses = Misses::default();
    loop {
        // Woken early by any sync event (a peer connected, heads came): registered before the
        // sessions are looked at, so an event meanwhile is not missed.
        let activity = inner.activity.notified();
        tokio::pin!(activity);
        activity.as_mut().enable();
        let announced = announced_lengths(&inner, author, deadline).await;
        let longest = announced.iter().map(|&(_, len)| len).max();
        if longest.is_some()
            && let Some(hit) = inner.cached(&author, mode, longest)
        {
            return Ok(hit);
        }
        // A peer whose feed ends before the last seq asked for answers with fewer events
        // (or none): the longest such answer is kept in case no other peer has them all.
        let mut cut: Option<FetchedEvents> = None;
        let mut keep = |got: FetchedEvents| {
            if cut.as_ref().is_none_or(|c| got.seqs().end > c.seqs().end) {
                cut = Some(got);
            }
        };
        for id in misses.reorder(rank(mode, announced)) {
            match fetch_from(&inner, id, author, mode, deadline).await {
                Answer::Got(got) if covers(&got, mode) => return Ok(inner.keep_fetched(author, got)),
                Answer::Got(got) => keep(got),
                Answer::Failed { peer, status } => misses.refused(FetchError::Failed { author, peer, status }),
                Answer::Stalled { peer, got } => {
                    misses.stalled(id, FetchError::TimedOut { author, peer });
                    if let Some(got) = got {
                        keep(got);
                    }
                }
                Answer::None => {}
            }
        }
        if let Some(got) = cut {
            return Ok(inner.keep_fetched(author, got));
        }
        wait_or_give_up(&inner, author, deadline, &mut misses, activity).await?;
    }
}

impl NetInner {
    /// A read of `author`'s feed answered from the events earlier reads verified, if they hold
    /// it: seqs of a range inside one cached answer; the latest events if a cached answer ends
    /// at `longest`, the longest head connected peers announced (`None`: not known, the latest
    /// events are not answered). A forked author's entries are dropped instead.
    pub(super) fn cached(&self, author: &AuthorId, mode: RangeMode, longest: Option<u64>) -> Option<FetchedEvents> {
        let mut cache = lock(&self.fetch_cache);
        if self.forked.contains(author) {
            self.drop_kept(cache.forget(author).into_iter().map(|seqs| (*author, seqs)));
            return None;
        }
        cache.answer(author, mode, longest).map(|hit| hit.value.part(hit.seqs))
    }

    /// Keeps the events a read of `author`'s feed verified for later reads, and returns them.
    /// Also on disk, unless [`NetConfig::with_fetch_cache_on_disk`](super::NetConfig::with_fetch_cache_on_disk)
    /// turned that off.
    pub(super) fn keep_fetched(&self, author: AuthorId, got: FetchedEvents) -> FetchedEvents {
        if !got.is_empty() && !self.forked.contains(&author) {
            // The cache stays locked while the jobs are queued: the disk sees the changes in
            // the order the cache made them.
            let mut cache = lock(&self.fetch_cache);
            let inserted = cache.insert(author, got.seqs(), got.byte_len(), got.clone());
            self.drop_kept(inserted.dropped);
            if inserted.kept {
                self.kept_job(KeptJob::Write(author, got.clone()));
            }
        }
        got
    }

    /// Queues the deletion of the kept files of the answers the cache dropped (author and seqs
    /// of each).
    fn drop_kept(&self, dropped: impl IntoIterator<Item = (AuthorId, Range<u64>)>) {
        for (author, seqs) in dropped {
            self.kept_job(KeptJob::Remove(author, seqs));
        }
    }

    /// Queues `job` for the thread that keeps reads on disk, if it runs.
    fn kept_job(&self, job: KeptJob) {
        if let Some(jobs) = lock(&self.kept_jobs).as_ref() {
            let _ = jobs.send(job);
        }
    }
}

/// What a fetch remembers from one look at the sessions to the next: the sessions whose peer
/// did not answer within [`NetConfig::with_fetch_patience`](super::NetConfig::with_fetch_patience)
/// (asked after the others from then on: a peer that stopped answering, say a phone gone to
/// sleep, must not keep the fetch from peers that answer), and the failure to report if the
/// fetch gives up.
#[derive(Default)]
pub(super) struct Misses {
    stalled: Vec<u64>,
    last: Option<FetchError>,
}

impl Misses {
    /// A peer refused (`error`: [`FetchError::Failed`]).
    pub(super) fn refused(&mut self, error: FetchError) {
        self.last = Some(error);
    }

    /// Session `id`'s peer did not answer in time (`error`: [`FetchError::TimedOut`]).
    pub(super) fn stalled(&mut self, id: u64, error: FetchError) {
        if !self.stalled.contains(&id) {
            self.stalled.push(id);
        }
        self.last = Some(error);
    }

    /// `ranked` with the sessions that stalled moved last, in the order they stalled.
    fn reorder(&self, ranked: Vec<u64>) -> Vec<u64> {
        let (mut answering, stalled): (Vec<u64>, Vec<u64>) =
            ranked.into_iter().partition(|id| !self.stalled.contains(id));
        answering.extend(self.stalled.iter().filter(|id| stalled.contains(id)));
        answering
    }
}

/// Between two looks at the sessions of a fetch of `author`'s feed: waits a while (woken early
/// by `activity`, a sync event), or gives up if the `deadline` passed or sync is stopping,
/// with the last peer's refusal or silence (`misses`) if there was one.
pub(super) async fn wait_or_give_up(
    inner: &NetInner,
    author: AuthorId,
    deadline: Instant,
    misses: &mut Misses,
    activity: Pin<&mut Notified<'_>>,
) -> Result<(), FetchError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() || inner.is_stopping() {
        return Err(misses.last.take().unwrap_or(FetchError::NotFound { author }));
    }
    let _ = tokio::time::timeout(left.min(RETRY), activity).await;
    Ok(())
}

/// The open sessions whose peers announced `author`'s feed, in the order a fetch asks them
/// (see [`rank`]; those that stalled before last).
pub(super) async fn sessions_to_ask(
    inner: &NetInner,
    author: AuthorId,
    mode: RangeMode,
    deadline: Instant,
    misses: &Misses,
) -> Vec<u64> {
    misses.reorder(rank(mode, announced_lengths(inner, author, deadline).await))
}

/// The open sessions whose peers announced `author`'s feed, with the length of its head each
/// announced, in the order of [`NetInner::sessions_to_fetch_from`].
async fn announced_lengths(inner: &NetInner, author: AuthorId, deadline: Instant) -> Vec<(u64, u64)> {
    // Every session is asked at once, then the answers are read: a busy session delays the
    // ranking by its own delay only.
    let asked: Vec<(u64, oneshot::Receiver<Option<u64>>)> = inner
        .sessions_to_fetch_from()
        .into_iter()
        .filter_map(|id| {
            let (reply, answer) = oneshot::channel();
            inner.control(id, Control::AnnouncedLength { author, reply }).then_some((id, answer))
        })
        .collect();
    let mut announced = Vec::with_capacity(asked.len());
    for (id, answer) in asked {
        if let Ok(Ok(Some(len))) = tokio::time::timeout(local_answer(deadline), answer).await {
            announced.push((id, len));
        }
    }
    announced
}

/// When a fetch of `timeout` gives up (far away for a timeout past what the clock can count:
/// `Duration::MAX` waits as long as it takes).
pub(super) fn deadline_after(timeout: Duration) -> Instant {
    Instant::now().checked_add(timeout).unwrap_or_else(|| Instant::now() + FOREVER)
}

/// How long a session may take to say whether it sent a request, with the fetch's `deadline`.
fn local_answer(deadline: Instant) -> Duration {
    LOCAL_ANSWER.min(deadline.saturating_duration_since(Instant::now())).max(LOCAL_ANSWER_MIN)
}

/// Orders the sessions `announced` (session, length of its peer's head of the feed; in the
/// order of [`NetInner::sessions_to_fetch_from`]: peers not asked yet first, then the quickest)
/// for a fetch of `mode`. For a range: the peers whose feed reaches its end, in the given
/// order, then the others, longest first. For the latest events: the longest heads first (the
/// latest events are those of the longest head), then the given order.
fn rank(mode: RangeMode, mut announced: Vec<(u64, u64)>) -> Vec<u64> {
    match mode {
        RangeMode::Range { end, .. } => {
            announced.sort_by_key(|&(_, len)| if len >= end { (0, 0) } else { (1, u64::MAX - len) });
        }
        RangeMode::Latest(_) => announced.sort_by_key(|&(_, len)| u64::MAX - len),
    }
    announced.into_iter().map(|(id, _)| id).collect()
}

/// Whether `got` holds everything `mode` asked for: the seqs up to the end asked for, or the
/// latest events of the answering peer's feed (whatever its length).
fn covers(got: &FetchedEvents, mode: RangeMode) -> bool {
    match mode {
        RangeMode::Range { end, .. } => got.seqs().end >= end,
        RangeMode::Latest(_) => !got.is_empty(),
    }
}

/// A request that went to the peer of a session: the channel its answer comes on.
pub(super) struct Asked {
    answer: tokio_mpsc::Receiver<FetchStep>,
    session: u64,
    at: Instant,
}

/// Hands session `id` the request `control` makes with its reply channel, and waits until
/// the session says it went to the peer; `None` if it could not go (the peer did not announce
/// the feed, or the session ended).
pub(super) async fn send(
    inner: &NetInner,
    id: u64,
    deadline: Instant,
    control: impl FnOnce(FetchReply) -> Control,
) -> Option<Asked> {
    let (reply, mut answer) = tokio_mpsc::channel(2);
    if !inner.control(id, control(reply)) {
        return None;
    }
    match tokio::time::timeout(local_answer(deadline), answer.recv()).await {
        Ok(Some(FetchStep::Sent)) => Some(Asked { answer, session: id, at: Instant::now() }),
        _ => None,
    }
}

/// The answer to a request [`send`] sent to `peer`; `None` if the session ended first.
/// [`FetchError::TimedOut`] if none came by the `deadline`, or within the fetch patience
/// ([`NetInner::fetch_patience`]): then the fetch asks another peer. How long the answer took
/// (how long it was waited for, for none) counts towards the order later fetches ask the
/// peers in ([`NetInner::note_answer_time`]).
pub(super) async fn answer(
    inner: &NetInner,
    mut asked: Asked,
    deadline: Instant,
    author: AuthorId,
    peer: PeerId,
) -> Result<Option<FetchStep>, FetchError> {
    let left = deadline.saturating_duration_since(Instant::now()).min(inner.fetch_patience());
    let step = tokio::time::timeout(left, asked.answer.recv()).await;
    if !matches!(step, Ok(None)) {
        inner.note_answer_time(asked.session, asked.at.elapsed());
    }
    step.map_err(|_| FetchError::TimedOut { author, peer })
}

/// What one session made of a fetch.
enum Answer {
    /// Events (perhaps none: the peer's feed ends before them).
    Got(FetchedEvents),
    /// The peer announced the feed but could not send the events.
    Failed { peer: PeerId, status: ProofStatus },
    /// The peer did not answer within the fetch patience (after the events `got`, if any).
    Stalled { peer: PeerId, got: Option<FetchedEvents> },
    /// The peer did not announce the feed (yet), or the session ended first.
    None,
}

/// Fetches from session `id`, asking again for the rest while the answers stop short of what
/// its peer holds (one frame each).
async fn fetch_from(inner: &NetInner, id: u64, author: AuthorId, mode: RangeMode, deadline: Instant) -> Answer {
    let Some(peer) = inner.session_peer(id) else { return Answer::None };
    let mut got: Option<FetchedEvents> = None;
    // Not this peer's feed (yet), or the session ended: the events so far, if any.
    let ended = |got: Option<FetchedEvents>| got.map_or(Answer::None, Answer::Got);
    let mut mode = mode;
    loop {
        let Some(answered) = send(inner, id, deadline, |reply| Control::Fetch { author, mode, reply }).await else {
            return ended(got);
        };
        let range = match answer(inner, answered, deadline, author, peer).await {
            Ok(Some(FetchStep::Events(range))) => range,
            Ok(Some(FetchStep::Failed(status))) if got.is_none() => return Answer::Failed { peer, status },
            Err(_) => return Answer::Stalled { peer, got },
            Ok(_) => return ended(got),
        };
        let rest = range.rest(mode);
        let range = *range;
        let f = got.get_or_insert_with(|| FetchedEvents {
            peer,
            head: range.head,
            start: range.start,
            len: 0,
            blocks: Arc::default(),
            skip: 0,
            cached: false,
        });
        if range.start != f.start + f.len {
            // An answer that does not follow the events so far (the session asked for exactly
            // that start): stop at what was verified in order.
            return ended(got);
        }
        f.len += range.events.len() as u64;
        f.head = range.head;
        if !range.events.is_empty() {
            // Not shared yet: pushed in place.
            Arc::make_mut(&mut f.blocks).push(range);
        }
        match rest {
            Some(rest) => mode = rest,
            None => return ended(got),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_that_stalled_are_asked_after_the_others_in_the_order_they_stalled() {
        let (author, peer) = (AuthorId([1; 32]), PeerId([2; 32]));
        let mut misses = Misses::default();
        assert_eq!(misses.reorder(vec![5, 3, 9, 1]), [5, 3, 9, 1]);
        misses.stalled(9, FetchError::TimedOut { author, peer });
        misses.stalled(5, FetchError::TimedOut { author, peer });
        misses.stalled(9, FetchError::TimedOut { author, peer });
        assert_eq!(misses.reorder(vec![5, 3, 9, 1]), [3, 1, 9, 5]);
        // A stalled session gone from the ranking stays gone.
        assert_eq!(misses.reorder(vec![1, 5]), [1, 5]);
        assert!(matches!(misses.last, Some(FetchError::TimedOut { .. })));
        misses.refused(FetchError::Failed { author, peer, status: ProofStatus::Unavailable });
        assert!(matches!(misses.last, Some(FetchError::Failed { .. })));
    }

    #[test]
    fn a_range_asks_the_peers_that_reach_its_end_first_in_the_given_order() {
        let mode = RangeMode::Range { start: 10, end: 60 };
        // (session, announced length), the session that sent the most first.
        let announced = vec![(1, 40), (2, 100), (3, 59), (4, 60), (5, 10)];
        assert_eq!(rank(mode, announced), vec![2, 4, 3, 1, 5]);
    }

    #[test]
    fn the_latest_events_are_asked_of_the_longest_head_first() {
        let announced = vec![(1, 100), (2, 200), (3, 150), (4, 200)];
        assert_eq!(rank(RangeMode::Latest(20), announced), vec![2, 4, 3, 1]);
        assert_eq!(rank(RangeMode::Latest(20), Vec::new()), Vec::<u64>::new());
    }
}
