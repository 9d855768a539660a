//! What is to be resolved: the parts of a SIP URI that RFC 3263 looks at.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::{Destination, ResolveError, Transport};

#[cfg(test)]
mod tests;

/// Longest input echoed back in a [`ResolveError::BadTarget`].
const MAX_ECHO: usize = 200;

/// What is to be resolved: the parts of a URI RFC 3263 looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Explicit port, if any.
    pub port: Option<u16>,
    /// Explicit `;transport=`, if any.
    pub transport: Option<Transport>,
    /// `sips:` URI.
    pub secure: bool,
    /// An explicit `;maddr=` replaces the host (RFC 3263 §4); IPv6 without
    /// brackets.
    pub maddr: Option<String>,
}

impl Target {
    /// Reads a `sip:`/`sips:` URI (optionally in `<>`), or a bare
    /// `host[:port]` (which may carry `;params` too).
    ///
    /// The user part and `?headers` are ignored; of the parameters only
    /// `transport` and `maddr` are read. Hosts are checked: an IPv4 literal,
    /// an IPv6 literal (bracketed; bare only without a port), or a host name
    /// of letters, digits, `-`, `_` and dots. Ports are 1–65535.
    ///
    /// Rejected with [`ResolveError::BadTarget`]: other schemes, a bad host
    /// or port, a `;transport=` this crate does not know (such as `sctp`),
    /// and `sips:` with `;transport=udp` (RFC 3261 §26.2.2). Never panics.
    pub fn from_uri(text: &str) -> Result<Self, ResolveError> {
        let bad = || ResolveError::BadTarget(echo(text));
        let t = text.trim();
        let t = match t.strip_prefix('<') {
            Some(inner) => inner.strip_suffix('>').ok_or_else(bad)?,
            None => t,
        };
        let (secure, rest) = if let Some(r) = strip_prefix_ci(t, "sips:") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(t, "sip:") {
            (false, r)
        } else {
            (false, t)
        };
        // Neither parameters nor headers may hold an unescaped '@', while
        // the user part may hold ';' and '?': cut the user part off first.
        let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
        let mut parts = rest.split(';');
        let hostport = parts.next().unwrap_or("");
        let (host, port) = split_host_port(hostport).ok_or_else(bad)?;
        let mut transport = None;
        let mut maddr = None;
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            if k.eq_ignore_ascii_case("transport") {
                transport = Some(v.parse::<Transport>().map_err(|_| bad())?);
            } else if k.eq_ignore_ascii_case("maddr") {
                maddr = Some(parse_host(v).ok_or_else(bad)?);
            }
        }
        if secure && transport == Some(Transport::Udp) {
            return Err(bad());
        }
        Ok(Target {
            host,
            port,
            transport,
            secure,
            maddr,
        })
    }

    /// The host whose addresses are wanted: `maddr` if present, else `host`.
    pub fn addr_host(&self) -> &str {
        self.maddr.as_deref().unwrap_or(&self.host)
    }

    /// The one destination of a target whose host (or `maddr`) is an IP
    /// literal: RFC 3263 §4 step 1 needs no DNS, so no resolution is
    /// needed either. The transport is the explicit one, else UDP (TLS for
    /// `sips:`); the port the explicit one, else the transport's default.
    /// `None` for a host name (and for `sips:` with UDP, which
    /// [`crate::Resolver::resolve`] reports as an error).
    pub fn ip_destination(&self) -> Option<Destination> {
        let ip: IpAddr = self.addr_host().parse().ok()?;
        let fallback = if self.secure {
            Transport::Tls
        } else {
            Transport::Udp
        };
        let transport = self.explicit_transport().ok()?.unwrap_or(fallback);
        let port = self.port.unwrap_or(default_port(transport));
        Some(Destination {
            transport,
            addr: SocketAddr::new(ip, port),
        })
    }

    /// The transport asked for explicitly, as used on the wire: for a
    /// `sips:` URI, `tcp` means TLS and `ws` means WSS. `Err` for `sips:`
    /// with UDP.
    pub(crate) fn explicit_transport(&self) -> Result<Option<Transport>, ResolveError> {
        match (self.secure, self.transport) {
            (true, Some(Transport::Udp)) => Err(ResolveError::BadTarget(echo(&format!(
                "sips:{};transport=udp",
                self.host
            )))),
            (true, Some(Transport::Tcp)) => Ok(Some(Transport::Tls)),
            (true, Some(Transport::Ws)) => Ok(Some(Transport::Wss)),
            (_, t) => Ok(t),
        }
    }
}

/// The default port of a transport (RFC 3261 §19.1.2; RFC 7118 for
/// WebSocket, whose URIs name no port of their own).
pub(crate) fn default_port(transport: Transport) -> u16 {
    match transport {
        Transport::Udp | Transport::Tcp => 5060,
        Transport::Tls => 5061,
        Transport::Ws => 80,
        Transport::Wss => 443,
    }
}

/// At most [`MAX_ECHO`] bytes of `text`, cut at a character boundary.
fn echo(text: &str) -> String {
    let mut end = text.len().min(MAX_ECHO);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// `host[:port]` with the host checked; IPv6 comes back without brackets.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = h.parse().ok()?;
        let port = match after {
            "" => None,
            _ => Some(parse_port(after.strip_prefix(':')?)?),
        };
        return Some((ip.to_string(), port));
    }
    if s.parse::<Ipv6Addr>().is_ok() {
        return Some((s.to_owned(), None));
    }
    let (h, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(parse_port(p)?)),
        None => (s, None),
    };
    let host = parse_host(h)?;
    if host.contains(':') {
        return None;
    }
    Some((host, port))
}

/// A host (the `maddr` value too): an IP literal, IPv6 bracketed or not,
/// or a host name.
fn parse_host(h: &str) -> Option<String> {
    let inner = h.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
    if let Some(inner) = inner {
        return inner.parse::<Ipv6Addr>().ok().map(|ip| ip.to_string());
    }
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    if h.parse::<Ipv4Addr>().is_err() && is_hostname(h) {
        return Some(h.to_owned());
    }
    None
}

/// Letters, digits, `-` and `_` in non-empty labels of at most 63 bytes,
/// at most 253 bytes in all, one trailing dot allowed.
fn is_hostname(h: &str) -> bool {
    let name = h.strip_suffix('.').unwrap_or(h);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok().filter(|&n| n != 0)
}
