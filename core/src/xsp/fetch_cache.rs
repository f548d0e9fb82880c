//! [`FetchCache`]: the answers of reads on demand (RANGE_REQUEST) a host keeps, so that reading
//! the same events again asks no peer.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::ops::Range;

use super::message::RangeMode;
use crate::head::AuthorId;

/// What [`FetchCache::answer`] found for a read.
#[derive(Debug, PartialEq, Eq)]
pub struct CachedAnswer<'a, T> {
    /// The seqs the read asks for (for the latest `n`, the last `n` of the feed, or all of
    /// it if shorter), all inside `held`.
    pub seqs: Range<u64>,
    /// The seqs of the answer kept that holds them.
    pub held: Range<u64>,
    /// That answer.
    pub value: &'a T,
}

/// What [`FetchCache::insert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    /// Whether the answer is kept (not when larger than the budget, or of no seqs).
    pub kept: bool,
    /// The author and seqs of each entry dropped to make room or because the new answer
    /// covers it.
    pub dropped: Vec<(AuthorId, Range<u64>)>,
}

/// One cached answer.
struct Entry<T> {
    seqs: Range<u64>,
    bytes: usize,
    /// The cache's clock when it was inserted or last read: its key in
    /// [`FetchCache::recency`], unique.
    used_at: u64,
    value: T,
}

/// Answers of reads on demand per author, within a byte budget, the least recently used
/// dropped first: what a host keeps of the events its sessions verified for
/// [`Session::request_range`](super::Session::request_range), so that a later read of them asks
/// no peer.
///
/// An event at a seq of an author's feed never changes once verified against the author's
/// signed head (a second history is a fork: call [`FetchCache::forget`] for a forked author),
/// so an answer holding seqs `a..b` answers any later read of seqs inside it
/// ([`FetchCache::covering`]), with no peer connected too. The latest events of a feed are
/// answered from it only when an answer ends where the longest head the peers announce ends
/// ([`FetchCache::ending_at`]): what a peer would send.
///
/// Pure bookkeeping (no I/O, no clock): entries are ranges of seqs per author with their size
/// in bytes, as the host counts them; `T` is the host's answer (events and the signed head
/// they were verified against), handed back by reference.
///
/// ```
/// use xaeroflux_core::AuthorId;
/// use xaeroflux_core::xsp::FetchCache;
///
/// let author = AuthorId([7; 32]);
/// let mut cache = FetchCache::new(1 << 20);
/// cache.insert(author, 100..200, 31_200, "events 100..200");
/// assert_eq!(cache.covering(&author, &(150..170)), Some((100..200, &"events 100..200")));
/// assert!(cache.covering(&author, &(190..210)).is_none());
/// // The latest 20 of a feed the peers now announce at length 200:
/// assert!(cache.ending_at(&author, 200, 20).is_some());
/// ```
pub struct FetchCache<T> {
    budget: usize,
    used: usize,
    clock: u64,
    /// Each author's entries, in insertion order.
    feeds: BTreeMap<AuthorId, Vec<Entry<T>>>,
    /// Every entry's author by its `used_at`: the least recently used first, found in
    /// O(log n) when the budget is passed.
    recency: BTreeMap<u64, AuthorId>,
}

impl<T> FetchCache<T> {
    /// An empty cache of at most `budget` bytes (0: keeps nothing).
    pub fn new(budget: usize) -> Self {
        FetchCache { budget, used: 0, clock: 0, feeds: BTreeMap::new(), recency: BTreeMap::new() }
    }

    /// The bytes of the entries held (at most the budget).
    pub fn used(&self) -> usize {
        self.used
    }

    /// An entry of `author` that holds every seq of `want` (not empty), the latest inserted
    /// first; marked as just used. Returns its seqs and answer.
    pub fn covering(&mut self, author: &AuthorId, want: &Range<u64>) -> Option<(Range<u64>, &T)> {
        if want.is_empty() {
            return None;
        }
        self.find(author, |s| s.start <= want.start && want.end <= s.end)
    }

