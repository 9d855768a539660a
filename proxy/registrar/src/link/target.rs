//! Where Redis is, checked: one server, a Sentinel-watched master, or a
//! Cluster. Made from a URL (`redis://`, `rediss://`, `unix://`,
//! `redis+sentinel://`, `rediss+sentinel://`) or a `sentinel:` / `cluster:`
//! block. No I/O.

use crate::config::{ClusterConfig, SentinelConfig};

/// The port of a sentinel when none is given.
pub const SENTINEL_PORT: u16 = 26379;
/// The port of a Redis server when none is given.
pub const REDIS_PORT: u16 = 6379;

/// Where Redis is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One server, by URL.
    Server(String),
    /// The master Sentinel names.
    Sentinel(SentinelConfig),
    /// A Redis Cluster.
    Cluster(ClusterConfig),
}

/// A configuration that names no usable Redis: the key under the section
/// (`url`, `sentinel.sentinels[1]`, ...) and what is wrong. Never holds
/// a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    /// The key under the section that holds the Redis settings.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn wrong(key: impl Into<String>, message: impl Into<String>) -> TargetError {
    TargetError {
        key: key.into(),
        message: message.into(),
    }
}

impl Target {
    /// The target of a section holding `url`, `sentinel` and `cluster`:
    /// exactly one of them must be set.
    pub fn new(
        url: Option<&str>,
        sentinel: Option<&SentinelConfig>,
        cluster: Option<&ClusterConfig>,
    ) -> Result<Target, TargetError> {
        match (url, sentinel, cluster) {
            (Some(url), None, None) => Target::from_url(url),
            (None, Some(s), None) => {
                check_sentinel(s, "sentinel")?;
                Ok(Target::Sentinel(s.clone()))
            }
            (None, None, Some(c)) => {
                check_cluster(c)?;
                Ok(Target::Cluster(c.clone()))
            }
            (None, None, None) => Err(wrong("url", "set one of url, sentinel and cluster")),
            _ => Err(wrong("url", "set only one of url, sentinel and cluster")),
        }
    }

    /// The target of a URL. The error never echoes the URL (it may hold a
    /// password).
    pub fn from_url(url: &str) -> Result<Target, TargetError> {
        for scheme in ["redis+sentinel://", "rediss+sentinel://"] {
            if let Some(rest) = url.strip_prefix(scheme) {
                let s = sentinel_url(rest, scheme.starts_with("rediss"))?;
                return Ok(Target::Sentinel(s));
            }
        }
        let ok = ["redis://", "rediss://", "unix://"]
            .iter()
            .any(|s| url.len() > s.len() && url.starts_with(s));
        if !ok {
            return Err(wrong(
                "url",
                "expected a redis://, rediss://, unix:// or redis+sentinel:// URL",
            ));
        }
        Ok(Target::Server(url.to_owned()))
    }

    /// Where it is, without passwords, for logs and errors.
    pub fn describe(&self) -> String {
        match self {
            Target::Server(url) => crate::config::redacted_url(url),
            Target::Sentinel(s) => s.describe(),
            Target::Cluster(c) => c.describe(),
        }
    }

    /// True when the connections use TLS.
    pub fn tls(&self) -> bool {
        match self {
            Target::Server(url) => url.starts_with("rediss://"),
            Target::Sentinel(s) => s.tls,
            Target::Cluster(c) => c.tls,
        }
    }
}

/// `[user[:password]@]host[:port][,host[:port]...]/master_name[/db]`.
fn sentinel_url(rest: &str, tls: bool) -> Result<SentinelConfig, TargetError> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(u) => {
            let (user, pass) = match u.split_once(':') {
                Some((user, pass)) => (user, Some(pass)),
                None => (u, None),
            };
            let user = decode(user).ok_or_else(|| wrong("url", "bad %-escape in the user"))?;
            let pass = pass
                .map(|p| decode(p).ok_or_else(|| wrong("url", "bad %-escape in the password")))
                .transpose()?;
            ((!user.is_empty()).then_some(user), pass)
        }
    };
    let (master, db) = match path.split_once('/') {
        Some((m, db)) => (m, db.trim_end_matches('/')),
        None => (path, ""),
    };
    let db = if db.is_empty() {
        0
    } else {
        db.parse::<i64>()
            .ok()
            .filter(|d| *d >= 0)
            .ok_or_else(|| wrong("url", "the database after the master name must be a number"))?
    };
    let s = SentinelConfig {
        master_name: decode(master).unwrap_or_default(),
        sentinels: hosts.split(',').map(str::to_owned).collect(),
        username,
        password,
        sentinel_username: None,
        sentinel_password: None,
        db,
        tls,
    };
    check_sentinel(&s, "url")?;
    Ok(s)
}

