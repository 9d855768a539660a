//! Header reads and edits for scripts: reads see the message as the edits
//! made so far would leave it. Names compare case-insensitively and compact
//! forms (`f`, `t`, `i`, `m`, ...) mean their full names.

use std::borrow::Cow;

use anysip_core::HeaderEdit;
use sip::{HeaderName, Message};

/// Headers scripts may not change: the core owns them.
const PROTECTED: [&str; 2] = ["Via", "Content-Length"];

/// The full name of a header: compact and any-case known names map to
/// their canonical spelling; other names are kept as given.
pub(crate) fn canonical(name: &str) -> Cow<'_, str> {
    match HeaderName::from_bytes(name.as_bytes()).canonical() {
        Some(full) => Cow::Borrowed(full),
        None => Cow::Borrowed(name),
    }
}

/// Whether two header names mean the same header.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    canonical(a).eq_ignore_ascii_case(&canonical(b))
}

/// The first value of the header `name` in `msg`, before any edit.
pub(crate) fn original<'m>(msg: &'m Message, name: &str) -> Option<&'m str> {
    let hn = HeaderName::from_bytes(name.as_bytes());
    if hn == HeaderName::Other {
        msg.header_by_name(name)
    } else {
        msg.header(hn)
    }
}

/// The first value of `name` once `edits` are applied to `msg`.
pub(crate) fn current<'a>(
    msg: &'a Message,
    edits: &'a [HeaderEdit],
    name: &str,
) -> Option<&'a str> {
    let mut value = original(msg, name);
    for edit in edits {
        match edit {
            HeaderEdit::Set(n, v) if same_name(n, name) => value = Some(v),
            HeaderEdit::Remove(n) if same_name(n, name) => value = None,
            HeaderEdit::Append(n, v) if same_name(n, name) && value.is_none() => value = Some(v),
            _ => {}
        }
    }
    value
}

/// Every value of `name` once `edits` are applied to `msg`, each header
/// line's comma-separated list split (quotes and `<>` respected).
pub(crate) fn all_values(msg: &Message, edits: &[HeaderEdit], name: &str) -> Vec<String> {
    let mut lines: Vec<String> = msg
        .headers()
        .filter(|h| same_name(h.name.canonical().unwrap_or(h.raw_name), name))
        .map(|h| h.value.to_owned())
        .collect();
    for edit in edits {
        match edit {
            HeaderEdit::Set(n, v) if same_name(n, name) => lines = vec![v.clone()],
            HeaderEdit::Remove(n) if same_name(n, name) => lines.clear(),
            HeaderEdit::Append(n, v) if same_name(n, name) => lines.push(v.clone()),
            _ => {}
        }
    }
    lines
        .iter()
        .flat_map(|l| split_list(l))
        .map(str::to_owned)
        .collect()
}

/// The comma-separated elements of a header value, trimmed; commas inside
/// quotes or `<...>` do not split.
pub(crate) fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut angle, mut escaped) = (0, false, false, false);
    for (i, b) in value.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' if !angle => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out.retain(|v| !v.is_empty());
    out
}

/// Checks a header name and value a script wants to write; the error says
/// why they cannot be used.
pub(crate) fn check_edit(name: &str, value: Option<&str>) -> Result<String, String> {
    let token = !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                )
        });
    if !token {
        return Err(format!("invalid header name {name:?}"));
    }
    let full = canonical(name).into_owned();
    if PROTECTED.iter().any(|p| p.eq_ignore_ascii_case(&full)) {
        return Err(format!("the {full} header is managed by the proxy"));
    }
    if let Some(v) = value {
        if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(format!(
                "invalid value for {full}: CR, LF and NUL are not allowed"
            ));
        }
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sip::{Framing, Limits};

    fn msg() -> Message {
        let raw = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                   f: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\ni: c1\r\nCSeq: 1 OPTIONS\r\n\
                   X-Foo: one\r\nX-Foo: two\r\nContent-Length: 0\r\n\r\n";
        Message::parse(Bytes::from(raw), Framing::Datagram, &Limits::default())
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn reads_compact_and_case() {
        let m = msg();
        assert_eq!(original(&m, "From"), Some("<sip:x@y>;tag=1"));
        assert_eq!(original(&m, "call-id"), Some("c1"));
        assert_eq!(original(&m, "i"), Some("c1"));
        assert_eq!(original(&m, "x-foo"), Some("one"));
        assert_eq!(original(&m, "X-Bar"), None);
    }

    #[test]
    fn edits_are_seen() {
        let m = msg();
        let edits = vec![
            HeaderEdit::Set("x-foo".into(), "three".into()),
            HeaderEdit::Remove("f".into()),
            HeaderEdit::Append("X-New".into(), "n".into()),
        ];
        assert_eq!(current(&m, &edits, "X-Foo"), Some("three"));
        assert_eq!(current(&m, &edits, "From"), None);
        assert_eq!(current(&m, &edits, "x-new"), Some("n"));
    }

    #[test]
    fn lists() {
        assert_eq!(
            split_list(r#""a, b" <sip:x@y;p=1,2>;q=1 , <sip:z>,"#),
            vec![r#""a, b" <sip:x@y;p=1,2>;q=1"#, "<sip:z>"]
        );
        let m = msg();
        let edits = vec![HeaderEdit::Append("X-Foo".into(), "three, four".into())];
        assert_eq!(
            all_values(&m, &edits, "x-foo"),
            vec!["one", "two", "three", "four"]
        );
        let edits = vec![HeaderEdit::Set("X-Foo".into(), "only".into())];
        assert_eq!(all_values(&m, &edits, "X-Foo"), vec!["only"]);
    }

    #[test]
    fn edit_checks() {
        assert!(check_edit("Via", Some("x")).is_err());
        assert!(check_edit("l", Some("0")).is_err());
        assert!(check_edit("X-A", Some("a\r\nB: c")).is_err());
        assert!(check_edit("bad name", Some("a")).is_err());
        assert_eq!(check_edit("m", Some("<sip:a@b>")).as_deref(), Ok("Contact"));
    }
}
