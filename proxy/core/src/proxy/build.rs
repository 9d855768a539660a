//! Building messages: the router's edits, ACK (§17.1.1.3), CANCEL (§9.1),
//! responses (§8.2.6), and response rewriting (§16.7).

use bytes::{BufMut, Bytes, BytesMut};
use sip::edit::Editor;
use sip::message::Span;
use sip::{Framing, HeaderName, Limits, Message};

use crate::decision::{Edits, HeaderEdit, Reply};
use crate::error::CoreError;

/// Parses a message this proxy built.
pub(super) fn reparse(bytes: Bytes) -> Result<Message, CoreError> {
    let limits = Limits {
        max_message_size: usize::MAX / 2,
        max_headers: 1024,
    };
    Message::parse(bytes, Framing::Datagram, &limits).map_err(|f| CoreError::Rebuild(f.to_string()))
}

fn same_name(msg: &Message, field: &sip::message::HeaderField, name: &str) -> bool {
    let hn = HeaderName::from_bytes(name.as_bytes());
    if hn == HeaderName::Other {
        msg.text(field.name_span).eq_ignore_ascii_case(name)
    } else {
        field.name == hn
    }
}

/// Removes every field named `name`.
fn remove_all(ed: &mut Editor<'_>, msg: &Message, name: &str) -> Result<(), CoreError> {
    for (i, f) in msg.fields().iter().enumerate() {
        if same_name(msg, f, name) {
            ed.remove_field(i)?;
        }
    }
    Ok(())
}

fn valid_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|c| c.is_ascii_graphic() && c != b':')
        && !value.bytes().any(|c| c == b'\r' || c == b'\n')
}

/// Applies header edits in order.
pub(super) fn header_edits(
    ed: &mut Editor<'_>,
    msg: &Message,
    edits: &[HeaderEdit],
) -> Result<(), CoreError> {
    for e in edits {
        match e {
            HeaderEdit::Set(n, v) => {
                if !valid_header(n, v) {
                    return Err(CoreError::BadTarget(format!("header {n}")));
                }
                remove_all(ed, msg, n)?;
                ed.append(n, v);
            }
            HeaderEdit::Append(n, v) => {
                if !valid_header(n, v) {
                    return Err(CoreError::BadTarget(format!("header {n}")));
                }
                ed.append(n, v);
            }
            HeaderEdit::Remove(n) => remove_all(ed, msg, n)?,
        }
    }
    Ok(())
}

/// Applies a request's edits except the body (`ruri` is checked already,
/// see `Plan`); returns the new body, if any.
pub(super) fn request_edits<'e>(
    ed: &mut Editor<'_>,
    msg: &Message,
    ruri: Option<&str>,
    edits: &'e Edits,
) -> Result<Option<&'e Bytes>, CoreError> {
    if let Some(u) = ruri {
        let cur = msg.request_uri_str().unwrap_or_default();
        ed.replace(cur, u)?;
    }
    header_edits(ed, msg, &edits.headers)?;
    Ok(match &edits.body {
        Some((ct, body)) => {
            remove_all(ed, msg, "Content-Type")?;
            if !body.is_empty() {
                ed.append("Content-Type", ct);
            }
            ed.set_content_length(body.len())?;
            Some(body)
        }
        None => {
            if msg.content_length().is_none() {
                ed.append("Content-Length", &msg.body().len().to_string());
            }
            None
        }
    })
}

/// Finishes an edit, replacing the body when asked.
pub(super) fn finish(ed: Editor<'_>, body: Option<&Bytes>) -> Result<Bytes, CoreError> {
    let out = ed.finish()?;
    let Some(body) = body else {
        return Ok(out);
    };
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| CoreError::Rebuild("no end of headers".into()))?;
    let mut b = BytesMut::with_capacity(end + 4 + body.len());
    b.put_slice(&out[..end + 4]);
    b.put_slice(body);
    Ok(b.freeze())
}

fn put(out: &mut BytesMut, name: &str, value: &str) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value.as_bytes());
    out.put_slice(b"\r\n");
}

