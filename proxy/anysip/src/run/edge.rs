//! `role: edge`: the stateless edge behind the listeners.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anysip_config::Config;
use edge::{Edge, EdgeSettings};
use net::{Connections, Dispatch, Outbox};
use tokencodec::TokenCodec;

use super::listen::{bind_udp_all, serve_admin, serve_sip, sip_limits};
use super::{advertised, wait_for_drain, Error};
use crate::dispatch::EdgeDispatch;
use crate::filter::{Filter, Path};
use crate::state::Shared;

/// Serves the edge until drained.
pub(crate) async fn serve(config: Config, workers: usize) -> Result<(), Error> {
    let edge_cfg = config.edge.clone().unwrap_or_default();
    let ring = crate::keys::key_ring(&config)?;
    let limits = tokencodec::Limits {
        max_age_secs: edge_cfg.token_max_age_secs,
        max_skew_secs: edge_cfg.token_max_skew_secs,
    };
    let codec = TokenCodec::new(ring, limits);
    let gateways = gateway::Gateways::new(&config.gateway, Instant::now())
        .map_err(|e| Error::Startup(format!("gateway: {e}")))?;
    let group = gateways.group(&edge_cfg.backend_group).ok_or_else(|| {
        Error::Startup(format!(
            "edge.backend_group: no group {}",
            edge_cfg.backend_group
        ))
    })?;
    let backend_addrs: HashSet<SocketAddr> = group.destinations().map(|d| d.address).collect();
    if let Some(d) = group
        .destinations()
        .find(|d| d.transport != gateway::Transport::Udp)
    {
        return Err(Error::Startup(format!(
            "gateway group {}: destination {} uses {:?}; this build reaches backends over UDP only",
            edge_cfg.backend_group, d.uri, d.transport
        )));
    }
    let first = config
        .listen
        .udp
        .first()
        .copied()
        .ok_or_else(|| Error::Startup("listen.udp: the edge needs a UDP listener".into()))?;
    // The UE-facing address: edge.ue_address, else the SIPhon-style
    // advertised_address, else the first UDP listener.
    let ue_facing = match (
        edge_cfg.ue_address.as_deref(),
        config.advertised_address.as_deref(),
    ) {
        (Some(a), _) => advertised(Some(a), first, "edge.ue_address")?,
        (None, Some(a)) => advertised(Some(a), first, "advertised_address")?,
        (None, None) => first,
    };
    let backend_facing = advertised(
        edge_cfg.backend_address.as_deref(),
        ue_facing,
        "edge.backend_address",
    )?;
    let settings = EdgeSettings {
        instance_id: config.server.instance_id.number,
        ue_facing,
        backend_facing,
        retry_after_secs: edge_cfg.retry_after_secs,
        selection_key: match edge_cfg.selection_key {
            anysip_config::HashKey::ToAor => edge::SelectionKey::ToAor,
            anysip_config::HashKey::FromAor => edge::SelectionKey::FromAor,
            anysip_config::HashKey::CallId => edge::SelectionKey::CallId,
            anysip_config::HashKey::RequestUri => edge::SelectionKey::RequestUri,
        },
    };
    let filter = Filter::new(&config, &[ue_facing.ip(), backend_facing.ip()]);
    crate::filter::attach(&filter, config.xdp.as_ref());
    match filter.path() {
        Path::Xdp { interface, mode } => {
            tracing::info!(%interface, mode, "XDP on: packets are classified in the kernel");
        }
        Path::UserSpace { reason } => {
            tracing::warn!(%reason, "XDP off: the classifier runs in the UDP receive path");
        }
    }
    let shared = Shared::new(gateways, Some(edge_cfg.backend_group.clone()), filter);

    let mut udp = bind_udp_all(&config, workers)?;
    // Advertised addresses send from the socket of their port (wildcard binds).
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
            // The UE-facing (anycast) address may live elsewhere (announced
            // by another host, or emulated in tests): replies leave from
            // the listener they arrived on anyway.
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
    let probe_socket = udp
        .by_addr
        .get(&backend_facing)
        .cloned()
        .ok_or_else(|| Error::Startup(format!("no UDP socket for {backend_facing}")))?;
    let conns = Connections::default();
    let outbox = Outbox::new(udp.by_addr, conns.clone());
    let dispatch: Arc<dyn Dispatch> = Arc::new(EdgeDispatch {
        edge: Edge::new(codec, settings.clone(), sip_limits(&config)),
        shared: shared.clone(),
        backend_addrs,
    });
    let mut tasks = Vec::new();
    serve_sip(&config, udp.sockets, &dispatch, &outbox, &mut tasks).await?;
    tasks.push(tokio::spawn(crate::probe::run(
        shared.clone(),
        probe_socket,
        backend_facing,
    )));
    serve_admin(&config, &shared, &conns, &mut tasks).await?;
    tracing::info!(
        instance = settings.instance_id,
        ue_facing = %settings.ue_facing,
        backend_facing = %settings.backend_facing,
        udp = ?config.listen.udp,
        tcp = ?config.listen.tcp,
        tls = ?config.listen.tls,
        admin = %config.admin.listen,
        "anysip edge running"
    );
    wait_for_drain(&shared).await;
    let drain = Duration::from_secs(config.server.drain_secs);
    tracing::warn!(
        secs = drain.as_secs(),
        "draining: not ready, still serving, stopping after drain_secs"
    );
    tokio::time::sleep(drain).await;
    for t in tasks {
        t.abort();
    }
    shared.filter.detach();
    tracing::info!("drained: exiting");
    Ok(())
}
