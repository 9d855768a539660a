//! The `reply` object handed to `on_reply` and `on_failure` handlers.

use anysip_core::{HeaderEdit, Reply, ReplyDecision, ResponseContext};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use sip::header::NameAddr;

use super::headers;
use super::uri::Uri;

/// A response received on a branch.
#[pyclass(module = "anysip", name = "Reply")]
#[derive(Debug)]
pub struct Response {
    ctx: ResponseContext,
    edits: Vec<HeaderEdit>,
    dropped: bool,
    rejected: Option<Reply>,
}

impl Response {
    /// The first value of a header, with the script's edits (for other
    /// API objects).
    pub(crate) fn header_value(&self, name: &str) -> Option<&str> {
        headers::current(&self.ctx.message, &self.edits, name)
    }

    /// The response as received.
    pub(crate) fn message(&self) -> &sip::Message {
        &self.ctx.message
    }

    /// Wraps a response for one script call.
    pub(crate) fn new(ctx: ResponseContext) -> Self {
        Response {
            ctx,
            edits: Vec::new(),
            dropped: false,
            rejected: None,
        }
    }

    fn name_addr_uri(&self, name: &str) -> Option<Uri> {
        let v = self.get(name)?;
        let na = NameAddr::parse("name-addr", v).ok()?;
        Some(Uri::new(na.uri().ok()?.as_str()))
    }

    /// What the script decided.
    pub(crate) fn decision(&self) -> ReplyDecision {
        if let Some(r) = &self.rejected {
            ReplyDecision::Reject(r.clone())
        } else if self.dropped {
            ReplyDecision::Drop
        } else if self.edits.is_empty() {
            ReplyDecision::Forward
        } else {
            ReplyDecision::ForwardEdited(self.edits.clone())
        }
    }
}

#[pymethods]
impl Response {
    /// The status code.
    #[getter]
    pub(crate) fn status(&self) -> u16 {
        self.ctx.message.status().unwrap_or(0)
    }

    /// The reason phrase.
    #[getter]
    fn reason(&self) -> &str {
        self.ctx.message.reason().unwrap_or("")
    }

    /// The status code (SIPhon's name).
    #[getter]
    fn status_code(&self) -> u16 {
        self.status()
    }

    /// The URI of the From header.
    #[getter(from_uri)]
    fn sender_uri(&self) -> Option<Uri> {
        self.name_addr_uri("From")
    }

    /// The URI of the To header.
    #[getter]
    fn to_uri(&self) -> Option<Uri> {
        self.name_addr_uri("To")
    }

    /// The Content-Type, if any.
    #[getter]
    fn content_type(&self) -> Option<&str> {
        self.get("Content-Type")
    }

    /// The first value of a header (case-insensitive), or None.
    fn get_header(&self, name: &str) -> Option<&str> {
        self.get(name)
    }

