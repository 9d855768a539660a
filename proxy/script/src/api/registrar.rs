//! `registrar`: the host's registrar (RFC 3261 §10.3) for scripts.

use anysip_core::Reply;
use pyo3::prelude::*;

use super::request::Request;
use super::{host, host_err};
use crate::host::Binding;
use crate::host::HostError;

/// The `registrar` object of the `anysip` module.
#[pyclass(module = "anysip", name = "Registrar", frozen)]
#[derive(Debug)]
pub struct Registrar;

/// `str()` of an AoR argument (a string or a URI object).
fn aor_text(aor: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(aor.str()?.to_string())
}

#[pymethods]
impl Registrar {
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "registrar", "registrar", name)
    }

    /// Applies a REGISTER and makes its answer (200 with the bindings,
    /// 423, 400, ...) the request's reply. True when stored; a store that
    /// is down gives 503 and False.
    fn save(&self, py: Python<'_>, request: &Bound<'_, Request>) -> PyResult<bool> {
        let host = host()?;
        let ctx = request.try_borrow()?.ctx.clone();
        let outcome = py.detach(|| host.registrar_save(&ctx));
        let mut req = request.try_borrow_mut()?;
        match outcome {
            Ok(o) => {
                req.set_reply(o.reply);
                Ok(o.saved)
            }
            Err(HostError::Unavailable(e)) => {
                tracing::warn!(target: "script", error = %e, "registrar unavailable");
                req.set_reply(Reply::status(503));
                Ok(false)
            }
            Err(HostError::Invalid(e)) => {
                let mut r = Reply::status(400);
                r.reason = Some(e.replace(['\r', '\n'], " "));
                req.set_reply(r);
                Ok(false)
            }
        }
    }

    /// The live bindings of `aor`, best q first.
    fn lookup(&self, py: Python<'_>, aor: &Bound<'_, PyAny>) -> PyResult<Vec<Binding>> {
        let host = host()?;
        let aor = aor_text(aor)?;
        let list = py
            .detach(|| host.registrar_lookup(&aor))
            .map_err(host_err)?;
        Ok(list)
    }

    /// Whether `aor` has a live binding.
    fn is_registered(&self, py: Python<'_>, aor: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(!self.lookup(py, aor)?.is_empty())
    }

    /// Removes every binding of `aor`; how many there were.
    fn remove(&self, py: Python<'_>, aor: &Bound<'_, PyAny>) -> PyResult<usize> {
        let host = host()?;
        let aor = aor_text(aor)?;
        py.detach(|| host.registrar_remove(&aor)).map_err(host_err)
    }
}
