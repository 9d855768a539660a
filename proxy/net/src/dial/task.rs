//! One opened connection's task: connect (and handshake), report what
//! waited, serve the connection like an accepted one, then forget it.

use std::net::SocketAddr;
use std::sync::Arc;

use sip::Transport;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::OwnedSemaphorePermit;

use super::{DialKey, Dialer, Waiting};
use crate::dispatch::{Delivery, Dispatch, Outbox};
use crate::error::NetError;
use crate::stream::conn::{serve_registered, Registered};
use crate::stream::Accepted;

pub(super) async fn dial(
    dialer: Arc<Dialer>,
    key: DialKey,
    registered: Registered,
    permit: OwnedSemaphorePermit,
    dispatch: Arc<dyn Dispatch>,
    outbox: Outbox,
) {
    let id = registered.id;
    let settings = dialer.settings().clone();
    let connected = tokio::time::timeout(settings.connect_timeout, connect(&key)).await;
    let stream = match connected {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return failed(&dialer, &key, id, &outbox, &*dispatch, e).await,
        Err(_) => {
            let e = NetError::Connect {
                to: key.to,
                reason: "timed out".into(),
            };
            return failed(&dialer, &key, id, &outbox, &*dispatch, e).await;
        }
    };
    crate::stream::tune(&stream, &settings.limits);
    let local = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::new(key.to.ip(), 0));
    let accepted = Accepted {
        peer: key.to,
        local,
        permit,
    };
    let limits = settings.limits;
    match (key.transport, settings.tls) {
        (Transport::Tls, Some(config)) => {
            let name = server_name(&key);
            let connector = tokio_rustls::TlsConnector::from(config);
            let shake = Box::pin(tokio::time::timeout(
                settings.connect_timeout,
                connector.connect(name, stream),
            ));
            let tls = match shake.await {
                Ok(Ok(tls)) => Box::new(tls),
                Ok(Err(e)) => {
                    let e = NetError::Connect {
                        to: key.to,
                        reason: format!("TLS handshake: {e}"),
                    };
                    return failed(&dialer, &key, id, &outbox, &*dispatch, e).await;
                }
                Err(_) => {
                    let e = NetError::Connect {
                        to: key.to,
                        reason: "TLS handshake timed out".into(),
                    };
                    return failed(&dialer, &key, id, &outbox, &*dispatch, e).await;
                }
            };
            opened(&dialer, &key, id, &*dispatch);
            let d = dispatch.clone();
            let o = outbox.clone();
            serve_registered(tls, registered, accepted, Transport::Tls, d, o, limits).await;
        }
        _ => {
            opened(&dialer, &key, id, &*dispatch);
            let d = dispatch.clone();
            let o = outbox.clone();
            serve_registered(stream, registered, accepted, Transport::Tcp, d, o, limits).await;
        }
    }
    dialer.closed(&key, id);
}

/// Opens the TCP connection, from `key.from` when set.
async fn connect(key: &DialKey) -> Result<TcpStream, NetError> {
    let err = |e: std::io::Error| NetError::Connect {
        to: key.to,
        reason: e.to_string(),
    };
    let socket = if key.to.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    if let Some(ip) = key.from.filter(|ip| !ip.is_unspecified()) {
        socket.bind(SocketAddr::new(ip, 0)).map_err(err)?;
    }
    socket.connect(key.to).await.map_err(err)
}

/// The name the server's certificate is checked against.
fn server_name(key: &DialKey) -> rustls::pki_types::ServerName<'static> {
    use rustls::pki_types::ServerName;
    key.server_name
        .as_deref()
        .and_then(|n| ServerName::try_from(n.to_string()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(key.to.ip().into()))
}

fn opened(dialer: &Dialer, key: &DialKey, id: u32, dispatch: &dyn Dispatch) {
    tracing::debug!(to = %key.to, transport = %key.transport, "connection opened");
    for w in dialer.dialled(key, id, true) {
        if w.tag != crate::SendTag::NONE {
            dispatch.on_sent(w.tag, &Ok(Delivery::Sent));
        }
    }
}

/// The dial failed: the connection leaves the table (what was queued on it
/// with it), and each waiting send's fallback is performed or its error
/// reported.
async fn failed(
    dialer: &Dialer,
    key: &DialKey,
    id: u32,
    outbox: &Outbox,
    dispatch: &dyn Dispatch,
    error: NetError,
) {
    tracing::warn!(to = %key.to, transport = %key.transport, %error, "cannot connect");
    outbox.connections().remove(id);
    for Waiting { tag, fallback } in dialer.dialled(key, id, false) {
        let result = match fallback {
            Some(f) => Box::pin(outbox.send(*f)).await.map(|_| Delivery::FellBack),
            None => Err(NetError::Connect {
                to: key.to,
                reason: error.to_string(),
            }),
        };
        if tag != crate::SendTag::NONE {
            dispatch.on_sent(tag, &result);
        }
    }
}
