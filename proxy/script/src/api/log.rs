//! `log`: script messages as `tracing` events with target `script`. The
//! arguments are formatted only when the level is enabled.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The `log` object of the `anysip` module.
#[pyclass(module = "anysip", name = "Log", frozen)]
#[derive(Debug)]
pub struct Log;

/// `str()` of every argument, joined by spaces.
fn text(args: &Bound<'_, PyTuple>) -> PyResult<String> {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&a.str()?.to_string_lossy());
    }
    Ok(out)
}

#[pymethods]
impl Log {
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "log", "log", name)
    }

    /// A debug message.
    #[pyo3(signature = (*args))]
    fn debug(&self, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        if tracing::enabled!(target: "script", tracing::Level::DEBUG) {
            tracing::debug!(target: "script", "{}", text(args)?);
        }
        Ok(())
    }

    /// An informational message.
    #[pyo3(signature = (*args))]
    fn info(&self, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        if tracing::enabled!(target: "script", tracing::Level::INFO) {
            tracing::info!(target: "script", "{}", text(args)?);
        }
        Ok(())
    }

    /// A warning.
    #[pyo3(signature = (*args))]
    fn warn(&self, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        if tracing::enabled!(target: "script", tracing::Level::WARN) {
            tracing::warn!(target: "script", "{}", text(args)?);
        }
        Ok(())
    }

    /// A warning (alias of `warn`).
    #[pyo3(signature = (*args))]
    fn warning(&self, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.warn(args)
    }

    /// An error.
    #[pyo3(signature = (*args))]
    fn error(&self, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        if tracing::enabled!(target: "script", tracing::Level::ERROR) {
            tracing::error!(target: "script", "{}", text(args)?);
        }
        Ok(())
    }
}
