//! `name-addr / addr-spec` with header parameters: From, To, Route,
//! Record-Route, Path and Contact elements (RFC 3261 §20, §25.1).

use crate::error::HeaderError;
use crate::params::Params;
use crate::scan::Scanner;
use crate::uri::Uri;

/// An address with optional display name and header parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    raw: &'a str,
    /// The display name as written (quotes kept), if any.
    pub display: Option<&'a str>,
    /// The URI as written (parsed on demand by [`NameAddr::uri`]).
    pub uri_raw: &'a str,
    /// True when the URI was written in `<...>`.
    pub angle: bool,
    /// Header parameters after the address.
    pub params: Params<'a>,
    tag: Option<&'a str>,
}

impl<'a> NameAddr<'a> {
    /// Parses a From/To/Contact element: `name-addr` or a bare `addr-spec`.
    pub fn parse(header: &'static str, s: &'a str) -> Result<NameAddr<'a>, HeaderError> {
        Self::parse_inner(header, s, true)
    }

    /// Parses a Route/Record-Route/Path element, which must be `name-addr`.
    pub fn parse_route(header: &'static str, s: &'a str) -> Result<NameAddr<'a>, HeaderError> {
        Self::parse_inner(header, s, false)
    }

    fn parse_inner(
        header: &'static str,
        s: &'a str,
        bare_ok: bool,
    ) -> Result<NameAddr<'a>, HeaderError> {
        let err = |what| HeaderError::new(header, what);
        let mut sc = Scanner::new(s);
        sc.skip_lws();
        let start = sc.pos();
        let display = if sc.peek() == Some(b'"') {
            let q = sc
                .quoted_string()
                .ok_or(err("unterminated quoted display name"))?;
            sc.skip_lws();
            if sc.peek() != Some(b'<') {
                return Err(err("no '<' after display name"));
            }
            Some(q)
        } else {
            // *(token LWS) "<", or no display name at all.
            let mut last = start;
            while sc.token().is_some() {
                last = sc.pos();
                sc.skip_lws();
            }
            if sc.peek() == Some(b'<') {
                (last > start).then(|| sc.slice(start, last))
            } else {
                sc = Scanner::new(s);
                sc.skip_lws();
                None
            }
        };
        let (uri, angle) = if sc.eat(b'<') {
            let inner = sc.take_while(|c| c != b'>');
            if !sc.eat(b'>') {
                return Err(err("no '>' after URI"));
            }
            (inner, true)
        } else {
            if !bare_ok {
                return Err(err("address must be in '<>'"));
            }
            // addr-spec alone: parameters after it belong to the header, so
            // the URI ends at the first ';' (or white space / ',' / '?').
            let u =
                sc.take_while(|c| !matches!(c, b';' | b' ' | b'\t' | b'\r' | b'\n' | b',' | b'?'));
            if sc.peek() == Some(b'?') {
                return Err(err("URI with headers must be in '<>'"));
            }
            (u, false)
        };
        // The URI itself is parsed when asked for; here only its outline.
        let scheme_ok = memchr::memchr(b':', uri.as_bytes())
            .is_some_and(|c| c > 0 && uri.as_bytes()[0].is_ascii_alphabetic());
        if !scheme_ok || uri.bytes().any(|c| c <= b' ' || c == 0x7f) {
            return Err(err("bad URI"));
        }
        let mut tag = None;
        let params = Params::header_with(&mut sc, |p| {
            if p.name.eq_ignore_ascii_case("tag") {
                tag = p.value;
            }
            Ok(())
        })
        .map_err(err)?;
        if !sc.at_end() {
            return Err(err("junk after address"));
        }
        Ok(NameAddr {
            raw: crate::message::trim_lws(s),
            display,
            uri_raw: uri,
            angle,
            params,
            tag,
        })
    }

    /// The URI, parsed.
    pub fn uri(&self) -> Result<Uri<'a>, HeaderError> {
        Uri::parse(self.uri_raw).map_err(|e| HeaderError::new("URI", e.0))
    }

    /// The element as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&'a str> {
        self.tag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let n = NameAddr::parse(
            "To",
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(n.tag(), Some("98asjd8"));
        assert!(n.angle);
        let n = NameAddr::parse(
            "To",
            "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
        )
        .unwrap();
        assert_eq!(n.uri_raw, "sip:vivekg@chair-dnrc.example.com");
        assert_eq!(n.tag(), Some("1918181833n"));
        let n = NameAddr::parse(
            "From",
            "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=_token~1'+`*%!-.",
        )
        .unwrap();
        assert_eq!(n.display, Some("token1~` token2'+_ token3*%!.-"));
        let n = NameAddr::parse("From", "\"caller\"<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(n.display, Some("\"caller\""));
        assert!(
            NameAddr::parse("From", "Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43").is_err()
        );
        assert!(NameAddr::parse("From", "\"Bell <sip:a@b.c>").is_err());
        assert!(NameAddr::parse("To", "alan@jasomi.com").is_err());
        assert!(NameAddr::parse("To", "< sip:a@b.c >").is_err());
        assert!(NameAddr::parse_route("Route", "sip:a.com;lr").is_err());
        let r = NameAddr::parse_route(
            "Route",
            "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>",
        )
        .unwrap();
        assert!(r.uri().unwrap().as_sip().unwrap().is_loose_route());
        assert!(NameAddr::parse(
            "Contact",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
        )
        .is_err());
    }
}
