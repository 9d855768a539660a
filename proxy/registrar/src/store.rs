//! Where bindings live: in this process ([`MemoryStore`]) or in Redis
//! ([`RedisStore`]). An enum rather than a trait object, so the async
//! methods need no boxing.
//!
//! Every store hides expired bindings on read and drops them on write.

mod aliases;
mod memory;
mod redis;
mod redis_aliases;

pub use self::aliases::AliasSet;
pub use self::memory::MemoryStore;
pub use self::redis::{RedisStore, WaitStats};

use crate::{Binding, RegistrarError};

/// A binding store.
#[derive(Debug)]
pub enum Store {
    /// In this process: lost on restart, not shared.
    Memory(MemoryStore),
    /// In Redis: durable and shared by every core.
    Redis(Box<RedisStore>),
}

impl Store {
    /// The live bindings of `aor` at `now`.
    pub async fn load(&self, aor: &str, now: u64) -> Result<Vec<Binding>, RegistrarError> {
        match self {
            Store::Memory(m) => Ok(m.load(aor, now)),
            Store::Redis(r) => r.load(aor, now).await,
        }
    }

    /// Atomic read-modify-write of one AoR: `f` gets the live bindings and
    /// returns the new set (`None`: no change) and a value to hand back.
    /// `f` may run more than once (Redis retries when another writer got
    /// there first), so it must depend on its argument only.
    pub async fn update<T, F>(&self, aor: &str, now: u64, f: F) -> Result<T, RegistrarError>
    where
        F: FnMut(Vec<Binding>) -> (Option<Vec<Binding>>, T),
    {
        match self {
            Store::Memory(m) => Ok(m.update(aor, now, f)),
            Store::Redis(r) => r.update(aor, now, f).await,
        }
    }

    /// Removes every binding of `aor`; returns how many were stored.
    pub async fn remove(&self, aor: &str) -> Result<usize, RegistrarError> {
        match self {
            Store::Memory(m) => Ok(m.remove(aor)),
            Store::Redis(r) => r.remove(aor).await,
        }
    }

    /// Every AoR with live bindings at `now`, sorted by AoR.
    pub async fn list(&self, now: u64) -> Result<Vec<(String, Vec<Binding>)>, RegistrarError> {
        match self {
            Store::Memory(m) => Ok(m.list(now)),
            Store::Redis(r) => r.list(now).await,
        }
    }

    /// Drops expired bindings; returns how many went. Redis expires keys by
    /// itself, so there this only tidies the AoR index.
    pub async fn sweep(&self, now: u64) -> Result<usize, RegistrarError> {
        match self {
            Store::Memory(m) => Ok(m.sweep(now)),
            Store::Redis(r) => r.sweep().await,
        }
    }

    /// The primary AoR `key` (a canonical AoR) is an alias of, if any.
    pub async fn alias_of(&self, key: &str, now: u64) -> Result<Option<String>, RegistrarError> {
        match self {
            Store::Memory(m) => Ok(m.alias_of(key, now)),
            Store::Redis(r) => r.alias_of(key, now).await,
        }
    }

    /// The alias set of `primary` (empty when it has none).
    pub async fn aliases(&self, primary: &str, now: u64) -> Result<AliasSet, RegistrarError> {
        match self {
            Store::Memory(m) => Ok(m.aliases(primary, now)),
            Store::Redis(r) => r.aliases(primary, now).await,
        }
    }

    /// Replaces the alias set of `primary` with `set` (an empty one drops
    /// it): aliases no longer in it stop naming `primary`.
    pub async fn set_aliases(&self, primary: &str, set: AliasSet) -> Result<(), RegistrarError> {
        match self {
            Store::Memory(m) => {
                m.set_aliases(primary, set);
                Ok(())
            }
            Store::Redis(r) => r.set_aliases(primary, set).await,
        }
    }
}
