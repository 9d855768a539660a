//! The transports on loopback, with a dispatch that answers every message.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use net::{bind_udp, serve_tcp, serve_udp, Connections, Dispatch, Outbox, Outgoing, StreamLimits};
use sip::Flow;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Answers each message with "ok <n>" on the flow it came on, and records origins.
struct Echo {
    seen: Mutex<Vec<Flow>>,
    /// Close the connection after the reply (as after a 400).
    close: bool,
}

impl Dispatch for Echo {
    fn on_message(&self, bytes: Bytes, origin: Flow) -> Vec<Outgoing> {
        self.seen.lock().unwrap().push(origin);
        let reply = Bytes::from(format!("ok {}", bytes.len()));
        match origin.transport {
            sip::Transport::Udp => vec![Outgoing::Udp {
                from: origin.local,
                to: origin.remote,
                bytes: reply,
                tag: net::SendTag::NONE,
            }],
            _ => vec![Outgoing::Conn {
                id: origin.connection,
                peer: origin.remote,
                bytes: reply,
                close: self.close,
                fallback: None,
                tag: net::SendTag::NONE,
            }],
        }
    }
}

const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 3\r\n\r\nabc";

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), f)
        .await
        .expect("timed out")
}

#[tokio::test]
async fn udp_reuseport_answers_from_the_listener() {
    let socks = bind_udp("127.0.0.1:0".parse().unwrap(), 1).unwrap();
    let addr = socks[0].local_addr().unwrap();
    // A second socket on the same port (SO_REUSEPORT).
    let more = bind_udp(addr, 2).unwrap();
    assert_eq!(more[1].local_addr().unwrap(), addr);
    drop(more);
    let echo = Arc::new(Echo {
        seen: Mutex::new(vec![]),
        close: false,
    });
    let outbox = Outbox::new(
        HashMap::from([(addr, socks[0].clone())]),
        Connections::default(),
    );
    let task = tokio::spawn(serve_udp(socks[0].clone(), echo.clone(), outbox));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(b"\r\n\r\n", addr).await.unwrap(); // keepalive: ignored
    client.send_to(MSG, addr).await.unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = within(client.recv_from(&mut buf)).await.unwrap();
    assert_eq!(&buf[..n], format!("ok {}", MSG.len()).as_bytes());
    assert_eq!(from, addr);
    let seen = echo.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].remote, client.local_addr().unwrap());
    task.abort();
}

#[tokio::test]
async fn tcp_frames_any_chunking_answers_pings_and_tracks_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = Arc::new(Echo {
        seen: Mutex::new(vec![]),
        close: false,
    });
    let conns = Connections::default();
    let outbox = Outbox::new(HashMap::new(), conns.clone());
    let task = tokio::spawn(serve_tcp(
        listener,
        echo.clone(),
        outbox.clone(),
        StreamLimits::default(),
    ));
    let mut c = TcpStream::connect(addr).await.unwrap();
    // A ping, then a message split in three writes.
    c.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    within(c.read_exact(&mut pong)).await.unwrap();
    assert_eq!(&pong, b"\r\n");
    for part in MSG.chunks(17) {
        c.write_all(part).await.unwrap();
        c.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let want = format!("ok {}", MSG.len());
    let mut got = vec![0u8; want.len()];
    within(c.read_exact(&mut got)).await.unwrap();
    assert_eq!(got, want.as_bytes());
    let origin = echo.seen.lock().unwrap()[0];
    assert_eq!(conns.len(), 1);
    // The role can reach the connection by id later; a wrong peer cannot.
    outbox
        .send(Outgoing::Conn {
            id: origin.connection,
            peer: origin.remote,
            bytes: Bytes::from_static(b"later"),
            close: false,
            fallback: None,
            tag: net::SendTag::NONE,
        })
        .await
        .unwrap();
    let mut later = [0u8; 5];
    within(c.read_exact(&mut later)).await.unwrap();
    assert_eq!(&later, b"later");
    let wrong = outbox
        .send(Outgoing::Conn {
            id: origin.connection,
            peer: "127.0.0.1:1".parse().unwrap(),
            bytes: Bytes::new(),
            close: false,
            fallback: None,
            tag: net::SendTag::NONE,
        })
        .await;
    assert!(wrong.is_err());
    // Closing removes it from the table; a send then takes its fallback.
    drop(c);
    within(async {
        while !conns.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let sink = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sink_addr = sink.local_addr().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp_addr = udp.local_addr().unwrap();
    let ob = Outbox::new(HashMap::from([(udp_addr, Arc::new(udp))]), conns.clone());
    let fallback = Outgoing::Udp {
        from: udp_addr,
        to: sink_addr,
        bytes: Bytes::from_static(b"430"),
        tag: net::SendTag::NONE,
    };
    ob.send(Outgoing::Conn {
        id: origin.connection,
        peer: origin.remote,
        bytes: Bytes::new(),
        close: false,
        fallback: Some(Box::new(fallback)),
        tag: net::SendTag::NONE,
    })
    .await
    .map(|d| assert_eq!(d, net::Delivery::FellBack))
    .unwrap();
    let mut b = [0u8; 8];
    let (n, _) = within(sink.recv_from(&mut b)).await.unwrap();
    assert_eq!(&b[..n], b"430");
    task.abort();
}

#[tokio::test]
async fn framing_errors_and_idle_connections_are_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = Arc::new(Echo {
        seen: Mutex::new(vec![]),
        close: false,
    });
    let limits = StreamLimits {
        idle: Duration::from_millis(300),
        max_connections: 1,
        ..StreamLimits::default()
    };
    let task = tokio::spawn(serve_tcp(listener, echo.clone(), Outbox::default(), limits));
    // No Content-Length on a stream: closed.
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n")
        .await
        .unwrap();
    let mut b = [0u8; 16];
    assert_eq!(within(c.read(&mut b)).await.unwrap(), 0);
    // Idle: closed after the timeout.
    let mut c = TcpStream::connect(addr).await.unwrap();
    let t0 = std::time::Instant::now();
    assert_eq!(within(c.read(&mut b)).await.unwrap_or(0), 0);
    assert!(t0.elapsed() >= Duration::from_millis(250));
    assert!(echo.seen.lock().unwrap().is_empty());
    task.abort();
}

#[tokio::test]
async fn a_reply_with_close_is_written_then_the_connection_closes() {
    let listener = net::bind_stream("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = Arc::new(Echo {
        seen: Mutex::new(vec![]),
        close: true,
    });
    let conns = Connections::default();
    let outbox = Outbox::new(HashMap::new(), conns.clone());
    let task = tokio::spawn(serve_tcp(listener, echo, outbox, StreamLimits::default()));
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(MSG).await.unwrap();
    let mut got = Vec::new();
    within(c.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, format!("ok {}", MSG.len()).as_bytes());
    // Shut down for writing, the connection still reads until the peer
    // closes; then it leaves the table.
    drop(c);
    within(async {
        while !conns.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    task.abort();
}
