//! The core's own thread: a current-thread tokio runtime running the proxy
//! task and the receive tasks of the core's UDP sockets, so that a
//! datagram is read, handled and answered on one thread, with no hand-off
//! between the runtime's workers (on a multi-threaded runtime each one
//! costs a thread wake-up: measured 381 against 288 µs of CPU per call at
//! 1000 calls/s, docs/performance.md). The proxy is one task anyway; the
//! script runs on the router pool's threads; streams, the admin API and
//! everything else stay on the process's runtime.

use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::error::Error;

/// The running thread; dropping it stops the runtime (and every task on
/// it).
#[derive(Debug)]
pub(crate) struct CoreThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    _thread: JoinHandle<()>,
}

impl CoreThread {
    /// Starts the thread and its runtime.
    pub(crate) fn start() -> Result<CoreThread, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                what: "the core's runtime".into(),
                source,
            })?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("anysip-core".into())
            .spawn(move || {
                // Runs the spawned tasks until stopped (or the sender is
                // gone); the runtime is dropped here, on its own thread.
                let _ = rt.block_on(stopped);
            })
            .map_err(|source| Error::Io {
                what: "the core's thread".into(),
                source,
            })?;
        Ok(CoreThread {
            handle,
            stop: Some(stop),
            _thread: thread,
        })
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

impl Drop for CoreThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
