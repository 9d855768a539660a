//! Request and response checks that decide what an element answers:
//! RFC 3261 §8.2 (400, 416), §16.3 (483, 420) and §18.1.2 / §18.2.2 (what a
//! response may be forwarded on). The parser has already answered framing
//! (400) and version (505) errors.

use std::net::IpAddr;

use crate::error::Rejection;
use crate::header_name::HeaderName;
use crate::message::Message;
use crate::uri::Uri;

/// Headers that must appear at most once.
const SINGLE: [HeaderName; 6] = [
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::ContentType,
];

/// Checks a request against the grammar of every header that routing,
/// transactions and registration read. On failure, the rejection names the
/// status (400, or 416 for a Request-URI scheme nobody here routes).
pub fn check_request(msg: &Message) -> Result<(), Rejection> {
    let method = msg
        .method()
        .ok_or_else(|| Rejection::bad("not a request"))?;
    check_common(msg)?;
    let cseq = msg.cseq()?;
    if !cseq.is(method) {
        return Err(Rejection::bad(
            "CSeq method does not match the request method",
        ));
    }
    match msg.request_uri()? {
        Uri::Sip(u) if u.headers.is_some() => {
            return Err(Rejection::bad("Request-URI carries headers"));
        }
        Uri::Other { .. } => return Err(Rejection::new(416, "Unsupported URI Scheme")),
        _ => {}
    }
    msg.max_forwards()?;
    for c in msg.contacts() {
        if let Some(a) = c?.addr() {
            a.uri()?;
        }
    }
    for r in msg.routes().chain(msg.record_routes()).chain(msg.paths()) {
        r?.uri()?;
    }
    for t in msg
        .require()
        .chain(msg.proxy_require())
        .chain(msg.supported())
    {
        t?;
    }
    Ok(())
}

/// Checks a response before it is forwarded. A failing response is dropped
/// (the rejection's status is meaningless for responses; its reason says why).
pub fn check_response(msg: &Message) -> Result<(), Rejection> {
    if msg.is_request() {
        return Err(Rejection::bad("not a response"));
    }
    check_common(msg)?;
    for c in msg.contacts() {
        if let Some(a) = c?.addr() {
            a.uri()?;
        }
    }
    for r in msg.record_routes() {
        r?.uri()?;
    }
    Ok(())
}

/// Fields every message needs (§8.1.1): Via, From, To, Call-ID, CSeq; the
/// single-valued ones at most once; all Vias well formed.
fn check_common(msg: &Message) -> Result<(), Rejection> {
    if let Some(name) = SINGLE.into_iter().find(|n| msg.count(*n) > 1) {
        return Err(Rejection::bad(format!("more than one {name}")));
    }
    if msg.header(HeaderName::Via).is_none() {
        return Err(Rejection::bad("missing Via"));
    }
    for v in msg.vias() {
        v?;
    }
    for (name, addr) in [("From", msg.from()?), ("To", msg.to()?)] {
        addr.uri()?;
        // tag = "tag" EQUAL token (RFC 3261 §25.1).
        if addr
            .tag()
            .is_some_and(|t| t.is_empty() || !t.bytes().all(crate::chars::is_token))
        {
            return Err(Rejection::bad(format!("{name} tag is not a token")));
        }
    }
    msg.call_id()?;
    msg.cseq()?;
    Ok(())
}

/// The proxy checks of RFC 3261 §16.3 after [`check_request`]: Max-Forwards
/// (483 at zero, except for an OPTIONS the element answers itself, which the
/// caller decides) and Proxy-Require (420 listing what is not supported).
pub fn proxy_checks(msg: &Message, supported: &[&str]) -> Result<(), Rejection> {
    if msg.max_forwards()? == Some(0) {
        return Err(Rejection::new(483, "Too Many Hops"));
    }
    let mut unsupported = Vec::new();
    for tag in msg.proxy_require() {
        let tag = tag?;
        if !supported.iter().any(|s| s.eq_ignore_ascii_case(tag)) {
            unsupported.push(tag.to_string());
        }
    }
    if !unsupported.is_empty() {
        let mut r = Rejection::new(420, "Bad Extension");
        r.unsupported = unsupported;
        return Err(r);
    }
    Ok(())
}

/// True for an address a SIP element may send to: not unspecified,
/// broadcast or multicast (RFC 4475 §3.3.10).
pub fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_broadcast() || a.is_multicast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    }
}

/// The outcome of [`screen`]: what an element does with received bytes
/// before any routing decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screened {
    /// A request that parsed and passed [`check_request`].
    Request(Message),
    /// A response that parsed and passed [`check_response`].
    Response(Message),
    /// A request to answer with `rejection.status` (its Via can be answered).
    Reject {
        /// The request as far as it was read (body may be empty).
        request: Box<Message>,
        /// What to answer.
        rejection: Rejection,
    },
    /// Nothing to send: the reason, for counting.
    Drop(DropReason),
}

/// Why received bytes are dropped without an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// Not a SIP message, or framing so broken that no response can be built.
    Unparseable(crate::error::ParseError),
    /// A malformed response (responses are never answered): what is wrong.
    BadResponse(String),
    /// A bad request without a Via to answer to.
    NoVia,
    /// A bad ACK (ACKs are never answered).
    Ack,
}

/// Parses and checks one received message. The core of the RFC 4475
/// handling every element shares.
pub fn screen(buf: bytes::Bytes, framing: crate::Framing, limits: &crate::Limits) -> Screened {
    let reject = |request: Box<Message>, rejection: Rejection| {
        if request.method() == Some(&crate::Method::Ack) {
            Screened::Drop(DropReason::Ack)
        } else if request.header(HeaderName::Via).is_none() {
            Screened::Drop(DropReason::NoVia)
        } else {
            Screened::Reject { request, rejection }
        }
    };
    match Message::parse(buf, framing, limits) {
        Err(f) => match f.partial {
            Some(p) if p.is_request() => {
                let status = f.error.status();
                reject(p, Rejection::new(status, f.error.to_string()))
            }
            _ => Screened::Drop(DropReason::Unparseable(f.error)),
        },
        Ok(m) if m.is_request() => match check_request(&m) {
            Ok(()) => Screened::Request(m),
            Err(r) => reject(Box::new(m), r),
        },
        Ok(m) => match check_response(&m) {
            Ok(()) => Screened::Response(m),
            Err(r) => Screened::Drop(DropReason::BadResponse(r.reason)),
        },
    }
}
