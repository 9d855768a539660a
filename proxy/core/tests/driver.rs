//! The tokio driver's bounds: a full router queue answers 503 at once, a
//! router call past its timeout fails with 500 (its late answer dropped),
//! and every such case is counted.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anysip_core::{
    Decision, DriverSettings, Edits, Listener, RequestContext, Router, Server, Settings,
};
use bytes::Bytes;
use sip::{Framing, HeaderName, Limits, Message};
use tokencodec::Transport;
use tokio::net::UdpSocket;

/// Relays to the UAS, slowly.
struct Slow(SocketAddr, Duration);

impl Router for Slow {
    fn on_request(&self, _req: &RequestContext) -> Decision {
        std::thread::sleep(self.1);
        Decision::Relay {
            edits: Edits::default(),
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
    let bytes = Bytes::copy_from_slice(&buf[..n]);
    Some(Message::parse(bytes, Framing::Datagram, &Limits::default()).unwrap())
}

fn message(uac: SocketAddr, ruri: &str, n: u32) -> String {
    format!(
        "MESSAGE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {uac};branch=z9hG4bKdrv{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a{n}\r\nTo: <sip:bob@example.com>\r\nCall-ID: drv-{n}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_router_queue_is_503_and_slow_calls_fail() {
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
        ..Settings::default()
    };
    let driver = DriverSettings {
        router_concurrency: 1,
        router_queue: 1,
        router_timeout: Duration::from_millis(400),
        ..DriverSettings::default()
    };
    let router = Slow(uas_addr, Duration::from_millis(900));
    let (server, dispatch) = Server::new(
        settings,
        driver,
        Arc::new(router),
        resolve::Resolver::new(),
        outbox.clone(),
    );
    let serve = tokio::spawn(net::serve_udp(sock, Arc::new(dispatch), outbox));
    let ruri = format!("sip:bob@{uas_addr}");
    // The first call occupies the one thread, the second waits in the
    // queue, the third finds it full.
    uac.send_to(message(uac_addr, &ruri, 1).as_bytes(), proxy_addr)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for n in [2, 3] {
        uac.send_to(message(uac_addr, &ruri, n).as_bytes(), proxy_addr)
            .await
            .unwrap();
    }
    let full = recv(&uac).await.unwrap();
    assert_eq!(full.status(), Some(503));
    assert_eq!(full.call_id().unwrap(), "drv-3");
    assert!(full.header(HeaderName::RetryAfter).is_some());
    // Both others time out (the thread is still busy with the first).
    let mut late: Vec<(u16, String)> = Vec::new();
    for _ in 0..2 {
        let r = recv(&uac).await.unwrap();
        late.push((r.status().unwrap(), r.call_id().unwrap().to_string()));
    }
    late.sort();
    assert_eq!(
        late,
        [(500, "drv-1".to_string()), (500, "drv-2".to_string())]
    );
    // The late decisions are dropped: nothing reaches the UAS.
    let mut buf = [0u8; 2048];
    let quiet = tokio::time::timeout(Duration::from_millis(1500), uas.recv_from(&mut buf)).await;
    assert!(quiet.is_err(), "a late decision was carried out");
    let stats = server.stats().await.unwrap();
    assert_eq!(stats.drops.get("router_queue_full"), Some(&1));
    assert_eq!(stats.drops.get("router_timeout"), Some(&2));
    serve.abort();
}
