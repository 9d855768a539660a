//! `timer`: `@timer.every(seconds, name=None, jitter=0)` registers a
//! callback the engine's timer thread runs every `seconds` (plus up to
//! `jitter` seconds at random), with the registrar, gateway, log and
//! metrics reachable as in a handler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::engine::handlers::{self, Handler, TimerSpec};
use crate::host::Host;

/// One-shot timers armed at most (`timer.set` fails beyond).
const MAX_ONE_SHOTS: usize = 100_000;

/// A `timer.set` callback waiting for its time.
pub(crate) struct OneShot {
    pub(crate) due: Instant,
    pub(crate) handler: Handler,
    /// The host of the script that armed it.
    pub(crate) host: Arc<dyn Host>,
}

/// The armed one-shot timers, by key.
static ONE_SHOTS: Mutex<Option<HashMap<String, OneShot>>> = Mutex::new(None);

fn with_shots<T>(f: impl FnOnce(&mut HashMap<String, OneShot>) -> T) -> T {
    let mut g = ONE_SHOTS.lock().unwrap_or_else(PoisonError::into_inner);
    f(g.get_or_insert_with(HashMap::new))
}

/// Takes the one-shots due at `now`.
pub(crate) fn take_due(now: Instant) -> Vec<(String, OneShot)> {
    with_shots(|m| {
        let keys: Vec<String> = m
            .iter()
            .filter(|(_, s)| s.due <= now)
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| m.remove(&k).map(|s| (k, s)))
            .collect()
    })
}

/// When the next one-shot is due.
pub(crate) fn next_due() -> Option<Instant> {
    with_shots(|m| m.values().map(|s| s.due).min())
}

fn cancel_key(key: &str) -> bool {
    with_shots(|m| m.remove(key).is_some())
}

/// The `timer` object of the module.
#[pyclass(module = "anysip", name = "Timer", frozen)]
#[derive(Debug)]
pub struct Timer;

/// The decorator `timer.every(...)` returns.
#[pyclass(module = "anysip", name = "TimerDecorator", frozen)]
#[derive(Debug)]
pub struct Every {
    every: Duration,
    name: Option<String>,
    jitter: Duration,
}

/// Seconds as a duration: positive and finite.
fn seconds(what: &str, s: f64, allow_zero: bool) -> PyResult<Duration> {
    if !s.is_finite() || s < 0.0 || (!allow_zero && s == 0.0) || s > 86_400.0 * 365.0 {
        return Err(PyValueError::new_err(format!(
            "timer.every: {what} must be a positive number of seconds, not {s}"
        )));
    }
    Ok(Duration::from_secs_f64(s))
}

#[pymethods]
impl Timer {
    /// `@timer.every(seconds=30)`: runs the function every 30 s.
    #[pyo3(signature = (seconds, name=None, jitter=0.0))]
    fn every(&self, seconds: f64, name: Option<String>, jitter: f64) -> PyResult<Every> {
        Ok(Every {
            every: self::seconds("seconds", seconds, false)?,
            name,
            jitter: self::seconds("jitter", jitter, true)?,
        })
    }

    /// `timer.set(key, delay_ms, handler)`: calls `handler(key)` once,
    /// `delay_ms` milliseconds from now; the same key again re-arms it.
    fn set(
        &self,
        py: Python<'_>,
        key: String,
        delay_ms: u64,
        handler: &Bound<'_, PyAny>,
    ) -> PyResult<TimerHandle> {
        if !handler.is_callable() {
            return Err(PyTypeError::new_err("a timer callback must be callable"));
        }
        let is_async = py
            .import("inspect")?
            .call_method1("iscoroutinefunction", (handler,))?
            .is_truthy()?;
        let host = super::host()?;
        let shot = OneShot {
            due: Instant::now() + Duration::from_millis(delay_ms.min(86_400_000 * 365)),
            handler: Handler {
                func: handler.clone().unbind(),
                methods: None,
                is_async,
                arity: 1,
            },
            host,
        };
        let armed = with_shots(|m| {
            if m.len() >= MAX_ONE_SHOTS && !m.contains_key(&key) {
                return false;
            }
            m.insert(key.clone(), shot);
            true
        });
        if !armed {
            return Err(PyRuntimeError::new_err(format!(
                "timer.set: {MAX_ONE_SHOTS} timers are already armed"
            )));
        }
        Ok(TimerHandle { key })
    }

    /// `timer.cancel(key)`: True when a timer was armed under `key`.
    fn cancel(&self, key: &str) -> bool {
        cancel_key(key)
    }

    /// How many one-shot timers are armed.
    #[getter]
    fn active_count(&self) -> usize {
        with_shots(|m| m.len())
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "timer", "timer", name)
    }
}

/// What `timer.set` returns.
#[pyclass(module = "anysip", name = "TimerHandle", frozen)]
#[derive(Debug)]
pub struct TimerHandle {
    key: String,
}

#[pymethods]
impl TimerHandle {
    /// The key it was armed under.
    #[getter]
    fn key(&self) -> &str {
        &self.key
    }

    /// Disarms it: True when it was still armed.
    fn cancel(&self) -> bool {
        cancel_key(&self.key)
    }

    fn __repr__(&self) -> String {
        format!("TimerHandle(key={:?})", self.key)
    }
}

#[pymethods]
impl Every {
    fn __call__(&self, py: Python<'_>, func: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if !func.is_callable() {
            return Err(PyTypeError::new_err("a timer callback must be callable"));
        }
        let is_async = py
            .import("inspect")?
            .call_method1("iscoroutinefunction", (func,))?
            .is_truthy()?;
        let name = match &self.name {
            Some(n) => n.clone(),
            None => func
                .getattr("__name__")
                .and_then(|n| n.extract())
                .unwrap_or_else(|_| "timer".to_owned()),
        };
        let spec = TimerSpec {
            handler: Handler {
                func: func.clone().unbind(),
                methods: None,
                is_async,
                arity: 0,
            },
            name,
            every: self.every,
            jitter: self.jitter,
        };
        if handlers::register_timer(spec) {
            Ok(func.clone().unbind())
        } else {
            Err(PyRuntimeError::new_err(
                "timers can only be registered while the script is loaded",
            ))
        }
    }
}
