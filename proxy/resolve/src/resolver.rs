//! The resolver: its DNS configuration, and the RFC 3263 §4 procedure
//! (in `resolver/procedure.rs`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;

use crate::rng::Rng;
use crate::srv::{self, Weighted};
use crate::ResolveError;

mod dns;
mod hosts;
mod procedure;

/// Resolves targets (RFC 3263 §4). Cheap to clone; clones share the DNS
/// cache and the random number generator.
#[derive(Debug, Clone)]
pub struct Resolver {
    dns: dns::Dns,
    rng: Arc<Mutex<Rng>>,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::new()
    }
}

impl Resolver {
    /// The time one DNS query may take (all name servers and one retry
    /// included) before it fails with [`ResolveError::Lookup`].
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    /// A resolver using the system's name servers (`/etc/resolv.conf`, and
    /// `/etc/hosts`), with [`Self::DEFAULT_TIMEOUT`]. If the system
    /// configuration cannot be read, it logs a warning and uses
    /// `127.0.0.1:53`, as the C library does; use
    /// [`Resolver::from_system_conf`] to get the error instead.
    pub fn new() -> Self {
        match Self::from_system_conf() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "using the name server at 127.0.0.1:53");
                let local = SocketAddr::from(([127, 0, 0, 1], 53));
                let config = ResolverConfig::from_name_servers(vec![name_server(local)]);
                // Building fails only for TLS set-up, a feature not enabled.
                #[allow(clippy::expect_used)]
                let dns = build(config, Self::DEFAULT_TIMEOUT, ResolveHosts::Auto)
                    .expect("a resolver without encrypted transports builds");
                Resolver::with_dns(dns)
            }
        }
    }

    /// A resolver using the system's name servers (`/etc/resolv.conf`, and
    /// `/etc/hosts`), with [`Self::DEFAULT_TIMEOUT`]; `Err`
    /// ([`ResolveError::Config`]) if the configuration cannot be read or
    /// names no server.
    pub fn from_system_conf() -> Result<Self, ResolveError> {
        let (config, _) = hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| ResolveError::Config(format!("/etc/resolv.conf: {e}")))?;
        if config.name_servers().is_empty() {
            return Err(ResolveError::Config(
                "/etc/resolv.conf names no name server".to_owned(),
            ));
        }
        let dns = build(config, Self::DEFAULT_TIMEOUT, ResolveHosts::Auto)?;
        Ok(Resolver::with_dns(dns))
    }

    /// A resolver asking `servers` (UDP, TCP on truncation), with `timeout`
    /// per query (two tries of half of it); `/etc/hosts` is not read. `Err` ([`ResolveError::Config`])
    /// for an empty list.
    pub fn with_nameservers(
        servers: &[SocketAddr],
        timeout: Duration,
    ) -> Result<Self, ResolveError> {
        if servers.is_empty() {
            return Err(ResolveError::Config("no name server given".to_owned()));
        }
        let config =
            ResolverConfig::from_name_servers(servers.iter().copied().map(name_server).collect());
        let dns = build(config, timeout, ResolveHosts::Never)?;
        Ok(Resolver::with_dns(dns))
    }

    /// The same resolver with the random number generator of the SRV
    /// weighted ordering seeded with `seed`, so that the order of a sequence
    /// of resolutions is reproducible (for tests).
    pub fn with_seed(self, seed: u64) -> Self {
        Resolver {
            rng: Arc::new(Mutex::new(Rng::seeded(seed))),
            ..self
        }
    }

    fn with_dns(dns: TokioResolver) -> Self {
        Resolver {
            dns: dns::Dns(dns),
            rng: Arc::new(Mutex::new(Rng::from_entropy())),
        }
    }

    /// Orders SRV records (RFC 2782) with this resolver's generator.
    fn order_srv<T>(&self, records: Vec<Weighted<T>>) -> Vec<T> {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        srv::order(records, &mut rng)
    }
}

/// A name server on `addr` over UDP, and TCP for truncated answers.
fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
    for c in &mut ns.connections {
        c.port = addr.port();
    }
    ns
}

/// The hickory resolver: cache on, A and AAAA queried together, and each
/// query given two tries of half the `timeout` (one lost datagram is
/// survived; a dead server fails a resolution within the timeout, since the
/// procedure stops at the first failed query of the host itself).
fn build(
    config: ResolverConfig,
    timeout: Duration,
    hosts: ResolveHosts,
) -> Result<TokioResolver, ResolveError> {
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    let opts: &mut ResolverOpts = builder.options_mut();
    opts.timeout = timeout / 2;
    // hickory's `attempts` counts retries after the first try.
    opts.attempts = 1;
    opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    opts.use_hosts_file = hosts;
    builder
        .build()
        .map_err(|e| ResolveError::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_outside_a_runtime() {
        let _ = Resolver::new();
        let _ = Resolver::default().with_seed(3);
        let addr = SocketAddr::from(([127, 0, 0, 1], 5353));
        assert!(Resolver::with_nameservers(&[addr], Resolver::DEFAULT_TIMEOUT).is_ok());
    }

    #[test]
    fn no_name_server_is_a_config_error() {
        assert!(matches!(
            Resolver::with_nameservers(&[], Resolver::DEFAULT_TIMEOUT),
            Err(ResolveError::Config(_))
        ));
    }

    #[test]
    fn name_server_port_is_kept() {
        let ns = name_server(SocketAddr::from(([127, 0, 0, 1], 5399)));
        assert!(!ns.connections.is_empty());
        assert!(ns.connections.iter().all(|c| c.port == 5399));
    }
}
