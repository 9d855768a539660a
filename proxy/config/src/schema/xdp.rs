//! `xdp:` — the packet filter in front of the edge: the XDP program when
//! it can be attached, the same classifier in the UDP receive path when not.

use std::net::IpAddr;

use serde::Deserialize;

/// `xdp:`. With no section at all the edge runs the user-space classifier
/// with these defaults (no rate limit, the default scanner patterns) and
/// attaches nothing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XdpConfig {
    /// The network interface to attach the XDP program to. Default none:
    /// the classifier runs in user space only.
    #[serde(default)]
    pub interface: Option<String>,
    /// How to attach: `auto` (driver mode, falling back to generic skb
    /// mode), `driver`, `skb`, or `off` (user space only). Default `auto`.
    #[serde(default)]
    pub mode: XdpMode,
    /// UDP ports judged as SIP, at most 8. Default: the ports of
    /// `listen.udp`.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// TCP/TLS/WS/WSS ports (blocklist check only), at most 8. Default:
    /// the ports of `listen.tcp`, `listen.tls`, `listen.ws` and `listen.wss`.
    #[serde(default)]
    pub tcp_ports: Vec<u16>,
    /// Destination addresses judged, at most 8 per family. Default: the
    /// listener addresses plus `edge.ue_address`; a wildcard listener
    /// means any address of its family.
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    /// New requests (INVITE, REGISTER, OPTIONS, SUBSCRIBE, MESSAGE, ...) per
    /// second per source (IPv4 /32, IPv6 /64); 0 turns the limit off.
    /// Responses and in-dialog requests are never limited. Default 0.
    #[serde(default)]
    pub rate: u32,
    /// Bucket size per source; 0 means `rate`. Default 0.
    #[serde(default)]
    pub burst: u32,
    /// At shed level 1, INVITE and REGISTER get `rate` and `burst` divided
    /// by this, at least 1. Default 4.
    #[serde(default = "default_shed_factor")]
    pub shed_factor: u32,
    /// Raise the shed level automatically while the kernel drops datagrams
    /// for full receive buffers on the edge's own SIP sockets (user space
    /// is not keeping up). Default true.
    #[serde(default = "default_true")]
    pub auto_shed: bool,
    /// Sources tracked by the user-space limiter at once, at least 1.
    /// Default 65536.
    #[serde(default = "default_max_sources")]
    pub max_sources: usize,
    /// Sources always dropped: CIDRs such as `192.0.2.0/24` or
    /// `2001:db8::/32` (a bare address is a /32 or /128).
    #[serde(default)]
    pub blocklist: Vec<String>,
    /// Blocking of scanners by their User-Agent.
    #[serde(default)]
    pub auto_block: AutoBlockConfig,
}

impl Default for XdpConfig {
    fn default() -> Self {
        XdpConfig {
            interface: None,
            mode: XdpMode::default(),
            ports: Vec::new(),
            tcp_ports: Vec::new(),
            addresses: Vec::new(),
            rate: 0,
            burst: 0,
            shed_factor: default_shed_factor(),
            auto_shed: true,
            max_sources: default_max_sources(),
            blocklist: Vec::new(),
            auto_block: AutoBlockConfig::default(),
        }
    }
}

impl XdpConfig {
    /// The effective burst: `burst`, or `rate` when 0.
    pub fn effective_burst(&self) -> u32 {
        if self.burst == 0 {
            self.rate
        } else {
            self.burst
        }
    }
}

/// `xdp.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum XdpMode {
    /// Driver mode, falling back to skb mode.
    #[default]
    Auto,
    /// Native driver mode only.
    Driver,
    /// Generic (skb) mode only.
    Skb,
    /// Do not attach; user-space classifier only.
    Off,
}

/// `xdp.auto_block:` — sources whose requests carry a scanner's
/// User-Agent are blocklisted for a while.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoBlockConfig {
    /// Case-insensitive substrings of User-Agent; an empty list turns
    /// automatic blocking off. Default: `friendly-scanner`, `sipvicious`,
    /// `sipcli`, `VaxSIPUserAgent`.
    #[serde(default = "default_user_agents")]
    pub user_agents: Vec<String>,
    /// How long a source stays blocked, in seconds, 1–604800. Default 3600.
    #[serde(default = "default_block_secs")]
    pub block_secs: u64,
}

impl Default for AutoBlockConfig {
    fn default() -> Self {
        AutoBlockConfig {
            user_agents: default_user_agents(),
            block_secs: default_block_secs(),
        }
    }
}

fn default_shed_factor() -> u32 {
    4
}
fn default_true() -> bool {
    true
}
fn default_max_sources() -> usize {
    65_536
}
fn default_user_agents() -> Vec<String> {
    [
        "friendly-scanner",
        "sipvicious",
        "sipcli",
        "VaxSIPUserAgent",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}
fn default_block_secs() -> u64 {
    3600
}

/// Reads a CIDR (`192.0.2.0/24`, `2001:db8::/32`) or a bare address (a /32
/// or /128). Host bits are cleared.
pub fn parse_cidr(text: &str) -> Result<(IpAddr, u8), String> {
    let t = text.trim();
    let (addr, len) = match t.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (t, None),
    };
    let ip: IpAddr = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("{text:?} is not an IP address or CIDR"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("{text:?}: prefix length must be 0..={max}"))?,
    };
    Ok((mask(ip, len), len))
}

/// `ip` with the bits past `len` cleared.
pub fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len.min(128)))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert_eq!(
            parse_cidr("192.0.2.77/24"),
            Ok(("192.0.2.0".parse().unwrap_or(IpAddr::from([0; 4])), 24))
        );
        assert_eq!(parse_cidr("192.0.2.7").map(|c| c.1), Ok(32));
        assert_eq!(parse_cidr("2001:db8::1/32").map(|c| c.1), Ok(32));
        assert_eq!(parse_cidr("::/0").map(|c| c.1), Ok(0));
        assert!(parse_cidr("192.0.2.0/33").is_err());
        assert!(parse_cidr("nope").is_err());
        assert!(parse_cidr("10.0.0.0/").is_err());
    }
}
