//! A real WebRTC SIP stack through the edge (RFC 7118): SIP.js in Node
//! (tests/webrtc/ua.mjs, over the `ws` package's WebSocket client)
//! registers with digest authentication over WS, and then over WSS (a test
//! CA made here), through the edge to the core running the shipped
//! `proxy_default.py`; sipp calls it (INVITE through the edge over UDP, the
//! core, back through the edge over the UE's WebSocket) and hangs up; then
//! it calls a sipp UAS registered over UDP and hangs up itself, and
//! unregisters. The edge's ledger holds and no WebSocket was refused; then
//! a plain HTTP Upgrade on the WSS port is closed and counted.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use harness::{http, http_status, repo_tests, sipp, tool, wait_for, Proc};
use lab::{
    core_yaml, deploy_script, dump_logs, edge_yaml, keys, scratch, sipp_ok, sipp_register, start,
    AUTH,
};

const EDGE: &str = "127.0.0.1:18960";
const WS: &str = "127.0.0.1:18961";
const WSS: &str = "127.0.0.1:18962";
const CORE: &str = "127.0.0.1:18970";
const ADMIN: &str = "127.0.0.1:18991";
const CORE_ADMIN: &str = "127.0.0.1:18992";
const BOB_PORT: &str = "18980";
const CALLER_PORT: &str = "18981";

/// `tests/webrtc` with its node_modules (`npm ci`, run by scripts/test).
fn webrtc_dir() -> Option<PathBuf> {
    let dir = repo_tests().join("webrtc");
    if dir.join("node_modules/sip.js").is_dir() && dir.join("node_modules/ws").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "tests/webrtc/node_modules is missing: run npm ci in tests/webrtc (scripts/test does)"
    );
    eprintln!("SKIPPED: tests/webrtc/node_modules is missing (npm ci in tests/webrtc)");
    None
}

