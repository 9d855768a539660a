//! The message parser: start line, header lines with folding, and the
//! Content-Length rules of RFC 3261 §18.3 and §20.14.

use bytes::Bytes;
use bytestring::ByteString;
use memchr::{memchr, memchr2, memchr_iter};

use super::{Framing, HeaderField, Message, ParseFailure, Span, StartLine};
use crate::chars::is_token;
use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::method::Method;
use crate::Limits;

pub(super) fn parse(
    buf: Bytes,
    framing: Framing,
    limits: &Limits,
) -> Result<Message, ParseFailure> {
    if buf.len() > limits.max_message_size {
        return Err(ParseError::TooLarge {
            limit: limits.max_message_size,
        }
        .into());
    }
    let b: &[u8] = &buf;
    let first = line_end(b, 0)?;
    let (start, version_ok, start_error) = match start_line(b, first) {
        Ok((start, ok)) => (start, ok, None),
        // A response that does not parse is dropped; a request whose
        // request line does not parse still gets its header section read,
        // so that a 400 can be sent back.
        Err(e) if b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"SIP/") => return Err(e.into()),
        Err(e) => (broken_request_line(b, first), true, Some(e)),
    };
    let start_end = first + 2;
    let (headers, body_start, terminated) = header_lines(b, start_end, limits)?;
    let head = ByteString::try_from(buf.slice(..body_start)).map_err(|_| ParseError::NotUtf8)?;
    let mut msg = Message {
        buf,
        head,
        start,
        start_end: start_end as u32,
        index: super::NameIndex::build(&headers),
        headers,
        body_start: body_start as u32,
    };
    let fail = |msg: Message, error| {
        let mut partial = msg;
        partial.buf.truncate(body_start);
        Err(ParseFailure {
            error,
            partial: Some(Box::new(partial)),
        })
    };
    if !terminated {
        // The datagram ends after a header line without the empty line:
        // answerable (400) but not forwardable.
        return fail(msg, ParseError::Unterminated);
    }
    if let Some(e) = start_error {
        return fail(msg, e);
    }
    if !version_ok {
        return fail(msg, ParseError::Version);
    }
    if let Some(line) = control_in_values(&msg) {
        let error = ParseError::HeaderLine {
            line,
            what: "control character in a field value",
        };
        // A response copies Via, From, To, Call-ID and CSeq (§8.2.6): with
        // the control character in one of those no well-formed answer can
        // be built, so the message is dropped, not answered.
        let copied = msg.headers.get(line - 1).is_some_and(|h| {
            matches!(
                h.name,
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
            )
        });
        if copied {
            return Err(error.into());
        }
        return fail(msg, error);
    }
    let declared = match content_length(&msg) {
        Ok(cl) => cl,
        Err(e) => return fail(msg, e),
    };
    let available = msg.buf.len() - body_start;
    match (declared, framing) {
        (None, Framing::Stream) => return fail(msg, ParseError::MissingContentLength),
        (None, Framing::Datagram) => {}
        (Some(cl), _) if cl > available => {
            return fail(
                msg,
                ParseError::BodyTooShort {
                    declared: cl,
                    available,
                },
            )
        }
        (Some(cl), _) => msg.buf.truncate(body_start + cl),
    }
    Ok(msg)
}

/// The header line (1-based) whose value holds a control character the
/// grammar does not allow: none but HTAB (and the CRLF of a fold) in any
/// field value, except escaped by a quoted-pair inside a quoted-string
/// (RFC 3261 §25.1: TEXT-UTF8char, qdtext, quoted-pair; RFC 4475 §3.1.1.4
/// has a NUL so escaped in a display name). Many stacks behind a proxy
/// mishandle a raw one (a NUL ends a C string).
fn control_in_values(msg: &Message) -> Option<usize> {
    let b: &[u8] = &msg.buf;
    // Nearly every message has none: one pass over the header block (it
    // vectorises) answers for all values, unless it finds a control
    // character or an escaped line end somewhere.
    let block = match (msg.headers.first(), msg.headers.last()) {
        (Some(first), Some(last)) => b
            .get(first.value.start as usize..last.value.end as usize)
            .unwrap_or(&[]),
        _ => return None,
    };
    let controls = block.iter().fold(false, |acc, &c| {
        acc | ((c < b' ') & (c != b'\t') & (c != b'\r') & (c != b'\n')) | (c == 0x7f)
    });
    if !controls
        && memchr::memmem::find(block, b"\\\r").is_none()
        && memchr::memmem::find(block, b"\\\n").is_none()
    {
        return None;
    }
    let bad = |v: &[u8]| {
        let (mut quoted, mut escaped) = (false, false);
        v.iter().any(|&c| {
            if escaped {
                escaped = false;
                return matches!(c, b'\r' | b'\n');
            }
            match c {
                b'"' => quoted = !quoted,
                b'\\' if quoted => escaped = true,
                _ => {}
            }
            (c < b' ' && !matches!(c, b'\t' | b'\r' | b'\n')) || c == 0x7f
        })
    };
    msg.headers
        .iter()
        .position(|h| {
            b.get(h.value.start as usize..h.value.end as usize)
                .is_some_and(bad)
        })
        .map(|i| i + 1)
}

