//! `cache`: SIPhon's named caches (`cache:` in the configuration), each
//! in Redis (shared by every core) or in this process. The calls are
//! awaitables, as in SIPhon: `value = await cache.fetch("sessions", key)`.
//! An unknown cache name gives SIPhon's answers (None, False, []); so does
//! a store that is down, with a warning logged.
//!
//! [`MemoryCache`] is the in-process store (also a Redis cache's local
//! copy): bounded, with lifetimes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

use super::ready::Ready;
use super::{host, HostError};
use crate::host::{CacheAnswer, CacheOp};

/// The `cache` object of the module.
#[pyclass(module = "anysip", name = "Cache", frozen)]
#[derive(Debug)]
pub struct Cache;

/// Keys starting with `siphon:` are reserved (as in SIPhon).
fn check_key(key: &str) -> PyResult<()> {
    if key.starts_with("siphon:") {
        return Err(PyValueError::new_err(
            "keys starting with 'siphon:' are reserved for internal use",
        ));
    }
    Ok(())
}

/// Runs `op` on `name`: `None` when there is no such cache or it failed.
fn run(py: Python<'_>, name: &str, op: CacheOp) -> PyResult<Option<CacheAnswer>> {
    let host = host()?;
    if !host.cache_names().iter().any(|n| n == name) {
        return Ok(None);
    }
    match py.detach(|| host.cache(name, op)) {
        Ok(a) => Ok(Some(a)),
        Err(HostError::Invalid(e)) => Err(PyValueError::new_err(e)),
        Err(HostError::Unavailable(e)) => {
            tracing::warn!(target: "script", cache = name, error = %e, "cache unavailable");
            Ok(None)
        }
    }
}

fn ready<'py, T: IntoPyObject<'py>>(py: Python<'py>, value: T) -> PyResult<Ready> {
    Ok(Ready::new(value.into_py_any(py)?))
}

#[pymethods]
impl Cache {
    /// Whether the configuration has a cache `name`.
    fn has_cache(&self, name: &str) -> PyResult<bool> {
        Ok(host()?.cache_names().iter().any(|n| n == name))
    }

    /// `await cache.fetch(name, key)`: the value, or None.
    fn fetch(&self, py: Python<'_>, name: &str, key: &str) -> PyResult<Ready> {
        let v = match run(py, name, CacheOp::Fetch(key.to_owned()))? {
            Some(CacheAnswer::Value(v)) => v,
            _ => None,
        };
        ready(py, v)
    }

    /// `await cache.store(name, key, value, ttl=None)`: True when stored.
    #[pyo3(signature = (name, key, value, ttl=None))]
    fn store(
        &self,
        py: Python<'_>,
        name: &str,
        key: &str,
        value: &Bound<'_, PyAny>,
        ttl: Option<u64>,
    ) -> PyResult<Ready> {
        check_key(key)?;
        let value = value.str()?.to_string();
        let op = CacheOp::Store(key.to_owned(), value, ttl.filter(|t| *t > 0));
        let done = matches!(run(py, name, op)?, Some(CacheAnswer::Bool(true)));
        ready(py, done)
    }

    /// `await cache.delete(name, key)`: True when the cache exists.
    fn delete(&self, py: Python<'_>, name: &str, key: &str) -> PyResult<Ready> {
        check_key(key)?;
        let done = run(py, name, CacheOp::Delete(key.to_owned()))?.is_some();
        ready(py, done)
    }

    /// `await cache.exists(name, key)`.
    fn exists(&self, py: Python<'_>, name: &str, key: &str) -> PyResult<Ready> {
        check_key(key)?;
        let yes = matches!(
            run(py, name, CacheOp::Exists(key.to_owned()))?,
            Some(CacheAnswer::Bool(true))
        );
        ready(py, yes)
    }

