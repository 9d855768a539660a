//! The [`Engine`]: one loaded script, its handlers, its host, and hot
//! reload. It implements `anysip_core::Router`.

pub(crate) mod call;
pub(crate) mod handlers;
mod load;
mod timers;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Instant, SystemTime};

use anysip_core::{Decision, FailedFlow, ReplyDecision, RequestContext, ResponseContext, Router};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use self::handlers::{Handler, Handlers, HandlersGuard, HostGuard};
use crate::api::callbacks::RelayCallbacks;
use crate::api::reply::Response;
use crate::api::request::Request;
use crate::error::ScriptError;
use crate::host::Host;

/// How often, at most, the file is checked for changes.
const RELOAD_CHECK_MS: u64 = 1000;

/// What identifies a version of the file: modification time and size.
type Stamp = Option<(SystemTime, u64)>;

/// A routing script loaded into the embedded interpreter.
///
/// Several engines can coexist in one process; each keeps its own
/// handlers. Calls take the GIL once each and may run concurrently from
/// several threads (Python runs one at a time; host calls that may block
/// release the GIL).
pub struct Engine {
    path: PathBuf,
    reload: bool,
    host: Arc<dyn Host>,
    handlers: Arc<RwLock<Arc<Handlers>>>,
    stamp: Mutex<Stamp>,
    started: Instant,
    last_check_ms: AtomicU64,
    generation: AtomicU64,
    /// Declared last: dropped after the rest, it stops the timer thread.
    _timers: timers::TimerThread,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("path", &self.path)
            .field("reload", &self.reload)
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn stamp_of(path: &Path) -> Stamp {
    let md = std::fs::metadata(path).ok()?;
    Some((md.modified().ok()?, md.len()))
}

impl Engine {
    /// Starts the interpreter if needed, installs the `anysip` module and
    /// executes the script at `path`. With `reload`, a change of the file
    /// is picked up (checked at most once a second, on calls).
    pub fn load(path: &Path, reload: bool, host: Arc<dyn Host>) -> Result<Engine, ScriptError> {
        crate::api::ensure_init().map_err(ScriptError::Python)?;
        let stamp = stamp_of(path);
        let handlers = Python::attach(|py| load::exec_script(py, path, &host, &[]))?;
        tracing::info!(
            target: "script",
            path = %path.display(),
            on_request = handlers.on_request.len(),
            on_reply = handlers.on_reply.len(),
            on_failure = handlers.on_failure.len(),
            timers = handlers.timers.len(),
            "script loaded"
        );
        let handlers = Arc::new(RwLock::new(Arc::new(handlers)));
        let timers = timers::start(Arc::clone(&handlers), Arc::clone(&host));
        Ok(Engine {
            path: path.to_owned(),
            reload,
            host,
            handlers,
            stamp: Mutex::new(stamp),
            started: Instant::now(),
            last_check_ms: AtomicU64::new(0),
            generation: AtomicU64::new(1),
            _timers: timers,
        })
    }

    /// Adds directories to Python's `sys.path` so that scripts can import
    /// shared helper modules from them (SIPhon's `script.include_paths`).
    pub fn add_import_paths(paths: &[PathBuf]) -> Result<(), ScriptError> {
        crate::api::ensure_init().map_err(ScriptError::Python)?;
        Python::attach(|py| {
            paths
                .iter()
                .try_for_each(|p| load::append_sys_path(py, p.to_string_lossy().into_owned()))
        })
        .map_err(|e| ScriptError::Python(e.to_string()))
    }

    /// The script's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many times the script was (re)loaded successfully.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Re-executes the script now; on failure the running handlers stay.
    pub fn reload_now(&self) -> Result<(), ScriptError> {
        let forget = self
            .handlers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .own_modules
            .clone();
        let loaded = Python::attach(|py| load::exec_script(py, &self.path, &self.host, &forget));
        match loaded {
            Ok(h) => {
                *self
                    .handlers
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Arc::new(h);
                self.generation.fetch_add(1, Ordering::Relaxed);
                tracing::info!(target: "script", path = %self.path.display(), "script reloaded");
                Ok(())
            }
            Err(e) => {
                if let ScriptError::Import { traceback, .. } = &e {
                    tracing::error!(target: "script", error = %e, %traceback, "script reload failed; keeping the running version");
                } else {
                    tracing::error!(target: "script", error = %e, "script reload failed; keeping the running version");
                }
                Err(e)
            }
        }
    }

    /// Reloads when the file changed (checked at most once a second).
    fn maybe_reload(&self) {
        if !self.reload {
            return;
        }
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_check_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < RELOAD_CHECK_MS {
            return;
        }
        if self
            .last_check_ms
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let stamp = stamp_of(&self.path);
        {
            let mut current = self.stamp.lock().unwrap_or_else(PoisonError::into_inner);
            if *current == stamp || stamp.is_none() {
                return;
            }
            *current = stamp;
        }
        let _ = self.reload_now();
    }

