//! Splitting header values at commas (RFC 3261 §7.3.1).

use super::{trim_lws, Message};
use crate::header_name::HeaderName;

/// Iterator over the comma-separated values of one header name across all
/// its fields. Commas inside quoted strings and `<...>` do not separate.
/// Headers that are not lists yield each field's whole value.
/// Empty elements (as in `a,,b`) are yielded as `""` so that validation can
/// reject them.
#[derive(Debug, Clone)]
pub struct Values<'a> {
    msg: &'a Message,
    name: HeaderName,
    next_field: usize,
    rest: Option<&'a str>,
}

impl<'a> Values<'a> {
    pub(crate) fn new(msg: &'a Message, name: HeaderName) -> Self {
        let next_field = msg.first_field(name).unwrap_or(msg.fields().len());
        Self {
            msg,
            name,
            next_field,
            rest: None,
        }
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            if let Some(rest) = self.rest.take() {
                let (item, after) = split_first(rest);
                self.rest = after;
                return Some(trim_lws(item));
            }
            let fields = self.msg.fields();
            let h = fields
                .get(self.next_field..)?
                .iter()
                .position(|h| h.name == self.name)?;
            let field = &fields[self.next_field + h];
            self.next_field += h + 1;
            let text = self.msg.value_text(field);
            if self.name.is_list() {
                self.rest = Some(text);
            } else {
                return Some(text);
            }
        }
    }
}

/// Splits at the first separating comma: `(item, Some(rest))` or `(all, None)`.
pub(crate) fn split_first(s: &str) -> (&str, Option<&str>) {
    let b = s.as_bytes();
    // Fast path: nothing that separates or protects a separator.
    let Some(mut i) = memchr::memchr3(b',', b'"', b'<', b) else {
        return (s, None);
    };
    if b[i] == b',' {
        return (&s[..i], Some(&s[i + 1..]));
    }
    let mut quoted = false;
    let mut angle = false;
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' if !angle => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                return (&s[..i], Some(&s[i + 1..]));
            }
            _ => {}
        }
        i += 1;
    }
    (s, None)
}

#[cfg(test)]
mod tests {
    use super::split_first;

    #[test]
    fn split() {
        assert_eq!(split_first("a, b"), ("a", Some(" b")));
        assert_eq!(
            split_first("\"x, y\" <sip:a>, b"),
            ("\"x, y\" <sip:a>", Some(" b"))
        );
        assert_eq!(
            split_first("<sip:a;p=1,2>;x, b"),
            ("<sip:a;p=1,2>;x", Some(" b"))
        );
        assert_eq!(split_first("\"a\\\",b\""), ("\"a\\\",b\"", None));
    }
}
