//! Threads of their own for expensive signatures.
//!
//! An RSA-2048 signature costs about a millisecond of CPU. Made on the async runtime's
//! workers, each one holds a worker for that long, and with hundreds of attempts in flight the
//! runtime's queues fill with them: every other task on the runtime (the queue's own loop
//! waiting on its store, and the embedding application's request handlers) waits behind tens
//! of milliseconds of signing for each step it takes. The pool runs those signatures on a few
//! plain threads instead, fed by one queue, so a thread that finishes a signature starts the
//! next at once, and the runtime's workers stay free for I/O.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads running jobs in the order they come.
///
/// Dropping the pool lets its threads finish the jobs already queued and end.
#[derive(Debug)]
pub(crate) struct SigningPool {
    jobs: mpsc::Sender<Job>,
    threads: usize,
    /// The threads' shared end of the queue: gone once every thread has ended.
    #[cfg(test)]
    queue: std::sync::Weak<Mutex<mpsc::Receiver<Job>>>,
}

impl SigningPool {
    /// Starts `threads` threads (at least one), named `fq-sign-N`.
    pub(crate) fn start(threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("fq-sign-{n}"))
                .spawn(move || {
                    loop {
                        // One thread waits on the queue while holding the lock, the others on
                        // the lock; whichever takes a job lets go before running it.
                        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(job) = job else {
                            return; // The pool was dropped.
                        };
                        // A panicking job loses its own result (its caller sees `None`), not
                        // the thread.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                    }
                })?;
        }
        Ok(Self {
            jobs,
            threads,
            #[cfg(test)]
            queue: Arc::downgrade(&queue),
        })
    }

    /// How many threads run jobs.
    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job` on one of the pool's threads and waits for its result; `None` if it panicked.
    pub(crate) async fn run<R, F>(&self, job: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone (its attempt aborted at shutdown): nothing to do then.
            let _ = tx.send(job());
        });
        // The threads only end once the sender is dropped, which is with `self`.
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    #[tokio::test]
    async fn runs_jobs_on_its_own_threads() {
        let pool = SigningPool::start(2).unwrap();
        assert_eq!(pool.threads(), 2);
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("fq-sign-"));
    }

    #[tokio::test]
    async fn every_job_of_many_comes_back_with_its_own_result() {
        let pool = Arc::new(SigningPool::start(3).unwrap());
        let mut handles = Vec::new();
        for i in 0..200_u64 {
            let pool = Arc::clone(&pool);
            handles.push(tokio::spawn(async move { pool.run(move || i * i).await }));
        }
        for (i, handle) in (0..200_u64).zip(handles) {
            assert_eq!(handle.await.unwrap(), Some(i * i));
        }
    }

    #[tokio::test]
    async fn a_panicking_job_returns_none_and_the_threads_go_on() {
        let pool = SigningPool::start(1).unwrap();
        let lost: Option<u8> = pool.run(|| panic!("a bad key")).await;
        assert_eq!(lost, None);
        // The single thread survived.
        assert_eq!(pool.run(|| 7).await, Some(7));
    }

    #[test]
    fn zero_threads_means_one() {
        assert_eq!(SigningPool::start(0).unwrap().threads(), 1);
    }

    #[test]
    fn threads_finish_queued_jobs_and_end_when_the_pool_is_dropped() {
        let pool = SigningPool::start(2).unwrap();
        let queue = pool.queue.clone();
        let (tx, rx) = mpsc::channel();
        for i in 0..10 {
            let tx = tx.clone();
            let job: Job = Box::new(move || tx.send(i).unwrap());
            pool.jobs.send(job).unwrap();
        }
        drop(pool);
        let mut got: Vec<i32> = (0..10).map(|_| rx.recv().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        // Each thread holds the queue until it ends.
        let mut ended = false;
        for _ in 0..500 {
            if queue.upgrade().is_none() {
                ended = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(ended, "the pool's threads are still running");
    }
}
