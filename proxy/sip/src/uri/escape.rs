//! `%XX` escapes (RFC 3261 §25.1 `escaped`).

use std::borrow::Cow;

/// Iterator over the bytes of a string with `%XX` escapes decoded. A `%` not
/// followed by two hex digits is yielded as is.
#[derive(Debug, Clone)]
pub struct Unescape<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Unescape<'a> {
    /// Decodes `s` lazily.
    pub fn new(s: &'a str) -> Self {
        Self {
            b: s.as_bytes(),
            i: 0,
        }
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

impl Iterator for Unescape<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        if c == b'%' {
            if let (Some(h), Some(l)) = (
                self.b.get(self.i + 1).copied().and_then(hex),
                self.b.get(self.i + 2).copied().and_then(hex),
            ) {
                self.i += 3;
                return Some(h << 4 | l);
            }
        }
        self.i += 1;
        Some(c)
    }
}

/// Decodes `%XX` escapes; borrows when there are none.
pub fn unescape(s: &str) -> Cow<'_, [u8]> {
    if s.contains('%') {
        Cow::Owned(Unescape::new(s).collect())
    } else {
        Cow::Borrowed(s.as_bytes())
    }
}

/// Compares two strings after decoding escapes.
pub(crate) fn eq_unescaped(a: &str, b: &str, ignore_case: bool) -> bool {
    let (mut x, mut y) = (Unescape::new(a), Unescape::new(b));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p == q || (ignore_case && p.eq_ignore_ascii_case(&q)) => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode() {
        assert_eq!(&*unescape("%75se%72"), b"user");
        assert_eq!(&*unescape("a%00b"), b"a\0b");
        assert_eq!(&*unescape("100%"), b"100%");
        assert!(eq_unescaped("%75ser", "user", false));
        assert!(!eq_unescaped("User", "user", false));
        assert!(eq_unescaped("User", "%75SER", true));
    }
}
