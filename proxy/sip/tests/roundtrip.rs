//! Property tests: generated messages parse back to what was generated,
//! re-parse to the same message, survive the proxy's edits, and frame the
//! same way in any chunking.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use proptest::prelude::*;
use sip::edit::Editor;
use sip::framer::{Frame, StreamFramer};
use sip::{Framing, HeaderName, Limits, Message};

#[derive(Debug, Clone)]
struct Via {
    transport: &'static str,
    host: String,
    port: Option<u16>,
    branch: String,
    rport: bool,
}

#[derive(Debug, Clone)]
struct Model {
    method: String,
    ruri: String,
    vias: Vec<Via>,
    from_display: Option<String>,
    from_tag: String,
    to_tag: Option<String>,
    call_id: String,
    cseq: u32,
    max_forwards: Option<u8>,
    routes: Vec<String>,
    extra: Vec<(String, String)>,
    body: Vec<u8>,
    compact: bool,
    fold: bool,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z][a-z0-9]{0,6}){0,3}",
        any::<[u8; 4]>().prop_map(|a| format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])),
        any::<[u16; 8]>().prop_map(|a| format!("[{}]", std::net::Ipv6Addr::from(a))),
    ]
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        proptest::option::of("[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,10}|%[0-9A-F]{2}[a-z]{1,4}"),
        host(),
        proptest::option::of(1u16..),
        proptest::option::of(prop_oneof![
            Just(";lr"),
            Just(";transport=tcp"),
            Just(";user=phone;x=1")
        ]),
    )
        .prop_map(|(user, host, port, params)| {
            let mut s = "sip:".to_string();
            if let Some(u) = user {
                s.push_str(&u);
                s.push('@');
            }
            s.push_str(&host);
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            s.push_str(params.unwrap_or(""));
            s
        })
}

fn via() -> impl Strategy<Value = Via> {
    (
        prop_oneof![
            Just("UDP"),
            Just("TCP"),
            Just("TLS"),
            Just("WS"),
            Just("SCTP")
        ],
        host(),
        proptest::option::of(1u16..),
        "[A-Za-z0-9.-]{1,16}",
        any::<bool>(),
    )
        .prop_map(|(transport, host, port, b, rport)| Via {
            transport,
            host,
            port,
            branch: format!("z9hG4bK{b}"),
            rport,
        })
}

fn model() -> impl Strategy<Value = Model> {
    (
        (
            prop_oneof![
                Just("INVITE".to_string()),
                Just("REGISTER".to_string()),
                token()
            ],
            sip_uri(),
            proptest::collection::vec(via(), 1..4),
            proptest::option::of("[A-Za-z ]{1,12}"),
            token(),
            proptest::option::of(token()),
            "[A-Za-z0-9.!%*_+`'~()<>:/?{}-]{1,20}(@[a-z0-9.]{1,10})?",
        ),
        (
            0u32..=u32::MAX,
            proptest::option::of(1u8..),
            proptest::collection::vec(sip_uri(), 0..3),
            proptest::collection::vec(("X-[A-Za-z]{1,8}", "[ -~]{0,30}"), 0..3),
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (method, ruri, vias, from_display, from_tag, to_tag, call_id),
                (cseq, max_forwards, routes, extra, body, compact, fold),
            )| Model {
                method,
                ruri,
                vias,
                from_display,
                from_tag,
                to_tag,
                call_id,
                cseq,
                max_forwards,
                routes,
                extra,
                body,
                compact,
                fold,
            },
        )
}

