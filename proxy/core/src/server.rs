//! The tokio driver of a [`Proxy`]: the core role behind the transports.
//!
//! ```text
//!  net (UDP/TCP tasks) ──Dispatch::on_message──▶ channel ──▶ core task (owns the Proxy)
//!                                                               │ poll_transmit ──▶ net::Outbox
//!        router pool (N threads)      ◀── poll_router_call ─────┤
//!        resolve::Resolver            ◀── poll_resolve ─────────┤
//!        tokio::time::sleep_until     ◀── poll_timeout ─────────┘
//! ```
//!
//! Every queue is bounded (DESIGN §4: network input never allocates
//! without bound), and what happens when one is full is decided here:
//!
//! | queue | capacity | when full |
//! |---|---|---|
//! | received messages → core task | [`DriverSettings::queue`] | dropped and counted (`queue_full`, `queue_full_response`), as a full socket buffer would: UDP peers retransmit |
//! | router calls → pool | [`DriverSettings::router_queue`] | answered at once: a new request gets 503 with Retry-After, `on_failure` sends the best response, `on_reply` forwards (`router_queue_full`) |
//! | CANCELled INVITEs → `on_cancel` | [`crate::proxy::MAX_CANCELLED`] waiting, then the router calls' queue | the oldest waiting is forgotten; a full router queue skips the notification (logged at debug) |
//! | dead RFC 5626 flows → `on_flow_failed` | [`crate::proxy::MAX_FAILED_FLOWS`] waiting, then the router calls' queue | the oldest waiting is forgotten (`drops{reason="failed_flow_not_reported"}`); a full router queue skips it (`router_queue_full`, logged): the binding stays and the next request to it fails over again |
//! | resolutions in flight | [`DriverSettings::max_resolutions`] | the target counts as unresolved: its branch ends with 503 (`resolutions_refused`) |
//! | answers → core task | the sum of the three above | never full; a sender would wait, answers are never lost |
//! | handle requests (stats) | 16 | the caller waits |
//! | failed sends (a connection that could not be opened) → core task | 1024 | the transaction ends by its timeout instead (`send_failure_lost`) |
//!
//! A router call takes two hand-offs (core task → pool thread → core
//! task): no task or blocking thread is spawned per call.
//!
//! Wiring (what the `anysip` binary does for `role: core`):
//!
//! ```ignore
//! let (server, dispatch) = Server::new(settings, DriverSettings::default(), router, resolver, outbox.clone());
//! let dispatch: Arc<dyn net::Dispatch> = Arc::new(dispatch);
//! tokio::spawn(net::serve_udp(socket, dispatch.clone(), outbox.clone()));
//! // on SIGTERM / POST /admin/drain:
//! server.drain();
//! server.wait_idle(Duration::from_secs(drain_secs)).await;
//! ```
//!
//! Limits of this step: requests to a TCP/TLS destination go out only on a
//! connection the peer opened to us and that a response can use; a new
//! outbound connection is not opened (net has no connect yet), so such a
//! branch fails over to its next destination, or ends with 503.

mod deadlines;
mod dispatch;
mod pool;
mod queue;
mod task;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

pub use dispatch::CoreDispatch;

use crate::proxy::Proxy;
use crate::router::Router;
use crate::settings::Settings;
use crate::stats::Stats;

/// Options of the driver (not of the protocol).
#[derive(Debug, Clone, Copy)]
pub struct DriverSettings {
    /// Threads of the router pool: most router calls running at once.
    pub router_concurrency: usize,
    /// Depth of the queue of received messages; past it messages are
    /// dropped (and counted): UDP peers retransmit.
    pub queue: usize,
    /// Depth of the queue of router calls waiting for a pool thread; past
    /// it a new request gets 503 (see the module documentation).
    pub router_queue: usize,
    /// Most resolutions (DNS) in flight; past it a target counts as
    /// unresolved.
    pub max_resolutions: usize,
    /// A router call not answered within this (from when it was queued)
    /// is taken as failed (the request gets 500); the thread running it is
    /// left to finish and its late answer is dropped.
    pub router_timeout: Duration,
}

impl Default for DriverSettings {
    fn default() -> Self {
        DriverSettings {
            router_concurrency: 32,
            queue: 8192,
            router_queue: 4096,
            max_resolutions: 1024,
            router_timeout: Duration::from_secs(10),
        }
    }
}

/// What the core task is asked by its handles.
#[derive(Debug)]
enum Control {
    Stats(oneshot::Sender<Stats>),
}

