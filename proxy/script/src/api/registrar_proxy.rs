//! SIPhon's `registrar.save_proxy(request, reply)`: a proxy in front of a
//! registrar of record keeps a copy of the bindings that registrar
//! accepted, for routing requests to them.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::registrar::Registrar;
use super::reply::Response;
use super::request::Request;
use super::{host, host_err};

#[pymethods]
impl Registrar {
    /// Caches the contacts of `request` (a REGISTER this proxy forwarded)
    /// that the registrar of record accepted with `reply` (its 2xx): each
    /// lives what the reply's Expires granted (or its own shorter
    /// `expires`) plus 32 s, without this registrar's `max_expires`; a
    /// grant of 0 removes the AoR's bindings. The grant is the reply's
    /// Expires or, without one, the largest `expires` of the reply's
    /// Contacts that the REGISTER listed (RFC 3261 §10.3 step 8). No response is made (the
    /// proxy relays the registrar's). True when stored; `ValueError` when
    /// the reply is no 2xx or has no Expires, or the contacts are refused.
    #[pyo3(signature = (request, reply, aliases=None, flow_token=None))]
    fn save_proxy(
        &self,
        py: Python<'_>,
        request: &Bound<'_, Request>,
        reply: &Bound<'_, Response>,
        aliases: Option<Vec<String>>,
        flow_token: Option<String>,
    ) -> PyResult<bool> {
        super::registrar::check_flow_token(flow_token.as_deref())?;
        let granted = {
            let reply = reply.try_borrow()?;
            if !(200..300).contains(&reply.status()) {
                return Err(PyValueError::new_err(format!(
                    "save_proxy: the reply is a {}, not a 2xx",
                    reply.status()
                )));
            }
            let req = request.try_borrow()?;
            granted(&req.ctx.message, &reply).ok_or_else(|| {
                PyValueError::new_err(
                    "save_proxy: the reply has no Expires and the REGISTER no Contact",
                )
            })?
        };
        let (ctx, aor) = {
            let req = request.try_borrow()?;
            (req.ctx.clone(), req.name_addr_uri("To").map(|u| u.aor()))
        };
        let aliases = super::registrar::check_aliases(aliases)?;
        let host = host()?;
        let out = py
            .detach(|| {
                let out = host.registrar_save_proxy(&ctx, granted, flow_token.as_deref())?;
                if let (Some(a), Some(uris), true) = (&aor, &aliases, out.saved) {
                    host.registrar_set_aliases(a, uris)?;
                }
                Ok(out)
            })
            .map_err(host_err)?;
        if !out.saved && out.reply.status != 200 {
            return Err(PyValueError::new_err(format!(
                "save_proxy: the contacts were refused: {} {}",
                out.reply.status,
                out.reply.reason.as_deref().unwrap_or("")
            )));
        }
        Ok(out.saved)
    }
}

/// What the registrar of record granted: the reply's Expires, else the
/// largest `expires` of its Contacts that `register` listed, 0 when it
/// lists none of them (a 200 lists every binding, RFC 3261 §10.3 step 8)
/// or `register` was `Contact: *`. `None` for a query (no Contact).
fn granted(register: &sip::Message, reply: &Response) -> Option<u32> {
    if let Some(e) = reply.header_value("Expires") {
        return e.trim().parse().ok();
    }
    let contacts: Vec<sip::header::Contact<'_>> =
        register.contacts().filter_map(Result::ok).collect();
    if contacts.iter().any(|c| c.addr().is_none()) {
        return Some(0);
    }
    let asked: Vec<&str> = contacts
        .iter()
        .filter_map(|c| c.addr().map(|a| a.uri_raw))
        .collect();
    if asked.is_empty() {
        return None;
    }
    Some(
        reply
            .message()
            .contacts()
            .filter_map(Result::ok)
            .filter(|c| c.addr().is_some_and(|a| asked.contains(&a.uri_raw)))
            .filter_map(|c| c.params().ok()?.expires)
            .max()
            .unwrap_or(0),
    )
}
