//! Bindings in Redis, shared by every core: one server, a master found
//! through Sentinel, or a Redis Cluster (the connection is a
//! [`Link`]).
//!
//! Layout (every key starts with the configured prefix, `anysip:` by
//! default):
//!
//! - `{prefix}aor:{<aor>}`: a hash, one field per binding
//!   ([`Binding::key`]) holding the binding as JSON, plus the field `_v`,
//!   a version bumped on every write. The AoR is the key's hash tag, so
//!   on a Cluster every key of one AoR is in one hash slot. The key
//!   expires (EXPIREAT) with its latest binding.
//! - `{prefix}aors`: a set of the AoRs, for listing. It is kept beside the
//!   AoR's hash, not with it (on a Cluster they are in different slots):
//!   an AoR is added before its hash is written, and members whose hash
//!   has gone are pruned by [`RedisStore::list`] and sweeps, so the set
//!   holds every AoR that has bindings (a prune racing a new first
//!   binding of the same AoR can drop it until that AoR's next write).
//!
//! An update reads the hash, computes the new set in Rust, and writes it
//! with a Lua script on that one key that checks the version first
//! (compare-and-set), retrying when another registrar wrote in between.
//! With `wait:`, the write is followed on the same connection by
//! `WAIT replicas timeout`; fewer acknowledgements are logged and counted
//! ([`RedisStore::wait_stats`]). Nothing is cached here: every read goes
//! to Redis.
//!
//! Every operation has a deadline; when Redis does not answer in time the
//! operation fails with [`RegistrarError::Unavailable`] naming where Redis
//! is (no password), and the next operation connects afresh (after a
//! Sentinel failover, to the new master).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::{RedisConfig, WaitConfig};
use crate::link::{Link, Target};
use redis::{RedisResult, Script};

use crate::{Binding, RegistrarError};

/// Compare-and-set attempts before giving up on a contended AoR.
const CAS_ATTEMPTS: usize = 8;
/// The version field of an AoR's hash.
const VERSION: &str = "_v";

/// KEYS: the AoR's hash. ARGV: expected version, expire-at (unix s), then
/// field/value pairs (none: the AoR has no binding left). Returns the new
/// version, or -1 when the stored version is not the expected one.
const CAS: &str = r"
local v = tonumber(redis.call('HGET', KEYS[1], '_v') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
redis.call('DEL', KEYS[1])
if #ARGV < 4 then return v + 1 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], '_v', v + 1)
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return v + 1
";

/// KEYS: the AoR's hash. Deletes it; returns how many bindings it held.
const REMOVE: &str = r"
local n = redis.call('HLEN', KEYS[1])
if redis.call('HEXISTS', KEYS[1], '_v') == 1 then n = n - 1 end
redis.call('DEL', KEYS[1])
return n
";

/// What `wait:` saw: binding writes followed by `WAIT`, and those fewer
/// replicas than asked acknowledged in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitStats {
    /// Writes followed by `WAIT`.
    pub waited: u64,
    /// Of those, acknowledged by fewer replicas than `wait.replicas`.
    pub short: u64,
}

/// A Redis binding store.
pub struct RedisStore {
    link: Link,
    prefix: String,
    wait: Option<WaitConfig>,
    waited: AtomicU64,
    short: AtomicU64,
    remove: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("redis", &self.link.name())
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisStore {
    /// A store on the Redis `config` names. No I/O: the connection is made
    /// on first use (so this works while Redis is down); operations must
    /// run inside a tokio runtime. Fails only on settings that name no
    /// usable Redis.
    pub fn new(config: &RedisConfig) -> Result<RedisStore, RegistrarError> {
        let target = Target::new(
            config.url.as_deref(),
            config.sentinel.as_ref(),
            config.cluster.as_ref(),
        )
        .map_err(|e| RegistrarError::Config(format!("redis.{}: {}", e.key, e.message)))?;
        if config.key_prefix.contains(['{', '}']) {
            return Err(RegistrarError::Config(
                "redis.key_prefix: must not contain { or } (each AoR is a hash tag of its own)"
                    .into(),
            ));
        }
        let link = Link::new(&target)
            .map_err(|e| RegistrarError::Config(format!("redis at {}: {e}", target.describe())))?;
        Ok(RedisStore {
            link,
            prefix: config.key_prefix.clone(),
            wait: config.wait,
            waited: AtomicU64::new(0),
            short: AtomicU64::new(0),
            remove: Script::new(REMOVE),
        })
    }

    /// Where Redis is, without passwords.
    pub fn redacted_url(&self) -> &str {
        self.link.name()
    }

    /// True on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.link.is_cluster()
    }

