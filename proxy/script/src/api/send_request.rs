//! SIPhon's `proxy.send_request`: a request the script originates (a
//! NOTIFY, an OPTIONS, a MESSAGE), fire-and-forget or awaited for its
//! final response.

use std::time::Duration;

use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::proxy::Proxy;
use super::ready::Ready;
use super::reply::Response;
use super::request::header_pairs;
use super::{host, host_err};
use crate::host::Originate;

/// The longest `timeout_ms` honoured (Timer F ends the transaction at
/// 32 s anyway).
const MAX_TIMEOUT_MS: u64 = 32_000;

/// Checks the method and Request-URI of a request to originate.
fn check(method: &str, ruri: &str) -> Result<(), String> {
    let token = !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));
    if !token {
        return Err(format!("send_request: invalid method {method:?}"));
    }
    if ["INVITE", "ACK", "CANCEL"].contains(&method.to_ascii_uppercase().as_str()) {
        return Err(format!(
            "send_request: a script does not originate {method} (no INVITE dialogs: anysip is a proxy)"
        ));
    }
    match sip::Uri::parse(ruri) {
        Ok(sip::Uri::Sip(_)) if !ruri.contains([' ', '\r', '\n', '<', '>']) => Ok(()),
        _ => Err(format!("send_request: {ruri:?} is not a SIP URI")),
    }
}

#[pymethods]
impl Proxy {
    /// Sends a request of `method` to `ruri` (with `headers`, `body`, to
    /// `next_hop` or the first Route given or the Request-URI) over UDP in
    /// a client transaction of its own. An awaitable: with
    /// `wait_for_response=True` it gives the final response (a `Reply`),
    /// or None when none came within `timeout_ms`; otherwise None at once.
    #[pyo3(signature = (method, ruri, headers=None, body=None, next_hop=None, wait_for_response=false, timeout_ms=2000))]
    #[allow(clippy::too_many_arguments)]
    fn send_request(
        &self,
        py: Python<'_>,
        method: &str,
        ruri: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyAny>>,
        body: Option<&Bound<'_, PyAny>>,
        next_hop: Option<&Bound<'_, PyAny>>,
        wait_for_response: bool,
        timeout_ms: u64,
    ) -> PyResult<Ready> {
        let ruri = ruri.str()?.to_string();
        check(method, &ruri).map_err(PyValueError::new_err)?;
        let headers = header_pairs(headers)?;
        let body = match body {
            None => Bytes::new(),
            Some(b) if b.is_none() => Bytes::new(),
            Some(b) if b.is_instance_of::<PyBytes>() => Bytes::from(b.extract::<Vec<u8>>()?),
            Some(b) if b.is_instance_of::<PyString>() => Bytes::from(b.extract::<String>()?),
            Some(_) => return Err(PyValueError::new_err("send_request: body is str or bytes")),
        };
        let next_hop = match next_hop {
            Some(h) if !h.is_none() => Some(h.str()?.to_string()),
            _ => None,
        };
        let req = Originate {
            method: method.to_ascii_uppercase(),
            ruri: ruri.clone(),
            headers,
            body,
            next_hop,
            timeout: Duration::from_millis(timeout_ms.min(MAX_TIMEOUT_MS)),
        };
        let host = host()?;
        let answer = py
            .detach(|| host.send_request(req, wait_for_response))
            .map_err(host_err)?;
        let value = match answer {
            Some(ctx) => Py::new(py, Response::new(ctx))?.into_any(),
            None => py.None(),
        };
        Ok(Ready::new(value))
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn checks() {
        assert!(check("OPTIONS", "sip:a@192.0.2.1:5060").is_ok());
        assert!(check("notify", "sip:example.com").is_ok());
        for (m, u) in [
            ("INVITE", "sip:a@b"),
            ("ack", "sip:a@b"),
            ("", "sip:a@b"),
            ("OPT IONS", "sip:a@b"),
            ("OPTIONS", "tel:+1"),
            ("OPTIONS", "not a uri"),
        ] {
            assert!(check(m, u).is_err(), "{m} {u}");
        }
    }
}
