//! What every role starts the same way: the SIP listeners, the admin API
//! and the metrics listener, the filter's ticker.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anysip_config::Config;
use net::{
    bind_stream, bind_stream_shared, bind_udp, serve_tcp, serve_udp, Connections, DialSettings,
    Dialer, Dispatch, Listener, Outbox, StreamLimits, WsSettings,
};
use tokio::net::UdpSocket;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::shared::Shared;
use crate::worker::Worker;

/// The bound UDP sockets: one per listener address and worker thread.
#[derive(Debug, Default)]
pub(crate) struct Udp {
    /// One socket per local address (sends leave from it).
    pub(crate) by_addr: HashMap<SocketAddr, Arc<UdpSocket>>,
    /// Every socket, with the worker thread that reads it.
    pub(crate) sockets: Vec<(Arc<UdpSocket>, Handle)>,
}

impl Udp {
    /// Binds every `listen.udp` address once on each of `workers`
    /// (`SO_REUSEPORT`: the kernel spreads datagrams over them), each
    /// socket on its worker's runtime.
    pub(crate) fn bind_all(config: &Config, workers: &[Worker]) -> Result<Udp, Error> {
        let on: Vec<Handle> = workers.iter().map(|w| w.handle().clone()).collect();
        let mut udp = Udp::default();
        for addr in &config.listen.udp {
            let bind = |at| bind_udp(at, 1)?.pop().ok_or(net::NetError::NoSocket(at));
            for (sock, rt, local) in bind_on_each(config, "listen.udp", *addr, &on, bind)? {
                udp.by_addr.entry(local).or_insert_with(|| sock.clone());
                udp.sockets.push((sock, rt));
            }
        }
        Ok(udp)
    }
}

/// Binds `addr` (`key`: `listen.udp`, `listen.tcp`, ...) with `bind` once
/// on each runtime of `on`, inside it (what a socket creates belongs to
/// that runtime's thread), a port of 0 becoming the first socket's for the
/// others; each socket marked with the address's DSCP. Each comes with its
/// runtime and its local address.
fn bind_on_each<S: std::os::fd::AsFd>(
    config: &Config,
    key: &str,
    addr: SocketAddr,
    on: &[Handle],
    bind: impl Fn(SocketAddr) -> Result<S, net::NetError>,
) -> Result<Vec<(S, Handle, SocketAddr)>, Error> {
    let dscp = config
        .listen
        .dscp_of(key.trim_start_matches("listen."), addr);
    let mut at = addr;
    let mut out = Vec::with_capacity(on.len());
    for h in on {
        let s = {
            let _entered = h.enter();
            bind(at).map_err(|e| Error::Startup(format!("{key}: {e}")))?
        };
        if let Some(d) = dscp {
            set_dscp(&s, &addr, d, key)?;
        }
        at = socket2::SockRef::from(&s)
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .ok_or_else(|| Error::Startup(format!("{key}: {addr}: no local address")))?;
        out.push((s, h.clone(), at));
    }
    Ok(out)
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

/// Binds `addr` (`key`: `listen.tcp`, ...) once on each worker of `on`
/// (`SO_REUSEPORT`, each listener on its worker's runtime, all counted in
/// one connection limit), or once on the current runtime when `on` is
/// empty; with the address's DSCP. Each listener comes with where its
/// accept task runs.
fn bind_listeners(
    config: &Config,
    key: &str,
    addr: SocketAddr,
    on: &[Handle],
) -> Result<Vec<(Listener, Option<Handle>)>, Error> {
    if on.is_empty() {
        let here = [Handle::current()];
        let bound = bind_on_each(config, key, addr, &here, bind_stream)?;
        return Ok(bound
            .into_iter()
            .map(|(l, _, _)| (l.into(), None))
            .collect());
    }
    let permits = Arc::new(Semaphore::new(config.limits.max_connections));
    let bound = bind_on_each(config, key, addr, on, bind_stream_shared)?;
    Ok(bound
        .into_iter()
        .map(|(l, h, _)| (Listener::shared(l, permits.clone()), Some(h)))
        .collect())
}

/// Binds each of `addrs` (`key`) with [`bind_listeners`] and spawns the
/// accept task `serve` makes for each listener where it belongs (its
/// worker, or the current runtime).
fn serve_listeners<F, Fut>(
    (config, key, addrs): (&Config, &str, &[SocketAddr]),
    on: &[Handle],
    tasks: &mut Vec<JoinHandle<()>>,
    serve: F,
) -> Result<(), Error>
where
    F: Fn(Listener) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    for addr in addrs {
        for (l, rt) in bind_listeners(config, key, *addr, on)? {
            let task = serve(l);
            tasks.push(match rt {
                Some(h) => h.spawn(task),
                None => tokio::spawn(task),
            });
        }
    }
    Ok(())
}

/// Starts a receive task per UDP socket (on its worker thread) and an
/// accept task per TCP and TLS listener (on each worker of `streams_on`,
/// or the current runtime when it is empty), all handing messages to
/// `dispatch`.
pub(crate) fn serve_sip(
    config: &Config,
    (sockets, streams_on): (Vec<(Arc<UdpSocket>, Handle)>, &[Handle]),
    dispatch: &Arc<dyn Dispatch>,
    outbox: &Outbox,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<(), Error> {
    for (s, rt) in sockets {
        tasks.push(rt.spawn(serve_udp(s, dispatch.clone(), outbox.clone())));
    }
    let limits = stream_limits(config);
    let (d, o) = (dispatch, outbox);
    let tcp = (config, "listen.tcp", &config.listen.tcp[..]);
    serve_listeners(tcp, streams_on, tasks, |l| {
        serve_tcp(l, d.clone(), o.clone(), limits)
    })?;
    if !config.listen.tls.is_empty() {
        let acceptor = crate::tls::acceptor(&config.tls.clone().unwrap_or_default())?;
        let tls = (config, "listen.tls", &config.listen.tls[..]);
        serve_listeners(tls, streams_on, tasks, |l| {
            let shake = Duration::from_secs(10);
            net::serve_tls(l, acceptor.clone(), d.clone(), o.clone(), limits, shake)
        })?;
    }
    Ok(())
}

/// Starts an accept task per `listen.ws` and `listen.wss` listener (SIP
/// over WebSocket, RFC 7118; the edge serves them) on each worker of
/// `on`, counting refusals in `shared.ws`. WSS takes the certificate of
/// `tls:`.
pub(crate) fn serve_ws(
    config: &Config,
    (shared, on): (&Shared, &[Handle]),
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
    let (d, o, ws) = (dispatch, outbox, &settings);
    let plain = (config, "listen.ws", &config.listen.ws[..]);
    serve_listeners(plain, on, tasks, |l| {
        net::serve_ws(l, d.clone(), o.clone(), limits, ws.clone())
    })?;
    if !config.listen.wss.is_empty() {
        let acceptor = crate::tls::acceptor(&config.tls.clone().unwrap_or_default())?;
        let secure = (config, "listen.wss", &config.listen.wss[..]);
        serve_listeners(secure, on, tasks, |l| {
            net::serve_wss(
                l,
                acceptor.clone(),
                d.clone(),
                o.clone(),
                limits,
                ws.clone(),
            )
        })?;
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
