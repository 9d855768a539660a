//! Hosts and ports: `hostname / IPv4address / IPv6reference` (RFC 3261
//! §25.1, with the IPv6 corrections of RFC 5954).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A host as written in a URI or a Via.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain name (compared case-insensitively).
    Domain(&'a str),
    /// A dotted IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (written in brackets in URIs and Via sent-by).
    V6(Ipv6Addr),
}

impl Host<'_> {
    /// The address, when the host is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Host::Domain(_) => None,
            Host::V4(a) => Some(IpAddr::V4(a)),
            Host::V6(a) => Some(IpAddr::V6(a)),
        }
    }

    /// Equality as RFC 3261 §19.1.4 wants it: domains case-insensitively,
    /// addresses by value.
    pub fn matches(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a.ip().is_some() && a.ip() == b.ip(),
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Parses a host: `[v6]`, dotted IPv4, or a domain name.
pub fn parse_host(s: &str) -> Result<Host<'_>, &'static str> {
    if let Some(inner) = s.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or("unterminated IPv6 reference")?;
        return inner
            .parse::<Ipv6Addr>()
            .map(Host::V6)
            .map_err(|_| "bad IPv6 address");
    }
    if s.is_empty() {
        return Err("empty host");
    }
    if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return s
            .parse::<Ipv4Addr>()
            .map(Host::V4)
            .map_err(|_| "bad IPv4 address");
    }
    domain(s).map(|()| Host::Domain(s))
}

/// Parses an address written with or without brackets (the Via `received`
/// parameter, RFC 5118 §4.5).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let bare = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse().ok()
}

/// `hostname = *( domainlabel "." ) toplabel [ "." ]`: labels of letters,
/// digits and inner hyphens; the top label starts with a letter.
fn domain(s: &str) -> Result<(), &'static str> {
    let b = s.as_bytes();
    let b = b.strip_suffix(b".").unwrap_or(b);
    let bad = Err("bad host name");
    let mut label_start = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'.' => {
                if i == label_start || b[i - 1] == b'-' {
                    return bad;
                }
                label_start = i + 1;
            }
            b'-' if i == label_start => return bad,
            c if c.is_ascii_alphanumeric() || c == b'-' => {}
            _ => return bad,
        }
    }
    match (b.get(label_start), b.last()) {
        (Some(first), Some(last)) if *last != b'-' => {
            if first.is_ascii_alphabetic() {
                Ok(())
            } else {
                Err("host name's top label must start with a letter")
            }
        }
        _ => bad,
    }
}

/// Splits `host[:port]` (brackets respected) and parses both parts.
pub fn parse_hostport(s: &str) -> Result<(Host<'_>, Option<u16>), &'static str> {
    let (host, port) = if s.starts_with('[') {
        let close = memchr::memchr(b']', s.as_bytes()).ok_or("unterminated IPv6 reference")?;
        let (h, rest) = s.split_at(close + 1);
        match rest {
            "" => (h, None),
            r => (
                h,
                Some(r.strip_prefix(':').ok_or("junk after IPv6 reference")?),
            ),
        }
    } else {
        match memchr::memchr(b':', s.as_bytes()) {
            Some(c) => (&s[..c], Some(&s[c + 1..])),
            None => (s, None),
        }
    };
    let port = port.map(parse_port).transpose()?;
    Ok((parse_host(host)?, port))
}

/// `port = 1*DIGIT`, at most 65535.
pub fn parse_port(p: &str) -> Result<u16, &'static str> {
    if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
        return Err("port is not a number");
    }
    p.parse().map_err(|_| "port out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(matches!(parse_host("example.com"), Ok(Host::Domain(_))));
        assert!(matches!(parse_host("example.com."), Ok(Host::Domain(_))));
        assert!(matches!(parse_host("192.0.2.1"), Ok(Host::V4(_))));
        assert!(parse_host("192.0.2.300").is_err());
        assert!(matches!(parse_host("[2001:db8::10]"), Ok(Host::V6(_))));
        assert!(parse_host("2001:db8::10").is_err());
        assert!(parse_host("[2001:db8:::192.0.2.1]").is_err());
        assert!(parse_host("-a.com").is_err());
        assert!(parse_host("a..com").is_err());
        assert_eq!(
            parse_hostport("[2001:db8::10]:5070").unwrap(),
            (Host::V6("2001:db8::10".parse().unwrap()), Some(5070))
        );
        assert_eq!(parse_hostport("[2001:db8::10:5070]").unwrap().1, None);
        assert!(parse_hostport("a.com:65536").is_err());
        assert!(parse_hostport("a.com:").is_err());
    }
}
