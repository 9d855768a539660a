//! The Python side: the `anysip` module (alias `siphon`) and its objects.
//!
//! The module is built once, after the interpreter starts, and put in
//! `sys.modules` under both names, so `import anysip`,
//! `from siphon import proxy, gateway, log` and the like work in every
//! script. Its objects are stateless: they reach the engine that is running
//! through per-thread context ([`crate::engine::handlers`]).

pub(crate) mod auth;
pub(crate) mod cache;
pub(crate) mod callbacks;
pub(crate) mod compat;
pub(crate) mod flow;
pub(crate) mod gateway;
pub(crate) mod headers;
pub(crate) mod log;
pub(crate) mod metrics;
pub(crate) mod numbers;
pub(crate) mod objects;
pub(crate) mod proxy;
pub(crate) mod proxy_utils;
pub(crate) mod ready;
pub(crate) mod registrar;
pub(crate) mod registrar_proxy;
pub(crate) mod reply;
pub(crate) mod request;
pub(crate) mod request_numbers;
pub(crate) mod request_rewrite;
pub(crate) mod request_siphon;
pub(crate) mod request_via;
pub(crate) mod send_request;
pub(crate) mod timer;
pub(crate) mod uri;

use std::sync::{Arc, Once};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::engine::handlers;
use crate::host::{Host, HostError};

pyo3::create_exception!(
    anysip,
    StoreError,
    PyRuntimeError,
    "The registrar or credential store is unavailable."
);

/// The host of the call in progress, or a RuntimeError outside one.
pub(crate) fn host() -> PyResult<Arc<dyn Host>> {
    handlers::current_host().ok_or_else(|| {
        PyRuntimeError::new_err("no anysip script call is in progress on this thread")
    })
}

/// A host error as a Python exception.
pub(crate) fn host_err(e: HostError) -> PyErr {
    match e {
        HostError::Unavailable(m) => StoreError::new_err(m),
        HostError::Invalid(m) => PyValueError::new_err(m),
    }
}

/// Starts the interpreter (once per process) and installs the module.
pub(crate) fn ensure_init() -> Result<(), String> {
    static INIT: Once = Once::new();
    static INIT_ERROR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    INIT.call_once(|| {
        Python::initialize();
        if let Err(e) = Python::attach(install) {
            let _ = INIT_ERROR.set(e.to_string());
        }
    });
    match INIT_ERROR.get() {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    }
}

/// Builds the module and registers it as `anysip` and `siphon`.
fn install(py: Python<'_>) -> PyResult<()> {
    let m = PyModule::new(py, "anysip")?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<request::Request>()?;
    m.add_class::<reply::Response>()?;
    m.add_class::<uri::Uri>()?;
    m.add("URI", py.get_type::<uri::Uri>())?;
    m.add_class::<crate::host::Binding>()?;
    m.add("Contact", py.get_type::<crate::host::Binding>())?;
    m.add_class::<objects::Destination>()?;
    m.add_class::<flow::Flow>()?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("proxy", Py::new(py, proxy::Proxy)?)?;
    m.add("registrar", Py::new(py, registrar::Registrar)?)?;
    m.add("auth", Py::new(py, auth::Auth)?)?;
    m.add("gateway", Py::new(py, gateway::Gateway)?)?;
    m.add("log", Py::new(py, log::Log)?)?;
    m.add("timer", Py::new(py, timer::Timer)?)?;
    m.add_class::<timer::TimerHandle>()?;
    m.add("cache", Py::new(py, cache::Cache)?)?;
    m.add("metrics", Py::new(py, metrics::Metrics)?)?;
    m.add_class::<metrics::Counter>()?;
    m.add_class::<metrics::Gauge>()?;
    m.add_class::<metrics::Histogram>()?;
    m.add("numbers", Py::new(py, numbers::Numbers)?)?;
    m.add_class::<numbers::Number>()?;
    compat::install(&m)?;
    let sys = py.import("sys")?;
    if !sys.hasattr("argv")? {
        // Some libraries read sys.argv; an embedded interpreter has none.
        sys.setattr("argv", vec!["anysip"])?;
    }
    let modules = sys.getattr("modules")?;
    modules.set_item("anysip", &m)?;
    modules.set_item("siphon", &m)?;
    Ok(())
}
