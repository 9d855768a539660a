//! Connections this process opens: reused, answered on, failing over to
//! their fallback, backing off, and over TLS verified by name.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use net::{
    serve_tcp, serve_tls, Connections, Delivery, DialKey, DialSettings, Dialer, Dispatch, NetError,
    Outbox, Outgoing, SendTag, StreamLimits,
};
use sip::{Flow, Transport};
use tokio::net::{TcpListener, UdpSocket};

/// Answers every request with a 200 on its connection.
struct Server {
    seen: Mutex<Vec<Flow>>,
}

impl Dispatch for Server {
    fn on_message(&self, _bytes: Bytes, origin: Flow) -> Vec<Outgoing> {
        self.seen.lock().unwrap().push(origin);
        vec![Outgoing::Conn {
            id: origin.connection,
            peer: origin.remote,
            bytes: Bytes::from_static(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
            close: false,
            fallback: None,
            tag: SendTag::NONE,
        }]
    }
}

/// The dialling side: records what arrives and what became of its sends.
#[derive(Default)]
struct Client {
    heard: Mutex<Vec<(Bytes, Flow)>>,
    reports: Mutex<Vec<(SendTag, Result<Delivery, String>)>>,
}

impl Dispatch for Client {
    fn on_message(&self, bytes: Bytes, origin: Flow) -> Vec<Outgoing> {
        self.heard.lock().unwrap().push((bytes, origin));
        vec![]
    }

    fn on_sent(&self, tag: SendTag, result: &Result<Delivery, NetError>) {
        let r = result.as_ref().map(|d| *d).map_err(|e| e.to_string());
        self.reports.lock().unwrap().push((tag, r));
    }
}

const REQ: &[u8] =
    b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";

fn settings(tls: Option<Arc<rustls::ClientConfig>>) -> DialSettings {
    DialSettings {
        connect_timeout: Duration::from_secs(2),
        limits: StreamLimits::default(),
        tls,
    }
}

fn client(settings: DialSettings) -> (Arc<Client>, Outbox, Arc<Dialer>) {
    let c = Arc::new(Client::default());
    let dialer = Dialer::new(settings);
    dialer.attach(c.clone());
    let outbox = Outbox::new(HashMap::new(), Connections::default()).with_dialer(dialer.clone());
    (c, outbox, dialer)
}

fn dial(transport: Transport, to: SocketAddr, name: Option<&str>, n: u64) -> Outgoing {
    Outgoing::Dial {
        key: DialKey {
            transport,
            to,
            server_name: name.map(Arc::from),
            from: None,
        },
        bytes: Bytes::from_static(REQ),
        fallback: None,
        tag: SendTag(n),
    }
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn one_connection_per_destination_reused_and_answered_on() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Arc::new(Server {
        seen: Mutex::new(vec![]),
    });
    // The server closes connections idle for a second.
    let srv_limits = StreamLimits {
        idle: Duration::from_secs(1),
        ..StreamLimits::default()
    };
    let srv = tokio::spawn(serve_tcp(
        listener,
        server.clone(),
        Outbox::default(),
        srv_limits,
    ));
    let (c, outbox, dialer) = client(settings(None));
    // The first sends queue while the connection opens; they are reported
    // once it is.
    let first = outbox.send(dial(Transport::Tcp, addr, None, 1)).await;
    assert_eq!(first.unwrap(), Delivery::Queued);
    outbox
        .deliver(&*c, vec![dial(Transport::Tcp, addr, None, 2)])
        .await;
    until("two answers", || c.heard.lock().unwrap().len() == 2).await;
    // Once open, a send is written at once.
    let third = outbox.send(dial(Transport::Tcp, addr, None, 3)).await;
    assert_eq!(third.unwrap(), Delivery::Sent);
    until("three answers", || c.heard.lock().unwrap().len() == 3).await;
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|f| f.connection == seen[0].connection));
    let heard = c.heard.lock().unwrap().clone();
    assert!(heard.iter().all(|(b, f)| b.starts_with(b"SIP/2.0 200")
        && f.transport == Transport::Tcp
        && f.remote == addr
        && f.connection == heard[0].1.connection));
    let reports = c.reports.lock().unwrap().clone();
    assert!(reports.contains(&(SendTag(1), Ok(Delivery::Sent))));
    assert!(reports.contains(&(SendTag(2), Ok(Delivery::Sent))));
    assert_eq!(dialer.open(), 1);
    assert_eq!(outbox.connections().len(), 1);
    // The server closes it: it leaves the table and the pool.
    until("the connection to close", || dialer.open() == 0).await;
    assert_eq!(outbox.connections().len(), 0);
    // The next send opens a new one.
    let again = outbox.send(dial(Transport::Tcp, addr, None, 4)).await;
    assert_eq!(again.unwrap(), Delivery::Queued);
    until("the fourth answer", || c.heard.lock().unwrap().len() == 4).await;
    srv.abort();
}

