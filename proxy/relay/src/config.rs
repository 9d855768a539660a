//! `relay:` in the configuration file (role: edge): where this instance
//! listens for its peers, who the peers are, and the fleet's certificates.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// `relay:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// The UDP address QUIC listens on: this instance's unicast address,
    /// never the anycast one (a peer must reach this instance and no
    /// other).
    pub listen: SocketAddr,
    /// The fleet: every instance's id and relay address. This instance's
    /// own entry, if listed, is ignored, so that every instance can share
    /// one list.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// A DNS name listing the fleet's relay addresses, resolved at start
    /// and every `dns_refresh_secs` (with the name servers of `dns:`): a
    /// service name (`_anysip-relay._udp.fleet.example`) by its SRV
    /// records, any other name by its A/AAAA records with the port of
    /// `listen`. Each new address is dialled and its certificate says which
    /// instance it is. Used with or instead of `peers`.
    #[serde(default)]
    pub dns: Option<String>,
    /// How often `dns` is resolved again, in seconds (1–3600). Default 30.
    #[serde(default = "default_dns_refresh_secs")]
    pub dns_refresh_secs: u64,
    /// The fleet CA certificate (PEM): every peer's certificate must chain
    /// to it.
    pub ca: PathBuf,
    /// This instance's certificate (PEM), naming `instance-<id>.anysip.invalid`
    /// (`anysip fleet cert --instance <id>`).
    pub cert: PathBuf,
    /// This instance's private key (PEM).
    pub key: PathBuf,
    /// How long a message waits for a connection to its owner before it is
    /// answered 430, in milliseconds (50–10000). Default 500.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// QUIC keep-alive interval in milliseconds (100–10000). Default 1000.
    #[serde(default = "default_keep_alive_ms")]
    pub keep_alive_ms: u64,
    /// A peer silent this long (milliseconds, more than `keep_alive_ms`,
    /// at most 60000) is taken as gone. Default 3000.
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// Relayed messages waiting for their owner's answer, per peer
    /// (1–65536). A message over the limit is answered 503 (a request) or
    /// dropped (a response). Default 4096.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u32,
    /// Peers (connections in and out together) at most (1–4096). Default 256.
    #[serde(default = "default_max_peers")]
    pub max_peers: u32,
}

/// One entry of `relay.peers`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's `server.instance_id` (number).
    pub instance_id: u16,
    /// The peer's `relay.listen`.
    pub address: SocketAddr,
}

fn default_dns_refresh_secs() -> u64 {
    30
}
fn default_connect_timeout_ms() -> u64 {
    500
}
fn default_keep_alive_ms() -> u64 {
    1000
}
fn default_idle_timeout_ms() -> u64 {
    3000
}
fn default_max_in_flight() -> u32 {
    4096
}
fn default_max_peers() -> u32 {
    256
}