    /// An entry of `author` that ends at `end` and holds at least its last `n` seqs (or all
    /// of `0..end` if `n` is larger), the latest inserted first; marked as just used.
    pub fn ending_at(&mut self, author: &AuthorId, end: u64, n: u64) -> Option<(Range<u64>, &T)> {
        let start = end.saturating_sub(n);
        self.find(author, |s| s.end == end && s.start <= start && start < end)
    }

    /// An entry of `author` that answers a read of `mode` (a RANGE_REQUEST's), marked as just
    /// used: for [`RangeMode::Range`], one holding every seq asked ([`FetchCache::covering`]);
    /// for [`RangeMode::Latest`], one ending at `longest`, the longest head of the feed the
    /// peers announce (`None`, not known: no answer), and holding its last `n` seqs
    /// ([`FetchCache::ending_at`]).
    pub fn answer(&mut self, author: &AuthorId, mode: RangeMode, longest: Option<u64>) -> Option<CachedAnswer<'_, T>> {
        let (seqs, (held, value)) = match mode {
            RangeMode::Range { start, end } => (start..end, self.covering(author, &(start..end))?),
            RangeMode::Latest(n) => {
                let end = longest?;
                (end.saturating_sub(n)..end, self.ending_at(author, end, n)?)
            }
        };
        Some(CachedAnswer { seqs, held, value })
    }

    fn find(&mut self, author: &AuthorId, fits: impl Fn(&Range<u64>) -> bool) -> Option<(Range<u64>, &T)> {
        self.clock += 1;
        let clock = self.clock;
        let entry = self.feeds.get_mut(author)?.iter_mut().rev().find(|e| fits(&e.seqs))?;
        self.recency.remove(&entry.used_at);
        self.recency.insert(clock, *author);
        entry.used_at = clock;
        Some((entry.seqs.clone(), &entry.value))
    }

    /// Keeps `value`, the answer for `author`'s `seqs` (`bytes` of it), dropping the entries
    /// of that author it covers, then the least recently used entries while the cache holds
    /// more than its budget. An answer larger than the whole budget, or of no seqs, is not
    /// kept. Says whether it was kept and which entries were dropped (for a host that keeps
    /// them elsewhere too).
    pub fn insert(&mut self, author: AuthorId, seqs: Range<u64>, bytes: usize, value: T) -> Inserted {
        let mut dropped = Vec::new();
        if seqs.is_empty() || bytes > self.budget {
            return Inserted { kept: false, dropped };
        }
        self.clock += 1;
        let entries = self.feeds.entry(author).or_default();
        let (mut freed, recency) = (0, &mut self.recency);
        entries.retain(|e| {
            let covered = seqs.start <= e.seqs.start && e.seqs.end <= seqs.end;
            if covered {
                freed += e.bytes;
                recency.remove(&e.used_at);
                dropped.push((author, e.seqs.clone()));
            }
            !covered
        });
        entries.push(Entry { seqs, bytes, used_at: self.clock, value });
        self.recency.insert(self.clock, author);
        self.used = self.used - freed + bytes;
        while self.used > self.budget {
            if let Some(gone) = self.drop_least_recently_used() {
                dropped.push(gone);
            }
        }
        Inserted { kept: true, dropped }
    }

    /// Drops every entry of `author` (for a forked author: which history a cached range
    /// belongs to is no longer known). Returns the seqs of the entries dropped.
    pub fn forget(&mut self, author: &AuthorId) -> Vec<Range<u64>> {
        let entries = self.feeds.remove(author).unwrap_or_default();
        entries
            .into_iter()
            .map(|e| {
                self.used -= e.bytes;
                self.recency.remove(&e.used_at);
                e.seqs
            })
            .collect()
    }

    /// Drops every entry. Returns the author and seqs of each.
    pub fn clear(&mut self) -> Vec<(AuthorId, Range<u64>)> {
        self.used = 0;
        self.recency.clear();
        let feeds = core::mem::take(&mut self.feeds);
        feeds.into_iter().flat_map(|(author, entries)| entries.into_iter().map(move |e| (author, e.seqs))).collect()
    }

    /// Drops the least recently used entry: found in [`FetchCache::recency`], then among its
    /// author's entries. Returns its author and seqs.
    fn drop_least_recently_used(&mut self) -> Option<(AuthorId, Range<u64>)> {
        let Some((at, author)) = self.recency.pop_first() else {
            self.used = 0;
            return None;
        };
        let entries = self.feeds.get_mut(&author)?;
        let gone = entries.iter().position(|e| e.used_at == at).map(|i| {
            let e = entries.remove(i);
            self.used -= e.bytes;
            (author, e.seqs)
        });
        if entries.is_empty() {
            self.feeds.remove(&author);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn author(n: u8) -> AuthorId {
        AuthorId([n; 32])
    }

    /// The naive model: entries in least-recently-used-first order.
    #[derive(Default)]
    struct Model {
        entries: Vec<(u8, Range<u64>, usize, u32)>,
    }

    impl Model {
        fn touch(&mut self, i: usize) -> (Range<u64>, u32) {
            let e = self.entries.remove(i);
            let found = (e.1.clone(), e.3);
            self.entries.push(e);
            found
        }
        fn find(&mut self, a: u8, fits: impl Fn(&Range<u64>) -> bool) -> Option<(Range<u64>, u32)> {
            // The latest inserted of the author first: insertion order is kept apart from use.
            let i = self.entries.iter().enumerate().filter(|(_, e)| e.0 == a && fits(&e.1)).max_by_key(|(_, e)| e.3)?.0;
            Some(self.touch(i))
        }
        /// Whether it was kept, and what was dropped.
        fn insert(
            &mut self,
            budget: usize,
            a: u8,
            seqs: Range<u64>,
            bytes: usize,
            id: u32,
        ) -> (bool, Vec<(u8, Range<u64>)>) {
            let mut dropped = Vec::new();
            if seqs.is_empty() || bytes > budget {
                return (false, dropped);
            }
            self.entries.retain(|e| {
                let covered = e.0 == a && seqs.start <= e.1.start && e.1.end <= seqs.end;
                if covered {
                    dropped.push((e.0, e.1.clone()));
                }
                !covered
            });
            self.entries.push((a, seqs, bytes, id));
            while self.entries.iter().map(|e| e.2).sum::<usize>() > budget {
                let e = self.entries.remove(0);
                dropped.push((e.0, e.1));
            }
            (true, dropped)
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u64, u64, usize),
        Covering(u8, u64, u64),
        EndingAt(u8, u64, u64),
        Forget(u8),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..3, 0u64..40, 0u64..20, 1usize..400).prop_map(|(a, s, l, b)| Op::Insert(a, s, s + l, b)),
            4 => (0u8..3, 0u64..40, 0u64..20).prop_map(|(a, s, l)| Op::Covering(a, s, s + l)),
            2 => (0u8..3, 0u64..60, 0u64..25).prop_map(|(a, e, n)| Op::EndingAt(a, e, n)),
            1 => (0u8..3).prop_map(Op::Forget),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// Every operation gives what the naive model gives, and the bytes held never pass
        /// the budget.
        #[test]
        fn the_cache_behaves_as_the_naive_model(budget in 0usize..1500, ops in proptest::collection::vec(op(), 1..120)) {
            let mut cache = FetchCache::<u32>::new(budget);
            let mut model = Model::default();
            for (id, op) in ops.into_iter().enumerate() {
                let id = id as u32;
                match op {
                    Op::Insert(a, s, e, b) => {
                        let got = cache.insert(author(a), s..e, b, id);
                        let (kept, mut dropped) = model.insert(budget, a, s..e, b, id);
                        let mut got_dropped: Vec<_> = got.dropped.iter().map(|(x, r)| (x.0[0], r.clone())).collect();
                        got_dropped.sort_by_key(|(x, r)| (*x, r.start, r.end));
                        dropped.sort_by_key(|(x, r)| (*x, r.start, r.end));
                        prop_assert_eq!(got.kept, kept);
                        prop_assert_eq!(got_dropped, dropped);
                    }
                    Op::Covering(a, s, e) => {
                        let got = cache.covering(&author(a), &(s..e)).map(|(r, v)| (r, *v));
                        let want = if s < e { model.find(a, |r| r.start <= s && e <= r.end) } else { None };
                        prop_assert_eq!(got, want);
                    }
                    Op::EndingAt(a, e, n) => {
                        let got = cache.ending_at(&author(a), e, n).map(|(r, v)| (r, *v));
                        let start = e.saturating_sub(n);
                        let want = model.find(a, |r| r.end == e && r.start <= start && start < e);
                        prop_assert_eq!(got, want);
                    }
                    Op::Forget(a) => {
                        let mut got = cache.forget(&author(a));
                        let mut want: Vec<Range<u64>> = model.entries.iter().filter(|x| x.0 == a).map(|x| x.1.clone()).collect();
                        model.entries.retain(|x| x.0 != a);
                        got.sort_by_key(|r| (r.start, r.end));
                        want.sort_by_key(|r| (r.start, r.end));
                        prop_assert_eq!(got, want);
                    }
                    Op::Clear => {
                        let mut got: Vec<_> = cache.clear().into_iter().map(|(x, r)| (x.0[0], r)).collect();
                        let mut want: Vec<_> = model.entries.drain(..).map(|e| (e.0, e.1)).collect();
                        got.sort_by_key(|(x, r)| (*x, r.start, r.end));
                        want.sort_by_key(|(x, r)| (*x, r.start, r.end));
                        prop_assert_eq!(got, want);
                    }
                }
                let held: usize = model.entries.iter().map(|e| e.2).sum();
                prop_assert_eq!(cache.used(), held);
                prop_assert!(cache.used() <= budget);
                // The recency index names every entry, once.
                let entries: usize = cache.feeds.values().map(Vec::len).sum();
                prop_assert_eq!(cache.recency.len(), entries);
                prop_assert!(cache.feeds.values().all(|es| !es.is_empty()));
            }
        }
    }

    #[test]
    fn a_read_keeps_an_entry_from_being_the_next_dropped() {
        let mut cache = FetchCache::new(300);
        cache.insert(author(1), 0..10, 100, "a");
        cache.insert(author(1), 20..30, 100, "b");
        cache.insert(author(2), 0..10, 100, "c");
        assert_eq!(cache.covering(&author(1), &(2..5)).map(|(_, v)| *v), Some("a"));
        cache.insert(author(2), 50..60, 100, "d");
        // "b" was the least recently used.
        assert!(cache.covering(&author(1), &(20..21)).is_none());
        assert!(cache.covering(&author(1), &(0..10)).is_some());
        assert_eq!(cache.used(), 300);
        // A wider range replaces the entries it covers.
        cache.insert(author(2), 0..100, 150, "e");
        assert_eq!(cache.used(), 250);
        assert_eq!(cache.covering(&author(2), &(55..60)).map(|(_, v)| *v), Some("e"));
        // The latest events: only an entry that ends where asked.
        assert_eq!(cache.ending_at(&author(2), 100, 20).map(|(r, _)| r), Some(0..100));
        assert!(cache.ending_at(&author(2), 101, 20).is_none());
        assert!(cache.ending_at(&author(1), 10, 11).is_some(), "all of a short feed");
        // A RANGE_REQUEST's mode, with the seqs it asks for.
        let hit = cache.answer(&author(2), RangeMode::Latest(5), Some(100)).unwrap();
        assert_eq!((hit.seqs, hit.held, *hit.value), (95..100, 0..100, "e"));
        assert!(cache.answer(&author(2), RangeMode::Latest(5), None).is_none(), "no head known");
        let hit = cache.answer(&author(2), RangeMode::Range { start: 3, end: 9 }, None).unwrap();
        assert_eq!((hit.seqs, hit.held), (3..9, 0..100));
        cache.forget(&author(2));
        assert_eq!(cache.used(), 100);
        // Nothing kept with no budget, or larger than the budget.
        let mut none = FetchCache::new(0);
        none.insert(author(1), 0..1, 1, ());
        assert_eq!(none.used(), 0);
        assert!(none.covering(&author(1), &(0..1)).is_none());
    }
}
