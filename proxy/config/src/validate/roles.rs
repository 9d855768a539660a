//! The sections each role needs and the ones it must not have.

use std::collections::HashSet;

use super::host::parse_host_port;
use super::{fail, range, Check};
use crate::schema::{AuthConfig, Config, EdgeConfig, RegistrarBackend, RegistrarConfig, Role};
use registrar::{ClusterConfig, RedisConfig, SentinelConfig};

/// Dispatches on `role`.
pub(super) fn role(config: &Config) -> Check {
    match config.role {
        Role::Edge => {
            for (key, set) in [
                ("registrar", config.registrar.is_some()),
                ("script", config.script.is_some()),
                ("auth", config.auth.is_some()),
                ("numbering", config.numbering.is_some()),
                ("number_policies", config.number_policies.is_some()),
            ] {
                if set {
                    return fail(key, "only used by role: core (this file has role: edge)");
                }
            }
            if let Some(x) = &config.xdp {
                super::xdp::xdp(x)?;
            }
            edge(config, &config.edge_or_default())
        }
        Role::Core => {
            for (key, set) in [
                ("edge", config.edge.is_some()),
                ("xdp", config.xdp.is_some()),
                ("relay", config.relay.is_some()),
            ] {
                if set {
                    return fail(key, "only used by role: edge (this file has role: core)");
                }
            }
            core(config)
        }
    }
}

fn edge(config: &Config, edge: &EdgeConfig) -> Check {
    if let Some(keys) = &edge.keys {
        let set = [keys.file.is_some(), keys.env.is_some(), keys.dev]
            .into_iter()
            .filter(|s| *s)
            .count();
        if set != 1 {
            return fail(
                "edge.keys",
                "set exactly one of file, env, dev: true (or leave edge.keys out for development mode)",
            );
        }
        if keys.file.as_ref().is_some_and(|f| f.as_os_str().is_empty()) {
            return fail("edge.keys.file", "must not be empty");
        }
        if let Some(var) = &keys.env {
            let mut chars = var.chars();
            let ok = matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
                && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
            if !ok {
                return fail(
                    "edge.keys.env",
                    format!("{var:?}: not an environment variable name"),
                );
            }
        }
    }
    if edge.backend_group.is_empty() {
        return fail("edge.backend_group", "must not be empty");
    }
    if config.gateway_group(&edge.backend_group).is_none() {
        let known: Vec<&str> = config
            .gateway
            .groups
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        let known = if known.is_empty() {
            "gateway.groups is empty".to_owned()
        } else {
            format!("groups: {}", known.join(", "))
        };
        return fail(
            "edge.backend_group",
            format!("no gateway group named {:?} ({known})", edge.backend_group),
        );
    }
    for (key, value) in [
        ("edge.ue_address", &edge.ue_address),
        ("edge.backend_address", &edge.backend_address),
    ] {
        if let Some(v) = value {
            if let Err(e) = parse_host_port(v) {
                return fail(key, e);
            }
        }
    }
    if let Some(v) = &edge.probe_address {
        let is_ip = parse_host_port(v).is_ok_and(|hp| hp.host.parse::<std::net::IpAddr>().is_ok());
        if !is_ip {
            return fail(
                "edge.probe_address",
                format!(
                    "{v:?}: must be an IP address or IP:port (this instance's own unicast address)"
                ),
            );
        }
    }
    range(
        "edge.token_max_age_secs",
        edge.token_max_age_secs,
        60,
        365 * 86_400,
    )?;
    range(
        "edge.token_max_skew_secs",
        edge.token_max_skew_secs,
        0,
        3600,
    )?;
    range("edge.retry_after_secs", edge.retry_after_secs, 0, 3600)?;
    if let Some(r) = &config.relay {
        let sip: Vec<std::net::SocketAddr> = config
            .listen
            .udp
            .iter()
            .chain(&config.listen.tcp)
            .chain(&config.listen.tls)
            .copied()
            .collect();
        if let Err(p) = r.validate(&sip) {
            return fail(p.key, p.message);
        }
    }
    Ok(())
}

