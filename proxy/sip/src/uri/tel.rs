//! `tel:` URIs (RFC 3966).

use std::fmt;

use super::UriError;
use crate::params::Params;

/// A tel URI: the number and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    raw: &'a str,
    /// The number as written (`+` and visual separators kept).
    pub number: &'a str,
    /// Parameters (`phone-context`, `ext`, `isub`, others).
    pub params: Params<'a>,
}

impl<'a> TelUri<'a> {
    /// Parses `tel:number;params`.
    pub fn parse(s: &'a str) -> Result<TelUri<'a>, UriError> {
        let rest = match s.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("tel:") => &s[4..],
            _ => return Err(UriError("not a tel URI")),
        };
        let end = rest.find(';').unwrap_or(rest.len());
        let number = &rest[..end];
        let global = number.starts_with('+');
        let digits = if global { &number[1..] } else { number };
        let ok = digits
            .bytes()
            .any(|c| c.is_ascii_hexdigit() || c == b'*' || c == b'#')
            && digits.bytes().all(|c| {
                c.is_ascii_digit()
                    || matches!(c, b'-' | b'.' | b'(' | b')')
                    || (!global && (c.is_ascii_hexdigit() || c == b'*' || c == b'#'))
            });
        if !ok {
            return Err(UriError("bad telephone number"));
        }
        let params = Params::uri(&rest[end..]).map_err(UriError)?;
        Ok(TelUri {
            raw: s,
            number,
            params,
        })
    }

    /// The URI as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The number without visual separators.
    pub fn digits(&self) -> impl Iterator<Item = u8> + 'a {
        self.number
            .bytes()
            .filter(|c| !matches!(c, b'-' | b'.' | b'(' | b')'))
    }

    /// RFC 3966 §4: numbers equal without visual separators, parameters
    /// equal as sets (names and values case-insensitive).
    pub fn equivalent(&self, other: &TelUri<'_>) -> bool {
        if !self
            .digits()
            .map(|c| c.to_ascii_lowercase())
            .eq(other.digits().map(|c| c.to_ascii_lowercase()))
        {
            return false;
        }
        let same = |a: &Params<'_>, b: &Params<'_>| {
            a.iter().all(|p| {
                b.find(p.name).is_some_and(|q| match (p.value, q.value) {
                    (Some(x), Some(y)) => super::escape::eq_unescaped(x, y, true),
                    (None, None) => true,
                    _ => false,
                })
            })
        };
        same(&self.params, &other.params) && same(&other.params, &self.params)
    }
}

impl fmt::Display for TelUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}