    fn current(&self) -> Arc<Handlers> {
        self.maybe_reload();
        Arc::clone(&self.handlers.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Logs a handler's exception and turns it into `Decision::Failed`.
    fn failed(&self, py: Python<'_>, what: &str, err: &PyErr) -> String {
        let tb = call::format_traceback(py, err);
        tracing::error!(target: "script", path = %self.path.display(), handler = what, traceback = %tb, "script handler raised");
        tb
    }

    /// Runs every handler of `list` that applies to `req`, in registration
    /// order (SIPhon's dispatcher): the last decision wins.
    fn run_request_chain<'py>(
        &self,
        py: Python<'py>,
        handlers: &Arc<Handlers>,
        list: &[Handler],
        what: &str,
        req: Request,
        reply: Option<Bound<'py, Response>>,
    ) -> Decision {
        let _host = HostGuard::enter(&self.host);
        let _running = HandlersGuard::enter(handlers);
        let method = req.ctx.message.method().map(|m| m.as_str().to_owned());
        let method = method.as_deref().unwrap_or("");
        let obj = match Bound::new(py, req) {
            Ok(o) => o,
            Err(e) => return Decision::Failed(self.failed(py, what, &e)),
        };
        // SIPhon's dispatcher: a request no handler is registered for gets
        // 500 "No Script Handler".
        if reply.is_none() && method != "ACK" && !list.iter().any(|h| h.applies(method)) {
            tracing::warn!(target: "script", method, "no script handler registered");
            return Decision::Reply(anysip_core::Reply {
                status: 500,
                reason: Some("No Script Handler".into()),
                headers: Vec::new(),
                body: None,
                reliable: false,
            });
        }
        for h in list.iter().filter(|h| h.applies(method)) {
            let args = match &reply {
                Some(r) => PyTuple::new(py, [obj.as_any(), r.as_any()]),
                None => PyTuple::new(py, [obj.as_any()]),
            };
            let result = args.and_then(|a| call::invoke(py, h, a));
            if let Err(e) = result {
                return Decision::Failed(self.failed(py, what, &e));
            }
        }
        let decision = obj.try_borrow().map_or(Decision::Drop, |r| r.decision());
        decision
    }
}

impl Engine {
    /// A relay's own `on_failure(request, code, reason)`: what it decided
    /// (`Drop` when nothing, so that the `@proxy.on_failure` handlers run).
    fn relay_on_failure(
        &self,
        py: Python<'_>,
        handlers: &Arc<Handlers>,
        cb: &Py<PyAny>,
        req: &RequestContext,
        best: &ResponseContext,
    ) -> Decision {
        let _host = HostGuard::enter(&self.host);
        let _running = HandlersGuard::enter(handlers);
        let obj = match Bound::new(py, Request::new(req.clone())) {
            Ok(o) => o,
            Err(e) => return Decision::Failed(self.failed(py, "relay on_failure", &e)),
        };
        let status = best.message.status().unwrap_or(500);
        let reason = best.message.reason().unwrap_or("");
        let ran = (obj.as_any(), status, reason)
            .into_pyobject(py)
            .and_then(|a| call::invoke_callable(py, cb.bind(py), a));
        if let Err(e) = ran {
            return Decision::Failed(self.failed(py, "relay on_failure", &e));
        }
        let decision = obj.try_borrow().map_or(Decision::Drop, |r| r.decision());
        decision
    }
}

impl Router for Engine {
    /// The thread is attached to the interpreter once, for its whole life,
    /// and detached while it waits: each call then re-attaches to that
    /// thread state. Without it every call made and destroyed a Python
    /// thread state (`PyGILState_Ensure` on a thread with none: a
    /// `gettid`, a 16 KiB `mmap` and its `munmap` per call).
    fn run_thread(&self, body: &mut (dyn FnMut() + Send)) {
        Python::attach(|py| py.detach(body));
    }

    fn wants_replies(&self) -> bool {
        !self
            .handlers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .on_reply
            .is_empty()
    }

    fn on_request(&self, req: &RequestContext) -> Decision {
        let handlers = self.current();
        Python::attach(|py| {
            self.run_request_chain(
                py,
                &handlers,
                &handlers.on_request,
                "on_request",
                Request::new(req.clone()),
                None,
            )
        })
    }

