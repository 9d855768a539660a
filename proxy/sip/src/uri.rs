//! URIs: SIP and SIPS (RFC 3261 §19.1), tel (RFC 3966), and any other
//! absolute URI kept as text. Parsing borrows from the input; comparison
//! follows RFC 3261 §19.1.4.

mod compare;
mod escape;
mod sip;
mod tel;

use std::fmt;

use thiserror::Error;

pub use escape::{unescape, Unescape};
pub use sip::SipUri;
pub use tel::TelUri;

/// Why a URI did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("malformed URI: {0}")]
pub struct UriError(pub &'static str);

/// A parsed URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Any other scheme (`absoluteURI`), kept as text.
    Other {
        /// The scheme, as written.
        scheme: &'a str,
        /// The whole URI.
        raw: &'a str,
    },
}

impl<'a> Uri<'a> {
    /// Parses any URI a SIP message may carry.
    pub fn parse(s: &'a str) -> Result<Uri<'a>, UriError> {
        let colon = memchr::memchr(b':', s.as_bytes()).ok_or(UriError("no scheme"))?;
        let scheme = &s[..colon];
        if !is_scheme(scheme) {
            return Err(UriError("bad scheme"));
        }
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            return SipUri::parse(s).map(Uri::Sip);
        }
        if scheme.eq_ignore_ascii_case("tel") {
            return TelUri::parse(s).map(Uri::Tel);
        }
        let rest = &s[colon + 1..];
        if !crate::chars::all_in(rest, &crate::chars::URIC) {
            return Err(UriError("bad character in absolute URI"));
        }
        Ok(Uri::Other { scheme, raw: s })
    }

    /// The URI as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            Uri::Sip(u) => u.as_str(),
            Uri::Tel(u) => u.as_str(),
            Uri::Other { raw, .. } => raw,
        }
    }

    /// The scheme as written.
    pub fn scheme(&self) -> &'a str {
        let s = self.as_str();
        s.split(':').next().unwrap_or(s)
    }

    /// The SIP URI, when it is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// Equivalence per RFC 3261 §19.1.4 (SIP), RFC 3966 §4 (tel), or exact
    /// text for other schemes after case-folding the scheme.
    pub fn equivalent(&self, other: &Uri<'_>) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => a.equivalent(b),
            (
                Uri::Other {
                    scheme: sa,
                    raw: ra,
                },
                Uri::Other {
                    scheme: sb,
                    raw: rb,
                },
            ) => sa.eq_ignore_ascii_case(sb) && ra[sa.len()..] == rb[sb.len()..],
            _ => false,
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}
