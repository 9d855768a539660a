//! The `request` object handed to `on_request` and `on_failure` handlers:
//! lazy reads of the message (reflecting the script's edits so far) and the
//! calls that decide what happens to it.

use anysip_core::{
    Decision, Edits, ForkStrategy, HeaderEdit, Hooks, Reply, RequestContext, Target,
};
use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use sip::header::NameAddr;
use sip::HeaderName;

use super::headers;
use super::objects::Destination;
use super::uri::Uri;
use crate::host::Binding;

/// What a script asked for, before the edits are attached.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    Reply(Reply),
    Relay(Option<String>),
    Fork(Vec<Target>, ForkStrategy),
}

/// A SIP request as scripts see it.
#[pyclass(module = "anysip", name = "Request")]
#[derive(Debug)]
pub struct Request {
    pub(crate) ctx: RequestContext,
    pub(crate) edits: Edits,
    pub(crate) verdict: Option<Verdict>,
    pub(crate) auth_user: Option<String>,
    /// `set_reply_header` (true) / `add_reply_header` (false) operations,
    /// applied to whatever reply the request gets.
    pub(crate) reply_headers: Vec<(bool, String, String)>,
    /// `set_reply_body`: content type and bytes.
    pub(crate) reply_body: Option<(String, Bytes)>,
    /// `relay(on_reply=, on_failure=)`: the callbacks of the last relay.
    pub(crate) hooks: Option<Hooks>,
}

impl Request {
    /// Wraps a request for one script call.
    pub(crate) fn new(ctx: RequestContext) -> Self {
        Request {
            ctx,
            edits: Edits::default(),
            verdict: None,
            auth_user: None,
            reply_headers: Vec::new(),
            reply_body: None,
            hooks: None,
        }
    }

    /// Whether a handler took a decision.
    pub(crate) fn decided(&self) -> bool {
        self.verdict.is_some()
    }

    /// The decision: the verdict with the edits, or `Drop`.
    pub(crate) fn decision(&self) -> Decision {
        match &self.verdict {
            None => Decision::Drop,
            Some(Verdict::Reply(r)) => Decision::Reply(self.with_reply_extras(r.clone())),
            Some(Verdict::Relay(next_hop)) => Decision::Relay {
                edits: self.edits.clone(),
                next_hop: next_hop.clone(),
                hooks: self.hooks.clone(),
            },
            Some(Verdict::Fork(targets, strategy)) => Decision::Fork {
                edits: self.edits.clone(),
                targets: targets.clone(),
                strategy: *strategy,
                hooks: self.hooks.clone(),
            },
        }
    }

    /// Makes `reply` the decision (used by `registrar` and `auth`).
    pub(crate) fn set_reply(&mut self, reply: Reply) {
        self.verdict = Some(Verdict::Reply(reply));
    }

    /// `reply` with the script's reply headers and body.
    fn with_reply_extras(&self, mut reply: Reply) -> Reply {
        for (replace, name, value) in &self.reply_headers {
            if *replace {
                reply.headers.retain(|(n, _)| !headers::same_name(n, name));
            }
            reply.headers.push((name.clone(), value.clone()));
        }
        if reply.body.is_none() {
            reply.body.clone_from(&self.reply_body);
        }
        reply
    }

    pub(crate) fn header_now(&self, name: &str) -> Option<&str> {
        headers::current(&self.ctx.message, &self.edits.headers, name)
    }

    pub(crate) fn name_addr_uri(&self, name: &str) -> Option<Uri> {
        let v = self.header_now(name)?;
        let na = NameAddr::parse("name-addr", v).ok()?;
        Some(Uri::new(na.uri().ok()?.as_str()))
    }

    pub(crate) fn push_edit(&mut self, edit: HeaderEdit) {
        self.edits.headers.push(edit);
    }
}

