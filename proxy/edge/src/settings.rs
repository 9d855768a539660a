//! What an edge instance needs to know about itself and its backends.

use std::net::{IpAddr, SocketAddr};

use tokencodec::{Backend, Transport};

/// Static settings of one edge instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeSettings {
    /// This instance's id (goes into flow tokens of stream flows).
    pub instance_id: u16,
    /// The address UEs reach the edge on (the anycast address): used in the
    /// Record-Route and Via facing UEs.
    pub ue_facing: SocketAddr,
    /// The address backends reach the edge on: used in Path, and in the
    /// Record-Route and Via facing backends. When it differs from
    /// `ue_facing`, the edge double record-routes (RFC 5658).
    pub backend_facing: SocketAddr,
    /// `Retry-After` seconds in a 503 when no backend is healthy.
    pub retry_after_secs: u32,
    /// What a request without the edge's token is hashed on to choose its
    /// backend.
    pub selection_key: SelectionKey,
    /// Largest request sent to a UDP backend (RFC 3261 §18.1.1: the path
    /// MTU less 200 octets); a larger one goes over TCP to the same address.
    pub udp_max_request: usize,
    /// The ports of the stream listeners, where they differ from the
    /// faces' (UDP) ports: Record-Route, Path and Via for a stream name
    /// the listener of that transport.
    pub stream_ports: StreamPorts,
}

/// The port of each stream transport's listener (`None`: the face's port).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamPorts {
    /// TCP.
    pub tcp: Option<u16>,
    /// TLS.
    pub tls: Option<u16>,
    /// WebSocket.
    pub ws: Option<u16>,
    /// Secure WebSocket.
    pub wss: Option<u16>,
}

/// The request field a backend is chosen by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SelectionKey {
    /// The To address-of-record (`user@host`): every request for a user
    /// goes to the same backend (the seeds' load balancer).
    #[default]
    ToAor,
    /// The From address-of-record.
    FromAor,
    /// The Call-ID.
    CallId,
    /// The Request-URI as written.
    RequestUri,
}

impl EdgeSettings {
    /// True when `ip:port` is one of the edge's advertised addresses (a
    /// face's IP, with its port or a stream listener's).
    pub fn is_own(&self, ip: IpAddr, port: u16) -> bool {
        let p = &self.stream_ports;
        let ports = [p.tcp, p.tls, p.ws, p.wss];
        [self.ue_facing, self.backend_facing]
            .iter()
            .any(|a| a.ip() == ip && (a.port() == port || ports.contains(&Some(port))))
    }

    /// The address of `face` (`ue_facing` or `backend_facing`) for
    /// `transport`: its IP, and the port of that transport's listener.
    pub fn address_for(&self, face: SocketAddr, transport: Transport) -> SocketAddr {
        let p = &self.stream_ports;
        let port = match transport {
            Transport::Udp => None,
            Transport::Tcp => p.tcp,
            Transport::Tls => p.tls,
            Transport::Ws => p.ws,
            Transport::Wss => p.wss,
        };
        port.map_or(face, |port| SocketAddr::new(face.ip(), port))
    }

    /// True when the edge double record-routes.
    pub fn double_record_route(&self) -> bool {
        self.ue_facing != self.backend_facing
    }
}

/// The backend group as the edge sees it.
pub trait Backends {
    /// The backend a message from `source` over `transport` comes from, as
    /// requests reach it (its transport and listening address), or `None`
    /// when the sender is not a backend. Over UDP the address and port must
    /// be a backend's; over a stream, either the connection is one the edge
    /// opened to a backend (its peer is the backend's address), or the
    /// backend opened it from an ephemeral port of a stream backend's IP.
    fn backend_of(&self, source: SocketAddr, transport: Transport) -> Option<Backend>;

    /// For a stream from the IP of a UDP backend (which sends requests too
    /// large for UDP over TCP, RFC 3261 §18.1.1, from an ephemeral port):
    /// that backend. Such a sender may also be a UE on the same host; the
    /// edge decides by the token the request carries. Default: none.
    fn maybe_backend(&self, _source: SocketAddr, _transport: Transport) -> Option<Backend> {
        None
    }

    /// Chooses a healthy backend for a request with this selection key.
    /// `sticky` asks for the choice to be a pure function of the key, the
    /// same at every instance: rendezvous hashing, whatever the group's
    /// algorithm. The edge asks it for INVITE, CANCEL and ACK, so that an
    /// INVITE's CANCEL and non-2xx ACK reach its backend from any instance.
    fn select(&mut self, key: &[u8], sticky: bool) -> Option<Backend>;
}