/// Depth of the queue of handle requests (stats) to the core task.
const CONTROL_QUEUE: usize = 16;
/// Depth of the queue of sends that failed once their connection was tried.
const FAILED_QUEUE: usize = 1024;

/// Shared state of the driver itself.
#[derive(Debug, Default)]
struct DriverCounters {
    /// Requests dropped because the queue of received messages was full.
    queue_full: AtomicU64,
    /// Responses dropped because the queue of received messages was full.
    queue_full_responses: AtomicU64,
    /// Router calls answered by the driver because the pool's queue was
    /// full.
    router_queue_full: AtomicU64,
    /// Router calls given up after `router_timeout`.
    router_timeouts: AtomicU64,
    /// Resolutions refused because `max_resolutions` were in flight.
    resolutions_refused: AtomicU64,
    /// Send failures lost to a full queue (their transactions time out).
    send_failures_lost: AtomicU64,
    /// Set by `drain()`; the core task drains its proxy before handling
    /// anything received afterwards.
    draining: AtomicBool,
}

/// A clonable handle on the running core: drain, stats, waiting.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    control: mpsc::Sender<Control>,
    idle: watch::Receiver<bool>,
    counters: Arc<DriverCounters>,
}

impl ServerHandle {
    /// Starts draining: new out-of-dialog requests get 503 with
    /// Retry-After; in-dialog requests and transactions in flight go on.
    pub fn drain(&self) {
        self.counters.draining.store(true, Ordering::Relaxed);
    }

    /// Whether [`ServerHandle::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.counters.draining.load(Ordering::Relaxed)
    }

    /// The proxy's counters (`None` once the core task stopped).
    pub async fn stats(&self) -> Option<Stats> {
        let (tx, rx) = oneshot::channel();
        self.control.send(Control::Stats(tx)).await.ok()?;
        let mut s = rx.await.ok()?;
        let c = &self.counters;
        for (name, n) in [
            ("queue_full", &c.queue_full),
            ("queue_full_response", &c.queue_full_responses),
            ("router_queue_full", &c.router_queue_full),
            ("router_timeout", &c.router_timeouts),
            ("resolution_refused", &c.resolutions_refused),
            ("send_failure_lost", &c.send_failures_lost),
        ] {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                s.drops.insert(name, n);
            }
        }
        Some(s)
    }

    /// Whether no transaction, context or router call is in flight.
    pub fn is_idle(&self) -> bool {
        *self.idle.borrow()
    }

    /// Waits until nothing is in flight, or `limit` passed; true when idle.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let mut idle = self.idle.clone();
        tokio::time::timeout(limit, idle.wait_for(|i| *i))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// The running core. Dropping it stops the core task.
#[derive(Debug)]
pub struct Server {
    handle: ServerHandle,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts the core task (call within a tokio runtime). Returns the
    /// server and the [`net::Dispatch`] to give the listeners.
    pub fn new(
        settings: Settings,
        driver: DriverSettings,
        router: Arc<dyn Router>,
        resolver: resolve::Resolver,
        outbox: net::Outbox,
    ) -> (Server, CoreDispatch) {
        let mut settings = settings;
        settings.ask_on_reply = settings.ask_on_reply && router.wants_replies();
        let (msg_tx, msg_rx) = mpsc::channel(driver.queue.max(1));
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let (idle_tx, idle) = watch::channel(true);
        let counters = Arc::new(DriverCounters::default());
        let core = task::Core::new(
            Proxy::new(settings),
            router,
            resolver,
            outbox,
            driver,
            idle_tx,
            counters.clone(),
        );
        // Sends that waited for a connection and failed: few at a time (a
        // destination that fails is backed off), so a small queue; one
        // lost to a full queue ends by its transaction's timeout instead.
        let (failed_tx, failed_rx) = mpsc::channel(FAILED_QUEUE);
        let task = tokio::spawn(core.run(msg_rx, control_rx, failed_rx));
        let handle = ServerHandle {
            control,
            idle,
            counters: counters.clone(),
        };
        let dispatch = CoreDispatch::new(msg_tx, failed_tx, counters);
        (Server { handle, task }, dispatch)
    }

    /// A clonable handle (for the admin API, signal handlers).
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// See [`ServerHandle::drain`].
    pub fn drain(&self) {
        self.handle.drain();
    }

    /// See [`ServerHandle::stats`].
    pub async fn stats(&self) -> Option<Stats> {
        self.handle.stats().await
    }

    /// See [`ServerHandle::wait_idle`].
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        self.handle.wait_idle(limit).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
