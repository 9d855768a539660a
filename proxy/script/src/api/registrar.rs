//! `registrar`: the host's registrar (RFC 3261 §10.3) for scripts, with
//! SIPhon's names: `save(force=)`, `lookup`, `expire`, `lookup_contact`,
//! `aor_count`, and `@registrar.on_change`.

use anysip_core::Reply;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::ready::Ready;
use super::request::Request;
use super::uri::Uri;
use super::{host, host_err};
use crate::engine::call;
use crate::engine::handlers::{self, Kind};
use crate::host::{Binding, Host, HostError};

/// The `registrar` object of the `anysip` module.
#[pyclass(module = "anysip", name = "Registrar", frozen)]
#[derive(Debug)]
pub struct Registrar;

/// `str()` of an AoR argument (a string or a URI object).
fn aor_text(aor: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(aor.str()?.to_string())
}

/// What a save did to an AoR's bindings, as SIPhon names it.
fn change(before: &[Binding], after: &[Binding]) -> Option<&'static str> {
    if after.is_empty() {
        return (!before.is_empty()).then_some("deregistered");
    }
    if after.iter().any(|a| !before.iter().any(|b| b.uri == a.uri)) {
        Some("registered")
    } else {
        Some("refreshed")
    }
}

/// `(user, host, port)` of a SIP URI for contact matching: parameters
/// ignored, host case-insensitive, the default port filled in.
fn contact_key(uri: &str) -> Option<(Option<String>, String, u16)> {
    match sip::Uri::parse(uri).ok()? {
        sip::Uri::Sip(s) => Some((
            s.user.map(str::to_owned),
            s.host_raw.to_ascii_lowercase(),
            s.port.unwrap_or(if s.secure { 5061 } else { 5060 }),
        )),
        _ => None,
    }
}

/// Every binding whose Contact is `uri`.
fn by_contact(py: Python<'_>, host: &dyn Host, uri: &str) -> PyResult<Vec<Binding>> {
    let Some(want) = contact_key(uri) else {
        return Ok(Vec::new());
    };
    let all = py.detach(|| host.registrar_list()).map_err(host_err)?;
    Ok(all
        .into_iter()
        .flat_map(|(_, b)| b)
        .filter(|b| contact_key(&b.uri).as_ref() == Some(&want))
        .collect())
}

/// A `flow_token=` must be a non-empty line.
/// `aliases=`: None when empty; a URI that is neither SIP nor tel is a
/// `ValueError` (before anything is stored).
pub(crate) fn check_aliases(aliases: Option<Vec<String>>) -> PyResult<Option<Vec<String>>> {
    let Some(list) = aliases.filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    for a in &list {
        let t = a.trim().trim_start_matches('<').to_ascii_lowercase();
        if !["sip:", "sips:", "tel:"].iter().any(|s| t.starts_with(s)) {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "aliases: {a:?} is not a sip, sips or tel URI"
            )));
        }
    }
    Ok(Some(list))
}

pub(crate) fn check_flow_token(token: Option<&str>) -> PyResult<()> {
    if token.is_some_and(|t| t.is_empty() || t.contains(['\r', '\n'])) {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "flow_token must be a non-empty line",
        ));
    }
    Ok(())
}

/// Calls the `@registrar.on_change` handlers; an exception is logged.
pub(crate) fn notify(py: Python<'_>, aor: &str, event: &str, contacts: Vec<Binding>) {
    let Some(running) = handlers::current_handlers() else {
        return;
    };
    for h in &running.on_change {
        let args = (aor, event, contacts.clone());
        let ran = args
            .into_pyobject(py)
            .and_then(|a| call::invoke(py, h, a.cast_into::<PyTuple>()?));
        if let Err(e) = ran {
            let tb = call::format_traceback(py, &e);
            tracing::error!(target: "script", aor, event, traceback = %tb, "registrar.on_change handler raised");
        }
    }
}

