//! `role: edge`: the stateless edge behind the listeners — its key ring,
//! addresses, backend group, packet filter and dispatch; SIGHUP reloads
//! its key ring (`keys.rs`).

mod addresses;
mod backends;
pub(crate) mod dispatch;
pub(crate) mod keys;
mod relayed;
mod tag;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use anysip_config::Config;
use arc_swap::ArcSwap;
use edge::{Edge, EdgeSettings};
use net::{Connections, Dispatch, Outbox};
use tokencodec::TokenCodec;

use crate::error::Error;
use crate::filter::{Filter, Path};
use crate::listeners::{sip_limits, Udp};
use crate::role::{Prepared, Reloadable, Running};
use crate::shared::Shared;
use crate::worker::Worker;
use dispatch::EdgeDispatch;

/// Builds the edge: its `workers` threads and their UDP sockets, its relay
/// (on the first worker), its dispatch.
pub(crate) fn prepare(config: &Config, workers: usize) -> Result<Prepared, Error> {
    let threads = Worker::start_many("anysip-edge", workers)?;
    let mut udp = Udp::bind_all(config, &threads)?;
    let edge_cfg = config.edge.clone().unwrap_or_default();
    let ring = keys::key_ring(config)?;
    let codec = TokenCodec::new(
        ring,
        tokencodec::Limits {
            max_age_secs: edge_cfg.token_max_age_secs,
            max_skew_secs: edge_cfg.token_max_skew_secs,
        },
    );
    let gateways = gateway::Gateways::new(&config.gateway, Instant::now())
        .map_err(|e| Error::Startup(format!("gateway: {e}")))?;
    let group = gateways.group(&edge_cfg.backend_group).ok_or_else(|| {
        Error::Startup(format!(
            "edge.backend_group: no group {}",
            edge_cfg.backend_group
        ))
    })?;
    let udp_backends: Vec<SocketAddr> = group
        .destinations()
        .filter(|d| d.transport == sip::Transport::Udp)
        .map(|d| d.address)
        .collect();
    let backend_index = backends::BackendIndex::new(
        group
            .destinations()
            .map(|d| (d.uri.as_str(), d.address, d.transport)),
    );
    let facing = addresses::facing(config, &edge_cfg)?;
    let (ue_facing, backend_facing) = (facing.ue, facing.backend);
    let settings = EdgeSettings {
        instance_id: config.server.instance_id.number,
        ue_facing,
        backend_facing,
        retry_after_secs: edge_cfg.retry_after_secs,
        udp_max_request: config.limits.udp_max_request(),
        stream_ports: edge::StreamPorts {
            tcp: config.listen.tcp.first().map(|a| a.port()),
            tls: config.listen.tls.first().map(|a| a.port()),
            ws: config.listen.ws.first().map(|a| a.port()),
            wss: config.listen.wss.first().map(|a| a.port()),
        },
        selection_key: match edge_cfg.selection_key {
            anysip_config::HashKey::ToAor => edge::SelectionKey::ToAor,
            anysip_config::HashKey::FromAor => edge::SelectionKey::FromAor,
            anysip_config::HashKey::CallId => edge::SelectionKey::CallId,
            anysip_config::HashKey::RequestUri => edge::SelectionKey::RequestUri,
        },
    };
    let filter = Filter::new(
        config,
        &[ue_facing.ip(), backend_facing.ip(), facing.probe.ip()],
    );
    crate::filter::attach(&filter, config.xdp.as_ref());
    match filter.path() {
        Path::Xdp { interface, mode } => {
            tracing::info!(%interface, mode, "XDP on: packets are classified in the kernel");
        }
        Path::UserSpace { reason } => {
            tracing::warn!(%reason, "XDP off: the classifier runs in the UDP receive path");
        }
    }
    let role = Shared::edge(&gateways, &edge_cfg.backend_group).ok_or_else(|| {
        Error::Startup(format!(
            "edge.backend_group: no group {}",
            edge_cfg.backend_group
        ))
    })?;
    let shared = Shared::new(gateways, filter, role);
    addresses::map_advertised(&mut udp, facing)?;
    if !udp.by_addr.contains_key(&backend_facing) {
        return Err(Error::Startup(format!(
            "no UDP socket for {backend_facing}"
        )));
    }
    let conns = Connections::default();
    let dialer = crate::listeners::dialer(config)?;
    let mut outbox = Outbox::new(udp.by_addr, conns.clone()).with_dialer(dialer.clone());
    let hep = config.telemetry.hep.as_ref();
    if let Some(tap) = crate::telemetry::hep::tap(hep, &shared.metrics.hep)? {
        outbox = outbox.with_tap(tap);
    }
    tracing::info!(
        instance = settings.instance_id,
        ue_facing = %settings.ue_facing,
        backend_facing = %settings.backend_facing,
        probe_from = %facing.probe,
        backend_group = %edge_cfg.backend_group,
        "edge addresses"
    );
    let mut tasks = vec![tokio::spawn(check_tcp(
        udp_backends,
        config.limits.udp_max_request(),
        config.limits.tcp_connect_timeout(),
    ))];
    let (relay, owner) = match &config.relay {
        Some(rc) => {
            // The relay's listening endpoint and what it accepts run on
            // the first worker (each worker dials from its own: lanes).
            let first = &threads[0];
            let started =
                first.enter(|| start_relay(config, rc, settings.instance_id, &outbox, &shared))?;
            tasks.push(started.task);
            (Some(started.link), Some(started.owner))
        }
        None => (None, None),
    };
    let edge = Arc::new(ArcSwap::from_pointee(Edge::new(
        codec,
        settings,
        sip_limits(config),
    )));
    let reload = Reloadable::Edge(Arc::new(keys::Keys::new(
        config,
        edge.clone(),
        sip_limits(config),
    )));
    let edge_dispatch = Arc::new(EdgeDispatch {
        edge,
        shared: shared.clone(),
        backend_index,
        dial_from: facing.probe.ip(),
        relay,
    });
    if let Some(o) = owner {
        let _ = o.dispatch.set(Arc::downgrade(&edge_dispatch));
    }
    let dispatch: Arc<dyn Dispatch> = edge_dispatch;
    dialer.attach(dispatch.clone());
    Ok(Prepared {
        shared,
        dispatch,
        outbox,
        conns,
        sockets: udp.sockets,
        streams_on: threads.iter().map(|w| w.handle().clone()).collect(),
        probe: Some(facing.probe),
        tasks,
        running: Running::Edge { workers: threads },
        reload,
    })
}

