//! The transports a SIP message travels over, and the flow it arrived on.
//!
//! One [`Transport`] for the whole workspace (tokens, the edge, the core,
//! gateways, resolution) and one [`Flow`] for "where a message came from /
//! goes to": transport, remote and local address, connection.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use crate::message::Framing;

/// A SIP transport (RFC 3261 §18, RFC 7118 for WebSocket). Serialises (with
/// the `serde` feature) as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket.
    Ws,
    /// WebSocket over TLS.
    Wss,
}

impl Transport {
    /// All transports, in code order.
    pub const ALL: [Transport; 5] = [
        Transport::Udp,
        Transport::Tcp,
        Transport::Tls,
        Transport::Ws,
        Transport::Wss,
    ];

    /// Whether the transport is connection-oriented: a flow over it is
    /// pinned to the process holding the connection.
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// How messages are delimited on it (RFC 3261 §18.3). WebSocket
    /// carries one message per frame, but a message must still carry a
    /// Content-Length only where it is a byte stream, so WS counts as a
    /// datagram for the Content-Length rules (RFC 7118 §5.3 makes it
    /// optional).
    pub fn framing(self) -> Framing {
        match self {
            Transport::Tcp | Transport::Tls => Framing::Stream,
            Transport::Udp | Transport::Ws | Transport::Wss => Framing::Datagram,
        }
    }

    /// The lower-case name used in configuration, metrics labels and URI
    /// `transport=` parameters.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }

    /// The name in a Via's sent-protocol (`SIP/2.0/<name>`).
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// Whether the transport is secured by TLS (`sips:` may use it).
    pub fn is_secure(self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transport name that is none of `udp`, `tcp`, `tls`, `ws`, `wss`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown transport {0:?} (udp, tcp, tls, ws or wss)")]
pub struct UnknownTransport(pub String);

impl FromStr for Transport {
    type Err = UnknownTransport;

    /// Parses a transport name case-insensitively (`udp`, `TCP`, `ws`...).
    fn from_str(s: &str) -> Result<Self, UnknownTransport> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownTransport(s.to_owned()))
    }
}

/// A flow: the transport, the remote and local addresses and, on a stream,
/// the connection of this process that carries it. It says where a message
/// came from and where one is to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// The transport.
    pub transport: Transport,
    /// The peer's address (after NAT, for a message received).
    pub remote: SocketAddr,
    /// The local address (the listener it arrived on or leaves from).
    pub local: SocketAddr,
    /// The stream connection id; 0 when there is none (UDP, or a stream
    /// destination still to connect to).
    pub connection: u32,
}

impl Flow {
    /// A UDP flow.
    pub fn udp(remote: SocketAddr, local: SocketAddr) -> Self {
        Flow {
            transport: Transport::Udp,
            remote,
            local,
            connection: 0,
        }
    }

    /// How messages are delimited on this flow.
    pub fn framing(&self) -> Framing {
        self.transport.framing()
    }

    /// Whether the flow is a stream connection.
    pub fn is_stream(&self) -> bool {
        self.transport.is_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Transport::ALL {
            assert_eq!(t.as_str().parse::<Transport>(), Ok(t));
            assert_eq!(t.via_name().parse::<Transport>(), Ok(t));
            assert_eq!(t.via_name().to_ascii_lowercase(), t.as_str());
        }
        assert!("sctp".parse::<Transport>().is_err());
    }

    #[test]
    fn framing_follows_the_transport() {
        assert_eq!(Transport::Udp.framing(), Framing::Datagram);
        assert_eq!(Transport::Tcp.framing(), Framing::Stream);
        assert_eq!(Transport::Tls.framing(), Framing::Stream);
        assert_eq!(Transport::Ws.framing(), Framing::Datagram);
        assert!(!Transport::Udp.is_stream());
        assert!(Transport::Wss.is_stream() && Transport::Wss.is_secure());
    }
}