    /// True with `wait:`.
    pub fn waits(&self) -> bool {
        self.wait.is_some()
    }

    /// What `wait:` saw so far (zeros without it).
    pub fn wait_stats(&self) -> WaitStats {
        WaitStats {
            waited: self.waited.load(Ordering::Relaxed),
            short: self.short.load(Ordering::Relaxed),
        }
    }

    /// Round-trips a PING.
    pub async fn ping(&self) -> Result<(), RegistrarError> {
        self.run("PING", |mut c| async move {
            redis::cmd("PING").query_async::<String>(&mut c).await
        })
        .await
        .map(drop)
    }

    /// The digest password of `user` kept beside the bindings (the string
    /// key `<prefix>user:<name>`, for `auth.redis_users`), on the same
    /// connection, deadline and reconnection as every other operation.
    pub async fn user_password(&self, user: &str) -> Result<Option<String>, RegistrarError> {
        let key = format!("{}user:{}", self.prefix, user);
        self.run("GET", |mut c| async move {
            redis::cmd("GET").arg(&key).query_async(&mut c).await
        })
        .await
    }

    /// The AoR's hash: the AoR is its hash tag.
    fn aor_key(&self, aor: &str) -> String {
        format!("{}aor:{{{aor}}}", self.prefix)
    }

    fn index_key(&self) -> String {
        format!("{}aors", self.prefix)
    }

