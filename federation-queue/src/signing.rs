//! Threads of their own for expensive signatures.
//!
//! An RSA-2048 signature costs about a millisecond of CPU. Made on the async runtime's
//! workers, each one holds a worker for that long, and with hundreds of attempts in flight the
//! runtime's queues fill with them: every other task on the runtime (the queue's own loop
//! waiting on its store, and the embedding application's request handlers) waits behind tens
//! of milliseconds of signing for each step it takes. The pool runs those signatures on a few
//! plain threads instead, fed by one queue, so a thread that finishes a signature starts the
//! next at once, and the runtime's workers stay free for I/O.
//!
//! A thread hands its results back a few at a time while more jobs wait ([`BATCH`] results,
//! or whatever it has after [`BATCH_TIME`]), and all of them as soon as the queue is empty.
//! Each hand-back wakes the tasks waiting for those results, and waking a runtime worker that
//! had nothing to do costs a system call and a context switch on a machine whose cores are
//! busy signing. Woken once for several signatures, the runtime sends several requests in one
//! go. A result waits at most [`BATCH_TIME`] plus one job for its hand-back.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Hands a finished job's result to its caller.
type Handback = Box<dyn FnOnce() + Send>;
/// A job: runs, and returns how to hand its result back.
type Job = Box<dyn FnOnce() -> Handback + Send>;
type Jobs = Arc<Mutex<mpsc::Receiver<Job>>>;

/// Results a thread keeps before handing them back while more jobs wait.
const BATCH: usize = 4;
/// The longest a thread keeps a finished result while more jobs wait.
const BATCH_TIME: Duration = Duration::from_millis(3);

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
                .spawn(move || work(&queue))?;
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
            let result = job();
            // The caller may have gone (its attempt aborted at shutdown): nothing to do then.
            Box::new(move || {
                let _ = tx.send(result);
            })
        });
        // The threads only end once the sender is dropped, which is with `self`.
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }
}

/// One thread's loop: takes jobs until the pool is dropped, handing results back in batches.
fn work(queue: &Jobs) {
    let mut finished: Vec<Handback> = Vec::with_capacity(BATCH);
    let mut oldest = Instant::now();
    loop {
        let job = match next_job(queue, &mut finished) {
            Some(job) => job,
            None => {
                hand_back(&mut finished);
                return; // The pool was dropped.
            }
        };
        // A panicking job loses its own result (its caller sees `None` as the job's sender
        // is dropped), not the thread.
        if let Ok(handback) = std::panic::catch_unwind(AssertUnwindSafe(job)) {
            if finished.is_empty() {
                oldest = Instant::now();
            }
            finished.push(handback);
        }
        if finished.len() >= BATCH || (!finished.is_empty() && oldest.elapsed() >= BATCH_TIME) {
            hand_back(&mut finished);
        }
    }
}

/// The next job, or `None` once the pool is gone. Whatever is in `finished` is handed back
/// before anything that may block: waiting for the queue's lock (another thread holds it while
/// it waits for a job) or for a job.
fn next_job(queue: &Jobs, finished: &mut Vec<Handback>) -> Option<Job> {
    let jobs = match queue.try_lock() {
        Ok(jobs) => jobs,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => {
            hand_back(finished);
            queue.lock().unwrap_or_else(PoisonError::into_inner)
        }
    };
    match jobs.try_recv() {
        Ok(job) => Some(job),
        Err(TryRecvError::Disconnected) => None,
        Err(TryRecvError::Empty) => {
            // Nothing waiting: hand back now rather than after the next job comes. Another
            // thread waits on the lock meanwhile, as it would on the queue.
            hand_back(finished);
            jobs.recv().ok()
        }
    }
}

