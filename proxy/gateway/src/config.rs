//! Configuration: `gateway.groups` in the YAML file.
//!
//! Every struct rejects unknown keys and every optional key has an explicit
//! default. [`GatewayConfig::validate`] checks what serde cannot and names
//! the key path of each problem (`gateway.groups[0].destinations[1].weight:
//! must be > 0`).
//!
//! ```yaml
//! gateway:
//!   groups:
//!     - name: backends
//!       algorithm: weighted        # weighted (default) | round_robin | hash
//!       hash_key: to_aor           # to_aor (default) | from_aor | call_id | request_uri
//!       probe:
//!         enabled: true            # default true
//!         interval_secs: 5         # default 5
//!         timeout_secs: 2          # default 2, at most interval_secs
//!         failure_threshold: 3     # default 3
//!         success_threshold: 2     # default 2
//!         healthy_codes: [200]     # default: any final response except 503
//!         from_user: anysip        # default anysip: From user of the OPTIONS
//!         from_domain: lb.example  # default: the sending address
//!       destinations:
//!         - uri: "sip:10.0.0.1:5060"
//!           address: "10.0.0.1:5060"  # or host:port, resolved at load
//!           transport: udp         # udp (default) | tcp | tls
//!           weight: 100            # default 1, 1..=1000000
//!           priority: 1            # default 1; lower first, next tier when all are down
//!           attrs: { pop: fra1 }
//! ```

pub mod address;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
pub use sip::Transport;

pub use validate::{ConfigError, MAX_WEIGHT};

/// `gateway:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The gateway groups. Default: none.
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
}

/// One entry of `gateway.groups`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Name used by routing (`gateway.select("backends")`), the admin API,
    /// logs and metrics. Unique; letters, digits, `_`, `-`, `.`.
    pub name: String,
    /// How a destination is chosen. Default `weighted`.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// What the edge hashes for `algorithm: hash`. Default `to_aor`.
    /// Ignored by the other algorithms.
    #[serde(default)]
    pub hash_key: HashKey,
    /// OPTIONS probing. Default: enabled with the defaults of [`ProbeConfig`].
    #[serde(default)]
    pub probe: ProbeConfig,
    /// The members. At least one.
    pub destinations: Vec<DestinationConfig>,
}

/// `algorithm:` of a group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Smooth weighted round robin (as nginx): over any window of
    /// `sum(weights)` selections each healthy member is chosen exactly
    /// `weight` times, interleaved.
    #[default]
    Weighted,
    /// Plain round robin over the healthy members; weights are ignored.
    RoundRobin,
    /// Rendezvous (highest random weight) hashing of a key from the request,
    /// weighted when weights differ: a key stays on its member as long as
    /// that member is healthy, and a membership change moves only the keys of
    /// the member that changed. Without a key, falls back to `weighted`.
    /// SIPhon's names `call_id_hash`, `from_uri_hash` and `to_uri_hash`
    /// are accepted for it (the key is still `hash_key`, or the script's).
    #[serde(alias = "call_id_hash", alias = "from_uri_hash", alias = "to_uri_hash")]
    Hash,
}

/// `hash_key:` of a group: which part of the request is the key for
/// `algorithm: hash`. Extracting it is the caller's job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HashKey {
    /// The To URI's address of record (`user@host`).
    #[default]
    ToAor,
    /// The From URI's address of record.
    FromAor,
    /// The Call-ID.
    CallId,
    /// The Request-URI.
    RequestUri,
}