/// Position of the CR of the CRLF ending the line that starts at `from`.
/// A CR or LF anywhere else in the line is an error.
fn line_end(b: &[u8], from: usize) -> Result<usize, ParseError> {
    let rest = b.get(from..).unwrap_or(&[]);
    let i = memchr2(b'\r', b'\n', rest).ok_or(ParseError::Unterminated)?;
    match (rest[i], rest.get(i + 1)) {
        (b'\r', Some(b'\n')) => Ok(from + i),
        (b'\r', None) => Err(ParseError::Unterminated),
        _ => Err(ParseError::BareLineEnd),
    }
}

/// Parses the start line `b[..end]`. The bool is false when the SIP version
/// is well formed but not 2.0 (a request then gets 505).
fn start_line(b: &[u8], end: usize) -> Result<(StartLine, bool), ParseError> {
    let line = &b[..end];
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return status_line(line);
    }
    let sp1 = memchr(b' ', line).ok_or(ParseError::StartLine("no SP after method"))?;
    let method = &line[..sp1];
    if method.is_empty() || !method.iter().all(|&c| is_token(c)) {
        return Err(ParseError::StartLine("method is not a token"));
    }
    let uri_start = sp1 + 1;
    let sp2 = memchr(b' ', &line[uri_start..])
        .map(|i| uri_start + i)
        .ok_or(ParseError::StartLine("no SP after Request-URI"))?;
    let uri = &line[uri_start..sp2];
    if uri.is_empty() {
        return Err(ParseError::StartLine(
            "empty Request-URI or extra white space",
        ));
    }
    if uri.iter().any(|&c| c <= b' ' || c == 0x7f) {
        return Err(ParseError::StartLine("control character in Request-URI"));
    }
    let version_ok = version(&line[sp2 + 1..])?;
    let method = std::str::from_utf8(method)
        .map(Method::from_token)
        .map_err(|_| ParseError::StartLine("method is not a token"))?;
    Ok((
        StartLine::Request {
            method,
            uri: Span::new(uri_start, sp2),
        },
        version_ok,
    ))
}

fn status_line(line: &[u8]) -> Result<(StartLine, bool), ParseError> {
    let sp1 = memchr(b' ', line).ok_or(ParseError::StartLine("no SP after SIP-Version"))?;
    if !version(&line[..sp1])? {
        return Err(ParseError::Version);
    }
    let code = line
        .get(sp1 + 1..sp1 + 4)
        .ok_or(ParseError::StartLine("short status code"))?;
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::StartLine("status code is not 3 digits"));
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if !(100..=699).contains(&status) {
        return Err(ParseError::StartLine("status code out of range"));
    }
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF: the
    // SP stays even before an empty Reason-Phrase (RFC 3261 §7.2, §25.1).
    let reason_start = match line.get(sp1 + 4) {
        None => return Err(ParseError::StartLine("no SP after the status code")),
        Some(b' ') => sp1 + 5,
        Some(_) => return Err(ParseError::StartLine("status code is not 3 digits")),
    };
    let reason = &line[reason_start..];
    if reason
        .iter()
        .any(|&c| (c < b' ' && c != b'\t') || c == 0x7f)
    {
        return Err(ParseError::StartLine("control character in reason phrase"));
    }
    Ok((
        StartLine::Response {
            status,
            reason: Span::new(reason_start, line.len()),
        },
        true,
    ))
}

/// The start line of a partial request whose request line is malformed:
/// the method when the line starts with a token, and an empty Request-URI.
fn broken_request_line(b: &[u8], end: usize) -> StartLine {
    let line = &b[..end];
    let m = line
        .iter()
        .position(|&c| !is_token(c))
        .unwrap_or(line.len());
    let method = std::str::from_utf8(&line[..m]).map(Method::from_token);
    StartLine::Request {
        method: method.unwrap_or(Method::Extension("".into())),
        uri: Span::new(end, end),
    }
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; Ok(false) for other versions.
fn version(v: &[u8]) -> Result<bool, ParseError> {
    let bad = ParseError::StartLine("malformed SIP-Version");
    if v.len() < 7 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return Err(bad);
    }
    let num = &v[4..];
    let dot = memchr(b'.', num).ok_or(bad.clone())?;
    let (major, minor) = (&num[..dot], &num[dot + 1..]);
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if !digits(major) || !digits(minor) {
        return Err(bad);
    }
    Ok(major == b"2" && minor == b"0")
}