    /// `await cache.expire(name, key, ttl)`: True when the key exists.
    fn expire(&self, py: Python<'_>, name: &str, key: &str, ttl: u64) -> PyResult<Ready> {
        check_key(key)?;
        let yes = matches!(
            run(py, name, CacheOp::Expire(key.to_owned(), ttl))?,
            Some(CacheAnswer::Bool(true))
        );
        ready(py, yes)
    }

    /// `await cache.list_push(name, key, item)`: the list's new length,
    /// or None.
    fn list_push(
        &self,
        py: Python<'_>,
        name: &str,
        key: &str,
        item: &Bound<'_, PyAny>,
    ) -> PyResult<Ready> {
        check_key(key)?;
        let op = CacheOp::ListPush(key.to_owned(), item.str()?.to_string());
        let n = match run(py, name, op)? {
            Some(CacheAnswer::Count(n)) => Some(n),
            _ => None,
        };
        ready(py, n)
    }

    /// `await cache.list_pop_all(name, key)`: every item, oldest first
    /// (the list is emptied).
    fn list_pop_all(&self, py: Python<'_>, name: &str, key: &str) -> PyResult<Ready> {
        check_key(key)?;
        let items = match run(py, name, CacheOp::ListPopAll(key.to_owned()))? {
            Some(CacheAnswer::Items(v)) => v,
            _ => Vec::new(),
        };
        ready(py, items)
    }

    /// `await cache.list_len(name, key)`: the length (0 when absent), or
    /// None.
    fn list_len(&self, py: Python<'_>, name: &str, key: &str) -> PyResult<Ready> {
        check_key(key)?;
        let n = match run(py, name, CacheOp::ListLen(key.to_owned()))? {
            Some(CacheAnswer::Count(n)) => Some(n),
            _ => None,
        };
        ready(py, n)
    }

    /// `await cache.list_len_sum(name, prefix)`: the summed length of the
    /// lists whose key starts with `prefix`, or None.
    fn list_len_sum(&self, py: Python<'_>, name: &str, prefix: &str) -> PyResult<Ready> {
        check_key(prefix)?;
        if prefix.is_empty() {
            return Err(PyValueError::new_err(
                "prefix must not be empty (it would scan every key)",
            ));
        }
        let n = match run(py, name, CacheOp::ListLenSum(prefix.to_owned()))? {
            Some(CacheAnswer::Count(n)) => Some(n),
            _ => None,
        };
        ready(py, n)
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "cache", "cache", name)
    }
}

/// A stored value.
#[derive(Debug, Clone)]
enum Entry {
    Value(String),
    List(Vec<String>),
}

/// An in-process cache: at most `max_entries` keys (the oldest-expiring
/// goes first when full), each with an optional lifetime.
#[derive(Debug)]
pub struct MemoryCache {
    max_entries: usize,
    default_ttl: Option<Duration>,
    map: Mutex<HashMap<String, (Entry, Option<Instant>)>>,
}

