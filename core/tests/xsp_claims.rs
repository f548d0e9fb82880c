//! A host that runs several sessions tells each, through `FeedSource::claim_want`, whether it
//! may fetch a feed now (another of its sessions may be fetching it). A refused want is
//! deferred: nothing is fetched, the session is not synced, and the next `feed_updated` of the
//! feed tries again — fetching from where the store then stands, or nothing if the store got
//! everything the peer announced from elsewhere.
//!
//! A host also chooses which feeds to fetch at all (`FeedSource::wants`), and may change its
//! mind: `Session::wants_changed` fetches a feed as soon as it is wanted, and stops fetching
//! one no longer wanted: a want already sent is taken back (UNWANT), or, with a peer that
//! does not offer UNWANT, reported to the host, which closes the session.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use xaeroflux_core::memstore::{MemStore, NewEvent};
use xaeroflux_core::mmr::{ConsistencyProof, InclusionProof, MmrPeaks, RangeProof};
use xaeroflux_core::page::PageConfig;
use xaeroflux_core::xsp::pair::Side;
use xaeroflux_core::xsp::{Capabilities, Config, Event, FeedSource, Limits, Pair, Role, Session};
use xaeroflux_core::{AuthorId, AuthorKey, SignedHead};

/// A store whose claims the test grants or refuses, counting the requests.
#[derive(Clone)]
struct Claiming {
    store: Rc<RefCell<MemStore>>,
    allow: Rc<Cell<bool>>,
    /// What `wants` answers for every feed.
    wanted: Rc<Cell<bool>>,
    asked: Rc<Cell<u32>>,
    /// The lengths asked for, in order.
    lengths: Rc<RefCell<Vec<u64>>>,
}

impl Claiming {
    fn new(store: MemStore, allow: bool) -> Claiming {
        Claiming {
            store: Rc::new(RefCell::new(store)),
            allow: Rc::new(Cell::new(allow)),
            wanted: Rc::new(Cell::new(true)),
            asked: Rc::default(),
            lengths: Rc::default(),
        }
    }
    fn len(&self, author: &AuthorId) -> u64 {
        self.store.borrow().feed_len(author)
    }
}

impl FeedSource for Claiming {
    fn for_each_head(&self, f: &mut dyn FnMut(&SignedHead)) {
        self.store.for_each_head(f)
    }
    fn head(&self, author: &AuthorId) -> Option<SignedHead> {
        self.store.head(author)
    }
    fn prefix(&self, author: &AuthorId) -> Option<MmrPeaks> {
        self.store.prefix(author)
    }
    fn locate(&self, author: &AuthorId, seq: u64) -> Option<(u64, u64)> {
        self.store.locate(author, seq)
    }
    fn with_page(&self, author: &AuthorId, page: u64, f: &mut dyn FnMut(&[u8])) -> bool {
        self.store.with_page(author, page, f)
    }
    fn consistency_proof(&self, author: &AuthorId, old: u64, new: u64) -> Option<ConsistencyProof> {
        self.store.consistency_proof(author, old, new)
    }
    fn inclusion_proof(&self, author: &AuthorId, leaves: u64, index: u64) -> Option<InclusionProof> {
        self.store.inclusion_proof(author, leaves, index)
    }
    fn range_proof(&self, author: &AuthorId, leaves: u64, start: u64, end: u64) -> Option<RangeProof> {
        self.store.range_proof(author, leaves, start, end)
    }
    fn pending_head(&self, author: &AuthorId) -> Option<SignedHead> {
        self.store.pending_head(author)
    }
    fn wants(&self, _: &AuthorId) -> bool {
        self.wanted.get()
    }
    fn claim_want(&self, _: &AuthorId, length: u64) -> bool {
        self.asked.set(self.asked.get() + 1);
        self.lengths.borrow_mut().push(length);
        self.allow.get()
    }
}

/// Events of the feed: about 450 KB, so it crosses in several PAGES frames (batches).
const N: u64 = 3_000;

fn holder(pages: PageConfig) -> (MemStore, AuthorId) {
    let key = AuthorKey::from_secret_bytes(&[4; 32]);
    let author = key.author();
    let mut store = MemStore::new(key, pages);
    let payloads: Vec<[u8; 100]> = (0..N).map(|i| [i as u8; 100]).collect();
    store.append_batch(payloads.iter().zip(0..).map(|(p, i)| NewEvent::new(1_000 + i, p))).unwrap();
    (store, author)
}

