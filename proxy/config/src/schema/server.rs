//! `domain:`, `server:`, `metrics:`, `admin:` and `limits:`.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

/// `domain:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// Domains (host names or IP addresses) that are "us": a request whose
    /// Request-URI host is one of these (or a listener or the advertised
    /// address) is for this node. Default none.
    #[serde(default)]
    pub local: Vec<String>,
}

/// `dns:` — how host names are resolved (a core's targets, RFC 3263).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// Name servers (`IP:port`) asked instead of the system's
    /// (`/etc/resolv.conf`, `/etc/hosts`). Default none: the system's.
    #[serde(default)]
    pub servers: Vec<std::net::SocketAddr>,
    /// Time one query may take, retries included, in ms, 100–30000.
    /// Default 2000.
    #[serde(default = "default_dns_timeout_ms")]
    pub timeout_ms: u64,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            servers: Vec::new(),
            timeout_ms: default_dns_timeout_ms(),
        }
    }
}

fn default_dns_timeout_ms() -> u64 {
    2000
}

/// `server:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// This instance's id, unique in the fleet: a number 1–65535, or a
    /// name such as `"${HOSTNAME}"` (SIPhon style). The edge seals the
    /// number into flow tokens of TCP/TLS flows so other edges know who
    /// holds the connection; a name is hashed to a number (give numbers to
    /// rule out collisions). Default 1.
    #[serde(default)]
    pub instance_id: InstanceId,
    /// How long a drain (SIGTERM or `POST /admin/drain`) keeps serving
    /// before the process stops, in seconds, at most 86400. Default 30.
    #[serde(default = "default_drain_secs")]
    pub drain_secs: u64,
    /// Worker threads of the runtime (and `SO_REUSEPORT` sockets per UDP
    /// listener), 1–1024; 0 (the default) means one per CPU.
    #[serde(default)]
    pub workers: usize,
    /// The `Server` header of the responses this node makes itself
    /// (SIPhon's key). Default none.
    #[serde(default)]
    pub server_header: Option<String>,
    /// The `User-Agent` header of the requests this node makes itself,
    /// such as gateway probes (SIPhon's key). Default `anysip`.
    #[serde(default)]
    pub user_agent_header: Option<String>,
}

impl ServerConfig {
    /// `drain_secs` as a duration.
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain_secs)
    }
}

/// `server.instance_id`: a number, or a name hashed to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceId {
    /// As written (the number in decimal, or the name).
    pub name: String,
    /// 1–65535.
    pub number: u16,
}

impl Default for InstanceId {
    fn default() -> Self {
        InstanceId {
            name: "1".into(),
            number: 1,
        }
    }
}

impl InstanceId {
    /// Reads a number (1–65535) or a name (1–253 characters of letters,
    /// digits, `.`, `-`, `_`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return match t.parse::<u16>() {
                Ok(n) if n > 0 => Ok(InstanceId {
                    name: n.to_string(),
                    number: n,
                }),
                _ => Err(format!("{t} is out of range 1..=65535")),
            };
        }
        let ok = !t.is_empty()
            && t.len() <= 253
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !ok {
            return Err(format!(
                "{t:?}: a number 1..=65535 or a name of letters, digits, '.', '-', '_'"
            ));
        }
        // FNV-1a, folded into 1..=65535: stable across builds and hosts.
        let mut h: u32 = 0x811c_9dc5;
        for b in t.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        let number = u16::try_from(h % 65_535 + 1).unwrap_or(1);
        Ok(InstanceId {
            name: t.to_owned(),
            number,
        })
    }
}

impl<'de> Deserialize<'de> for InstanceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
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
        if text.trim().is_empty() {
            // An unset `${VAR}` (SIPhon falls back to the host's name).
            return Ok(host_name()
                .and_then(|h| InstanceId::parse(&h).ok())
                .unwrap_or_default());
        }
        InstanceId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The kernel's host name.
fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            instance_id: InstanceId::default(),
            drain_secs: default_drain_secs(),
            workers: 0,
            server_header: None,
            user_agent_header: None,
        }
    }
}

/// `metrics:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// The Prometheus exposition.
    #[serde(default)]
    pub prometheus: PrometheusConfig,
}

/// `metrics.prometheus:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// A separate listener for `GET /metrics`. Default none: metrics are
    /// served by the admin listener at `/metrics`.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// The path of the metrics on `listen` (SIPhon's key). Default
    /// `/metrics`. The admin listener serves them at `/metrics` too.
    #[serde(default = "default_metrics_path")]
    pub path: String,
    /// SIPhon's browser CORS policy for the metrics listener.
    #[serde(default)]
    pub cors: Option<super::siphon::CorsConfig>,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            listen: None,
            path: default_metrics_path(),
            cors: None,
        }
    }
}

fn default_metrics_path() -> String {
    "/metrics".to_owned()
}

