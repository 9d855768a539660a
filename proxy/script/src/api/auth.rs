//! `auth`: digest authentication of requests (RFC 3261 §22, RFC 8760)
//! against the host's users, with stateless nonces.

pub(crate) mod check;

use anysip_core::Reply;
use pyo3::prelude::*;

use self::check::Verdict;
use super::host;
use super::request::Request;

/// The `auth` object of the `anysip` module.
#[pyclass(module = "anysip", name = "Auth", frozen)]
#[derive(Debug)]
pub struct Auth;

/// Verifies `request`; with `challenge`, a failure becomes its reply.
fn run(
    py: Python<'_>,
    request: &Bound<'_, Request>,
    realm: Option<String>,
    proxy: bool,
    challenge: bool,
) -> PyResult<bool> {
    let host = host()?;
    let realm = realm.unwrap_or_else(|| host.default_realm());
    let now = check::now_unix();
    let msg = request.try_borrow()?.ctx.message.clone();
    let verdict = py.detach(|| check::verify(host.as_ref(), &msg, &realm, proxy, now));
    let mut req = request.try_borrow_mut()?;
    match verdict {
        Verdict::Ok(user) => {
            req.auth_user = Some(user);
            Ok(true)
        }
        Verdict::Challenge { stale } => {
            if challenge {
                let mut reply = Reply::status(if proxy { 407 } else { 401 });
                reply.headers = check::challenge(host.as_ref(), &realm, stale, proxy, now);
                req.set_reply(reply);
            }
            Ok(false)
        }
        Verdict::Unavailable(e) => {
            tracing::warn!(target: "script", error = %e, "credential store unavailable");
            if challenge {
                req.set_reply(Reply::status(503));
            }
            Ok(false)
        }
    }
}

#[pymethods]
impl Auth {
    /// True when the request's Authorization is valid for `realm` (the
    /// host's default realm when `None`); otherwise the request's reply
    /// becomes a 401 challenge and this returns False.
    #[pyo3(signature = (request, realm=None))]
    fn require_www_digest(
        &self,
        py: Python<'_>,
        request: &Bound<'_, Request>,
        realm: Option<String>,
    ) -> PyResult<bool> {
        run(py, request, realm, false, true)
    }

    /// As `require_www_digest` with Proxy-Authorization and 407.
    #[pyo3(signature = (request, realm=None))]
    fn require_proxy_digest(
        &self,
        py: Python<'_>,
        request: &Bound<'_, Request>,
        realm: Option<String>,
    ) -> PyResult<bool> {
        run(py, request, realm, true, true)
    }

    /// True when the credentials are valid; never replies. `proxy=True`
    /// checks Proxy-Authorization instead of Authorization.
    #[pyo3(signature = (request, realm=None, proxy=false))]
    fn verify_digest(
        &self,
        py: Python<'_>,
        request: &Bound<'_, Request>,
        realm: Option<String>,
        proxy: bool,
    ) -> PyResult<bool> {
        run(py, request, realm, proxy, false)
    }
}