/// A test CA and a certificate it signed for 127.0.0.1 and localhost:
/// (ca.pem, cert.pem, key.pem) in `dir`.
fn test_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "anysip test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "anysip edge");
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// The SIP.js user agent, its stdout lines arriving on a channel.
struct Ua {
    _proc: Proc,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Ua {
    fn start(node: &Path, dir: &Path, server: &str, ca: &Path, log: &Path) -> Ua {
        let mut child = Command::new(node)
            .arg(dir.join("ua.mjs"))
            .args([
                server,
                "carol",
                "carol",
                "domain.local",
                "sip:bob@domain.local",
            ])
            .current_dir(dir)
            .env("NODE_EXTRA_CA_CERTS", ca)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ua {
            _proc: Proc(child),
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most `limit`) for the line `want`; fails on `failed: ...`.
    fn expect(&mut self, want: &str, limit: Duration, logs: &Path) {
        let t0 = Instant::now();
        loop {
            let left = limit.saturating_sub(t0.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let done = l == want || l.starts_with(&format!("{want} "));
                    let failed = l.starts_with("failed");
                    self.seen.push(l);
                    if done {
                        return;
                    }
                    if failed {
                        dump_logs(logs);
                        panic!("SIP.js failed before {want:?}: {:?}", self.seen);
                    }
                }
                Err(_) => {
                    dump_logs(logs);
                    panic!("SIP.js: no {want:?} within {limit:?}: {:?}", self.seen);
                }
            }
        }
    }
}

/// One round over `server`: SIP.js registers, is called by sipp (who hangs
/// up), calls bob's sipp UAS and hangs up.
fn round(node: &Path, sipp_bin: &Path, dir: &Path, js: &Path, server: &str, ca: &Path) {
    let transport = if server.starts_with("wss:") {
        "wss"
    } else {
        "ws"
    };
    let log = dir.join(format!("sipjs-{transport}.log"));
    let mut ua = Ua::start(node, js, server, ca, &log);
    ua.expect("registered", Duration::from_secs(20), dir);

    // The binding as the core keeps it: SIP.js's contact (an .invalid
    // host, transport=ws) reached through the edge's Path.
    let (st, body) = http(
        CORE_ADMIN,
        "GET",
        "/admin/registrations/sip:carol@domain.local",
        None,
    )
    .unwrap();
    assert_eq!(st, 200, "{body}");
    let reg: serde_json::Value = serde_json::from_str(&body).unwrap();
    let binding = &reg["bindings"][0];
    let contact = binding["contact"].as_str().unwrap();
    assert!(
        contact.contains(".invalid") && contact.contains("transport=ws"),
        "{reg}"
    );
    assert_eq!(binding["path"].as_array().unwrap().len(), 1, "{reg}");

    let sc = repo_tests().join("sipp");
    let uas_xml = sc.join("uas.xml");
    let mut bob = sipp(
        sipp_bin,
        &[
            "-sf",
            uas_xml.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            BOB_PORT,
            "-m",
            "1",
            "-timeout",
            "60s",
        ],
    );

    // sipp calls carol: INVITE to the edge over UDP, the core, back
    // through the edge over carol's WebSocket; ACK and BYE along the
    // Record-Route.
    let uac_xml = sc.join("core-uac.xml");
    sipp_ok(
        sipp_bin,
        dir,
        &[
            "-sf",
            uac_xml.to_str().unwrap(),
            EDGE,
            "-s",
            "carol",
            "-key",
            "other_ip",
            "127.0.0.1",
            "-key",
            "other_port",
            EDGE.rsplit(':').next().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            CALLER_PORT,
            "-m",
            "1",
            "-timeout",
            "30s",
        ],
        Duration::from_secs(40),
        &format!("sipp calls SIP.js over {transport} and hangs up"),
    );
    ua.expect("invited by alice", Duration::from_secs(5), dir);
    ua.expect("answered", Duration::from_secs(5), dir);
    ua.expect("remote bye", Duration::from_secs(10), dir);

    // SIP.js calls bob (sipp UAS, registered over UDP) and hangs up.
    ua.expect("established", Duration::from_secs(15), dir);
    ua.expect("bye accepted", Duration::from_secs(10), dir);
    ua.expect("local bye", Duration::from_secs(10), dir);
    let st = bob
        .wait_timeout(Duration::from_secs(15))
        .unwrap_or_else(|| {
            dump_logs(dir);
            panic!("bob's UAS did not finish its call")
        });
    assert!(
        st.success(),
        "bob's UAS: the call from SIP.js over {transport}: {st}"
    );
    ua.expect("unregistered", Duration::from_secs(10), dir);
    ua.expect("done", Duration::from_secs(10), dir);
    let (st, _) = http(
        CORE_ADMIN,
        "GET",
        "/admin/registrations/sip:carol@domain.local",
        None,
    )
    .unwrap();
    assert_eq!(st, 404, "carol unregistered");
    eprintln!("SIP.js over {transport}: {:?}", ua.seen);
}

/// The edge's counter of messages in over `transport`.
fn received_over(transport: &str) -> u64 {
    let (_, text) = http(ADMIN, "GET", "/metrics", None).unwrap();
    let want = format!("direction=\"in\",transport=\"{transport}\"");
    text.lines()
        .filter(|l| l.starts_with("anysip_messages_total") && l.contains(&want))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn sipjs_registers_calls_and_is_called_over_ws_and_wss() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let Some(node) = tool("node") else { return };
    let Some(js) = webrtc_dir() else { return };
    let dir = scratch("webrtc");
    let keys = keys(&dir);
    let (ca, cert, key) = test_ca(&dir);
    let _core = start(
        &dir,
        "core",
        &core_yaml(CORE, CORE_ADMIN, &deploy_script("proxy_default.py"), AUTH),
    );
    let edge = edge_yaml(EDGE, ADMIN, 1, &keys, &[CORE]).replace(
        &format!("listen:\n  udp: [{EDGE}]\n"),
        &format!(
            "listen:\n  udp: [{EDGE}]\n  ws: [{WS}]\n  wss: [{WSS}]\ntls:\n  cert: {}\n  key: {}\n",
            cert.display(),
            key.display()
        ),
    );
    assert!(edge.contains("wss:"), "{edge}");
    let _edge = start(&dir, "edge", &edge);
    wait_for(
        "edge ready (core answers probes)",
        Duration::from_secs(20),
        || http_status(ADMIN, "GET", "/admin/ready") == Some(200),
    );
    sipp_register(&sipp_bin, &dir, EDGE, "bob", BOB_PORT);

    round(&node, &sipp_bin, &dir, &js, &format!("ws://{WS}"), &ca);
    let over_ws = received_over("ws");
    assert!(over_ws >= 8, "{over_ws} messages in over WS");
    round(&node, &sipp_bin, &dir, &js, &format!("wss://{WSS}"), &ca);
    let over_wss = received_over("wss");
    assert!(over_wss >= 8, "{over_wss} messages in over WSS");

    // Every message accounted for; no WebSocket refused.
    wait_for("the edge's ledger balances", Duration::from_secs(3), || {
        let (received, accounted) = harness::ledger(ADMIN);
        received == accounted
    });
    let (_, text) = http(ADMIN, "GET", "/metrics", None).unwrap();
    let refused: u64 = text
        .lines()
        .filter(|l| l.starts_with("anysip_ws_refused_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(refused, 0, "{text}");
    // A plain HTTP Upgrade on the WSS port: the TLS handshake fails, the
    // connection is closed and counted.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(WSS).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(
            b"GET / HTTP/1.1\r\nHost: edge\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        )
        .unwrap();
        let mut buf = [0u8; 256];
        let t0 = Instant::now();
        while !matches!(s.read(&mut buf), Ok(0) | Err(_)) {
            assert!(t0.elapsed() < Duration::from_secs(5), "not closed");
        }
    }
    wait_for("the refusal is counted", Duration::from_secs(2), || {
        let (_, text) = http(ADMIN, "GET", "/metrics", None).unwrap();
        text.lines()
            .any(|l| l == "anysip_ws_refused_total{reason=\"handshake\"} 1")
    });
    let _ = std::fs::remove_dir_all(&dir);
}
