//! Who "this proxy" is (§16.4), Route processing, and the branch hashes of
//! loop detection (§16.3 step 4, §16.6 step 8).

use std::net::{IpAddr, SocketAddr};

use sip::edit::Editor;
use sip::header::NameAddr;
use sip::host::Host;
use sip::uri::{SipUri, Uri};
use sip::Transport;
use sip::{HeaderName, Message};

use super::build::reparse;
use crate::error::CoreError;
use crate::settings::{Listener, Settings};

/// What starts every Via branch this proxy writes, after the magic cookie.
pub(super) const BRANCH_MARK: &str = "z9hG4bKAs";

/// FNV-1a, 64 bits: a stable hash (the same on every build), enough to
/// tell loops from spirals.
pub(super) fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h = Fnv::default();
    for p in parts {
        h.part(p);
    }
    h.0
}

/// FNV-1a over parts, each followed by a separator.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn part(&mut self, p: &[u8]) {
        for b in p.iter().chain(b"\x1f") {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The loop-detection part of our branches (§16.6 step 8): a hash of what
/// identifies the request as received, except the Via. A spiral changes
/// the Request-URI or the Route set and hashes differently; a loop does not.
pub(super) fn loop_hash(msg: &Message) -> String {
    let mut h = Fnv::default();
    h.part(msg.request_uri_str().unwrap_or_default().as_bytes());
    h.part(msg.header(HeaderName::CSeq).unwrap_or_default().as_bytes());
    h.part(msg.call_id().unwrap_or_default().as_bytes());
    h.part(msg.from_tag().unwrap_or_default().as_bytes());
    h.part(msg.to_tag().unwrap_or_default().as_bytes());
    for f in msg.headers() {
        if matches!(
            f.name,
            HeaderName::Route | HeaderName::ProxyRequire | HeaderName::ProxyAuthorization
        ) {
            h.part(f.value.as_bytes());
        }
    }
    format!("{:016x}", h.0)
}

/// Whether a Via of `msg` is ours with the same loop hash: a loop (482).
pub(super) fn is_loop(settings: &Settings, msg: &Message, hash: &str) -> bool {
    msg.vias().flatten().any(|v| {
        v.branch()
            .and_then(|b| b.strip_prefix(BRANCH_MARK))
            .is_some_and(|rest| rest.split('.').next() == Some(hash))
            && is_own_host(settings, &v.host, v.port, v.transport, false)
    })
}

/// The default port of a transport.
pub(super) fn default_port(transport: &str) -> u16 {
    if transport.eq_ignore_ascii_case("tls") {
        5061
    } else {
        5060
    }
}

/// Whether `host:port` names this proxy: a listener's address (or the
/// advertised host) and port; with `aliases`, also one of its domains.
pub(super) fn is_own_host(
    settings: &Settings,
    host: &Host<'_>,
    port: Option<u16>,
    transport: &str,
    aliases: bool,
) -> bool {
    let port = port.unwrap_or_else(|| default_port(transport));
    let port_ok = settings.listeners.iter().any(|l| l.addr.port() == port);
    let ip_hit = host.ip().is_some_and(|ip| {
        settings
            .listeners
            .iter()
            .any(|l| l.addr.ip() == ip && l.addr.port() == port)
    });
    let adv_hit = port_ok
        && settings
            .advertised
            .as_deref()
            .is_some_and(|a| names(host, a));
    let alias_hit = aliases && settings.aliases.iter().any(|a| names(host, a));
    ip_hit || adv_hit || alias_hit
}

/// Whether `text` (a configured host, IPv6 in brackets or not) names
/// `host`: domains case-insensitively, addresses by value.
fn names(host: &Host<'_>, text: &str) -> bool {
    let text = text.trim_start_matches('[').trim_end_matches(']');
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case(text),
        _ => text.parse::<IpAddr>().ok() == host.ip(),
    }
}

fn uri_is_own(settings: &Settings, uri: &SipUri<'_>, aliases: bool) -> bool {
    let transport = uri
        .transport()
        .unwrap_or(if uri.secure { "tls" } else { "udp" });
    is_own_host(settings, &uri.host, uri.port, transport, aliases)
}

/// §16.4: the strict-route fix (our Record-Route URI as Request-URI with a
/// Route set: the last Route becomes the Request-URI) and the removal of
/// our own Route(s) at the top. Returns the routed request and the URIs of
/// the Routes naming this proxy that were removed, top first.
pub(super) fn process_routes(
    settings: &Settings,
    msg: &Message,
) -> Result<(Message, Vec<String>), CoreError> {
    let routes: Vec<NameAddr<'_>> = msg.routes().collect::<Result<_, _>>()?;
    let mut ed = Editor::new(msg);
    let mut edited = false;
    let mut remaining = routes.len();
    if let (Ok(Uri::Sip(ruri)), Some(last)) = (msg.request_uri(), routes.last()) {
        if ruri.user.is_none() && uri_is_own(settings, &ruri, false) {
            ed.replace(ruri.as_str(), last.uri_raw)?;
            ed.remove_value(HeaderName::Route, routes.len() - 1)?;
            remaining -= 1;
            edited = true;
        }
    }
    let mut consumed = Vec::new();
    // Ours at the top, at most two (a double Record-Route, RFC 5658).
    for (i, r) in routes.iter().take(remaining.min(2)).enumerate() {
        let own = matches!(r.uri()?, Uri::Sip(u) if uri_is_own(settings, &u, true));
        if !own {
            break;
        }
        ed.remove_value(HeaderName::Route, i)?;
        consumed.push(r.uri_raw.to_owned());
        edited = true;
    }
    if !edited {
        return Ok((msg.clone(), consumed));
    }
    Ok((reparse(ed.finish()?)?, consumed))
}

/// The listener to send to `to` over `transport` from: the same transport
/// and address family if there is one, else any of the family.
pub(super) fn listener_for(
    settings: &Settings,
    transport: Transport,
    to: SocketAddr,
) -> Option<Listener> {
    let fam = |l: &&Listener| l.addr.is_ipv4() == to.is_ipv4();
    settings
        .listeners
        .iter()
        .filter(fam)
        .find(|l| l.transport == transport)
        .or_else(|| settings.listeners.iter().find(fam))
        .copied()
}

/// The host:port this proxy writes for a listener (Via sent-by, Record-Route).
pub(super) fn hostport(settings: &Settings, local: SocketAddr) -> String {
    let host = match &settings.advertised {
        Some(a) => a.clone(),
        None => match local.ip() {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        },
    };
    format!("{host}:{}", local.port())
}

/// The URI a routing text names: a name-addr's URI, or the text itself.
pub(super) fn uri_text(s: &str) -> &str {
    let s = s.trim();
    match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    }
}
