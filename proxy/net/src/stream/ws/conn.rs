//! One WebSocket connection after the Upgrade, on one task: each text or
//! binary message is one SIP message (RFC 7118 §5) handed to the role; the
//! send queue is written as text frames (binary when not UTF-8); pings
//! keep it alive; protocol errors close it with their close code.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sip::{Flow, Transport};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Utf8Bytes};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::{WsRefusal, WsSettings};
use crate::conns::ToWriter;
use crate::dispatch::{Dispatch, Outbox};
use crate::stream::{Accepted, StreamLimits};

/// How long one frame may take to be written, and the close handshake to
/// be sent: a peer that reads nothing must not hold the task.
const WRITE_STALL: Duration = Duration::from_secs(10);

/// What woke the connection's task.
enum Event {
    Frame(Option<Result<Message, WsError>>),
    Send(Option<ToWriter>),
    PingDue,
    Idle,
}

/// Serves one upgraded connection until it ends; it is in the connection
/// table (reachable by sends, as a TCP connection is) meanwhile.
pub(super) async fn serve_ws_connection<S>(
    mut socket: WebSocketStream<S>,
    accepted: Accepted,
    transport: Transport,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
    limits: StreamLimits,
    ws: WsSettings,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Accepted {
        peer,
        local,
        permit,
    } = accepted;
    let (tx, mut queue) = mpsc::channel::<ToWriter>(limits.send_queue.max(1));
    let id = outbox
        .connections()
        .insert(peer, transport, true, tx.clone());
    let origin = Flow {
        transport,
        remote: peer,
        local,
        connection: id,
    };
    let idle = tokio::time::sleep(limits.idle);
    tokio::pin!(idle);
    // Far in the future when pings are off.
    let ping_every = ws.ping.unwrap_or(Duration::from_secs(86_400 * 365));
    let ping = tokio::time::sleep(ping_every);
    tokio::pin!(ping);
    let mut ping_unanswered = false;
    let close: Option<(CloseCode, &str)> = loop {
        let event = tokio::select! {
            f = socket.next() => Event::Frame(f),
            s = queue.recv() => Event::Send(s),
            () = &mut ping, if ws.ping.is_some() => Event::PingDue,
            () = &mut idle => Event::Idle,
        };
        match event {
            Event::Frame(None) => break None,
            Event::Idle => break Some((CloseCode::Away, "idle")),
            Event::Frame(Some(Err(e))) => break refusal(&e, &ws, peer),
            Event::Frame(Some(Ok(frame))) => {
                let now = Instant::now();
                idle.as_mut().reset(now + limits.idle);
                ping.as_mut().reset(now + ping_every);
                ping_unanswered = false;
                let bytes = match frame {
                    Message::Text(t) => Bytes::from(t),
                    Message::Binary(b) => b,
                    // Pongs are written by tungstenite; a close is
                    // answered by it too, and the stream then ends.
                    Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
                        continue
                    }
                };
                if bytes.iter().all(|&b| b == b'\r' || b == b'\n') {
                    // A CRLF keepalive in a frame (RFC 5626 style, as some
                    // WebSocket SIP stacks send): a double CRLF is answered
                    // with one CRLF, a single one is the answer itself.
                    if bytes.as_ref() == b"\r\n\r\n" {
                        let _ = tx.try_send(ToWriter::Bytes(Bytes::from_static(b"\r\n")));
                    }
                    continue;
                }
                outbox.tap(crate::tap::Direction::In, &origin, &bytes);
                let sends = dispatch.on_message(bytes, origin);
                Box::pin(outbox.deliver(&*dispatch, sends)).await;
            }
            Event::Send(Some(ToWriter::Bytes(b))) => {
                idle.as_mut().reset(Instant::now() + limits.idle);
                outbox.tap(crate::tap::Direction::Out, &origin, &b);
                let frame = match Utf8Bytes::try_from(b.clone()) {
                    Ok(text) => Message::Text(text),
                    Err(_) => Message::Binary(b),
                };
                match tokio::time::timeout(WRITE_STALL, socket.send(frame)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "WebSocket write failed: closing");
                        break None;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "WebSocket write stalled: closing");
                        break None;
                    }
                }
            }
            // Asked to close after a final reply (what was queued before
            // it is written).
            Event::Send(Some(ToWriter::Close)) => break Some((CloseCode::Normal, "")),
            // Cannot happen while `tx` is held; ends the connection anyway.
            Event::Send(None) => break None,
            Event::PingDue => {
                if ping_unanswered {
                    ws.stats.count(WsRefusal::PingTimeout);
                    tracing::debug!(%peer, "WebSocket ping unanswered: closing");
                    break Some((CloseCode::Away, "ping unanswered"));
                }
                ping_unanswered = true;
                ping.as_mut().reset(Instant::now() + ping_every);
                let sent =
                    tokio::time::timeout(WRITE_STALL, socket.send(Message::Ping(Bytes::new())));
                if !matches!(sent.await, Ok(Ok(()))) {
                    break None;
                }
            }
        }
    };
    outbox.connections().remove(id);
    drop(tx);
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        };
        // Best effort: the close frame, then the peer's answer or the end
        // of the stream, within the write stall limit.
        let _ = tokio::time::timeout(WRITE_STALL, async {
            if socket.close(Some(frame)).await.is_ok() {
                while let Some(Ok(_)) = socket.next().await {}
            }
        })
        .await;
    }
    drop(socket);
    drop(permit);
}

/// The close (code and reason) for a read error: counted when the peer
/// broke the protocol; `None` for the end of the connection.
fn refusal(
    e: &WsError,
    ws: &WsSettings,
    peer: std::net::SocketAddr,
) -> Option<(CloseCode, &'static str)> {
    let (why, code, reason) = match e {
        WsError::Capacity(_) => (WsRefusal::TooBig, CloseCode::Size, "message too big"),
        WsError::Utf8(_) => (
            WsRefusal::BadUtf8,
            CloseCode::Invalid,
            "text frame not UTF-8",
        ),
        // The peer went away without a close frame: not a protocol error.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => return None,
        WsError::Protocol(_) | WsError::AttackAttempt => {
            (WsRefusal::Protocol, CloseCode::Protocol, "protocol error")
        }
        _ => {
            tracing::debug!(%peer, error = %e, "WebSocket connection ended");
            return None;
        }
    };
    ws.stats.count(why);
    tracing::debug!(%peer, error = %e, reason = why.as_str(), "WebSocket protocol error: closing");
    Some((code, reason))
}
