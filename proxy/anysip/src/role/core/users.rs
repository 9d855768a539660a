//! Digest users of the core: `auth.users` (passwords), `auth.users_file`
//! (htdigest `user:realm:HA1` lines, MD5) and, with `auth.redis_users`, the
//! string key `<prefix>user:<name>` in the registrar's Redis.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anysip_config::AuthConfig;
use registrar::{Registrar, Store};
use script::{Credential, HostError};

/// Where a user's secret is found.
#[derive(Debug)]
pub(crate) struct Users {
    passwords: HashMap<String, String>,
    /// (user, realm) → MD5 HA1.
    htdigest: HashMap<(String, String), String>,
    /// With `auth.redis_users`: the registrar, whose Redis holds them.
    redis: Option<Arc<Registrar>>,
}

impl Users {
    pub(crate) fn new(
        auth: Option<&AuthConfig>,
        registrar: &Arc<Registrar>,
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
            if !matches!(registrar.store(), Store::Redis(_)) {
                return Err("auth.redis_users: needs registrar.backend: redis".into());
            }
            users.redis = Some(registrar.clone());
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
        let Some(Store::Redis(store)) = self.redis.as_ref().map(|r| r.store()) else {
            return Ok(None);
        };
        rt.block_on(store.user_password(user))
            .map(|p| p.map(Credential::Password))
            .map_err(super::host::store_error)
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
