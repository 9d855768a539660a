//! Plain host lookups for other uses than SIP targets (the relay's peers):
//! SRV when the name is a service name (`_service._proto.domain`), else A
//! and AAAA with a given port.

use std::net::SocketAddr;

use hickory_resolver::proto::rr::Name;

use super::Resolver;
use crate::ResolveError;

impl Resolver {
    /// The socket addresses `name` lists: for a name whose first label
    /// starts with `_`, its SRV records' targets (A/AAAA) and ports, in
    /// RFC 2782 order; otherwise its A and AAAA addresses with `port`.
    pub async fn socket_addrs(
        &self,
        name: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, ResolveError> {
        let mut fqdn =
            Name::from_ascii(name).map_err(|_| ResolveError::BadTarget(name.to_owned()))?;
        fqdn.set_fqdn(true);
        if !name.starts_with('_') {
            let ips = self.dns.addresses(&fqdn).await?;
            return Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect());
        }
        let records = self.dns.srv(&fqdn).await?;
        let weighted = records
            .into_iter()
            .map(|r| crate::srv::Weighted {
                priority: r.priority,
                weight: r.weight,
                item: (r.target.clone(), r.port),
            })
            .collect();
        let mut out = Vec::new();
        for (target, port) in self.order_srv(weighted) {
            // A target that does not resolve is skipped; the others count.
            if let Ok(ips) = self.dns.addresses(&target).await {
                out.extend(ips.into_iter().map(|ip| SocketAddr::new(ip, port)));
            }
        }
        if out.is_empty() {
            return Err(ResolveError::NotFound(name.to_owned()));
        }
        Ok(out)
    }
}
