//! Where tokens go in a message: the user part of the edge's Record-Route,
//! Path and Route URIs, and a parameter of the edge's own Via.

use std::fmt::Write;
use std::net::SocketAddr;

use sip::header::NameAddr;
use sip::header::Via;
use sip::Message;
use tokencodec::{Branch, BranchInputs, Opened, Token, TokenCodec, Transport};

use crate::settings::EdgeSettings;

/// The Via parameter holding the flow or route token that tells where the
/// response goes (a flow token: to that UE flow; a route token: to its backend).
pub const VIA_TOKEN_PARAM: &str = "atk";

/// Record-Route, Path and Route URIs carry the token as their user part:
/// `<sip:TOKEN@edge:port;lr>`. (Named for documentation; it is not a parameter.)
pub const ROUTE_TOKEN_PARAM: &str = "user part";

/// `sip:TOKEN@addr;lr` (plus `;ob` for Path, RFC 5626 §5.1).
pub(crate) fn route_uri(token: &str, addr: SocketAddr, transport: Transport, ob: bool) -> String {
    let mut s = String::with_capacity(token.len() + 64);
    let _ = write!(s, "<sip:{token}@{}", HostPort(addr));
    if transport != Transport::Udp {
        let _ = write!(s, ";transport={}", transport_param(transport));
    }
    s.push_str(";lr");
    if ob {
        s.push_str(";ob");
    }
    s.push('>');
    s
}

/// The edge's Via: `SIP/2.0/T host:port;branch=...;atk=TOKEN`.
pub(crate) fn via(
    sent_by: SocketAddr,
    transport: Transport,
    branch: &Branch,
    token: &str,
) -> String {
    let branch = branch.as_str();
    let mut s = String::with_capacity(64 + branch.len() + token.len());
    s.push_str("SIP/2.0/");
    s.push_str(Transport::via_name(transport));
    s.push(' ');
    let _ = write!(s, "{}", HostPort(sent_by));
    s.push_str(";branch=");
    s.push_str(branch);
    s.push(';');
    s.push_str(VIA_TOKEN_PARAM);
    s.push('=');
    s.push_str(token);
    s
}

/// A Route that is the edge's: its token (user part), and the token opened
/// when opening it was how the Route was recognised.
pub(crate) struct OwnRoute<'a> {
    pub(crate) token: Option<&'a str>,
    pub(crate) opened: Option<Opened<Token>>,
}

/// The Route when it is the edge's: its URI points at one of this
/// instance's advertised addresses, or its user part is a token that opens
/// under the key ring (a Route another instance of the fleet wrote: every
/// instance routes every dialog).
pub(crate) fn own_route<'a>(
    route: &NameAddr<'a>,
    settings: &EdgeSettings,
    codec: &TokenCodec,
    now: u64,
) -> Option<OwnRoute<'a>> {
    let uri = route.uri().ok()?;
    let sip = uri.as_sip()?;
    let default = if sip.secure { 5061 } else { 5060 };
    let at_us = sip
        .host
        .ip()
        .is_some_and(|ip| settings.is_own(ip, sip.port.unwrap_or(default)));
    if at_us {
        return Some(OwnRoute {
            token: sip.user,
            opened: None,
        });
    }
    let user = sip.user?;
    let opened = codec.open_any(user, now).ok()?;
    Some(OwnRoute {
        token: Some(user),
        opened: Some(opened),
    })
}

/// The user part of a Route's SIP URI.
pub(crate) fn route_user<'a>(route: &NameAddr<'a>) -> Option<&'a str> {
    route.uri().ok()?.as_sip()?.user
}

/// The branch the edge uses for a received request (RFC 3261 §16.11 inputs).
/// `via` is the request's top Via and `to_tag` its To tag, parsed by the
/// caller.
pub(crate) fn branch_inputs<'a>(
    msg: &'a Message,
    via: &Via<'a>,
    to_tag: Option<&'a str>,
) -> Option<BranchInputs<'a>> {
    Some(BranchInputs {
        via_sent_by: via.sent_by().as_bytes(),
        via_branch: via.branch().unwrap_or("").as_bytes(),
        to_tag: to_tag.unwrap_or("").as_bytes(),
        from_tag: msg.from_tag().unwrap_or("").as_bytes(),
        call_id: msg.call_id().ok()?.as_bytes(),
        cseq_number: msg.cseq().ok()?.seq,
        request_uri: msg.request_uri_str().unwrap_or("").as_bytes(),
        context: b"",
    })
}

/// A To tag for the edge's own (stateless) responses: the same for every
/// retransmission of a request (RFC 3261 §8.2.7), from a hash of what
/// identifies the request.
pub(crate) fn local_tag(req: &Message) -> String {
    local_tag_at(req, 0)
}

/// [`local_tag`] of the request as it was before the top `skip` Vias were
/// added to it.
pub(crate) fn local_tag_at(req: &Message, skip: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |b: &[u8]| {
        for &c in b.iter().chain(&[0xff]) {
            h ^= u64::from(c);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(req.call_id().unwrap_or("").as_bytes());
    feed(req.from_tag().unwrap_or("").as_bytes());
    let via = req.vias().nth(skip).and_then(Result::ok);
    feed(
        via.as_ref()
            .and_then(|v| v.branch())
            .unwrap_or("")
            .as_bytes(),
    );
    feed(&req.cseq().map(|c| c.seq).unwrap_or(0).to_be_bytes());
    format!("ae{h:016x}")
}

fn transport_param(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
        Transport::Ws => "ws",
        Transport::Wss => "wss",
    }
}

/// `host:port` with IPv6 in brackets.
struct HostPort(SocketAddr);

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            SocketAddr::V4(a) => write!(f, "{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => write!(f, "[{}]:{}", a.ip(), a.port()),
        }
    }
}
