//! The router pool's queue. Python runs one call at a time (the GIL), so a
//! second thread only helps while a call waits on I/O with the GIL
//! released; waking one for every call costs a thread switch, cold caches
//! and a GIL hand-off each time (measured: 159 µs of router-thread CPU per
//! call with 32 threads woken in turn, 83 µs with one). So:
//!
//! - a job is handed to an idle worker at once only when no worker is
//!   running or about to (the most recently idle one, whose caches are
//!   warm);
//! - otherwise it waits for a running worker to finish its job, which
//!   then takes it without sleeping;
//! - and a job that has waited [`SPILL`] is given to another idle worker
//!   ([`Queue::spill`], called by the core task at [`Queue::spill_at`]):
//!   calls blocked on I/O do not hold the others up for longer than that,
//!   and the pool still runs as many calls at once as it has threads.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a job waits for a running worker before an idle one is woken
/// for it.
pub(super) const SPILL: Duration = Duration::from_millis(1);

/// A bounded queue shared by a fixed set of workers, numbered from 0.
pub(super) struct Queue<T> {
    state: Mutex<State<T>>,
    /// One per worker: it waits on its own, so that a job wakes exactly
    /// the worker chosen for it.
    wake: Vec<Condvar>,
    capacity: usize,
}

struct State<T> {
    /// Jobs and when each was queued.
    jobs: VecDeque<(T, Instant)>,
    /// Idle workers, the most recently idle last.
    idle: Vec<usize>,
    /// Per worker: in `idle`.
    waiting: Vec<bool>,
    /// Per worker: woken for a job and not back in `pop` yet.
    woken: Vec<bool>,
    /// Per worker: running a job it took.
    busy: Vec<bool>,
    /// Workers woken or busy.
    active: usize,
    closed: bool,
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("workers", &self.wake.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<T> State<T> {
    /// Wakes the most recently idle worker, if any.
    fn wake_one(&mut self) -> Option<usize> {
        let w = self.idle.pop()?;
        self.waiting[w] = false;
        self.woken[w] = true;
        self.active += 1;
        Some(w)
    }
}

impl<T> Queue<T> {
    /// A queue for `workers` workers holding at most `capacity` jobs.
    pub(super) fn new(workers: usize, capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State {
                jobs: VecDeque::with_capacity(capacity.min(1024)),
                idle: Vec::with_capacity(workers),
                waiting: vec![false; workers],
                woken: vec![false; workers],
                busy: vec![false; workers],
                active: 0,
                closed: false,
            }),
            wake: (0..workers).map(|_| Condvar::new()).collect(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every critical section leaves the state consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job` at `now`, waking an idle worker when none is active;
    /// gives it back when the queue is full or closed.
    pub(super) fn push(&self, job: T, now: Instant) -> Result<(), T> {
        let mut s = self.lock();
        if s.closed || s.jobs.len() >= self.capacity {
            return Err(job);
        }
        s.jobs.push_back((job, now));
        let woken = if s.active == 0 { s.wake_one() } else { None };
        drop(s);
        if let Some(w) = woken {
            self.wake[w].notify_one();
        }
        Ok(())
    }

    /// When [`Queue::spill`] has something to do: the oldest job's
    /// [`SPILL`] while jobs wait and a worker is idle.
    pub(super) fn spill_at(&self) -> Option<Instant> {
        let s = self.lock();
        if s.idle.is_empty() {
            return None;
        }
        s.jobs.front().map(|(_, at)| *at + SPILL)
    }

    /// Wakes an idle worker when the oldest job has waited [`SPILL`].
    pub(super) fn spill(&self, now: Instant) {
        let mut s = self.lock();
        let due = s.jobs.front().is_some_and(|(_, at)| now >= *at + SPILL);
        let woken = if due { s.wake_one() } else { None };
        drop(s);
        if let Some(w) = woken {
            self.wake[w].notify_one();
        }
    }

    /// The next job for worker `me` (its previous one done), waiting while
    /// there is none; `None` once the queue is closed and empty.
    pub(super) fn pop(&self, me: usize) -> Option<T> {
        let mut s = self.lock();
        if std::mem::take(&mut s.busy[me]) {
            s.active -= 1;
        }
        loop {
            let was_woken = std::mem::take(&mut s.woken[me]);
            if let Some((job, _)) = s.jobs.pop_front() {
                if s.waiting[me] {
                    s.waiting[me] = false;
                    s.idle.retain(|&w| w != me);
                }
                s.busy[me] = true;
                if !was_woken {
                    s.active += 1;
                }
                return Some(job);
            }
            if was_woken {
                // Woken for a job another worker took.
                s.active -= 1;
            }
            if s.closed {
                return None;
            }
            if !s.waiting[me] {
                s.waiting[me] = true;
                s.idle.push(me);
            }
            s = self.wake[me]
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// No more jobs: the workers finish those queued, then `pop` gives
    /// `None`.
    pub(super) fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        drop(s);
        for c in &self.wake {
            c.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn workers(
        q: &Arc<Queue<u32>>,
        n: usize,
        hold: Duration,
    ) -> std::sync::mpsc::Receiver<(usize, u32)> {
        let (tx, rx) = std::sync::mpsc::channel();
        for me in 0..n {
            let (q, tx) = (q.clone(), tx.clone());
            std::thread::spawn(move || {
                while let Some(j) = q.pop(me) {
                    std::thread::sleep(hold);
                    tx.send((me, j)).unwrap();
                }
            });
        }
        // Let every worker go idle.
        std::thread::sleep(Duration::from_millis(100));
        rx
    }

    #[test]
    fn the_last_idle_worker_takes_the_next_job() {
        let q = Arc::new(Queue::<u32>::new(3, 8));
        let rx = workers(&q, 3, Duration::ZERO);
        let mut seen = Vec::new();
        for j in 0..20 {
            q.push(j, Instant::now()).unwrap();
            seen.push(rx.recv_timeout(Duration::from_secs(5)).unwrap());
            std::thread::sleep(Duration::from_millis(2));
        }
        let first = seen[0].0;
        assert!(
            seen.iter().all(|(w, _)| *w == first),
            "one worker took every job: {seen:?}"
        );
        q.close();
    }

    #[test]
    fn a_job_waits_for_the_running_worker_until_it_spills() {
        let q = Arc::new(Queue::<u32>::new(4, 64));
        let rx = workers(&q, 4, Duration::from_millis(200));
        let t0 = Instant::now();
        for j in 0..4 {
            q.push(j, t0).unwrap();
        }
        // One worker is running: the others wait for the spill.
        assert_eq!(q.spill_at(), Some(t0 + SPILL));
        for _ in 0..3 {
            q.spill(t0 + SPILL);
        }
        let mut ran: Vec<usize> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap().0)
            .collect();
        ran.sort_unstable();
        assert_eq!(ran, [0, 1, 2, 3], "four blocking jobs ran on four workers");
        assert!(
            t0.elapsed() < Duration::from_millis(600),
            "at once: {:?}",
            t0.elapsed()
        );
        assert_eq!(q.spill_at(), None, "nothing waits");
        q.close();
    }

    #[test]
    fn without_a_spill_the_running_worker_takes_the_queued_jobs() {
        let q = Arc::new(Queue::<u32>::new(3, 64));
        let rx = workers(&q, 3, Duration::from_millis(20));
        for j in 0..3 {
            q.push(j, Instant::now()).unwrap();
        }
        let ran: Vec<usize> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap().0)
            .collect();
        assert!(ran.iter().all(|w| *w == ran[0]), "{ran:?}");
        q.close();
    }

    #[test]
    fn full_and_closed_queues_give_the_job_back() {
        let q = Queue::<u32>::new(1, 2);
        let now = Instant::now();
        assert!(q.push(1, now).is_ok());
        assert!(q.push(2, now).is_ok());
        assert_eq!(q.push(3, now), Err(3));
        q.close();
        assert_eq!(q.pop(0), Some(1), "queued jobs are still handed out");
        assert_eq!(q.pop(0), Some(2));
        assert_eq!(q.pop(0), None);
        assert_eq!(q.push(4, now), Err(4));
    }
}
