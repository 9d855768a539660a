//! Whether the anycast addresses are configured on a local interface.

use std::collections::HashSet;
use std::net::IpAddr;

use nix::ifaddrs::getifaddrs;

/// Every address configured on a local interface of this network namespace.
/// An error reading them is logged and counts as "none": fail closed.
pub fn local_addresses() -> HashSet<IpAddr> {
    let addrs = match getifaddrs() {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list local addresses; treating every anycast address as missing");
            return HashSet::new();
        }
    };
    addrs
        .filter_map(|ifa| {
            let sa = ifa.address?;
            if let Some(v4) = sa.as_sockaddr_in() {
                return Some(IpAddr::V4(v4.ip()));
            }
            sa.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
        })
        .collect()
}

/// Whether every address in `wanted` is in `local`.
pub fn all_present(wanted: &[IpAddr], local: &HashSet<IpAddr>) -> bool {
    wanted.iter().all(|a| local.contains(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_local() {
        let local = local_addresses();
        let lo: IpAddr = "127.0.0.1".parse().expect("literal");
        assert!(all_present(&[lo], &local), "{local:?}");
        let doc: IpAddr = "203.0.113.254".parse().expect("literal");
        assert!(!all_present(&[lo, doc], &local));
        assert!(all_present(&[], &local));
    }
}
