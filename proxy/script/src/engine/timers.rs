//! The engine's timer thread: runs the `@timer.every` callbacks of the
//! script version in force, each on its own schedule, until the engine is
//! dropped. A reload starts every schedule afresh.

use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::call;
use super::handlers::{Handlers, HandlersGuard, HostGuard, TimerSpec};
use crate::host::Host;

/// The longest the thread sleeps before looking again (a reload may have
/// brought new timers).
const MAX_NAP: Duration = Duration::from_millis(500);

/// Stops the thread when dropped.
pub(crate) struct TimerThread {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TimerThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TimerThread")
    }
}

impl Drop for TimerThread {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The next time `t` is due after `from`.
fn next_due(t: &TimerSpec, from: Instant) -> Instant {
    let mut extra = Duration::ZERO;
    if !t.jitter.is_zero() {
        let mut b = [0u8; 4];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
        extra = t
            .jitter
            .mul_f64(f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX));
    }
    from + t.every + extra
}

/// Runs one callback; an exception is logged with its traceback.
fn fire(t: &TimerSpec, handlers: &Arc<Handlers>, host: &Arc<dyn Host>) {
    Python::attach(|py| {
        let _host = HostGuard::enter(host);
        let _running = HandlersGuard::enter(handlers);
        let ran = call::invoke(py, &t.handler, PyTuple::empty(py));
        if let Err(e) = ran {
            let tb = call::format_traceback(py, &e);
            tracing::error!(target: "script", timer = %t.name, traceback = %tb, "timer callback raised");
        }
    });
}

/// Runs a `timer.set` callback with its key; an exception is logged.
fn fire_one_shot(key: &str, shot: &crate::api::timer::OneShot, handlers: &Arc<Handlers>) {
    Python::attach(|py| {
        let _host = HostGuard::enter(&shot.host);
        let _running = HandlersGuard::enter(handlers);
        let ran = PyTuple::new(py, [key]).and_then(|a| call::invoke(py, &shot.handler, a));
        if let Err(e) = ran {
            let tb = call::format_traceback(py, &e);
            tracing::error!(target: "script", key, traceback = %tb, "timer.set callback raised");
        }
    });
}

/// Starts the thread over `handlers` (the engine's current version).
pub(crate) fn start(handlers: Arc<RwLock<Arc<Handlers>>>, host: Arc<dyn Host>) -> TimerThread {
    let stop = Arc::new((Mutex::new(false), Condvar::new()));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("script-timers".into())
        .spawn(move || {
            let mut current: Option<Arc<Handlers>> = None;
            let mut due: Vec<Instant> = Vec::new();
            loop {
                let h = Arc::clone(&handlers.read().unwrap_or_else(PoisonError::into_inner));
                if !current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &h)) {
                    let now = Instant::now();
                    due = h.timers.iter().map(|t| next_due(t, now)).collect();
                    current = Some(Arc::clone(&h));
                }
                for (t, when) in h.timers.iter().zip(due.iter_mut()) {
                    if Instant::now() >= *when {
                        fire(t, &h, &host);
                        *when = next_due(t, Instant::now());
                    }
                }
                for (key, shot) in crate::api::timer::take_due(Instant::now()) {
                    fire_one_shot(&key, &shot, &h);
                }
                let nap = due
                    .iter()
                    .copied()
                    .chain(crate::api::timer::next_due())
                    .map(|d| d.saturating_duration_since(Instant::now()))
                    .min()
                    .unwrap_or(MAX_NAP)
                    .min(MAX_NAP);
                drop(h);
                let (lock, cv) = &*flag;
                let stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
                if *stopped {
                    return;
                }
                let (stopped, _) = cv
                    .wait_timeout(stopped, nap)
                    .unwrap_or_else(PoisonError::into_inner);
                if *stopped {
                    return;
                }
            }
        })
        .ok();
    if thread.is_none() {
        tracing::error!(target: "script", "cannot start the timer thread: @timer.every will not run");
    }
    TimerThread { stop, thread }
}
