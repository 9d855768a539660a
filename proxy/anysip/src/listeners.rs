//! What every role starts the same way: the SIP listeners, the admin API
//! and the metrics listener, the filter's ticker.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anysip_config::Config;
use net::{
    bind_stream, bind_udp, serve_tcp, serve_udp, Connections, DialSettings, Dialer, Dispatch,
    Outbox, StreamLimits, WsSettings,
};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::shared::Shared;

/// The bound UDP sockets: one per listener address and worker.
#[derive(Debug, Default)]
pub(crate) struct Udp {
    /// One socket per local address (sends leave from it).
    pub(crate) by_addr: HashMap<SocketAddr, Arc<UdpSocket>>,
    /// Every socket (each gets a receive task).
    pub(crate) sockets: Vec<Arc<UdpSocket>>,
}

impl Udp {
    /// Binds every `listen.udp` address, `workers` sockets each.
    pub(crate) fn bind_all(config: &Config, workers: usize) -> Result<Udp, Error> {
        let mut udp = Udp::default();
        for addr in &config.listen.udp {
            let socks =
                bind_udp(*addr, workers).map_err(|e| Error::Startup(format!("listen.udp: {e}")))?;
            let Some(first) = socks.first() else {
                continue;
            };
            if let Some(dscp) = config.listen.dscp_of("udp", *addr) {
                for s in &socks {
                    set_dscp(&**s, addr, dscp, "listen.udp")?;
                }
            }
            let local = first.local_addr().map_err(|source| Error::Io {
                what: format!("{addr}"),
                source,
            })?;
            udp.by_addr.insert(local, first.clone());
            udp.sockets.extend(socks);
        }
        Ok(udp)
    }
}

/// Marks what `socket` sends with `dscp` (`listen.dscp`, or the entry's):
/// IP_TOS, or IPV6_TCLASS for IPv6. Connections accepted by a listener
/// inherit it.
fn set_dscp(
    socket: &impl std::os::fd::AsFd,
    addr: &SocketAddr,
    dscp: u8,
    key: &str,
) -> Result<(), Error> {
    let tos = u32::from(dscp) << 2;
    let s = socket2::SockRef::from(socket);
    let set = if addr.is_ipv4() {
        s.set_tos_v4(tos)
    } else {
        s.set_tclass_v6(tos)
    };
    set.map_err(|e| Error::Startup(format!("{key}: {addr}: setting DSCP {dscp}: {e}")))
}

/// The stream limits of `limits:`.
pub(crate) fn stream_limits(config: &Config) -> StreamLimits {
    StreamLimits {
        max_connections: config.limits.max_connections,
        idle: Duration::from_secs(config.limits.tcp_idle_secs),
        sip: sip_limits(config),
        user_timeout: Some(config.limits.tcp_user_timeout()),
        ..StreamLimits::default()
    }
}

/// What opens this instance's outbound TCP/TLS connections (an edge's
/// stream backends, a core's stream targets): `limits:` and the TLS client
/// of `tls:`. The role attaches its dispatch once built.
pub(crate) fn dialer(config: &Config) -> Result<Arc<Dialer>, Error> {
    Ok(Dialer::new(DialSettings {
        connect_timeout: config.limits.tcp_connect_timeout(),
        limits: stream_limits(config),
        tls: Some(crate::tls::connector(config.tls.as_ref())?),
    }))
}

/// The message limits of `limits:`.
pub(crate) fn sip_limits(config: &Config) -> sip::Limits {
    sip::Limits {
        max_message_size: config.limits.max_message_size,
        max_headers: config.limits.max_headers,
    }
}