fn render(m: &Model) -> Vec<u8> {
    let n = |full: &'static str, short: &'static str| if m.compact { short } else { full };
    let mut s = format!("{} {} SIP/2.0\r\n", m.method, m.ruri);
    for v in &m.vias {
        let port = v.port.map(|p| format!(":{p}")).unwrap_or_default();
        let sep = if m.fold { "\r\n  ;" } else { ";" };
        let rport = if v.rport { ";rport" } else { "" };
        s += &format!(
            "{}: SIP/2.0/{} {}{}{}branch={}{}\r\n",
            n("Via", "v"),
            v.transport,
            v.host,
            port,
            sep,
            v.branch,
            rport
        );
    }
    if let Some(mf) = m.max_forwards {
        s += &format!("Max-Forwards: {mf}\r\n");
    }
    if !m.routes.is_empty() {
        let list: Vec<String> = m.routes.iter().map(|r| format!("<{r}>")).collect();
        s += &format!("Route: {}\r\n", list.join(", "));
    }
    let display = m
        .from_display
        .as_ref()
        .map(|d| format!("\"{d}\" "))
        .unwrap_or_default();
    s += &format!(
        "{}: {display}<sip:alice@example.com>;tag={}\r\n",
        n("From", "f"),
        m.from_tag
    );
    let to_tag = m
        .to_tag
        .as_ref()
        .map(|t| format!(";tag={t}"))
        .unwrap_or_default();
    s += &format!("{}: <sip:bob@example.com>{to_tag}\r\n", n("To", "t"));
    s += &format!("{}: {}\r\n", n("Call-ID", "i"), m.call_id);
    s += &format!("CSeq: {} {}\r\n", m.cseq, m.method);
    for (k, v) in &m.extra {
        s += &format!("{k}: {v}\r\n");
    }
    s += &format!("{}: {}\r\n\r\n", n("Content-Length", "l"), m.body.len());
    let mut out = s.into_bytes();
    out.extend_from_slice(&m.body);
    out
}

fn check(m: &Model, msg: &Message) {
    assert_eq!(msg.method().unwrap().as_str(), m.method);
    assert_eq!(msg.request_uri_str(), Some(m.ruri.as_str()));
    msg.request_uri().unwrap();
    let vias: Vec<_> = msg.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), m.vias.len());
    for (got, want) in vias.iter().zip(&m.vias) {
        assert_eq!(got.branch(), Some(want.branch.as_str()));
        assert_eq!(got.host_raw, want.host);
        assert_eq!(got.port, want.port);
        assert_eq!(got.transport, want.transport);
        assert_eq!(got.rport(), want.rport.then_some(None));
    }
    assert_eq!(msg.from_tag(), Some(m.from_tag.as_str()));
    assert_eq!(msg.to_tag(), m.to_tag.as_deref());
    assert_eq!(msg.call_id().unwrap(), m.call_id);
    assert_eq!(msg.cseq().unwrap().seq, m.cseq);
    assert_eq!(msg.max_forwards().unwrap(), m.max_forwards);
    let routes: Vec<_> = msg
        .routes()
        .map(|r| r.unwrap().uri_raw.to_string())
        .collect();
    assert_eq!(routes, m.routes);
    for (k, _) in &m.extra {
        // Names compare case-insensitively: the first field of that name.
        let first = m
            .extra
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v);
        assert_eq!(
            msg.header_by_name(k),
            first.map(|v| v.trim_matches([' ', '\t']))
        );
    }
    assert_eq!(msg.body(), &m.body[..]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// parse → bytes → parse gives the same message, with the generated fields.
    #[test]
    fn parse_serialise_parse(m in model()) {
        let bytes = Bytes::from(render(&m));
        for framing in [Framing::Datagram, Framing::Stream] {
            let msg = Message::parse(bytes.clone(), framing, &Limits::default()).unwrap();
            check(&m, &msg);
            sip::validate::check_request(&msg).unwrap();
            let again = Message::parse(msg.as_bytes().clone(), framing, &Limits::default()).unwrap();
            prop_assert_eq!(&again, &msg);
        }
    }

    /// A proxy's edits change only what they name.
    #[test]
    fn edits_keep_everything_else(m in model()) {
        let msg = Message::parse(Bytes::from(render(&m)), Framing::Datagram, &Limits::default()).unwrap();
        let mut ed = Editor::new(&msg);
        ed.prepend("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKproxy");
        ed.prepend("Record-Route", "<sip:192.0.2.1;lr>");
        let top = msg.top_via().unwrap();
        ed.set_via_param(&top, "received", Some("198.51.100.7")).unwrap();
        ed.set_via_param(&top, "rport", Some("5099")).unwrap();
        if !m.routes.is_empty() {
            ed.remove_value(HeaderName::Route, 0).unwrap();
        }
        let mf = ed.decrement_max_forwards();
        let out = ed.finish().unwrap();
        let fwd = Message::parse(out, Framing::Datagram, &Limits::default()).unwrap();
        let vias: Vec<_> = fwd.vias().map(Result::unwrap).collect();
        prop_assert_eq!(vias.len(), m.vias.len() + 1);
        prop_assert_eq!(vias[0].branch(), Some("z9hG4bKproxy"));
        prop_assert_eq!(vias[1].branch(), Some(m.vias[0].branch.as_str()));
        prop_assert_eq!(vias[1].received(), Some("198.51.100.7".parse().unwrap()));
        prop_assert_eq!(vias[1].rport(), Some(Some(5099)));
        // The Vias below the edited one are unchanged, in order.
        let below: Vec<String> = msg.vias().skip(1).map(|v| v.unwrap().as_str().to_string()).collect();
        let after: Vec<String> = vias[2..].iter().map(|v| v.as_str().to_string()).collect();
        prop_assert_eq!(after, below);
        let routes: Vec<_> = fwd.routes().map(|r| r.unwrap().uri_raw.to_string()).collect();
        prop_assert_eq!(&routes[..], m.routes.get(1..).unwrap_or(&[]));
        prop_assert_eq!(fwd.record_routes().count(), 1);
        match (m.max_forwards, mf) {
            (Some(0), r) => prop_assert!(r.is_err()),
            (Some(n), Ok(v)) => { prop_assert_eq!(v, n - 1); prop_assert_eq!(fwd.max_forwards().unwrap(), Some(n - 1)); }
            (None, Ok(v)) => { prop_assert_eq!(v, 70); prop_assert_eq!(fwd.max_forwards().unwrap(), Some(70)); }
            (_, Err(e)) => prop_assert!(false, "{e}"),
        }
        prop_assert_eq!(fwd.call_id().unwrap(), msg.call_id().unwrap());
        prop_assert_eq!(fwd.from_tag(), msg.from_tag());
        prop_assert_eq!(fwd.body(), msg.body());
        for (k, v) in &m.extra {
            prop_assert_eq!(fwd.header_by_name(k), msg.header_by_name(k));
            let _ = v;
        }
    }

    /// Any chunking of a stream of messages and keepalives yields the same frames.
    #[test]
    fn framer_any_chunking(ms in proptest::collection::vec(model(), 1..4), cuts in proptest::collection::vec(1usize..64, 1..40), pings in any::<u8>()) {
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for (i, m) in ms.iter().enumerate() {
            if pings & (1 << i) != 0 {
                stream.extend_from_slice(b"\r\n\r\n");
                want.push(Frame::Ping);
            }
            let bytes = render(m);
            stream.extend_from_slice(&bytes);
            want.push(Frame::Message(Bytes::from(bytes)));
        }
        let mut f = StreamFramer::new(Limits::default());
        let mut got = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        while pos < stream.len() {
            let n = cuts[k % cuts.len()].min(stream.len() - pos);
            k += 1;
            f.push(&stream[pos..pos + n]);
            pos += n;
            while let Some(fr) = f.next_frame().unwrap() {
                got.push(fr);
            }
        }
        prop_assert_eq!(got, want);
        prop_assert_eq!(f.buffered(), 0);
    }
}