fn check_sentinel(s: &SentinelConfig, key: &str) -> Result<(), TargetError> {
    let at = |sub: &str| {
        if key == "url" {
            "url".to_owned()
        } else {
            format!("{key}.{sub}")
        }
    };
    if s.master_name.is_empty() || s.master_name.contains(char::is_whitespace) {
        return Err(wrong(
            at("master_name"),
            "the master's name (as the sentinels monitor it) must be non-empty, without spaces",
        ));
    }
    if s.sentinels.is_empty() {
        return Err(wrong(at("sentinels"), "at least one sentinel is needed"));
    }
    for (i, node) in s.sentinels.iter().enumerate() {
        if host_port(node, SENTINEL_PORT).is_none() {
            return Err(wrong(
                at(&format!("sentinels[{i}]")),
                format!("{node:?} is not host:port"),
            ));
        }
    }
    if s.db < 0 {
        return Err(wrong(at("db"), "must be 0 or more"));
    }
    Ok(())
}

fn check_cluster(c: &ClusterConfig) -> Result<(), TargetError> {
    if c.nodes.is_empty() {
        return Err(wrong("cluster.nodes", "at least one seed node is needed"));
    }
    for (i, node) in c.nodes.iter().enumerate() {
        if host_port(node, REDIS_PORT).is_none() {
            return Err(wrong(
                format!("cluster.nodes[{i}]"),
                format!("{node:?} is not host:port"),
            ));
        }
    }
    Ok(())
}

/// `host:port`, `[v6]:port`, or `host` (with `default`).
pub fn host_port(s: &str, default: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return None,
            None => (s, None),
        }
    };
    let bad = |c: char| c.is_whitespace() || matches!(c, '/' | '@' | ',' | '?' | '#');
    if host.is_empty() || host.contains(bad) {
        return None;
    }
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0)?,
        None => default,
    };
    Some((host.to_owned(), port))
}

/// Percent-decoding of a URL's user, password or path segment.
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls() {
        let t = Target::from_url("redis+sentinel://:p%40ss@10.0.0.1,10.0.0.2:26380/mymaster/2")
            .unwrap_or_else(|e| panic!("{e:?}"));
        let Target::Sentinel(s) = t else {
            panic!("a sentinel target")
        };
        assert_eq!(s.master_name, "mymaster");
        assert_eq!(s.sentinels, ["10.0.0.1", "10.0.0.2:26380"]);
        assert_eq!(s.password.as_deref(), Some("p@ss"));
        assert_eq!(s.username, None);
        assert_eq!(s.db, 2);
        assert!(!s.tls);
        let t = Target::from_url("rediss+sentinel://u:x@[::1]:26379/m")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(t.tls());
        assert_eq!(t.describe(), "sentinel:m@[::1]:26379");
        for bad in [
            "redis+sentinel://h:1",
            "redis+sentinel://h:1/",
            "redis+sentinel://h:0/m",
            "redis+sentinel://h:1/m/x",
            "redis+sentinel:///m",
            "redis+sentinel://:pw@a,,b/m",
        ] {
            let e = Target::from_url(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(e.key, "url");
            assert!(!e.message.contains("pw"), "{e:?}");
        }
    }

    #[test]
    fn exactly_one_target() {
        let c = ClusterConfig {
            nodes: vec!["127.0.0.1:7000".into()],
            username: None,
            password: None,
            tls: false,
        };
        assert!(Target::new(Some("redis://h"), None, Some(&c)).is_err());
        assert_eq!(
            Target::new(None, None, None).err().map(|e| e.key),
            Some("url".into())
        );
        assert!(matches!(
            Target::new(None, None, Some(&c)),
            Ok(Target::Cluster(_))
        ));
        let bad = ClusterConfig {
            nodes: vec!["127.0.0.1:7000".into(), "h:x".into()],
            ..c
        };
        assert_eq!(
            Target::new(None, None, Some(&bad)).err().map(|e| e.key),
            Some("cluster.nodes[1]".into())
        );
        assert_eq!(
            Target::from_url("http://h").err().map(|e| e.key),
            Some("url".into())
        );
    }

    #[test]
    fn host_ports() {
        assert_eq!(host_port("h", 1), Some(("h".into(), 1)));
        assert_eq!(host_port("h:2", 1), Some(("h".into(), 2)));
        assert_eq!(host_port("[::1]:3", 1), Some(("::1".into(), 3)));
        assert_eq!(host_port("::1", 1), None);
        assert_eq!(host_port("h:70000", 1), None);
        assert_eq!(host_port("", 1), None);
    }
}
