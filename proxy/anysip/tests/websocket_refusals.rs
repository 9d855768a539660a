//! Bad input on the edge's WebSocket listener (RFC 7118): an Upgrade
//! without the `sip` subprotocol, an Origin outside the allow-list, a frame
//! over the size limit, a text frame that is not UTF-8, an unmasked frame
//! and a half-open Upgrade are each refused or closed, counted on
//! `/metrics` (`anysip_ws_refused_total`), pass nothing on to the backend,
//! and the edge serves the next client: a SIP request over WebSocket goes
//! to the backend with the edge's Via and a `;transport=ws` Record-Route,
//! and the response comes back over the connection.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/ws.rs"]
mod ws;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use harness::{anysip, http, http_status, wait_for};
use sip::{Framing, HeaderName, Limits, Message};
use ws::{frame, read_frame, upgrade, Upgrade};

const UDP: &str = "127.0.0.1:18160";
const WS: &str = "127.0.0.1:18161";
const BACKEND: &str = "127.0.0.1:18170";
const ADMIN: &str = "127.0.0.1:18191";
const ORIGIN: &str = "https://phone.example.com";

fn metric(name: &str, reason: &str) -> u64 {
    let (_, text) = http(ADMIN, "GET", "/metrics", None).unwrap();
    let want = format!("{name}{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&want)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {want} in /metrics"))
}

/// Waits (2 s at most) for `anysip_ws_refused_total{reason}` to be `n`.
fn counted(reason: &str, n: u64) {
    let t0 = Instant::now();
    loop {
        let v = metric("anysip_ws_refused_total", reason);
        if v == n {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "{reason}: {v}, not {n}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn received() -> u64 {
    let (_, body) = http(ADMIN, "GET", "/admin/stats", None).unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["messages_received"].as_u64().unwrap()
}

/// The connection is closed by the edge within `limit`: a close frame with
/// `code` (when given) then the end of the stream.
fn closed_with(s: &mut TcpStream, code: Option<u16>, limit: Duration) {
    s.set_read_timeout(Some(limit)).unwrap();
    if let Some(code) = code {
        let (op, payload) = read_frame(s).expect("a close frame");
        assert_eq!(op, 0x8, "close frame");
        assert_eq!(
            u16::from_be_bytes([payload[0], payload[1]]),
            code,
            "close code"
        );
        // The client's half of the close handshake.
        let _ = s.write_all(&frame(0x8, &payload[..2], true));
    }
    let t0 = Instant::now();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("connection not closed: {e}"),
        }
        assert!(t0.elapsed() < limit, "connection not closed");
    }
}

