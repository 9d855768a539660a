//! `registrar.redis:` — where the bindings' Redis is: one server (`url`),
//! a master found through Sentinel (`sentinel:` or a `redis+sentinel://`
//! URL) or a Redis Cluster (`cluster:`), and the optional `WAIT` after
//! every binding write. The named caches (`cache:`) use the same
//! [`SentinelConfig`] and [`ClusterConfig`]. `Debug` never shows a password.

use serde::Deserialize;

/// `registrar.redis:`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host[:port][/db]`, `rediss://...`,
    /// `unix:///path`, or `redis+sentinel://[user:password@]host[:port][,host[:port]...]/master_name[/db]`
    /// (`rediss+sentinel://` with TLS). Use `${VAR}` for a password.
    /// Exactly one of `url`, `sentinel` and `cluster`.
    #[serde(default)]
    pub url: Option<String>,
    /// The master named `master_name`, found through Sentinel.
    #[serde(default)]
    pub sentinel: Option<SentinelConfig>,
    /// A Redis Cluster, found from its seed nodes.
    #[serde(default)]
    pub cluster: Option<ClusterConfig>,
    /// After every binding write, `WAIT replicas timeout_ms`; fewer
    /// acknowledgements are logged and counted, the write stands.
    #[serde(default)]
    pub wait: Option<WaitConfig>,
    /// Prefix of every key written. Default `anysip:`; no `{` or `}` (the
    /// registrar puts each AoR in a hash tag of its own).
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// SIPhon's extra seconds a key outlives its binding. Bindings here
    /// expire exactly; a value is read and has no effect.
    #[serde(default)]
    pub ttl_slack_secs: Option<u32>,
}

/// `sentinel:` — a master and replicas watched by Redis Sentinel.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// The name the sentinels monitor the master under
    /// (`sentinel monitor <master_name> ...`).
    pub master_name: String,
    /// The sentinels, `host:port` (port 26379 when absent); at least one.
    pub sentinels: Vec<String>,
    /// The ACL user on the master and replicas.
    #[serde(default)]
    pub username: Option<String>,
    /// The password of the master and replicas (`requirepass`).
    #[serde(default)]
    pub password: Option<String>,
    /// The ACL user on the sentinels.
    #[serde(default)]
    pub sentinel_username: Option<String>,
    /// The password of the sentinels (their `requirepass`).
    #[serde(default)]
    pub sentinel_password: Option<String>,
    /// The database number. Default 0.
    #[serde(default)]
    pub db: i64,
    /// TLS to the sentinels and the servers. Default false.
    #[serde(default)]
    pub tls: bool,
}

/// `cluster:` — a Redis Cluster.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Seed nodes, `host:port` (port 6379 when absent); at least one. The
    /// rest of the cluster is learnt from them.
    pub nodes: Vec<String>,
    /// The ACL user on every node.
    #[serde(default)]
    pub username: Option<String>,
    /// The password of every node.
    #[serde(default)]
    pub password: Option<String>,
    /// TLS to every node. Default false.
    #[serde(default)]
    pub tls: bool,
}

/// `wait:` — `WAIT replicas timeout_ms` after every binding write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitConfig {
    /// Replicas that must acknowledge the write, at least 1.
    pub replicas: u32,
    /// How long to wait for them, milliseconds, 1 to 10000.
    pub timeout_ms: u64,
}

impl RedisConfig {
    /// A configuration of one server at `url`, with the defaults.
    pub fn url(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: Some(url.into()),
            sentinel: None,
            cluster: None,
            wait: None,
            key_prefix: default_key_prefix(),
            ttl_slack_secs: None,
        }
    }

    /// Where Redis is, for logs and errors (no password).
    pub fn redacted_url(&self) -> String {
        match (&self.url, &self.sentinel, &self.cluster) {
            (Some(url), _, _) => redacted_url(url),
            (None, Some(s), _) => s.describe(),
            (None, None, Some(c)) => c.describe(),
            (None, None, None) => "(no redis configured)".to_owned(),
        }
    }
}

impl SentinelConfig {
    /// `sentinel:mymaster@host:port,host:port`, for logs.
    pub fn describe(&self) -> String {
        format!("sentinel:{}@{}", self.master_name, self.sentinels.join(","))
    }
}

impl ClusterConfig {
    /// `cluster:host:port,host:port`, for logs.
    pub fn describe(&self) -> String {
        format!("cluster:{}", self.nodes.join(","))
    }
}

/// `scheme://user:secret@host` → `scheme://user:***@host`.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split_once(':').map_or(&rest[..at], |(u, _)| u);
            format!("{scheme}://{user}:***@{}", &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

fn secret(s: &Option<String>) -> Option<&'static str> {
    s.as_ref().map(|_| "***")
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.url.as_deref().map(redacted_url))
            .field("sentinel", &self.sentinel)
            .field("cluster", &self.cluster)
            .field("wait", &self.wait)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

impl std::fmt::Debug for SentinelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelConfig")
            .field("master_name", &self.master_name)
            .field("sentinels", &self.sentinels)
            .field("username", &self.username)
            .field("password", &secret(&self.password))
            .field("sentinel_username", &self.sentinel_username)
            .field("sentinel_password", &secret(&self.sentinel_password))
            .field("db", &self.db)
            .field("tls", &self.tls)
            .finish()
    }
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("nodes", &self.nodes)
            .field("username", &self.username)
            .field("password", &secret(&self.password))
            .field("tls", &self.tls)
            .finish()
    }
}

fn default_key_prefix() -> String {
    "anysip:".to_owned()
}
