//! `anysip run` and `anysip check`.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anysip_config::{Config, ConfigError, LogFormat, Role};
use edge::{Edge, EdgeSettings};
use net::{bind_udp, serve_tcp, serve_udp, Connections, Dispatch, Outbox, StreamLimits};
use thiserror::Error;
use tokencodec::TokenCodec;

use crate::dispatch::EdgeDispatch;
use crate::state::Shared;

/// Why the binary stops with an error.
#[derive(Debug, Error)]
pub(crate) enum Error {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("key ring: {0}")]
    Keys(String),
    #[error("token: {0}")]
    Token(String),
    #[error("{0}")]
    Startup(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// `anysip check -c FILE`.
pub(crate) fn check(path: &Path) -> Result<(), Error> {
    anysip_config::load(path)?;
    println!("{}: ok", path.display());
    Ok(())
}

/// `anysip run [-c FILE]`.
pub(crate) fn run(path: Option<&Path>) -> Result<(), Error> {
    let config = match path {
        Some(p) => anysip_config::load(p)?,
        None => Config::embedded_default(),
    };
    init_logs(&config)?;
    if path.is_none() {
        tracing::warn!("no -c FILE: running the embedded development default (edge on 127.0.0.1:5060 in front of 127.0.0.1:5070)");
    }
    unsupported(&config)?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            what: "tokio runtime".into(),
            source,
        })?;
    rt.block_on(serve(config, workers))
}

/// Parts of the configuration schema this build does not serve yet: refuse
/// them at start rather than ignore them.
fn unsupported(config: &Config) -> Result<(), Error> {
    let no = |what: &str| {
        Err(Error::Startup(format!(
            "{what} is not supported by this build yet"
        )))
    };
    if config.role == Role::Core {
        return no("role: core");
    }
    Ok(())
}

fn init_logs(config: &Config) -> Result<(), Error> {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.telemetry.log.level));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match config.telemetry.log.format {
        LogFormat::Json => fmt.json().with_filter(filter).boxed(),
        LogFormat::Text => fmt.with_filter(filter).boxed(),
    };
    let otlp = match &config.telemetry.otlp {
        Some(o) => {
            // The per-message `sip` spans are debug level: the exporter asks
            // for them whatever the log level.
            let only_sip = tracing_subscriber::filter::Targets::new()
                .with_target("anysip::dispatch", tracing::Level::DEBUG);
            Some(crate::otlp::layer(&o.endpoint, &o.service_name)?.with_filter(only_sip))
        }
        None => None,
    };
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otlp)
        .try_init();
    Ok(())
}

