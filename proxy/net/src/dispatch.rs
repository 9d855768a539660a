//! Between the transports and the role: what arrived, what to send.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use sip::Flow;
use tokio::net::UdpSocket;

use crate::conns::Connections;
use crate::dial::{DialFailure, DialKey, Dialer};
use crate::error::NetError;
use crate::tap::{Direction, Tap};

/// The role's note on a send, opaque to the transports and handed back
/// with the send's [`Delivery`] or error (as io_uring's `user_data`), so
/// that the role counts what really happened to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SendTag(pub u64);

impl SendTag {
    /// No note: the role does not want to hear of this send.
    pub const NONE: SendTag = SendTag(0);
}

/// What became of a send that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Written to the socket or queued on the connection.
    Sent,
    /// The connection was gone or could not be opened: its fallback was
    /// sent instead.
    FellBack,
    /// Queued on a connection being opened: what becomes of it is reported
    /// to [`Dispatch::on_sent`] when the dial ends (tagged sends only).
    Queued,
}

/// One thing to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A datagram from a local UDP socket.
    Udp {
        /// The local address to send from (a bound listener).
        from: SocketAddr,
        /// The destination.
        to: SocketAddr,
        /// The datagram.
        bytes: Bytes,
        /// The role's note.
        tag: SendTag,
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
        fallback: Option<Box<Outgoing>>,
        /// The role's note.
        tag: SendTag,
    },
    /// Bytes to a destination over a connection this process opens (or
    /// has opened) to it: TCP or TLS.
    Dial {
        /// The destination.
        key: DialKey,
        /// The bytes.
        bytes: Bytes,
        /// What to send instead if the destination cannot be reached.
        fallback: Option<Box<Outgoing>>,
        /// The role's note.
        tag: SendTag,
    },
}

impl Outgoing {
    /// The role's note on this send.
    pub fn tag(&self) -> SendTag {
        match self {
            Outgoing::Udp { tag, .. } | Outgoing::Conn { tag, .. } | Outgoing::Dial { tag, .. } => {
                *tag
            }
        }
    }

    /// The same send with another note.
    pub fn retagged(mut self, new: SendTag) -> Outgoing {
        match &mut self {
            Outgoing::Udp { tag, .. } | Outgoing::Conn { tag, .. } | Outgoing::Dial { tag, .. } => {
                *tag = new;
            }
        }
        self
    }
}

/// The role: turns a received message into sends. Called on the receiving
/// task; must not block.
pub trait Dispatch: std::marker::Send + Sync + 'static {
    /// A whole SIP message arrived (a datagram, or a framed stream message).
    fn on_message(&self, bytes: Bytes, origin: Flow) -> Vec<Outgoing>;

    /// What became of a send that [`Dispatch::on_message`] asked for (with
    /// a tag other than [`SendTag::NONE`]). The default ignores it.
    fn on_sent(&self, _tag: SendTag, _result: &Result<Delivery, NetError>) {}
}

/// Performs sends: the UDP sockets by local address, the connection
/// table, and the dialer that opens connections.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    udp: Arc<HashMap<SocketAddr, Arc<UdpSocket>>>,
    conns: Connections,
    dialer: Option<Arc<Dialer>>,
    tap: Option<Arc<dyn Tap>>,
}

impl Outbox {
    /// An outbox over these UDP sockets and connection table.
    pub fn new(udp: HashMap<SocketAddr, Arc<UdpSocket>>, conns: Connections) -> Self {
        Self {
            udp: Arc::new(udp),
            conns,
            dialer: None,
            tap: None,
        }
    }

    /// This outbox, giving `tap` a copy of every message the transports
    /// receive and send.
    pub fn with_tap(mut self, tap: Arc<dyn Tap>) -> Self {
        self.tap = Some(tap);
        self
    }

    /// The tap, if there is one.
    pub(crate) fn tap_handle(&self) -> Option<Arc<dyn Tap>> {
        self.tap.clone()
    }

    /// Hands a copy of a message to the tap, if there is one.
    pub(crate) fn tap(&self, direction: Direction, flow: &Flow, bytes: &Bytes) {
        if let Some(t) = &self.tap {
            if !crate::tap::is_keepalive(bytes) {
                t.capture(direction, flow, bytes);
            }
        }
    }

    /// This outbox, opening connections with `dialer` for
    /// [`Outgoing::Dial`] sends.
    pub fn with_dialer(mut self, dialer: Arc<Dialer>) -> Self {
        self.dialer = Some(dialer);
        self
    }

    /// The dialer, if this outbox opens connections.
    pub fn dialer(&self) -> Option<&Arc<Dialer>> {
        self.dialer.as_ref()
    }

    /// The connection table.
    pub fn connections(&self) -> &Connections {
        &self.conns
    }

    /// Performs the sends `dispatch` asked for, in order, and tells it what
    /// became of each tagged one. Failures are logged at debug level; the
    /// role counts them.
    pub async fn deliver(&self, dispatch: &dyn Dispatch, sends: Vec<Outgoing>) {
        for s in sends {
            let tag = s.tag();
            let result = self.send(s).await;
            if let Err(e) = &result {
                tracing::debug!(error = %e, "send failed");
            }
            if tag != SendTag::NONE && !matches!(result, Ok(Delivery::Queued)) {
                dispatch.on_sent(tag, &result);
            }
        }
    }

    /// Performs one send; a stream send whose connection is gone (or
    /// cannot be opened) performs its fallback instead.
    pub async fn send(&self, s: Outgoing) -> Result<Delivery, NetError> {
        match s {
            Outgoing::Udp {
                from, to, bytes, ..
            } => {
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
                let sent = sock
                    .send_to(&bytes, to)
                    .await
                    .map(|_| Delivery::Sent)
                    .map_err(|source| NetError::Send { to, source });
                if sent.is_ok() && self.tap.is_some() {
                    let local = sock.local_addr().unwrap_or(from);
                    self.tap(Direction::Out, &Flow::udp(to, local), &bytes);
                }
                sent
            }
            Outgoing::Conn {
                id,
                peer,
                bytes,
                close,
                fallback,
                ..
            } => match self.conns.send(id, peer, bytes, close) {
                Ok(()) => Ok(Delivery::Sent),
                Err(NetError::ConnectionGone(id)) => match fallback {
                    Some(f) => Box::pin(self.send(*f)).await.map(|_| Delivery::FellBack),
                    None => Err(NetError::ConnectionGone(id)),
                },
                Err(e) => Err(e),
            },
            Outgoing::Dial {
                key,
                bytes,
                fallback,
                tag,
            } => {
                let Some(dialer) = &self.dialer else {
                    return Err(NetError::NotDialing(key.to));
                };
                match dialer.send(self, key, bytes, tag, fallback) {
                    Ok(d) => Ok(d),
                    Err(DialFailure {
                        error,
                        fallback: Some(f),
                    }) => {
                        tracing::debug!(%error, "cannot send: fallback");
                        Box::pin(self.send(*f)).await.map(|_| Delivery::FellBack)
                    }
                    Err(DialFailure { error, .. }) => Err(error),
                }
            }
        }
    }
}
