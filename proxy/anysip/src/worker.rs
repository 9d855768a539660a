//! Worker threads: each a current-thread tokio runtime that owns what was
//! created on it (sockets, listeners, the connections they accept,
//! timers, tasks), so a message is read, handled and written on one
//! thread, with no hand-off between a multi-threaded runtime's workers (on
//! one, a hand-off often wakes another worker: measured 381 against 288 µs
//! of CPU per call in the core, and a relayed message 796 against 636 µs
//! in the edges, docs/performance.md).
//!
//! The edge runs `server.workers` of them (thread per core: each with its
//! own `SO_REUSEPORT` UDP sockets and stream listeners); the core runs one
//! (the proxy task and its UDP receive tasks; the script runs on the
//! router pool's threads). The admin API, probes and everything else stay
//! on the process's runtime.

use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::error::Error;

/// A running worker thread; dropping it stops its runtime (and every task
/// on it).
#[derive(Debug)]
pub(crate) struct Worker {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    _thread: JoinHandle<()>,
}

impl Worker {
    /// Starts the thread `name` and its runtime.
    pub(crate) fn start(name: &str) -> Result<Worker, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                what: format!("the runtime of {name}"),
                source,
            })?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // Runs the spawned tasks until stopped (or the sender is
                // gone); the runtime is dropped here, on its own thread.
                let _ = rt.block_on(stopped);
            })
            .map_err(|source| Error::Io {
                what: format!("the thread {name}"),
                source,
            })?;
        Ok(Worker {
            handle,
            stop: Some(stop),
            _thread: thread,
        })
    }

    /// Starts `count` threads named `prefix-0`, `prefix-1`, ...
    pub(crate) fn start_many(prefix: &str, count: usize) -> Result<Vec<Worker>, Error> {
        (0..count.max(1))
            .map(|i| Worker::start(&format!("{prefix}-{i}")))
            .collect()
    }

    /// Spawns on this thread.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `f` with this runtime as the current one: what it creates
    /// (sockets, timers, tasks) belongs to this thread.
    pub(crate) fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = self.handle.enter();
        f()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