/// A target given to `fork()` / `relay()`: a URI string, a `Binding`, or
/// anything with a `uri` attribute (a gateway destination).
fn target_of(obj: &Bound<'_, PyAny>) -> PyResult<Target> {
    if let Ok(b) = obj.cast::<Binding>() {
        return Ok(b.get().target());
    }
    let uri = if let Ok(s) = obj.cast::<PyString>() {
        s.to_string()
    } else if let Ok(u) = obj.cast::<Uri>() {
        u.borrow().as_str().to_owned()
    } else {
        obj.getattr("uri")?.str()?.to_string()
    };
    if uri.is_empty() || sip::Uri::parse(&uri).is_err() {
        return Err(PyValueError::new_err(format!("not a URI: {uri:?}")));
    }
    Ok(Target {
        uri,
        route: Vec::new(),
        next_hop: None,
        flow: None,
    })
}

/// Extra headers given to `reply(headers=...)`: a dict or pairs.
pub(crate) fn header_pairs(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let items: Vec<(String, String)> = if let Ok(d) = obj.cast::<PyDict>() {
        d.iter()
            .map(|(k, v)| Ok((k.str()?.to_string(), v.str()?.to_string())))
            .collect::<PyResult<_>>()?
    } else {
        obj.extract()?
    };
    for (k, v) in items {
        let name = headers::check_edit(&k, Some(&v)).map_err(PyValueError::new_err)?;
        out.push((name, v));
    }
    Ok(out)
}

#[pymethods]
impl Request {
    /// The method, e.g. `INVITE`.
    #[getter]
    fn method(&self) -> &str {
        self.ctx.message.method().map(|m| m.as_str()).unwrap_or("")
    }

    /// The Request-URI (after `set_ruri`).
    #[getter]
    fn ruri(&self) -> Uri {
        match &self.edits.ruri {
            Some(r) => Uri::new(r.as_str()),
            None => Uri::new(self.ctx.message.request_uri_str().unwrap_or("")),
        }
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

    /// The From tag.
    #[getter(from_tag)]
    fn sender_tag(&self) -> Option<&str> {
        self.ctx.message.from_tag()
    }

    /// The To tag (`None` outside a dialog).
    #[getter]
    fn to_tag(&self) -> Option<&str> {
        self.ctx.message.to_tag()
    }

    /// The Call-ID.
    #[getter]
    fn call_id(&self) -> Option<&str> {
        self.ctx.message.call_id().ok()
    }

    /// The CSeq as SIPhon gives it: `(number, method)`.
    #[getter]
    fn cseq(&self) -> Option<(u32, String)> {
        self.ctx
            .message
            .cseq()
            .ok()
            .map(|c| (c.seq, c.method.to_owned()))
    }

    /// The CSeq method.
    #[getter]
    fn cseq_method(&self) -> Option<&str> {
        self.ctx.message.cseq().ok().map(|c| c.method)
    }

    /// True when the To header has a tag (a request inside a dialog).
    #[getter]
    fn in_dialog(&self) -> bool {
        self.ctx.message.to_tag().is_some()
    }

    /// Max-Forwards, when present.
    #[getter]
    fn max_forwards(&self) -> Option<u8> {
        self.ctx.message.max_forwards().ok().flatten()
    }

    /// The transport it came over: `udp`, `tcp`, `tls`, `ws` or `wss`.
    #[getter]
    fn transport(&self) -> &'static str {
        self.ctx.transport.as_str()
    }

    /// The sender's IP address.
    #[getter]
    fn source_ip(&self) -> String {
        self.ctx.source.ip().to_string()
    }

    /// The sender's port.
    #[getter]
    fn source_port(&self) -> u16 {
        self.ctx.source.port()
    }

    /// The local IP address it arrived on.
    #[getter]
    fn local_ip(&self) -> String {
        self.ctx.local.ip().to_string()
    }

    /// The local port it arrived on.
    #[getter]
    fn local_port(&self) -> u16 {
        self.ctx.local.port()
    }

    /// The User-Agent header.
    #[getter]
    fn user_agent(&self) -> Option<&str> {
        self.header_now("User-Agent")
    }

