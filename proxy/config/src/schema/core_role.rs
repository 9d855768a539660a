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
    /// The Python routing script.
    pub path: PathBuf,
    /// Reload the script when the file changes. Default true.
    #[serde(default = "default_true")]
    pub reload: bool,
}

/// `auth:` — digest authentication (RFC 8760: MD5 and SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The realm of challenges. Required, not empty.
    pub realm: String,
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

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestAlgorithm {
    /// `MD5` (RFC 2617).
    Md5,
    /// `SHA-256` (RFC 8760).
    Sha256,
}

fn default_true() -> bool {
    true
}
fn default_algorithms() -> Vec<DigestAlgorithm> {
    vec![DigestAlgorithm::Md5]
}
fn default_nonce_ttl_secs() -> u64 {
    300
}
