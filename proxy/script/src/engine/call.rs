//! Calling handlers: plain functions, and coroutines run to completion on
//! a persistent event loop per thread.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

use std::cell::RefCell;

use super::handlers::Handler;

thread_local! {
    /// This thread's asyncio event loop, created on first use.
    static LOOP: RefCell<Option<Py<PyAny>>> = const { RefCell::new(None) };
}

/// Calls `h` with `args`; an `async def` handler (or a returned coroutine)
/// is run until complete.
pub(crate) fn invoke<'py>(py: Python<'py>, h: &Handler, args: Bound<'py, PyTuple>) -> PyResult<()> {
    if h.is_async {
        let out = h.func.bind(py).call1(args)?;
        return run_coroutine(py, &out);
    }
    invoke_callable(py, h.func.bind(py), args)
}

/// Calls `func` with `args`; a returned coroutine is run until complete.
pub(crate) fn invoke_callable<'py>(
    py: Python<'py>,
    func: &Bound<'py, PyAny>,
    args: Bound<'py, PyTuple>,
) -> PyResult<()> {
    let out = func.call1(args)?;
    if !out.is_none() && out.hasattr(pyo3::intern!(py, "__await__"))? {
        run_coroutine(py, &out)?;
    }
    Ok(())
}

/// `loop.run_until_complete(coro)` on this thread's loop.
fn run_coroutine(py: Python<'_>, coro: &Bound<'_, PyAny>) -> PyResult<()> {
    let event_loop = LOOP.with(|l| -> PyResult<Py<PyAny>> {
        if let Some(existing) = l.borrow().as_ref() {
            if !existing.bind(py).call_method0("is_closed")?.is_truthy()? {
                return Ok(existing.clone_ref(py));
            }
        }
        let asyncio = py.import("asyncio")?;
        let fresh = asyncio.call_method0("new_event_loop")?;
        asyncio.call_method1("set_event_loop", (&fresh,))?;
        *l.borrow_mut() = Some(fresh.clone().unbind());
        Ok(fresh.unbind())
    })?;
    event_loop
        .bind(py)
        .call_method1(pyo3::intern!(py, "run_until_complete"), (coro,))?;
    Ok(())
}

/// The exception with its traceback, as Python prints it.
pub(crate) fn format_traceback(py: Python<'_>, err: &PyErr) -> String {
    static FORMAT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let formatted = FORMAT
        .get_or_try_init(py, || {
            py.import("traceback")?
                .getattr("format_exception")
                .map(Bound::unbind)
        })
        .and_then(|f| {
            f.bind(py)
                .call1((err.get_type(py), err.value(py), err.traceback(py)))
        })
        .and_then(|lines| {
            let mut out = String::new();
            for l in lines.try_iter()? {
                out.push_str(&l?.extract::<String>()?);
            }
            Ok(out)
        });
    match formatted {
        Ok(s) => s.trim_end().to_owned(),
        Err(_) => err.to_string(),
    }
}
