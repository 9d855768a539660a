//! `edge:` — the stateless anycast edge.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::HashKey;

/// `edge:`. Every key is optional; with no `edge:` section at all an edge
/// runs with these defaults, which need a gateway group named `backends`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Where the token key ring comes from. Default: none, which means
    /// development mode (a random ring generated at start; tokens do not
    /// open on any other instance or after a restart).
    #[serde(default)]
    pub keys: Option<KeysConfig>,
    /// The gateway group (in `gateway.groups`) that new requests go to.
    /// Default `backends`.
    #[serde(default = "default_backend_group")]
    pub backend_group: String,
    /// What a new request's backend is chosen by (used by `hash` groups;
    /// the others ignore it): `to_aor` (default, as the seeds' load
    /// balancer), `from_aor`, `call_id`, `request_uri`.
    #[serde(default)]
    pub selection_key: HashKey,
    /// Host[:port] the edge puts in Record-Route and Path towards UEs.
    /// Default: `advertised_address`, else the receiving listener.
    #[serde(default)]
    pub ue_address: Option<String>,
    /// Host[:port] the edge puts in Record-Route, Path and Via towards the
    /// backends. Default: the UE-facing address. When the two differ the
    /// edge double Record-Routes (RFC 5658).
    #[serde(default)]
    pub backend_address: Option<String>,
    /// IP[:port] the gateway prober's OPTIONS leave from and name in their
    /// Via: this instance's own unicast address, so that the answers come
    /// back to the instance that sent them when `backend_address` is shared
    /// by several edges (a backend-side anycast address). Must be a UDP
    /// listener. Default: the backend-facing address.
    #[serde(default)]
    pub probe_address: Option<String>,
    /// Tokens older than this do not open, in seconds, 60–31536000. Must
    /// exceed the longest call and the registration interval. Default
    /// 604800 (7 days).
    #[serde(default = "default_token_max_age_secs")]
    pub token_max_age_secs: u64,
    /// Tokens issued up to this far in the future still open (clock skew
    /// between instances), in seconds, at most 3600. Default 120.
    #[serde(default = "default_token_max_skew_secs")]
    pub token_max_skew_secs: u64,
    /// `Retry-After` of the 503 sent when no backend is healthy, in
    /// seconds, at most 3600. Default 5.
    #[serde(default = "default_retry_after_secs")]
    pub retry_after_secs: u32,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            keys: None,
            backend_group: default_backend_group(),
            selection_key: HashKey::default(),
            ue_address: None,
            backend_address: None,
            probe_address: None,
            token_max_age_secs: default_token_max_age_secs(),
            token_max_skew_secs: default_token_max_skew_secs(),
            retry_after_secs: default_retry_after_secs(),
        }
    }
}

impl EdgeConfig {
    /// Where the key ring comes from (validated: exactly one source).
    pub fn key_source(&self) -> KeySource<'_> {
        match &self.keys {
            None => KeySource::Dev,
            Some(keys) => keys.source(),
        }
    }

    /// `token_max_age_secs` as a duration.
    pub fn token_max_age(&self) -> Duration {
        Duration::from_secs(self.token_max_age_secs)
    }
}

/// `edge.keys:` — exactly one of `file`, `env`, `dev: true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// A key file (see docs/tokens.md). Keep it mode 0600.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// An environment variable holding the key file's document, usually
    /// `ANYSIP_TOKEN_KEYS`.
    #[serde(default)]
    pub env: Option<String>,
    /// Generate a throwaway ring at start (development only). Default false.
    #[serde(default)]
    pub dev: bool,
}

impl KeysConfig {
    /// The source this section names. With more than one set (which
    /// validation rejects) the file wins, then the variable.
    pub fn source(&self) -> KeySource<'_> {
        match (&self.file, &self.env) {
            (Some(file), _) => KeySource::File(file),
            (None, Some(var)) => KeySource::Env(var),
            (None, None) => KeySource::Dev,
        }
    }
}

/// Where an edge's key ring comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource<'a> {
    /// A key file.
    File(&'a Path),
    /// An environment variable holding the key file's document.
    Env(&'a str),
    /// Development mode: a random ring generated at start. The binary warns
    /// loudly: tokens open only on this instance until it restarts.
    Dev,
}

fn default_backend_group() -> String {
    "backends".to_owned()
}
fn default_token_max_age_secs() -> u64 {
    7 * 24 * 3600
}
fn default_token_max_skew_secs() -> u64 {
    120
}
fn default_retry_after_secs() -> u32 {
    5
}
