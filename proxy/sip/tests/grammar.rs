//! The grammar applied where many stacks are lax: control characters in
//! field values, the SP after a status code, tags that are not tokens.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use sip::validate::check_request;
use sip::{Framing, Limits, Message, ParseError};

fn parse(text: &[u8]) -> Result<Message, sip::ParseFailure> {
    Message::parse(
        Bytes::copy_from_slice(text),
        Framing::Datagram,
        &Limits::default(),
    )
}

fn options(extra: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n\
         Call-ID: g1\r\nCSeq: 1 OPTIONS\r\n{extra}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn a_raw_control_character_in_any_field_value_is_refused_with_an_answerable_partial() {
    for ctl in [0x00u8, 0x01, 0x08, 0x0b, 0x1f, 0x7f] {
        let mut m = options("Subject: a");
        let at = m.windows(10).position(|w| w == b"Subject: a").unwrap() + 10;
        m.splice(at..at, [ctl, b'b']);
        let e = parse(&m).unwrap_err();
        assert!(
            matches!(e.error, ParseError::HeaderLine { line: 7, .. }),
            "{ctl:#x}: {:?}",
            e.error
        );
        // The rest of the request is there to build the 400 from.
        let partial = e.partial.expect("answerable");
        assert_eq!(partial.call_id().unwrap(), "g1");
    }
    // In a field a response copies (Via, From, To, Call-ID, CSeq) no
    // well-formed answer can be built: dropped, no partial.
    let m = String::from_utf8(options(""))
        .unwrap()
        .replace("Call-ID: g1", "Call-ID: g\u{1}1");
    assert!(parse(m.as_bytes()).unwrap_err().partial.is_none());
    // HTAB is linear white space, not a control character here.
    assert!(parse(&options("Subject: a\tb\r\n")).is_ok());
}

#[test]
fn a_control_character_escaped_in_a_quoted_string_is_allowed() {
    // RFC 4475 §3.1.1.4: quoted-pair may escape any octet but CR and LF.
    let m = options("Subject: ok\r\n");
    let m = String::from_utf8(m)
        .unwrap()
        .replace("To: <sip:bob", "To: \"NUL:\\\u{0} DEL:\\\u{7f}\" <sip:bob");
    assert!(parse(m.as_bytes()).is_ok());
    // Outside the quotes a backslash escapes nothing.
    let m = m.replace("Subject: ok", "Subject: \\\u{0}");
    assert!(parse(m.as_bytes()).is_err());
}

#[test]
fn a_status_line_keeps_its_sp_before_an_empty_reason() {
    let resp = |line: &str| {
        format!(
            "{line}\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\n\
             To: <sip:b@x>;tag=2\r\nCall-ID: s1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
    };
    assert!(parse(resp("SIP/2.0 200 OK").as_bytes()).is_ok());
    assert!(parse(resp("SIP/2.0 200 ").as_bytes()).is_ok());
    let e = parse(resp("SIP/2.0 200").as_bytes()).unwrap_err();
    assert!(matches!(e.error, ParseError::StartLine(_)), "{:?}", e.error);
}

#[test]
fn a_tag_that_is_not_a_token_gets_400() {
    let ok = parse(&options("")).unwrap();
    assert!(check_request(&ok).is_ok());
    for bad in [";tag=a:b", ";tag=", ";tag=a\"b\""] {
        let m = String::from_utf8(options(""))
            .unwrap()
            .replace(";tag=a1", bad);
        let msg = parse(m.as_bytes()).unwrap();
        let r = check_request(&msg).unwrap_err();
        assert_eq!(r.status, 400, "{bad}: {}", r.reason);
    }
}
