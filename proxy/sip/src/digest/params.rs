//! The auth-param list shared by challenges and credentials (RFC 3261
//! §25.1, RFC 7235 §2.1): `scheme LWS name=value *(COMMA name=value)`, where a
//! value is a token or a quoted-string.
//!
//! Parsing is a little more liberal than the grammar: an unquoted value may be
//! any run of visible characters other than `,` and `"` (some agents send
//! `opaque=abc==`), empty list elements are skipped (RFC 7230 §7), and a
//! folded line (`CRLF WSP`) inside a quoted-string is unfolded. It is strict
//! where it matters: unterminated quotes, missing `=`, control characters and
//! duplicate names are errors.

use std::fmt::{self, Write};

use super::error::{clip, DigestError};

/// At most this many parameters are accepted in one header value; more is
/// treated as malformed (it bounds the duplicate check).
const MAX_PARAMS: usize = 64;

/// One `name=value` auth-param not otherwise understood by this module.
///
/// The name is always a valid token; compare it with
/// [`eq_ignore_ascii_case`](str::eq_ignore_ascii_case). Whether the value was
/// quoted is not kept: RFC 7235 §2.1 makes both forms equivalent, and
/// serialization quotes whenever the value is not a token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthParam {
    name: String,
    value: String,
}

impl AuthParam {
    /// Creates a parameter. Fails with [`DigestError::InvalidParam`] if `name`
    /// is not a token.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Result<Self, DigestError> {
        let name = name.into();
        if !is_token(&name) {
            return Err(DigestError::InvalidParam("auth-param name"));
        }
        Ok(Self {
            name,
            value: value.into(),
        })
    }

    /// The parameter name, as received.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The unquoted, unescaped value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for AuthParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_token_or_quoted(f, &self.name, &self.value)
    }
}

/// Parses a header value whose scheme must be `Digest` (case-insensitive)
/// into its auth-params, in order.
pub(crate) fn parse_digest(value: &str) -> Result<Vec<AuthParam>, DigestError> {
    let mut cur = Cursor {
        bytes: value.as_bytes(),
        src: value,
        pos: 0,
    };
    cur.skip_lws();
    if cur.at_end() {
        return Err(DigestError::Empty);
    }
    let scheme = cur.token();
    if scheme.is_empty() {
        return Err(cur.malformed("expected auth-scheme"));
    }
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(DigestError::UnsupportedScheme(clip(scheme)));
    }
    if !cur.at_end() && !cur.peek().is_some_and(is_lws) {
        return Err(cur.malformed("expected whitespace after auth-scheme"));
    }
    let params = cur.params()?;
    if params.is_empty() {
        return Err(cur.malformed("expected auth-param"));
    }
    Ok(params)
}