/// `admin:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Listen address of the admin API. Default `127.0.0.1:9091`. Anyone
    /// who can reach it can drain the node: keep it local.
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
    /// A bearer token (SIPhon's `admin.auth`): the mutating routes (and,
    /// with `protect_reads`, every route) need `Authorization: Bearer`.
    #[serde(default)]
    pub auth: Option<super::siphon::AdminAuthConfig>,
    /// SIPhon's browser CORS policy for the admin API.
    #[serde(default)]
    pub cors: Option<super::siphon::CorsConfig>,
    /// SIPhon's embedded dashboard. Read; not served (a warning when
    /// enabled).
    #[serde(default)]
    pub ui: Option<super::siphon::AdminUiConfig>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: default_admin_listen(),
            auth: None,
            cors: None,
            ui: None,
        }
    }
}

/// `limits:` — bounds on what network input may cost.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest SIP message (headers and body), in octets, 1024–1048576.
    /// Default 65535.
    #[serde(default = "default_max_message_size")]
    pub max_message_size: usize,
    /// Most header fields in one message, 16–4096. Default 128.
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// Most simultaneous TCP/TLS connections (inbound and outbound), at
    /// least 1. Default 10000.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A TCP/TLS connection with no traffic (keepalives count) for this
    /// long is closed, in seconds, at least 1. Default 900 (above the
    /// RFC 5626 recommended 840 s keepalive interval for streams).
    #[serde(default = "default_tcp_idle_secs")]
    pub tcp_idle_secs: u64,
    /// Time limit for opening an outbound TCP/TLS connection (TLS handshake
    /// included), in ms, at least 1. Default 2000.
    #[serde(default = "default_tcp_connect_timeout_ms")]
    pub tcp_connect_timeout_ms: u64,
    /// A TCP/TLS/WebSocket connection whose sent data stays unacknowledged
    /// this long is closed by the kernel (`TCP_USER_TIMEOUT`), in ms,
    /// 1000–3600000. Default 10000: a UE whose connection died silently (a
    /// route change moved it to another instance) is noticed in seconds,
    /// and later messages to that flow get 430, not the kernel's 15 minutes
    /// of retransmissions.
    #[serde(default = "default_tcp_user_timeout_ms")]
    pub tcp_user_timeout_ms: u64,
    /// Most bytes queued for sending on one connection; past it the
    /// connection is closed, at least `max_message_size`. Default 1048576.
    #[serde(default = "default_write_queue_bytes")]
    pub write_queue_bytes: usize,
    /// A core's most server transactions alive at once (those lingering
    /// after their final response included), 1000–10000000; new requests
    /// past it get 503 with Retry-After. A UDP call holds about two for
    /// 32 s after it ends: the default 100000 sustains about 1,500 calls/s.
    #[serde(default = "default_max_transactions")]
    pub max_transactions: usize,
    /// The path MTU assumed towards next hops, 576–65535. Default 1500. A
    /// request larger than this less 200 octets is sent over TCP instead
    /// of UDP (RFC 3261 §18.1.1), to the same address and port.
    #[serde(default = "default_udp_mtu")]
    pub udp_mtu: usize,
}

impl Limits {
    /// `tcp_idle_secs` as a duration.
    pub fn tcp_idle(&self) -> Duration {
        Duration::from_secs(self.tcp_idle_secs)
    }

    /// `tcp_user_timeout_ms` as a duration.
    pub fn tcp_user_timeout(&self) -> Duration {
        Duration::from_millis(self.tcp_user_timeout_ms)
    }

    /// `tcp_connect_timeout_ms` as a duration.
    pub fn tcp_connect_timeout(&self) -> Duration {
        Duration::from_millis(self.tcp_connect_timeout_ms)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: default_max_message_size(),
            max_headers: default_max_headers(),
            max_connections: default_max_connections(),
            max_transactions: default_max_transactions(),
            tcp_idle_secs: default_tcp_idle_secs(),
            tcp_connect_timeout_ms: default_tcp_connect_timeout_ms(),
            tcp_user_timeout_ms: default_tcp_user_timeout_ms(),
            write_queue_bytes: default_write_queue_bytes(),
            udp_mtu: default_udp_mtu(),
        }
    }
}

impl Limits {
    /// The largest request sent over UDP (§18.1.1: the MTU less 200).
    pub fn udp_max_request(&self) -> usize {
        self.udp_mtu.saturating_sub(200)
    }
}

fn default_drain_secs() -> u64 {
    30
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9091))
}
fn default_max_message_size() -> usize {
    65_535
}
fn default_max_headers() -> usize {
    128
}
fn default_udp_mtu() -> usize {
    1500
}
fn default_max_transactions() -> usize {
    100_000
}

fn default_max_connections() -> usize {
    10_000
}
fn default_tcp_idle_secs() -> u64 {
    900
}
fn default_tcp_connect_timeout_ms() -> u64 {
    2_000
}
fn default_tcp_user_timeout_ms() -> u64 {
    10_000
}
fn default_write_queue_bytes() -> usize {
    1 << 20
}
