//! Waiting for a message between the writer thread and an appending thread: spin briefly, then
//! block.
//!
//! A blocked thread is woken through the kernel (a futex wake, then the scheduler), which took
//! 10–20 µs per hand-off on the VMs these benchmarks ran on; a durable append makes two
//! hand-offs (the request to the writer, the reply back), as much as its `fdatasync` on a fast
//! disk. So the writer spins for up to [`SPIN`] on its next request, checking the clock every
//! few iterations, before blocking like any receiver.
//!
//! An appender spins on its reply only while replies come back within [`SPIN`] (it remembers
//! how long its last one took): a commit that is a few microseconds of CPU, or a fast disk's
//! `fdatasync`. When the writer waits on a slower `fdatasync`, the appender blocks at once: on
//! the VMs here, with the host stealing a third of the vCPU time, a vCPU spinning through the
//! device's flush made one-event durable appends 2–2.5× slower (10 000 appends: 4.5–5.7 s
//! spinning, 1.7–2.1 s blocking; a plain file with one `fdatasync` per record 0.7–1.9 s).
//! A thread that waits longer than [`SPIN`] costs at most [`SPIN`] of CPU per wait.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvError, TryRecvError};

/// Longest a waiter spins before blocking.
pub(crate) const SPIN: Duration = Duration::from_micros(100);

/// Receives from `rx`, spinning for up to `budget` before blocking.
pub(crate) fn recv_spin<T>(rx: &Receiver<T>, budget: Duration) -> Result<T, RecvError> {
    let mut start = None;
    let mut i = 0u32;
    loop {
        match rx.try_recv() {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Disconnected) => return Err(RecvError),
            Err(TryRecvError::Empty) => {}
        }
        i = i.wrapping_add(1);
        if i.is_multiple_of(32) {
            let t0 = *start.get_or_insert_with(Instant::now);
            if t0.elapsed() >= budget {
                return rx.recv();
            }
        }
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receives_while_spinning_and_after_blocking() {
        let (tx, rx) = crossbeam_channel::unbounded();
        tx.send(1).unwrap();
        assert_eq!(recv_spin(&rx, SPIN), Ok(1));
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(2).unwrap();
        });
        assert_eq!(recv_spin(&rx, SPIN), Ok(2), "a message after the spin budget arrives by blocking");
        t.join().unwrap();
        assert_eq!(recv_spin(&rx, SPIN), Err(RecvError), "disconnected");
    }
}
