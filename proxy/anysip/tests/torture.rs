//! The RFC 4475 messages sent to the running edge over UDP and TCP get the
//! handling of `tests/data/rfc4475/expected.tsv`: forwarded to the backend,
//! answered with the status code, or dropped.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/harness.rs"]
mod harness;

use harness::Proc;

const EDGE: &str = "127.0.0.1:25060";
const BACKEND: &str = "127.0.0.1:25070";
const ADMIN: &str = "127.0.0.1:29091";

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/rfc4475")
}

/// A backend that answers the edge's probes and records everything else.
fn backend() -> UdpSocket {
    let s = UdpSocket::bind(BACKEND).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    s
}

/// Reads what reached the backend within `wait`, answering probes.
fn drain_backend(b: &UdpSocket, wait: Duration) -> Vec<String> {
    let mut got = vec![];
    let t0 = Instant::now();
    let mut buf = [0u8; 65535];
    while t0.elapsed() < wait {
        let Ok((n, from)) = b.recv_from(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if text.starts_with("OPTIONS ") && text.contains("anysip-probe") {
            let via = text.lines().find(|l| l.starts_with("Via:")).unwrap_or("");
            let callid = text
                .lines()
                .find(|l| l.starts_with("Call-ID:"))
                .unwrap_or("");
            let resp = format!("SIP/2.0 200 OK\r\n{via}\r\nFrom: <sip:a@b>;tag=p\r\nTo: <sip:b@c>;tag=q\r\n{callid}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
            b.send_to(resp.as_bytes(), from).unwrap();
            continue;
        }
        got.push(text);
    }
    got
}

fn status_of(resp: &str) -> String {
    resp.get(8..11).unwrap_or("???").to_string()
}

/// The backend is a UDP socket of the test: `limits.udp_mtu` is raised so
/// that the long torture messages stay on UDP rather than going over TCP
/// (RFC 3261 §18.1.1, tested in streams.rs) to a backend without TCP.
#[test]
fn rfc4475_over_udp_and_tcp() {
    let dir = std::env::temp_dir().join(format!("anysip-torture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("edge.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen:\n  udp: [{EDGE}]\n  tcp: [{EDGE}]\nadmin:\n  listen: {ADMIN}\n\
             limits:\n  udp_mtu: 65535\n\
             gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        interval_secs: 1\n        timeout_secs: 1\n      destinations:\n        - uri: sip:{BACKEND}\n          address: {BACKEND}\n\
             edge:\n  keys:\n    dev: true\n"
        ),
    )
    .unwrap();
    let b = backend();
    let _edge = Proc(
        Command::new(env!("CARGO_BIN_EXE_anysip"))
            .args(["run", "-c"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Let the edge start and see a probe answered.
    drain_backend(&b, Duration::from_millis(1500));
    let table = std::fs::read_to_string(data().join("expected.tsv")).unwrap();
    let ue = UdpSocket::bind("127.0.0.1:0").unwrap();
    ue.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut failures = vec![];
    for line in table.lines().skip(1) {
        let (file, want) = line.split_once('\t').unwrap();
        let bytes = std::fs::read(data().join(file)).unwrap();
        // UDP.
        ue.send_to(&bytes, EDGE).unwrap();
        let mut buf = [0u8; 65535];
        let answer = ue
            .recv_from(&mut buf)
            .ok()
            .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).to_string());
        let at_backend = drain_backend(&b, Duration::from_millis(150));
        let got = match (&answer, at_backend.is_empty()) {
            (Some(a), _) => status_of(a),
            (None, false) => "forward".to_string(),
            (None, true) => "drop".to_string(),
        };
        // A response that is forwarded goes to the UE flow named in the
        // edge's Via token; the torture responses carry no such Via, so
        // "forward" for a response means dropped here (foreign Via): the
        // edge never routes a response by Vias it did not add.
        let want_udp = if bytes.starts_with(b"SIP/2.0") {
            "drop"
        } else {
            want
        };
        if got != want_udp {
            failures.push(format!("UDP {file}: expected {want_udp}, got {got}"));
        }
        // TCP: messages that frame (Content-Length present and complete).
        let text = String::from_utf8_lossy(&bytes);
        let framed = [
            "TC_INV2543_I.dat",
            "TC_CLERR_I.dat",
            "TC_NCL_I.dat",
            "TC_MCL01_I.dat",
            "TC_BADDN_I.dat",
        ];
        if framed.contains(&file)
            || !text.to_ascii_lowercase().contains("\nl:")
                && !text.to_ascii_lowercase().contains("content-length")
        {
            continue;
        }
        let mut c = TcpStream::connect(EDGE).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        c.write_all(&bytes).unwrap();
        let mut resp = vec![0u8; 4096];
        let n = c.read(&mut resp).unwrap_or(0);
        let at_backend = drain_backend(&b, Duration::from_millis(150));
        let got = if n > 0 {
            status_of(&String::from_utf8_lossy(&resp[..n]))
        } else if !at_backend.is_empty() {
            "forward".to_string()
        } else {
            "drop".to_string()
        };
        if got != want_udp {
            failures.push(format!("TCP {file}: expected {want_udp}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}
