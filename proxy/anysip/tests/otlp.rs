//! With `telemetry.otlp.endpoint` set, every SIP message's span reaches the
//! collector over OTLP/HTTP (JSON, from the OpenTelemetry SDK's exporter),
//! with its Call-ID.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;

use harness::{anysip, http_status, wait_for};

const EDGE: &str = "127.0.0.1:15760";
const ADMIN: &str = "127.0.0.1:19591";

/// A collector that records the body of every POST and answers 200.
fn collector() -> (String, mpsc::Receiver<(String, String)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            // Read the head, then Content-Length bytes of body.
            let (head, body) = loop {
                let n = c.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (String::new(), String::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let head = text[..i].to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    while buf.len() < i + 4 + len {
                        let n = c.read(&mut chunk).unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    break (head, String::from_utf8_lossy(&buf[i + 4..]).to_string());
                }
            };
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
            let _ = tx.send((head, body));
        }
    });
    (addr, rx)
}

#[test]
fn sip_spans_reach_the_collector() {
    let (collector, posts) = collector();
    let dir = std::env::temp_dir().join(format!("anysip-otlp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("edge.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen:\n  udp: [{EDGE}]\nadmin:\n  listen: {ADMIN}\nmetrics:\n  prometheus:\n    listen: 127.0.0.1:19592\ntelemetry:\n  otlp:\n    endpoint: http://{collector}\n    service_name: edge-under-test\n\
             gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        enabled: false\n      destinations:\n        - uri: sip:127.0.0.1:15770\n          address: 127.0.0.1:15770\n\
             edge:\n  keys:\n    dev: true\n"
        ),
    )
    .unwrap();
    let _edge = anysip(&cfg);
    wait_for("edge ready", Duration::from_secs(10), || {
        http_status(ADMIN, "GET", "/admin/ready") == Some(200)
    });
    let ue = UdpSocket::bind("127.0.0.1:0").unwrap();
    ue.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let p = ue.local_addr().unwrap().port();
    ue.send_to(format!("OPTIONS sip:{EDGE} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKotlp\r\nMax-Forwards: 70\r\nFrom: <sip:m@x>;tag=1\r\nTo: <sip:{EDGE}>\r\nCall-ID: otlp-call-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").as_bytes(), EDGE).unwrap();
    let mut buf = [0u8; 2048];
    assert!(ue.recv_from(&mut buf).is_ok(), "OPTIONS answered");
    let (head, body) = posts
        .recv_timeout(Duration::from_secs(5))
        .expect("a POST to the collector");
    assert!(head.starts_with("POST /v1/traces HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let rs = &doc["resourceSpans"][0];
    let resource = rs["resource"]["attributes"].as_array().unwrap();
    assert!(
        resource
            .iter()
            .any(|a| a["key"] == "service.name" && a["value"]["stringValue"] == "edge-under-test"),
        "{resource:?}"
    );
    let span = &rs["scopeSpans"][0]["spans"][0];
    assert_eq!(span["name"], "sip");
    assert_eq!(span["traceId"].as_str().unwrap().len(), 32);
    let attrs = span["attributes"].as_array().unwrap();
    assert!(
        attrs
            .iter()
            .any(|a| a["key"] == "sip.call_id" && a["value"]["stringValue"] == "otlp-call-1"),
        "{attrs:?}"
    );
    // metrics.prometheus.listen serves /metrics on a listener of its own.
    assert_eq!(http_status("127.0.0.1:19592", "GET", "/metrics"), Some(200));
    let _ = std::fs::remove_dir_all(&dir);
}
