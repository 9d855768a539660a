//! The transports of an anysip process, on tokio.
//!
//! Received messages go to a [`Dispatch`] (the edge or the core role), which
//! answers synchronously with the [`Outgoing`] sends to perform; the transport tasks
//! perform them. UDP listeners use one `SO_REUSEPORT` socket per worker so
//! the kernel spreads datagrams over cores; stream connections each get one
//! task (framing, keepalives, idle timeout, and writing what a bounded
//! queue brings), hold no buffer while idle, and are found again through
//! the [`Connections`] table.
#![forbid(unsafe_code)]

mod conns;
mod dial;
mod dispatch;
mod error;
mod stream;
mod tap;
mod udp;

pub use conns::{ConnHandle, Connections};
pub use dial::{DialKey, DialSettings, Dialer};
pub use dispatch::{Delivery, Dispatch, Outbox, Outgoing, SendTag};
pub use error::NetError;
pub use stream::{
    bind_stream, bind_stream_shared, serve_tcp, serve_tls, serve_ws, serve_wss, Listener,
    StreamLimits, WsRefusal, WsSettings, WsStats,
};
pub use tap::{Direction, Tap};
pub use tokio_rustls::{TlsAcceptor, TlsConnector};
pub use udp::{bind_udp, serve_udp};
