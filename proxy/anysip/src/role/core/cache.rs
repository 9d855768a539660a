//! The named caches of scripts (`cache:` in the configuration, SIPhon's
//! `cache.fetch(name, key)`): each in Redis, shared by every core using
//! the same URL (with an optional local copy, `local_ttl_secs`), or, with
//! the URL `memory://`, in this process only.
//!
//! Keys are used as the script gives them (as in SIPhon), so cores and
//! SIPhon nodes on one Redis share them. Every Redis operation has a
//! deadline; a failure is `HostError::Unavailable` (scripts get SIPhon's
//! "nothing" answers and a warning) and the connection is replaced.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anysip_config::CacheConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisResult};
use script::{CacheAnswer, CacheOp, HostError, MemoryCache};

/// The deadline of one cache operation (all its round trips).
const DEADLINE: Duration = Duration::from_millis(1500);
/// Connecting and each response.
const IO_TIMEOUT: Duration = Duration::from_millis(1000);
/// Keys of an in-process cache without `local_max_entries`.
const MEMORY_MAX: usize = 100_000;
/// Local copies of a Redis cache without `local_max_entries`.
const LOCAL_MAX: usize = 10_000;
/// `SCAN` rounds of one `list_len_sum` at most.
const SCAN_ROUNDS: usize = 10_000;

/// Every configured cache.
#[derive(Debug, Default)]
pub(crate) struct Caches {
    by_name: Vec<(String, Backend)>,
}

#[derive(Debug)]
enum Backend {
    Memory(MemoryCache),
    Redis(Box<RedisCache>),
}

struct RedisCache {
    client: Client,
    conn: Mutex<ConnectionManager>,
    url: String,
    local: Option<MemoryCache>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("url", &self.url)
            .finish()
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split_once(':').map_or(&rest[..at], |(u, _)| u);
            format!("{scheme}://{user}:***@{}", &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

fn manager(client: &Client) -> RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(IO_TIMEOUT))
        .set_response_timeout(Some(IO_TIMEOUT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client.clone(), config)
}

impl Caches {
    /// The caches of `cache:` (inside the runtime: Redis connections are
    /// made lazily). The error names the cache and what is wrong.
    pub(crate) fn new(config: &[CacheConfig]) -> Result<Caches, String> {
        let mut by_name: Vec<(String, Backend)> = Vec::new();
        for (i, c) in config.iter().enumerate() {
            if c.name.is_empty() || by_name.iter().any(|(n, _)| *n == c.name) {
                return Err(format!(
                    "cache[{i}].name: {:?} is empty or used twice",
                    c.name
                ));
            }
            let backend = if c.url.trim_end_matches('/') == "memory:" {
                Backend::Memory(MemoryCache::new(
                    c.local_max_entries.unwrap_or(MEMORY_MAX),
                    c.local_ttl_secs.map(Duration::from_secs),
                ))
            } else {
                let url = redacted(&c.url);
                if c.url.starts_with("rediss://") {
                    let _ = rustls::crypto::ring::default_provider().install_default();
                }
                let client = Client::open(c.url.as_str())
                    .map_err(|e| format!("cache[{i}].url: {url}: {e}"))?;
                let conn = manager(&client).map_err(|e| format!("cache[{i}].url: {url}: {e}"))?;
                let local = c.local_ttl_secs.filter(|t| *t > 0).map(|ttl| {
                    MemoryCache::new(
                        c.local_max_entries.unwrap_or(LOCAL_MAX),
                        Some(Duration::from_secs(ttl)),
                    )
                });
                Backend::Redis(Box::new(RedisCache {
                    client,
                    conn: Mutex::new(conn),
                    url,
                    local,
                }))
            };
            by_name.push((c.name.clone(), backend));
        }
        Ok(Caches { by_name })
    }

    /// The names scripts may use.
    pub(crate) fn names(&self) -> Vec<String> {
        self.by_name.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Runs `op` on the cache `name`.
    pub(crate) fn run(
        &self,
        rt: &tokio::runtime::Handle,
        name: &str,
        op: CacheOp,
    ) -> Result<CacheAnswer, HostError> {
        let Some((_, backend)) = self.by_name.iter().find(|(n, _)| n == name) else {
            return Err(HostError::Invalid(format!("no cache named {name:?}")));
        };
        match backend {
            Backend::Memory(m) => Ok(m.apply(op, Instant::now())),
            Backend::Redis(r) => rt.block_on(r.apply(op)),
        }
    }
}

impl RedisCache {
    /// Runs one command sequence with the deadline; a failure replaces the
    /// connection.
    async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T, HostError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let err = match tokio::time::timeout(DEADLINE, op(conn)).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", DEADLINE.as_millis()),
        };
        if let Ok(fresh) = manager(&self.client) {
            *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
        }
        Err(HostError::Unavailable(format!(
            "redis at {} ({what}): {err}",
            self.url
        )))
    }

