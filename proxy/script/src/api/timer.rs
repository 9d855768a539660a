//! `timer`: `@timer.every(seconds, name=None, jitter=0)` registers a
//! callback the engine's timer thread runs every `seconds` (plus up to
//! `jitter` seconds at random), with the registrar, gateway, log and
//! metrics reachable as in a handler.

use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::engine::handlers::{self, Handler, TimerSpec};

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

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "timer", "timer", name)
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
