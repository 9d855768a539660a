//! Alias sets in Redis (see [`super::aliases`]), beside the bindings:
//!
//! - `{prefix}aliases:{<primary>}`: the primary's [`AliasSet`] as JSON;
//! - `{prefix}alias:{<alias>}`: the primary an alias names.
//!
//! Each key is its own hash tag, so every command here touches one key
//! (one slot on a Cluster). With an `expire_at` every key of the set
//! expires then (EXPIREAT); without, it stays until replaced. Replacing a
//! set removes an old alias key only while it still names this primary
//! (another primary may have claimed the alias since).

use super::redis::RedisStore;
use super::AliasSet;
use crate::RegistrarError;

/// KEYS: an alias key. ARGV: a primary. Deletes the key when it names
/// that primary.
const DEL_IF: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

impl RedisStore {
    fn set_key(&self, primary: &str) -> String {
        format!("{}aliases:{{{primary}}}", self.prefix())
    }

    fn alias_key(&self, alias: &str) -> String {
        format!("{}alias:{{{alias}}}", self.prefix())
    }

    pub(crate) async fn alias_of(
        &self,
        key: &str,
        now: u64,
    ) -> Result<Option<String>, RegistrarError> {
        let k = self.alias_key(key);
        let primary: Option<String> = self
            .run("GET", |mut c| async move {
                redis::cmd("GET").arg(&k).query_async(&mut c).await
            })
            .await?;
        match primary {
            // The set is the truth: an alias key left over from a set
            // that has changed or expired names nothing.
            Some(p) if self.aliases(&p, now).await?.keys.iter().any(|x| x == key) => Ok(Some(p)),
            _ => Ok(None),
        }
    }

    pub(crate) async fn aliases(
        &self,
        primary: &str,
        now: u64,
    ) -> Result<AliasSet, RegistrarError> {
        let k = self.set_key(primary);
        let json: Option<String> = self
            .run("GET", |mut c| async move {
                redis::cmd("GET").arg(&k).query_async(&mut c).await
            })
            .await?;
        let Some(json) = json else {
            return Ok(AliasSet::default());
        };
        match serde_json::from_str::<AliasSet>(&json) {
            Ok(set) if set.is_live(now) => Ok(set),
            Ok(_) => Ok(AliasSet::default()),
            Err(e) => {
                tracing::warn!(primary, error = %e, "skipping an undecodable alias set");
                Ok(AliasSet::default())
            }
        }
    }

    pub(crate) async fn set_aliases(
        &self,
        primary: &str,
        set: AliasSet,
    ) -> Result<(), RegistrarError> {
        let old = self.aliases(primary, 0).await?;
        for gone in old.keys.iter().filter(|k| !set.keys.contains(k)) {
            let k = self.alias_key(gone);
            self.run("EVAL", |mut c| async move {
                redis::cmd("EVAL")
                    .arg(DEL_IF)
                    .arg(1)
                    .arg(&k)
                    .arg(primary)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await?;
        }
        let set_key = self.set_key(primary);
        if set.uris.is_empty() {
            return self
                .run("DEL", |mut c| async move {
                    redis::cmd("DEL")
                        .arg(&set_key)
                        .query_async::<i64>(&mut c)
                        .await
                })
                .await
                .map(drop);
        }
        let json = serde_json::to_string(&set)
            .map_err(|e| RegistrarError::Unavailable(format!("encoding an alias set: {e}")))?;
        let mut writes = vec![(set_key, json)];
        writes.extend(
            set.keys
                .iter()
                .map(|k| (self.alias_key(k), primary.to_owned())),
        );
        for (key, value) in writes {
            let expire_at = set.expire_at;
            self.run("SET", |mut c| async move {
                let mut pipe = redis::pipe();
                pipe.cmd("SET").arg(&key).arg(&value).ignore();
                if let Some(t) = expire_at {
                    pipe.cmd("EXPIREAT").arg(&key).arg(t).ignore();
                }
                pipe.query_async::<()>(&mut c).await
            })
            .await?;
        }
        Ok(())
    }
}