fn hand_back(finished: &mut Vec<Handback>) {
    for handback in finished.drain(..) {
        handback();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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

    /// Queues `job` on `pool` directly (in order, at once), its result handed back to
    /// `results`.
    fn queue(
        pool: &SigningPool,
        results: &mpsc::Sender<usize>,
        job: impl FnOnce() -> usize + Send + 'static,
    ) {
        let results = results.clone();
        let job: Job = Box::new(move || {
            let value = job();
            Box::new(move || results.send(value).unwrap())
        });
        pool.jobs.send(job).unwrap();
    }

    /// A job that waits until `gate` is opened (or dropped), then returns `value`.
    fn gated(value: usize) -> (mpsc::Sender<()>, impl FnOnce() -> usize + Send + 'static) {
        let (open, gate) = mpsc::channel::<()>();
        (open, move || {
            let _ = gate.recv();
            value
        })
    }

    fn next(results: &mpsc::Receiver<usize>) -> usize {
        results
            .recv_timeout(Duration::from_secs(10))
            .expect("a result should have come back")
    }

    #[test]
    fn results_are_kept_while_more_jobs_wait_and_come_back_in_batches() {
        let pool = SigningPool::start(1).unwrap();
        let (tx, results) = mpsc::channel();
        // The thread holds on the first job until the rest are queued behind it.
        let (open_first, first) = gated(0);
        queue(&pool, &tx, first);
        for value in 1..=BATCH {
            queue(&pool, &tx, move || value);
        }
        let (open_last, last) = gated(BATCH + 1);
        queue(&pool, &tx, last);
        open_first.send(()).unwrap();
        // A full batch (the first job and the next BATCH - 1) comes back while the last job
        // still runs...
        let mut got: Vec<usize> = (0..BATCH).map(|_| next(&results)).collect();
        got.sort_unstable();
        assert_eq!(got, (0..BATCH).collect::<Vec<_>>());
        // ...and the job after it is kept while the last one runs: no time bound is checked
        // while a job runs.
        assert!(
            results.recv_timeout(Duration::from_millis(100)).is_err(),
            "a result came back before a full batch or an empty queue"
        );
        open_last.send(()).unwrap();
        let mut rest = vec![next(&results), next(&results)];
        rest.sort_unstable();
        assert_eq!(rest, vec![BATCH, BATCH + 1]);
    }

    #[test]
    fn a_result_kept_longer_than_the_batch_time_comes_back_after_the_next_job() {
        let pool = SigningPool::start(1).unwrap();
        let (tx, results) = mpsc::channel();
        let (open_first, first) = gated(0);
        queue(&pool, &tx, first);
        // Longer than the batch time, with fewer results than a batch.
        queue(&pool, &tx, || {
            std::thread::sleep(BATCH_TIME * 2);
            1
        });
        let (open_last, last) = gated(2);
        queue(&pool, &tx, last);
        open_first.send(()).unwrap();
        let mut got = vec![next(&results), next(&results)];
        got.sort_unstable();
        assert_eq!(got, vec![0, 1], "kept past the batch time");
        open_last.send(()).unwrap();
        assert_eq!(next(&results), 2);
    }

    #[test]
    fn a_lone_result_comes_back_at_once() {
        let pool = SigningPool::start(2).unwrap();
        let (tx, results) = mpsc::channel();
        // Nothing else is queued (the previous job is back): each result comes back without
        // waiting for a batch.
        for value in 0..3 {
            queue(&pool, &tx, move || value);
            assert_eq!(next(&results), value);
        }
    }

    #[test]
    fn results_kept_by_one_thread_come_back_when_it_waits_for_the_queue() {
        // Two threads: one waits for a job while holding the queue; the other, with a result
        // kept, finds the queue taken and hands its result back before waiting its turn.
        let pool = SigningPool::start(2).unwrap();
        let (tx, results) = mpsc::channel();
        let (started, running) = mpsc::channel();
        let (open_first, first) = gated(0);
        let started_first = started.clone();
        queue(&pool, &tx, move || {
            started_first.send(()).unwrap();
            first()
        });
        let (open_second, second) = gated(1);
        queue(&pool, &tx, move || {
            started.send(()).unwrap();
            second()
        });
        // Both threads hold a job; the queue is empty.
        for _ in 0..2 {
            running.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        open_first.send(()).unwrap();
        assert_eq!(next(&results), 0);
        open_second.send(()).unwrap();
        assert_eq!(next(&results), 1);
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
            let job: Job = Box::new(move || {
                tx.send(i).unwrap();
                Box::new(|| {})
            });
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