fn core(config: &Config) -> Check {
    let Some(script) = &config.script else {
        return fail(
            "script",
            "role: core needs a routing script: set script.path",
        );
    };
    if script.path.as_os_str().is_empty() {
        return fail("script.path", "must not be empty");
    }
    if let Some(registrar) = &config.registrar {
        self::registrar(registrar)?;
    }
    for (i, cache) in config.cache.iter().flatten().enumerate() {
        if !cache.is_memory() {
            redis_target(
                &format!("cache[{i}]"),
                cache.url.as_deref(),
                cache.sentinel.as_ref(),
                cache.cluster.as_ref(),
            )?;
        }
    }
    if let Some(auth) = &config.auth {
        self::auth(auth)?;
        let redis = config.registrar.as_ref().is_some_and(|r| r.redis.is_some());
        if auth.redis_users && !redis {
            return fail(
                "auth.redis_users",
                "needs registrar.backend: redis (users are read from that Redis)",
            );
        }
    }
    Ok(())
}

fn registrar(r: &RegistrarConfig) -> Check {
    range("registrar.min_expires", r.min_expires, 1, u32::MAX)?;
    if r.max_expires < r.min_expires {
        return fail(
            "registrar.max_expires",
            format!(
                "{} is below registrar.min_expires ({})",
                r.max_expires, r.min_expires
            ),
        );
    }
    range(
        "registrar.default_expires",
        r.default_expires,
        r.min_expires,
        r.max_expires,
    )?;
    range("registrar.max_contacts", r.max_contacts, 1, 10_000)?;
    match (r.backend, &r.redis) {
        (RegistrarBackend::Redis, None) => fail(
            "registrar.redis",
            "required by backend: redis (set redis.url, redis.sentinel or redis.cluster)",
        ),
        (RegistrarBackend::Memory, Some(_)) => fail(
            "registrar.redis",
            "set but registrar.backend is memory (set backend: redis, or remove redis)",
        ),
        (RegistrarBackend::Redis, Some(redis)) => registrar_redis(redis),
        (RegistrarBackend::Memory, None) => Ok(()),
        (RegistrarBackend::Postgres | RegistrarBackend::Python, _) => fail(
            "registrar.backend",
            "not served by anysip: use memory or redis",
        ),
    }
}

/// `registrar.redis`: where Redis is, the key prefix, `wait`.
fn registrar_redis(redis: &RedisConfig) -> Check {
    redis_target(
        "registrar.redis",
        redis.url.as_deref(),
        redis.sentinel.as_ref(),
        redis.cluster.as_ref(),
    )?;
    if redis.key_prefix.contains(['{', '}']) {
        return fail(
            "registrar.redis.key_prefix",
            "must not contain { or } (the registrar makes each AoR a hash tag of its own)",
        );
    }
    if let Some(w) = &redis.wait {
        range("registrar.redis.wait.replicas", w.replicas, 1, 64)?;
        range("registrar.redis.wait.timeout_ms", w.timeout_ms, 1, 10_000)?;
    }
    Ok(())
}

/// One of `url`, `sentinel` and `cluster` under `section`, usable. The
/// message never echoes a URL (it may hold a password).
pub(super) fn redis_target(
    section: &str,
    url: Option<&str>,
    sentinel: Option<&SentinelConfig>,
    cluster: Option<&ClusterConfig>,
) -> Check {
    match registrar::link::Target::new(url, sentinel, cluster) {
        Ok(_) => Ok(()),
        Err(e) => fail(format!("{section}.{}", e.key), e.message),
    }
}

fn auth(a: &AuthConfig) -> Check {
    if a.realm.trim().is_empty() {
        return fail("auth.realm", "must not be empty");
    }
    if a.realm.contains('"') || a.realm.contains(['\r', '\n']) {
        return fail("auth.realm", "must not contain quotes or line breaks");
    }
    if a.algorithms.is_empty() {
        return fail("auth.algorithms", "at least one algorithm is needed");
    }
    let mut seen = HashSet::new();
    for (i, alg) in a.algorithms.iter().enumerate() {
        if !seen.insert(alg) {
            return fail(format!("auth.algorithms[{i}]"), "listed twice");
        }
    }
    for name in a.users.keys() {
        if name.is_empty() || name.contains([':', '"', '\r', '\n', ' ']) {
            return fail(
                format!("auth.users.{name}"),
                "a user name must be non-empty, without ':', quotes, spaces or line breaks",
            );
        }
    }
    range("auth.nonce_ttl_secs", a.nonce_ttl_secs, 1, 86_400)
}
