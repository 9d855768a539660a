//! `script:` and `auth:` — sections of `role: core` (`registrar:` is the
//! registrar crate's own `registrar::config`).
//!
//! Both are optional in the file; `script` is required by validation for a
//! core.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `script:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptConfig {
    /// The Python routing script. A relative path is taken from the
    /// configuration file's directory when the script is there (as SIPhon
    /// does), else from the working directory.
    pub path: PathBuf,
    /// When the script is reloaded: `auto` (default; also `true`): the file
    /// is watched and reloaded when it changes, and on SIGHUP; `sighup`:
    /// only on SIGHUP; `false`: never.
    #[serde(default)]
    pub reload: ReloadMode,
    /// SIPhon's pool of threads running synchronous handlers: the number
    /// of router threads when `sync_pool_max` is not given.
    #[serde(default)]
    pub sync_pool_size: Option<usize>,
    /// SIPhon's ceiling on handler threads: the most handlers running at
    /// once. anysip starts its fixed pool at this size.
    #[serde(default)]
    pub sync_pool_max: Option<usize>,
    /// Handler calls waiting for a thread; past it a new request gets 503.
    /// Default 4096.
    #[serde(default)]
    pub executor_queue_capacity: Option<usize>,
    /// SIPhon's asyncio driver threads. Read; anysip runs a coroutine on
    /// the pool thread that called it (a warning when set).
    #[serde(default)]
    pub async_pool_size: Option<usize>,
    /// SIPhon's watchdog that aborts a process whose handler pool is stuck.
    /// Read; anysip answers a handler call stuck past 10 s with 500 instead
    /// (a warning when set to other than 0 or 30).
    #[serde(default)]
    pub handler_stall_abort_secs: Option<u64>,
    /// Directories added to Python's `sys.path` (after the script's own),
    /// for shared helper modules. Relative ones are taken like `path`.
    #[serde(default)]
    pub include_paths: Vec<PathBuf>,
}

/// `script.reload`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReloadMode {
    /// Watch the file; reload on change and on SIGHUP (`auto`, `true`).
    #[default]
    Auto,
    /// Reload on SIGHUP only (`sighup`).
    Sighup,
    /// No reload by itself (`false`); SIGHUP still reloads, as in every
    /// mode.
    Off,
}

impl<'de> Deserialize<'de> for ReloadMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Flag(true) => Ok(ReloadMode::Auto),
            Raw::Flag(false) => Ok(ReloadMode::Off),
            Raw::Word(w) => match w.as_str() {
                "auto" => Ok(ReloadMode::Auto),
                "sighup" => Ok(ReloadMode::Sighup),
                other => Err(serde::de::Error::custom(format!(
                    "{other:?}: expected auto, sighup, true or false"
                ))),
            },
        }
    }
}

/// `auth:` — digest authentication (RFC 8760: MD5 and SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The realm of challenges, not empty. Default `localhost` (SIPhon's).
    #[serde(default = "default_realm")]
    pub realm: String,
    /// SIPhon's credential source: `static` (default: `users`,
    /// `users_file`, `redis_users`); `http`, `database` and `diameter_cx`
    /// are refused as not served.
    #[serde(default)]
    pub backend: AuthBackend,
    /// A secret shared by every core so that a nonce issued by one
    /// verifies on another. Default: a random secret per process (a nonce
    /// then verifies only where it was issued).
    #[serde(default)]
    pub nonce_secret: Option<String>,
    /// SIPhon's HTTP credential lookup (`backend: http`). Read; not served.
    #[serde(default)]
    pub http: Option<HttpAuthConfig>,
    /// SIPhon's IMS AKA credentials. Read; not served (a warning).
    #[serde(default)]
    pub aka_credentials: Option<serde_yaml::Value>,
    /// SIPhon's Diameter Cx connection (`backend: diameter_cx`). Read; not
    /// served (a warning).
    #[serde(default)]
    pub diameter: Option<serde_yaml::Value>,
    /// Algorithms offered, one challenge each, in this order. Default
    /// `[md5]`: the one every deployed phone answers (many answer only the
    /// first challenge and know only MD5, as Kamailio's default assumes);
    /// `[sha256, md5]` offers SHA-256 first (RFC 8760).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<DigestAlgorithm>,
    /// How long a nonce stays valid, in seconds, at least 1. Default 300.
    #[serde(default = "default_nonce_ttl_secs")]
    pub nonce_ttl_secs: u64,
    /// A file of `user:realm:HA1` lines (htdigest). Default none.
    #[serde(default)]
    pub users_file: Option<PathBuf>,
    /// Users and their passwords, e.g. `alice: ${ALICE_PASSWORD}`. Default
    /// none.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
    /// Also look users up in Redis (`registrar.redis`): the string key
    /// `<key_prefix>user:<name>` holds the password. Default false.
    #[serde(default)]
    pub redis_users: bool,
}

/// `auth.backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthBackend {
    /// Users from this file (`users`, `users_file`) or Redis.
    #[default]
    Static,
    /// SIPhon's database lookup: not served.
    Database,
    /// SIPhon's HTTP lookup: not served.
    Http,
    /// SIPhon's HSS lookup: not served.
    DiameterCx,
}

/// `auth.http:` (SIPhon's schema; not served).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAuthConfig {
    /// URL template with `{username}`.
    pub url: String,
    /// Request timeout, ms.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Connect timeout, ms.
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    /// The answer is an HA1.
    #[serde(default)]
    pub ha1: bool,
    /// Cache lifetime of an answer, seconds.
    #[serde(default)]
    pub cache_ttl_secs: Option<u64>,
}

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestAlgorithm {
    /// `MD5` (RFC 2617).
    Md5,
    /// `SHA-256` (RFC 8760).
    Sha256,
}

fn default_realm() -> String {
    "localhost".to_owned()
}
fn default_algorithms() -> Vec<DigestAlgorithm> {
    vec![DigestAlgorithm::Md5]
}
fn default_nonce_ttl_secs() -> u64 {
    300
}
