//! `listen:`, `tls:` and `websocket:`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

/// `listen:` — SIP listeners by transport, each a list of `IP:port`
/// (IPv6 as `[addr]:port`), or SIPhon's `{address, advertise, dscp}`.
///
/// TLS listeners take their certificate and key from the top-level `tls:`
/// section (one certificate for every TLS listener).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "RawListen")]
pub struct ListenConfig {
    /// UDP listeners. Default none.
    pub udp: Vec<SocketAddr>,
    /// TCP listeners. Default none.
    pub tcp: Vec<SocketAddr>,
    /// TLS listeners (SIP over TLS, RFC 3261 section 26). Default none.
    /// Need `tls.cert` and `tls.key`.
    pub tls: Vec<SocketAddr>,
    /// SIP over WebSocket listeners (RFC 7118). Default none. Edge only.
    pub ws: Vec<SocketAddr>,
    /// SIP over secure WebSocket listeners (RFC 7118). Default none. Edge
    /// only; need `tls.cert` and `tls.key`.
    pub wss: Vec<SocketAddr>,
    /// DSCP (0–63) of every listener's packets, unless its entry sets one.
    /// Default none: the system's (0).
    pub dscp: Option<u8>,
    /// SIPhon's spelling of `limits.udp_mtu`: a request larger than this
    /// less 200 octets goes over TCP (RFC 3261 §18.1.1).
    pub mtu: Option<u16>,
    /// SIPhon's SCTP listeners. Read; not served (a warning).
    pub sctp: Vec<SocketAddr>,
    /// The entries written as `{address, advertise, dscp}`.
    pub options: Vec<ListenOptions>,
}

/// What an entry in the mapping form sets besides its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenOptions {
    /// `udp`, `tcp`, `tls`, `ws`, `wss` or `sctp`.
    pub transport: &'static str,
    /// The entry's address.
    pub address: SocketAddr,
    /// Host[:port] to put in Via and Record-Route instead of the address.
    pub advertise: Option<String>,
    /// DSCP of this listener's packets.
    pub dscp: Option<u8>,
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

    /// The DSCP of the listener of `transport` at `address`: its entry's,
    /// else `listen.dscp`.
    pub fn dscp_of(&self, transport: &str, address: SocketAddr) -> Option<u8> {
        self.options
            .iter()
            .find(|o| o.transport == transport && o.address == address)
            .and_then(|o| o.dscp)
            .or(self.dscp)
    }
}

/// `listen:` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListen {
    #[serde(default)]
    udp: Vec<Entry>,
    #[serde(default)]
    tcp: Vec<Entry>,
    #[serde(default)]
    tls: Vec<Entry>,
    #[serde(default)]
    ws: Vec<Entry>,
    #[serde(default)]
    wss: Vec<Entry>,
    #[serde(default)]
    sctp: Vec<Entry>,
    #[serde(default)]
    dscp: Option<Dscp>,
    #[serde(default)]
    mtu: Option<u16>,
}

impl From<RawListen> for ListenConfig {
    fn from(raw: RawListen) -> Self {
        let mut options = Vec::new();
        let mut addrs = |transport: &'static str, entries: Vec<Entry>| -> Vec<SocketAddr> {
            entries
                .into_iter()
                .map(|e| match e {
                    Entry::Plain(a) => a,
                    Entry::Extended(x) => {
                        options.push(ListenOptions {
                            transport,
                            address: x.address,
                            advertise: x.advertise,
                            dscp: x.dscp.map(|d| d.0),
                        });
                        x.address
                    }
                })
                .collect()
        };
        ListenConfig {
            udp: addrs("udp", raw.udp),
            tcp: addrs("tcp", raw.tcp),
            tls: addrs("tls", raw.tls),
            ws: addrs("ws", raw.ws),
            wss: addrs("wss", raw.wss),
            sctp: addrs("sctp", raw.sctp),
            dscp: raw.dscp.map(|d| d.0),
            mtu: raw.mtu,
            options,
        }
    }
}