async fn serve(config: Config, workers: usize) -> Result<(), Error> {
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
    let sip_limits = sip::Limits {
        max_message_size: config.limits.max_message_size,
        max_headers: config.limits.max_headers,
    };
    let filter = crate::filter::Filter::new(&config, &[ue_facing.ip(), backend_facing.ip()]);
    crate::filter::attach(&filter, config.xdp.as_ref());
    match filter.path() {
        crate::filter::Path::Xdp { interface, mode } => {
            tracing::info!(%interface, mode, "XDP on: packets are classified in the kernel");
        }
        crate::filter::Path::UserSpace { reason } => {
            tracing::warn!(%reason, "XDP off: the classifier runs in the UDP receive path");
        }
    }
    let shared = Shared::new(gateways, Some(edge_cfg.backend_group.clone()), filter);

    // Listeners.
    let mut by_addr = HashMap::new();
    let mut udp_sockets = Vec::new();
    for addr in &config.listen.udp {
        let socks =
            bind_udp(*addr, workers).map_err(|e| Error::Startup(format!("listen.udp: {e}")))?;
        let local = socks[0].local_addr().map_err(|source| Error::Io {
            what: format!("{addr}"),
            source,
        })?;
        by_addr.insert(local, socks[0].clone());
        udp_sockets.extend(socks);
    }
    // Advertised addresses send from the socket of their port (wildcard binds).
    for (adv, key) in [
        (ue_facing, "edge.ue_address"),
        (backend_facing, "edge.backend_address"),
    ] {
        if by_addr.contains_key(&adv) {
            continue;
        }
        let wildcard = by_addr
            .iter()
            .find(|(a, _)| {
                a.port() == adv.port() && a.ip().is_unspecified() && a.is_ipv4() == adv.is_ipv4()
            })
            .map(|(_, s)| s.clone());
        match (wildcard, key) {
            (Some(sock), _) => {
                by_addr.insert(adv, sock);
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
    let probe_socket = by_addr
        .get(&backend_facing)
        .cloned()
        .ok_or_else(|| Error::Startup(format!("no UDP socket for {backend_facing}")))?;
    let conns = Connections::default();
    let outbox = Outbox::new(by_addr, conns.clone());
    let dispatch: Arc<dyn Dispatch> = Arc::new(EdgeDispatch {
        edge: Edge::new(codec, settings.clone(), sip_limits),
        shared: shared.clone(),
        backend_addrs,
    });
    let mut tasks = Vec::new();
    for s in udp_sockets {
        tasks.push(tokio::spawn(serve_udp(s, dispatch.clone(), outbox.clone())));
    }
    let stream_limits = StreamLimits {
        max_connections: config.limits.max_connections,
        idle: Duration::from_secs(config.limits.tcp_idle_secs),
        sip: sip_limits,
        ..StreamLimits::default()
    };
    for addr in &config.listen.tcp {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Io {
                what: format!("listen.tcp {addr}"),
                source,
            })?;
        tasks.push(tokio::spawn(serve_tcp(
            l,
            dispatch.clone(),
            outbox.clone(),
            stream_limits,
        )));
    }
    if !config.listen.tls.is_empty() {
        let tls = config.tls.clone().unwrap_or_default();
        let acceptor = crate::tls::acceptor(&tls)?;
        for addr in &config.listen.tls {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Io {
                    what: format!("listen.tls {addr}"),
                    source,
                })?;
            tasks.push(tokio::spawn(net::serve_tls(
                l,
                acceptor.clone(),
                dispatch.clone(),
                outbox.clone(),
                stream_limits,
                Duration::from_secs(10),
            )));
        }
    }
    tasks.push(tokio::spawn(crate::probe::run(
        shared.clone(),
        probe_socket,
        backend_facing,
    )));
    let admin_addr = config.admin.listen;
    let admin_listener_check =
        tokio::net::TcpListener::bind(admin_addr)
            .await
            .map_err(|source| Error::Io {
                what: format!("admin.listen {admin_addr}"),
                source,
            })?;
    drop(admin_listener_check);
    if let Some(addr) = config.metrics.prometheus.listen {
        let probe = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Io {
                what: format!("metrics.prometheus.listen {addr}"),
                source,
            })?;
        drop(probe);
        let (s3, c3) = (shared.clone(), conns.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = crate::admin::serve_metrics(addr, s3, c3).await {
                tracing::error!(error = %e, "metrics listener stopped");
            }
        }));
    }
    let ticker = shared.clone();
    tasks.push(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            ticker.filter.tick();
        }
    }));
    let (s2, c2) = (shared.clone(), conns.clone());
    tasks.push(tokio::spawn(async move {
        if let Err(e) = crate::admin::serve(admin_addr, s2, c2).await {
            tracing::error!(error = %e, "admin API stopped");
        }
    }));
    tracing::info!(
        instance = settings.instance_id,
        ue_facing = %settings.ue_facing,
        backend_facing = %settings.backend_facing,
        udp = ?config.listen.udp,
        tcp = ?config.listen.tcp,
        tls = ?config.listen.tls,
        admin = %admin_addr,
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

/// Returns when SIGTERM or SIGINT arrives, or a drain is requested over
/// the admin API; the process is then not ready.
async fn wait_for_drain(shared: &Shared) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    loop {
        tokio::select! {
            _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => break,
            _ = async { match int.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => break,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                if shared.is_draining() {
                    break;
                }
            }
        }
    }
    shared.drain();
}

/// An advertised address: `IP` or `IP:port` (default port `default`'s).
fn advertised(value: Option<&str>, default: SocketAddr, key: &str) -> Result<SocketAddr, Error> {
    let Some(v) = value else { return Ok(default) };
    if let Ok(a) = v.parse::<SocketAddr>() {
        return Ok(a);
    }
    let ip = v.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, default.port()))
        .map_err(|_| {
            Error::Startup(format!(
                "{key}: {v:?} must be an IP address or IP:port in this build"
            ))
        })
}