    fn on_reply(&self, req: &RequestContext, resp: &ResponseContext) -> ReplyDecision {
        let handlers = self.current();
        let callback = RelayCallbacks::of(resp.hooks.as_ref()).and_then(|c| c.on_reply.as_ref());
        if handlers.on_reply.is_empty() && callback.is_none() {
            return ReplyDecision::Forward;
        }
        let method = req.message.method().map(|m| m.as_str()).unwrap_or("");
        Python::attach(|py| {
            let _host = HostGuard::enter(&self.host);
            let _running = HandlersGuard::enter(&handlers);
            let objs = Bound::new(py, Response::new(resp.clone()))
                .and_then(|r| Ok((r, Bound::new(py, Request::new(req.clone()))?)));
            let (reply, request) = match objs {
                Ok(o) => o,
                Err(e) => {
                    self.failed(py, "on_reply", &e);
                    return ReplyDecision::Forward;
                }
            };
            for h in handlers.on_reply.iter().filter(|h| h.applies(method)) {
                let args = if h.arity == 1 {
                    PyTuple::new(py, [reply.as_any()])
                } else {
                    PyTuple::new(py, [request.as_any(), reply.as_any()])
                };
                if let Err(e) = args.and_then(|a| call::invoke(py, h, a)) {
                    self.failed(py, "on_reply", &e);
                    return ReplyDecision::Forward;
                }
                if reply
                    .try_borrow()
                    .is_ok_and(|r| r.decision() == ReplyDecision::Drop)
                {
                    break;
                }
            }
            // SIPhon: the relay's own on_reply runs after the handlers.
            if let Some(cb) = callback {
                let ran = PyTuple::new(py, [request.as_any(), reply.as_any()])
                    .and_then(|a| call::invoke_callable(py, cb.bind(py), a));
                if let Err(e) = ran {
                    self.failed(py, "relay on_reply", &e);
                }
            }
            let decision = reply
                .try_borrow()
                .map_or(ReplyDecision::Forward, |r| r.decision());
            decision
        })
    }

    fn on_cancel(&self, req: &RequestContext) {
        let handlers = self.current();
        if handlers.on_cancel.is_empty() {
            return;
        }
        Python::attach(|py| {
            let _host = HostGuard::enter(&self.host);
            let _running = HandlersGuard::enter(&handlers);
            let obj = match Bound::new(py, Request::new(req.clone())) {
                Ok(o) => o,
                Err(e) => {
                    self.failed(py, "on_cancel", &e);
                    return;
                }
            };
            for h in &handlers.on_cancel {
                let ran = PyTuple::new(py, [obj.as_any()]).and_then(|a| call::invoke(py, h, a));
                if let Err(e) = ran {
                    self.failed(py, "on_cancel", &e);
                }
            }
        });
    }

    /// RFC 5626 §5.3: the dead flow's binding ends (when it is still the
    /// one that was tried), and `@registrar.on_change` handlers hear
    /// `deregistered` with the AoR's remaining contacts (as SIPhon's
    /// flow-failure deregistration says it).
    fn on_flow_failed(&self, failed: &FailedFlow) {
        let flow = &failed.flow;
        let remaining = match self.host.registrar_remove_flow(failed) {
            Ok(Some(remaining)) => remaining,
            Ok(None) => {
                tracing::debug!(
                    aor = %flow.aor, instance = %flow.instance, reg_id = flow.reg_id,
                    "failed flow: its binding is already gone or was registered again"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(
                    aor = %flow.aor, instance = %flow.instance, reg_id = flow.reg_id, error = %e,
                    "failed flow: its binding could not be removed"
                );
                return;
            }
        };
        tracing::info!(
            aor = %flow.aor, instance = %flow.instance, reg_id = flow.reg_id,
            failure = failed.failure.as_str(), remaining = remaining.len(),
            "failed flow: binding removed"
        );
        let handlers = self.current();
        if handlers.on_change.is_empty() {
            return;
        }
        Python::attach(|py| {
            let _host = HostGuard::enter(&self.host);
            let _running = HandlersGuard::enter(&handlers);
            crate::api::registrar::notify(py, &flow.aor, "deregistered", remaining);
        });
    }

    fn on_failure(&self, req: &RequestContext, best: &ResponseContext) -> Decision {
        let handlers = self.current();
        let callback = RelayCallbacks::of(best.hooks.as_ref()).and_then(|c| c.on_failure.as_ref());
        if let Some(cb) = callback {
            let decision = Python::attach(|py| self.relay_on_failure(py, &handlers, cb, req, best));
            if decision != Decision::Drop {
                return decision;
            }
        }
        if handlers.on_failure.is_empty() {
            return Decision::Drop;
        }
        Python::attach(|py| {
            let reply = match Bound::new(py, Response::new(best.clone())) {
                Ok(r) => r,
                Err(e) => return Decision::Failed(self.failed(py, "on_failure", &e)),
            };
            self.run_request_chain(
                py,
                &handlers,
                &handlers.on_failure,
                "on_failure",
                Request::new(req.clone()),
                Some(reply),
            )
        })
    }
}
