//! SIPhon's names on the `request` object: header reads and edits, the
//! Request-URI setters, the reply-header helpers, and the names anysip
//! does not serve (through `__getattr__`).

use anysip_core::HeaderEdit;
use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::headers;
use super::request::Request;
use super::uri::{self, Uri};

/// `str` or `bytes` → bytes.
pub(crate) fn body_bytes(body: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    match body.cast::<PyBytes>() {
        Ok(b) => Ok(Bytes::copy_from_slice(b.as_bytes())),
        Err(_) => Ok(Bytes::from(body.str()?.to_string())),
    }
}

impl Request {
    /// The distinct header names the request has once the edits so far
    /// are applied.
    fn header_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut add = |n: &str| {
            let full = headers::canonical(n).into_owned();
            if !names.iter().any(|x| x.eq_ignore_ascii_case(&full)) {
                names.push(full);
            }
        };
        for h in self.ctx.message.headers() {
            add(h.name.canonical().unwrap_or(h.raw_name));
        }
        for e in &self.edits.headers {
            if let HeaderEdit::Set(n, _) | HeaderEdit::Append(n, _) = e {
                add(n);
            }
        }
        names.retain(|n| self.header_now(n).is_some());
        names
    }

    /// The current Request-URI text.
    pub(crate) fn ruri_text(&self) -> String {
        match &self.edits.ruri {
            Some(r) => r.clone(),
            None => self.ctx.message.request_uri_str().unwrap_or("").to_owned(),
        }
    }

    pub(crate) fn set_ruri_text(&mut self, uri: String) -> PyResult<()> {
        if sip::Uri::parse(&uri).is_err() || uri.contains(['\r', '\n', ' ']) {
            return Err(PyValueError::new_err(format!("invalid SIP URI: {uri:?}")));
        }
        self.edits.ruri = Some(uri);
        Ok(())
    }
}

