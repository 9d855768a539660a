//! A UA over TLS (rustls; sipp has no TLS here): registers with digest
//! through an edge, keeps the connection, and answers every INVITE (180,
//! 200 with the Record-Route copied), takes ACK, answers BYE with 200,
//! until stopped or the connection ends. Returns the INVITEs it answered.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::digest::{Challenge, ClientRequest, NonceCount, Secret};
use sip::framer::{Frame, StreamFramer};
use sip::{Framing, HeaderName, Limits, Message};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A test CA and a certificate for 127.0.0.1 it signed: (CA PEM, cert PEM,
/// key PEM).
pub fn certificates() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca_cert, &ca_key)
        .unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn connect(ca_pem: &str, edge: &str) -> Tls {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(edge).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

use rustls::pki_types::pem::PemObject;

/// The next message on `tls`, or None when the connection ended, `stop` is
/// set or `limit` passed.
fn next(
    tls: &mut Tls,
    framer: &mut StreamFramer,
    stop: &AtomicBool,
    limit: Duration,
) -> Option<Message> {
    let t0 = Instant::now();
    let mut buf = [0u8; 16384];
    loop {
        match framer.next_frame() {
            Ok(Some(Frame::Message(b))) => {
                return Message::parse(b, Framing::Stream, &Limits::default()).ok();
            }
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(_) => return None,
        }
        if stop.load(Ordering::SeqCst) || t0.elapsed() > limit {
            return None;
        }
        match tls.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => framer.push(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
}

fn register(local: &str, cseq: u32, auth: &str) -> String {
    format!(
        "REGISTER sip:domain.local SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-carol-{cseq};rport\r\n\
         From: <sip:carol@domain.local>;tag=carol\r\nTo: <sip:carol@domain.local>\r\nCall-ID: carol-reg@test\r\n\
         CSeq: {cseq} REGISTER\r\nContact: <sip:carol@{local};transport=tls>\r\n{auth}Expires: 600\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Registers carol through `edge` (TLS), then answers calls until `stop`.
pub fn run(ca_pem: String, edge: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u32> {
    std::thread::spawn(move || {
        let mut tls = connect(&ca_pem, &edge);
        let local = tls.sock.local_addr().unwrap().to_string();
        let mut framer = StreamFramer::new(Limits::default());
        let wait = Duration::from_secs(10);
        tls.write_all(register(&local, 1, "").as_bytes()).unwrap();
        let challenge = next(&mut tls, &mut framer, &stop, wait).expect("401 to REGISTER");
        assert_eq!(challenge.status(), Some(401), "{challenge:?}");
        let c = Challenge::parse(challenge.header_by_name("WWW-Authenticate").unwrap()).unwrap();
        let creds = c
            .respond(
                "carol",
                Secret::Password("carol"),
                &ClientRequest {
                    method: "REGISTER",
                    uri: "sip:domain.local",
                    cnonce: "0a4f113b",
                    nc: NonceCount::FIRST,
                },
            )
            .unwrap();
        tls.write_all(register(&local, 2, &format!("Authorization: {creds}\r\n")).as_bytes())
            .unwrap();
        let ok = next(&mut tls, &mut framer, &stop, wait).expect("200 to REGISTER");
        assert_eq!(ok.status(), Some(200), "{ok:?}");
        let mut answered = 0;
        while let Some(m) = next(&mut tls, &mut framer, &stop, Duration::from_secs(600)) {
            let method = m
                .method()
                .map(|x| x.as_str().to_owned())
                .unwrap_or_default();
            let out: Vec<Bytes> = match method.as_str() {
                "INVITE" => {
                    answered += 1;
                    let tag = format!("carol{answered}");
                    let rr: Vec<String> = m
                        .headers()
                        .filter(|h| h.name == HeaderName::RecordRoute)
                        .map(|h| h.value.to_string())
                        .collect();
                    let mut ok = sip::response::response(&m, 200)
                        .unwrap()
                        .to_tag(&tag)
                        .header("Contact", &format!("<sip:carol@{local};transport=tls>"));
                    for r in &rr {
                        ok = ok.header("Record-Route", r);
                    }
                    vec![
                        sip::response::response(&m, 180)
                            .unwrap()
                            .to_tag(&tag)
                            .build(),
                        ok.build(),
                    ]
                }
                "BYE" => vec![sip::response::response(&m, 200).unwrap().build()],
                _ => vec![],
            };
            for b in out {
                if tls.write_all(&b).is_err() {
                    return answered;
                }
            }
        }
        answered
    })
}
