//! Where a message came from.

use std::net::SocketAddr;

use tokencodec::{Flow, Transport};

/// The flow a message arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inbound {
    /// Transport it arrived over.
    pub transport: Transport,
    /// The sender's address (after NAT).
    pub source: SocketAddr,
    /// The local address it arrived on.
    pub local: SocketAddr,
    /// The connection id (stream transports; 0 for UDP).
    pub connection: u32,
}

impl Inbound {
    /// The flow this message arrived on, as a token payload.
    pub fn flow(&self, instance: u16) -> Flow {
        let stream = self.transport.is_stream();
        Flow {
            transport: self.transport,
            ue: self.source,
            local: self.local,
            instance: if stream { instance } else { 0 },
            connection: if stream { self.connection } else { 0 },
        }
    }
}
