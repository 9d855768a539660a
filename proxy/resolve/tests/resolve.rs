//! RFC 3263 resolution against a dnsmasq on loopback (see
//! `resolve/dnsmasq.rs`); addresses in the answers are from the
//! documentation ranges and are never contacted.

#![allow(clippy::unwrap_used)]

#[path = "resolve/dns_cases.rs"]
mod dns_cases;
#[path = "resolve/dnsmasq.rs"]
mod dnsmasq;
#[path = "resolve/srv_weights.rs"]
mod srv_weights;

use std::net::SocketAddr;
use std::time::Duration;

use resolve::{Destination, Resolver, Target, Transport};

/// The test zone, as dnsmasq options.
fn zone() -> Vec<String> {
    [
        // NAPTR, listed out of order; one unsupported service (SCTP), one
        // non-terminal flag.
        "--naptr-record=naptr.test,20,1,s,SIP+D2U,,_sip._udp.naptr.test",
        "--naptr-record=naptr.test,10,50,s,SIP+D2T,,_sip._tcp.naptr.test",
        "--naptr-record=naptr.test,10,40,s,SIPS+D2T,,_sips._tcp.naptr.test",
        "--naptr-record=naptr.test,1,1,s,SIP+D2S,,_sip._sctp.naptr.test",
        "--naptr-record=naptr.test,1,1,a,SIP+D2U,,udp9.naptr.test",
        "--srv-host=_sip._udp.naptr.test,udp1.naptr.test,5080,0,0",
        "--srv-host=_sip._tcp.naptr.test,tcp1.naptr.test,5070,0,0",
        "--srv-host=_sips._tcp.naptr.test,tls1.naptr.test,5081,0,0",
        "--srv-host=_sip._sctp.naptr.test,sctp1.naptr.test,5090,0,0",
        "--host-record=udp1.naptr.test,192.0.2.2",
        "--host-record=tcp1.naptr.test,192.0.2.1",
        "--host-record=tls1.naptr.test,192.0.2.3",
        "--host-record=sctp1.naptr.test,192.0.2.4",
        "--host-record=udp9.naptr.test,192.0.2.9",
        "--host-record=naptr.test,192.0.2.20",
        // SRV without NAPTR: two priorities, weights, IPv4 and IPv6.
        "--srv-host=_sip._udp.srv.test,a.srv.test,5060,10,10",
        "--srv-host=_sip._udp.srv.test,b.srv.test,5060,10,30",
        "--srv-host=_sip._udp.srv.test,c.srv.test,5062,20,0",
        "--srv-host=_sip._tcp.srv.test,d.srv.test,5063,0,0",
        "--srv-host=_sip._tcp.srv.test,a.srv.test,5060,5,0",
        "--host-record=a.srv.test,192.0.2.10",
        "--host-record=b.srv.test,192.0.2.11",
        "--host-record=c.srv.test,192.0.2.12,2001:db8::12",
        "--host-record=d.srv.test,192.0.2.13",
        "--host-record=srv.test,192.0.2.21",
        // NAPTR whose SRV names do not exist: SRV, then A/AAAA, are used.
        "--naptr-record=stale.test,10,10,s,SIP+D2U,,_sip._udp.gone.test",
        "--host-record=stale.test,192.0.2.60",
        // Addresses only.
        "--host-record=plain.test,192.0.2.30,2001:db8::30",
        "--host-record=v6only.test,2001:db8::31",
        // sips: only _sips._tcp.
        "--srv-host=_sips._tcp.secure.test,s1.secure.test,5071,0,0",
        "--srv-host=_sip._udp.secure.test,u1.secure.test,5060,0,0",
        "--host-record=s1.secure.test,192.0.2.40",
        "--host-record=u1.secure.test,192.0.2.41",
        // SRV saying "not here" (target "."), and a target without address.
        "--srv-host=_sip._udp.declined.test",
        "--host-record=declined.test,192.0.2.50",
        "--srv-host=_sip._udp.dangling.test,missing.dangling.test,5060,0,0",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// A dnsmasq with [`zone`] and a resolver (2 s timeout, seed 1) asking it;
/// `None` to skip.
fn setup() -> Option<(dnsmasq::Dnsmasq, Resolver)> {
    let server = dnsmasq::Dnsmasq::start(&zone())?;
    let resolver = Resolver::with_nameservers(&[server.addr], Duration::from_secs(2))
        .unwrap()
        .with_seed(1);
    Some((server, resolver))
}

/// Resolves `uri`, bounded by 10 s.
async fn resolve(
    resolver: &Resolver,
    uri: &str,
) -> Result<Vec<Destination>, resolve::ResolveError> {
    let target = Target::from_uri(uri).unwrap();
    tokio::time::timeout(Duration::from_secs(10), resolver.resolve(&target))
        .await
        .unwrap_or_else(|_| panic!("{uri}: resolution took over 10 s"))
}

fn dest(transport: Transport, addr: &str) -> Destination {
    Destination {
        transport,
        addr: addr.parse::<SocketAddr>().unwrap(),
    }
}