/// One listener: `"IP:port"` or `{address, advertise, dscp}`.
enum Entry {
    Plain(SocketAddr),
    Extended(Extended),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Extended {
    address: SocketAddr,
    #[serde(default)]
    advertise: Option<String>,
    #[serde(default)]
    dscp: Option<Dscp>,
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Entry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("IP:port or {address, advertise, dscp}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Entry, E> {
                v.parse().map(Entry::Plain).map_err(|_| {
                    E::custom(format!(
                        "{v:?}: not a socket address (expected IP:port, IPv6 as [addr]:port)"
                    ))
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Entry, A::Error> {
                Extended::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Entry::Extended)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A DSCP: 0–63, or a name (`CS0`–`CS7`, `AF11`–`AF43`, `EF`, `BE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dscp(pub u8);

impl Dscp {
    /// Reads a number or a DiffServ class name (RFC 4594), any case.
    pub fn parse(text: &str) -> Result<Dscp, String> {
        let t = text.trim().to_ascii_uppercase();
        let named = match t.as_str() {
            "BE" | "DF" => Some(0),
            "EF" => Some(46),
            _ => t
                .strip_prefix("CS")
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| *n <= 7)
                .map(|n| n * 8)
                .or_else(|| {
                    let af = t.strip_prefix("AF")?.as_bytes();
                    match af {
                        [c @ b'1'..=b'4', p @ b'1'..=b'3'] => Some((c - b'0') * 8 + (p - b'0') * 2),
                        _ => None,
                    }
                }),
        };
        if let Some(v) = named {
            return Ok(Dscp(v));
        }
        match t.parse::<u8>() {
            Ok(v) if v <= 63 => Ok(Dscp(v)),
            _ => Err(format!(
                "{text:?}: a DSCP is 0..=63 or a class name (CS0-CS7, AF11-AF43, EF, BE)"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Dscp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Number(n) => n.to_string(),
            Raw::Text(t) => t,
        };
        Dscp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `tls:` — certificate for the `listen.tls` and `listen.wss` listeners. SIPhon's names
/// `certificate` and `private_key` are accepted for `cert` and `key`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first. Required when `listen.tls` is set.
    #[serde(default, alias = "certificate")]
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1). Required when `listen.tls`
    /// is set.
    #[serde(default, alias = "private_key")]
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
    /// SIPhon's switch for client certificates: when given, it decides
    /// whether `client_ca` is used (SIPhon ignores `client_ca` without it).
    #[serde(default)]
    pub verify_client: Option<bool>,
    /// The lowest TLS version offered: `TLSv1_2` (default: 1.2 and 1.3) or
    /// `TLSv1_3` (1.3 only). SIPhon's spellings `TLSv1.2`, `1.2`,
    /// `TLSv1_2+` are accepted.
    #[serde(default)]
    pub method: TlsMethod,
    /// Extra certificates chosen by the server name a client sends (SNI,
    /// RFC 6066): exact names or `*.domain`; `cert` serves the others.
    #[serde(default)]
    pub certificates: Vec<SniCertificate>,
    /// The certificate presented to TLS servers that ask for one on the
    /// connections this instance opens (SIPhon's key); default: `cert`.
    #[serde(default)]
    pub client_certificate: Option<PathBuf>,
    /// The key of `client_certificate`.
    #[serde(default)]
    pub client_private_key: Option<PathBuf>,
}

impl TlsConfig {
    /// Whether clients must present a certificate: `verify_client` when
    /// given, else whether `client_ca` is set.
    pub fn requires_client_cert(&self) -> bool {
        self.verify_client.unwrap_or(self.client_ca.is_some())
    }
}

/// `tls.certificates[]` (SIPhon's schema).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SniCertificate {
    /// Server names this pair serves.
    pub server_names: Vec<String>,
    /// PEM certificate chain.
    pub certificate: PathBuf,
    /// PEM private key.
    pub private_key: PathBuf,
}

/// `tls.method`: the lowest TLS version offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsMethod {
    /// TLS 1.2 and 1.3.
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl<'de> Deserialize<'de> for TlsMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let v = raw
            .trim()
            .trim_end_matches('+')
            .to_ascii_lowercase()
            .replace('_', ".");
        let v = v
            .strip_prefix("tlsv")
            .or_else(|| v.strip_prefix("tls"))
            .unwrap_or(&v);
        match v {
            "1.2" => Ok(TlsMethod::Tls12),
            "1.3" => Ok(TlsMethod::Tls13),
            _ => Err(serde::de::Error::custom(format!(
                "{raw:?}: expected TLSv1_2 (1.2 and 1.3) or TLSv1_3 (1.3 only); TLS 1.0, 1.1 and SSL are not offered (RFC 8996)"
            ))),
        }
    }
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
