//! The registrar as the core uses it: a [`Store`] and a [`Policy`].

use std::borrow::Cow;

use crate::config::{RegistrarBackend, RegistrarConfig};

use crate::binding;
use crate::{alias_key_of, aor_of, process, Binding, MemoryStore, Outcome, Policy, RedisStore};
use crate::{AliasSet, Register};
use crate::{RegistrarError, Source, Store, TriedFlow};

/// What [`Registrar::save_granted`] adds to a registrar of record's grant,
/// so that its notice of the end (a NOTIFY) can arrive before the copy
/// goes (SIPhon's 32 s).
pub const PROXY_GRACE_SECS: u32 = 32;

/// Bindings and the rules for changing them.
#[derive(Debug)]
pub struct Registrar {
    store: Store,
    policy: Policy,
}

impl Registrar {
    /// A registrar on `store`.
    pub fn new(store: Store, policy: Policy) -> Registrar {
        Registrar { store, policy }
    }

    /// A registrar keeping bindings in this process.
    pub fn memory(policy: Policy) -> Registrar {
        Registrar::new(Store::Memory(MemoryStore::new()), policy)
    }

    /// The registrar `registrar:` describes. With `backend: redis` this
    /// must run inside a tokio runtime; it pings Redis once and, when Redis
    /// is down, logs that and still returns a registrar, which works once
    /// Redis is up. Fails only on an unusable configuration.
    pub async fn from_config(config: &RegistrarConfig) -> Result<Registrar, RegistrarError> {
        let policy = Policy::from(config);
        match (config.backend, &config.redis) {
            (RegistrarBackend::Memory, _) => Ok(Registrar::memory(policy)),
            (b @ (RegistrarBackend::Postgres | RegistrarBackend::Python), _) => {
                Err(RegistrarError::Config(format!(
                    "backend: {} is not served by anysip (memory or redis)",
                    match b {
                        RegistrarBackend::Postgres => "postgres",
                        _ => "python",
                    }
                )))
            }
            (RegistrarBackend::Redis, None) => Err(RegistrarError::Config(
                "backend: redis needs registrar.redis (url, sentinel or cluster)".into(),
            )),
            (RegistrarBackend::Redis, Some(redis)) => {
                let store = RedisStore::new(redis)?;
                match store.ping().await {
                    Ok(()) => tracing::info!(redis = %store.redacted_url(), "registrar on redis"),
                    Err(e) => tracing::error!(
                        redis = %store.redacted_url(),
                        error = %e,
                        "redis is not reachable now; REGISTERs get 503 until it is"
                    ),
                }
                Ok(Registrar::new(Store::Redis(Box::new(store)), policy))
            }
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Handles a REGISTER (RFC 3261 §10.3 from step 5: the caller has done
    /// authentication and decided the domain is ours). Returns the response
    /// to build; `Err` only when the store failed (answer
    /// [`RegistrarError::status`], 503).
    pub async fn save(
        &self,
        req: &sip::Message,
        source: &Source,
        now_unix: u64,
    ) -> Result<Outcome, RegistrarError> {
        match Register::from_message(req) {
            Ok(reg) => self.save_register(&reg, source, now_unix).await,
            Err(outcome) => Ok(outcome),
        }
    }

    /// [`Registrar::save`] for a REGISTER already read.
    pub async fn save_register(
        &self,
        reg: &Register,
        source: &Source,
        now_unix: u64,
    ) -> Result<Outcome, RegistrarError> {
        let reg = &*self.to_primary(reg, now_unix).await?;
        if reg.contacts == crate::Contacts::Query {
            let current = self.store.load(&reg.aor, now_unix).await?;
            return Ok(process(reg, source, &self.policy, &current, now_unix).outcome);
        }
        self.store
            .update(&reg.aor, now_unix, |current| {
                let d = process(reg, source, &self.policy, &current, now_unix);
                (d.bindings, d.outcome)
            })
            .await
    }

    /// `reg` with its AoR replaced by the primary when it is an alias
    /// (copied only then).
    async fn to_primary<'a>(
        &self,
        reg: &'a Register,
        now_unix: u64,
    ) -> Result<Cow<'a, Register>, RegistrarError> {
        Ok(match self.store.alias_of(&reg.aor, now_unix).await? {
            Some(aor) => Cow::Owned(Register { aor, ..reg.clone() }),
            None => Cow::Borrowed(reg),
        })
    }

    /// The AoR `uri` names: its canonical form ([`alias_key_of`]), or the
    /// primary AoR when that is an alias of one.
    pub async fn primary(&self, uri: &str, now_unix: u64) -> Result<String, RegistrarError> {
        let key = alias_key_of(uri)?;
        Ok(self.store.alias_of(&key, now_unix).await?.unwrap_or(key))
    }

    /// Declares `uris` the aliases of the AoR `aor` names (SIPhon's
    /// `set_associated_uris`, `save(aliases=)`): a lookup of any of them
    /// finds that AoR's bindings. Replaces its previous set; an empty
    /// list clears it. The set ends with the AoR's latest binding, when it
    /// has any (it is renewed by the next REGISTER that declares it). A
    /// URI that is neither SIP nor tel is refused.
    pub async fn set_aliases(
        &self,
        aor: &str,
        uris: &[String],
        now_unix: u64,
    ) -> Result<(), RegistrarError> {
        let primary = self.primary(aor, now_unix).await?;
        let mut keys: Vec<String> = Vec::with_capacity(uris.len());
        for u in uris {
            let k = alias_key_of(u)?;
            if k != primary && !keys.contains(&k) {
                keys.push(k);
            }
        }
        let live = self.store.load(&primary, now_unix).await?;
        let set = AliasSet {
            uris: uris.to_vec(),
            keys,
            expire_at: live.iter().map(|b| b.expires_at).max(),
        };
        self.store.set_aliases(&primary, set).await
    }

    /// The aliases declared for the AoR `aor` names, as given.
    pub async fn aliases(&self, aor: &str, now_unix: u64) -> Result<Vec<String>, RegistrarError> {
        let primary = self.primary(aor, now_unix).await?;
        Ok(self.store.aliases(&primary, now_unix).await?.uris)
    }

    /// Caches the bindings of a REGISTER that a registrar of record
    /// accepted for `granted` seconds (the Expires of its 200), as a proxy
    /// in front of it does (SIPhon's `registrar.save_proxy`): each contact
    /// lives `granted` seconds (or its own shorter `expires`) plus
    /// [`PROXY_GRACE_SECS`], not capped by `max_expires` (the registrar of
    /// record has capped); a contact with `expires=0`, every contact when
    /// `granted` is 0, and `Contact: *` remove bindings as they did there. The outcome says whether it was
    /// stored (200) or why not; no response is built from it.
    pub async fn save_granted(
        &self,
        req: &sip::Message,
        source: &Source,
        granted: u32,
        now_unix: u64,
    ) -> Result<Outcome, RegistrarError> {
        let mut reg = match Register::from_message(req) {
            Ok(reg) => reg,
            Err(outcome) => return Ok(outcome),
        };
        if let Some(primary) = self.store.alias_of(&reg.aor, now_unix).await? {
            reg.aor = primary;
        }
        match &mut reg.contacts {
            crate::Contacts::Star => {
                self.store.remove(&reg.aor).await?;
                return Ok(Outcome::ok(&[], now_unix, true));
            }
            crate::Contacts::List(list) => {
                for c in list {
                    c.expires = Some(match c.expires {
                        _ if granted == 0 => 0,
                        Some(0) => 0,
                        Some(e) => e.min(granted).saturating_add(PROXY_GRACE_SECS),
                        None => granted.saturating_add(PROXY_GRACE_SECS),
                    });
                }
            }
            crate::Contacts::Query => {}
        }
        let policy = Policy {
            max_expires: u32::MAX,
            ..self.policy
        };
        if reg.contacts == crate::Contacts::Query {
            return Ok(Outcome::ok(&[], now_unix, false));
        }
        self.store
            .update(&reg.aor, now_unix, |current| {
                let d = process(&reg, source, &policy, &current, now_unix);
                (d.bindings, d.outcome)
            })
            .await
    }

    /// The live bindings of an AoR (any SIP URI naming it: it is made
    /// canonical with [`aor_of`]), best `q` first, then most recent.
    pub async fn lookup(&self, aor: &str, now_unix: u64) -> Result<Vec<Binding>, RegistrarError> {
        let aor = self.primary(aor, now_unix).await?;
        let mut bindings = self.store.load(&aor, now_unix).await?;
        binding::sort(&mut bindings);
        Ok(bindings)
    }

    /// Ends the binding of an RFC 5626 flow found dead (§5.3), when it is
    /// still the binding that was tried ([`TriedFlow`]), in one atomic
    /// read-modify-write. The AoR's remaining live bindings (best first)
    /// when it was removed; `None` when no binding matched.
    pub async fn remove_flow(
        &self,
        aor: &str,
        tried: &TriedFlow<'_>,
        now_unix: u64,
    ) -> Result<Option<Vec<Binding>>, RegistrarError> {
        let aor = aor_of(aor)?;
        self.store
            .update(&aor, now_unix, |current| {
                let before = current.len();
                let rest: Vec<Binding> = current.into_iter().filter(|b| !tried.is(b)).collect();
                if rest.len() == before {
                    return (None, None);
                }
                let mut sorted = rest.clone();
                binding::sort(&mut sorted);
                (Some(rest), Some(sorted))
            })
            .await
    }

    /// Removes every binding of an AoR (an alias names its primary), and
    /// its aliases; returns how many bindings there were.
    pub async fn remove(&self, aor: &str, now_unix: u64) -> Result<usize, RegistrarError> {
        let aor = self.primary(aor, now_unix).await?;
        self.store.set_aliases(&aor, AliasSet::default()).await?;
        self.store.remove(&aor).await
    }

    /// Every AoR with its live bindings (each list best first), by AoR.
    pub async fn list(&self, now_unix: u64) -> Result<Vec<(String, Vec<Binding>)>, RegistrarError> {
        let mut all = self.store.list(now_unix).await?;
        for (_, b) in &mut all {
            binding::sort(b);
        }
        Ok(all)
    }

    /// Drops expired bindings (memory) or stale index entries (Redis).
    /// Call it now and then, e.g. once a minute.
    pub async fn sweep(&self, now_unix: u64) -> Result<usize, RegistrarError> {
        self.store.sweep(now_unix).await
    }
}
