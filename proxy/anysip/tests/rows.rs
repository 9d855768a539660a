//! The edge's behaviour table (DESIGN §6), row by row, against the running
//! binary on loopback: forged tokens, foreign responses, Max-Forwards 0,
//! OPTIONS to the edge, requests from a backend without a token, no
//! healthy backend (admin mark down / up), a dead backend found by the
//! prober, and a drain that lets a call in progress finish.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use harness::{anysip, http_status, wait_for};
use sip::{Framing, HeaderName, Limits, Message};

const EDGE: &str = "127.0.0.1:15560";
const BACKEND: &str = "127.0.0.1:15570";
const ADMIN: &str = "127.0.0.1:19391";
const INTERVAL_SECS: u64 = 1;
const FAILURES: u64 = 2;

/// A backend that answers probes while `alive`, and hands every other
/// message to the test.
struct Backend {
    sock: Arc<UdpSocket>,
    alive: Arc<AtomicBool>,
    rx: mpsc::Receiver<Message>,
}

impl Backend {
    fn start() -> Backend {
        let sock = Arc::new(UdpSocket::bind(BACKEND).unwrap());
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let alive = Arc::new(AtomicBool::new(true));
        let (tx, rx) = mpsc::channel();
        let (s, a) = (sock.clone(), alive.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 65535];
            loop {
                let Ok((n, from)) = s.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(m) = Message::parse(
                    Bytes::copy_from_slice(&buf[..n]),
                    Framing::Datagram,
                    &Limits::default(),
                ) else {
                    continue;
                };
                if m.call_id().is_ok_and(|c| c.starts_with("anysip-probe")) {
                    if a.load(Ordering::SeqCst) {
                        let ok = sip::response::response(&m, 200).unwrap().build();
                        let _ = s.send_to(&ok, from);
                    }
                    continue;
                }
                if tx.send(m).is_err() {
                    return;
                }
            }
        });
        Backend { sock, alive, rx }
    }

    fn next(&self, within: Duration) -> Option<Message> {
        self.rx.recv_timeout(within).ok()
    }

    fn send(&self, bytes: &[u8]) {
        self.sock.send_to(bytes, EDGE).unwrap();
    }
}

struct Ue(UdpSocket);

impl Ue {
    fn new() -> Ue {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        Ue(s)
    }
    fn send(&self, b: &[u8]) {
        self.0.send_to(b, EDGE).unwrap();
    }
    fn recv(&self) -> Option<Message> {
        let mut buf = [0u8; 65535];
        let (n, _) = self.0.recv_from(&mut buf).ok()?;
        Message::parse(
            Bytes::copy_from_slice(&buf[..n]),
            Framing::Datagram,
            &Limits::default(),
        )
        .ok()
    }
    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }
}