/// A position in the header value being parsed.
struct Cursor<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn malformed(&self, reason: &'static str) -> DigestError {
        DigestError::Malformed {
            at: self.pos,
            reason,
        }
    }

    fn skip_lws(&mut self) {
        while self.peek().is_some_and(is_lws) {
            self.pos += 1;
        }
    }

    /// Consumes a (possibly empty) run of token characters.
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_token_byte) {
            self.pos += 1;
        }
        // Token bytes are ASCII, so both ends are char boundaries.
        self.src.get(start..self.pos).unwrap_or_default()
    }

    /// Parses `*(COMMA) auth-param *(COMMA auth-param)` up to the end.
    fn params(&mut self) -> Result<Vec<AuthParam>, DigestError> {
        let mut params: Vec<AuthParam> = Vec::new();
        loop {
            self.skip_lws();
            match self.peek() {
                None => return Ok(params),
                Some(b',') => {
                    self.pos += 1;
                    continue;
                }
                Some(_) => {}
            }
            let at = self.pos;
            let name = self.token();
            if name.is_empty() {
                return Err(self.malformed("expected auth-param name"));
            }
            self.skip_lws();
            if self.peek() != Some(b'=') {
                return Err(self.malformed("expected '='"));
            }
            self.pos += 1;
            self.skip_lws();
            let value = if self.peek() == Some(b'"') {
                self.quoted()?
            } else {
                self.bare()?
            };
            if params.iter().any(|p| p.name.eq_ignore_ascii_case(name)) {
                return Err(DigestError::DuplicateParam(clip(name)));
            }
            if params.len() >= MAX_PARAMS {
                return Err(DigestError::Malformed {
                    at,
                    reason: "too many auth-params",
                });
            }
            params.push(AuthParam {
                name: name.to_owned(),
                value,
            });
            self.skip_lws();
            match self.peek() {
                None => return Ok(params),
                Some(b',') => self.pos += 1,
                Some(_) => return Err(self.malformed("expected ','")),
            }
        }
    }

    /// Parses an unquoted value: visible characters up to LWS or `,`.
    fn bare(&mut self) -> Result<String, DigestError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_lws(b) || b == b',' {
                break;
            }
            if b == b'"' || b.is_ascii_control() {
                return Err(self.malformed("invalid character in token"));
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.malformed("expected value"));
        }
        // Stops only before ASCII bytes or at the end: a char boundary.
        self.src
            .get(start..self.pos)
            .map(str::to_owned)
            .ok_or_else(|| self.malformed("invalid UTF-8 boundary"))
    }

    /// Parses a quoted-string starting at the opening `"`, unescaping
    /// quoted-pairs and unfolding `CRLF WSP`.
    fn quoted(&mut self) -> Result<String, DigestError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(DigestError::Malformed {
                    at: open,
                    reason: "unterminated quoted-string",
                });
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    let escaped = self.bytes.get(self.pos + 1).copied();
                    match escaped {
                        Some(e) if e != b'\r' && e != b'\n' => {
                            out.push(e);
                            self.pos += 2;
                        }
                        _ => return Err(self.malformed("invalid quoted-pair")),
                    }
                }
                b'\r' | b'\n' => {
                    let fold = self.fold_len();
                    if fold == 0 {
                        return Err(self.malformed("line break in quoted-string"));
                    }
                    self.pos += fold;
                }
                b'\t' => {
                    out.push(b);
                    self.pos += 1;
                }
                _ if b.is_ascii_control() => {
                    return Err(self.malformed("control character in quoted-string"));
                }
                _ => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        // Only whole ASCII bytes are ever dropped or split off, so a valid
        // &str stays valid; an escaped lead byte of a multi-byte char keeps
        // its continuation bytes.
        String::from_utf8(out).map_err(|_| DigestError::Malformed {
            at: open,
            reason: "invalid UTF-8 in quoted-string",
        })
    }

    /// Length of a line fold (`CRLF` or `LF` followed by SP/HTAB) at the
    /// cursor, 0 if there is none. The whitespace after it is kept.
    fn fold_len(&self) -> usize {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let brk = match rest {
            [b'\r', b'\n', ..] => 2,
            [b'\n', ..] => 1,
            _ => return 0,
        };
        match rest.get(brk) {
            Some(b' ' | b'\t') => brk,
            _ => 0,
        }
    }
}

/// Linear whitespace as found in an (unfolded or folded) header value.
fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 3261 §25.1 token characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// True if `s` is a non-empty RFC 3261 token.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// Writes `name="value"`, escaping `"`, `\` and control characters.
pub(crate) fn write_quoted(f: &mut impl Write, name: &str, value: &str) -> fmt::Result {
    f.write_str(name)?;
    f.write_str("=\"")?;
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            // CR and LF cannot appear in a SIP quoted-string, not even
            // escaped; writing SP keeps a header from being split.
            '\r' | '\n' => f.write_char(' ')?,
            '\t' => f.write_char(c)?,
            _ if c.is_ascii_control() => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            _ => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Writes `name=value`, quoting the value unless it is a token.
pub(crate) fn write_token_or_quoted(f: &mut impl Write, name: &str, value: &str) -> fmt::Result {
    if is_token(value) {
        write_token(f, name, value)
    } else {
        write_quoted(f, name, value)
    }
}

/// Writes `name=value` with `value` known to be a token.
pub(crate) fn write_token(f: &mut impl Write, name: &str, value: impl fmt::Display) -> fmt::Result {
    write!(f, "{name}={value}")
}

/// Helper that writes `Digest ` and then `, `-separated params.
pub(crate) struct ParamWriter<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    first: bool,
}

