//! `proxy`: the decorators that register handlers.
//!
//! `@proxy.on_request` (bare) registers for every method;
//! `@proxy.on_request("INVITE|SUBSCRIBE")` only for those methods. The same
//! forms work for `on_reply` and `on_failure` (filtering on the request's
//! method). Handlers register into the script being loaded on this thread.

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

use crate::engine::handlers::{self, Handler, Kind};

/// The `proxy` object of the `anysip` module.
#[pyclass(module = "anysip", name = "Proxy", frozen)]
#[derive(Debug)]
pub struct Proxy;

/// A decorator with a method filter: `@proxy.on_request("INVITE")`.
#[pyclass(module = "anysip", name = "HandlerDecorator", frozen)]
#[derive(Debug)]
pub struct Decorator {
    kind: Kind,
    methods: Option<Vec<String>>,
}

/// `"INVITE|SUBSCRIBE"`, `"INVITE, BYE"` or a list → method names.
fn parse_methods(arg: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let raw: Vec<String> = if let Ok(s) = arg.cast::<PyString>() {
        s.to_str()?
            .split(['|', ',', ' '])
            .map(str::to_owned)
            .collect()
    } else {
        arg.extract()?
    };
    let methods: Vec<String> = raw
        .iter()
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect();
    if methods.is_empty() {
        return Err(PyTypeError::new_err("no method named in the filter"));
    }
    Ok(methods)
}

/// Inspects and registers `func`.
pub(crate) fn register_handler(
    py: Python<'_>,
    kind: Kind,
    methods: Option<Vec<String>>,
    func: &Bound<'_, PyAny>,
) -> PyResult<()> {
    static INSPECT: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    if !func.is_callable() {
        return Err(PyTypeError::new_err("a handler must be callable"));
    }
    let inspect = INSPECT
        .get_or_try_init(py, || py.import("inspect").map(Bound::unbind))?
        .bind(py);
    let is_async = inspect
        .call_method1("iscoroutinefunction", (func,))?
        .is_truthy()?;
    let arity = inspect
        .call_method1("signature", (func,))
        .and_then(|s| s.getattr("parameters")?.len())
        .unwrap_or(2);
    let h = Handler {
        func: func.clone().unbind(),
        methods,
        is_async,
        arity,
    };
    if handlers::register(kind, h) {
        Ok(())
    } else {
        Err(PyRuntimeError::new_err(
            "handlers can only be registered while the script is loaded",
        ))
    }
}

/// The shared body of the three decorators.
fn decorate(py: Python<'_>, kind: Kind, arg: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    match arg {
        Some(f) if f.is_callable() => {
            register_handler(py, kind, None, f)?;
            Ok(f.clone().unbind())
        }
        Some(m) if !m.is_none() => {
            let methods = Some(parse_methods(m)?);
            Ok(Py::new(py, Decorator { kind, methods })?.into_any())
        }
        _ => Ok(Py::new(
            py,
            Decorator {
                kind,
                methods: None,
            },
        )?
        .into_any()),
    }
}

#[pymethods]
impl Proxy {
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "proxy", "proxy", name)
    }

    /// Registers a request handler: `@proxy.on_request` or
    /// `@proxy.on_request("INVITE|SUBSCRIBE")`.
    #[pyo3(signature = (arg=None, /))]
    fn on_request(&self, py: Python<'_>, arg: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        decorate(py, Kind::Request, arg)
    }

    /// Registers a response handler, called as `f(request, reply)` (or
    /// `f(reply)` when it takes one parameter).
    #[pyo3(signature = (arg=None, /))]
    fn on_reply(&self, py: Python<'_>, arg: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        decorate(py, Kind::Reply, arg)
    }

    /// Registers a clean-up handler called as `f(request)` with an INVITE
    /// CANCELled before its final response (the core answered it 487).
    /// What it decides is ignored.
    fn on_cancel(&self, py: Python<'_>, func: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        register_handler(py, Kind::Cancel, None, func)?;
        Ok(func.clone().unbind())
    }

    /// Registers a handler for the responses to REGISTER requests this
    /// proxy forwarded, called as `f(request, reply)` (SIPhon's
    /// `on_register_reply`: an `on_reply` handler for REGISTER).
    fn on_register_reply(&self, py: Python<'_>, func: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        register_handler(py, Kind::Reply, Some(vec!["REGISTER".to_owned()]), func)?;
        Ok(func.clone().unbind())
    }

    /// Registers a failure handler, called as `f(request, reply)` when
    /// every branch failed.
    #[pyo3(signature = (arg=None, /))]
    fn on_failure(&self, py: Python<'_>, arg: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        decorate(py, Kind::Failure, arg)
    }
}

#[pymethods]
impl Decorator {
    fn __call__(&self, py: Python<'_>, func: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        register_handler(py, self.kind, self.methods.clone(), func)?;
        Ok(func.clone().unbind())
    }
}