/// The next client is served: an OPTIONS to the edge itself over a fresh
/// WebSocket gets its 200 over the same connection.
fn next_client_served(n: u32) {
    let mut s = upgrade(WS, &Upgrade::sip(Some(ORIGIN))).unwrap();
    let options = format!(
        "OPTIONS sip:{UDP} SIP/2.0\r\nVia: SIP/2.0/WS h{n}.invalid;branch=z9hG4bKnext{n}\r\nMax-Forwards: 70\r\n\
         From: <sip:probe@example.com>;tag=n{n}\r\nTo: <sip:{UDP}>\r\nCall-ID: next-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(&frame(0x1, options.as_bytes(), true)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (op, payload) = read_frame(&mut s).unwrap();
    assert_eq!(op, 0x1, "SIP over WebSocket comes back as a text frame");
    let m = Message::parse(payload.into(), Framing::Datagram, &Limits::default()).unwrap();
    assert_eq!(m.status(), Some(200), "client {n} served");
}

#[test]
fn bad_websocket_input_is_refused_counted_and_not_forwarded() {
    let dir = std::env::temp_dir().join(format!("anysip-ws-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("edge.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen:\n  udp: [{UDP}]\n  ws: [{WS}]\nwebsocket:\n  allowed_origins: [\"{ORIGIN}\"]\n  handshake_timeout_ms: 500\n\
             admin:\n  listen: {ADMIN}\nlimits:\n  max_message_size: 4096\n\
             gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        enabled: false\n      destinations:\n        - uri: sip:{BACKEND}\n          address: {BACKEND}\n\
             edge:\n  keys:\n    dev: true\n"
        ),
    )
    .unwrap();
    let backend = UdpSocket::bind(BACKEND).unwrap();
    backend
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let _edge = anysip(&cfg);
    wait_for("edge ready", Duration::from_secs(10), || {
        http_status(ADMIN, "GET", "/admin/ready") == Some(200)
    });
    let before = received();

    // No sip subprotocol (another one, or none): 400 at the Upgrade.
    for protocol in [Some("chat"), None] {
        let up = Upgrade {
            protocol,
            ..Upgrade::sip(None)
        };
        let (status, mut s) = upgrade(WS, &up).unwrap_err();
        assert_eq!(status, 400, "{protocol:?}");
        closed_with(&mut s, None, Duration::from_secs(3));
    }
    counted("subprotocol", 2);
    next_client_served(1);

    // An Origin not in the allow-list: 403.
    let (status, _) = upgrade(WS, &Upgrade::sip(Some("https://evil.example"))).unwrap_err();
    assert_eq!(status, 403);
    counted("origin", 1);
    next_client_served(2);

    // A frame over the size limit (4096): closed with 1009 before its
    // payload is read.
    let mut s = upgrade(WS, &Upgrade::sip(Some(ORIGIN))).unwrap();
    let big = format!("OPTIONS sip:x SIP/2.0\r\n{}", "X-Pad: y\r\n".repeat(600));
    s.write_all(&frame(0x1, big.as_bytes(), true)).unwrap();
    closed_with(&mut s, Some(1009), Duration::from_secs(5));
    counted("too_big", 1);
    next_client_served(3);

    // A text frame that is not UTF-8: closed with 1007.
    let mut s = upgrade(WS, &Upgrade::sip(Some(ORIGIN))).unwrap();
    s.write_all(&frame(0x1, b"OPTIONS sip:\xff\xfe SIP/2.0\r\n\r\n", true))
        .unwrap();
    closed_with(&mut s, Some(1007), Duration::from_secs(5));
    counted("bad_utf8", 1);
    next_client_served(4);

    // An unmasked client frame (RFC 6455 §5.1): closed with 1002.
    let mut s = upgrade(WS, &Upgrade::sip(Some(ORIGIN))).unwrap();
    s.write_all(&frame(0x2, b"OPTIONS sip:x SIP/2.0\r\n\r\n", false))
        .unwrap();
    closed_with(&mut s, Some(1002), Duration::from_secs(5));
    counted("protocol", 1);
    next_client_served(5);

    // A half-open Upgrade: the request never ends; closed after the
    // handshake timeout (500 ms).
    let mut s = TcpStream::connect(WS).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: edge\r\nUpgrade: websocket\r\n")
        .unwrap();
    let t0 = Instant::now();
    closed_with(&mut s, None, Duration::from_secs(5));
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    counted("handshake_timeout", 1);
    // Not an Upgrade at all: refused.
    let mut s = TcpStream::connect(WS).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: edge\r\n\r\n")
        .unwrap();
    closed_with(&mut s, None, Duration::from_secs(5));
    counted("handshake", 1);
    next_client_served(6);

    // Nothing was passed on: the backend got nothing and the edge received
    // only the six OPTIONS of the clients served.
    let mut buf = [0u8; 8192];
    assert!(
        backend.recv_from(&mut buf).is_err(),
        "nothing reaches the backend"
    );
    assert_eq!(received() - before, 6);

    // A request over WebSocket to the backend: the edge's Via, a double
    // Record-Route (WS towards the UE, UDP towards the backend), and the
    // response back over the connection.
    let mut s = upgrade(WS, &Upgrade::sip(Some(ORIGIN))).unwrap();
    let invite = "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\nCall-ID: ws-call\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws;ob>\r\n\r\n";
    s.write_all(&frame(0x1, invite.as_bytes(), true)).unwrap();
    backend
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (n, from) = backend.recv_from(&mut buf).unwrap();
    let inv = Message::parse(
        bytes::Bytes::copy_from_slice(&buf[..n]),
        Framing::Datagram,
        &Limits::default(),
    )
    .unwrap();
    let vias: Vec<String> = inv.values(HeaderName::Via).map(str::to_string).collect();
    assert!(vias[0].starts_with("SIP/2.0/UDP "), "{vias:?}");
    assert!(
        vias[1].starts_with("SIP/2.0/WS df7jal23ls0d.invalid;")
            && vias[1].contains("received=127.0.0.1"),
        "the UE's Via with received: {vias:?}"
    );
    let rr: Vec<String> = inv
        .values(HeaderName::RecordRoute)
        .map(str::to_string)
        .collect();
    assert_eq!(rr.len(), 2, "{rr:?}");
    // Towards the UE: the WebSocket listener's port and transport.
    assert!(
        rr[1].contains(&format!(
            ":{};transport=ws;lr",
            WS.rsplit(':').next().unwrap()
        )),
        "{rr:?}"
    );
    assert!(!rr[0].contains("transport="), "{rr:?}");
    let ok = sip::response::response(&inv, 200)
        .unwrap()
        .to_tag("b")
        .build();
    backend.send_to(&ok, from).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (op, payload) = read_frame(&mut s).unwrap();
    assert_eq!(op, 0x1);
    let resp = Message::parse(payload.into(), Framing::Datagram, &Limits::default()).unwrap();
    assert_eq!(resp.status(), Some(200));
    assert_eq!(resp.vias().count(), 1, "the edge's Via is gone");
    // The ledger holds: refusals are not messages; every message received
    // was answered or passed on.
    wait_for("the ledger balances", Duration::from_secs(2), || {
        let (received, accounted) = harness::ledger(ADMIN);
        received == accounted && received == 8
    });
    let _ = std::fs::remove_dir_all(&dir);
}