#[tokio::test]
async fn refused_connect_takes_the_fallback_then_backs_off() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let ue = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local_addr = local.local_addr().unwrap();
    let c = Arc::new(Client::default());
    let dialer = Dialer::new(settings(None));
    dialer.attach(c.clone());
    let outbox = Outbox::new(
        HashMap::from([(local_addr, Arc::new(local))]),
        Connections::default(),
    )
    .with_dialer(dialer.clone());
    let with_fallback = |n| {
        let Outgoing::Dial { key, bytes, .. } = dial(Transport::Tcp, closed, None, n) else {
            unreachable!()
        };
        Outgoing::Dial {
            key,
            bytes,
            fallback: Some(Box::new(Outgoing::Udp {
                from: local_addr,
                to: ue.local_addr().unwrap(),
                bytes: Bytes::from(format!("513 for {n}")),
                tag: SendTag::NONE,
            })),
            tag: SendTag(n),
        }
    };
    assert_eq!(
        outbox.send(with_fallback(1)).await.unwrap(),
        Delivery::Queued
    );
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(3), ue.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"513 for 1");
    until("the report", || !c.reports.lock().unwrap().is_empty()).await;
    assert_eq!(
        c.reports.lock().unwrap()[0],
        (SendTag(1), Ok(Delivery::FellBack))
    );
    // Backing off: the next send falls back at once, without a dial.
    assert_eq!(
        outbox.send(with_fallback(2)).await.unwrap(),
        Delivery::FellBack
    );
    let n = ue.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"513 for 2");
    // Without a fallback the error is the caller's.
    let err = outbox
        .send(dial(Transport::Tcp, closed, None, 3))
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetError::Unreachable(a) if a == closed),
        "{err}"
    );
    assert_eq!(outbox.connections().len(), 0);
}

#[tokio::test]
async fn tls_is_verified_against_the_name() {
    let ck = rcgen::generate_simple_self_signed(vec!["backend.test".to_string()]).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let server_cfg = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Arc::new(Server {
        seen: Mutex::new(vec![]),
    });
    let srv = tokio::spawn(serve_tls(
        listener,
        tokio_rustls::TlsAcceptor::from(Arc::new(server_cfg)),
        server.clone(),
        Outbox::default(),
        StreamLimits::default(),
        Duration::from_secs(2),
    ));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ck.cert.der().clone()).unwrap();
    let client_cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let (c, outbox, _dialer) = client(settings(Some(Arc::new(client_cfg))));
    // The right name: answered over TLS.
    outbox
        .deliver(
            &*c,
            vec![dial(Transport::Tls, addr, Some("backend.test"), 1)],
        )
        .await;
    until("the answer", || c.heard.lock().unwrap().len() == 1).await;
    assert_eq!(c.heard.lock().unwrap()[0].1.transport, Transport::Tls);
    // A name the certificate does not carry: refused, reported.
    outbox
        .deliver(&*c, vec![dial(Transport::Tls, addr, Some("other.test"), 2)])
        .await;
    until("the failure", || {
        c.reports
            .lock()
            .unwrap()
            .iter()
            .any(|(t, r)| *t == SendTag(2) && r.is_err())
    })
    .await;
    assert_eq!(server.seen.lock().unwrap().len(), 1);
    srv.abort();
}

#[tokio::test]
async fn a_connection_the_peer_opened_is_reused_to_reach_it() {
    // A UE connects from an ephemeral port (and registers): a request to
    // that address goes back over its connection (RFC 5626), no dial.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Arc::new(Server {
        seen: Mutex::new(vec![]),
    });
    let dialer = Dialer::new(settings(None));
    dialer.attach(server.clone());
    let outbox = Outbox::new(HashMap::new(), Connections::default()).with_dialer(dialer.clone());
    let srv = tokio::spawn(serve_tcp(
        listener,
        server.clone(),
        outbox.clone(),
        StreamLimits::default(),
    ));
    let mut ue = tokio::net::TcpStream::connect(addr).await.unwrap();
    let ue_addr = ue.local_addr().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut ue, REQ)
        .await
        .unwrap();
    until("the request", || server.seen.lock().unwrap().len() == 1).await;
    let mut buf = vec![0u8; 256];
    // The 200 the server answered with.
    let n = tokio::io::AsyncReadExt::read(&mut ue, &mut buf)
        .await
        .unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200"));
    let sent = outbox
        .send(dial(Transport::Tcp, ue_addr, None, 1))
        .await
        .unwrap();
    assert_eq!(sent, Delivery::Sent);
    let n = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::io::AsyncReadExt::read(&mut ue, &mut buf),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(&buf[..n], REQ);
    assert_eq!(dialer.open(), 0);
    assert_eq!(outbox.connections().len(), 1);
    srv.abort();
}
