//! The core opens connections (issue 14): a UA registered (over UDP) with a
//! `;transport=tcp` contact is called over a TCP connection the core opens
//! to it; a UA reachable only over TLS (a TLS server of this test, its
//! certificate signed by a test CA) is called over TLS; a target whose SRV
//! records (dnsmasq) name a dead server first is reached at the second.
#![allow(clippy::unwrap_used)]

#[path = "../../resolve/tests/resolve/dnsmasq.rs"]
mod dnsmasq;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::{http, http_status, repo_tests, sipp, tool, wait_for};
use lab::{deploy_script, dump_logs, scratch, sipp_ok, start, AUTH};

const CORE: &str = "127.0.0.3:18670";
const CORE_ADMIN: &str = "127.0.0.1:19670";
/// bob: sipp's UAS over TCP.
const BOB_TCP: u16 = 18690;
/// carol: the TLS server of this test.
const CAROL_TLS: u16 = 18691;
/// Nothing listens there: the first SRV target.
const DEAD: u16 = 18699;

/// A CA and a certificate for 127.0.0.1 it signed; returns the server
/// configuration and writes `ca.pem`.
fn tls_server(dir: &Path) -> Arc<rustls::ServerConfig> {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca_cert, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .unwrap(),
    )
}

/// A UA over TLS only: answers INVITE and BYE with 200, records the
/// methods it received, until the test ends.
fn tls_ua(config: Arc<rustls::ServerConfig>, seen: Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind(("127.0.0.1", CAROL_TLS)).unwrap();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let seen = seen.clone();
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut framer = sip::framer::StreamFramer::new(sip::Limits::default());
                let mut buf = [0u8; 16384];
                loop {
                    let n = match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    framer.push(&buf[..n]);
                    while let Ok(Some(sip::framer::Frame::Message(m))) = framer.next_frame() {
                        let Ok(msg) =
                            sip::Message::parse(m, sip::Framing::Stream, &sip::Limits::default())
                        else {
                            continue;
                        };
                        let Some(method) = msg.method().map(|m| m.as_str().to_string()) else {
                            continue;
                        };
                        seen.lock().unwrap().push(method.clone());
                        if method == "INVITE" || method == "BYE" {
                            let mut ok = sip::response::response(&msg, 200)
                                .unwrap()
                                .to_tag("carol")
                                .header("Contact", "<sip:carol@127.0.0.1:18691;transport=tls>");
                            // The dialog's route set (RFC 3261 §12.1.1).
                            let rr: Vec<String> = msg
                                .record_routes()
                                .filter_map(|r| r.ok().map(|r| r.as_str().to_string()))
                                .collect();
                            for r in &rr {
                                ok = ok.header("Record-Route", r);
                            }
                            let ok = ok.build();
                            if tls.write_all(&ok).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}

/// Registers `user` (digest) with `contact` from a UDP port.
fn register(sipp_bin: &Path, dir: &Path, user: &str, contact: &str) {
    let xml = repo_tests().join("sipp/core-register-contact.xml");
    sipp_ok(
        sipp_bin,
        dir,
        &[
            "-sf",
            xml.to_str().unwrap(),
            CORE,
            "-s",
            user,
            "-au",
            user,
            "-ap",
            user,
            "-auth_uri",
            "domain.local",
            "-key",
            "contact",
            contact,
            "-i",
            "127.0.0.1",
            "-p",
            "18681",
            "-m",
            "1",
            "-timeout",
            "20s",
        ],
        Duration::from_secs(25),
        &format!("{user} registers {contact}"),
    );
}

/// `calls` calls from alice (UDP) to `user` through the core.
fn call(sipp_bin: &Path, dir: &Path, user: &str, calls: &str) {
    let uac = repo_tests().join("sipp/core-uac.xml");
    sipp_ok(
        sipp_bin,
        dir,
        &[
            "-sf",
            uac.to_str().unwrap(),
            CORE,
            "-s",
            user,
            "-key",
            "other_ip",
            "127.0.0.3",
            "-key",
            "other_port",
            "18670",
            "-i",
            "127.0.0.1",
            "-p",
            "18680",
            "-m",
            calls,
            "-r",
            "20",
            "-timeout",
            "60s",
        ],
        Duration::from_secs(70),
        &format!("{calls} calls to {user}"),
    );
}

#[test]
fn the_core_connects_to_tcp_and_tls_contacts_and_fails_over_between_srv_targets() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let Some(dns) = dnsmasq::Dnsmasq::start(&[
        format!("--srv-host=_sip._tcp.svc.test,dead.svc.test,{DEAD},10,10"),
        format!("--srv-host=_sip._tcp.svc.test,live.svc.test,{BOB_TCP},20,10"),
        "--host-record=dead.svc.test,127.0.0.1".to_string(),
        "--host-record=live.svc.test,127.0.0.1".to_string(),
    ]) else {
        return;
    };
    let dir = scratch("core-streams");
    let server_tls = tls_server(&dir);
    let core = format!(
        "role: core\nlisten:\n  udp: [{CORE}]\n  tcp: [{CORE}]\nadmin:\n  listen: {CORE_ADMIN}\n\
         server:\n  instance_id: core-streams\n  drain_secs: 1\n\
         tls:\n  ca: {}\ndns:\n  servers: [{}]\n\
         domain:\n  local: [domain.local]\nscript:\n  path: {}\n{AUTH}",
        dir.join("ca.pem").display(),
        dns.addr,
        deploy_script("proxy_default.py").display(),
    );
    let _core = start(&dir, "core", &core);
    wait_for("core ready", Duration::from_secs(20), || {
        http_status(CORE_ADMIN, "GET", "/admin/ready") == Some(200)
    });
    let uas = repo_tests().join("sipp/uas.xml");
    let _bob = sipp(
        &sipp_bin,
        &[
            "-sf",
            uas.to_str().unwrap(),
            "-t",
            "t1",
            "-i",
            "127.0.0.1",
            "-p",
            &BOB_TCP.to_string(),
            "-timeout",
            "120s",
        ],
    );
    let carol_seen = Arc::new(Mutex::new(Vec::new()));
    tls_ua(server_tls, carol_seen.clone());
    std::thread::sleep(Duration::from_millis(300));

    // bob registered over UDP a TCP contact: the core connects to it.
    register(
        &sipp_bin,
        &dir,
        "bob",
        &format!("127.0.0.1:{BOB_TCP};transport=tcp"),
    );
    call(&sipp_bin, &dir, "bob", "20");

    // carol is reachable over TLS only; her certificate names 127.0.0.1,
    // signed by the CA the core trusts (tls.ca).
    register(
        &sipp_bin,
        &dir,
        "carol",
        &format!("127.0.0.1:{CAROL_TLS};transport=tls"),
    );
    call(&sipp_bin, &dir, "carol", "1");
    let seen = carol_seen.lock().unwrap().clone();
    assert_eq!(seen, ["INVITE", "ACK", "BYE"], "carol over TLS");

    // alice's contact for "svc" is a host name: SRV over TCP names the
    // dead server first; the connect is refused, the core tries the next.
    register(&sipp_bin, &dir, "alice", "svc.test;transport=tcp");
    call(&sipp_bin, &dir, "alice", "3");
    let log = std::fs::read_to_string(dir.join("core.log")).unwrap();
    let tried = log
        .lines()
        .any(|l| l.contains("cannot connect") && l.contains(&format!("127.0.0.1:{DEAD}")));
    if !tried {
        dump_logs(&dir);
    }
    assert!(tried, "the dead SRV target was tried first");
    // Every call was answered: none ended with the core's own 503.
    let (_, metrics) = http(CORE_ADMIN, "GET", "/metrics", None).unwrap();
    let failed = metrics.lines().any(|l| {
        l.starts_with("anysip_core_replies_total") && l.contains("5xx") && !l.ends_with(" 0")
    });
    assert!(!failed, "{metrics}");
    let _ = std::fs::remove_dir_all(&dir);
}
