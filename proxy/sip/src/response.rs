//! Building a response from a request (RFC 3261 §8.2.6).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::HeaderError;
use crate::header_name::HeaderName;
use crate::message::Message;

/// A response under construction. The copied fields keep their values
/// byte for byte.
#[derive(Debug, Clone)]
pub struct ResponseBuilder<'a> {
    req: &'a Message,
    status: u16,
    reason: String,
    to_tag: Option<String>,
    to_value: Option<String>,
    extra: Vec<(String, String)>,
    body: Option<(String, Bytes)>,
}

/// Starts a response to `req`. Fails when the request has no Via: such a
/// response could not be routed (§18.2.2) and must not be sent.
pub fn response(req: &Message, status: u16) -> Result<ResponseBuilder<'_>, HeaderError> {
    if !req.is_request() {
        return Err(HeaderError::new("start line", "not a request"));
    }
    if req.header(HeaderName::Via).is_none() {
        return Err(HeaderError::new("Via", "missing"));
    }
    Ok(ResponseBuilder {
        req,
        status,
        reason: reason_phrase(status).to_string(),
        to_tag: None,
        to_value: None,
        extra: Vec::new(),
        body: None,
    })
}

impl<'a> ResponseBuilder<'a> {
    /// Sets the reason phrase (control characters are dropped).
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = reason.chars().filter(|c| !c.is_control()).collect();
        self
    }

    /// The To tag to add when the request's To has none (§8.2.6.2; never on 100).
    pub fn to_tag(mut self, tag: &str) -> Self {
        self.to_tag = Some(tag.to_string());
        self
    }

    /// Replaces the copied To (a UAS choosing its own tag, §12.1.1); the
    /// value is written as given and no tag is added.
    pub fn to_value(mut self, value: &str) -> Self {
        self.to_value = Some(value.chars().filter(|c| !c.is_control()).collect());
        self
    }

    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.extra.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets a body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: Bytes) -> Self {
        self.body = Some((content_type.to_string(), body));
        self
    }

    /// Serialises the response.
    pub fn build(self) -> Bytes {
        let req = self.req;
        let mut out = BytesMut::with_capacity(req.body_start() + 128);
        out.put_slice(format!("SIP/2.0 {} {}\r\n", self.status, self.reason).as_bytes());
        let mut put = |name: &str, value: &str| {
            out.put_slice(name.as_bytes());
            out.put_slice(b": ");
            out.put_slice(value.as_bytes());
            out.put_slice(b"\r\n");
        };
        for h in req.headers() {
            let keep = match h.name {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => true,
                // §8.2.6.1: a 100 copies Timestamp.
                HeaderName::Timestamp => self.status == 100,
                HeaderName::To => {
                    let canon = "To";
                    if let Some(v) = &self.to_value {
                        put(canon, v);
                        continue;
                    }
                    match &self.to_tag {
                        Some(tag) if self.status != 100 && !has_tag(req) => {
                            put(canon, &format!("{};tag={tag}", h.value));
                        }
                        _ => put(canon, h.value),
                    }
                    false
                }
                _ => false,
            };
            if keep {
                put(h.name.canonical().unwrap_or(h.raw_name), h.value);
            }
        }
        for (n, v) in &self.extra {
            put(n, v);
        }
        match &self.body {
            Some((ct, body)) => {
                put("Content-Type", ct);
                put("Content-Length", &body.len().to_string());
                out.put_slice(b"\r\n");
                out.put_slice(body);
            }
            None => {
                put("Content-Length", "0");
                out.put_slice(b"\r\n");
            }
        }
        out.freeze()
    }
}

fn has_tag(req: &Message) -> bool {
    match req.to() {
        Ok(to) => to.tag().is_some(),
        // An unparseable To is copied as it is.
        Err(_) => true,
    }
}

/// The RFC 3261 §21 reason phrase of a status code (and of the common
/// extensions), or a class default.
#[allow(clippy::match_overlapping_arm)]
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        430 => "Flow Failed",
        439 => "First Hop Lacks Outbound Support",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        100..=199 => "Session Progress",
        200..=299 => "OK",
        300..=399 => "Redirected",
        400..=499 => "Client Error",
        500..=599 => "Server Error",
        _ => "Global Failure",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Framing, Limits};

    #[test]
    fn a_given_to_replaces_the_copied_one() {
        let raw = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                   From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\
                   Content-Length: 0\r\n\r\n";
        let req = Message::parse(Bytes::from(raw), Framing::Datagram, &Limits::default())
            .unwrap_or_else(|e| panic!("{e:?}"));
        let built = |b: ResponseBuilder<'_>| String::from_utf8_lossy(&b.build()).into_owned();
        let Ok(r) = response(&req, 200) else {
            panic!("a response")
        };
        let text = built(r.clone().to_tag("core").to_value("<sip:a@b>;tag=mine"));
        assert!(text.contains("\r\nTo: <sip:a@b>;tag=mine\r\n"), "{text}");
        assert_eq!(text.matches("\r\nTo:").count(), 1, "{text}");
        let text = built(r.to_tag("core"));
        assert!(text.contains("\r\nTo: <sip:a@b>;tag=core\r\n"), "{text}");
    }
}
