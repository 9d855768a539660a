//! `destinations[].address`: `IP:port`, or `host:port` resolved once when
//! the configuration is read.
//!
//! This is the crate's one touch of the system: SIPhon configurations name
//! backends by host name (`backend1:5060`), so a name is looked up with the
//! system's resolver (`getaddrinfo`: `/etc/hosts`, then DNS) as the file is
//! parsed, and its first address is the destination's. A name that does not
//! resolve is an error at the key, like any other bad value. Later changes
//! of the name's records are not followed: restart, or reload the group.

use std::net::{SocketAddr, ToSocketAddrs};

use serde::Deserializer;

/// Deserializes `IP:port` or `host:port` (parsed inside the visitor, so
/// that an error carries the value's own location).
pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = SocketAddr;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("IP:port or host:port")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SocketAddr, E> {
            parse(v).map_err(E::custom)
        }
    }
    d.deserialize_str(Visitor)
}

/// `IP:port` (IPv6 as `[addr]:port`) as it is; `host:port` resolved.
pub fn parse(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!(
            "{text:?}: expected IP:port or host:port (IPv6 as [addr]:port)"
        ));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{text:?}: the port must be a number 1..=65535"))?;
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !name_ok {
        return Err(format!(
            "{text:?}: expected IP:port or host:port (IPv6 as [addr]:port)"
        ));
    }
    let mut found = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{text:?}: cannot resolve {host}: {e}"))?;
    found
        .next()
        .ok_or_else(|| format!("{text:?}: {host} has no address"))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn literals_and_names() {
        assert_eq!(parse("10.0.0.1:5060").map(|a| a.port()), Ok(5060));
        assert_eq!(parse("[::1]:5070").map(|a| a.is_ipv6()), Ok(true));
        let local = parse("localhost:5071");
        assert!(
            local
                .as_ref()
                .is_ok_and(|a| a.ip().is_loopback() && a.port() == 5071),
            "{local:?}"
        );
        assert!(parse("localhost").is_err());
        assert!(parse("bad_name:5060").is_err());
        assert!(parse("localhost:99999").is_err());
        assert!(parse("no-such-host.invalid:5060").is_err_and(|e| e.contains("cannot resolve")));
    }
}
