//! The edge's two faces: the UE-facing (anycast) address and the
//! backend-facing one, and the sockets they send from.

use std::net::{IpAddr, SocketAddr};

use anysip_config::{Config, EdgeConfig};

use crate::error::Error;
use crate::listeners::Udp;

/// The UE-facing address (`edge.ue_address`, else the SIPhon-style
/// `advertised_address`, else the first UDP listener) and the
/// backend-facing one (`edge.backend_address`, else the UE-facing one).
pub(super) fn facing(
    config: &Config,
    edge: &EdgeConfig,
) -> Result<(SocketAddr, SocketAddr), Error> {
    let first = config
        .listen
        .udp
        .first()
        .copied()
        .ok_or_else(|| Error::Startup("listen.udp: the edge needs a UDP listener".into()))?;
    let ue_facing = match (
        edge.ue_address.as_deref(),
        config.advertised_address.as_deref(),
    ) {
        (Some(a), _) => advertised(a, first, "edge.ue_address")?,
        (None, Some(a)) => advertised(a, first, "advertised_address")?,
        (None, None) => first,
    };
    let backend_facing = match edge.backend_address.as_deref() {
        Some(a) => advertised(a, ue_facing, "edge.backend_address")?,
        None => ue_facing,
    };
    Ok((ue_facing, backend_facing))
}

/// Advertised addresses send from the socket of their port (wildcard
/// binds). The backend-facing address must be a local listener; the
/// UE-facing (anycast) one may live elsewhere (announced by another host,
/// or emulated in tests): replies leave from the listener they arrived on.
pub(super) fn map_advertised(
    udp: &mut Udp,
    ue_facing: SocketAddr,
    backend_facing: SocketAddr,
) -> Result<(), Error> {
    for (adv, key) in [
        (ue_facing, "edge.ue_address"),
        (backend_facing, "edge.backend_address"),
    ] {
        if udp.by_addr.contains_key(&adv) {
            continue;
        }
        let wildcard = udp
            .by_addr
            .iter()
            .find(|(a, _)| {
                a.port() == adv.port() && a.ip().is_unspecified() && a.is_ipv4() == adv.is_ipv4()
            })
            .map(|(_, s)| s.clone());
        match (wildcard, key) {
            (Some(sock), _) => {
                udp.by_addr.insert(adv, sock);
            }
            (None, "edge.ue_address") => {
                tracing::warn!(%adv, "edge.ue_address is not a local UDP listener");
            }
            (None, _) => {
                return Err(Error::Startup(format!(
                    "{key}: {adv} is not a UDP listener (listen.udp): backends must reach the edge there"
                )))
            }
        }
    }
    Ok(())
}

/// An advertised address: `IP` or `IP:port` (default port `default`'s).
fn advertised(value: &str, default: SocketAddr, key: &str) -> Result<SocketAddr, Error> {
    if let Ok(a) = value.parse::<SocketAddr>() {
        return Ok(a);
    }
    let ip = value.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, default.port()))
        .map_err(|_| {
            Error::Startup(format!(
                "{key}: {value:?} must be an IP address or IP:port in this build"
            ))
        })
}
