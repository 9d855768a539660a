//! The edge's backends as the transports see them: which sender is a
//! backend (over UDP by address and port; over streams by the connection
//! the edge opened, or the IP of a stream backend that opened one), and
//! the name a TLS backend's certificate must carry.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use sip::Transport;
use tokencodec::Backend;

/// The backends of the edge's group, indexed for the per-message checks.
#[derive(Debug, Default)]
pub(crate) struct BackendIndex {
    /// By the address requests are sent to.
    by_addr: HashMap<SocketAddr, Entry>,
    /// Stream backends by IP: a connection a backend opened comes from
    /// an ephemeral port.
    stream_ips: HashMap<IpAddr, Backend>,
    /// UDP backends by IP: over a stream, maybe the backend (§18.1.1).
    udp_ips: HashMap<IpAddr, Backend>,
}

#[derive(Debug)]
struct Entry {
    backends: Vec<Backend>,
    server_name: Option<Arc<str>>,
}

impl BackendIndex {
    /// Indexes destinations (URI, address, transport).
    pub(crate) fn new<'a>(dests: impl Iterator<Item = (&'a str, SocketAddr, Transport)>) -> Self {
        let mut index = BackendIndex::default();
        for (uri, addr, transport) in dests {
            let backend = Backend { transport, addr };
            let e = index.by_addr.entry(addr).or_insert_with(|| Entry {
                backends: Vec::new(),
                server_name: crate::probe::server_name(uri),
            });
            e.backends.push(backend);
            if transport.is_stream() {
                index.stream_ips.entry(addr.ip()).or_insert(backend);
            } else {
                index.udp_ips.entry(addr.ip()).or_insert(backend);
            }
        }
        index
    }

    /// The backend a message from `source` over `transport` comes from.
    pub(crate) fn backend_of(&self, source: SocketAddr, transport: Transport) -> Option<Backend> {
        if let Some(e) = self.by_addr.get(&source) {
            if let Some(b) = e.backends.iter().find(|b| b.transport == transport) {
                return Some(*b);
            }
        }
        if backend_stream(transport) {
            return self.stream_ips.get(&source.ip()).copied();
        }
        None
    }

    /// A stream from a UDP backend's IP: maybe that backend, sending a
    /// request too large for UDP over TCP (the edge decides by the token).
    pub(crate) fn maybe_backend(
        &self,
        source: SocketAddr,
        transport: Transport,
    ) -> Option<Backend> {
        if !backend_stream(transport) {
            return None;
        }
        self.udp_ips.get(&source.ip()).copied()
    }

    /// The name a TLS backend at `addr` is verified against: the host of
    /// its URI when that is a name (its IP address otherwise).
    pub(crate) fn server_name(&self, addr: SocketAddr) -> Option<Arc<str>> {
        self.by_addr.get(&addr).and_then(|e| e.server_name.clone())
    }
}

/// A stream a backend may open toward the edge: TCP or TLS. A WebSocket
/// connection (WS, WSS) is a browser's or a WebRTC client's, never a
/// backend's, whatever its address.
fn backend_stream(transport: Transport) -> bool {
    matches!(transport, Transport::Tcp | Transport::Tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_are_told_apart() {
        let udp: SocketAddr = "10.0.0.1:5060".parse().unwrap();
        let tcp: SocketAddr = "10.0.0.2:5060".parse().unwrap();
        let tls: SocketAddr = "10.0.0.3:5061".parse().unwrap();
        let index = BackendIndex::new(
            [
                ("sip:10.0.0.1", udp, Transport::Udp),
                ("sip:10.0.0.2;transport=tcp", tcp, Transport::Tcp),
                ("sips:core.example.net", tls, Transport::Tls),
            ]
            .into_iter(),
        );
        let b = |transport, addr| Some(Backend { transport, addr });
        assert_eq!(
            index.backend_of(udp, Transport::Udp),
            b(Transport::Udp, udp)
        );
        // A UDP backend's IP on another port is not a backend.
        assert_eq!(
            index.backend_of("10.0.0.1:5999".parse().unwrap(), Transport::Udp),
            None
        );
        assert_eq!(
            index.backend_of("10.0.0.1:40000".parse().unwrap(), Transport::Tcp),
            None
        );
        // A stream backend: the connection the edge opened, or one it
        // opened from an ephemeral port.
        assert_eq!(
            index.backend_of(tcp, Transport::Tcp),
            b(Transport::Tcp, tcp)
        );
        assert_eq!(
            index.backend_of("10.0.0.2:40000".parse().unwrap(), Transport::Tcp),
            b(Transport::Tcp, tcp)
        );
        assert_eq!(
            index.backend_of("10.0.0.3:40000".parse().unwrap(), Transport::Tls),
            b(Transport::Tls, tls)
        );
        assert_eq!(
            index.backend_of("10.0.0.9:5060".parse().unwrap(), Transport::Tcp),
            None
        );
        // A WebSocket from a backend's IP is a UE.
        for t in [Transport::Ws, Transport::Wss] {
            assert_eq!(index.backend_of("10.0.0.2:40000".parse().unwrap(), t), None);
            assert_eq!(
                index.maybe_backend("10.0.0.1:40000".parse().unwrap(), t),
                None
            );
        }
        assert_eq!(index.server_name(tls).as_deref(), Some("core.example.net"));
        assert_eq!(index.server_name(tcp), None);
    }
}
