//! The WebSocket listener on loopback (RFC 7118): text and binary frames
//! are SIP messages of a `ws` flow in the connection table, sends to the
//! connection go out as text frames, a CRLF keepalive frame is answered,
//! pings keep a live peer and close a silent one.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use net::{
    bind_stream, serve_ws, Connections, Dispatch, Outbox, Outgoing, SendTag, StreamLimits,
    WsRefusal, WsSettings, WsStats,
};
use sip::{Flow, Transport};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Answers each message on its connection with its length, and keeps the
/// flows and messages it saw.
#[derive(Default)]
struct Answer {
    seen: Mutex<Vec<(Flow, Bytes)>>,
}

impl Dispatch for Answer {
    fn on_message(&self, bytes: Bytes, origin: Flow) -> Vec<Outgoing> {
        let reply = Bytes::from(format!("SIP/2.0 200 OK ({} octets)", bytes.len()));
        self.seen.lock().unwrap().push((origin, bytes));
        vec![Outgoing::Conn {
            id: origin.connection,
            peer: origin.remote,
            bytes: reply,
            close: false,
            fallback: None,
            tag: SendTag::NONE,
        }]
    }
}

const MSG: &str = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/WS h.invalid;branch=z9hG4bK1\r\n\r\n";

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), f)
        .await
        .expect("timed out")
}

/// A listener pinging after `ping` of silence; its address, dispatch,
/// connection table and refusal counters.
async fn listener(ping: Duration) -> (String, Arc<Answer>, Connections, Arc<WsStats>) {
    listener_with(Some(ping), StreamLimits::default()).await
}

async fn listener_with(
    ping: Option<Duration>,
    limits: StreamLimits,
) -> (String, Arc<Answer>, Connections, Arc<WsStats>) {
    let l = bind_stream("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let answer = Arc::new(Answer::default());
    let conns = Connections::default();
    let stats = Arc::new(WsStats::default());
    let settings = WsSettings {
        allowed_origins: Arc::from(Vec::new()),
        handshake: Duration::from_secs(2),
        ping,
        stats: stats.clone(),
    };
    let outbox = Outbox::new(Default::default(), conns.clone());
    tokio::spawn(serve_ws(l, answer.clone(), outbox, limits, settings));
    (addr, answer, conns, stats)
}

/// A WebSocket client offering `sip`.
async fn client(addr: &str) -> WebSocketStream<TcpStream> {
    let mut req = format!("ws://{addr}/").into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (ws, resp) = within(tokio_tungstenite::client_async(req, tcp))
        .await
        .unwrap();
    assert_eq!(resp.headers().get("Sec-WebSocket-Protocol").unwrap(), "sip");
    ws
}

/// The next data frame (pings are answered by the client as it reads).
async fn next_data(ws: &mut WebSocketStream<TcpStream>, pings: &mut u32) -> Message {
    loop {
        match within(ws.next()).await.unwrap().unwrap() {
            Message::Ping(_) => *pings += 1,
            m => return m,
        }
    }
}

#[tokio::test]
async fn frames_are_messages_of_a_ws_flow_and_pings_keep_it() {
    let (addr, answer, conns, stats) = listener(Duration::from_millis(200)).await;
    let mut ws = client(&addr).await;
    let mut pings = 0;
    ws.send(Message::text(MSG)).await.unwrap();
    let reply = next_data(&mut ws, &mut pings).await;
    assert_eq!(
        reply,
        Message::text(format!("SIP/2.0 200 OK ({} octets)", MSG.len()))
    );
    ws.send(Message::binary(MSG.as_bytes().to_vec()))
        .await
        .unwrap();
    assert!(matches!(
        next_data(&mut ws, &mut pings).await,
        Message::Text(_)
    ));
    {
        let seen = answer.seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        for (flow, bytes) in seen.iter() {
            assert_eq!(flow.transport, Transport::Ws);
            assert_ne!(flow.connection, 0);
            assert_eq!(bytes.as_ref(), MSG.as_bytes());
        }
        assert_eq!(conns.len(), 1);
    }
    // A CRLF keepalive in a frame: answered with a CRLF, not dispatched.
    ws.send(Message::text("\r\n\r\n")).await.unwrap();
    assert_eq!(next_data(&mut ws, &mut pings).await, Message::text("\r\n"));
    assert_eq!(answer.seen.lock().unwrap().len(), 2);
    // Silent for five ping intervals, reading (so pinged and ponging): the
    // connection stays.
    let quiet = tokio::time::timeout(Duration::from_millis(1000), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_))) => pings += 1,
                other => return other,
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "the connection stays open: {quiet:?}");
    assert!(pings >= 2, "{pings} pings");
    assert_eq!(stats.refused(WsRefusal::PingTimeout), 0);
    ws.send(Message::text(MSG)).await.unwrap();
    assert!(matches!(
        next_data(&mut ws, &mut pings).await,
        Message::Text(_)
    ));
    // Closed by the client: gone from the table.
    ws.close(None).await.unwrap();
    within(async {
        while !conns.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_answers_no_ping_is_closed() {
    let (addr, _answer, conns, stats) = listener(Duration::from_millis(200)).await;
    // Never read: tungstenite answers pings only as it reads.
    let ws = client(&addr).await;
    within(async {
        while conns.len() != 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    within(async {
        while !conns.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(stats.refused(WsRefusal::PingTimeout), 1);
    drop(ws);
}

#[tokio::test]
async fn an_idle_connection_is_closed_with_going_away() {
    let limits = StreamLimits {
        idle: Duration::from_millis(300),
        ..StreamLimits::default()
    };
    let (addr, _answer, conns, _stats) = listener_with(None, limits).await;
    let mut ws = client(&addr).await;
    let mut pings = 0;
    match next_data(&mut ws, &mut pings).await {
        Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1001),
        other => panic!("{other:?}"),
    }
    assert_eq!(pings, 0, "no pings when they are off");
    within(async {
        while !conns.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}
