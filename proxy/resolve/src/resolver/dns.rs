//! The DNS queries RFC 3263 needs, over `hickory-resolver`, with its errors
//! sorted into [`ResolveError::NotFound`] and [`ResolveError::Lookup`].

use std::net::IpAddr;

use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::rdata::{NAPTR, SRV};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;

use crate::ResolveError;

/// A configured `hickory-resolver` (with its cache).
#[derive(Debug, Clone)]
pub(crate) struct Dns(pub(crate) TokioResolver);

impl Dns {
    /// The NAPTR records of `name`.
    pub(crate) async fn naptr(&self, name: &Name) -> Result<Vec<NAPTR>, ResolveError> {
        let lookup = self
            .0
            .lookup(name.clone(), RecordType::NAPTR)
            .await
            .map_err(|e| classify(name, &e))?;
        let records: Vec<NAPTR> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::NAPTR(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        non_empty(records, name)
    }

    /// The SRV records of `name`.
    pub(crate) async fn srv(&self, name: &Name) -> Result<Vec<SRV>, ResolveError> {
        let lookup = self
            .0
            .lookup(name.clone(), RecordType::SRV)
            .await
            .map_err(|e| classify(name, &e))?;
        let records: Vec<SRV> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        non_empty(records, name)
    }

    /// The IPv4 then IPv6 addresses of `name` (A and AAAA queried together;
    /// one failing is not an error while the other answers).
    pub(crate) async fn addresses(&self, name: &Name) -> Result<Vec<IpAddr>, ResolveError> {
        let lookup = self
            .0
            .lookup_ip(name.clone())
            .await
            .map_err(|e| classify(name, &e))?;
        let mut ips: Vec<IpAddr> = Vec::new();
        for ip in lookup.iter() {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        non_empty(ips, name)
    }
}

/// `NotFound` for an empty answer (say, only CNAMEs to nowhere).
fn non_empty<T>(records: Vec<T>, name: &Name) -> Result<Vec<T>, ResolveError> {
    if records.is_empty() {
        Err(ResolveError::NotFound(display(name)))
    } else {
        Ok(records)
    }
}

/// NXDOMAIN and "no records" are `NotFound`; everything else (timeouts,
/// SERVFAIL, REFUSED, I/O) is `Lookup`.
fn classify(name: &Name, e: &NetError) -> ResolveError {
    if e.is_no_records_found() {
        ResolveError::NotFound(display(name))
    } else {
        ResolveError::Lookup {
            name: display(name),
            message: e.to_string(),
        }
    }
}

/// The name without its final dot, as a user wrote it.
pub(crate) fn display(name: &Name) -> String {
    let mut s = name.to_ascii();
    if s.len() > 1 && s.ends_with('.') {
        s.pop();
    }
    s
}