#[pymethods]
impl Registrar {
    /// Applies a REGISTER and makes its answer (200 with the bindings,
    /// 423, 400, ...) the request's reply. True when stored; a store that
    /// is down gives 503 and False. `force=True` first removes every
    /// binding of the AoR (the REGISTER's contacts replace them).
    #[pyo3(signature = (request, force=false, aliases=None, flow_token=None))]
    fn save(
        &self,
        py: Python<'_>,
        request: &Bound<'_, Request>,
        force: bool,
        aliases: Option<Vec<String>>,
        flow_token: Option<String>,
    ) -> PyResult<bool> {
        check_flow_token(flow_token.as_deref())?;
        let aliases = check_aliases(aliases)?;
        let host = host()?;
        let (ctx, aor) = {
            let req = request.try_borrow()?;
            let aor = req.name_addr_uri("To").map(|u| u.aor());
            (req.ctx.clone(), aor)
        };
        let watch = handlers::current_handlers().is_some_and(|h| !h.on_change.is_empty());
        let outcome = py.detach(|| -> Result<_, HostError> {
            let before = match (&aor, watch || force) {
                (Some(a), true) => host.registrar_lookup(a)?,
                _ => Vec::new(),
            };
            if let (Some(a), true) = (&aor, force && !before.is_empty()) {
                host.registrar_remove(a)?;
            }
            let saved = host.registrar_save(&ctx, flow_token.as_deref())?;
            if let (Some(a), Some(uris), true) = (&aor, &aliases, saved.saved) {
                host.registrar_set_aliases(a, uris)?;
            }
            let after = match (&aor, watch && saved.saved) {
                (Some(a), true) => Some(host.registrar_lookup(a)?),
                _ => None,
            };
            Ok((saved, before, after))
        });
        let mut req = request.try_borrow_mut()?;
        match outcome {
            Ok((o, before, after)) => {
                req.set_reply(o.reply);
                drop(req);
                if let (Some(aor), Some(after)) = (&aor, after) {
                    if let Some(event) = change(&before, &after) {
                        notify(py, aor, event, after);
                    }
                }
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

    /// The live bindings of `aor` (SIPhon's `Contact` objects), best q
    /// first.
    fn lookup(&self, py: Python<'_>, aor: &Bound<'_, PyAny>) -> PyResult<Vec<Binding>> {
        let host = host()?;
        let aor = aor_text(aor)?;
        let list = py
            .detach(|| host.registrar_lookup(&aor))
            .map_err(host_err)?;
        Ok(list)
    }

    /// Makes `uris` the aliases of `aor` (SIPhon's implicit registration
    /// set): `lookup` of any of them finds `aor`'s bindings. Replaces the
    /// previous set; `[]` clears it. With Redis every core sees it.
    fn set_associated_uris(
        &self,
        py: Python<'_>,
        aor: &Bound<'_, PyAny>,
        uris: Vec<String>,
    ) -> PyResult<()> {
        let host = host()?;
        let aor = aor_text(aor)?;
        py.detach(|| host.registrar_set_aliases(&aor, &uris))
            .map_err(host_err)
    }

    /// The aliases declared for `aor` (or for the AoR `aor` is an alias
    /// of), as they were given; `[]` when none.
    fn associated_uris(&self, py: Python<'_>, aor: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let host = host()?;
        let aor = aor_text(aor)?;
        py.detach(|| host.registrar_aliases(&aor)).map_err(host_err)
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

    /// Removes every binding of `aor` (SIPhon's name; returns None).
    fn expire(&self, py: Python<'_>, aor: &Bound<'_, PyAny>) -> PyResult<()> {
        self.remove(py, aor).map(|_| ())
    }

    /// The bindings whose Contact is `uri` (user, host and port; URI
    /// parameters and default ports ignored), whatever their AoR.
    fn lookup_contact(&self, py: Python<'_>, uri: &Bound<'_, PyAny>) -> PyResult<Vec<Binding>> {
        let host = host()?;
        by_contact(py, host.as_ref(), &aor_text(uri)?)
    }

    /// Whether a binding has `uri` as its Contact.
    fn is_registered_contact(&self, py: Python<'_>, uri: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(!self.lookup_contact(py, uri)?.is_empty())
    }

    /// How many AoRs have live bindings (with Redis: every core's). An
    /// awaitable, as in SIPhon: `n = await registrar.aor_count()`.
    fn aor_count(&self, py: Python<'_>) -> PyResult<Ready> {
        let host = host()?;
        let n = py
            .detach(|| host.registrar_list())
            .map_err(host_err)?
            .into_iter()
            .filter(|(_, b)| !b.is_empty())
            .count();
        Ok(Ready::new(n.into_pyobject(py)?.into_any().unbind()))
    }

    /// `@registrar.on_change`: `f(aor, event, contacts)` after a
    /// `registrar.save` that changed the AoR: `registered` (a new
    /// contact), `refreshed`, `deregistered` (none left).
    fn on_change(&self, py: Python<'_>, func: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        super::proxy::register_handler(py, Kind::RegistrarChange, None, func)?;
        Ok(func.clone().unbind())
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "registrar", "registrar", name)
    }
}

impl Uri {
    /// `scheme:user@host` (see the `aor` property).
    pub(crate) fn aor(&self) -> String {
        self.aor_text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(uri: &str) -> Binding {
        Binding {
            aor: "sip:a@x".into(),
            uri: uri.into(),
            path: Vec::new(),
            q: None,
            expires: 60,
            instance: None,
            reg_id: None,
            received: None,
            user_agent: None,
            age_secs: 0,
            params: Vec::new(),
            flow: None,
            instance_id: None,
            instance_epoch: None,
            flow_token: None,
        }
    }

    #[test]
    fn changes() {
        let (x, y) = (vec![b("sip:a@x")], b("sip:a@y"));
        let both = vec![x[0].clone(), y];
        assert_eq!(change(&[], &x), Some("registered"));
        assert_eq!(change(&x, &x), Some("refreshed"));
        assert_eq!(change(&x, &both), Some("registered"));
        assert_eq!(change(&x, &[]), Some("deregistered"));
        assert_eq!(change(&[], &[]), None);
    }

    #[test]
    fn contact_keys() {
        assert_eq!(
            contact_key("sip:1001@203.0.113.7;transport=tcp"),
            contact_key("sip:1001@203.0.113.7:5060")
        );
        assert_ne!(contact_key("sip:1001@h:5070"), contact_key("sip:1001@h"));
        assert_eq!(contact_key("tel:+1"), None);
    }
}