fn request(method: &str, branch: &str, call: &str, extra: &str, port: u16) -> Vec<u8> {
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\n{extra}\
         From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\nCall-ID: {call}\r\nCSeq: 1 {method}\r\n\
         Contact: <sip:alice@127.0.0.1:{port}>\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn scrape() -> String {
    let mut s = std::net::TcpStream::connect(ADMIN).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

fn value(line: &str) -> u64 {
    line.rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn metric(name_and_labels: &str) -> u64 {
    scrape()
        .lines()
        .find(|l| l.starts_with(name_and_labels))
        .map_or(0, value)
}

/// The edge's ledger: (received, accounted).
fn ledger() -> (u64, u64) {
    harness::ledger(ADMIN)
}

/// Waits (2 s at most) for the ledger to balance after `row`.
fn balanced(row: &str) {
    let t0 = Instant::now();
    loop {
        let (received, accounted) = ledger();
        if received == accounted && received > 0 {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "after {row}: {received} messages received, {accounted} accounted for\n{}",
            scrape()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_row_of_the_behaviour_table() {
    let dir = std::env::temp_dir().join(format!("anysip-rows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("edge.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen:\n  udp: [{EDGE}]\nadmin:\n  listen: {ADMIN}\nserver:\n  drain_secs: 3\n\
             gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        interval_secs: {INTERVAL_SECS}\n        timeout_secs: 1\n        failure_threshold: {FAILURES}\n        success_threshold: 1\n      destinations:\n        - uri: sip:{BACKEND}\n          address: {BACKEND}\n\
             edge:\n  keys:\n    dev: true\n  retry_after_secs: 7\n"
        ),
    )
    .unwrap();
    let backend = Backend::start();
    let mut edge = anysip(&cfg);
    wait_for("edge ready", Duration::from_secs(10), || {
        http_status(ADMIN, "GET", "/admin/ready") == Some(200)
    });
    let ue = Ue::new();
    let p = ue.port();

    // OPTIONS to the edge itself: 200.
    ue.send(format!("OPTIONS sip:{EDGE} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKo1\r\nMax-Forwards: 70\r\nFrom: <sip:m@x>;tag=1\r\nTo: <sip:{EDGE}>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").as_bytes());
    assert_eq!(ue.recv().unwrap().status(), Some(200));
    balanced("OPTIONS to the edge");

    // A forged token: 403, nothing reaches the backend, counted.
    let forged = format!(
        "Route: <sip:AQHZBwBn5j9SKO9n1Vr5pFSepXo9vbl6AQGLrkxjsdTBaET_eg7sWtoQS8Xh@{EDGE};lr>\r\n"
    );
    ue.send(&request("BYE", "z9hG4bKf1", "forged", &forged, p));
    assert_eq!(ue.recv().unwrap().status(), Some(403));
    assert!(
        backend.next(Duration::from_millis(300)).is_none(),
        "nothing forwarded on a forged token"
    );
    // The reply is counted after it is sent: once the ledger balances.
    balanced("forged token");
    assert!(metric("anysip_replies_total{status=\"403\"}") >= 1);
    assert!(metric("anysip_token_opens_total{result=\"rejected\"}") >= 1);

    // Max-Forwards 0: 483.
    ue.send(&request(
        "INVITE",
        "z9hG4bKm0",
        "mf0",
        "Max-Forwards: 0\r\n",
        p,
    ));
    assert_eq!(ue.recv().unwrap().status(), Some(483));
    balanced("Max-Forwards 0");

    // Not SIP at all: dropped by the packet filter, counted there.
    ue.send(b"\x16\x03\x01 definitely not SIP");
    assert!(ue.recv().is_none());
    assert!(
        metric("anysip_filter_packets_total{path=\"user_space\",verdict=\"drop_not_sip\"}") >= 1
    );
    balanced("junk");

    // A STUN binding request (RFC 5389, RFC 5626 keepalive): answered.
    let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(b"0123456789ab");
    ue.send(&stun);
    let mut buf = [0u8; 256];
    let (n, _) = ue.0.recv_from(&mut buf).expect("STUN answer");
    assert_eq!(&buf[..2], &[0x01, 0x01], "binding success ({n} bytes)");
    balanced("STUN");
    assert_eq!(metric("anysip_stun_total{result=\"answered\"}"), 1);

    // An answer to a probe this instance did not send: dropped, counted.
    ue.send(format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {EDGE};branch=z9hG4bK-anysip-probe-999999;rport\r\nFrom: <sip:anysip@x>;tag=probe\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: anysip-probe-999999@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").as_bytes());
    assert!(ue.recv().is_none());
    assert_eq!(
        metric("anysip_drops_total{reason=\"stray_probe_answer\"}"),
        1
    );
    balanced("stray probe answer");

    // A response whose top Via is not the edge's: dropped and counted.
    ue.send(format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKx\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: fv\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").as_bytes());
    assert!(backend.next(Duration::from_millis(300)).is_none());
    assert!(ue.recv().is_none());
    assert!(metric("anysip_drops_total{reason=\"foreign_via\"}") >= 1);
    balanced("foreign Via");

    // A request from the backend without the edge's token: refused.
    backend.send(&request(
        "INVITE",
        "z9hG4bKb1",
        "from-backend",
        "Max-Forwards: 70\r\n",
        15570,
    ));
    let refused = backend.next(Duration::from_secs(2));
    // The refusal goes back to the backend's socket, which our thread reads.
    let refused = refused.expect("the backend gets an answer");
    assert_eq!(refused.status(), Some(403));
    balanced("backend without token");

    // No healthy backend (marked down through the admin API): 503 with Retry-After.
    let uri = format!("sip:{BACKEND}");
    assert_eq!(
        http_status(
            ADMIN,
            "POST",
            &format!("/admin/gateways/backends/{uri}/down")
        ),
        Some(200)
    );
    assert_eq!(http_status(ADMIN, "GET", "/admin/ready"), Some(503));
    ue.send(&request(
        "INVITE",
        "z9hG4bKn1",
        "nobackend",
        "Max-Forwards: 70\r\n",
        p,
    ));
    let r = ue.recv().unwrap();
    assert_eq!(r.status(), Some(503));
    assert_eq!(r.header(HeaderName::RetryAfter), Some("7"));
    balanced("no healthy backend");
    assert!(metric("anysip_replies_total{status=\"503\"}") >= 1);
    // The ACK to that 503 is never answered: absorbed, counted.
    ue.send(&request(
        "ACK",
        "z9hG4bKn1",
        "nobackend",
        "Max-Forwards: 70\r\n",
        p,
    ));
    assert!(ue.recv().is_none());
    assert_eq!(metric("anysip_drops_total{reason=\"ack_absorbed\"}"), 1);
    assert_eq!(metric("anysip_drops_total{reason=\"unparseable\"}"), 0);
    balanced("ACK to the edge's 503");
    assert_eq!(
        http_status(ADMIN, "POST", &format!("/admin/gateways/backends/{uri}/up")),
        Some(200)
    );
    wait_for("ready after mark up", Duration::from_secs(3), || {
        http_status(ADMIN, "GET", "/admin/ready") == Some(200)
    });

    // A call in progress, then a drain: not ready at once, the call finishes.
    ue.send(&request(
        "INVITE",
        "z9hG4bKc1",
        "call",
        "Max-Forwards: 70\r\n",
        p,
    ));
    let inv = backend
        .next(Duration::from_secs(2))
        .expect("INVITE forwarded");
    let mut ok = sip::response::response(&inv, 200).unwrap().to_tag("b1");
    for rr in inv.values(HeaderName::RecordRoute) {
        ok = ok.header("Record-Route", rr);
    }
    backend.send(&ok.build());
    let ok = ue.recv().expect("200 reaches the UE");
    assert_eq!(ok.status(), Some(200));
    // What was sent is counted after the send: once the ledger balances.
    balanced("a call through the edge");
    assert!(
        metric("anysip_token_opens_total{result=\"opened\"}") >= 1,
        "the 200 followed the Via token"
    );
    assert!(metric("anysip_messages_total{direction=\"in\",transport=\"udp\",method=\"INVITE\",status=\"\"}") >= 2);
    assert!(
        metric(
            "anysip_messages_total{direction=\"out\",transport=\"udp\",method=\"\",status=\"200\"}"
        ) >= 1
    );
    assert!(metric("anysip_forwarding_seconds_count") >= 5);
    assert!(metric("anysip_forwarded_total{to=\"backend\"}") >= 1);
    assert!(metric("anysip_forwarded_total{to=\"ue\"}") >= 1);
    let routes: Vec<&str> = ok.values(HeaderName::RecordRoute).collect();
    let route = format!(
        "Route: {}\r\nMax-Forwards: 70\r\n",
        routes.iter().rev().cloned().collect::<Vec<_>>().join(", ")
    );
    let pid = edge.0.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    wait_for("not ready after SIGTERM", Duration::from_secs(1), || {
        http_status(ADMIN, "GET", "/admin/ready") == Some(503)
    });
    let ack = String::from_utf8(request("ACK", "z9hG4bKc1a", "call", &route, p))
        .unwrap()
        .replace(
            "To: <sip:bob@example.com>",
            "To: <sip:bob@example.com>;tag=b1",
        );
    ue.send(ack.as_bytes());
    assert_eq!(
        backend
            .next(Duration::from_secs(2))
            .expect("ACK while draining")
            .method(),
        Some(&sip::Method::Ack)
    );
    let bye = String::from_utf8(request("BYE", "z9hG4bKc1b", "call", &route, p))
        .unwrap()
        .replace(
            "To: <sip:bob@example.com>",
            "To: <sip:bob@example.com>;tag=b1",
        )
        .replace("CSeq: 1 BYE", "CSeq: 2 BYE");
    ue.send(bye.as_bytes());
    let bye = backend
        .next(Duration::from_secs(2))
        .expect("BYE while draining");
    backend.send(&sip::response::response(&bye, 200).unwrap().build());
    assert_eq!(
        ue.recv().expect("200 to BYE while draining").status(),
        Some(200)
    );
    let status = edge
        .wait_timeout(Duration::from_secs(10))
        .expect("exits after drain_secs");
    assert!(status.success(), "{status}");

    // A dead backend is marked down within failure_threshold × interval (+ probe timeout).
    let mut edge = anysip(&cfg);
    wait_for("edge ready again", Duration::from_secs(10), || {
        http_status(ADMIN, "GET", "/admin/ready") == Some(200)
    });
    backend.alive.store(false, Ordering::SeqCst);
    let t0 = Instant::now();
    let limit = Duration::from_secs(FAILURES * INTERVAL_SECS + 1 + 1);
    wait_for("backend marked down", limit, || {
        http_status(ADMIN, "GET", "/admin/ready") == Some(503)
    });
    eprintln!(
        "dead backend marked down after {:?} (limit {limit:?})",
        t0.elapsed()
    );
    let _ = edge.0.kill();
    let _ = std::fs::remove_dir_all(&dir);
}