    /// The prefix of every key.
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Runs `op` through the link; a failure is `Unavailable`.
    pub(super) async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T, RegistrarError>
    where
        F: FnOnce(crate::link::Conn) -> Fut,
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        self.link
            .run(what, op)
            .await
            .map_err(RegistrarError::Unavailable)
    }

    /// The version and every stored binding of `aor` (expired included).
    async fn read(&self, aor: &str) -> Result<(i64, Vec<Binding>), RegistrarError> {
        let key = self.aor_key(aor);
        let map: HashMap<String, String> = self
            .run("HGETALL", |mut c| async move {
                redis::cmd("HGETALL").arg(&key).query_async(&mut c).await
            })
            .await?;
        let mut version = 0;
        let mut out = Vec::with_capacity(map.len());
        for (field, value) in map {
            if field == VERSION {
                version = value.parse().unwrap_or(0);
                continue;
            }
            match serde_json::from_str::<Binding>(&value) {
                Ok(b) => out.push(b),
                Err(e) => tracing::warn!(aor, field, error = %e, "skipping undecodable binding"),
            }
        }
        Ok((version, out))
    }

    pub(crate) async fn load(&self, aor: &str, now: u64) -> Result<Vec<Binding>, RegistrarError> {
        let (_, all) = self.read(aor).await?;
        Ok(all.into_iter().filter(|b| b.is_live(now)).collect())
    }

    pub(crate) async fn update<T, F>(
        &self,
        aor: &str,
        now: u64,
        mut f: F,
    ) -> Result<T, RegistrarError>
    where
        F: FnMut(Vec<Binding>) -> (Option<Vec<Binding>>, T),
    {
        for _ in 0..CAS_ATTEMPTS {
            let (version, all) = self.read(aor).await?;
            let live = all.into_iter().filter(|b| b.is_live(now)).collect();
            let (new, value) = f(live);
            let Some(mut new) = new else {
                return Ok(value);
            };
            new.retain(|b| b.is_live(now));
            let expire_at = new.iter().map(|b| b.expires_at).max().unwrap_or(now);
            let mut args: Vec<String> = vec![version.to_string(), expire_at.to_string()];
            for b in &new {
                let json = serde_json::to_string(b)
                    .map_err(|e| RegistrarError::Unavailable(format!("encoding a binding: {e}")))?;
                args.push(b.key());
                args.push(json);
            }
            // Listed before it is written: the index holds every AoR that
            // has bindings. On one server in the write's own round trip; on
            // a Cluster the index is in another slot, so on its own.
            let listed = !new.is_empty();
            if listed && self.link.is_cluster() {
                self.index_add(aor).await?;
            }
            let index = (listed && !self.link.is_cluster()).then(|| self.index_key());
            let (result, acked) = self.write(aor, index, args).await?;
            if result < 0 {
                continue;
            }
            if let (Some(wait), Some(acked)) = (self.wait, acked) {
                self.waited.fetch_add(1, Ordering::Relaxed);
                if acked < i64::from(wait.replicas) {
                    self.short.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        redis = %self.link.name(),
                        aor,
                        acked,
                        wanted = wait.replicas,
                        timeout_ms = wait.timeout_ms,
                        "binding written, acknowledged by fewer replicas than registrar.redis.wait.replicas"
                    );
                }
            }
            if new.is_empty() {
                self.prune(aor).await?;
            }
            return Ok(value);
        }
        Err(RegistrarError::Unavailable(format!(
            "redis at {}: AoR {aor} changed by others {CAS_ATTEMPTS} times in a row",
            self.link.name()
        )))
    }

    /// The compare-and-set write of `args` (see [`CAS`]), preceded by
    /// `SADD index aor` when `index` is given and followed, with `wait:`,
    /// by `WAIT`, in one pipeline on one connection. Returns the script's
    /// answer and how many replicas acknowledged.
    async fn write(
        &self,
        aor: &str,
        index: Option<String>,
        args: Vec<String>,
    ) -> Result<(i64, Option<i64>), RegistrarError> {
        let key = self.aor_key(aor);
        let wait = self.wait;
        self.run("update", |mut c| async move {
            let mut pipe = redis::pipe();
            if let Some(index) = &index {
                pipe.cmd("SADD").arg(index).arg(aor).ignore();
            }
            pipe.cmd("EVAL").arg(CAS).arg(1).arg(&key).arg(&args);
            match wait {
                Some(w) => {
                    pipe.cmd("WAIT").arg(w.replicas).arg(w.timeout_ms);
                    let (r, n): (i64, i64) = pipe.query_async(&mut c).await?;
                    Ok((r, Some(n)))
                }
                None => {
                    let (r,): (i64,) = pipe.query_async(&mut c).await?;
                    Ok((r, None))
                }
            }
        })
        .await
    }

    pub(crate) async fn remove(&self, aor: &str) -> Result<usize, RegistrarError> {
        let key = self.aor_key(aor);
        let script = &self.remove;
        let n: i64 = self
            .run("remove", |mut c| async move {
                script.key(&key).invoke_async(&mut c).await
            })
            .await?;
        self.prune(aor).await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn index_add(&self, aor: &str) -> Result<(), RegistrarError> {
        let index = self.index_key();
        self.run("SADD", |mut c| async move {
            redis::cmd("SADD")
                .arg(&index)
                .arg(aor)
                .query_async::<i64>(&mut c)
                .await
        })
        .await
        .map(drop)
    }

    async fn members(&self) -> Result<Vec<String>, RegistrarError> {
        let key = self.index_key();
        let mut aors: Vec<String> = self
            .run("SMEMBERS", |mut c| async move {
                redis::cmd("SMEMBERS").arg(&key).query_async(&mut c).await
            })
            .await?;
        aors.sort();
        Ok(aors)
    }

    /// Drops `aor` from the index when its hash is gone; true when it did.
    async fn prune(&self, aor: &str) -> Result<bool, RegistrarError> {
        let (key, index) = (self.aor_key(aor), self.index_key());
        let exists: i64 = self
            .run("EXISTS", |mut c| async move {
                redis::cmd("EXISTS").arg(&key).query_async(&mut c).await
            })
            .await?;
        if exists > 0 {
            return Ok(false);
        }
        let n: i64 = self
            .run("SREM", |mut c| async move {
                redis::cmd("SREM")
                    .arg(&index)
                    .arg(aor)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(n > 0)
    }

    pub(crate) async fn list(
        &self,
        now: u64,
    ) -> Result<Vec<(String, Vec<Binding>)>, RegistrarError> {
        let mut out = Vec::new();
        for aor in self.members().await? {
            let (_, all) = self.read(&aor).await?;
            if all.is_empty() {
                self.prune(&aor).await?;
                continue;
            }
            let live: Vec<Binding> = all.into_iter().filter(|b| b.is_live(now)).collect();
            if !live.is_empty() {
                out.push((aor, live));
            }
        }
        Ok(out)
    }

    pub(crate) async fn sweep(&self) -> Result<usize, RegistrarError> {
        let mut gone = 0;
        for aor in self.members().await? {
            if self.prune(&aor).await? {
                gone += 1;
            }
        }
        Ok(gone)
    }
}