/// A pair from `holder` to an empty store whose claims are refused at first; the fetcher's
/// host stores what its session verifies.
fn deferred_pair(pages: PageConfig, config: &Config) -> (Pair<Claiming>, Claiming, AuthorId) {
    let (src, author) = holder(pages);
    let fetcher = Claiming::new(MemStore::replica(pages), false);
    let mut pair = Pair::new(
        Session::new(config.clone(), Role::Initiator, 0, Claiming::new(src, true)),
        Session::new(config.clone(), Role::Responder, 0, fetcher.clone()),
    );
    let ex = pair.drive_with(store_on_b);
    assert!(ex.quiet);
    assert!(fetcher.asked.get() >= 1, "the want asked for a claim");
    assert!(!ex.b.iter().any(|e| matches!(e, Event::Verified(_))), "nothing fetched: {:?}", ex.b);
    assert!(!ex.b.contains(&Event::Synced) && !pair.b.is_synced(), "a deferred want is not synced");
    assert_eq!(fetcher.len(&author), 0);
    (pair, fetcher, author)
}

fn store_on_b(side: Side, session: &mut Session<Claiming>, event: &Event) {
    if let (Side::B, Event::Verified(batch)) = (side, event) {
        let batch: &xaeroflux_core::xsp::VerifiedBatch = batch;
        session.source().store.borrow_mut().store_batch(batch).unwrap();
        session.feed_updated(&batch.author());
    }
}

#[test]
fn a_refused_want_waits_and_goes_out_on_the_next_feed_updated() {
    let pages = PageConfig::new(4096).unwrap();
    let config = Config::new([6; 32]).with_page_size(4096).unwrap().with_live(true);
    let (mut pair, fetcher, author) = deferred_pair(pages, &config);
    // Still refused: the next feed_updated defers again.
    pair.b.feed_updated(&author);
    assert!(pair.drive_with(store_on_b).quiet);
    assert_eq!(fetcher.len(&author), 0);
    // The claim is free (the other session ended): the want goes out and the feed arrives.
    fetcher.allow.set(true);
    pair.b.feed_updated(&author);
    let ex = pair.drive_with(store_on_b);
    assert_eq!(fetcher.len(&author), N);
    assert!(ex.b.contains(&Event::Synced) && pair.b.is_synced());
}

#[test]
fn a_deferred_want_fetches_only_what_the_store_still_lacks() {
    let pages = PageConfig::new(4096).unwrap();
    let config = Config::new([6; 32]).with_page_size(4096).unwrap().with_live(true);
    let (mut pair, fetcher, author) = deferred_pair(pages, &config);

    // "Another session" (here: a second holder of the same feed) stores part of the feed …
    let (other, _) = holder(pages);
    let mut side = Pair::new(
        Session::new(config.clone(), Role::Initiator, 0, Claiming::new(other, true)),
        Session::new(config.clone(), Role::Responder, 0, Claiming::new(MemStore::replica(pages), true)),
    );
    let batches: Vec<_> =
        side.drive().b.into_iter().filter_map(|e| if let Event::Verified(v) = e { Some(v) } else { None }).collect();
    assert!(batches.len() >= 2, "the feed comes in several batches: {}", batches.len());
    fetcher.store.borrow_mut().store_batch(&batches[0]).unwrap();
    let part = fetcher.len(&author);
    assert!(part > 0 && part < N);
    // … then ends: the claim is free, and the want asks for the rest only.
    fetcher.allow.set(true);
    pair.b.feed_updated(&author);
    let ex = pair.drive_with(store_on_b);
    assert_eq!(fetcher.len(&author), N);
    assert!(pair.b.is_synced(), "{:?}", ex.b);
    let first = ex.b.iter().find_map(|e| if let Event::Verified(v) = e { Some(v.first_seq) } else { None });
    assert_eq!(first, Some(part), "the fetch starts where the store stood");

    // Refused again, and the store gets everything from elsewhere: nothing more is fetched.
    let (mut pair, fetcher, author) = deferred_pair(pages, &config);
    for b in &batches {
        fetcher.store.borrow_mut().store_batch(b).unwrap();
    }
    pair.b.feed_updated(&author);
    let sent = pair.bytes_sent()[0];
    let ex = pair.drive_with(store_on_b);
    assert!(!ex.b.iter().any(|e| matches!(e, Event::Verified(_))), "nothing fetched twice");
    assert!(pair.b.is_synced(), "synced with what the store holds: {:?}", ex.b);
    assert!(pair.bytes_sent()[0] - sent < 1_000, "no pages crossed: {} bytes", pair.bytes_sent()[0] - sent);
}