    /// Alias of `get_header`.
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name)
    }

    /// Whether the header is present.
    fn has_header(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Replaces every header `name` by one with `value` when forwarded.
    fn set_header(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.set(name, value)
    }

    /// Removes every header `name` when forwarded.
    fn remove_header(&mut self, name: &str) -> PyResult<()> {
        self.remove(name)
    }

    /// Removes every header whose name starts with `prefix`
    /// (case-insensitive), except Via and Content-Length.
    fn remove_headers_matching(&mut self, prefix: &str) -> PyResult<()> {
        let prefix = prefix.to_ascii_lowercase();
        let mut names: Vec<String> = Vec::new();
        for h in self.ctx.message.headers() {
            let n = h.name.canonical().unwrap_or(h.raw_name).to_owned();
            if n.to_ascii_lowercase().starts_with(&prefix)
                && headers::check_edit(&n, None).is_ok()
                && !names.iter().any(|x| x.eq_ignore_ascii_case(&n))
            {
                names.push(n);
            }
        }
        for n in names {
            self.edits.push(HeaderEdit::Remove(n));
        }
        Ok(())
    }

    /// Whether the response has a body whose Content-Type starts with
    /// `content_type`.
    fn has_body(&self, content_type: &str) -> bool {
        !self.ctx.message.body().is_empty()
            && self.get("Content-Type").is_some_and(|ct| {
                ct.trim()
                    .to_ascii_lowercase()
                    .starts_with(&content_type.trim().to_ascii_lowercase())
            })
    }

    /// The IP address the response came from (None for one the proxy made
    /// itself).
    #[getter]
    fn source_ip(&self) -> Option<String> {
        self.ctx.source.map(|a| a.ip().to_string())
    }

    /// The port the response came from.
    #[getter]
    fn source_port(&self) -> Option<u16> {
        self.ctx.source.map(|a| a.port())
    }

    /// Whether the response came from an address of the gateway group
    /// `group_name` (port ignored; False for an unknown group).
    #[pyo3(name = "from_gateway")]
    fn sent_by_gateway(&self, py: Python<'_>, group_name: &str) -> PyResult<bool> {
        let Some(ip) = self.ctx.source.map(|a| a.ip()) else {
            return Ok(false);
        };
        let host = super::host()?;
        let Ok(list) = py.detach(|| host.gateway_list(group_name)) else {
            return Ok(false);
        };
        Ok(list.iter().any(|d| {
            d.address
                .as_deref()
                .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                .is_some_and(|a| a.ip() == ip)
        }))
    }

    /// Rewrites the host and port of the (first) Contact to where the
    /// response came from (a UAS behind NAT), when forwarded.
    fn fix_nated_contact(&mut self) -> PyResult<()> {
        let Some(src) = self.ctx.source else {
            return Ok(());
        };
        let values = headers::all_values(&self.ctx.message, &self.edits, "Contact");
        let Some(first) = values.first() else {
            return Ok(());
        };
        let na = NameAddr::parse("Contact", first)
            .map_err(|e| PyValueError::new_err(format!("Contact {first:?}: {e}")))?;
        let ip = match src.ip() {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        };
        let uri = super::uri::rebuild(na.uri_raw, None, Some(&ip), Some(Some(src.port())))
            .map_err(PyValueError::new_err)?;
        let display = na
            .display
            .map(|d| format!("{} ", d.trim()))
            .unwrap_or_default();
        let mut all = vec![format!("{display}<{uri}>{}", na.params.raw())];
        all.extend(values.into_iter().skip(1));
        self.edits
            .push(HeaderEdit::Set("Contact".to_owned(), all.join(", ")));
        Ok(())
    }

    /// In `on_reply`, for a provisional response: answer the request with
    /// `code` (a final status, not 2xx) and CANCEL its branches; True. For
    /// a final response (a proxy cannot take back an answer) nothing
    /// changes; False.
    #[pyo3(signature = (code, reason=None))]
    fn reject(&mut self, code: u16, reason: Option<String>) -> PyResult<bool> {
        if !(300..=699).contains(&code) {
            return Err(PyValueError::new_err(format!(
                "reject needs a final non-2xx status (300-699), not {code}"
            )));
        }
        if reason.as_deref().is_some_and(|r| r.contains(['\r', '\n'])) {
            return Err(PyValueError::new_err("reason contains CR or LF"));
        }
        if self.status() >= 200 {
            return Ok(false);
        }
        self.rejected = Some(Reply {
            status: code,
            reason,
            headers: Vec::new(),
            body: None,
            reliable: false,
        });
        Ok(true)
    }

    /// Lets the response go on (the default; it cancels a `drop()`).
    fn relay(&mut self) {
        self.dropped = false;
    }

    /// Alias of `relay`.
    fn forward(&mut self) {
        self.relay();
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "Reply", "reply", name)
    }

    /// The URI the branch was sent to.
    #[getter]
    fn branch_uri(&self) -> &str {
        &self.ctx.branch_uri
    }

    /// The Call-ID.
    #[getter]
    fn call_id(&self) -> Option<&str> {
        self.ctx.message.call_id().ok()
    }

    /// The body, as bytes; None when empty.
    #[getter]
    fn body(&self) -> Option<&[u8]> {
        let body = self.ctx.message.body();
        (!body.is_empty()).then_some(body)
    }

    /// The first value of a header (case-insensitive, compact forms).
    fn get(&self, name: &str) -> Option<&str> {
        headers::current(&self.ctx.message, &self.edits, name)
    }

    /// Whether the header is present.
    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Replaces every header `name` by one with `value` when forwarded.
    fn set(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = value.str()?.to_string();
        let name = headers::check_edit(name, Some(&value)).map_err(PyValueError::new_err)?;
        self.edits.push(HeaderEdit::Set(name, value));
        Ok(())
    }

    /// Removes every header `name` when forwarded.
    fn remove(&mut self, name: &str) -> PyResult<()> {
        let name = headers::check_edit(name, None).map_err(PyValueError::new_err)?;
        self.edits.push(HeaderEdit::Remove(name));
        Ok(())
    }

    /// Drops this response: it takes no part in best-response selection.
    fn drop(&mut self) {
        self.dropped = true;
    }

    fn __repr__(&self) -> String {
        format!("Reply({} {})", self.status(), self.reason())
    }
}
