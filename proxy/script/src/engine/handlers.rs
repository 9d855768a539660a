//! The handlers a script registered, and the per-thread context that lets
//! module-level objects (`proxy`, `registrar`, `gateway`, ...) reach the
//! engine that is running: the registry being filled while a script is
//! executed, and the host of the call in progress.

use std::cell::RefCell;
use std::sync::Arc;

use pyo3::prelude::*;

use crate::host::Host;

/// Which decorator registered a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `@proxy.on_request`.
    Request,
    /// `@proxy.on_reply`.
    Reply,
    /// `@proxy.on_failure`.
    Failure,
    /// `@registrar.on_change`.
    RegistrarChange,
    /// `@proxy.on_cancel`.
    Cancel,
}

/// One registered handler.
#[derive(Debug)]
pub(crate) struct Handler {
    /// The callable.
    pub(crate) func: Py<PyAny>,
    /// Methods it applies to (`None`: all).
    pub(crate) methods: Option<Vec<String>>,
    /// An `async def`: its result is run on the thread's event loop.
    pub(crate) is_async: bool,
    /// How many positional parameters it takes (on_reply: 1 = reply only).
    pub(crate) arity: usize,
}

impl Handler {
    /// Whether the handler applies to requests of `method`.
    pub(crate) fn applies(&self, method: &str) -> bool {
        self.methods
            .as_ref()
            .is_none_or(|m| m.iter().any(|x| x == method))
    }
}

/// A `@timer.every` callback.
#[derive(Debug)]
pub(crate) struct TimerSpec {
    /// The callback (called with no argument).
    pub(crate) handler: Handler,
    /// Its name (for logs).
    pub(crate) name: String,
    /// The interval.
    pub(crate) every: std::time::Duration,
    /// Up to this much is added to each interval, at random.
    pub(crate) jitter: std::time::Duration,
}

/// Every handler of one loaded script, in registration order, and the
/// namespace that keeps its globals alive.
#[derive(Debug, Default)]
pub(crate) struct Handlers {
    pub(crate) on_request: Vec<Handler>,
    pub(crate) on_reply: Vec<Handler>,
    pub(crate) on_failure: Vec<Handler>,
    pub(crate) on_change: Vec<Handler>,
    pub(crate) on_cancel: Vec<Handler>,
    pub(crate) timers: Vec<TimerSpec>,
    pub(crate) namespace: Option<Py<PyAny>>,
    /// Modules first imported by this load from the script's directory:
    /// dropped from `sys.modules` before a reload so that they (and their
    /// decorators) run again.
    pub(crate) own_modules: Vec<String>,
}

impl Handlers {
    fn push(&mut self, kind: Kind, h: Handler) {
        match kind {
            Kind::Request => self.on_request.push(h),
            Kind::Reply => self.on_reply.push(h),
            Kind::Failure => self.on_failure.push(h),
            Kind::RegistrarChange => self.on_change.push(h),
            Kind::Cancel => self.on_cancel.push(h),
        }
    }
}

thread_local! {
    /// The registry of the script this thread is executing, if any.
    static LOADING: RefCell<Option<Handlers>> = const { RefCell::new(None) };
    /// The host of the engine this thread is running a script for.
    static HOST: RefCell<Option<Arc<dyn Host>>> = const { RefCell::new(None) };
    /// The handlers of the script version this thread is running.
    static CURRENT: RefCell<Option<Arc<Handlers>>> = const { RefCell::new(None) };
}

/// Starts collecting the handlers of a script being executed on this thread.
pub(crate) fn begin_loading() {
    LOADING.with(|l| *l.borrow_mut() = Some(Handlers::default()));
}

/// Stops collecting and returns what was registered.
pub(crate) fn end_loading() -> Handlers {
    LOADING.with(|l| l.borrow_mut().take()).unwrap_or_default()
}

/// Adds a handler to the script being loaded; false when no script is
/// loading on this thread (a decorator used at run time).
pub(crate) fn register(kind: Kind, h: Handler) -> bool {
    LOADING.with(|l| match l.borrow_mut().as_mut() {
        Some(reg) => {
            reg.push(kind, h);
            true
        }
        None => false,
    })
}

/// Adds a timer to the script being loaded; false outside a load.
pub(crate) fn register_timer(t: TimerSpec) -> bool {
    LOADING.with(|l| match l.borrow_mut().as_mut() {
        Some(reg) => {
            reg.timers.push(t);
            true
        }
        None => false,
    })
}

/// Makes `host` the current host of this thread until the guard drops.
pub(crate) struct HostGuard {
    previous: Option<Arc<dyn Host>>,
}

impl HostGuard {
    /// Enters `host`.
    pub(crate) fn enter(host: &Arc<dyn Host>) -> Self {
        let previous = HOST.with(|h| h.borrow_mut().replace(Arc::clone(host)));
        HostGuard { previous }
    }
}

impl std::fmt::Debug for HostGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostGuard")
    }
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        HOST.with(|h| *h.borrow_mut() = previous);
    }
}

/// The current host of this thread, if a script call is in progress.
pub(crate) fn current_host() -> Option<Arc<dyn Host>> {
    HOST.with(|h| h.borrow().clone())
}

/// Makes `handlers` the running version of this thread until the guard
/// drops (what `registrar.save` reaches for `@registrar.on_change`).
pub(crate) struct HandlersGuard {
    previous: Option<Arc<Handlers>>,
}

impl HandlersGuard {
    /// Enters `handlers`.
    pub(crate) fn enter(handlers: &Arc<Handlers>) -> Self {
        let previous = CURRENT.with(|h| h.borrow_mut().replace(Arc::clone(handlers)));
        HandlersGuard { previous }
    }
}

impl std::fmt::Debug for HandlersGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandlersGuard")
    }
}

impl Drop for HandlersGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|h| *h.borrow_mut() = previous);
    }
}

/// The running version's handlers on this thread, if any.
pub(crate) fn current_handlers() -> Option<Arc<Handlers>> {
    CURRENT.with(|h| h.borrow().clone())
}
