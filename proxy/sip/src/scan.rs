//! A small cursor over a header value, with the LWS rules of RFC 3261 §25.1.
//!
//! Header values handed to typed parsers still contain the CRLF of folded
//! lines; the parser has already checked that every CRLF inside a value is
//! followed by SP or HTAB, so CR and LF count as white space here.

use crate::chars::{is_lws, is_token};

/// A cursor over the bytes of a `&str`.
#[derive(Debug, Clone)]
pub(crate) struct Scanner<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Self { s, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    #[cfg(test)]
    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    /// The text between two positions.
    pub(crate) fn slice(&self, from: usize, to: usize) -> &'a str {
        self.s.get(from..to).unwrap_or("")
    }

    /// Skips linear white space; returns whether any was skipped.
    pub(crate) fn skip_lws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_lws) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes `c` (after optional LWS on both sides, as the SWS-delimited
    /// separators of §25.1 allow). Returns false and consumes nothing otherwise.
    pub(crate) fn sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.skip_lws();
        if self.peek() == Some(c) {
            self.pos += 1;
            self.skip_lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes `c` exactly here.
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes a run of bytes in `class`; returns it (maybe empty).
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    /// Consumes a non-empty token.
    pub(crate) fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(is_token);
        (!t.is_empty()).then_some(t)
    }

    /// Consumes a quoted string (RFC 3261 §25.1: qdtext and quoted-pair) and
    /// returns it with its quotes. None when it is not terminated or holds a
    /// character the grammar forbids.
    pub(crate) fn quoted_string(&mut self) -> Option<&'a str> {
        let b = self.s.as_bytes();
        let start = self.pos;
        if b.get(start) != Some(&b'"') {
            return None;
        }
        let mut i = start + 1;
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => {
                    self.pos = i + 1;
                    return Some(self.slice(start, self.pos));
                }
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                b'\\' => match b.get(i + 1) {
                    Some(&n) if n <= 0x7f && n != b'\n' && n != b'\r' => i += 2,
                    _ => return None,
                },
                // qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                0x21..=0x7e => i += 1,
                0x80..=0xff => i += 1,
                _ => return None,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted() {
        let mut s = Scanner::new(r#""J Rosenberg \\\"" rest"#);
        assert_eq!(s.quoted_string(), Some(r#""J Rosenberg \\\"""#));
        assert_eq!(s.rest(), " rest");
        assert_eq!(Scanner::new("\"open").quoted_string(), None);
        assert_eq!(Scanner::new("\"a\\\"").quoted_string(), None);
    }

    #[test]
    fn separators() {
        let mut s = Scanner::new("SIP  /   2.0\r\n /UDP");
        assert_eq!(s.token(), Some("SIP"));
        assert!(s.sep(b'/'));
        assert_eq!(s.token(), Some("2.0"));
        assert!(s.sep(b'/'));
        assert_eq!(s.token(), Some("UDP"));
        assert!(s.at_end());
    }
}
