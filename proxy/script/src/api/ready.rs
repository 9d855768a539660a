//! An awaitable that is already done: SIPhon's `async` calls
//! (`await registrar.aor_count()`) on a host call that has its answer.

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;

/// `await ready` gives its value at once.
#[pyclass(module = "anysip", name = "Ready")]
#[derive(Debug)]
pub struct Ready {
    value: Option<Py<PyAny>>,
}

impl Ready {
    /// An awaitable that yields `value`.
    pub(crate) fn new(value: Py<PyAny>) -> Self {
        Ready { value: Some(value) }
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let value = self.value.take().unwrap_or_else(|| py.None());
        Err(PyStopIteration::new_err((value,)))
    }
}