/// The relay, bound and serving.
struct StartedRelay {
    /// What sends to the peers.
    link: relayed::RelayLink,
    /// The task serving the peers' messages (and DNS discovery).
    task: tokio::task::JoinHandle<()>,
    /// What writes the peers' messages to their flows.
    owner: Arc<relayed::Owner>,
}

/// Binds the relay (`relay:`) and starts serving the peers' messages.
fn start_relay(
    config: &Config,
    rc: &relay::RelayConfig,
    instance: u16,
    outbox: &Outbox,
    shared: &Arc<Shared>,
) -> Result<StartedRelay, Error> {
    let read = |key: &str, path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map_err(|e| Error::Startup(format!("relay.{key}: {}: {e}", path.display())))
    };
    let (ca, cert, key) = (
        read("ca", &rc.ca)?,
        read("cert", &rc.cert)?,
        read("key", &rc.key)?,
    );
    let settings = relay::Settings::from_config(rc, instance, config.limits.max_message_size);
    let r = relay::Relay::bind(
        settings,
        &ca,
        &cert,
        &key,
        Arc::new(relayed::Counting(shared.clone())),
    )
    .map_err(|e| Error::Startup(format!("relay: {e}")))?;
    tracing::info!(listen = %rc.listen, peers = rc.peers.len(), "relay between instances");
    let _ = shared.relay.set(r.clone());
    let owner = Arc::new(relayed::Owner {
        outbox: outbox.clone(),
        shared: shared.clone(),
        limits: sip_limits(config),
        dispatch: Default::default(),
    });
    let relay_task = r.clone();
    let serving = owner.clone();
    let serve = match &rc.dns {
        None => tokio::spawn(relay_task.serve(serving)),
        Some(name) => {
            let resolver = crate::role::core::resolver(config)?;
            let discover = relayed::discover(
                r.clone(),
                resolver,
                name.clone(),
                rc.listen.port(),
                Duration::from_secs(rc.dns_refresh_secs),
            );
            tokio::spawn(async move {
                tokio::join!(relay_task.serve(serving), discover);
            })
        }
    };
    Ok(StartedRelay {
        link: relayed::RelayLink {
            relay: r,
            outbox: outbox.clone(),
            shared: shared.clone(),
        },
        task: serve,
        owner,
    })
}

/// Says at start which UDP backends do not take TCP: a request too large
/// for UDP (RFC 3261 §18.1.1) goes to them over TCP, so to those it will
/// be answered 513. The connection is closed at once.
async fn check_tcp(backends: Vec<SocketAddr>, max_udp: usize, limit: Duration) {
    for b in backends {
        match tokio::time::timeout(limit, tokio::net::TcpStream::connect(b)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(
                backend = %b,
                error = %e,
                "backend does not take TCP: requests to it over {max_udp} octets (limits.udp_mtu - 200) will be answered 513"
            ),
            Err(_) => tracing::warn!(
                backend = %b,
                "backend did not answer a TCP connect: requests to it over {max_udp} octets (limits.udp_mtu - 200) may be answered 513"
            ),
        }
    }
}
