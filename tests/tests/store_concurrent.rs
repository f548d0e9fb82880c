//! Readers work while the writer appends: threads iterate, read by seq and by range, and make
//! and check proofs against the signed head while other threads append. Every event a reader
//! sees has the right bytes for its seq, an iterator sees at least what was committed when it
//! was made, and every proof verifies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use xaeroflux::{Core, Durability, verify_consistency, verify_event};

/// Payload of the `k`-th event appended by writer `w`: `w`, `k`, then bytes derived from
/// them; some are larger than a page.
fn payload(w: u8, k: u64) -> Vec<u8> {
    let len = if k.is_multiple_of(151) { 5000 } else { 20 + (k * 7 % 300) as usize };
    let mut p = vec![w];
    p.extend_from_slice(&k.to_le_bytes());
    p.extend((0..len).map(|i| (k as usize + i * 13 + usize::from(w)) as u8));
    p
}

/// Checks that an event read back is exactly one that some writer appended.
fn check_event(ev: &xaeroflux::EventRef<'_>) -> (u8, u64) {
    let p = ev.payload();
    let w = p[0];
    let k = u64::from_le_bytes(p[1..9].try_into().unwrap());
    assert_eq!(p, payload(w, k).as_slice(), "event {} has the wrong bytes", ev.seq());
    (w, k)
}

fn run(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(
        Core::builder()
            .with_page_size(2048)
            .with_segment_pages(32)
            .with_durability(durability)
            .open(dir.path())
            .unwrap(),
    );
    let me = core.author();
    let target = 4_000u64;
    let writers = 2;
    let readers = 3;
    let done = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(writers + readers));
    let mut handles = Vec::new();
    // The writers append concurrently (their commits are grouped by the writer thread): single
    // events, and batches of varying size. Each records the seqs it was given.
    let mut writer_handles = Vec::new();
    for w in 0..writers as u8 {
        let (core, done, total, start) = (core.clone(), done.clone(), total.clone(), start.clone());
        writer_handles.push(std::thread::spawn(move || {
            start.wait();
            let mut got: Vec<(u64, u64)> = Vec::new(); // (seq, k)
            let mut k = 0u64;
            while total.load(Ordering::SeqCst) < target {
                let n = if w == 0 { 1 } else { 1 + k % 37 };
                let p: Vec<Vec<u8>> = (k..k + n).map(|i| payload(w, i)).collect();
                let r = core.append_batch(p.iter().map(|v| v.as_slice())).unwrap();
                assert_eq!(r.end - r.start, n);
                got.extend(r.zip(k..k + n));
                k += n;
                total.fetch_add(n, Ordering::SeqCst);
            }
            done.fetch_add(1, Ordering::SeqCst);
            (w, got)
        }));
    }
    for r in 0..readers {
        let (core, done, start) = (core.clone(), done.clone(), start.clone());
        handles.push(std::thread::spawn(move || {
            start.wait();
            let mut rounds = 0u64;
            let mut last_head = core.head();
            loop {
                let finished = done.load(Ordering::SeqCst) == writers as u64;
                let len = core.feed_len(&me);
                match r {
                    // Arrival order scan.
                    0 => {
                        let mut n = 0u64;
                        let mut last_k = [None::<u64>; 2];
                        for ev in core.iter_events() {
                            let ev = ev.unwrap();
                            assert_eq!(ev.seq(), n, "arrival order of the only feed is seq order");
                            let (w, k) = check_event(&ev);
                            let prev = &mut last_k[usize::from(w)];
                            assert!(prev.is_none_or(|p| p + 1 == k), "writer {w}'s events in order");
                            *prev = Some(k);
                            n += 1;
                        }
                        assert!(n >= len, "iterator made after {len} events saw only {n}");
                    }
                    // Point reads and ranges near the moving end.
                    1 => {
                        for seq in [0, len / 2, len.saturating_sub(1), len.saturating_sub(40)] {
                            if seq < len {
                                check_event(&core.get(&me, seq).unwrap().unwrap());
                            }
                        }
                        let from = len.saturating_sub(100);
                        let got: Vec<u64> = core
                            .range(&me, from..len)
                            .unwrap()
                            .map(|e| {
                                check_event(&e);
                                e.seq()
                            })
                            .collect();
                        assert_eq!(got, (from..len).collect::<Vec<_>>());
                    }
                    // Proofs against the head of the moment, and consistency with the last head.
                    _ => {
                        let head = core.head();
                        head.verify().unwrap();
                        assert!(head.length >= last_head.length);
                        if head.length > 0 {
                            for seq in [0, head.length / 3, head.length - 1] {
                                let ev = core.get(&me, seq).unwrap().unwrap();
                                let proof = loop {
                                    // The feed may have grown since `head`: prove at the head's length
                                    // by proving now and checking against the head of now.
                                    let now = core.head();
                                    let p = core.inclusion_proof(&me, seq).unwrap();
                                    if p.leaves == now.length {
                                        break (p, now);
                                    }
                                };
                                verify_event(&ev, &proof.0, &proof.1).unwrap();
                            }
                            let c = core.consistency_proof(&me, last_head.length).unwrap();
                            let now = core.head();
                            if c.new_leaves == now.length {
                                verify_consistency(&last_head, &now, &c).unwrap();
                            }
                        }
                        last_head = head;
                    }
                }
                rounds += 1;
                if finished {
                    break;
                }
            }
            rounds
        }));
    }
    let started = Instant::now();
    let mut reader_rounds = Vec::new();
    for h in handles {
        reader_rounds.push(h.join().expect("reader panicked"));
    }
    let mut appended = 0;
    for h in writer_handles {
        let (w, got) = h.join().expect("writer panicked");
        for (seq, k) in got {
            let ev = core.get(&me, seq).unwrap().unwrap();
            assert_eq!(check_event(&ev), (w, k), "seq {seq} holds what its append returned");
            appended += 1;
        }
    }
    assert!(reader_rounds.iter().all(|&n| n >= 2), "readers ran during the appends: {reader_rounds:?}");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(core.feed_len(&me), appended);
    assert!(appended >= target);
    assert_eq!(core.iter_events().count() as u64, appended);
}

#[test]
fn readers_while_appending_each_append_durable() {
    run(Durability::EachAppend);
}

#[test]
fn readers_while_appending_group_commit() {
    run(Durability::GroupCommit { max_delay: Duration::from_millis(2) });
}