/// A live want's claim grows with the heads its peer announces (and pushes the events of), so
/// that another session hearing the same head from its peer later waits for them.
#[test]
fn a_live_want_extends_its_claim_to_each_longer_head() {
    let pages = PageConfig::new(4096).unwrap();
    let config = Config::new([6; 32]).with_page_size(4096).unwrap().with_live(true);
    let (src, author) = holder(pages);
    let holder = Claiming::new(src, true);
    let fetcher = Claiming::new(MemStore::replica(pages), true);
    let mut pair = Pair::new(
        Session::new(config.clone(), Role::Initiator, 0, holder.clone()),
        Session::new(config, Role::Responder, 0, fetcher.clone()),
    );
    pair.drive_with(store_on_b);
    assert_eq!(fetcher.len(&author), N);
    assert_eq!(*fetcher.lengths.borrow(), vec![N], "one claim for the catch-up");
    for more in 1..=3u64 {
        holder.store.borrow_mut().append_batch([NewEvent::new(9_000 + more, b"live")]).unwrap();
        pair.a.feed_updated(&author);
        pair.drive_with(store_on_b);
        assert_eq!(fetcher.len(&author), N + more, "pushed on the live want");
        assert_eq!(fetcher.lengths.borrow().last(), Some(&(N + more)), "the claim grew to the new head");
    }
    // Refused or not, the push comes (another session may have claimed further).
    fetcher.allow.set(false);
    holder.store.borrow_mut().append_batch([NewEvent::new(9_100, b"live")]).unwrap();
    pair.a.feed_updated(&author);
    pair.drive_with(store_on_b);
    assert_eq!(fetcher.len(&author), N + 4);
}

/// A feed not wanted is not fetched, and the session is synced without it; once wanted it is
/// fetched at once; a live want under way when it stops being wanted is reported when the
/// sides cannot take it back (no UNWANT: the host closes the session to stop it).
#[test]
fn a_feed_is_fetched_only_while_the_source_wants_it() {
    let pages = PageConfig::new(4096).unwrap();
    let config =
        Config::new([6; 32]).with_page_size(4096).unwrap().with_capabilities(Capabilities::SYNC).with_live(true);
    let (src, author) = holder(pages);
    let holder = Claiming::new(src, true);
    let fetcher = Claiming::new(MemStore::replica(pages), true);
    fetcher.wanted.set(false);
    let mut pair = Pair::new(
        Session::new(config.clone(), Role::Initiator, 0, holder.clone()),
        Session::new(config, Role::Responder, 0, fetcher.clone()),
    );
    let ex = pair.drive_with(store_on_b);
    assert!(ex.quiet);
    assert_eq!(fetcher.len(&author), 0, "not wanted, not fetched");
    assert_eq!(fetcher.asked.get(), 0, "no want, no claim");
    assert!(ex.b.contains(&Event::Synced) && pair.b.is_synced(), "synced without it: {:?}", ex.b);
    // A longer head of a feed not wanted is not fetched either.
    holder.store.borrow_mut().append_batch([NewEvent::new(9_000, b"more")]).unwrap();
    pair.a.feed_updated(&author);
    pair.drive_with(store_on_b);
    assert_eq!(fetcher.len(&author), 0);
    assert!(pair.b.is_synced());
    // Nothing changed for the source: nothing to do.
    assert!(!pair.b.wants_changed(&author));
    assert_eq!(fetcher.len(&author), 0);

    // Wanted now: fetched at once, to the peer's latest head, then pushed live.
    fetcher.wanted.set(true);
    assert!(!pair.b.wants_changed(&author), "nothing was under way");
    let ex = pair.drive_with(store_on_b);
    assert_eq!(fetcher.len(&author), N + 1);
    assert!(ex.b.contains(&Event::Synced) && pair.b.is_synced(), "{:?}", ex.b);
    holder.store.borrow_mut().append_batch([NewEvent::new(9_001, b"live")]).unwrap();
    pair.a.feed_updated(&author);
    pair.drive_with(store_on_b);
    assert_eq!(fetcher.len(&author), N + 2, "pushed on the live want");

    // No longer wanted while the live want runs: reported as under way (without UNWANT the
    // push goes on until the session ends).
    fetcher.wanted.set(false);
    assert!(pair.b.wants_changed(&author), "a live want is under way");
    // An unknown author: nothing to do.
    assert!(!pair.b.wants_changed(&AuthorKey::from_secret_bytes(&[9; 32]).author()));
}

