//! The edge's two faces: the UE-facing (anycast) address and the
//! backend-facing one, and the sockets they send from.

use std::net::{IpAddr, SocketAddr};

use anysip_config::{Config, EdgeConfig};

use crate::error::Error;
use crate::listeners::Udp;

/// The edge's addresses: where UEs, backends and the gateway prober see it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Facing {
    /// `edge.ue_address`, else the SIPhon-style `advertised_address`, else
    /// the first UDP listener.
    pub ue: SocketAddr,
    /// `edge.backend_address`, else the UE-facing address.
    pub backend: SocketAddr,
    /// `edge.probe_address` (this instance's own unicast address), else the
    /// backend-facing address.
    pub probe: SocketAddr,
}

/// The edge's addresses from its configuration.
pub(super) fn facing(config: &Config, edge: &EdgeConfig) -> Result<Facing, Error> {
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
    let probe = match edge.probe_address.as_deref() {
        Some(a) => advertised(a, backend_facing, "edge.probe_address")?,
        None => backend_facing,
    };
    Ok(Facing {
        ue: ue_facing,
        backend: backend_facing,
        probe,
    })
}

/// Advertised addresses send from the socket of their port (wildcard
/// binds). The backend-facing and probe addresses must be local listeners;
/// the UE-facing (anycast) one may live elsewhere (announced by another
/// host, or emulated in tests): replies leave from the listener they
/// arrived on.
pub(super) fn map_advertised(udp: &mut Udp, facing: Facing) -> Result<(), Error> {
    for (adv, key) in [
        (facing.ue, "edge.ue_address"),
        (facing.backend, "edge.backend_address"),
        (facing.probe, "edge.probe_address"),
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
