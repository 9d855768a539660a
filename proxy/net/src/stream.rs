//! TCP and TLS listeners (WebSocket ones in `ws.rs`): bind, accept within
//! the connection limit, hand each connection to its task (`conn.rs`:
//! frame, dispatch, write; keepalives, idle timeout).

pub(crate) mod conn;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sip::Transport;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::dispatch::{Dispatch, Outbox};
use crate::error::NetError;
use conn::serve_connection;
pub use ws::{serve_ws, serve_wss, WsRefusal, WsSettings, WsStats};

/// Binds a TCP listener (for `serve_tcp` or `serve_tls`) with the largest
/// accept backlog the kernel allows (`net.core.somaxconn`, which caps the
/// value asked for): after an anycast route change or a restart, thousands
/// of UEs reconnect at once, and with the usual 128 the connections past
/// it wait for SYN retransmissions (a second and more) before they are
/// accepted.
pub fn bind_stream(addr: SocketAddr) -> Result<TcpListener, NetError> {
    bind(addr, false)
}

/// Binds one of several TCP listeners on `addr` (as [`bind_stream`], with
/// `SO_REUSEPORT`: the kernel spreads new connections over them), each
/// bound on the worker thread that serves what it accepts.
pub fn bind_stream_shared(addr: SocketAddr) -> Result<TcpListener, NetError> {
    bind(addr, true)
}

fn bind(addr: SocketAddr, reuse_port: bool) -> Result<TcpListener, NetError> {
    let err = |source| NetError::Bind { addr, source };
    let s =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    // As tokio's own bind: a restarted instance can bind at once while old
    // connections are in TIME_WAIT.
    s.set_reuse_address(true).map_err(err)?;
    if reuse_port {
        s.set_reuse_port(true).map_err(err)?;
    }
    if addr.is_ipv6() {
        s.set_only_v6(true).map_err(err)?;
    }
    s.set_nonblocking(true).map_err(err)?;
    s.bind(&addr.into()).map_err(err)?;
    s.listen(i32::MAX).map_err(err)?;
    TcpListener::from_std(s.into()).map_err(err)
}

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
    /// Sent data unacknowledged this long closes the connection
    /// (`TCP_USER_TIMEOUT`); `None` leaves the kernel's default.
    pub user_timeout: Option<Duration>,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            idle: Duration::from_secs(3600),
            sip: sip::Limits::default(),
            send_queue: 256,
            user_timeout: None,
        }
    }
}

/// Sets what every stream connection gets: no Nagle delay, and the
/// configured `TCP_USER_TIMEOUT` so that a peer gone silently (its route
/// moved elsewhere) is noticed by the first unacknowledged write.
pub(crate) fn tune(stream: &tokio::net::TcpStream, limits: &StreamLimits) {
    let _ = stream.set_nodelay(true);
    if let Some(t) = limits.user_timeout {
        if let Err(e) = socket2::SockRef::from(stream).set_tcp_user_timeout(Some(t)) {
            tracing::debug!(error = %e, "TCP_USER_TIMEOUT not set");
        }
    }
}

/// A connection the accept loop took.
pub(crate) struct Accepted {
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    /// Its place under the connection limit, given back when it ends.
    pub(crate) permit: OwnedSemaphorePermit,
}

/// A bound stream listener and the connection limit it counts against: its
/// own, or one shared by the listeners of one address on several worker
/// threads ([`Listener::shared`]).
#[derive(Debug)]
pub struct Listener {
    socket: TcpListener,
    permits: Option<Arc<Semaphore>>,
}

impl Listener {
    /// `socket`, counting its connections in `permits` (`limits.max_connections`
    /// of the address, shared by its listeners).
    pub fn shared(socket: TcpListener, permits: Arc<Semaphore>) -> Listener {
        Listener {
            socket,
            permits: Some(permits),
        }
    }
}

impl From<TcpListener> for Listener {
    fn from(socket: TcpListener) -> Listener {
        Listener {
            socket,
            permits: None,
        }
    }
}

/// Accepts TCP connections on `listener` until the task is dropped.
pub async fn serve_tcp(
    listener: impl Into<Listener>,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
    limits: StreamLimits,
) {
    accept_loop(listener, limits, move |stream, accepted| {
        serve_connection(
            stream,
            accepted,
            Transport::Tcp,
            dispatch.clone(),
            outbox.clone(),
            limits,
        )
    })
    .await;
}

/// Accepts connections until the task is dropped, within the connection
/// limit, and spawns the future `per_connection` makes for each as its task
/// (spawned as it is, not wrapped: a wrapping future would hold it twice).
async fn accept_loop<F, Fut>(listener: impl Into<Listener>, limits: StreamLimits, per_connection: F)
where
    F: Fn(TcpStream, Accepted) -> Fut,
    Fut: std::future::Future<Output = ()> + std::marker::Send + 'static,
{
    let Listener {
        socket: listener,
        permits,
    } = listener.into();
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "stream listener has no local address");
            return;
        }
    };
    let permits = permits.unwrap_or_else(|| Arc::new(Semaphore::new(limits.max_connections)));
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
        tune(&stream, &limits);
        let accepted = Accepted {
            peer,
            local,
            permit,
        };
        tokio::spawn(per_connection(stream, accepted));
    }
}

/// Accepts TLS connections (SIP over TLS, RFC 3261 §26) on `listener` until
/// the task is dropped. The handshake runs on the connection's own task,
/// bounded by `handshake`; flows are marked [`Transport::Tls`].
pub async fn serve_tls(
    listener: impl Into<Listener>,
    acceptor: tokio_rustls::TlsAcceptor,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
    limits: StreamLimits,
    handshake: Duration,
) {
    accept_loop(listener, limits, move |stream, accepted| {
        let (d, o, acc) = (dispatch.clone(), outbox.clone(), acceptor.clone());
        async move {
            // Boxed, and the session too: the task keeps neither the
            // handshake's state nor a second copy of the session (a
            // future stores its arguments apart from its locals).
            let shake = Box::pin(tokio::time::timeout(handshake, acc.accept(stream)));
            let peer = accepted.peer;
            match shake.await {
                Ok(Ok(tls)) => {
                    let tls = Box::new(tls);
                    serve_connection(tls, accepted, Transport::Tls, d, o, limits).await
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn tune_sets_nodelay_and_the_user_timeout() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let limits = StreamLimits {
            user_timeout: Some(Duration::from_millis(7000)),
            ..StreamLimits::default()
        };
        tune(&c, &limits);
        assert!(c.nodelay().unwrap());
        assert_eq!(
            socket2::SockRef::from(&c).tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(7000))
        );
        // Without one, the kernel's default stays.
        let d = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        tune(&d, &StreamLimits::default());
        assert_eq!(socket2::SockRef::from(&d).tcp_user_timeout().unwrap(), None);
    }
}
