//! RFC 4475 and RFC 5118 torture messages, each handled as the tables in
//! `tests/data/rfc4475/` and `tests/data/rfc5118/` say.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use bytes::Bytes;
use sip::edit::Editor;
use sip::header::Contact;
use sip::response::response;
use sip::validate::{proxy_checks, screen, Screened};
use sip::{Framing, HeaderName, Limits, Message, Uri};

fn data(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(dir)
}

fn table(dir: &str, file: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(data(dir).join(file)).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// What an element (edge or proxy) does with a datagram: `forward`, a status
/// it answers, or `drop`.
fn verdict(bytes: Bytes) -> (String, Option<Message>) {
    match screen(bytes, Framing::Datagram, &Limits::default()) {
        Screened::Drop(_) => ("drop".into(), None),
        Screened::Reject { request, rejection } => {
            // A rejection is only a verdict if the answer can be built.
            let answer = response(&request, rejection.status).unwrap().build();
            let parsed = Message::parse(answer, Framing::Datagram, &Limits::default()).unwrap();
            assert_eq!(parsed.status(), Some(rejection.status));
            assert_eq!(
                parsed.header(HeaderName::CallId),
                request.header(HeaderName::CallId)
            );
            (rejection.status.to_string(), Some(*request))
        }
        Screened::Request(m) => match proxy_checks(&m, &[]) {
            Err(r) => (r.status.to_string(), Some(m)),
            Ok(()) => {
                forward_request(&m);
                ("forward".into(), Some(m))
            }
        },
        Screened::Response(m) => {
            // Our Via is on top; the response goes to the next one's target.
            let next = m
                .vias()
                .nth(1)
                .and_then(Result::ok)
                .and_then(|v| v.response_target());
            match next {
                Some((ip, _)) if !sip::validate::is_unicast(ip) => ("drop".into(), None),
                _ => ("forward".into(), Some(m)),
            }
        }
    }
}

/// Applies a proxy's edits and checks that every byte not edited is kept.
fn forward_request(m: &Message) {
    let mut ed = Editor::new(m);
    ed.prepend("Via", "SIP/2.0/UDP 192.0.2.250:5060;branch=z9hG4bKedge1");
    ed.prepend("Record-Route", "<sip:192.0.2.250;lr>");
    ed.decrement_max_forwards().unwrap();
    let out = ed.finish().unwrap();
    let fwd = Message::parse(out, Framing::Datagram, &Limits::default()).unwrap();
    assert_eq!(fwd.body(), m.body());
    assert_eq!(fwd.top_via().unwrap().branch(), Some("z9hG4bKedge1"));
    assert_eq!(fwd.vias().count(), m.vias().count() + 1);
    let before: Vec<_> = m
        .headers()
        .filter(|h| h.name != HeaderName::MaxForwards)
        .map(|h| (h.raw_name.to_string(), h.value.to_string()))
        .collect();
    let after: Vec<_> = fwd
        .headers()
        .filter(|h| {
            h.name != HeaderName::MaxForwards
                && !h.value.contains("z9hG4bKedge1")
                && !(h.name == HeaderName::RecordRoute && h.value == "<sip:192.0.2.250;lr>")
        })
        .map(|h| (h.raw_name.to_string(), h.value.to_string()))
        .collect();
    assert_eq!(before, after);
    let mf_before = m.max_forwards().unwrap();
    assert_eq!(
        fwd.max_forwards().unwrap(),
        Some(mf_before.map_or(70, |n| n - 1))
    );
}

#[test]
fn rfc4475_every_message_as_the_table_says() {
    let rows = table("rfc4475", "expected.tsv");
    assert_eq!(rows.len(), 50, "all 50 RFC 4475 messages are in the table");
    let mut failures = vec![];
    for row in &rows {
        let (file, want) = (&row[0], &row[1]);
        let bytes = std::fs::read(data("rfc4475").join(file)).unwrap();
        let (got, _) = verdict(Bytes::from(bytes));
        if &got != want {
            failures.push(format!("{file}: expected {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn load(file: &str) -> Message {
    let bytes = std::fs::read(data("rfc4475").join(file)).unwrap();
    Message::parse(Bytes::from(bytes), Framing::Datagram, &Limits::default()).unwrap()
}

#[test]
fn rfc4475_details() {
    // 3.1.1.1: folding, odd white space, leading zeros.
    let m = load("TC_WSINV.dat");
    assert_eq!(m.max_forwards().unwrap(), Some(68));
    assert_eq!(m.cseq().unwrap().seq, 9);
    assert_eq!(m.to().unwrap().tag(), Some("1918181833n"));
    assert_eq!(m.from().unwrap().tag(), Some("98asjd8"));
    assert_eq!(m.vias().count(), 3);
    assert_eq!(
        m.vias().nth(2).unwrap().unwrap().host_raw,
        "192.168.255.111"
    );
    assert_eq!(m.header(HeaderName::Subject), Some(""));
    assert_eq!(m.body().len(), 150);
    // 3.1.1.3: URIs compare after unescaping.
    let m = load("TC_ESC01_V.dat");
    let to = m.to().unwrap();
    assert!(to
        .uri()
        .unwrap()
        .equivalent(&Uri::parse("sip:user@example.com").unwrap()));
    // 3.1.1.4: %00 in the user part is opaque.
    let m = load("TC_ESCNULL_V.dat");
    assert!(m.request_uri().is_ok());
    // 3.1.1.7: long values, many Vias.
    let m = load("TC_LONGREQ_V.dat");
    assert!(m.vias().count() >= 30);
    // 3.1.1.8: the REGISTER only; the INVITE after it is discarded.
    let m = load("TC_DBLREQ.dat");
    assert_eq!(m.method(), Some(&sip::Method::Register));
    assert_eq!(m.body().len(), 0);
    assert!(!m.as_bytes().windows(6).any(|w| w == b"INVITE"));
    // 3.2.1: RFC 2543 branch.
    let m = load("TC_BADBRANCH_V.dat");
    assert!(!m.top_via().unwrap().has_magic_cookie());
    // 3.3.4: unknown schemes parse; the registrar cannot use the Contact.
    let m = load("TC_UNKSM2_V.dat");
    let c = m.contacts().next().unwrap().unwrap();
    assert!(matches!(
        c.addr().unwrap().uri().unwrap(),
        Uri::Other { .. }
    ));
    // 3.3.5: 420 lists exactly the Proxy-Require tags.
    let m = load("TC_BEXT01_V.dat");
    let r = proxy_checks(&m, &[]).unwrap_err();
    assert_eq!(
        r.unsupported,
        vec!["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    );
    // 3.3.7: an unknown auth scheme parses as a header and is not Digest.
    let m = load("TC_REGAUT01_V.dat");
    let auth = m.header(HeaderName::Authorization).unwrap();
    assert!(sip::digest::Credentials::parse(auth).is_err());
    // 3.3.12 / 3.3.13: contact parameters.
    let m = load("TC_CPARAM01_V.dat");
    for c in m.contacts() {
        c.unwrap().params().unwrap();
    }
    let m = load("TC_CPARAM02_V.dat");
    let c = m.contacts().next().unwrap().unwrap();
    assert!(c
        .addr()
        .unwrap()
        .uri()
        .unwrap()
        .as_sip()
        .unwrap()
        .params
        .has("unknownparam"));
    // 3.3.14: the escaped Route stays inside the URI.
    let m = load("TC_REGESCRT_V.dat");
    let c = m.contacts().next().unwrap().unwrap();
    assert!(c
        .addr()
        .unwrap()
        .uri()
        .unwrap()
        .as_sip()
        .unwrap()
        .headers
        .is_some());
    assert_eq!(m.routes().count(), 0);
    // 3.4.1: RFC 2543: body to the end of the datagram.
    let m = load("TC_INV2543_I.dat");
    assert!(m.content_length().is_none());
    assert!(m.body().starts_with(b"v=0"));
    assert_eq!(m.max_forwards().unwrap(), None);
    // 3.1.2.2: Content-Length larger than the body.
    let bytes = std::fs::read(data("rfc4475").join("TC_CLERR_I.dat")).unwrap();
    let f = Message::parse(Bytes::from(bytes), Framing::Datagram, &Limits::default()).unwrap_err();
    assert!(matches!(f.error, sip::ParseError::BodyTooShort { .. }));
}

#[test]
fn rfc4475_on_streams() {
    use sip::framer::{Frame, FrameError, StreamFramer};
    // Over TCP a message frames by its Content-Length and then gets the same
    // verdict as on UDP; the exceptions are the framing cases themselves.
    for row in table("rfc4475", "expected.tsv") {
        let (file, want) = (row[0].as_str(), row[1].as_str());
        let bytes = std::fs::read(data("rfc4475").join(file)).unwrap();
        let mut f = StreamFramer::new(Limits::default());
        f.push(&bytes);
        let got = f.next_frame();
        match file {
            "TC_INV2543_I.dat" => assert_eq!(got, Err(FrameError::MissingContentLength)),
            "TC_NCL_I.dat" | "TC_MCL01_I.dat" => {
                assert_eq!(got, Err(FrameError::BadContentLength), "{file}")
            }
            // Declared body longer than what came / no end of header section:
            // the framer waits for more bytes.
            "TC_CLERR_I.dat" | "TC_BADDN_I.dat" => assert_eq!(got, Ok(None), "{file}"),
            _ => {
                let Ok(Some(Frame::Message(m))) = got else {
                    panic!("{file}: {got:?}")
                };
                let stream = screen(m, Framing::Stream, &Limits::default());
                let verdict = match &stream {
                    Screened::Drop(_) => "drop".to_string(),
                    Screened::Reject { rejection, .. } => rejection.status.to_string(),
                    Screened::Request(m) => proxy_checks(m, &[])
                        .err()
                        .map_or("forward".to_string(), |r| r.status.to_string()),
                    Screened::Response(_) if file == "TC_BCAST_V.dat" => "drop".to_string(),
                    Screened::Response(_) => "forward".to_string(),
                };
                assert_eq!(verdict, want, "{file} over a stream");
            }
        }
    }
}

/// RFC 5118: reads a file, setting Content-Length to the body's real length
/// where the RFC's value disagrees with the CRLF body (see the README).
fn load_5118(file: &str) -> Bytes {
    let raw = std::fs::read(data("rfc5118").join(file)).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body_len = raw.len() - split;
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let head: String = head
        .split_inclusive("\r\n")
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("content-length") {
                format!("Content-Length: {body_len}\r\n")
            } else {
                l.to_string()
            }
        })
        .collect();
    let mut out = head.into_bytes();
    out.extend_from_slice(&raw[split..]);
    Bytes::from(out)
}

#[test]
fn rfc5118_every_message_as_the_table_says() {
    let rows = table("rfc5118", "expected.tsv");
    assert_eq!(rows.len(), 12);
    for row in rows {
        let file = &row[0];
        let (got, msg) = verdict(load_5118(file));
        let want = if row[1] == "parse" {
            "forward"
        } else {
            row[1].as_str()
        };
        assert_eq!(got, want, "{file}");
        if want != "forward" {
            continue;
        }
        let m = msg.unwrap();
        let ruri = m.request_uri().unwrap();
        let sip = ruri.as_sip().unwrap();
        assert_eq!(sip.host_raw, row[2], "{file} R-URI host");
        assert_eq!(
            sip.port.map(|p| p.to_string()).unwrap_or_default(),
            row[3],
            "{file}"
        );
        let via = m.top_via().unwrap();
        assert_eq!(via.host_raw, row[4], "{file} Via host");
        assert_eq!(
            via.port.map(|p| p.to_string()).unwrap_or_default(),
            row[5],
            "{file}"
        );
        let received = via.params.value("received").unwrap_or_default();
        assert_eq!(
            received,
            row.get(6).map(String::as_str).unwrap_or(""),
            "{file}"
        );
        if !received.is_empty() {
            assert_eq!(via.received(), Some("2001:db8::9:255".parse().unwrap()));
        }
        for c in m.contacts() {
            let c = c.unwrap();
            assert!(matches!(c, Contact::Addr(_)));
        }
    }
}