    async fn apply(&self, op: CacheOp) -> Result<CacheAnswer, HostError> {
        let now = Instant::now();
        match op {
            CacheOp::Fetch(key) => {
                if let Some(local) = &self.local {
                    if let CacheAnswer::Value(Some(v)) =
                        local.apply(CacheOp::Fetch(key.clone()), now)
                    {
                        return Ok(CacheAnswer::Value(Some(v)));
                    }
                }
                let k = key.clone();
                let v: Option<String> = self
                    .run("GET", |mut c| async move {
                        redis::cmd("GET").arg(&k).query_async(&mut c).await
                    })
                    .await?;
                if let (Some(local), Some(v)) = (&self.local, &v) {
                    local.apply(CacheOp::Store(key, v.clone(), None), now);
                }
                Ok(CacheAnswer::Value(v))
            }
            CacheOp::Store(key, value, ttl) => {
                let (k, v) = (key.clone(), value.clone());
                self.run("SET", |mut c| async move {
                    let mut cmd = redis::cmd("SET");
                    cmd.arg(&k).arg(&v);
                    if let Some(t) = ttl {
                        cmd.arg("EX").arg(t);
                    }
                    cmd.query_async::<()>(&mut c).await
                })
                .await?;
                if let Some(local) = &self.local {
                    local.apply(CacheOp::Store(key, value, None), now);
                }
                Ok(CacheAnswer::Bool(true))
            }
            CacheOp::Delete(key) => {
                if let Some(local) = &self.local {
                    local.apply(CacheOp::Delete(key.clone()), now);
                }
                let n: u64 = self
                    .run("DEL", |mut c| async move {
                        redis::cmd("DEL").arg(&key).query_async(&mut c).await
                    })
                    .await?;
                Ok(CacheAnswer::Bool(n > 0))
            }
            CacheOp::Exists(key) => {
                let n: u64 = self
                    .run("EXISTS", |mut c| async move {
                        redis::cmd("EXISTS").arg(&key).query_async(&mut c).await
                    })
                    .await?;
                Ok(CacheAnswer::Bool(n > 0))
            }
            CacheOp::Expire(key, ttl) => {
                let n: u64 = self
                    .run("EXPIRE", |mut c| async move {
                        redis::cmd("EXPIRE")
                            .arg(&key)
                            .arg(ttl)
                            .query_async(&mut c)
                            .await
                    })
                    .await?;
                Ok(CacheAnswer::Bool(n > 0))
            }
            CacheOp::ListPush(key, item) => {
                let n: u64 = self
                    .run("RPUSH", |mut c| async move {
                        redis::cmd("RPUSH")
                            .arg(&key)
                            .arg(&item)
                            .query_async(&mut c)
                            .await
                    })
                    .await?;
                Ok(CacheAnswer::Count(n))
            }
            CacheOp::ListPopAll(key) => {
                // Read and clear in one transaction: a producer pushing in
                // between is not lost.
                let (items, _): (Vec<String>, u64) = self
                    .run("LRANGE+DEL", |mut c| async move {
                        redis::pipe()
                            .atomic()
                            .cmd("LRANGE")
                            .arg(&key)
                            .arg(0)
                            .arg(-1)
                            .cmd("DEL")
                            .arg(&key)
                            .query_async(&mut c)
                            .await
                    })
                    .await?;
                Ok(CacheAnswer::Items(items))
            }
            CacheOp::ListLen(key) => {
                let n: u64 = self
                    .run("LLEN", |mut c| async move {
                        redis::cmd("LLEN").arg(&key).query_async(&mut c).await
                    })
                    .await?;
                Ok(CacheAnswer::Count(n))
            }
            CacheOp::ListLenSum(prefix) => {
                let pattern = format!("{}*", glob_escape(&prefix));
                self.run("SCAN+LLEN", |mut c| async move {
                    let mut keys: Vec<String> = Vec::new();
                    let mut cursor: u64 = 0;
                    for _ in 0..SCAN_ROUNDS {
                        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(512)
                            .query_async(&mut c)
                            .await?;
                        keys.extend(batch);
                        cursor = next;
                        if cursor == 0 {
                            break;
                        }
                    }
                    keys.sort();
                    keys.dedup();
                    if keys.is_empty() {
                        return Ok(CacheAnswer::Count(0));
                    }
                    let mut pipe = redis::pipe();
                    for k in &keys {
                        pipe.cmd("LLEN").arg(k);
                    }
                    let lens: Vec<u64> = pipe.query_async(&mut c).await?;
                    Ok(CacheAnswer::Count(lens.iter().sum()))
                })
                .await
            }
        }
    }
}

/// `prefix` with Redis glob characters escaped.
fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for ch in prefix.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_redacts() {
        assert_eq!(glob_escape("q_*[x]"), "q_\\*\\[x\\]");
        assert_eq!(
            redacted("redis://u:secret@h:6379/0"),
            "redis://u:***@h:6379/0"
        );
        assert_eq!(redacted("redis://h:6379"), "redis://h:6379");
    }

    #[test]
    fn names_are_checked() {
        let c = |name: &str| CacheConfig {
            name: name.into(),
            url: "memory://".into(),
            local_ttl_secs: None,
            local_max_entries: None,
        };
        assert!(Caches::new(&[c("a"), c("a")]).is_err());
        assert!(Caches::new(&[c("")]).is_err());
        let ok = Caches::new(&[c("a"), c("b")]).unwrap_or_default();
        assert_eq!(ok.names(), vec!["a".to_owned(), "b".to_owned()]);
    }
}
