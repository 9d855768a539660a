//! `SIP-URI` and `SIPS-URI` (RFC 3261 §19.1.1, §25.1).

use std::fmt;

use super::UriError;
use crate::chars::{self, HCHAR, PASSWORD, USER};
use crate::host::{parse_hostport, Host};
use crate::params::Params;

/// A SIP or SIPS URI, borrowing from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    raw: &'a str,
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part (escapes kept).
    pub user: Option<&'a str>,
    /// The password (escapes kept).
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The host as written (brackets of IPv6 references kept).
    pub host_raw: &'a str,
    /// The port, when written.
    pub port: Option<u16>,
    /// URI parameters.
    pub params: Params<'a>,
    /// The headers part, after `?`.
    pub headers: Option<&'a str>,
}

impl<'a> SipUri<'a> {
    /// Parses `sip:` / `sips:` URIs.
    pub fn parse(s: &'a str) -> Result<SipUri<'a>, UriError> {
        let (secure, rest) = if s.len() > 4 && s[..4].eq_ignore_ascii_case("sip:") {
            (false, &s[4..])
        } else if s.len() > 5 && s[..5].eq_ignore_ascii_case("sips:") {
            (true, &s[5..])
        } else {
            return Err(UriError("not a sip or sips URI"));
        };
        let (userinfo, hostpart) = match memchr::memchr(b'@', rest.as_bytes()) {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match memchr::memchr(b':', ui.as_bytes()) {
                    Some(c) => (&ui[..c], Some(&ui[c + 1..])),
                    None => (ui, None),
                };
                if !chars::all_in(u, &USER) {
                    return Err(UriError("bad user part"));
                }
                if let Some(p) = p {
                    if !p.is_empty() && !chars::all_in(p, &PASSWORD) {
                        return Err(UriError("bad password"));
                    }
                }
                (Some(u), p)
            }
        };
        let hp_end = memchr::memchr2(b';', b'?', hostpart.as_bytes()).unwrap_or(hostpart.len());
        let host_port = &hostpart[..hp_end];
        let (host, port) = parse_hostport(host_port).map_err(UriError)?;
        let host_raw = match port {
            Some(_) => {
                &host_port[..memchr::memrchr(b':', host_port.as_bytes()).unwrap_or(host_port.len())]
            }
            None => host_port,
        };
        let after = &hostpart[hp_end..];
        let (params, headers) = match memchr::memchr(b'?', after.as_bytes()) {
            Some(q) => (&after[..q], Some(&after[q + 1..])),
            None => (after, None),
        };
        let params = Params::uri(params).map_err(UriError)?;
        if let Some(h) = headers {
            check_headers(h)?;
        }
        Ok(SipUri {
            raw: s,
            secure,
            user,
            password,
            host,
            host_raw,
            port,
            params,
            headers,
        })
    }

    /// The URI as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The `transport` parameter, lower-cased comparisons left to the caller.
    pub fn transport(&self) -> Option<&'a str> {
        self.params.value("transport")
    }

    /// True when the URI has the `lr` parameter (RFC 3261 §19.1.1).
    pub fn is_loose_route(&self) -> bool {
        self.params.has("lr")
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }
}

/// `headers = "?" header *( "&" header )`, `header = hname "=" hvalue`.
fn check_headers(h: &str) -> Result<(), UriError> {
    for item in h.split('&') {
        let (name, value) = item
            .split_once('=')
            .ok_or(UriError("URI header without '='"))?;
        if !chars::all_in(name, &HCHAR) || !(value.is_empty() || chars::all_in(value, &HCHAR)) {
            return Err(UriError("bad URI header"));
        }
    }
    Ok(())
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torture_uris() {
        let u = SipUri::parse("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").unwrap();
        assert_eq!(
            u.user,
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password,
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(u.host_raw, "example.com");
        let u = SipUri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user, Some("user;par=u%40example.net"));
        let u = SipUri::parse("sip:[2001:db8::10]:5070;transport=tcp?Subject=x").unwrap();
        assert_eq!(u.host_raw, "[2001:db8::10]");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport(), Some("tcp"));
        assert_eq!(u.headers, Some("Subject=x"));
        assert!(SipUri::parse("sip:").is_err());
        assert!(SipUri::parse("sip:user@").is_err());
        assert!(SipUri::parse("sip:a b@example.com").is_err());
        assert!(SipUri::parse("sip:2001:db8::10").is_err());
    }
}
