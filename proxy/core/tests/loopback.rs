//! The core on real UDP sockets on loopback: UAC socket → core → UAS socket,
//! with a small Rust router that relays everything to the UAS.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anysip_core::{
    Decision, DriverSettings, Edits, Listener, RequestContext, Router, Server, Settings,
};
use bytes::Bytes;
use sip::Transport;
use sip::{Framing, HeaderName, Limits, Message};
use tokio::net::UdpSocket;

struct ToUas(SocketAddr);

impl Router for ToUas {
    fn on_request(&self, _req: &RequestContext) -> Decision {
        Decision::Relay {
            edits: Edits {
                record_route: true,
                ..Default::default()
            },
            next_hop: Some(self.0.to_string()),
            hooks: None,
        }
    }
}

async fn recv(sock: &UdpSocket) -> Option<Message> {
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(
        Message::parse(
            Bytes::copy_from_slice(&buf[..n]),
            Framing::Datagram,
            &Limits::default(),
        )
        .unwrap(),
    )
}

async fn quiet(sock: &UdpSocket) -> bool {
    let mut buf = vec![0u8; 65535];
    tokio::time::timeout(Duration::from_millis(300), sock.recv_from(&mut buf))
        .await
        .is_err()
}

fn kind(m: &Message) -> String {
    match m.status() {
        Some(s) => s.to_string(),
        None => m.method().unwrap().as_str().to_string(),
    }
}

fn request(
    method: &str,
    uac: SocketAddr,
    ruri: &str,
    branch: &str,
    cseq: u32,
    extra: &str,
) -> String {
    format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {uac};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>{}\r\nCall-ID: loop-1\r\nCSeq: {cseq} {method}\r\nContact: <sip:alice@{uac}>\r\n{extra}Content-Length: 0\r\n\r\n",
        if method == "INVITE" { "" } else { ";tag=b1" }
    )
}