/// A want refused by the claims and then not wanted is dropped, not sent later.
#[test]
fn a_deferred_want_no_longer_wanted_is_dropped() {
    let pages = PageConfig::new(4096).unwrap();
    let config = Config::new([6; 32]).with_page_size(4096).unwrap().with_live(true);
    let (mut pair, fetcher, author) = deferred_pair(pages, &config);
    fetcher.wanted.set(false);
    assert!(!pair.b.wants_changed(&author), "a deferred want is not under way");
    let ex = pair.drive_with(store_on_b);
    assert!(pair.b.is_synced(), "synced once the feed is not wanted: {:?}", ex.b);
    // The claim is free now, but the feed is not wanted: nothing is fetched.
    fetcher.allow.set(true);
    pair.b.feed_updated(&author);
    pair.drive_with(store_on_b);
    assert_eq!(fetcher.len(&author), 0);
}

/// A live pair (both sides offering UNWANT, the default) from `holder` to an empty fetcher
/// that stores what it verifies, with one page per frame and at most 4 pages on their way
/// (the fetcher's window): a want taken back stops the stream well before its end.
fn streaming_pair() -> (Pair<Claiming>, Claiming, Claiming, AuthorId) {
    let pages = PageConfig::new(4096).unwrap();
    let config = Config::new([6; 32]).with_page_size(4096).unwrap().with_live(true).with_target_frame(4096);
    let small = Limits { max_pages: 4, ..Limits::default() };
    let (src, author) = holder(pages);
    let holder = Claiming::new(src, true);
    let fetcher = Claiming::new(MemStore::replica(pages), true);
    let pair = Pair::new(
        Session::new(config.clone(), Role::Initiator, 0, holder.clone()),
        Session::new(config.with_limits(small).unwrap(), Role::Responder, 0, fetcher.clone()),
    );
    (pair, holder, fetcher, author)
}

/// Both sides offer UNWANT (the default): a want taken back while its pages stream stops
/// the holder (pages on their way are still verified and stored, no error, no close), the
/// session is synced without the feed and gets no live push of it; wanted again, it is
/// fetched from where the store stands, and pushed live again.
#[test]
fn a_want_taken_back_stops_the_holder_without_closing_the_session() {
    let (mut pair, holder, fetcher, author) = streaming_pair();
    let taken_back = Cell::new(false);
    let ex = pair.drive_with(|side, session, event| {
        store_on_b(side, session, event);
        if side == Side::B && matches!(event, Event::Verified(_)) && !taken_back.get() {
            taken_back.set(true);
            fetcher.wanted.set(false);
            assert!(!session.wants_changed(&author), "taken back with UNWANT, nothing for the host to do");
        }
    });
    let closed = |events: &[Event]| events.iter().any(|e| matches!(e, Event::Closed(_)));
    assert!(!closed(&ex.a) && !closed(&ex.b), "{:?} {:?}", ex.a, ex.b);
    let stopped_at = fetcher.len(&author);
    assert!(stopped_at > 0 && stopped_at < N / 4, "the holder stopped early: {stopped_at} of {N}");
    assert!(pair.b.is_synced() && pair.a.is_synced(), "synced without the feed");
    // Later events are not pushed.
    holder.store.borrow_mut().append_batch([NewEvent::new(9_000, b"more")]).unwrap();
    pair.a.feed_updated(&author);
    let ex = pair.drive_with(store_on_b);
    assert!(!closed(&ex.a) && !closed(&ex.b));
    assert_eq!(fetcher.len(&author), stopped_at);

    // Wanted again: fetched from where the store stands, then pushed live.
    fetcher.wanted.set(true);
    assert!(!pair.b.wants_changed(&author));
    pair.drive_with(store_on_b);
    assert_eq!(fetcher.len(&author), N + 1);
    holder.store.borrow_mut().append_batch([NewEvent::new(9_001, b"live")]).unwrap();
    pair.a.feed_updated(&author);
    let ex = pair.drive_with(store_on_b);
    assert!(!closed(&ex.a) && !closed(&ex.b));
    assert_eq!(fetcher.len(&author), N + 2, "pushed on the new live want");
    assert!(pair.b.is_synced());
}

/// A feed wanted again before the holder confirmed the UNWANT is wanted afresh once it has:
/// no WANT goes out meanwhile (it would meet the holder's pages of the old want), and the
/// whole feed arrives.
#[test]
fn a_feed_wanted_again_before_the_unwant_is_confirmed_is_fetched_whole() {
    let (mut pair, _, fetcher, author) = streaming_pair();
    let batches = Cell::new(0);
    let ex = pair.drive_with(|side, session, event| {
        store_on_b(side, session, event);
        if side == Side::B && matches!(event, Event::Verified(_)) {
            batches.set(batches.get() + 1);
            if batches.get() == 1 {
                // Not wanted, then wanted again before the UNWANT even went out.
                fetcher.wanted.set(false);
                assert!(!session.wants_changed(&author));
                fetcher.wanted.set(true);
                assert!(!session.wants_changed(&author));
            }
        }
    });
    assert!(!ex.a.iter().chain(&ex.b).any(|e| matches!(e, Event::Closed(_))), "{:?} {:?}", ex.a, ex.b);
    assert!(batches.get() > 1);
    assert_eq!(fetcher.len(&author), N);
    assert!(pair.b.is_synced());
}

