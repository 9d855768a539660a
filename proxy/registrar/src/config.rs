//! `registrar:` — the registrar's configuration section, owned by this
//! crate; `anysip-config` reads it as part of a `role: core` file.

mod redis;

pub use self::redis::{redacted_url, ClusterConfig, RedisConfig, SentinelConfig, WaitConfig};
use serde::Deserialize;

/// `registrar:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarConfig {
    /// Where bindings live: `memory` (default) or `redis`.
    #[serde(default)]
    pub backend: RegistrarBackend,
    /// Redis connection; required when `backend: redis`.
    #[serde(default)]
    pub redis: Option<RedisConfig>,
    /// Shortest accepted expiry; shorter gets 423 Interval Too Brief, in
    /// seconds, at least 1. Default 60.
    #[serde(default = "default_min_expires")]
    pub min_expires: u32,
    /// Longer requested expiries are cut to this, in seconds. Default 7200.
    #[serde(default = "default_max_expires")]
    pub max_expires: u32,
    /// Expiry when the REGISTER asks for none, in seconds, between
    /// `min_expires` and `max_expires`. Default 3600.
    #[serde(default = "default_default_expires")]
    pub default_expires: u32,
    /// Most contacts bound to one AoR, at least 1. Default 10.
    #[serde(default = "default_max_contacts")]
    pub max_contacts: u32,
    /// SIPhon's key: bind only when the To user is the digest user. Read,
    /// and refused as not served when true (scripts check it themselves).
    #[serde(default)]
    pub enforce_auth_aor_match: bool,
    /// SIPhon's `postgres:` backend settings. Read; the backend is not
    /// served.
    #[serde(default)]
    pub postgres: Option<PostgresConfig>,
    /// SIPhon's network-initiated deregistration. Read; not served (a
    /// warning when enabled).
    #[serde(default)]
    pub liveness: Option<LivenessConfig>,
}

/// `registrar.postgres:` (SIPhon's schema; not served).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// The database URL.
    pub url: String,
    /// The table. Default `registrar`.
    #[serde(default)]
    pub table: Option<String>,
}

/// `registrar.liveness:` (SIPhon's schema; not served).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessConfig {
    /// Master switch. Default false.
    #[serde(default)]
    pub enabled: bool,
    /// UE keepalive cadence, seconds.
    #[serde(default)]
    pub keepalive_interval_secs: Option<u32>,
    /// Idle grace multiplier.
    #[serde(default)]
    pub idle_multiplier: Option<u32>,
    /// OPTIONS probe timeout, ms.
    #[serde(default)]
    pub probe_timeout_ms: Option<u64>,
    /// Failed sweeps before deregistration.
    #[serde(default)]
    pub miss_threshold: Option<u32>,
    /// `network_dereg` or `local_only`.
    #[serde(default)]
    pub dereg_mode: Option<LivenessDeregMode>,
}

/// `registrar.liveness.dereg_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LivenessDeregMode {
    /// Drop the binding and tell the registrar of record.
    NetworkDereg,
    /// Drop the binding locally only.
    LocalOnly,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            backend: RegistrarBackend::default(),
            redis: None,
            min_expires: default_min_expires(),
            max_expires: default_max_expires(),
            default_expires: default_default_expires(),
            max_contacts: default_max_contacts(),
            enforce_auth_aor_match: false,
            postgres: None,
            liveness: None,
        }
    }
}

/// `registrar.backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrarBackend {
    /// In this process; lost on restart, not shared.
    #[default]
    Memory,
    /// In Redis; durable and shared by every core.
    Redis,
    /// SIPhon's PostgreSQL backend: read, refused as not served.
    Postgres,
    /// SIPhon's script-hooked backend: read, refused as not served.
    Python,
}

fn default_min_expires() -> u32 {
    60
}
fn default_max_expires() -> u32 {
    7200
}
fn default_default_expires() -> u32 {
    3600
}
fn default_max_contacts() -> u32 {
    10
}
