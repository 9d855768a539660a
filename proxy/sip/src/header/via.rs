//! `Via` (RFC 3261 §20.42, §18.2.1, RFC 3581 rport).

use std::net::IpAddr;

use crate::error::HeaderError;
use crate::host::{parse_host, parse_ip, parse_port, Host};
use crate::params::Params;
use crate::scan::Scanner;

/// The magic cookie that starts RFC 3261 branches.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// True for a branch made of the magic cookie and a unique part.
pub fn is_rfc3261_branch(branch: &str) -> bool {
    branch.len() > MAGIC_COOKIE.len() && branch.starts_with(MAGIC_COOKIE)
}

/// One via-parm: `sent-protocol LWS sent-by *( SEMI via-params )`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    raw: &'a str,
    /// Protocol name (`SIP`).
    pub protocol: &'a str,
    /// Protocol version (`2.0`).
    pub version: &'a str,
    /// Transport token as written (`UDP`, `TCP`, `TLS`, `WS`, ...).
    pub transport: &'a str,
    /// The host of sent-by.
    pub host: Host<'a>,
    /// The host as written.
    pub host_raw: &'a str,
    /// The port of sent-by, when written.
    pub port: Option<u16>,
    /// The via-params.
    pub params: Params<'a>,
    branch: Option<&'a str>,
}

fn err(what: &'static str) -> HeaderError {
    HeaderError::new("Via", what)
}

/// The grammar of the via-params RFC 3261 §20.42 defines.
fn check_param(p: &crate::params::Param<'_>) -> Result<(), &'static str> {
    let (name, v) = (p.name, p.value);
    if name.eq_ignore_ascii_case("branch") {
        if v.is_none_or(|b| !crate::chars::all_token(b)) {
            return Err("branch is not a token");
        }
    } else if name.eq_ignore_ascii_case("received") {
        if v.and_then(parse_ip).is_none() {
            return Err("received is not an IP address");
        }
    } else if name.eq_ignore_ascii_case("rport") {
        if let Some(port) = v {
            parse_port(port)?;
        }
    } else if name.eq_ignore_ascii_case("ttl") {
        if v.and_then(|t| t.parse::<u8>().ok()).is_none() {
            return Err("ttl is not 0-255");
        }
    } else if name.eq_ignore_ascii_case("maddr") && v.is_none_or(|h| parse_host(h).is_err()) {
        return Err("maddr is not a host");
    }
    Ok(())
}

impl<'a> Via<'a> {
    /// Parses one Via value (already split at commas).
    pub fn parse(s: &'a str) -> Result<Via<'a>, HeaderError> {
        let mut sc = Scanner::new(s);
        sc.skip_lws();
        let protocol = sc.token().ok_or(err("no protocol name"))?;
        if !sc.sep(b'/') {
            return Err(err("no '/' after protocol name"));
        }
        let version = sc.token().ok_or(err("no protocol version"))?;
        if !sc.sep(b'/') {
            return Err(err("no '/' after protocol version"));
        }
        let transport = sc.token().ok_or(err("no transport"))?;
        if !sc.skip_lws() {
            return Err(err("no white space before sent-by"));
        }
        let host_raw = if sc.peek() == Some(b'[') {
            sc.take_while(|c| c != b']' && c != b';' && c != b',');
            if !sc.eat(b']') {
                return Err(err("unterminated IPv6 reference"));
            }
            let end = sc.pos();
            let start = s[..end].rfind('[').unwrap_or(0);
            sc.slice(start, end)
        } else {
            sc.take_while(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        };
        let host = parse_host(host_raw).map_err(err)?;
        let port = if sc.sep(b':') {
            Some(parse_port(sc.take_while(|c| c.is_ascii_digit())).map_err(err)?)
        } else {
            None
        };
        let mut branch = None;
        let params = Params::header_with(&mut sc, |p| {
            check_param(p)?;
            if p.name.eq_ignore_ascii_case("branch") {
                branch = p.value;
            }
            Ok(())
        })
        .map_err(err)?;
        if !sc.at_end() {
            return Err(err("junk after via-params"));
        }
        Ok(Via {
            raw: crate::message::trim_lws(s),
            protocol,
            version,
            transport,
            host,
            host_raw,
            port,
            params,
            branch,
        })
    }

    /// The value as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// `sent-by` as written (`host[:port]`).
    pub fn sent_by(&self) -> &'a str {
        let start = self.host_raw.as_ptr() as usize - self.raw.as_ptr() as usize;
        let end = self.raw[start..]
            .find([';', ' ', '\t', '\r'])
            .map_or(self.raw.len(), |e| start + e);
        &self.raw[start..end]
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.branch
    }

    /// True when the branch is an RFC 3261 branch: the magic cookie followed
    /// by something unique. The cookie alone (RFC 4475 §3.2.1) is not one,
    /// and such requests are matched by the RFC 2543 rules.
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(is_rfc3261_branch)
    }

    /// The `received` parameter (with or without brackets, RFC 5118 §4.5).
    pub fn received(&self) -> Option<IpAddr> {
        self.params.value("received").and_then(parse_ip)
    }

    /// The `rport` parameter: `Some(None)` when present without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.params.value("ttl").and_then(|t| t.parse().ok())
    }

    /// Where a response to this Via goes (RFC 3261 §18.2.2 with RFC 3581):
    /// `received` (else sent-by host) and `rport` (else sent-by port, else
    /// the transport's default). None when the host is a name, to be resolved.
    pub fn response_target(&self) -> Option<(IpAddr, u16)> {
        let ip = self.received().or_else(|| self.host.ip())?;
        let default = if self.transport.eq_ignore_ascii_case("TLS") {
            5061
        } else {
            5060
        };
        let port = self.rport().flatten().or(self.port).unwrap_or(default);
        Some((ip, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torture_vias() {
        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!((v.protocol, v.version, v.transport), ("SIP", "2.0", "UDP"));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_magic_cookie());
        let v = Via::parse(
            "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8",
        )
        .unwrap();
        assert_eq!(v.host_raw, "spindle.example.com");
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1]:5070;received=[2001:db8::9:255];rport=1;branch=z9hG4bK1",
        )
        .unwrap();
        assert_eq!(v.host_raw, "[2001:db8::9:1]");
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.received(), Some("2001:db8::9:255".parse().unwrap()));
        assert_eq!(v.rport(), Some(Some(1)));
        assert_eq!(v.sent_by(), "[2001:db8::9:1]:5070");
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0/UDP host;received=notanip").is_err());
        let v = Via::parse("SIP/2.0/UDP host.example.com;rport;branch=z9hG4bKx").unwrap();
        assert_eq!(v.rport(), Some(None));
    }
}