/// `probe:` of a group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Send OPTIONS to every destination. Default `true`. When `false` a
    /// destination is down only when marked down by the admin API.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Time between two probes of one destination, seconds. Default 5.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// A probe without a final response after this long failed, seconds.
    /// Default 2; at most `interval_secs`.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Consecutive failed probes that take an up destination down
    /// ("fall"). Default 3.
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    /// Consecutive successful probes that bring a down destination up
    /// ("rise"). Default 2.
    #[serde(default = "default_success_threshold")]
    pub success_threshold: u32,
    /// Final status codes that count as a successful probe. Default (absent):
    /// any final response, 200 to 699, except 503 — any response proves
    /// that the node is alive and parsing SIP (RFC 3261 §11 lets a server
    /// answer OPTIONS like an INVITE, so 404 or 405 are normal), but 503
    /// means it is out of service or overloaded (§21.5.4).
    #[serde(default)]
    pub healthy_codes: Option<Vec<u16>>,
    /// The user part of the probes' From URI (SIPhon's key). Default
    /// `anysip`.
    #[serde(default)]
    pub from_user: Option<String>,
    /// The host part of the probes' From URI (SIPhon's key). Default: the
    /// address the probes are sent from.
    #[serde(default)]
    pub from_domain: Option<String>,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            enabled: true,
            interval_secs: default_interval_secs(),
            timeout_secs: default_timeout_secs(),
            failure_threshold: default_failure_threshold(),
            success_threshold: default_success_threshold(),
            healthy_codes: None,
            from_user: None,
            from_domain: None,
        }
    }
}

impl ProbeConfig {
    /// Whether a final response with `status` counts as a successful probe.
    pub fn is_healthy_status(&self, status: u16) -> bool {
        match &self.healthy_codes {
            Some(codes) => codes.contains(&status),
            None => (200..=699).contains(&status) && status != 503,
        }
    }
}

/// One entry of `destinations:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    /// The SIP URI of the destination (`sip:` or `sips:`). It is also the
    /// member's identity for `hash`: changing it moves that member's keys.
    /// Unique within the group.
    pub uri: String,
    /// The socket address that requests and probes are sent to: `IP:port`,
    /// or `host:port` (SIPhon style), resolved once when the configuration
    /// is read (see [`address`]). Unique within the group
    /// for a given transport.
    #[serde(deserialize_with = "address::deserialize")]
    pub address: SocketAddr,
    /// `udp`, `tcp` or `tls` (`ws` and `wss` are refused: they are
    /// transports towards user agents, not backends). Default: the URI's
    /// `;transport=`, else `tls` for a `sips:` URI, else `udp`; see
    /// [`DestinationConfig::transport`].
    #[serde(default)]
    pub transport: Option<Transport>,
    /// Relative share of traffic, 1 to [`MAX_WEIGHT`]. Default 1. There is
    /// no weight 0: to take a member out of rotation, mark it down.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// The member's tier (SIPhon's key): the healthy members of the lowest
    /// number are chosen from (by the group's algorithm); the next tier
    /// only when none of them is healthy. Default 1.
    #[serde(default = "default_priority")]
    pub priority: u32,
    /// Free-form attributes (`pop: fra1`), visible to routing scripts and the
    /// admin API. Default: none.
    #[serde(default)]
    pub attrs: BTreeMap<String, String>,
}

impl DestinationConfig {
    /// How the destination is reached: `transport:`, else the URI's
    /// `;transport=` parameter, else TLS for a `sips:` URI, else UDP.
    pub fn transport(&self) -> Transport {
        self.transport
            .or_else(|| uri_transport(&self.uri))
            .unwrap_or(if self.is_sips() {
                Transport::Tls
            } else {
                Transport::Udp
            })
    }

    /// True for a `sips:` URI.
    pub(crate) fn is_sips(&self) -> bool {
        self.uri
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("sips:"))
    }
}

/// The `;transport=` parameter of a URI (before any `?headers`), when it
/// names a transport.
fn uri_transport(uri: &str) -> Option<Transport> {
    let uri = uri.split('?').next().unwrap_or(uri);
    uri.split(';').skip(1).find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("transport")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

fn default_true() -> bool {
    true
}

fn default_interval_secs() -> u64 {
    5
}

fn default_timeout_secs() -> u64 {
    2
}

fn default_failure_threshold() -> u32 {
    3
}

fn default_success_threshold() -> u32 {
    2
}

fn default_weight() -> u32 {
    1
}

fn default_priority() -> u32 {
    1
}
