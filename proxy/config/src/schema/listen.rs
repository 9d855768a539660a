//! `listen:` and `tls:`.

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
}

impl ListenConfig {
    /// True when no listener is configured.
    pub fn is_empty(&self) -> bool {
        self.udp.is_empty() && self.tcp.is_empty() && self.tls.is_empty()
    }

    /// The first listener in the order udp, tcp, tls.
    pub fn first(&self) -> Option<SocketAddr> {
        self.udp
            .iter()
            .chain(&self.tcp)
            .chain(&self.tls)
            .next()
            .copied()
    }
}

/// `tls:` — certificate for the `listen.tls` listeners.
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