/// Real messages (the RFC 4475 files with a Content-Length that frames) fed
/// one byte at a time and in random chunkings frame exactly as a whole.
#[test]
fn framer_real_messages_any_chunking() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/rfc4475");
    let mut stream = Vec::new();
    let mut want = Vec::new();
    for name in [
        "TC_WSINV.dat",
        "TC_INTMETH.dat",
        "TC_LONGREQ_V.dat",
        "TC_MPART01.dat",
        "TC_UNREASON_V.dat",
        "TC_ESC01_V.dat",
        "TC_SEMIURI_V.dat",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        stream.extend_from_slice(&bytes);
        stream.extend_from_slice(b"\r\n\r\n");
        want.push(Frame::Message(Bytes::from(bytes)));
        want.push(Frame::Ping);
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for chunk_max in [1usize, 2, 3, 7, 64, 1500, usize::MAX] {
        let mut f = StreamFramer::new(Limits::default());
        let mut got = Vec::new();
        let mut pos = 0;
        while pos < stream.len() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = if chunk_max == usize::MAX {
                stream.len()
            } else {
                1 + (seed as usize) % chunk_max
            };
            let n = n.min(stream.len() - pos);
            f.push(&stream[pos..pos + n]);
            pos += n;
            while let Some(fr) = f.next_frame().unwrap() {
                got.push(fr);
            }
        }
        assert_eq!(got, want, "chunks up to {chunk_max}");
    }
}