fn answer(req: &Message, status: u16) -> Bytes {
    let mut b = sip::response::response(req, status).unwrap().to_tag("b1");
    for rr in req.headers().filter(|h| h.name == HeaderName::RecordRoute) {
        b = b.header("Record-Route", rr.value);
    }
    b.header("Contact", "<sip:bob@127.0.0.1>").build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_ack_bye_through_the_core_on_udp() {
    let sock = net::bind_udp("127.0.0.1:0".parse().unwrap(), 1)
        .unwrap()
        .remove(0);
    let proxy_addr = sock.local_addr().unwrap();
    let outbox = net::Outbox::new(
        HashMap::from([(proxy_addr, sock.clone())]),
        Default::default(),
    );
    let uac = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let uas = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (uac_addr, uas_addr) = (uac.local_addr().unwrap(), uas.local_addr().unwrap());
    let settings = Settings {
        listeners: vec![Listener {
            transport: Transport::Udp,
            addr: proxy_addr,
        }],
        seed: 1,
        ..Settings::default()
    };
    let (server, dispatch) = Server::new(
        settings,
        DriverSettings::default(),
        Arc::new(ToUas(uas_addr)),
        resolve::Resolver::new(),
        outbox.clone(),
    );
    let serve = tokio::spawn(net::serve_udp(sock, Arc::new(dispatch), outbox));

    let ruri = format!("sip:bob@{uas_addr}");
    let invite = request("INVITE", uac_addr, &ruri, "z9hG4bKl1", 1, "");
    uac.send_to(invite.as_bytes(), proxy_addr).await.unwrap();
    assert_eq!(kind(&recv(&uac).await.unwrap()), "100");
    let inv = recv(&uas).await.unwrap();
    assert_eq!(kind(&inv), "INVITE");
    assert_eq!(inv.count(HeaderName::Via), 2);
    let rr = inv.header(HeaderName::RecordRoute).unwrap().to_string();
    assert_eq!(rr, format!("<sip:{proxy_addr};lr>"));

    // A retransmission of the INVITE is absorbed (the 100 is re-sent).
    uac.send_to(invite.as_bytes(), proxy_addr).await.unwrap();
    assert_eq!(kind(&recv(&uac).await.unwrap()), "100");
    assert!(quiet(&uas).await, "retransmission reached the UAS");

    uas.send_to(&answer(&inv, 180), proxy_addr).await.unwrap();
    assert_eq!(kind(&recv(&uac).await.unwrap()), "180");
    uas.send_to(&answer(&inv, 200), proxy_addr).await.unwrap();
    let ok = recv(&uac).await.unwrap();
    assert_eq!(kind(&ok), "200");
    assert_eq!(ok.count(HeaderName::Via), 1);

    let route = format!("Route: {rr}\r\n");
    let ack = request("ACK", uac_addr, "sip:bob@127.0.0.1", "z9hG4bKl2", 1, &route);
    uac.send_to(ack.as_bytes(), proxy_addr).await.unwrap();
    let a = recv(&uas).await.unwrap();
    assert_eq!(kind(&a), "ACK");
    assert_eq!(a.header(HeaderName::Route), None);

    let bye = request("BYE", uac_addr, "sip:bob@127.0.0.1", "z9hG4bKl3", 2, &route);
    uac.send_to(bye.as_bytes(), proxy_addr).await.unwrap();
    let b = recv(&uas).await.unwrap();
    assert_eq!(kind(&b), "BYE");
    uas.send_to(&answer(&b, 200), proxy_addr).await.unwrap();
    assert_eq!(kind(&recv(&uac).await.unwrap()), "200");

    let stats = server.stats().await.unwrap();
    assert_eq!(stats.requests.get("INVITE"), Some(&2));
    assert_eq!(stats.retransmissions, 1);
    assert_eq!(stats.router_calls, 6); // INVITE, 180, 200, ACK, BYE, 200

    // Draining: a new call gets 503, the dialog would still work.
    server.drain();
    let invite2 =
        request("INVITE", uac_addr, &ruri, "z9hG4bKl4", 1, "").replace("loop-1", "loop-2");
    uac.send_to(invite2.as_bytes(), proxy_addr).await.unwrap();
    let r = recv(&uac).await.unwrap();
    assert_eq!(kind(&r), "503");
    assert!(r.header(HeaderName::RetryAfter).is_some());
    serve.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_then_wait_until_idle() {
    let sock = net::bind_udp("127.0.0.1:0".parse().unwrap(), 1)
        .unwrap()
        .remove(0);
    let proxy_addr = sock.local_addr().unwrap();
    let outbox = net::Outbox::new(
        HashMap::from([(proxy_addr, sock.clone())]),
        Default::default(),
    );
    let uac = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let uas = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (uac_addr, uas_addr) = (uac.local_addr().unwrap(), uas.local_addr().unwrap());
    let settings = Settings {
        listeners: vec![Listener {
            transport: Transport::Udp,
            addr: proxy_addr,
        }],
        // Short timers so that transactions end within the test.
        timers: sip::transaction::TimerConfig {
            t1: Duration::from_millis(20),
            t2: Duration::from_millis(80),
            t4: Duration::from_millis(50),
        },
        ..Settings::default()
    };
    let (server, dispatch) = Server::new(
        settings,
        DriverSettings::default(),
        Arc::new(ToUas(uas_addr)),
        resolve::Resolver::new(),
        outbox.clone(),
    );
    let serve = tokio::spawn(net::serve_udp(sock, Arc::new(dispatch), outbox));
    let ruri = format!("sip:bob@{uas_addr}");
    let msg = request("MESSAGE", uac_addr, &ruri, "z9hG4bKd1", 1, "").replace(";tag=b1", "");
    uac.send_to(msg.as_bytes(), proxy_addr).await.unwrap();
    let m = recv(&uas).await.unwrap();
    assert_eq!(kind(&m), "MESSAGE");
    server.drain();
    assert!(server.handle().is_draining());
    assert!(!server.handle().is_idle());
    uas.send_to(&answer(&m, 200), proxy_addr).await.unwrap();
    assert_eq!(kind(&recv(&uac).await.unwrap()), "200");
    assert!(
        server.wait_idle(Duration::from_secs(10)).await,
        "still busy"
    );
    let msg2 = msg
        .replace("loop-1", "loop-3")
        .replace("z9hG4bKd1", "z9hG4bKd2");
    uac.send_to(msg2.as_bytes(), proxy_addr).await.unwrap();
    assert_eq!(kind(&recv(&uac).await.unwrap()), "503");
    serve.abort();
}
