//! Between the transports and the role: what arrived, what to send.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokencodec::Transport;
use tokio::net::UdpSocket;

use crate::conns::Connections;
use crate::error::NetError;

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Transport it arrived over.
    pub transport: Transport,
    /// The sender (after NAT).
    pub source: SocketAddr,
    /// The local address it arrived on.
    pub local: SocketAddr,
    /// The connection id (streams; 0 for UDP).
    pub connection: u32,
}

/// One thing to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Send {
    /// A datagram from a local UDP socket.
    Udp {
        /// The local address to send from (a bound listener).
        from: SocketAddr,
        /// The destination.
        to: SocketAddr,
        /// The datagram.
        bytes: Bytes,
    },
    /// Bytes on a stream connection of this process.
    Conn {
        /// The connection id.
        id: u32,
        /// The peer the connection must still have (ids wrap).
        peer: SocketAddr,
        /// The bytes.
        bytes: Bytes,
        /// Close the connection once they are written.
        close: bool,
        /// What to send (and how) if the connection is gone.
        fallback: Option<Box<Send>>,
    },
}

/// The role: turns a received message into sends. Called on the receiving
/// task; must not block.
pub trait Dispatch: std::marker::Send + Sync + 'static {
    /// A whole SIP message arrived (a datagram, or a framed stream message).
    fn on_message(&self, bytes: Bytes, origin: Origin) -> Vec<Send>;
}

/// Performs sends: the UDP sockets by local address and the connection table.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    udp: Arc<HashMap<SocketAddr, Arc<UdpSocket>>>,
    conns: Connections,
}

impl Outbox {
    /// An outbox over these UDP sockets and connection table.
    pub fn new(udp: HashMap<SocketAddr, Arc<UdpSocket>>, conns: Connections) -> Self {
        Self {
            udp: Arc::new(udp),
            conns,
        }
    }

    /// The connection table.
    pub fn connections(&self) -> &Connections {
        &self.conns
    }

    /// Performs one send; a stream send whose connection is gone performs
    /// its fallback instead.
    pub async fn send(&self, s: Send) -> Result<(), NetError> {
        match s {
            Send::Udp { from, to, bytes } => {
                // A flow received by another instance names its local
                // address; with anycast every instance has it bound. Where
                // it is not (tests emulating anycast with several loopback
                // addresses), the lowest bound address of the family is used.
                let sock = self
                    .udp
                    .get(&from)
                    .or_else(|| {
                        self.udp
                            .iter()
                            .filter(|(a, _)| {
                                a.is_ipv4() == from.is_ipv4() && !a.ip().is_unspecified()
                            })
                            .min_by_key(|(a, _)| **a)
                            .map(|(_, s)| s)
                    })
                    .ok_or(NetError::NoSocket(from))?;
                sock.send_to(&bytes, to)
                    .await
                    .map(drop)
                    .map_err(|source| NetError::Send { to, source })
            }
            Send::Conn {
                id,
                peer,
                bytes,
                close,
                fallback,
            } => match self.conns.send(id, peer, bytes, close) {
                Err(NetError::ConnectionGone(_)) if fallback.is_some() => match fallback {
                    Some(f) => Box::pin(self.send(*f)).await,
                    None => Ok(()),
                },
                r => r,
            },
        }
    }
}
