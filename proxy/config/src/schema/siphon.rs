//! Sections of SIPhon's schema (`siphon.yaml`) that anysip reads: where
//! they mean what an anysip key means they are mapped onto it
//! ([`crate::Config::packet_filter`]); what anysip does not do is named by
//! a warning ([`crate::Config::notices`]). Top-level sections anysip does not
//! serve at all are listed in [`UNSERVED_SECTIONS`].

use serde::Deserialize;

/// SIPhon's top-level sections outside what anysip serves (B2BUA, media,
/// IMS, charging, ...): accepted whatever they hold, one warning each.
pub const UNSERVED_SECTIONS: &[&str] = &[
    "b2bua",
    "cdr",
    "control",
    "diameter",
    "dialog",
    "extensions",
    "ipsec",
    "isc",
    "lawful_intercept",
    "lcr",
    "media",
    "memory",
    "registrant",
    "rf",
    "ro",
    "sbi",
    "session_timer",
    "srs",
    "stir",
    "subscribe_state",
    "tracing",
    "transaction",
];

/// `security:` (SIPhon's schema).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// Requests per source and window: the packet filter's per-source
    /// limit of new requests (`rate` = `max_requests / window_secs` per
    /// second, `burst` = `max_requests`).
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// User-Agents of scanners: the packet filter blocklists their sources
    /// (`xdp.auto_block.user_agents`).
    #[serde(default)]
    pub scanner_block: Option<ScannerBlockConfig>,
    /// Sources exempt from rate limiting. Read; not served (a warning).
    #[serde(default)]
    pub trusted_cidrs: Vec<String>,
    /// Bans after failed authentications. Read; not served (a warning).
    #[serde(default)]
    pub failed_auth_ban: Option<FailedAuthBanConfig>,
    /// The APIBAN feed. Read; not served (a warning).
    #[serde(default)]
    pub apiban: Option<ApiBanConfig>,
    /// nftables sets of banned sources. Read; not served (a warning: the
    /// edge's XDP program drops blocklisted sources in the kernel).
    #[serde(default)]
    pub firewall: Option<FirewallConfig>,
}

/// `security.rate_limit:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// The window, seconds, at least 1.
    pub window_secs: u32,
    /// Requests allowed per source in one window, at least 1.
    pub max_requests: u32,
    /// SIPhon bans a source past the limit this long. Read; the filter
    /// drops the excess and bans nobody (a warning).
    #[serde(default)]
    pub ban_duration_secs: Option<u32>,
}

/// `security.scanner_block:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannerBlockConfig {
    /// User-Agent patterns of scanners.
    #[serde(default)]
    pub user_agents: Vec<String>,
}

/// `security.failed_auth_ban:` (not served).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailedAuthBanConfig {
    /// Failures before a ban.
    pub threshold: u32,
    /// Window of the count, seconds.
    #[serde(default)]
    pub window_secs: Option<u32>,
    /// Length of a ban, seconds.
    pub ban_duration_secs: u32,
    /// Weight of a strong signal.
    #[serde(default)]
    pub strong_signal_weight: Option<u32>,
}

/// `security.apiban:` (not served).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiBanConfig {
    /// The API key.
    pub api_key: String,
    /// Poll interval, seconds.
    #[serde(default)]
    pub interval_secs: Option<u64>,
    /// Lifetime of an entry, seconds.
    #[serde(default)]
    pub ban_ttl_secs: Option<u64>,
}

/// `security.firewall:` (not served).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallConfig {
    /// nftables table.
    #[serde(default)]
    pub table: Option<String>,
    /// IPv4 set.
    #[serde(default)]
    pub set_v4: Option<String>,
    /// IPv6 set.
    #[serde(default)]
    pub set_v6: Option<String>,
    /// Chain.
    #[serde(default)]
    pub chain: Option<String>,
    /// Whether the rule is managed.
    #[serde(default)]
    pub manage_rule: Option<bool>,
}

/// `nat:` (SIPhon's schema).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatConfig {
    /// Rewrite the Contact of responses with their source address. Read;
    /// not served (a warning when true): scripts call
    /// `fix_nated_contact()` where they need it.
    #[serde(default)]
    pub fix_contact: bool,
    /// OPTIONS pings to registered UAs. Read; not served (a warning when
    /// enabled).
    #[serde(default)]
    pub keepalive: Option<KeepaliveConfig>,
    /// RFC 5626 CRLF pings on connections. anysip answers a UA's CRLF
    /// pings and closes idle connections (`limits.tcp_idle_secs`); it does
    /// not ping (a warning when enabled).
    #[serde(default)]
    pub crlf_keepalive: Option<KeepaliveConfig>,
}

/// `nat.keepalive:` and `nat.crlf_keepalive:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepaliveConfig {
    /// Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Seconds between pings.
    #[serde(default)]
    pub interval_secs: Option<u32>,
    /// Failed pings before giving up.
    #[serde(default)]
    pub failure_threshold: Option<u32>,
}

/// `cache:` entries (SIPhon's named caches for scripts' `cache` module).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// The name scripts use (`cache.fetch(name, key)`).
    pub name: String,
    /// The Redis URL (`redis://`, `rediss://`, `unix://`,
    /// `redis+sentinel://`), or `memory://` for this process only. Exactly
    /// one of `url`, `sentinel` and `cluster`.
    #[serde(default)]
    pub url: Option<String>,
    /// A master found through Sentinel (anysip's key).
    #[serde(default)]
    pub sentinel: Option<registrar::SentinelConfig>,
    /// A Redis Cluster (anysip's key).
    #[serde(default)]
    pub cluster: Option<registrar::ClusterConfig>,
    /// Lifetime of a local copy, seconds.
    #[serde(default)]
    pub local_ttl_secs: Option<u64>,
    /// Most local copies.
    #[serde(default)]
    pub local_max_entries: Option<usize>,
}

impl CacheConfig {
    /// True for `url: memory://` (this process only).
    pub fn is_memory(&self) -> bool {
        self.url
            .as_deref()
            .is_some_and(|u| u.trim_end_matches('/') == "memory:")
    }
}

impl std::fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheConfig")
            .field("name", &self.name)
            .field(
                "url",
                &self.url.as_deref().map(registrar::config::redacted_url),
            )
            .field("sentinel", &self.sentinel)
            .field("cluster", &self.cluster)
            .field("local_ttl_secs", &self.local_ttl_secs)
            .field("local_max_entries", &self.local_max_entries)
            .finish()
    }
}

/// `cors:` of `metrics.prometheus` and `admin` (SIPhon's schema).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to read from a browser (`*` for any).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// `admin.auth:` (SIPhon's schema).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminAuthConfig {
    /// The bearer token; empty or absent turns the check off.
    #[serde(default)]
    pub token: Option<String>,
    /// Also ask for it on the read routes and `/metrics`. Default false.
    #[serde(default)]
    pub protect_reads: bool,
}

/// `admin.ui:` (SIPhon's schema; not served).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminUiConfig {
    /// Serve the dashboard.
    #[serde(default)]
    pub enabled: bool,
}

fn default_true() -> bool {
    true
}
