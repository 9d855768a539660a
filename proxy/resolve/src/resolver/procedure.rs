//! The RFC 3263 §4 procedure: from a [`Target`] to the ordered
//! [`Destination`]s.
//!
//! 1. An IP literal (or an IP `maddr`): no DNS. Transport explicit, else
//!    UDP (TLS for `sips:`); port explicit, else the transport's default.
//! 2. A name with a port: A/AAAA only, transport as in 1.
//! 3. A name with a transport and no port: SRV for that transport
//!    (`_sip._udp`, `_sip._tcp`, `_sips._tcp` for TLS); without SRV records,
//!    A/AAAA at the default port. WS/WSS have no SRV names (RFC 7118):
//!    A/AAAA at 80/443.
//! 4. A name alone: NAPTR (flag `s`; `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, only
//!    the last for `sips:`) by order then preference, each replacement's SRV
//!    records in turn. Without usable NAPTR records (or when none of their
//!    SRV names leads to an address), SRV for each transport in this
//!    crate's order of preference: `sip:` UDP then TCP (both queries sent
//!    together), `sips:` TLS.
//!    Without SRV records, A/AAAA with UDP (TLS for `sips:`) at the
//!    default port.
//!
//! SRV records are ordered by priority, then by RFC 2782's weighted random
//! choice; each target gives its IPv4 then its IPv6 addresses. A target of
//! `.` means "not offered here" (and so no A/AAAA fallback). Duplicates are
//! removed, the first occurrence kept. A failed query (timeout, SERVFAIL)
//! of the host itself fails the resolution with [`ResolveError::Lookup`];
//! failures of single SRV targets are skipped while others give addresses.

use std::net::SocketAddr;

use hickory_resolver::proto::rr::rdata::SRV;
use hickory_resolver::proto::rr::Name;

use super::dns::display;
use super::Resolver;
use crate::srv::Weighted;
use crate::target::default_port;
use crate::{naptr, Destination, ResolveError, Target, Transport};

impl Resolver {
    /// The destinations for `target`, in the order to try them (RFC 3263
    /// §4.3: the caller moves to the next on a transport error or a 503).
    /// Never empty when `Ok`.
    pub async fn resolve(&self, target: &Target) -> Result<Vec<Destination>, ResolveError> {
        let explicit = target.explicit_transport()?;
        let fallback = if target.secure {
            Transport::Tls
        } else {
            Transport::Udp
        };
        if let Some(dest) = target.ip_destination() {
            return Ok(vec![dest]);
        }
        let host = target.addr_host();
        let name = fqdn(host)?;
        if let Some(port) = target.port {
            return self
                .addresses(&name, explicit.unwrap_or(fallback), port)
                .await;
        }
        if let Some(transport) = explicit {
            let found = match self.srv_records(transport, &name).await? {
                Some(records) => {
                    let targets = self.order_targets(records);
                    Some(self.expand(targets, transport).await?)
                }
                None => None,
            };
            return match found {
                Some(dests) => non_empty(dedup(dests), host),
                None => {
                    self.addresses(&name, transport, default_port(transport))
                        .await
                }
            };
        }
        if let Some(dests) = self.by_naptr(&name, target.secure).await? {
            return Ok(dests);
        }
        let found: Vec<(Transport, Vec<SRV>)> = if target.secure {
            let tls = self.srv_records(Transport::Tls, &name).await?;
            tls.map(|r| (Transport::Tls, r)).into_iter().collect()
        } else {
            // Both queries at once; UDP first in the result.
            let (udp, tcp) = tokio::join!(
                self.srv_records(Transport::Udp, &name),
                self.srv_records(Transport::Tcp, &name)
            );
            [(Transport::Udp, udp?), (Transport::Tcp, tcp?)]
                .into_iter()
                .filter_map(|(t, records)| records.map(|r| (t, r)))
                .collect()
        };
        if !found.is_empty() {
            let mut dests = Vec::new();
            let mut failure = None;
            // One transport after the other, so that a seed gives one order.
            for (transport, records) in found {
                let targets = self.order_targets(records);
                match self.expand(targets, transport).await {
                    Ok(found) => dests.extend(found),
                    Err(e) => failure = Some(e),
                }
            }
            return match failure {
                Some(e) if dests.is_empty() => Err(e),
                _ => non_empty(dedup(dests), host),
            };
        }
        self.addresses(&name, fallback, default_port(fallback))
            .await
    }

