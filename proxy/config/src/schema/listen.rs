//! `listen:`, `tls:` and `websocket:`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// `listen:` — SIP listeners by transport, each a list of `IP:port`
/// (IPv6 as `[addr]:port`).
///
/// TLS listeners take their certificate and key from the top-level `tls:`
/// section (one certificate for every TLS listener).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// UDP listeners. Default none.
    #[serde(default)]
    pub udp: Vec<SocketAddr>,
    /// TCP listeners. Default none.
    #[serde(default)]
    pub tcp: Vec<SocketAddr>,
    /// TLS listeners (SIP over TLS, RFC 3261 section 26). Default none.
    /// Need `tls.cert` and `tls.key`.
    #[serde(default)]
    pub tls: Vec<SocketAddr>,
    /// SIP over WebSocket listeners (RFC 7118). Default none. Edge only.
    #[serde(default)]
    pub ws: Vec<SocketAddr>,
    /// SIP over secure WebSocket listeners (RFC 7118). Default none. Edge
    /// only; need `tls.cert` and `tls.key`.
    #[serde(default)]
    pub wss: Vec<SocketAddr>,
}

impl ListenConfig {
    /// True when no listener is configured.
    pub fn is_empty(&self) -> bool {
        self.udp.is_empty()
            && self.tcp.is_empty()
            && self.tls.is_empty()
            && self.ws.is_empty()
            && self.wss.is_empty()
    }

    /// The first listener in the order udp, tcp, tls, ws, wss.
    pub fn first(&self) -> Option<SocketAddr> {
        self.udp
            .iter()
            .chain(&self.tcp)
            .chain(&self.tls)
            .chain(&self.ws)
            .chain(&self.wss)
            .next()
            .copied()
    }
}

/// `tls:` — certificate for the `listen.tls` and `listen.wss` listeners.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first. Required when `listen.tls` is set.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1). Required when `listen.tls`
    /// is set.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// PEM CA bundle. When set, clients must present a certificate signed
    /// by one of these (mutual TLS). Default: no client certificates asked.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// PEM CA bundle that the certificates of TLS servers this instance
    /// connects to (an edge's TLS backends, a core's TLS targets) are
    /// verified against, with the name of the destination (SNI). Default:
    /// the system's trust store. When `cert` and `key` are set, they are
    /// also this instance's client certificate for servers that ask.
    #[serde(default)]
    pub ca: Option<PathBuf>,
}

/// `websocket:` — the `listen.ws` and `listen.wss` listeners' Upgrade and
/// keepalive.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSocketConfig {
    /// `Origin` values accepted at the Upgrade (`https://host[:port]`);
    /// an Upgrade with another `Origin` gets 403. Default empty: any.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The TLS handshake (WSS) and the HTTP Upgrade must finish within
    /// this many milliseconds, or the connection is closed. Default 5000.
    #[serde(default = "default_handshake_timeout_ms")]
    pub handshake_timeout_ms: u64,
    /// A ping is sent after this many seconds without a frame from the
    /// peer; a peer that has not answered by the next one is closed.
    /// 0: no pings. Default 30.
    #[serde(default = "default_ping_secs")]
    pub ping_secs: u64,
}

fn default_handshake_timeout_ms() -> u64 {
    5000
}

fn default_ping_secs() -> u64 {
    30
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            handshake_timeout_ms: default_handshake_timeout_ms(),
            ping_secs: default_ping_secs(),
        }
    }
}
