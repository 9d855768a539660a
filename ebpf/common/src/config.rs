//! [`Config`]: the `#[repr(C)]` value user space writes into a one-element
//! array map and the classifier reads on every packet.

use crate::packet::IpAddrBytes;
use crate::sip::Method;

/// Maximum number of UDP (and, separately, TCP) SIP ports.
pub const MAX_PORTS: usize = 8;
/// Maximum number of IPv4 (and, separately, IPv6) SIP addresses.
pub const MAX_ADDRS: usize = 8;

/// [`Config::flags`]: accept any IPv4 destination address.
pub const FLAG_ANY_V4: u32 = 1 << 0;
/// [`Config::flags`]: accept any IPv6 destination address.
pub const FLAG_ANY_V6: u32 = 1 << 1;

/// Shed level 0: no shedding.
pub const SHED_OFF: u32 = 0;
/// Shed level 1: INVITE and REGISTER get rate and burst divided by
/// [`Config::shed_factor`].
pub const SHED_STRICT: u32 = 1;
/// Shed level 2 (and above): every new request is dropped; responses,
/// in-dialog requests, keepalives and STUN pass.
pub const SHED_NEW_REQUESTS: u32 = 2;

/// Classifier configuration, shared with the eBPF program as a map value.
///
/// Plain `#[repr(C)]` data with no implicit padding (every field is 4-byte
/// aligned, `_pad` rounds the size), so it is safe to mark `aya::Pod` later.
/// Ports are in host byte order; a port of 0 is an unused slot. Addresses are
/// in network byte order (as they appear on the wire).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// UDP ports SIP listens on (0 = unused slot).
    pub udp_ports: [u16; MAX_PORTS],
    /// TCP/TLS ports SIP listens on (0 = unused slot); blocklist only.
    pub tcp_ports: [u16; MAX_PORTS],
    /// IPv4 addresses SIP listens on; the first `v4_count` are used.
    pub v4_addrs: [[u8; 4]; MAX_ADDRS],
    /// Number of used entries in `v4_addrs` (clamped to [`MAX_ADDRS`]).
    pub v4_count: u32,
    /// IPv6 addresses SIP listens on; the first `v6_count` are used.
    pub v6_addrs: [[u8; 16]; MAX_ADDRS],
    /// Number of used entries in `v6_addrs` (clamped to [`MAX_ADDRS`]).
    pub v6_count: u32,
    /// Token refill rate for new requests per source, per second. 0 turns
    /// rate limiting (and shed level 1) off.
    pub rate_per_sec: u32,
    /// Bucket size per source (a 0 is taken as 1 when limiting is on).
    pub burst: u32,
    /// Shed level set by user space under overload: [`SHED_OFF`],
    /// [`SHED_STRICT`] or [`SHED_NEW_REQUESTS`] (higher values act as 2).
    pub shed_level: u32,
    /// Divisor applied to rate and burst of INVITE and REGISTER at shed level
    /// 1 (0 or 1: no change; the results never go below 1).
    pub shed_factor: u32,
    /// [`FLAG_ANY_V4`], [`FLAG_ANY_V6`].
    pub flags: u32,
    /// Explicit padding; keep 0.
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<Config>() == 224);
const _: () = assert!(core::mem::align_of::<Config>() == 4);

impl Default for Config {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Config {
    /// No ports, no addresses, no limits: every packet is
    /// [`crate::Verdict::PassNotOurs`].
    pub const EMPTY: Config = Config {
        udp_ports: [0; MAX_PORTS],
        tcp_ports: [0; MAX_PORTS],
        v4_addrs: [[0; 4]; MAX_ADDRS],
        v4_count: 0,
        v6_addrs: [[0; 16]; MAX_ADDRS],
        v6_count: 0,
        rate_per_sec: 0,
        burst: 0,
        shed_level: SHED_OFF,
        shed_factor: 0,
        flags: 0,
        _pad: 0,
    };

    /// True when `port` is one of the UDP SIP ports.
    #[inline(always)]
    pub fn is_udp_port(&self, port: u16) -> bool {
        port != 0 && self.udp_ports.contains(&port)
    }