#[pymethods]
impl Request {
    /// Replaces the Request-URI: `request.ruri = "sip:bob@host"` (a
    /// string or a `SipUri`).
    #[setter(ruri)]
    fn ruri_setter(&mut self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let text = if let Ok(u) = value.cast::<Uri>() {
            u.borrow().as_str().to_owned()
        } else if value.is_instance_of::<PyString>() {
            value.str()?.to_string()
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "ruri must be a string or SipUri object",
            ));
        };
        self.set_ruri_text(text)
    }

    /// The first value of a header (case-insensitive, compact forms), or
    /// None.
    fn get_header(&self, name: &str) -> Option<&str> {
        self.header_now(name)
    }

    /// Alias of `get_header`.
    fn header(&self, name: &str) -> Option<&str> {
        self.header_now(name)
    }

    /// Whether the header is present.
    fn has_header(&self, name: &str) -> bool {
        self.header_now(name).is_some()
    }

    /// Replaces every header `name` by one with `value`.
    fn set_header(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = value.str()?.to_string();
        let name = headers::check_edit(name, Some(&value)).map_err(PyValueError::new_err)?;
        self.push_edit(HeaderEdit::Set(name, value));
        Ok(())
    }

    /// Removes every header `name`.
    fn remove_header(&mut self, name: &str) -> PyResult<()> {
        let name = headers::check_edit(name, None).map_err(PyValueError::new_err)?;
        self.push_edit(HeaderEdit::Remove(name));
        Ok(())
    }

    /// Removes every header whose name starts with `prefix`
    /// (case-insensitive), except those the proxy manages (Via,
    /// Content-Length).
    fn remove_headers_matching(&mut self, prefix: &str) {
        let prefix = prefix.to_ascii_lowercase();
        for name in self.header_names() {
            if name.to_ascii_lowercase().starts_with(&prefix)
                && headers::check_edit(&name, None).is_ok()
            {
                self.push_edit(HeaderEdit::Remove(name));
            }
        }
    }

    /// Sets `name: value` only when the header is absent.
    fn ensure_header(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.header_now(name).is_none() {
            self.set_header(name, value)?;
        }
        Ok(())
    }

    /// Whether the request has a body whose Content-Type starts with
    /// `content_type`.
    fn has_body(&self, content_type: &str) -> bool {
        let (ct, empty) = match &self.edits.body {
            Some((ct, b)) => (Some(ct.as_str()), b.is_empty()),
            None => (
                self.ctx.message.header(sip::HeaderName::ContentType),
                self.ctx.message.body().is_empty(),
            ),
        };
        !empty
            && ct.is_some_and(|ct| {
                ct.trim()
                    .to_ascii_lowercase()
                    .starts_with(&content_type.trim().to_ascii_lowercase())
            })
    }

    /// Sets the user part of the Request-URI (None removes it).
    fn set_ruri_user(&mut self, value: Option<String>) -> PyResult<()> {
        let new = uri::rebuild(&self.ruri_text(), Some(value.as_deref()), None, None)
            .map_err(PyValueError::new_err)?;
        self.set_ruri_text(new)
    }

    /// Sets the host part of the Request-URI.
    fn set_ruri_host(&mut self, value: &str) -> PyResult<()> {
        let new = uri::rebuild(&self.ruri_text(), None, Some(value), None)
            .map_err(PyValueError::new_err)?;
        self.set_ruri_text(new)
    }

    /// Sets (replaces) a header of the reply this request gets
    /// (`request.reply()`, `registrar.save()`, a digest challenge).
    fn set_reply_header(&mut self, name: &str, value: &str) -> PyResult<()> {
        let name = reply_header_name(name, value)?;
        self.reply_headers.push((true, name, value.to_owned()));
        Ok(())
    }

    /// Adds a header to the reply this request gets.
    fn add_reply_header(&mut self, name: &str, value: &str) -> PyResult<()> {
        let name = reply_header_name(name, value)?;
        self.reply_headers.push((false, name, value.to_owned()));
        Ok(())
    }

    /// Gives the reply this request gets the To tag `tag` (a UAS's own
    /// dialog tag, RFC 3261 §12.1.1) instead of the core's.
    fn set_reply_to_tag(&mut self, tag: &str) -> PyResult<()> {
        let valid = !tag.is_empty()
            && tag.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                    )
            });
        if !valid {
            return Err(PyValueError::new_err(format!("invalid tag {tag:?}")));
        }
        let Some(to) = self.header_now("To").map(str::to_owned) else {
            return Ok(());
        };
        let na = sip::header::NameAddr::parse("To", &to)
            .map_err(|e| PyValueError::new_err(format!("To {to:?}: {e}")))?;
        let mut value = match na.display {
            Some(d) => format!("{} <{}>", d.trim(), na.uri_raw),
            None => format!("<{}>", na.uri_raw),
        };
        for p in na
            .params
            .iter()
            .filter(|p| !p.name.eq_ignore_ascii_case("tag"))
        {
            value.push(';');
            value.push_str(p.name);
            if let Some(v) = p.value {
                value.push('=');
                value.push_str(v);
            }
        }
        value.push_str(";tag=");
        value.push_str(tag);
        self.reply_headers.push((true, "To".to_owned(), value));
        Ok(())
    }

    /// Attaches a body to the reply this request gets.
    fn set_reply_body(&mut self, body: &Bound<'_, PyAny>, content_type: &str) -> PyResult<()> {
        headers::check_edit("Content-Type", Some(content_type)).map_err(PyValueError::new_err)?;
        self.reply_body = Some((content_type.to_owned(), body_bytes(body)?));
        Ok(())
    }

    /// Sets the authenticated user (SIPhon: a script that authenticated
    /// the caller itself, or normalises the identity).
    #[setter(auth_user)]
    fn auth_user_setter(&mut self, value: Option<String>) -> PyResult<()> {
        if value.as_deref().is_some_and(|v| v.contains(['\r', '\n'])) {
            return Err(PyValueError::new_err("auth_user cannot hold CR or LF"));
        }
        self.auth_user = value;
        Ok(())
    }

    /// The URI of the Contact header, if any (anysip).
    #[getter]
    fn contact_uri(&self) -> Option<Uri> {
        self.name_addr_uri("Contact")
    }

    /// The Expires of the REGISTER's first Contact (its `expires`
    /// parameter, else the Expires header), or None.
    #[getter]
    fn contact_expires(&self) -> Option<u64> {
        let from_param = self
            .ctx
            .message
            .contacts()
            .next()
            .and_then(Result::ok)
            .and_then(|c| c.params().ok())
            .and_then(|p| p.expires)
            .map(u64::from);
        from_param.or_else(|| self.header_now("Expires")?.trim().parse().ok())
    }

    /// The flow the request arrived on (SIPhon's `request.flow`):
    /// `request.relay(flow=)` sends back over it.
    #[getter]
    fn flow(&self) -> super::flow::Flow {
        super::flow::Flow {
            flow: sip::Flow {
                transport: self.ctx.transport,
                remote: self.ctx.source,
                local: self.ctx.local,
                connection: self.ctx.connection,
            },
        }
    }

    /// The Event header's package (without parameters), or None.
    #[getter]
    fn event(&self) -> Option<String> {
        let v = self.header_now("Event")?;
        Some(v.split(';').next().unwrap_or(v).trim().to_owned())
    }

    /// Whether the source IP is in any of `cidr_list` (`10.0.0.0/8`, a
    /// bare address).
    fn source_ip_in(&self, cidr_list: Vec<String>) -> bool {
        let ip = self.ctx.source.ip();
        cidr_list.iter().any(|c| uri::ip_in_cidr(ip, c))
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "Request", "request", name)
    }
}

/// A reply header's name, checked (the proxy owns Via, From, Call-ID,
/// CSeq and Content-Length; a To replaces the copied one).
fn reply_header_name(name: &str, value: &str) -> PyResult<String> {
    let full = headers::check_edit(name, Some(value)).map_err(PyValueError::new_err)?;
    if ["From", "Call-ID", "CSeq"]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(&full))
    {
        return Err(PyValueError::new_err(format!(
            "the {full} header of a reply is managed by the proxy"
        )));
    }
    Ok(full)
}
