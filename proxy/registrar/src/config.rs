//! `registrar:` — the registrar's configuration section, owned by this
//! crate; `anysip-config` reads it as part of a `role: core` file.

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
}

/// `registrar.redis:`. Its `Debug` hides the URL's password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host[:port][/db]`, `rediss://...` or
    /// `unix:///path`. Use `${VAR}` for a password.
    pub url: String,
    /// Prefix of every key written. Default `anysip:`.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
}

impl RedisConfig {
    /// The URL with any password replaced by `***`, for logs.
    pub fn redacted_url(&self) -> String {
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return self.url.clone();
        };
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => {
                let user = rest[..at].split_once(':').map_or(&rest[..at], |(u, _)| u);
                format!("{scheme}://{user}:***@{}", &rest[at + 1..])
            }
            None => self.url.clone(),
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.redacted_url())
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
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
fn default_key_prefix() -> String {
    "anysip:".to_owned()
}