fn put_routes(out: &mut BytesMut, req: &Message) {
    for h in req.headers().filter(|h| h.name == HeaderName::Route) {
        put(out, "Route", h.value);
    }
}

/// The ACK for a non-2xx final response to `invite` (§17.1.1.3).
pub(super) fn ack(invite: &Message, resp: &Message) -> Bytes {
    hop_request(invite, "ACK", resp.header(HeaderName::To))
}

/// The CANCEL of `invite` (§9.1).
pub(super) fn cancel(invite: &Message) -> Bytes {
    hop_request(invite, "CANCEL", None)
}

fn hop_request(req: &Message, method: &str, to: Option<&str>) -> Bytes {
    let mut out = BytesMut::with_capacity(512);
    let ruri = req.request_uri_str().unwrap_or_default();
    out.put_slice(format!("{method} {ruri} SIP/2.0\r\n").as_bytes());
    if let Ok(v) = req.top_via() {
        put(&mut out, "Via", v.as_str());
    }
    put_routes(&mut out, req);
    put(&mut out, "Max-Forwards", "70");
    for (name, value) in [
        ("From", req.header(HeaderName::From)),
        ("To", to.or(req.header(HeaderName::To))),
        ("Call-ID", req.header(HeaderName::CallId)),
    ] {
        put(&mut out, name, value.unwrap_or_default());
    }
    let seq = req.cseq().map(|c| c.seq).unwrap_or_default();
    put(&mut out, "CSeq", &format!("{seq} {method}"));
    put(&mut out, "Content-Length", "0");
    out.put_slice(b"\r\n");
    out.freeze()
}

/// A response to `req` from a router's [`Reply`] (or a bare status), with
/// `server` as its `Server` header unless the reply brings its own.
pub(super) fn reply(
    req: &Message,
    r: &Reply,
    to_tag: &str,
    server: Option<&str>,
) -> Result<Bytes, CoreError> {
    let mut b = sip::response::response(req, r.status)?;
    if let Some(reason) = &r.reason {
        b = b.reason(reason);
    }
    if r.status != 100 {
        b = b.to_tag(to_tag);
    }
    for (n, v) in &r.headers {
        if !valid_header(n, v) {
            continue;
        }
        // A router's To (its own tag, §12.1.1) replaces the copied one.
        b = if n.eq_ignore_ascii_case("To") || n == "t" {
            b.to_value(v)
        } else {
            b.header(n, v)
        };
    }
    if let Some(server) = server {
        if !r
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("Server"))
        {
            b = b.header("Server", server);
        }
    }
    if let Some((ct, body)) = &r.body {
        b = b.body(ct, body.clone());
    }
    Ok(b.build())
}

/// A response with our (top) Via removed.
pub(super) fn strip_top_via(resp: &Message) -> Result<Message, CoreError> {
    reparse(strip_top_via_bytes(resp)?)
}

/// The bytes of a response with our (top) Via removed.
pub(super) fn strip_top_via_bytes(resp: &Message) -> Result<Bytes, CoreError> {
    let mut ed = Editor::new(resp);
    ed.remove_value(HeaderName::Via, 0)?;
    Ok(ed.finish()?)
}

/// The response as forwarded upstream: header edits, a new status line
/// (503 → 500, §16.7 step 6), and extra headers (aggregated challenges).
pub(super) fn rewrite_response(
    resp: &Message,
    status: Option<u16>,
    edits: &[HeaderEdit],
    extra: &[(String, String)],
) -> Result<Message, CoreError> {
    if status.is_none() && edits.is_empty() && extra.is_empty() {
        return Ok(resp.clone());
    }
    let mut ed = Editor::new(resp);
    if let Some(s) = status {
        let line = resp.text(Span {
            start: 0,
            end: resp.start_line_end().saturating_sub(2) as u32,
        });
        let reason = sip::response::reason_phrase(s);
        ed.replace(line, &format!("SIP/2.0 {s} {reason}"))?;
    }
    header_edits(&mut ed, resp, edits)?;
    for (n, v) in extra {
        ed.append(n, v);
    }
    reparse(ed.finish()?)
}