/// Reads header lines from `pos` up to the empty line; returns the fields,
/// the position of the body, and false when the input ended after a whole
/// header line without the empty line.
fn header_lines(
    b: &[u8],
    mut pos: usize,
    limits: &Limits,
) -> Result<(Vec<HeaderField>, usize, bool), ParseError> {
    let mut headers: Vec<HeaderField> = Vec::with_capacity(16);
    let mut folds = 0;
    // Lines end at LF, which must follow a CR; a CR anywhere else is caught
    // by counting CRs once the header section's end is known.
    let base = pos;
    let mut lfs = memchr_iter(b'\n', b.get(pos..).unwrap_or(&[])).map(|i| i + base);
    loop {
        if pos == b.len() && !headers.is_empty() {
            if memchr_iter(b'\r', b).count() != headers.len() + folds + 1 {
                return Err(ParseError::BareLineEnd);
            }
            return Ok((headers, pos, false));
        }
        let end = match lfs.next() {
            Some(lf) if lf > pos && b[lf - 1] == b'\r' => lf - 1,
            Some(_) => return Err(ParseError::BareLineEnd),
            None => return Err(ParseError::Unterminated),
        };
        if end == pos {
            let body = pos + 2;
            let lines = headers.len() + folds + 2;
            if memchr_iter(b'\r', &b[..body]).count() != lines {
                return Err(ParseError::BareLineEnd);
            }
            return Ok((headers, body, true));
        }
        let line_no = headers.len() + 1;
        if b[pos] == b' ' || b[pos] == b'\t' {
            // Folded continuation of the previous field (RFC 3261 §7.3.1).
            let prev = headers.last_mut().ok_or(ParseError::HeaderLine {
                line: line_no,
                what: "continuation line first",
            })?;
            prev.value.end = end as u32;
            prev.line.end = (end + 2) as u32;
            folds += 1;
        } else {
            if headers.len() >= limits.max_headers {
                return Err(ParseError::TooManyHeaders {
                    limit: limits.max_headers,
                });
            }
            headers.push(field(b, pos, end, line_no)?);
        }
        pos = end + 2;
    }
}

/// One `field-name HCOLON field-value` line in `b[pos..end]`.
fn field(b: &[u8], pos: usize, end: usize, line: usize) -> Result<HeaderField, ParseError> {
    let mut i = pos;
    while i < end && is_token(b[i]) {
        i += 1;
    }
    let name_end = i;
    if name_end == pos {
        return Err(ParseError::HeaderLine {
            line,
            what: "field name is not a token",
        });
    }
    while i < end && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    if i == end || b[i] != b':' {
        return Err(ParseError::HeaderLine {
            line,
            what: "no colon after field name",
        });
    }
    i += 1;
    while i < end && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    Ok(HeaderField {
        name: HeaderName::from_bytes(&b[pos..name_end]),
        name_span: Span::new(pos, name_end),
        value: Span::new(i, end),
        line: Span::new(pos, end + 2),
    })
}

/// The declared Content-Length, if any (`1*DIGIT`; one field only).
fn content_length(msg: &Message) -> Result<Option<usize>, ParseError> {
    match msg.count(HeaderName::ContentLength) {
        0 => Ok(None),
        1 => msg
            .header(HeaderName::ContentLength)
            .map(parse_length)
            .transpose(),
        _ => Err(ParseError::DuplicateContentLength),
    }
}

/// Parses a Content-Length value.
pub(crate) fn parse_length(v: &str) -> Result<usize, ParseError> {
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::ContentLength);
    }
    v.parse::<usize>().map_err(|_| ParseError::ContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[u8]) -> Result<Message, ParseError> {
        parse(
            Bytes::copy_from_slice(s),
            Framing::Datagram,
            &Limits::default(),
        )
        .map_err(|f| f.error)
    }

    #[test]
    fn line_ends() {
        let ok = b"OPTIONS sip:a@b.c SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n x\r\nCall-ID: 1\r\n\r\nbody\rwith\nbare";
        let m = p(ok).unwrap();
        assert_eq!(m.body(), b"body\rwith\nbare");
        assert_eq!(m.header(HeaderName::Via), Some("SIP/2.0/UDP h\r\n x"));
        assert_eq!(
            p(b"OPTIONS sip:a@b.c SIP/2.0\r\nVia: a\rb\r\n\r\n"),
            Err(ParseError::BareLineEnd)
        );
        assert_eq!(
            p(b"OPTIONS sip:a@b.c SIP/2.0\r\nVia: a\nb: c\r\n\r\n"),
            Err(ParseError::BareLineEnd)
        );
        assert_eq!(
            p(b"OPTIONS sip:a@b.c SIP/2.0\nVia: a\r\n\r\n"),
            Err(ParseError::BareLineEnd)
        );
        assert_eq!(
            p(b"OPTIONS sip:a@b.c SIP/2.0\r\nVia: a\r\n"),
            Err(ParseError::Unterminated)
        );
        assert_eq!(
            p(b"OPTIONS sip:a@b.c SIP/2.0\r\nVia: a\rx\r\n"),
            Err(ParseError::BareLineEnd)
        );
        assert_eq!(
            p(b"OPTIONS sip:a@b.c SIP/2.0\r\nVia: a"),
            Err(ParseError::Unterminated)
        );
        assert_eq!(
            p(b"OPTIONS sip:a@b.c SIP/2.0\r\n x\r\n\r\n").unwrap_err(),
            ParseError::HeaderLine {
                line: 1,
                what: "continuation line first"
            }
        );
    }
}
