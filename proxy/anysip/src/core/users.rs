//! Digest users of the core: `auth.users` (passwords), `auth.users_file`
//! (htdigest `user:realm:HA1` lines, MD5) and, with `auth.redis_users`, the
//! string key `<prefix>user:<name>` in the registrar's Redis.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anysip_config::AuthConfig;
use script::{Credential, HostError};

/// Where a user's secret is found.
#[derive(Debug)]
pub(crate) struct Users {
    passwords: HashMap<String, String>,
    /// (user, realm) → MD5 HA1.
    htdigest: HashMap<(String, String), String>,
    redis: Option<RedisUsers>,
}

impl Users {
    pub(crate) fn new(
        auth: Option<&AuthConfig>,
        redis: Option<&anysip_config::RedisConfig>,
    ) -> Result<Self, String> {
        let mut users = Users {
            passwords: HashMap::new(),
            htdigest: HashMap::new(),
            redis: None,
        };
        let Some(auth) = auth else { return Ok(users) };
        users.passwords = auth.users.clone().into_iter().collect();
        if let Some(file) = &auth.users_file {
            users.htdigest = read_htdigest(file)?;
        }
        if auth.redis_users {
            let r = redis.ok_or("auth.redis_users: needs registrar.redis")?;
            users.redis = Some(RedisUsers::new(r)?);
        }
        Ok(users)
    }

    /// The secret of `user` in `realm`; `None` when unknown.
    pub(crate) fn lookup(
        &self,
        user: &str,
        realm: &str,
        rt: &tokio::runtime::Handle,
    ) -> Result<Option<Credential>, HostError> {
        if let Some(p) = self.passwords.get(user) {
            return Ok(Some(Credential::Password(p.clone())));
        }
        if let Some(h) = self.htdigest.get(&(user.to_owned(), realm.to_owned())) {
            return Ok(Some(Credential::Ha1(vec![("MD5".into(), h.clone())])));
        }
        match &self.redis {
            Some(r) => rt
                .block_on(r.password(user))
                .map(|p| p.map(Credential::Password)),
            None => Ok(None),
        }
    }
}

fn read_htdigest(path: &Path) -> Result<HashMap<(String, String), String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("auth.users_file: {}: {e}", path.display()))?;
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(u), Some(r), Some(h))
                if h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                out.insert((u.to_owned(), r.to_owned()), h.to_ascii_lowercase());
            }
            _ => {
                return Err(format!(
                    "auth.users_file: {}:{}: expected user:realm:HA1 (32 hex digits)",
                    path.display(),
                    n + 1
                ))
            }
        }
    }
    Ok(out)
}

/// Users in Redis.
#[derive(Debug)]
struct RedisUsers {
    client: redis::Client,
    prefix: String,
    url: String,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl RedisUsers {
    fn new(cfg: &anysip_config::RedisConfig) -> Result<Self, String> {
        let client = redis::Client::open(cfg.url.as_str())
            .map_err(|e| format!("registrar.redis.url ({}): {e}", cfg.redacted_url()))?;
        Ok(RedisUsers {
            client,
            prefix: cfg.key_prefix.clone(),
            url: cfg.redacted_url(),
            conn: tokio::sync::Mutex::new(None),
        })
    }

    async fn password(&self, user: &str) -> Result<Option<String>, HostError> {
        let unavailable =
            |e: &dyn std::fmt::Display| HostError::Unavailable(format!("redis {}: {e}", self.url));
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            let c = tokio::time::timeout(
                Duration::from_millis(1500),
                self.client.get_multiplexed_async_connection(),
            )
            .await
            .map_err(|e| unavailable(&e))?
            .map_err(|e| unavailable(&e))?;
            *guard = Some(c);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(unavailable(&"no connection"));
        };
        let key = format!("{}user:{user}", self.prefix);
        let r: Result<Result<Option<String>, redis::RedisError>, _> = tokio::time::timeout(
            Duration::from_millis(1500),
            redis::cmd("GET").arg(&key).query_async(conn),
        )
        .await;
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                *guard = None;
                Err(unavailable(&e))
            }
            Err(e) => {
                *guard = None;
                Err(unavailable(&e))
            }
        }
    }
}