    /// Step 4's NAPTR part: `None` when there are no usable NAPTR records or
    /// none of them leads to an address (so SRV and A/AAAA are tried next).
    async fn by_naptr(
        &self,
        name: &Name,
        secure: bool,
    ) -> Result<Option<Vec<Destination>>, ResolveError> {
        let records = match self.dns.naptr(name).await {
            Ok(records) => records,
            Err(ResolveError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut dests = Vec::new();
        let mut failure = None;
        for (transport, srv) in naptr::select(&records, secure) {
            match self.srv_destinations(&srv, transport).await {
                Ok(Some(found)) => dests.extend(found),
                Ok(None) => {}
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            Some(e) if dests.is_empty() => Err(e),
            _ if dests.is_empty() => Ok(None),
            _ => Ok(Some(dedup(dests))),
        }
    }

    /// The SRV records at the SRV name of `transport` under `name`; `None`
    /// when there are none (always for WebSocket).
    async fn srv_records(
        &self,
        transport: Transport,
        name: &Name,
    ) -> Result<Option<Vec<SRV>>, ResolveError> {
        match srv_name(transport, name)? {
            Some(srv) => self.fetch_srv(&srv).await,
            None => Ok(None),
        }
    }

    /// The SRV records at `srv`; `None` when there are none.
    async fn fetch_srv(&self, srv: &Name) -> Result<Option<Vec<SRV>>, ResolveError> {
        match self.dns.srv(srv).await {
            Ok(records) => Ok(Some(records)),
            Err(ResolveError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The addresses of the SRV records at `srv`, in RFC 2782 order. `None`
    /// when the name has no SRV records; an empty list when it has only
    /// `.` or targets without addresses.
    async fn srv_destinations(
        &self,
        srv: &Name,
        transport: Transport,
    ) -> Result<Option<Vec<Destination>>, ResolveError> {
        match self.fetch_srv(srv).await? {
            Some(records) => {
                let targets = self.order_targets(records);
                self.expand(targets, transport).await.map(Some)
            }
            None => Ok(None),
        }
    }

    /// The SRV targets and ports in RFC 2782 order, without `.` targets.
    fn order_targets(&self, mut records: Vec<SRV>) -> Vec<(Name, u16)> {
        // Servers may list records in any order: a canonical order first
        // makes the weighted shuffle depend on the seed alone.
        records.sort_by(|a, b| (&a.target, a.port).cmp(&(&b.target, b.port)));
        let weighted = records
            .into_iter()
            .filter(|r| !r.target.is_root())
            .map(|r| Weighted {
                priority: r.priority,
                weight: r.weight,
                item: (r.target, r.port),
            })
            .collect();
        self.order_srv(weighted)
    }

    /// Each target's addresses, in order. Targets whose lookup fails are
    /// skipped; `Err` only when that leaves nothing and a lookup failed
    /// (rather than found nothing).
    async fn expand(
        &self,
        targets: Vec<(Name, u16)>,
        transport: Transport,
    ) -> Result<Vec<Destination>, ResolveError> {
        let mut dests = Vec::new();
        let mut failure = None;
        for (target, port) in targets {
            match self.dns.addresses(&target).await {
                Ok(ips) => dests.extend(ips.into_iter().map(|ip| Destination {
                    transport,
                    addr: SocketAddr::new(ip, port),
                })),
                Err(e @ ResolveError::Lookup { .. }) => failure = Some(e),
                Err(_) => {}
            }
        }
        match failure {
            Some(e) if dests.is_empty() => Err(e),
            _ => Ok(dests),
        }
    }

    /// A/AAAA of `name` with one transport and port.
    async fn addresses(
        &self,
        name: &Name,
        transport: Transport,
        port: u16,
    ) -> Result<Vec<Destination>, ResolveError> {
        let ips = self.dns.addresses(name).await?;
        Ok(ips
            .into_iter()
            .map(|ip| Destination {
                transport,
                addr: SocketAddr::new(ip, port),
            })
            .collect())
    }
}

/// `host` as an absolute DNS name (no search domains).
fn fqdn(host: &str) -> Result<Name, ResolveError> {
    let mut name = Name::from_ascii(host).map_err(|_| ResolveError::BadTarget(host.to_owned()))?;
    name.set_fqdn(true);
    Ok(name)
}

/// The SRV name of a transport (RFC 3263 §4.1): `_sip._udp`, `_sip._tcp`,
/// `_sips._tcp`; none for WebSocket.
fn srv_name(transport: Transport, name: &Name) -> Result<Option<Name>, ResolveError> {
    let (service, proto) = match transport {
        Transport::Udp => ("_sip", "_udp"),
        Transport::Tcp => ("_sip", "_tcp"),
        Transport::Tls => ("_sips", "_tcp"),
        Transport::Ws | Transport::Wss => return Ok(None),
    };
    name.prepend_label(proto)
        .and_then(|n| n.prepend_label(service))
        .map(Some)
        .map_err(|_| ResolveError::BadTarget(display(name)))
}

/// The first occurrence of each destination, in order.
fn dedup(dests: Vec<Destination>) -> Vec<Destination> {
    let mut out: Vec<Destination> = Vec::with_capacity(dests.len());
    for d in dests {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

fn non_empty(dests: Vec<Destination>, host: &str) -> Result<Vec<Destination>, ResolveError> {
    if dests.is_empty() {
        Err(ResolveError::NotFound(host.to_owned()))
    } else {
        Ok(dests)
    }
}
