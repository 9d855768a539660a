//! UEs over TLS and TCP through the running edge: the call's responses come
//! back on the UE's connection (flow token in the edge's Via), and a
//! backend-originated in-dialog request (BYE along the Record-Route token)
//! reaches the UE over its TLS or TCP connection.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use harness::{anysip, http_status, wait_for};
use sip::framer::{Frame, StreamFramer};
use sip::{Framing, HeaderName, Limits, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const UDP: &str = "127.0.0.1:15660";
const TCP: &str = "127.0.0.1:15660";
const TLS: &str = "127.0.0.1:15661";
const BACKEND: &str = "127.0.0.1:15670";
const ADMIN: &str = "127.0.0.1:19491";

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), f)
        .await
        .expect("timed out")
}

async fn read_message<S: AsyncRead + Unpin>(s: &mut S, framer: &mut StreamFramer) -> Message {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(Frame::Message(m)) = framer.next_frame().unwrap() {
            return Message::parse(m, Framing::Stream, &Limits::default()).unwrap();
        }
        let n = within(s.read(&mut buf)).await.unwrap();
        assert!(n > 0, "connection closed");
        framer.push(&buf[..n]);
    }
}

async fn backend_recv(b: &UdpSocket) -> Message {
    let mut buf = [0u8; 65535];
    let (n, _) = within(b.recv_from(&mut buf)).await.unwrap();
    Message::parse(
        Bytes::copy_from_slice(&buf[..n]),
        Framing::Datagram,
        &Limits::default(),
    )
    .unwrap()
}

/// One call over a stream: INVITE from the UE, 200 from the backend, then
/// a BYE from the backend that must reach the UE on the same connection.
async fn call_over<S: AsyncRead + AsyncWrite + Unpin>(
    mut ue: S,
    transport: &str,
    backend: &UdpSocket,
    call: &str,
) {
    let invite = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/{transport} ue.invalid;branch=z9hG4bK{call}\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\nCall-ID: {call}\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:alice@ue.invalid;transport={transport}>\r\nContent-Length: 0\r\n\r\n"
    );
    within(ue.write_all(invite.as_bytes())).await.unwrap();
    let inv = backend_recv(backend).await;
    assert_eq!(inv.call_id().unwrap(), call);
    let rr: Vec<String> = inv
        .values(HeaderName::RecordRoute)
        .map(str::to_string)
        .collect();
    assert_eq!(
        rr.len(),
        2,
        "double Record-Route: the UE side is {transport}, the backend side UDP"
    );
    assert!(
        rr[1]
            .to_ascii_lowercase()
            .contains(&format!("transport={}", transport.to_ascii_lowercase())),
        "{rr:?}"
    );
    let mut ok = sip::response::response(&inv, 200).unwrap().to_tag("b");
    for r in &rr {
        ok = ok.header("Record-Route", r);
    }
    backend.send_to(&ok.build(), UDP).await.unwrap();
    let mut framer = StreamFramer::new(Limits::default());
    let resp = read_message(&mut ue, &mut framer).await;
    assert_eq!(resp.status(), Some(200));
    assert_eq!(resp.vias().count(), 1);
    // The callee's BYE, along the Record-Route in order.
    let bye = format!(
        "BYE sip:alice@ue.invalid SIP/2.0\r\nVia: SIP/2.0/UDP {BACKEND};branch=z9hG4bKbye{call}\r\nMax-Forwards: 70\r\n\
         Route: {}, {}\r\nFrom: <sip:bob@example.com>;tag=b\r\nTo: <sip:alice@example.com>;tag=a\r\nCall-ID: {call}\r\n\
         CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        rr[0], rr[1]
    );
    backend.send_to(bye.as_bytes(), UDP).await.unwrap();
    let bye = read_message(&mut ue, &mut framer).await;
    assert_eq!(bye.method(), Some(&sip::Method::Bye));
    assert_eq!(bye.routes().count(), 0);
    // The UE answers on its connection; the 200 reaches the backend.
    let ok = sip::response::response(&bye, 200).unwrap().build();
    within(ue.write_all(&ok)).await.unwrap();
    let ok = backend_recv(backend).await;
    assert_eq!((ok.status(), ok.cseq().unwrap().method), (Some(200), "BYE"));
}

#[tokio::test]
async fn ues_over_tls_and_tcp() {
    let dir = std::env::temp_dir().join(format!("anysip-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
    let cfg = dir.join("edge.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen:\n  udp: [{UDP}]\n  tcp: [{TCP}]\n  tls: [{TLS}]\ntls:\n  cert: {}\n  key: {}\nadmin:\n  listen: {ADMIN}\n\
             gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        enabled: false\n      destinations:\n        - uri: sip:{BACKEND}\n          address: {BACKEND}\n\
             edge:\n  keys:\n    dev: true\n",
            dir.join("cert.pem").display(),
            dir.join("key.pem").display()
        ),
    )
    .unwrap();
    let backend = UdpSocket::bind(BACKEND).await.unwrap();
    let _edge = anysip(&cfg);
    tokio::task::spawn_blocking(|| {
        wait_for("edge ready", Duration::from_secs(10), || {
            http_status(ADMIN, "GET", "/admin/ready") == Some(200)
        })
    })
    .await
    .unwrap();

    // TLS.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ck.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(TLS).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = within(connector.connect(name, tcp)).await.unwrap();
    call_over(tls, "TLS", &backend, "tls-call").await;

    // TCP.
    let tcp = TcpStream::connect(TCP).await.unwrap();
    call_over(tcp, "TCP", &backend, "tcp-call").await;
    let _ = std::fs::remove_dir_all(&dir);
}
