//! TCP connections: accept, frame, dispatch, write; keepalives, idle
//! timeout, a limit on connections and message size.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sip::framer::{Frame, StreamFramer};
use sip::Transport;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

use crate::conns::ToWriter;
use crate::dispatch::{Dispatch, Outbox};
use sip::Flow;

/// Limits of stream connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Most simultaneous connections (further accepts are closed at once).
    pub max_connections: usize,
    /// A connection with no bytes in either direction for this long is closed.
    pub idle: Duration,
    /// Message limits for the framer.
    pub sip: sip::Limits,
    /// Depth of each connection's send queue.
    pub send_queue: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            idle: Duration::from_secs(3600),
            sip: sip::Limits::default(),
            send_queue: 256,
        }
    }
}

/// Accepts TCP connections on `listener` until the task is dropped.
pub async fn serve_tcp(
    listener: TcpListener,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
    limits: StreamLimits,
) {
    accept_loop(listener, limits, move |stream, peer, local| {
        let (d, o) = (dispatch.clone(), outbox.clone());
        async move { serve_connection(stream, peer, local, Transport::Tcp, d, o, limits).await }
    })
    .await;
}

/// Accepts connections until the task is dropped, within the connection
/// limit, and runs `per_connection` for each on its own task.
async fn accept_loop<F, Fut>(listener: TcpListener, limits: StreamLimits, per_connection: F)
where
    F: Fn(TcpStream, SocketAddr, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + std::marker::Send + 'static,
{
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "stream listener has no local address");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached: closing");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let work = per_connection(stream, peer, local);
        tokio::spawn(async move {
            work.await;
            drop(permit);
        });
    }
}

/// Serves one stream connection (TCP, or TLS once the handshake is done).
pub(crate) async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    local: SocketAddr,
    transport: Transport,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
    limits: StreamLimits,
) where
    S: AsyncRead + AsyncWrite + Unpin + std::marker::Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<ToWriter>(limits.send_queue.max(1));
    let id = outbox.connections().insert(peer, tx.clone());
    let writer = tokio::spawn(async move {
        while let Some(o) = rx.recv().await {
            match o {
                ToWriter::Bytes(b) => {
                    if wr.write_all(&b).await.is_err() {
                        break;
                    }
                }
                ToWriter::Close => break,
            }
        }
        let _ = wr.shutdown().await;
    });
    let origin = Flow {
        transport,
        remote: peer,
        local,
        connection: id,
    };
    let mut framer = StreamFramer::new(limits.sip);
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let n = match tokio::time::timeout(limits.idle, rd.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => n,
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_frame() {
                Ok(None) => break,
                Ok(Some(Frame::Ping)) => {
                    let _ = tx.try_send(ToWriter::Bytes(Bytes::from_static(b"\r\n")));
                }
                Ok(Some(Frame::Pong)) => {}
                Ok(Some(Frame::Message(m))) => {
                    let sends = dispatch.on_message(m, origin);
                    outbox.deliver(&*dispatch, sends).await;
                }
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "framing error: closing");
                    break 'read;
                }
            }
        }
    }
    outbox.connections().remove(id);
    let _ = tx.try_send(ToWriter::Close);
    drop(tx);
    let _ = writer.await;
}

/// Accepts TLS connections (SIP over TLS, RFC 3261 §26) on `listener` until
/// the task is dropped. The handshake runs on the connection's own task,
/// bounded by `handshake`; flows are marked [`Transport::Tls`].
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
    limits: StreamLimits,
    handshake: Duration,
) {
    accept_loop(listener, limits, move |stream, peer, local| {
        let (d, o, acc) = (dispatch.clone(), outbox.clone(), acceptor.clone());
        async move {
            match tokio::time::timeout(handshake, acc.accept(stream)).await {
                Ok(Ok(tls)) => {
                    serve_connection(tls, peer, local, Transport::Tls, d, o, limits).await
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    })
    .await;
}
