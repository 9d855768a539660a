//! Streams behind the edge (issue 14): sipp UAs on UDP call each other
//! through an edge whose core is reached over TCP, then over TLS (a test
//! CA; the core's name checked); the core reaches the callee's edge over
//! the same transport (the Path). A 3,000-byte INVITE toward a UDP core
//! goes over TCP (RFC 3261 §18.1.1) both ways. A 65,000-byte OPTIONS toward
//! a UDP-only backend gets 513 from the edge, from a UDP and a TCP UE; a NUL
//! in a Subject gets 400.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::time::Duration;

use harness::{http, http_status, repo_tests, sipp, tool, wait_for};
use lab::{deploy_script, dump_logs, keys, scratch, sipp_ok, sipp_register, start, AUTH};

/// The addresses of one setup: the edge on 127.0.0.1, the core on
/// 127.0.0.3 (backends are told apart from UEs by address).
struct Ports {
    edge: u16,
    core: u16,
    edge_admin: u16,
    core_admin: u16,
    alice: u16,
    bob: u16,
}

/// A CA and two leaf certificates it signed (edge, core), written as PEM.
fn certificates(dir: &Path) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "anysip test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    for (name, sans) in [
        (
            "edge",
            vec!["edge.test".to_string(), "127.0.0.1".to_string()],
        ),
        (
            "core",
            vec!["core.test".to_string(), "127.0.0.3".to_string()],
        ),
    ] {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(sans).unwrap();
        let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

/// The edge and core YAML of a setup where the core is reached over
/// `transport` (`udp`, `tcp`, `tls`); both listen on UDP and TCP at their
/// port, and on TLS at the next one.
fn configs(dir: &Path, p: &Ports, transport: &str, keys: &Path) -> (String, String) {
    let d = dir.display();
    let tls = |who: &str| {
        format!("tls:\n  cert: {d}/{who}.pem\n  key: {d}/{who}.key\n  ca: {d}/ca.pem\n")
    };
    let (uri, port) = match transport {
        // Verified against the name core.test.
        "tls" => (format!("sips:core.test:{}", p.core + 1), p.core + 1),
        t => (format!("sip:127.0.0.3:{};transport={t}", p.core), p.core),
    };
    let edge = format!(
        "role: edge\nlisten:\n  udp: [127.0.0.1:{e}]\n  tcp: [127.0.0.1:{e}]\n  tls: [127.0.0.1:{e1}]\n{tls}\
         admin:\n  listen: 127.0.0.1:{a}\nserver:\n  instance_id: 1\n  drain_secs: 1\n\
         gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        interval_secs: 1\n        timeout_secs: 1\n        failure_threshold: 2\n      destinations:\n\
         \x20       - uri: \"{uri}\"\n          address: 127.0.0.3:{port}\n\
         edge:\n  keys:\n    file: {k}\n",
        e = p.edge,
        e1 = p.edge + 1,
        tls = tls("edge"),
        a = p.edge_admin,
        k = keys.display(),
    );
    let core = format!(
        "role: core\nlisten:\n  udp: [127.0.0.3:{c}]\n  tcp: [127.0.0.3:{c}]\n  tls: [127.0.0.3:{c1}]\n{tls}\
         admin:\n  listen: 127.0.0.1:{a}\nserver:\n  instance_id: core-streams-{c}\n  drain_secs: 1\n\
         domain:\n  local: [domain.local]\nscript:\n  path: {s}\n{AUTH}",
        c = p.core,
        c1 = p.core + 1,
        tls = tls("core"),
        a = p.core_admin,
        s = deploy_script("proxy_default.py").display(),
    );
    (edge, core)
}

/// A counter of the edge's `/metrics`, summed over the lines matching all
/// of `labels`.
fn metric(admin: u16, name: &str, labels: &[&str]) -> u64 {
    let (_, text) = http(&format!("127.0.0.1:{admin}"), "GET", "/metrics", None).unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// bob and alice register through the edge, then alice calls bob `calls`
/// times with the scenario `uac`: every call answered, ACKed and hung up.
fn register_and_call(sipp_bin: &Path, dir: &Path, p: &Ports, uac: &Path, calls: &str) {
    let edge = format!("127.0.0.1:{}", p.edge);
    sipp_register(sipp_bin, dir, &edge, "bob", &p.bob.to_string());
    sipp_register(sipp_bin, dir, &edge, "alice", &p.alice.to_string());
    let uas = repo_tests().join("sipp/uas.xml");
    let _uas = sipp(
        sipp_bin,
        &[
            "-sf",
            uas.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            &p.bob.to_string(),
            "-timeout",
            "120s",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    sipp_ok(
        sipp_bin,
        dir,
        &[
            "-sf",
            uac.to_str().unwrap(),
            &edge,
            "-s",
            "bob",
            "-key",
            "other_ip",
            "127.0.0.1",
            "-key",
            "other_port",
            &p.edge.to_string(),
            "-i",
            "127.0.0.1",
            "-p",
            &p.alice.to_string(),
            "-m",
            calls,
            "-r",
            "50",
            "-timeout",
            "90s",
        ],
        Duration::from_secs(100),
        &format!("{calls} calls through the edge and the core"),
    );
}

/// Waits for the core to be ready, then starts the edge (whose first probe
/// then finds the core listening) and waits for it.
fn start_both(dir: &Path, p: &Ports, edge: &str, core: &str) -> (harness::Proc, harness::Proc) {
    let core = start(dir, "core", core);
    ready(dir, p.core_admin);
    let edge = start(dir, "edge", edge);
    ready(dir, p.edge_admin);
    (core, edge)
}

fn ready(dir: &Path, admin: u16) {
    {
        let a = format!("127.0.0.1:{admin}");
        let t0 = std::time::Instant::now();
        while http_status(&a, "GET", "/admin/ready") != Some(200) {
            if t0.elapsed() > Duration::from_secs(20) {
                dump_logs(dir);
                panic!("{a} not ready (the edge probes its core over its transport)");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn calls_over(transport: &str, p: Ports) {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch(&format!("streams-{transport}"));
    certificates(&dir);
    let keys = keys(&dir);
    let (edge, core) = configs(&dir, &p, transport, &keys);
    let _procs = start_both(&dir, &p, &edge, &core);
    let uac = repo_tests().join("sipp/core-uac.xml");
    register_and_call(&sipp_bin, &dir, &p, &uac, "200");
    // Every request and response between the edge and the core went over
    // the stream: the edge sent nothing to the core over UDP.
    let via = |t: &str| {
        metric(
            p.edge_admin,
            "anysip_messages_total",
            &["direction=\"out\"", &format!("transport=\"{t}\"")],
        )
    };
    let (stream, udp) = (via(transport), via("udp"));
    // Toward the core: 2 REGISTERs each, INVITE, ACK, BYE per call.
    assert!(stream >= 4 + 3 * 200, "{stream} messages over {transport}");
    // Over UDP: only toward the UEs (responses, and INVITE/ACK/BYE to bob).
    assert!(udp >= 200 * 3, "{udp}");
    let dialled = metric(
        p.edge_admin,
        "anysip_drops_total",
        &["reason=\"send_failed\""],
    );
    if dialled != 0 {
        dump_logs(&dir);
    }
    assert_eq!(dialled, 0, "sends to the core failed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn calls_through_an_edge_whose_core_is_reached_over_tcp() {
    calls_over(
        "tcp",
        Ports {
            edge: 18260,
            core: 18270,
            edge_admin: 19261,
            core_admin: 19271,
            alice: 18280,
            bob: 18290,
        },
    );
}

#[test]
fn calls_through_an_edge_whose_core_is_reached_over_tls() {
    calls_over(
        "tls",
        Ports {
            edge: 18360,
            core: 18370,
            edge_admin: 19361,
            core_admin: 19371,
            alice: 18380,
            bob: 18390,
        },
    );
}

/// core-uac.xml with `pad` SDP attribute lines of 60 octets.
fn big_uac(dir: &Path, pad: usize) -> std::path::PathBuf {
    let xml = std::fs::read_to_string(repo_tests().join("sipp/core-uac.xml")).unwrap();
    let lines: String = (0..pad)
        .map(|i| format!("      a=x-pad:{i:04}-{}\n", "x".repeat(40)))
        .collect();
    let xml = xml.replace(
        "      a=rtpmap:0 PCMU/8000\n",
        &format!("      a=rtpmap:0 PCMU/8000\n{lines}"),
    );
    let path = dir.join("big-uac.xml");
    std::fs::write(&path, xml).unwrap();
    path
}

#[test]
fn a_large_invite_to_a_udp_core_goes_over_tcp_both_ways() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let p = Ports {
        edge: 18460,
        core: 18470,
        edge_admin: 19461,
        core_admin: 19471,
        alice: 18480,
        bob: 18490,
    };
    let dir = scratch("streams-big");
    certificates(&dir);
    let keys = keys(&dir);
    let (edge, core) = configs(&dir, &p, "udp", &keys);
    let _procs = start_both(&dir, &p, &edge, &core);
    // About 3,000 octets: over the 1,300 of RFC 3261 §18.1.1.
    let uac = big_uac(&dir, 45);
    register_and_call(&sipp_bin, &dir, &p, &uac, "5");
    // The edge sent the 5 INVITEs to the core over TCP, and the core sent
    // them on to bob's edge over TCP too (the edge received them so).
    let out_tcp = metric(
        p.edge_admin,
        "anysip_messages_total",
        &[
            "direction=\"out\"",
            "transport=\"tcp\"",
            "method=\"INVITE\"",
        ],
    );
    let in_tcp = metric(
        p.edge_admin,
        "anysip_messages_total",
        &["direction=\"in\"", "transport=\"tcp\"", "method=\"INVITE\""],
    );
    if out_tcp < 5 || in_tcp < 5 {
        dump_logs(&dir);
    }
    assert!(out_tcp >= 5, "{out_tcp} INVITEs to the core over TCP");
    assert!(in_tcp >= 5, "{in_tcp} INVITEs from the core over TCP");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An OPTIONS of `size` octets from `from` to `host`.
fn options(size: usize, transport: &str, port: u16) -> Vec<u8> {
    let head = format!(
        "OPTIONS sip:someone@domain.local SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:{port};branch=z9hG4bK-big-{transport};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:big@domain.local>;tag=big\r\n\
         To: <sip:someone@domain.local>\r\n\
         Call-ID: big-{transport}@test\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Type: text/plain\r\n"
    );
    let body_len = size - head.len() - "Content-Length: 00000\r\n\r\n".len();
    let mut m = format!("{head}Content-Length: {body_len:05}\r\n\r\n").into_bytes();
    m.extend(std::iter::repeat_n(b'x', body_len));
    assert_eq!(m.len(), size);
    m
}

#[test]
fn an_options_too_large_for_a_udp_only_backend_gets_513_and_a_nul_400() {
    // The backend is a UDP socket of this test: nothing listens on TCP
    // there, so the edge's copy (over 65,507 octets with its Via and
    // Record-Route, and over 1,300 anyway) cannot be delivered.
    let dir = scratch("streams-513");
    let backend = UdpSocket::bind("127.0.0.4:18570").unwrap();
    let keys = keys(&dir);
    let edge = format!(
        "role: edge\nlisten:\n  udp: [127.0.0.1:18560]\n  tcp: [127.0.0.1:18560]\n\
         admin:\n  listen: 127.0.0.1:19561\nserver:\n  instance_id: 1\n\
         gateway:\n  groups:\n    - name: backends\n      probe:\n        enabled: false\n      destinations:\n\
         \x20       - uri: sip:127.0.0.4:18570\n          address: 127.0.0.4:18570\n\
         edge:\n  keys:\n    file: {}\n",
        keys.display()
    );
    let _edge = start(&dir, "edge", &edge);
    wait_for("edge ready", Duration::from_secs(20), || {
        http_status("127.0.0.1:19561", "GET", "/admin/ready") == Some(200)
    });
    let mut buf = vec![0u8; 70_000];
    // From a UDP UE.
    let ue = UdpSocket::bind("127.0.0.1:0").unwrap();
    ue.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = ue.local_addr().unwrap().port();
    ue.send_to(&options(65_000, "UDP", port), "127.0.0.1:18560")
        .unwrap();
    let n = ue.recv(&mut buf).unwrap_or_else(|e| {
        dump_logs(&dir);
        panic!("no answer: {e}")
    });
    let answer = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(answer.starts_with("SIP/2.0 513 "), "{answer}");
    // From a TCP UE.
    let mut tcp = TcpStream::connect("127.0.0.1:18560").unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = tcp.local_addr().unwrap().port();
    tcp.write_all(&options(65_000, "TCP", port)).unwrap();
    let n = tcp.read(&mut buf).unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(answer.starts_with("SIP/2.0 513 "), "{answer}");
    // A NUL in a header value (the RFC 3261 grammar has none): 400, not
    // passed on.
    let nul = String::from_utf8(options(600, "UDP", port).to_vec())
        .unwrap()
        .replace(
            "Content-Type: text/plain\r\n",
            "Subject: a\0b\r\nContent-Type: text/plain\r\n",
        )
        .replace("big-UDP", "nul-UDP");
    ue.send_to(nul.as_bytes(), "127.0.0.1:18560").unwrap();
    let n = ue.recv(&mut buf).unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(answer.starts_with("SIP/2.0 400 "), "{answer}");
    // Nothing reached the backend; both answers are counted and logged.
    backend.set_nonblocking(true).unwrap();
    assert!(
        backend.recv(&mut buf).is_err(),
        "the backend got a datagram"
    );
    assert_eq!(
        metric(19561, "anysip_replies_total", &["status=\"513\""]),
        2
    );
    let log = std::fs::read_to_string(dir.join("edge.log")).unwrap();
    assert!(log.contains("not deliverable"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
