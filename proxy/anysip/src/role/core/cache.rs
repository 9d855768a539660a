//! The named caches of scripts (`cache:` in the configuration, SIPhon's
//! `cache.fetch(name, key)`): each in Redis — one server, a master found
//! through Sentinel, or a Cluster (`registrar::link::Link`) — shared by
//! every core using the same Redis (with an optional local copy,
//! `local_ttl_secs`), or, with the URL `memory://`, in this process only.
//!
//! Keys are used as the script gives them (as in SIPhon), so cores and
//! SIPhon nodes on one Redis share them. Every operation is on one key, so
//! a Cluster routes it to that key's node (`list_len_sum` scans every
//! master). Every Redis operation has a deadline; a failure is
//! `HostError::Unavailable` (scripts get SIPhon's "nothing" answers and a
//! warning) and the next operation connects afresh.

use std::future::Future;
use std::time::{Duration, Instant};

use anysip_config::CacheConfig;
use redis::RedisResult;
use registrar::link::{Conn, Link, Target};
use script::{CacheAnswer, CacheOp, HostError, MemoryCache};
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
    link: Link,
    local: Option<MemoryCache>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("redis", &self.link.name())
            .finish()
    }
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
            let backend = if c.is_memory() {
                Backend::Memory(MemoryCache::new(
                    c.local_max_entries.unwrap_or(MEMORY_MAX),
                    c.local_ttl_secs.map(Duration::from_secs),
                ))
            } else {
                let target = Target::new(c.url.as_deref(), c.sentinel.as_ref(), c.cluster.as_ref())
                    .map_err(|e| format!("cache[{i}].{}: {}", e.key, e.message))?;
                let link = Link::new(&target)
                    .map_err(|e| format!("cache[{i}]: {}: {e}", target.describe()))?;
                let local = c.local_ttl_secs.filter(|t| *t > 0).map(|ttl| {
                    MemoryCache::new(
                        c.local_max_entries.unwrap_or(LOCAL_MAX),
                        Some(Duration::from_secs(ttl)),
                    )
                });
                Backend::Redis(Box::new(RedisCache { link, local }))
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
    /// Runs one command sequence with the deadline; a failure drops the
    /// connection.
    async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T, HostError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.link
            .run(what, op)
            .await
            .map_err(HostError::Unavailable)
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
                let keys = self
                    .link
                    .scan(&pattern, SCAN_ROUNDS)
                    .await
                    .map_err(HostError::Unavailable)?;
                // One key per command: on a Cluster the keys are in many
                // slots, which one pipeline may not span.
                let total = self
                    .run("LLEN", |mut c| async move {
                        let mut total = 0u64;
                        for k in &keys {
                            total += redis::cmd("LLEN").arg(k).query_async::<u64>(&mut c).await?;
                        }
                        Ok(total)
                    })
                    .await?;
                Ok(CacheAnswer::Count(total))
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
    fn escapes() {
        assert_eq!(glob_escape("q_*[x]"), "q_\\*\\[x\\]");
    }

    #[test]
    fn names_are_checked() {
        let c = |name: &str| CacheConfig {
            name: name.into(),
            url: Some("memory://".into()),
            sentinel: None,
            cluster: None,
            local_ttl_secs: None,
            local_max_entries: None,
        };
        assert!(Caches::new(&[c("a"), c("a")]).is_err());
        assert!(Caches::new(&[c("")]).is_err());
        let ok = Caches::new(&[c("a"), c("b")]).unwrap_or_default();
        assert_eq!(ok.names(), vec!["a".to_owned(), "b".to_owned()]);
    }
}