/// A problem in `relay:`: the key (below `relay.`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key path, e.g. `relay.peers[1].instance_id`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl RelayConfig {
    /// Checks what the types cannot. `sip_listeners` are the SIP listen
    /// addresses (the relay must not share one).
    pub fn validate(&self, sip_listeners: &[SocketAddr]) -> Result<(), Problem> {
        let fail = |key: &str, message: String| {
            Err(Problem {
                key: format!("relay.{key}"),
                message,
            })
        };
        if self.listen.ip().is_unspecified() || self.listen.port() == 0 {
            return fail(
                "listen",
                format!(
                    "{}: give this instance's unicast address and a port (peers dial it)",
                    self.listen
                ),
            );
        }
        if sip_listeners.contains(&self.listen) {
            return fail("listen", format!("{} is also a SIP listener", self.listen));
        }
        if self.peers.is_empty() && self.dns.is_none() {
            return fail(
                "peers",
                "list the fleet in relay.peers, or give relay.dns (a name that lists it)".into(),
            );
        }
        if let Some(name) = &self.dns {
            let ok = !name.is_empty()
                && name.len() <= 253
                && name.split('.').filter(|l| !l.is_empty()).all(|l| {
                    l.len() <= 63
                        && l.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                });
            if !ok {
                return fail("dns", format!("{name:?} is not a DNS name"));
            }
        }
        let ranges: [(&str, u64, u64, u64); 6] = [
            ("dns_refresh_secs", self.dns_refresh_secs, 1, 3600),
            ("connect_timeout_ms", self.connect_timeout_ms, 50, 10_000),
            ("keep_alive_ms", self.keep_alive_ms, 100, 10_000),
            ("idle_timeout_ms", self.idle_timeout_ms, 200, 60_000),
            ("max_in_flight", u64::from(self.max_in_flight), 1, 65_536),
            ("max_peers", u64::from(self.max_peers), 1, 4096),
        ];
        for (key, v, min, max) in ranges {
            if v < min || v > max {
                return fail(key, format!("{v} is out of range {min}..={max}"));
            }
        }
        if self.idle_timeout_ms <= self.keep_alive_ms {
            return fail(
                "idle_timeout_ms",
                format!(
                    "{} must be more than keep_alive_ms ({})",
                    self.idle_timeout_ms, self.keep_alive_ms
                ),
            );
        }
        for (key, p) in [("ca", &self.ca), ("cert", &self.cert), ("key", &self.key)] {
            if p.as_os_str().is_empty() {
                return fail(key, "must not be empty".into());
            }
        }
        for (i, p) in self.peers.iter().enumerate() {
            if p.instance_id == 0 {
                return fail(
                    &format!("peers[{i}].instance_id"),
                    "0 is not an instance id (1-65535)".into(),
                );
            }
            if p.address.ip().is_unspecified() || p.address.port() == 0 {
                return fail(
                    &format!("peers[{i}].address"),
                    format!("{}: not an address a peer can be dialled at", p.address),
                );
            }
            if let Some(j) = self.peers[..i]
                .iter()
                .position(|q| q.instance_id == p.instance_id)
            {
                return fail(
                    &format!("peers[{i}].instance_id"),
                    format!("{} is listed twice (also peers[{j}])", p.instance_id),
                );
            }
        }
        if self.peers.len() > self.max_peers as usize {
            return fail(
                "peers",
                format!(
                    "{} peers listed, more than max_peers ({})",
                    self.peers.len(),
                    self.max_peers
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> RelayConfig {
        RelayConfig {
            listen: "10.0.0.1:5070".parse().unwrap(),
            peers: vec![
                PeerConfig {
                    instance_id: 1,
                    address: "10.0.0.1:5070".parse().unwrap(),
                },
                PeerConfig {
                    instance_id: 2,
                    address: "10.0.0.2:5070".parse().unwrap(),
                },
            ],
            dns: None,
            dns_refresh_secs: default_dns_refresh_secs(),
            ca: "ca.pem".into(),
            cert: "c.pem".into(),
            key: "k.pem".into(),
            connect_timeout_ms: default_connect_timeout_ms(),
            keep_alive_ms: default_keep_alive_ms(),
            idle_timeout_ms: default_idle_timeout_ms(),
            max_in_flight: default_max_in_flight(),
            max_peers: default_max_peers(),
        }
    }

    #[test]
    fn a_good_section_passes_and_each_problem_names_its_key() {
        let good = sample();
        assert_eq!(good.validate(&[]), Ok(()));
        let key = |c: RelayConfig| {
            c.validate(&["10.0.0.1:5060".parse().unwrap()])
                .unwrap_err()
                .key
        };
        let mut c = good.clone();
        c.listen = "0.0.0.0:5070".parse().unwrap();
        assert_eq!(key(c), "relay.listen");
        let mut c = good.clone();
        c.listen = "10.0.0.1:5060".parse().unwrap();
        assert_eq!(key(c), "relay.listen");
        let mut c = good.clone();
        c.peers[1].instance_id = 1;
        assert_eq!(key(c), "relay.peers[1].instance_id");
        let mut c = good.clone();
        c.idle_timeout_ms = 500;
        assert_eq!(key(c), "relay.idle_timeout_ms");
        let mut c = good.clone();
        c.connect_timeout_ms = 0;
        assert_eq!(key(c), "relay.connect_timeout_ms");
        let mut c = good.clone();
        c.key = "".into();
        assert_eq!(key(c), "relay.key");
        let mut c = good.clone();
        c.peers.clear();
        assert_eq!(key(c), "relay.peers");
        let mut c = good.clone();
        c.peers.clear();
        c.dns = Some("_anysip-relay._udp.fleet.example".into());
        assert_eq!(c.validate(&[]), Ok(()));
        c.dns = Some("not a name".into());
        assert_eq!(key(c), "relay.dns");
        let mut c = good;
        c.dns_refresh_secs = 0;
        assert_eq!(key(c), "relay.dns_refresh_secs");
    }
}
