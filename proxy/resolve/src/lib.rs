//! RFC 3263 target resolution: which transport, address and port a SIP
//! URI's request goes to, in the order to try them.
//!
//! Contract (kept by every implementation step):
//! - [`Target::from_uri`] reads a `sip:`/`sips:` URI (or `host[:port]`);
//! - [`Resolver::resolve`] returns the ordered [`Destination`]s; callers try
//!   the next one on a transport error or a 503 (RFC 3263 §4.3).
//!
//! This first step resolves IP literals only; DNS (NAPTR, SRV, A/AAAA) with
//! `hickory-resolver` comes next.

use std::net::{IpAddr, SocketAddr};

pub use tokencodec::Transport;

/// Why a target did not resolve.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    /// The text is not a SIP URI or host[:port].
    #[error("not a SIP URI or host[:port]: {0:?}")]
    BadTarget(String),
    /// The name has no usable records.
    #[error("{0}: no address found")]
    NotFound(String),
    /// The DNS lookup failed (timeout, server failure).
    #[error("{name}: DNS lookup failed: {message}")]
    Lookup {
        /// The name looked up.
        name: String,
        /// What went wrong.
        message: String,
    },
}

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
    /// An explicit `;maddr=` replaces the host (RFC 3263 §4).
    pub maddr: Option<String>,
}

impl Target {
    /// Reads a `sip:`/`sips:` URI, or a bare `host[:port]`.
    pub fn from_uri(text: &str) -> Result<Self, ResolveError> {
        let bad = || ResolveError::BadTarget(text.to_owned());
        let t = text.trim().trim_start_matches('<').trim_end_matches('>');
        let (secure, rest) = if let Some(r) = strip_prefix_ci(t, "sips:") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(t, "sip:") {
            (false, r)
        } else {
            (false, t)
        };
        let rest = rest.split(['?']).next().unwrap_or("");
        let mut parts = rest.split(';');
        let hostport = parts.next().unwrap_or("");
        let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
        let (host, port) = split_host_port(hostport).ok_or_else(bad)?;
        let mut transport = None;
        let mut maddr = None;
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            if k.eq_ignore_ascii_case("transport") {
                transport = v.to_ascii_lowercase().parse().ok();
            } else if k.eq_ignore_ascii_case("maddr") && !v.is_empty() {
                maddr = Some(v.trim_start_matches('[').trim_end_matches(']').to_owned());
            }
        }
        Ok(Target {
            host,
            port,
            transport,
            secure,
            maddr,
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((h.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_owned(), Some(p.parse().ok()?))),
        _ => Some((s.to_owned(), None)),
    }
}

/// One place to send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Destination {
    /// The transport.
    pub transport: Transport,
    /// The address and port.
    pub addr: SocketAddr,
}

/// Resolves targets (RFC 3263 §4).
#[derive(Debug, Clone, Default)]
pub struct Resolver {}

impl Resolver {
    /// A resolver using the system's name servers.
    pub fn new() -> Self {
        Resolver {}
    }

    /// The destinations for `target`, in the order to try them.
    pub async fn resolve(&self, target: &Target) -> Result<Vec<Destination>, ResolveError> {
        let host = target.maddr.as_deref().unwrap_or(&target.host);
        let ip: IpAddr = host
            .parse()
            .map_err(|_| ResolveError::NotFound(host.to_owned()))?;
        let transport = target.transport.unwrap_or(if target.secure {
            Transport::Tls
        } else {
            Transport::Udp
        });
        let port = target.port.unwrap_or(match transport {
            Transport::Tls | Transport::Wss => 5061,
            _ => 5060,
        });
        Ok(vec![Destination {
            transport,
            addr: SocketAddr::new(ip, port),
        }])
    }
}
