//! Character classes of the RFC 3261 §25 grammar, as lookup tables.

const fn table(chars: &[u8], alnum: bool) -> [bool; 256] {
    let mut t = [false; 256];
    if alnum {
        let mut c = b'0';
        while c <= b'9' {
            t[c as usize] = true;
            c += 1;
        }
        c = b'a';
        while c <= b'z' {
            t[c as usize] = true;
            t[(c - 32) as usize] = true;
            c += 1;
        }
    }
    let mut i = 0;
    while i < chars.len() {
        t[chars[i] as usize] = true;
        i += 1;
    }
    t
}

/// `token` characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~".
pub(crate) static TOKEN: [bool; 256] = table(b"-.!%*_+`'~", true);

/// `word` characters (Call-ID): token characters plus `( ) < > : \ " / [ ] ? { }`.
pub(crate) static WORD: [bool; 256] = table(b"-.!%*_+`'~()<>:\\\"/[]?{}", true);

/// `user` characters of a SIP URI, `%` included for escapes (checked separately):
/// unreserved / escaped / user-unreserved (`& = + $ , ; ? /`).
pub(crate) static USER: [bool; 256] = table(b"-_.!~*'()%&=+$,;?/", true);

/// `password` characters: unreserved / escaped / `& = + $ ,`.
pub(crate) static PASSWORD: [bool; 256] = table(b"-_.!~*'()%&=+$,", true);

/// `paramchar` of a URI parameter: param-unreserved / unreserved / escaped.
pub(crate) static PARAMCHAR: [bool; 256] = table(b"[]/:&+$-_.!~*'()%", true);

/// `hname`/`hvalue` characters of URI headers: hnv-unreserved / unreserved / escaped.
pub(crate) static HCHAR: [bool; 256] = table(b"[]/?:+$-_.!~*'()%", true);

/// `uric` of an absolute URI: reserved / unreserved / escaped.
pub(crate) static URIC: [bool; 256] = table(b";/?:@&=+$,-_.!~*'()%[]#", true);

/// `token` character test.
#[inline]
pub(crate) fn is_token(c: u8) -> bool {
    TOKEN[c as usize]
}

/// Linear white space inside a header value: SP, HTAB, and the CRLF of a fold.
#[inline]
pub(crate) fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// True when `s` is a non-empty token.
pub(crate) fn all_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token)
}

/// True when every `%` in `s` starts a valid `%XX` escape.
pub(crate) fn escapes_valid(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'%', &b[i..]) {
        let p = i + off;
        match (b.get(p + 1), b.get(p + 2)) {
            (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i = p + 3,
            _ => return false,
        }
    }
    true
}

/// True when `s` is non-empty, every byte is in `class`, and escapes are valid.
pub(crate) fn all_in(s: &str, class: &[bool; 256]) -> bool {
    !s.is_empty() && s.bytes().all(|c| class[c as usize]) && escapes_valid(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(all_token("INVITE"));
        assert!(all_token("!interesting-Method0123456789_*+`.%indeed'~"));
        assert!(!all_token("a b"));
        assert!(!all_token(""));
        assert!(escapes_valid("a%20b"));
        assert!(!escapes_valid("a%2"));
        assert!(!escapes_valid("%ZZ"));
        assert!(all_in("user;par=u%40example.net", &USER));
    }
}