/// Starts a receive task per UDP socket (on `runtime` when given, else on
/// the current one) and an accept task per TCP and TLS listener, all
/// handing messages to `dispatch`.
pub(crate) async fn serve_sip(
    config: &Config,
    (sockets, runtime): (Vec<Arc<UdpSocket>>, Option<&tokio::runtime::Handle>),
    dispatch: &Arc<dyn Dispatch>,
    outbox: &Outbox,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<(), Error> {
    for s in sockets {
        let task = serve_udp(s, dispatch.clone(), outbox.clone());
        tasks.push(match runtime {
            Some(rt) => rt.spawn(task),
            None => tokio::spawn(task),
        });
    }
    let limits = stream_limits(config);
    for addr in &config.listen.tcp {
        let l = bind_stream(*addr).map_err(|e| Error::Startup(format!("listen.tcp: {e}")))?;
        if let Some(dscp) = config.listen.dscp_of("tcp", *addr) {
            set_dscp(&l, addr, dscp, "listen.tcp")?;
        }
        tasks.push(tokio::spawn(serve_tcp(
            l,
            dispatch.clone(),
            outbox.clone(),
            limits,
        )));
    }
    if !config.listen.tls.is_empty() {
        let tls = config.tls.clone().unwrap_or_default();
        let acceptor = crate::tls::acceptor(&tls)?;
        for addr in &config.listen.tls {
            let l = bind_stream(*addr).map_err(|e| Error::Startup(format!("listen.tls: {e}")))?;
            if let Some(dscp) = config.listen.dscp_of("tls", *addr) {
                set_dscp(&l, addr, dscp, "listen.tls")?;
            }
            tasks.push(tokio::spawn(net::serve_tls(
                l,
                acceptor.clone(),
                dispatch.clone(),
                outbox.clone(),
                limits,
                Duration::from_secs(10),
            )));
        }
    }
    Ok(())
}

/// Starts an accept task per `listen.ws` and `listen.wss` listener (SIP
/// over WebSocket, RFC 7118; the edge serves them), counting refusals in
/// `shared.ws`. WSS takes the certificate of `tls:`.
pub(crate) fn serve_ws(
    config: &Config,
    shared: &Shared,
    dispatch: &Arc<dyn Dispatch>,
    outbox: &Outbox,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<(), Error> {
    let limits = stream_limits(config);
    let w = &config.websocket;
    let settings = WsSettings {
        allowed_origins: w.allowed_origins.iter().cloned().collect(),
        handshake: Duration::from_millis(w.handshake_timeout_ms),
        ping: (w.ping_secs > 0).then(|| Duration::from_secs(w.ping_secs)),
        stats: shared.ws.clone(),
    };
    for addr in &config.listen.ws {
        let l = bind_stream(*addr).map_err(|e| Error::Startup(format!("listen.ws: {e}")))?;
        if let Some(dscp) = config.listen.dscp_of("ws", *addr) {
            set_dscp(&l, addr, dscp, "listen.ws")?;
        }
        tasks.push(tokio::spawn(net::serve_ws(
            l,
            dispatch.clone(),
            outbox.clone(),
            limits,
            settings.clone(),
        )));
    }
    if !config.listen.wss.is_empty() {
        let acceptor = crate::tls::acceptor(&config.tls.clone().unwrap_or_default())?;
        for addr in &config.listen.wss {
            let l = bind_stream(*addr).map_err(|e| Error::Startup(format!("listen.wss: {e}")))?;
            if let Some(dscp) = config.listen.dscp_of("wss", *addr) {
                set_dscp(&l, addr, dscp, "listen.wss")?;
            }
            tasks.push(tokio::spawn(net::serve_wss(
                l,
                acceptor.clone(),
                dispatch.clone(),
                outbox.clone(),
                limits,
                settings.clone(),
            )));
        }
    }
    Ok(())
}

/// Starts the admin API (and the separate metrics listener, if any), after
/// checking their addresses can be bound; and the filter's 1 s ticker.
pub(crate) async fn serve_admin(
    config: &Config,
    shared: &Arc<Shared>,
    conns: &Connections,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<(), Error> {
    let admin_addr = config.admin.listen;
    let check = tokio::net::TcpListener::bind(admin_addr)
        .await
        .map_err(|source| Error::Io {
            what: format!("admin.listen {admin_addr}"),
            source,
        })?;
    drop(check);
    if let Some(addr) = config.metrics.prometheus.listen {
        let check = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Io {
                what: format!("metrics.prometheus.listen {addr}"),
                source,
            })?;
        drop(check);
        let (s, c) = (shared.clone(), conns.clone());
        let path = config.metrics.prometheus.path.clone();
        let policy = crate::admin::policy::Policy::metrics(config);
        tasks.push(tokio::spawn(async move {
            if let Err(e) = crate::admin::serve_metrics(addr, &path, policy, s, c).await {
                tracing::error!(error = %e, "metrics listener stopped");
            }
        }));
    }
    let (s, c) = (shared.clone(), conns.clone());
    let policy = crate::admin::policy::Policy::admin(&config.admin);
    tasks.push(tokio::spawn(async move {
        if let Err(e) = crate::admin::serve(admin_addr, policy, s, c).await {
            tracing::error!(error = %e, "admin API stopped");
        }
    }));
    let ticker = shared.clone();
    tasks.push(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            ticker.filter.tick();
        }
    }));
    Ok(())
}
