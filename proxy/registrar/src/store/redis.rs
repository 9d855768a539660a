//! Bindings in Redis, shared by every core.
//!
//! Layout (every key starts with the configured prefix, `anysip:` by
//! default):
//!
//! - `{prefix}aor:{aor}`: a hash, one field per binding
//!   ([`Binding::key`]) holding the binding as JSON, plus the field `_v`,
//!   a version bumped on every write. The key expires (EXPIREAT) with its
//!   latest binding.
//! - `{prefix}aors`: a set of the AoRs, for listing; members whose hash has
//!   expired are pruned by [`RedisStore::list`] and sweeps.
//!
//! An update reads the hash, computes the new set in Rust, and writes it
//! with a Lua script that checks the version first (compare-and-set),
//! retrying when another registrar wrote in between. Nothing is cached
//! here: every read goes to Redis.
//!
//! The connection is a [`ConnectionManager`] made lazily (a registrar
//! starts while Redis is down) that reconnects by itself. Every operation
//! has a deadline; when Redis does not answer in time the operation fails
//! with [`RegistrarError::Unavailable`] naming the redacted URL, and the
//! connection is replaced so that the next operation connects afresh.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::config::RedisConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisResult, Script};

use crate::{Binding, RegistrarError};

/// The deadline of one store operation (all its round trips together).
const DEADLINE: Duration = Duration::from_millis(1500);
/// Connecting and each response: shorter than [`DEADLINE`].
const IO_TIMEOUT: Duration = Duration::from_millis(1000);
/// Compare-and-set attempts before giving up on a contended AoR.
const CAS_ATTEMPTS: usize = 8;
/// The version field of an AoR's hash.
const VERSION: &str = "_v";

/// KEYS: aor hash, aors set. ARGV: expected version, expire-at (unix s),
/// aor, then field/value pairs. Returns the new version, or -1 when the
/// stored version is not the expected one.
const CAS: &str = r"
local v = tonumber(redis.call('HGET', KEYS[1], '_v') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
redis.call('DEL', KEYS[1])
if #ARGV < 5 then
  redis.call('SREM', KEYS[2], ARGV[3])
  return v + 1
end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], '_v', v + 1)
redis.call('EXPIREAT', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return v + 1
";

/// KEYS: aor hash, aors set. ARGV: aor. Deletes the hash and the index
/// entry; returns how many bindings the hash held.
const REMOVE: &str = r"
local n = redis.call('HLEN', KEYS[1])
if redis.call('HEXISTS', KEYS[1], '_v') == 1 then n = n - 1 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return n
";

/// KEYS: aor hash, aors set. ARGV: aor. Drops the index entry of an AoR
/// whose hash has expired.
const PRUNE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.call('SREM', KEYS[2], ARGV[1])
end
return 0
";

/// A Redis binding store.
pub struct RedisStore {
    client: Client,
    conn: Mutex<ConnectionManager>,
    prefix: String,
    url: String,
    cas: Script,
    remove: Script,
    prune: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisStore {
    /// A store on `config.url`. No I/O: the connection is made on first use
    /// (so this works while Redis is down). Must run inside a tokio
    /// runtime. Fails only on a URL the client cannot use.
    pub fn new(config: &RedisConfig) -> Result<RedisStore, RegistrarError> {
        let url = config.redacted_url();
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RegistrarError::Config(format!(
                "redis at {url}: the store must be made inside a tokio runtime"
            )));
        }
        if config.url.starts_with("rediss://") {
            // rustls needs a process-wide provider; the binary may have
            // installed one already, which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = Client::open(config.url.as_str())
            .map_err(|e| RegistrarError::Config(format!("redis URL {url}: {e}")))?;
        let conn = manager(&client, &url)?;
        Ok(RedisStore {
            client,
            conn: Mutex::new(conn),
            prefix: config.key_prefix.clone(),
            url,
            cas: Script::new(CAS),
            remove: Script::new(REMOVE),
            prune: Script::new(PRUNE),
        })
    }

    /// The URL with its password hidden.
    pub fn redacted_url(&self) -> &str {
        &self.url
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

    fn aor_key(&self, aor: &str) -> String {
        format!("{}aor:{}", self.prefix, aor)
    }

    fn index_key(&self) -> String {
        format!("{}aors", self.prefix)
    }

    fn slot(&self) -> MutexGuard<'_, ConnectionManager> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `op` on the connection with the deadline; maps every failure
    /// to `Unavailable` and then replaces the connection.
    async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T, RegistrarError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.slot().clone();
        let err = match tokio::time::timeout(DEADLINE, op(conn)).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", DEADLINE.as_millis()),
        };
        if let Ok(fresh) = manager(&self.client, &self.url) {
            *self.slot() = fresh;
        }
        tracing::warn!(redis = %self.url, op = what, error = %err, "redis unavailable");
        Err(RegistrarError::Unavailable(format!(
            "redis at {} ({what}): {err}",
            self.url
        )))
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
            let mut args: Vec<String> =
                vec![version.to_string(), expire_at.to_string(), aor.to_string()];
            for b in &new {
                let json = serde_json::to_string(b)
                    .map_err(|e| RegistrarError::Unavailable(format!("encoding a binding: {e}")))?;
                args.push(b.key());
                args.push(json);
            }
            let keys = [self.aor_key(aor), self.index_key()];
            let cas = &self.cas;
            let result: i64 = self
                .run("update", |mut c| async move {
                    let mut inv = cas.prepare_invoke();
                    inv.key(&keys[0]).key(&keys[1]);
                    for a in &args {
                        inv.arg(a);
                    }
                    inv.invoke_async(&mut c).await
                })
                .await?;
            if result >= 0 {
                return Ok(value);
            }
        }
        Err(RegistrarError::Unavailable(format!(
            "redis at {}: AoR {aor} changed by others {CAS_ATTEMPTS} times in a row",
            self.url
        )))
    }

    pub(crate) async fn remove(&self, aor: &str) -> Result<usize, RegistrarError> {
        let keys = [self.aor_key(aor), self.index_key()];
        let script = &self.remove;
        let n: i64 = self
            .run("remove", |mut c| async move {
                script
                    .key(&keys[0])
                    .key(&keys[1])
                    .arg(aor)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(usize::try_from(n).unwrap_or(0))
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

    async fn prune(&self, aor: &str) -> Result<bool, RegistrarError> {
        let keys = [self.aor_key(aor), self.index_key()];
        let script = &self.prune;
        let n: i64 = self
            .run("prune", |mut c| async move {
                script
                    .key(&keys[0])
                    .key(&keys[1])
                    .arg(aor)
                    .invoke_async(&mut c)
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

/// A lazy connection manager with short timeouts and a single reconnect
/// attempt per failure (the next operation tries again).
fn manager(client: &Client, url: &str) -> Result<ConnectionManager, RegistrarError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(IO_TIMEOUT))
        .set_response_timeout(Some(IO_TIMEOUT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client.clone(), config)
        .map_err(|e| RegistrarError::Config(format!("redis at {url}: {e}")))
}
