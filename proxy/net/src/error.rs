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
}