impl<'a, 'b> ParamWriter<'a, 'b> {
    /// Writes the scheme and returns a writer for the params.
    pub(crate) fn new(f: &'a mut fmt::Formatter<'b>) -> Result<Self, fmt::Error> {
        f.write_str("Digest ")?;
        Ok(Self { f, first: true })
    }

    fn sep(&mut self) -> fmt::Result {
        if !self.first {
            self.f.write_str(", ")?;
        }
        self.first = false;
        Ok(())
    }

    /// Writes `name="value"`.
    pub(crate) fn quoted(&mut self, name: &str, value: &str) -> fmt::Result {
        self.sep()?;
        write_quoted(self.f, name, value)
    }

    /// Writes `name=value` for a value known to be a token.
    pub(crate) fn token(&mut self, name: &str, value: impl fmt::Display) -> fmt::Result {
        self.sep()?;
        write_token(self.f, name, value)
    }

    /// Writes unknown params kept from parsing.
    pub(crate) fn extra(&mut self, params: &[AuthParam]) -> fmt::Result {
        for p in params {
            self.sep()?;
            write_token_or_quoted(self.f, &p.name, &p.value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &str) -> Result<Vec<(String, String)>, DigestError> {
        Ok(parse_digest(v)?
            .into_iter()
            .map(|p| (p.name, p.value))
            .collect())
    }

    #[test]
    fn lws_escapes_and_empty_elements() {
        let got = pairs("dIgEsT\t a = b ,, c=\"x\\\"y\\\\z\" ,d=\"\"").unwrap();
        let want = [("a", "b"), ("c", "x\"y\\z"), ("d", "")];
        let want: Vec<_> = want
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn fold_inside_quotes() {
        let got = pairs("Digest realm=\"a\r\n b\"").unwrap();
        assert_eq!(got, vec![("realm".to_owned(), "a b".to_owned())]);
        assert!(pairs("Digest realm=\"a\r\nb\"").is_err());
    }

    #[test]
    fn errors() {
        assert_eq!(parse_digest(""), Err(DigestError::Empty));
        assert_eq!(parse_digest("  "), Err(DigestError::Empty));
        assert!(parse_digest("Digest").is_err());
        assert!(parse_digest("Digest ,").is_err());
        assert!(parse_digest("Digest realm").is_err());
        assert!(parse_digest("Digest realm=").is_err());
        assert!(parse_digest("Digest realm=\"abc").is_err());
        assert!(parse_digest("Digest realm=\"abc\\").is_err());
        assert!(parse_digest("Digest realm=a b=c").is_err());
        assert!(parse_digest("Digest,realm=a").is_err());
        assert!(parse_digest("Digest =a").is_err());
        assert_eq!(
            parse_digest("Digest a=1, A=2"),
            Err(DigestError::DuplicateParam("A".to_owned()))
        );
        assert!(parse_digest("Basic abc")
            .unwrap_err()
            .is_unsupported_scheme());
    }

    #[test]
    fn quoting_round_trip() {
        let mut s = String::from("Digest ");
        write_quoted(&mut s, "x", "a\"b\\c\u{1}d\te\u{e9}").unwrap();
        let got = pairs(&s).unwrap();
        assert_eq!(
            got,
            vec![("x".to_owned(), "a\"b\\c\u{1}d\te\u{e9}".to_owned())]
        );
    }
}
