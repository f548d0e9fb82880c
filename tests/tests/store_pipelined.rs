//! Pipelined appends (`Core::submit_batch`): a batch is seen by readers only once durable,
//! commits complete in order, and they mix with every other operation of the store (single
//! appends, ordinary batches, imports of another author's feed, syncs, checkpoints, reads)
//! with the same result as the sequential path, across reopens. (Their crash safety is
//! checked by the power-cut simulation, `power_cut_tests.rs`.)

use xaeroflux::{Core, Durability, verify_event};

fn payload(i: u64) -> Vec<u8> {
    let mut p = i.to_le_bytes().to_vec();
    p.resize(24 + (i.wrapping_mul(41) % 300) as usize, (i % 253) as u8);
    p
}

fn payloads(r: std::ops::Range<u64>) -> Vec<Vec<u8>> {
    r.map(payload).collect()
}

/// Every event of the local feed is `payload(seq)` and proves against the signed head.
fn check(core: &Core, len: u64) {
    let me = core.author();
    assert_eq!(core.feed_len(&me), len);
    let head = core.head();
    assert_eq!(head.length, len);
    for (i, ev) in core.iter_feed(&me).unwrap().enumerate() {
        assert_eq!(ev.payload(), payload(i as u64).as_slice(), "event {i}");
    }
    for seq in (0..len).step_by(97).chain(len.checked_sub(1)) {
        let ev = core.get(&me, seq).unwrap().unwrap();
        verify_event(&ev, &core.inclusion_proof(&me, seq).unwrap(), &head).unwrap();
    }
}

#[test]
fn a_submitted_batch_is_seen_only_once_durable_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(dir.path()).unwrap();
    let me = core.author();
    let a = payloads(0..1_000);
    let pa = core.submit_batch(a.iter().map(Vec::as_slice)).unwrap();
    // Written, its syncs started, not published: readers and the head do not see it.
    assert_eq!(core.feed_len(&me), 0);
    assert_eq!(core.head().length, 0);
    assert!(core.get(&me, 0).unwrap().is_none());
    assert_eq!(pa.wait().unwrap(), 0..1_000);
    assert_eq!(core.feed_len(&me), 1_000);

    let (b, c) = (payloads(1_000..2_000), payloads(2_000..2_500));
    let pb = core.submit_batch(b.iter().map(Vec::as_slice)).unwrap();
    let pc = core.submit_batch(c.iter().map(Vec::as_slice)).unwrap();
    // Submitting C completed B (published before C's syncs started), not C.
    assert_eq!(core.feed_len(&me), 2_000);
    assert_eq!(pb.wait().unwrap(), 1_000..2_000);
    assert_eq!(pc.wait().unwrap(), 2_000..2_500);
    check(&core, 2_500);

    // An empty batch, and a batch dropped without waiting: it is still stored.
    assert_eq!(core.submit_batch(std::iter::empty()).unwrap().wait().unwrap(), 2_500..2_500);
    let d = payloads(2_500..2_600);
    drop(core.submit_batch(d.iter().map(Vec::as_slice)).unwrap());
    assert_eq!(core.feed_len(&me), 2_600);
    drop(core);
    check(&Core::open(dir.path()).unwrap(), 2_600);
}

#[test]
fn pipelined_batches_mix_with_every_other_operation_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let src_dir = tempfile::tempdir().unwrap();
    let src = Core::builder().with_page_size(1024).open(src_dir.path()).unwrap();
    let theirs = src.author();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut below = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let (mut next, mut imported) = (0u64, 0u64);
    for life in 0..4 {
        // Small pages, segments and checkpoints: commits straddle pages, segments roll over,
        // and checkpoints fall between pipelined commits.
        let core = Core::builder()
            .with_page_size(1024)
            .with_segment_pages(16)
            .with_checkpoint_pages(8 + life * 8)
            .open(dir.path())
            .unwrap();
        let mut in_flight = None;
        for _ in 0..150 {
            let k = 1 + below(60);
            let batch = payloads(next..next + k);
            match below(10) {
                0 => {
                    core.append(core.new_event(&batch[0])).unwrap();
                    next += 1;
                }
                1 => {
                    core.append_batch(batch.iter().map(Vec::as_slice)).unwrap();
                    next += k;
                }
                2 => {
                    let n = 1 + below(20);
                    src.append_batch(payloads(10_000 + imported..10_000 + imported + n).iter().map(Vec::as_slice))
                        .unwrap();
                    let head = src.head();
                    let events: Vec<_> = src.range(&theirs, imported..head.length).unwrap().collect();
                    core.store_verified(&head, &events).unwrap();
                    imported = head.length;
                }
                3 => core.sync().unwrap(),
                4 => core.checkpoint().unwrap(),
                _ => {
                    let p = core.submit_batch(batch.iter().map(Vec::as_slice)).unwrap();
                    if let Some(before) = in_flight.replace((p, next..next + k)) {
                        let (p, want) = before;
                        assert_eq!(p.wait().unwrap(), want);
                    }
                    next += k;
                }
            }
            // Whatever was published reads back whole.
            let len = core.feed_len(&core.author());
            assert!(len <= next);
            if let Some(ev) = len.checked_sub(1).and_then(|s| core.get(&core.author(), s).unwrap()) {
                assert_eq!(ev.payload(), payload(len - 1).as_slice());
            }
        }
        if let Some((p, want)) = in_flight.take() {
            assert_eq!(p.wait().unwrap(), want);
        }
        check(&core, next);
        assert_eq!(core.feed_len(&theirs), imported);
    }
    let core = Core::open(dir.path()).unwrap();
    check(&core, next);
    assert_eq!(core.feed_head(&theirs), Some(src.head()));
    assert!(next > 3_000, "{next}");
}

#[test]
fn submitted_events_keep_their_kinds_flags_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(dir.path()).unwrap();
    let events = |r: std::ops::Range<u64>| {
        r.map(|i| core.new_event(&payload(i)).kind(7).timestamp_us(1_000 + i)).collect::<Vec<_>>()
    };
    let first = core.submit_events(events(0..40)).unwrap();
    let second = core.submit_events(events(40..90)).unwrap();
    assert_eq!(first.wait().unwrap(), 0..40);
    assert_eq!(second.wait().unwrap(), 40..90);
    check(&core, 90);
    for (i, ev) in core.iter_feed(&core.author()).unwrap().enumerate() {
        assert_eq!((ev.kind(), ev.timestamp_us()), (7, 1_000 + i as u64));
    }
}

#[test]
fn under_group_commit_a_submitted_batch_is_an_ordinary_batch() {
    let dir = tempfile::tempdir().unwrap();
    let durability = Durability::GroupCommit { max_delay: std::time::Duration::from_millis(5) };
    let core = Core::builder().with_durability(durability).open(dir.path()).unwrap();
    let a = payloads(0..300);
    let syncs = core.stats().syncs;
    let p = core.submit_batch(a.iter().map(Vec::as_slice)).unwrap();
    assert_eq!(core.feed_len(&core.author()), 300, "published as append_batch does");
    assert_eq!(p.wait().unwrap(), 0..300);
    check(&core, 300);
    // And made durable within the delay, by the writer thread, with nothing else asked of it.
    let t = std::time::Instant::now();
    while core.stats().syncs == syncs && t.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(core.stats().syncs > syncs, "not synced after {:?}", t.elapsed());
}