/// Without UNWANT on both sides (a peer that does not offer it), a want under way is
/// reported to the host, as before the capability.
#[test]
fn a_want_is_taken_back_only_when_both_sides_offer_unwant() {
    let pages = PageConfig::new(4096).unwrap();
    let config = Config::new([6; 32]).with_page_size(4096).unwrap().with_live(true);
    let old = config.clone().with_capabilities(Capabilities::SYNC).with_live(true);
    let (src, author) = holder(pages);
    let fetcher = Claiming::new(MemStore::replica(pages), true);
    let mut pair = Pair::new(
        Session::new(old, Role::Initiator, 0, Claiming::new(src, true)),
        Session::new(config, Role::Responder, 0, fetcher.clone()),
    );
    pair.drive_with(store_on_b);
    assert_eq!(fetcher.len(&author), N);
    fetcher.wanted.set(false);
    assert!(pair.b.wants_changed(&author), "a live want is under way and cannot be taken back");
}

/// Everything `s` has to send now.
fn output(s: &mut Session<Claiming>) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 16];
    let mut out = Vec::new();
    while let Some(n) = s.poll_transmit(&mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Feeds `bytes` to the fetcher and stores what it verifies; fails on any close.
fn fetcher_reads(b: &mut Session<Claiming>, bytes: &[u8]) {
    b.handle_input(0, bytes);
    while let Some(ev) = b.poll_event() {
        assert!(!matches!(ev, Event::Closed(_)), "{ev:?}");
        store_on_b(Side::B, b, &ev);
    }
}

/// A want taken back whose pages, already on their way, complete it (a want that is not
/// LIVE ends at its head); then a longer head comes and the feed is wanted again, all before
/// the holder's UNWANT_DONE. The new want waits for the UNWANT_DONE: sent at once, it would
/// be taken for the old one and its pages refused.
#[test]
fn a_want_ended_while_taken_back_is_not_sent_again_before_the_confirmation() {
    let pages = PageConfig::new(4096).unwrap();
    let config = Config::new([6; 32]).with_page_size(4096).unwrap().with_live(false).with_target_frame(4096);
    let (src, author) = holder(pages);
    let holder = Claiming::new(src, true);
    let fetcher = Claiming::new(MemStore::replica(pages), true);
    let mut a = Session::new(config.clone(), Role::Initiator, 0, holder.clone());
    let mut b = Session::new(config, Role::Responder, 0, fetcher.clone());
    // HELLO and HEADS, then the fetcher's WANT; then every page of the feed, on its way.
    let hello = output(&mut a);
    fetcher_reads(&mut b, &hello);
    a.handle_input(0, &output(&mut b));
    let feed = output(&mut a);
    assert!(feed.len() > 100 * 1000, "the whole feed is on its way: {} bytes", feed.len());
    // The first quarter arrives: not wanted any more (UNWANT), and a request outstanding
    // keeps the session from closing once synced.
    let cut = feed.len() / 4;
    fetcher_reads(&mut b, &feed[..cut]);
    assert!(fetcher.len(&author) > 0 && fetcher.len(&author) < N);
    fetcher.wanted.set(false);
    assert!(!b.wants_changed(&author));
    b.request_range(&author, xaeroflux_core::xsp::RangeMode::Latest(1)).unwrap();
    // The holder appends meanwhile and announces it.
    holder.store.borrow_mut().append_batch([NewEvent::new(9_000, b"more")]).unwrap();
    a.feed_updated(&author);
    let longer = output(&mut a);
    // The rest of the pages complete the old want; wanted again; the longer head comes.
    fetcher_reads(&mut b, &feed[cut..]);
    assert_eq!(fetcher.len(&author), N);
    fetcher.wanted.set(true);
    assert!(!b.wants_changed(&author));
    fetcher_reads(&mut b, &longer);
    // From here the pair runs to the end: the new want goes out after the UNWANT_DONE.
    a.handle_input(0, &output(&mut b));
    let mut pair = Pair::new(a, b);
    let ex = pair.drive_with(store_on_b);
    let errors: Vec<_> =
        ex.a.iter().chain(&ex.b).filter(|e| matches!(e, Event::Closed(c) if c.error.is_some())).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(fetcher.len(&author), N + 1);
}