    /// True when `port` is one of the TCP/TLS SIP ports.
    #[inline(always)]
    pub fn is_tcp_port(&self, port: u16) -> bool {
        port != 0 && self.tcp_ports.contains(&port)
    }

    /// True when `dst` is one of our addresses (or its family is "any").
    #[inline(always)]
    pub fn is_our_addr(&self, dst: &IpAddrBytes) -> bool {
        match dst {
            IpAddrBytes::V4(a) => {
                if self.flags & FLAG_ANY_V4 != 0 {
                    return true;
                }
                let n = (self.v4_count as usize).min(MAX_ADDRS);
                self.v4_addrs.get(..n).is_some_and(|s| s.contains(a))
            }
            IpAddrBytes::V6(a) => {
                if self.flags & FLAG_ANY_V6 != 0 {
                    return true;
                }
                let n = (self.v6_count as usize).min(MAX_ADDRS);
                self.v6_addrs.get(..n).is_some_and(|s| s.contains(a))
            }
        }
    }

    /// The effective shed level, 0..=2.
    #[inline(always)]
    pub fn shed(&self) -> u32 {
        self.shed_level.min(SHED_NEW_REQUESTS)
    }

    /// `(rate_per_sec, burst)` for a new request with `method`, or `None`
    /// when rate limiting is off. At shed level 1, INVITE and REGISTER get
    /// both divided by `shed_factor` (never below 1).
    #[inline(always)]
    pub fn limits_for(&self, method: Method) -> Option<(u32, u32)> {
        if self.rate_per_sec == 0 {
            return None;
        }
        let burst = self.burst.max(1);
        if self.shed() == SHED_STRICT && method.is_shed_strict() && self.shed_factor > 1 {
            let rate = (self.rate_per_sec / self.shed_factor).max(1);
            let burst = (burst / self.shed_factor).max(1);
            return Some((rate, burst));
        }
        Some((self.rate_per_sec, burst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_addresses() {
        let mut c = Config::EMPTY;
        assert!(!c.is_udp_port(0));
        c.udp_ports[0] = 5060;
        c.tcp_ports[1] = 5061;
        assert!(c.is_udp_port(5060) && !c.is_udp_port(5061));
        assert!(c.is_tcp_port(5061) && !c.is_tcp_port(5060));
        c.v4_addrs[0] = [10, 0, 0, 1];
        assert!(!c.is_our_addr(&IpAddrBytes::V4([10, 0, 0, 1])), "count 0");
        c.v4_count = 1;
        assert!(c.is_our_addr(&IpAddrBytes::V4([10, 0, 0, 1])));
        assert!(!c.is_our_addr(&IpAddrBytes::V4([10, 0, 0, 2])));
        c.v4_count = u32::MAX;
        assert!(c.is_our_addr(&IpAddrBytes::V4([10, 0, 0, 1])));
        assert!(!c.is_our_addr(&IpAddrBytes::V6([0; 16])));
        c.flags = FLAG_ANY_V6;
        assert!(c.is_our_addr(&IpAddrBytes::V6([7; 16])));
    }

    #[test]
    fn shed_limits() {
        let mut c = Config {
            rate_per_sec: 100,
            burst: 20,
            shed_factor: 4,
            ..Config::EMPTY
        };
        assert_eq!(c.limits_for(Method::Invite), Some((100, 20)));
        c.shed_level = SHED_STRICT;
        assert_eq!(c.limits_for(Method::Invite), Some((25, 5)));
        assert_eq!(c.limits_for(Method::Register), Some((25, 5)));
        assert_eq!(c.limits_for(Method::Options), Some((100, 20)));
        c.shed_factor = 1000;
        assert_eq!(c.limits_for(Method::Invite), Some((1, 1)));
        c.rate_per_sec = 0;
        assert_eq!(c.limits_for(Method::Invite), None);
        c.shed_level = 9;
        assert_eq!(c.shed(), SHED_NEW_REQUESTS);
    }
}