    /// The body (after `set_body`), as bytes; None when empty.
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        let body: &[u8] = match &self.edits.body {
            Some((_, b)) => b,
            None => self.ctx.message.body(),
        };
        (!body.is_empty()).then(|| PyBytes::new(py, body))
    }

    /// The Content-Type (after `set_body`).
    #[getter]
    fn content_type(&self) -> Option<&str> {
        match &self.edits.body {
            Some((ct, _)) => Some(ct),
            None => self.ctx.message.header(HeaderName::ContentType),
        }
    }

    /// The user authenticated by `auth.*` in this call.
    #[getter]
    fn auth_user(&self) -> Option<&str> {
        self.auth_user.as_deref()
    }

    /// Whether a decision (reply, relay, fork) was taken.
    #[getter]
    #[pyo3(name = "decided")]
    fn is_decided(&self) -> bool {
        self.decided()
    }

    /// The first value of a header (case-insensitive, compact forms).
    fn get(&self, name: &str) -> Option<&str> {
        self.header_now(name)
    }

    /// Whether the header is present.
    fn has(&self, name: &str) -> bool {
        self.header_now(name).is_some()
    }

    /// Replaces every header `name` by one with `value`.
    fn set(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = value.str()?.to_string();
        let name = headers::check_edit(name, Some(&value)).map_err(PyValueError::new_err)?;
        self.push_edit(HeaderEdit::Set(name, value));
        Ok(())
    }

    /// Adds a header `name: value` after the existing ones.
    fn append(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = value.str()?.to_string();
        let name = headers::check_edit(name, Some(&value)).map_err(PyValueError::new_err)?;
        self.push_edit(HeaderEdit::Append(name, value));
        Ok(())
    }

    /// Removes every header `name`.
    fn remove(&mut self, name: &str) -> PyResult<()> {
        let name = headers::check_edit(name, None).map_err(PyValueError::new_err)?;
        self.push_edit(HeaderEdit::Remove(name));
        Ok(())
    }

    /// Replaces the body.
    fn set_body(&mut self, body: &Bound<'_, PyAny>, content_type: &str) -> PyResult<()> {
        let bytes = match body.cast::<PyBytes>() {
            Ok(b) => Bytes::copy_from_slice(b.as_bytes()),
            Err(_) => Bytes::from(body.str()?.to_string()),
        };
        headers::check_edit("Content-Type", Some(content_type)).map_err(PyValueError::new_err)?;
        self.edits.body = Some((content_type.to_owned(), bytes));
        Ok(())
    }

    /// Rewrites the Request-URI.
    fn set_ruri(&mut self, uri: &Bound<'_, PyAny>) -> PyResult<()> {
        let uri = uri.str()?.to_string();
        if sip::Uri::parse(&uri).is_err() {
            return Err(PyValueError::new_err(format!("not a URI: {uri:?}")));
        }
        self.edits.ruri = Some(uri);
        Ok(())
    }

    /// Inserts this proxy's Record-Route when the request is forwarded.
    fn record_route(&mut self) {
        self.edits.record_route = true;
    }

    /// True when the request is routed by its Route set: this proxy's own
    /// Route was consumed, or Route headers remain.
    fn loose_route(&self) -> bool {
        self.ctx.route_consumed || self.header_now("Route").is_some()
    }

    /// Answers the request with `code` (and `reason`, extra `headers`).
    /// `reliable=True` asks the core to send a 101-199 response to an
    /// INVITE reliably (RFC 3262: Require 100rel, RSeq, retransmitted
    /// until the PRACK, which the core answers); the core sends it
    /// unreliably, with a warning, when the UAC did not list 100rel.
    #[pyo3(signature = (code, reason=None, reliable=false, headers=None))]
    fn reply(
        &mut self,
        code: u16,
        reason: Option<String>,
        reliable: bool,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        if !(100..=699).contains(&code) {
            return Err(PyValueError::new_err(format!(
                "status {code} is not 100-699"
            )));
        }
        if reason.as_deref().is_some_and(|r| r.contains(['\r', '\n'])) {
            return Err(PyValueError::new_err("reason contains CR or LF"));
        }
        self.set_reply(Reply {
            status: code,
            reason,
            headers: header_pairs(headers)?,
            body: None,
            reliable,
        });
        Ok(())
    }

    /// Forwards the request: to `next_hop` (a URI, `host[:port]`, a
    /// gateway destination or a binding) when given, otherwise by the
    /// Route set / Request-URI.
    #[pyo3(signature = (next_hop=None, on_reply=None, on_failure=None, flow=None, send_socket=None))]
    fn relay(
        &mut self,
        next_hop: Option<&Bound<'_, PyAny>>,
        on_reply: Option<&Bound<'_, PyAny>>,
        on_failure: Option<&Bound<'_, PyAny>>,
        flow: Option<&Bound<'_, PyAny>>,
        send_socket: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        if send_socket.is_some_and(|g| !g.is_none()) {
            return Err(super::compat::not_served("request.relay(send_socket=)"));
        }
        // SIPhon: the callbacks of the last relay() (none replaces them).
        self.hooks = super::callbacks::RelayCallbacks::from_args(on_reply, on_failure)?;
        // SIPhon: a flow wins over `next_hop`.
        if let Some(f) = flow.filter(|f| !f.is_none()) {
            let f = f.cast::<super::flow::Flow>().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(
                    "flow= takes a Flow (request.flow, Contact.flow)",
                )
            })?;
            self.verdict = Some(Verdict::Relay(Some(f.get().next_hop())));
            return Ok(());
        }
        let hop = match next_hop {
            None => None,
            Some(h) if h.is_none() => None,
            Some(h) => {
                if let Ok(b) = h.cast::<Binding>() {
                    self.verdict = Some(Verdict::Fork(
                        vec![b.get().target()],
                        ForkStrategy::Parallel,
                    ));
                    return Ok(());
                }
                // A gateway destination goes to its configured address
                // when it has one (RFC 3263 resolution of its URI
                // otherwise).
                if let Ok(d) = h.cast::<Destination>() {
                    let dest = &d.get().dest;
                    let hop = match &dest.address {
                        Some(a) => format!("sip:{a}"),
                        None => dest.uri.clone(),
                    };
                    self.verdict = Some(Verdict::Relay(Some(hop)));
                    return Ok(());
                }
                let s = if h.is_instance_of::<PyString>() || h.is_instance_of::<Uri>() {
                    h.str()?.to_string()
                } else if let Ok(uri) = h.getattr("uri") {
                    uri.str()?.to_string()
                } else {
                    h.str()?.to_string()
                };
                if s.is_empty() || s.contains(['\r', '\n', ' ']) {
                    return Err(PyValueError::new_err(format!("bad next hop {s:?}")));
                }
                Some(s)
            }
        };
        self.verdict = Some(Verdict::Relay(hop));
        Ok(())
    }

    /// Forks to `targets` (URIs or bindings), `parallel` or `sequential`.
    #[pyo3(signature = (targets, strategy="parallel"))]
    fn fork(&mut self, targets: &Bound<'_, PyAny>, strategy: &str) -> PyResult<()> {
        let strategy = match strategy.to_ascii_lowercase().as_str() {
            "parallel" => ForkStrategy::Parallel,
            "sequential" | "serial" => ForkStrategy::Sequential,
            other => {
                return Err(PyValueError::new_err(format!(
                    "strategy must be 'parallel' or 'sequential', not {other:?}"
                )))
            }
        };
        let list: Vec<Target> = if let Ok(l) = targets.cast::<PyList>() {
            l.iter().map(|t| target_of(&t)).collect::<PyResult<_>>()?
        } else {
            targets
                .try_iter()?
                .map(|t| target_of(&t?))
                .collect::<PyResult<_>>()?
        };
        if list.is_empty() {
            return Err(PyValueError::new_err("fork() needs at least one target"));
        }
        self.verdict = Some(Verdict::Fork(list, strategy));
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "Request({} {})",
            self.method(),
            self.ctx.message.request_uri_str().unwrap_or("")
        )
    }
}
