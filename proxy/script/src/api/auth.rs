//! `auth`: digest authentication of requests (RFC 3261 §22, RFC 8760)
//! against the host's users, with stateless nonces.

pub(crate) mod check;

use anysip_core::Reply;
use pyo3::prelude::*;

use anysip_core::HeaderEdit;
use pyo3::exceptions::PyValueError;

use self::check::{Source, Verdict};
use super::host;
use super::request::Request;
use crate::host::Credential;

/// The `auth` object of the `anysip` module.
#[pyclass(module = "anysip", name = "Auth", frozen)]
#[derive(Debug)]
pub struct Auth;

/// How a call reads credentials and challenges.
#[derive(Debug, Clone, Copy)]
struct Mode {
    /// The headers it reads.
    source: Source,
    /// The challenge's status (401 / 407), or None: never reply.
    challenge: Option<u16>,
}

/// `password=` / `ha1=` as a credential (at most one of them).
fn supplied(password: Option<String>, ha1: Option<String>) -> PyResult<Option<Credential>> {
    match (password, ha1) {
        (Some(_), Some(_)) => Err(PyValueError::new_err("give password= or ha1=, not both")),
        (Some(p), None) => Ok(Some(Credential::Password(p))),
        (None, Some(h)) => {
            let h = h.trim().to_ascii_lowercase();
            let names: &[&str] = match h.len() {
                32 => &["MD5"],
                64 => &["SHA-256", "SHA-512-256"],
                n => {
                    return Err(PyValueError::new_err(format!(
                    "ha1= must be an MD5 (32 hex) or SHA-256 (64 hex) digest, not {n} characters"
                )))
                }
            };
            Ok(Some(Credential::Ha1(
                names.iter().map(|n| ((*n).to_owned(), h.clone())).collect(),
            )))
        }
        (None, None) => Ok(None),
    }
}

/// Verifies `request`; with a challenge status, a failure becomes its
/// reply. A success strips the credentials before forwarding (they are
/// hop-by-hop, RFC 3261 §22.3).
fn run(
    py: Python<'_>,
    request: &Bound<'_, Request>,
    realm: Option<String>,
    mode: Mode,
    secret: Option<Credential>,
) -> PyResult<bool> {
    let host = host()?;
    let realm = realm.unwrap_or_else(|| host.default_realm());
    let now = check::now_unix();
    let msg = request.try_borrow()?.ctx.message.clone();
    let verdict = py.detach(|| {
        check::verify(
            host.as_ref(),
            &msg,
            &realm,
            mode.source,
            secret.as_ref(),
            now,
        )
    });
    let mut req = request.try_borrow_mut()?;
    match verdict {
        Verdict::Ok(user) => {
            req.auth_user = Some(user);
            if mode.challenge.is_some() {
                req.push_edit(HeaderEdit::Remove("Authorization".into()));
                req.push_edit(HeaderEdit::Remove("Proxy-Authorization".into()));
            }
            Ok(true)
        }
        Verdict::Challenge { stale } => {
            if let Some(code) = mode.challenge {
                let proxy = code == 407;
                let mut reply = Reply::status(code);
                reply.headers = check::challenge(host.as_ref(), &realm, stale, proxy, now);
                req.set_reply(reply);
            }
            Ok(false)
        }
        Verdict::Unavailable(e) => {
            tracing::warn!(target: "script", error = %e, "credential store unavailable");
            if mode.challenge.is_some() {
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
    /// becomes a 401 challenge and this returns False. `password=` /
    /// `ha1=` give the secret instead of the configured users.
    #[pyo3(signature = (request, realm=None, password=None, ha1=None))]
    fn require_www_digest(
        &self,
        py: Python<'_>,
        request: &Bound<'_, Request>,
        realm: Option<String>,
        password: Option<String>,
        ha1: Option<String>,
    ) -> PyResult<bool> {
        let mode = Mode {
            source: Source::Www,
            challenge: Some(401),
        };
        run(py, request, realm, mode, supplied(password, ha1)?)
    }

    /// As `require_www_digest` with Proxy-Authorization and 407.
    #[pyo3(signature = (request, realm=None, password=None, ha1=None))]
    fn require_proxy_digest(
        &self,
        py: Python<'_>,
        request: &Bound<'_, Request>,
        realm: Option<String>,
        password: Option<String>,
        ha1: Option<String>,
    ) -> PyResult<bool> {
        let mode = Mode {
            source: Source::Proxy,
            challenge: Some(407),
        };
        run(py, request, realm, mode, supplied(password, ha1)?)
    }

    /// Reads Authorization or Proxy-Authorization; on failure challenges
    /// by itself: 401 for REGISTER, 407 for every other method (a proxy's
    /// challenge, RFC 3261 §22.3).
    #[pyo3(signature = (request, realm=None, password=None, ha1=None))]
    fn require_digest(
        &self,
        py: Python<'_>,
        request: &Bound<'_, Request>,
        realm: Option<String>,
        password: Option<String>,
        ha1: Option<String>,
    ) -> PyResult<bool> {
        let register = request
            .try_borrow()?
            .ctx
            .message
            .method()
            .is_some_and(|m| m.as_str() == "REGISTER");
        let mode = Mode {
            source: Source::Either,
            challenge: Some(if register { 401 } else { 407 }),
        };
        run(py, request, realm, mode, supplied(password, ha1)?)
    }

    /// True when the credentials are valid; never replies. `proxy=True`
    /// checks Proxy-Authorization instead of Authorization.
    #[pyo3(signature = (request, realm=None, password=None, ha1=None, proxy=false))]
    fn verify_digest(
        &self,
        py: Python<'_>,
        request: &Bound<'_, Request>,
        realm: Option<String>,
        password: Option<String>,
        ha1: Option<String>,
        proxy: bool,
    ) -> PyResult<bool> {
        let mode = Mode {
            source: if proxy { Source::Proxy } else { Source::Www },
            challenge: None,
        };
        run(py, request, realm, mode, supplied(password, ha1)?)
    }

    /// A fresh nonce of this core (stateless: HMAC over its issue time).
    fn generate_nonce(&self) -> PyResult<String> {
        let host = host()?;
        Ok(check::fresh_nonce(host.as_ref(), check::now_unix()))
    }

    /// Whether `nonce` was issued by a core sharing this secret and is
    /// still fresh.
    fn validate_nonce(&self, nonce: &str) -> PyResult<bool> {
        let host = host()?;
        Ok(matches!(
            sip::digest::nonce_valid(
                &host.nonce_secret(),
                nonce,
                check::now_unix(),
                host.nonce_ttl_secs()
            ),
            Ok(sip::digest::NonceStatus::Fresh)
        ))
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "auth", "auth", name)
    }
}
