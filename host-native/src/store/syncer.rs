//! Long-lived threads that run a commit's `fdatasync`s (and the tail log's queued writes)
//! while another thread goes on: one for the segments, one for the log, so that the two
//! files' flushes are in flight at once.
//!
//! A thread spawned per commit costs its spawner about what the syncs of a small commit cost
//! the disk (`clone3` and the new task's wake-up were 5 % of a pipelined ingest's samples on
//! the appending thread); handing a job to a waiting thread costs a channel send and a wake-up.
//! The threads are spawned on first use and joined when their [`SyncWorker`] is dropped.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::error::IoError;

/// What a worker runs: syncs (and writes) of one commit.
pub(crate) type Work = Box<dyn FnOnce() -> Result<(), IoError> + Send>;

/// A job and where its result goes.
struct Job {
    work: Work,
    done: Sender<Result<(), IoError>>,
}

/// A long-lived thread that runs [`Work`], one job at a time, in the order given.
pub(crate) struct SyncWorker {
    name: &'static str,
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

/// The result of a job handed to a [`SyncWorker`], once it has run.
pub(crate) struct Started {
    name: &'static str,
    done: Receiver<Result<(), IoError>>,
}

impl Started {
    /// Waits until the job has run; its result.
    pub(crate) fn wait(self) -> Result<(), IoError> {
        // The sender is dropped without a result only if the job panicked.
        self.done.recv().unwrap_or_else(|_| Err(IoError::new("sync", None, std::io::Error::other(self.name))))
    }
}

impl SyncWorker {
    /// A worker whose thread (named `name`) is spawned by its first job.
    pub(crate) fn new(name: &'static str) -> Self {
        SyncWorker { name, jobs: None, thread: None }
    }

    /// Hands `work` to the thread; [`Started::wait`] gives its result.
    pub(crate) fn start(&mut self, work: Work) -> Result<Started, IoError> {
        let (done, rx) = crossbeam_channel::bounded(1);
        let jobs = match &self.jobs {
            Some(jobs) => jobs,
            None => self.spawn()?,
        };
        // The thread outlives a panicking job, so it is there until `self` is dropped.
        jobs.send(Job { work, done }).map_err(|_| IoError::new("sync", None, std::io::Error::other(self.name)))?;
        Ok(Started { name: self.name, done: rx })
    }

    fn spawn(&mut self) -> Result<&Sender<Job>, IoError> {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let thread = std::thread::Builder::new()
            .name(self.name.into())
            .spawn(move || {
                for job in rx {
                    // A panicking job drops its result's sender: its waiter gets an error.
                    if let Ok(r) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job.work)) {
                        let _ = job.done.send(r);
                    }
                }
            })
            .map_err(|e| IoError::new("start sync thread", None, e))?;
        self.thread = Some(thread);
        Ok(self.jobs.insert(tx))
    }
}

impl Drop for SyncWorker {
    /// Ends the thread once the jobs handed to it have run.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_in_order_and_report_their_results() {
        let mut w = SyncWorker::new("test-sync");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let started: Vec<Started> = (0..5)
            .map(|i| {
                let log = log.clone();
                w.start(Box::new(move || {
                    log.lock().unwrap().push(i);
                    if i == 3 { Err(IoError::new("sync segment", None, std::io::Error::other("boom"))) } else { Ok(()) }
                }))
                .unwrap()
            })
            .collect();
        let results: Vec<bool> = started.into_iter().map(|s| s.wait().is_ok()).collect();
        assert_eq!(results, [true, true, true, false, true]);
        assert_eq!(*log.lock().unwrap(), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_panicking_job_is_an_error_not_a_hang() {
        let mut w = SyncWorker::new("test-sync-panic");
        let s = w.start(Box::new(|| panic!("job panics"))).unwrap();
        let e = s.wait().unwrap_err();
        assert_eq!(e.op, "sync");
        // The thread is still there for the next jobs.
        for _ in 0..3 {
            w.start(Box::new(|| Ok(()))).unwrap().wait().unwrap();
        }
    }
}
