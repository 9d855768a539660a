//! Transport errors.

use std::net::SocketAddr;

use thiserror::Error;

/// Why a transport operation failed.
#[derive(Debug, Error)]
pub enum NetError {
    /// Binding a listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// No local socket is bound to the address a message must leave from.
    #[error("no UDP socket bound to {0}")]
    NoSocket(SocketAddr),
    /// The connection is gone (closed, or never was on this instance).
    #[error("connection {0} is gone")]
    ConnectionGone(u32),
    /// The connection's send queue is full (a slow peer): the message is dropped.
    #[error("connection {0} send queue full")]
    QueueFull(u32),
    /// Sending failed.
    #[error("send to {to} failed: {source}")]
    Send {
        /// The destination.
        to: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Opening a connection failed.
    #[error("cannot connect to {to}: {reason}")]
    Connect {
        /// The destination.
        to: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The destination failed recently; it is not dialled again before
    /// its backoff is over.
    #[error("{0} is unreachable (backing off after a failed connect)")]
    Unreachable(SocketAddr),
    /// This process opens no connections (no dialer, or none attached).
    #[error("cannot open a connection to {0}: this process does not dial")]
    NotDialing(SocketAddr),
    /// A TLS destination without a TLS client configuration.
    #[error("cannot open a TLS connection to {0}: no TLS client configured")]
    NoTlsClient(SocketAddr),
    /// Only TCP and TLS are dialled.
    #[error("cannot open a {0} connection to {1}")]
    NotDialable(sip::Transport, SocketAddr),
    /// The limit of opened connections is reached.
    #[error("cannot open a connection to {0}: connection limit reached")]
    TooManyConnections(SocketAddr),
}