impl MemoryCache {
    /// A cache of at most `max_entries` keys; `default_ttl` applies to a
    /// store without one.
    pub fn new(max_entries: usize, default_ttl: Option<Duration>) -> Self {
        MemoryCache {
            max_entries: max_entries.max(1),
            default_ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `op` at `now`.
    pub fn apply(&self, op: CacheOp, now: Instant) -> CacheAnswer {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, (_, until)| until.is_none_or(|u| u > now));
        match op {
            CacheOp::Fetch(k) => CacheAnswer::Value(match map.get(&k) {
                Some((Entry::Value(v), _)) => Some(v.clone()),
                _ => None,
            }),
            CacheOp::Store(k, v, ttl) => {
                let until = ttl
                    .map(Duration::from_secs)
                    .or(self.default_ttl)
                    .map(|t| now + t);
                self.make_room(&mut map, &k);
                map.insert(k, (Entry::Value(v), until));
                CacheAnswer::Bool(true)
            }
            CacheOp::Delete(k) => CacheAnswer::Bool(map.remove(&k).is_some()),
            CacheOp::Exists(k) => CacheAnswer::Bool(map.contains_key(&k)),
            CacheOp::Expire(k, ttl) => match map.get_mut(&k) {
                Some((_, until)) => {
                    *until = Some(now + Duration::from_secs(ttl));
                    CacheAnswer::Bool(true)
                }
                None => CacheAnswer::Bool(false),
            },
            CacheOp::ListPush(k, item) => {
                if !map.contains_key(&k) {
                    self.make_room(&mut map, &k);
                }
                let slot = map
                    .entry(k)
                    .or_insert_with(|| (Entry::List(Vec::new()), None));
                match &mut slot.0 {
                    Entry::List(l) => {
                        l.push(item);
                        CacheAnswer::Count(l.len() as u64)
                    }
                    // Redis answers WRONGTYPE: no length.
                    Entry::Value(_) => CacheAnswer::Value(None),
                }
            }
            CacheOp::ListPopAll(k) => match map.remove(&k) {
                Some((Entry::List(l), _)) => CacheAnswer::Items(l),
                Some(other) => {
                    map.insert(k, other);
                    CacheAnswer::Items(Vec::new())
                }
                None => CacheAnswer::Items(Vec::new()),
            },
            CacheOp::ListLen(k) => CacheAnswer::Count(match map.get(&k) {
                Some((Entry::List(l), _)) => l.len() as u64,
                _ => 0,
            }),
            CacheOp::ListLenSum(prefix) => CacheAnswer::Count(
                map.iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, (e, _))| match e {
                        Entry::List(l) => l.len() as u64,
                        Entry::Value(_) => 0,
                    })
                    .sum(),
            ),
        }
    }

    /// Drops the entry that expires first (or any) when `key` is new and
    /// the cache is full.
    fn make_room(&self, map: &mut HashMap<String, (Entry, Option<Instant>)>, key: &str) {
        if map.len() < self.max_entries || map.contains_key(key) {
            return;
        }
        let victim = map
            .iter()
            .min_by_key(|(_, (_, until))| until.map_or((1, None), |u| (0, Some(u))))
            .map(|(k, _)| k.clone());
        if let Some(v) = victim {
            map.remove(&v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_cache() {
        let c = MemoryCache::new(2, None);
        let t0 = Instant::now();
        let s = |k: &str, v: &str, ttl| CacheOp::Store(k.into(), v.into(), ttl);
        assert_eq!(c.apply(s("a", "1", Some(10)), t0), CacheAnswer::Bool(true));
        assert_eq!(
            c.apply(CacheOp::Fetch("a".into()), t0),
            CacheAnswer::Value(Some("1".into()))
        );
        // Expired after its lifetime.
        let later = t0 + Duration::from_secs(11);
        assert_eq!(
            c.apply(CacheOp::Fetch("a".into()), later),
            CacheAnswer::Value(None)
        );
        // Lists.
        assert_eq!(
            c.apply(CacheOp::ListPush("q".into(), "x".into()), t0),
            CacheAnswer::Count(1)
        );
        assert_eq!(
            c.apply(CacheOp::ListPush("q".into(), "y".into()), t0),
            CacheAnswer::Count(2)
        );
        assert_eq!(
            c.apply(CacheOp::ListLenSum("q".into()), t0),
            CacheAnswer::Count(2)
        );
        assert_eq!(
            c.apply(CacheOp::ListPopAll("q".into()), t0),
            CacheAnswer::Items(vec!["x".into(), "y".into()])
        );
        assert_eq!(
            c.apply(CacheOp::ListLen("q".into()), t0),
            CacheAnswer::Count(0)
        );
        // Bounded: a third key evicts one.
        for k in ["k1", "k2", "k3"] {
            c.apply(s(k, "v", None), t0);
        }
        let present = ["k1", "k2", "k3"]
            .iter()
            .filter(|k| c.apply(CacheOp::Exists((**k).into()), t0) == CacheAnswer::Bool(true))
            .count();
        assert_eq!(present, 2);
        assert_eq!(
            c.apply(CacheOp::Expire("nope".into(), 5), t0),
            CacheAnswer::Bool(false)
        );
    }
}
