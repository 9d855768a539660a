//! `host[:port]` values: advertised addresses and local domains.

use std::net::{IpAddr, Ipv6Addr};

/// A parsed `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// An IP address literal or a DNS name (IPv6 without brackets).
    pub host: String,
    /// The port, if one was given.
    pub port: Option<u16>,
}

/// Parses `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address;
/// `host` is an IP address or a DNS name. The error says what is wrong.
pub fn parse_host_port(text: &str) -> Result<HostPort, String> {
    if text.is_empty() {
        return Err("must not be empty".to_owned());
    }
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("sip:") || lower.starts_with("sips:") || lower.contains("://") {
        return Err(format!("{text:?}: give host or host:port, not a URI"));
    }
    if let Ok(v6) = text.parse::<Ipv6Addr>() {
        return Ok(HostPort {
            host: v6.to_string(),
            port: None,
        });
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(format!("{text:?}: `[` without `]`"));
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(format!("{text:?}: not an IPv6 address in brackets"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("{text:?}: expected `:port` after `]`"))?,
            ),
        };
        (v6, port)
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("{text:?}: port must be 1..=65535")),
            Ok(p) => Some(p),
        },
    };
    if host.parse::<IpAddr>().is_err() && !is_dns_name(host) {
        return Err(format!(
            "{text:?}: not an IP address or DNS name (host or host:port)"
        ));
    }
    Ok(HostPort {
        host: host.to_owned(),
        port,
    })
}

/// Checks a host without port.
pub(crate) fn parse_host(text: &str) -> Result<(), String> {
    match parse_host_port(text)? {
        HostPort { port: None, .. } => Ok(()),
        HostPort { port: Some(_), .. } => Err(format!("{text:?}: a domain has no port")),
    }
}

fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hosts() {
        for ok in [
            "192.0.2.1",
            "192.0.2.1:5060",
            "sip.example.com",
            "sip.example.com:5061",
            "2001:db8::1",
            "[2001:db8::1]",
            "[2001:db8::1]:5060",
            "edge-1.example.",
        ] {
            assert!(parse_host_port(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_junk() {
        for bad in [
            "",
            "192.0.2.1:0",
            "192.0.2.1:x",
            "[2001:db8::1",
            "[::1]5060",
            "bad_host",
            "-a.example.com",
            "a..b",
            "sip:host",
        ] {
            assert!(parse_host_port(bad).is_err(), "{bad}");
        }
    }
}
