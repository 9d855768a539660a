//! SIP over WebSocket (RFC 7118) and secure WebSocket: the listeners, the
//! HTTP/1.1 Upgrade (tokio-tungstenite) and what it must offer, then one
//! task per connection (`ws/conn.rs`).
//!
//! The Upgrade must offer the `sip` subprotocol, which the answer names; an
//! `Origin` outside the allow-list (when there is one) is refused. The TLS
//! handshake of WSS and the Upgrade together must finish within the
//! handshake timeout, so a half-open upgrade holds its slot under the
//! connection limit no longer than that. Each refusal is counted
//! ([`WsStats`]).

mod conn;
mod refusals;

use std::sync::Arc;
use std::time::Duration;

use sip::Transport;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error as WsError;

use super::{accept_loop, Accepted, StreamLimits};
use crate::dispatch::{Dispatch, Outbox};
pub use refusals::{WsRefusal, WsStats};

/// The subprotocol of SIP over WebSocket (RFC 7118 §4, IANA registry).
const SUBPROTOCOL: &str = "sip";

/// The read buffer tungstenite allocates for the connection's life: small,
/// since an edge holds many idle connections (1 KiB instead of 4 KiB took
/// an idle connection from 9.6 to 7.0 KB, `bench/connections.sh`); once a
/// frame's header is read, room for the whole frame is reserved, so a
/// larger message still takes one more read, not many.
const READ_BUFFER: usize = 1024;

/// What a WebSocket listener needs beyond the [`StreamLimits`].
#[derive(Debug, Clone)]
pub struct WsSettings {
    /// `Origin` values accepted at the Upgrade (compared without regard to
    /// ASCII case); empty: any. An Upgrade without `Origin` (not from a
    /// browser) is accepted: the header protects browsers' users, and any
    /// other client can send whatever it likes.
    pub allowed_origins: Arc<[String]>,
    /// The TLS handshake (WSS) and the Upgrade must finish within this.
    pub handshake: Duration,
    /// A ping is sent after this long without a frame from the peer, and
    /// the connection is closed when the next interval passes with no
    /// answer; `None`: no pings (the idle timeout still applies).
    pub ping: Option<Duration>,
    /// The refusal counters.
    pub stats: Arc<WsStats>,
}

impl WsSettings {
    /// The refusal of an Upgrade request, or `None` when it may go on.
    fn refusal(&self, req: &Request) -> Option<(WsRefusal, StatusCode, &'static str)> {
        let offers_sip = req
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == SUBPROTOCOL);
        if !offers_sip {
            return Some((
                WsRefusal::Subprotocol,
                StatusCode::BAD_REQUEST,
                "Sec-WebSocket-Protocol must offer sip (RFC 7118)\n",
            ));
        }
        if !self.allowed_origins.is_empty() {
            if let Some(origin) = req.headers().get(header::ORIGIN) {
                let allowed = origin.to_str().is_ok_and(|o| {
                    self.allowed_origins
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(o.trim()))
                });
                if !allowed {
                    return Some((
                        WsRefusal::Origin,
                        StatusCode::FORBIDDEN,
                        "Origin not allowed\n",
                    ));
                }
            }
        }
        None
    }
}

/// The WebSocket limits of a connection: frames and messages no larger
/// than a SIP message may be; writes go out at once, and no more than
/// `write_queue` bytes wait in tungstenite's buffer.
fn ws_config(limits: &StreamLimits) -> WebSocketConfig {
    let max = limits.sip.max_message_size;
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        // Room for one whole message and its frame header.
        .max_write_buffer_size(max + 16)
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

/// Accepts SIP over WebSocket connections on `listener` until the task is
/// dropped; flows are marked [`Transport::Ws`].
pub async fn serve_ws(
    listener: impl Into<super::Listener>,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
    limits: StreamLimits,
    ws: WsSettings,
) {
    accept_loop(listener, limits, move |stream, accepted| {
        let (d, o, ws) = (dispatch.clone(), outbox.clone(), ws.clone());
        async move {
            let deadline = tokio::time::Instant::now() + ws.handshake;
            upgrade(stream, accepted, Transport::Ws, d, o, limits, ws, deadline).await
        }
    })
    .await;
}

/// Accepts SIP over secure WebSocket connections on `listener` until the
/// task is dropped: TLS with `acceptor` (the certificate of `listen.tls`),
/// then the Upgrade; flows are marked [`Transport::Wss`].
pub async fn serve_wss(
    listener: impl Into<super::Listener>,
    acceptor: tokio_rustls::TlsAcceptor,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
    limits: StreamLimits,
    ws: WsSettings,
) {
    accept_loop(listener, limits, move |stream, accepted| {
        let (d, o, ws, acc) = (
            dispatch.clone(),
            outbox.clone(),
            ws.clone(),
            acceptor.clone(),
        );
        async move {
            let deadline = tokio::time::Instant::now() + ws.handshake;
            let peer = accepted.peer;
            let shake = Box::pin(tokio::time::timeout_at(deadline, acc.accept(stream)));
            match shake.await {
                Ok(Ok(tls)) => {
                    let tls = Box::new(tls);
                    upgrade(tls, accepted, Transport::Wss, d, o, limits, ws, deadline).await
                }
                Ok(Err(e)) => {
                    ws.stats.count(WsRefusal::Handshake);
                    tracing::debug!(%peer, error = %e, "WSS: TLS handshake failed");
                }
                Err(_) => {
                    ws.stats.count(WsRefusal::HandshakeTimeout);
                    tracing::debug!(%peer, "WSS: TLS handshake timed out");
                }
            }
        }
    })
    .await;
}

/// The Upgrade on an accepted (and, for WSS, TLS) stream, by `deadline`;
/// then the connection's task.
#[allow(clippy::too_many_arguments)]
async fn upgrade<S>(
    stream: S,
    accepted: Accepted,
    transport: Transport,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
    limits: StreamLimits,
    ws: WsSettings,
    deadline: tokio::time::Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin + std::marker::Send + 'static,
{
    let peer = accepted.peer;
    let check = ws.clone();
    // The signature is tungstenite's `Callback`: its error is the response.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if let Some((why, status, body)) = check.refusal(req) {
            check.stats.count(why);
            tracing::debug!(%peer, reason = why.as_str(), "WebSocket upgrade refused");
            let mut err = ErrorResponse::new(Some(body.to_owned()));
            *err.status_mut() = status;
            return Err(err);
        }
        resp.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(SUBPROTOCOL),
        );
        Ok(resp)
    };
    let shake = Box::pin(tokio::time::timeout_at(
        deadline,
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config(&limits))),
    ));
    match shake.await {
        Ok(Ok(socket)) => {
            conn::serve_ws_connection(socket, accepted, transport, dispatch, outbox, limits, ws)
                .await
        }
        // Refused by the callback: counted there, the HTTP error sent.
        Ok(Err(WsError::Http(resp))) => {
            tracing::debug!(%peer, status = %resp.status(), "WebSocket upgrade answered with an error");
        }
        Ok(Err(e)) => {
            ws.stats.count(WsRefusal::Handshake);
            tracing::debug!(%peer, error = %e, "WebSocket upgrade failed");
        }
        Err(_) => {
            ws.stats.count(WsRefusal::HandshakeTimeout);
            tracing::debug!(%peer, "WebSocket upgrade timed out");
        }
    }
}
