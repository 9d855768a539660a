//! A UA over TLS (rustls; sipp has no TLS here) or WebSocket (RFC 7118,
//! the client of `support/ws.rs`): registers with digest through an edge,
//! keeps the connection, and answers every INVITE (180, 200 with the
//! Record-Route copied), takes ACK, answers BYE with 200, until stopped or
//! the connection ends. Returns the INVITEs it answered.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::digest::{Challenge, ClientRequest, NonceCount, Secret};
use sip::framer::{Frame, StreamFramer};
use sip::{Framing, Limits, Message};

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

fn quiet(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Where the UA's messages go: a TLS stream or a WebSocket connection.
enum Conn {
    Tls(Box<Tls>, StreamFramer),
    Ws(TcpStream),
}

/// How the UA reaches the edge.
pub enum Via {
    /// TLS, trusting this CA (PEM).
    Tls(String),
    /// WebSocket (`Sec-WebSocket-Protocol: sip`).
    Ws,
}

impl Conn {
    fn open(via: &Via, edge: &str) -> Conn {
        match via {
            Via::Tls(ca) => Conn::Tls(
                Box::new(connect(ca, edge)),
                StreamFramer::new(Limits::default()),
            ),
            Via::Ws => {
                let s = super::ws::upgrade(edge, &super::ws::Upgrade::sip(None))
                    .unwrap_or_else(|(status, _)| panic!("WebSocket upgrade refused: {status}"));
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                Conn::Ws(s)
            }
        }
    }

    /// The Via transport and Contact parameter, and the address the UA
    /// names itself by (RFC 7118 §5: a WebSocket client's is made up).
    fn names(&self, user: &str) -> (&'static str, &'static str, String) {
        match self {
            Conn::Tls(t, _) => ("TLS", "tls", t.sock.local_addr().unwrap().to_string()),
            Conn::Ws(_) => ("WS", "ws", format!("{user}-ws.invalid")),
        }
    }

    fn send(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Tls(t, _) => t.write_all(b),
            Conn::Ws(s) => s.write_all(&super::ws::frame(1, b, true)),
        }
    }

    /// The next message, or None when the connection ended, `stop` is set
    /// or `limit` passed.
    fn next(&mut self, stop: &AtomicBool, limit: Duration) -> Option<Message> {
        let t0 = Instant::now();
        let mut buf = [0u8; 16384];
        loop {
            if let Conn::Tls(_, framer) = self {
                match framer.next_frame() {
                    Ok(Some(Frame::Message(b))) => {
                        return Message::parse(b, Framing::Stream, &Limits::default()).ok();
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                    Err(_) => return None,
                }
            }
            if stop.load(Ordering::SeqCst) || t0.elapsed() > limit {
                return None;
            }
            match self {
                Conn::Tls(tls, framer) => match tls.read(&mut buf) {
                    Ok(0) => return None,
                    Ok(n) => framer.push(&buf[..n]),
                    Err(e) if quiet(&e) => {}
                    Err(_) => return None,
                },
                // Wait for a frame's first octet (short timeout), then read
                // the whole frame (long timeout).
                Conn::Ws(s) => match s.peek(&mut buf[..1]) {
                    Ok(0) => return None,
                    Ok(_) => {
                        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        let f = super::ws::read_frame(s);
                        s.set_read_timeout(Some(Duration::from_millis(100)))
                            .unwrap();
                        match f {
                            Ok((1 | 2, payload)) => {
                                return Message::parse(
                                    Bytes::from(payload),
                                    Framing::Datagram,
                                    &Limits::default(),
                                )
                                .ok();
                            }
                            Ok((8, _)) | Err(_) => return None,
                            Ok(_) => {}
                        }
                    }
                    Err(e) if quiet(&e) => {}
                    Err(_) => return None,
                },
            }
        }
    }
}

fn register(user: &str, names: &(&str, &str, String), cseq: u32, auth: &str) -> String {
    let (via, param, local) = names;
    format!(
        "REGISTER sip:domain.local SIP/2.0\r\nVia: SIP/2.0/{via} {local};branch=z9hG4bK-{user}-{cseq};rport\r\n\
         From: <sip:{user}@domain.local>;tag={user}\r\nTo: <sip:{user}@domain.local>\r\nCall-ID: {user}-reg@test\r\n\
         CSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{local};transport={param}>\r\n{auth}Expires: 600\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Registers `user` (password = user name) through `edge`, then answers
/// calls until `stop`.
pub fn run(
    user: &'static str,
    via: Via,
    edge: String,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u32> {
    std::thread::spawn(move || {
        let mut conn = Conn::open(&via, &edge);
        let names = conn.names(user);
        let wait = Duration::from_secs(10);
        conn.send(register(user, &names, 1, "").as_bytes()).unwrap();
        let challenge = conn.next(&stop, wait).expect("401 to REGISTER");
        assert_eq!(challenge.status(), Some(401), "{challenge:?}");
        let c = Challenge::parse(challenge.header_by_name("WWW-Authenticate").unwrap()).unwrap();
        let creds = c
            .respond(
                user,
                Secret::Password(user),
                &ClientRequest {
                    method: "REGISTER",
                    uri: "sip:domain.local",
                    cnonce: "0a4f113b",
                    nc: NonceCount::FIRST,
                },
            )
            .unwrap();
        conn.send(register(user, &names, 2, &format!("Authorization: {creds}\r\n")).as_bytes())
            .unwrap();
        let ok = conn.next(&stop, wait).expect("200 to REGISTER");
        assert_eq!(ok.status(), Some(200), "{ok:?}");
        let mut answered = 0;
        let contact = format!("<sip:{user}@{};transport={}>", names.2, names.1);
        while let Some(m) = conn.next(&stop, Duration::from_secs(600)) {
            if m.method().is_some_and(|x| x.as_str() == "INVITE") {
                answered += 1;
            }
            let out = super::uas::answer(&m, &format!("{user}{answered}"), &contact);
            for b in out {
                if conn.send(&b).is_err() {
                    return answered;
                }
            }
        }
        answered
    })
}
