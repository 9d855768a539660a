//! `role: core`: the scripted stateful proxy and registrar
//! (`anysip-core` driven by a `script::Engine`), with the same listeners,
//! admin API, metrics and drain as the edge.

mod cache;
mod host;
mod originate;
mod reload;
mod users;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use anysip_config::{Config, ScriptConfig};
use anysip_core::{DriverSettings, Listener, Server, Settings, Transport};
use bytes::Bytes;
use net::{Connections, Dispatch, Outbox, Outgoing};
use sip::Flow;

use crate::error::Error;
use crate::filter::Filter;
use crate::listeners::{sip_limits, Udp};
use crate::probe::{self, ProbeAnswer};
use crate::role::{Prepared, Reloadable, Running};
use crate::shared::{RoleState, Shared};
use crate::telemetry::metrics::DropReason;
use crate::worker::Worker;
use host::CoreHost;
use users::Users;

/// The core's front: the filter and the gateway prober's answers, then the
/// proxy.
struct Front {
    inner: anysip_core::CoreDispatch,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Front")
    }
}

impl Dispatch for Front {
    fn on_message(&self, bytes: Bytes, origin: Flow) -> Vec<Outgoing> {
        let shared = &self.shared;
        if !shared.admit(&bytes, &origin) {
            return vec![];
        }
        if bytes.starts_with(b"SIP/2.0 ") {
            match probe::answer(shared, &bytes) {
                ProbeAnswer::NotProbe => {}
                ProbeAnswer::Taken => return vec![],
                ProbeAnswer::Stray => {
                    shared.metrics.drops.inc(DropReason::StrayProbeAnswer);
                    return vec![];
                }
            }
        }
        self.inner.on_message(bytes, origin)
    }

    fn on_sent(&self, tag: net::SendTag, result: &Result<net::Delivery, net::NetError>) {
        self.inner.on_sent(tag, result);
    }
}

/// Builds the core: its thread and UDP sockets (one per listener, read on
/// that thread), the registrar, the script, the proxy.
pub(crate) async fn prepare(config: &Config) -> Result<Prepared, Error> {
    let thread = Worker::start("anysip-core")?;
    let udp = Udp::bind_all(config, std::slice::from_ref(&thread))?;
    let script = config
        .script
        .clone()
        .ok_or_else(|| Error::Startup("script.path: role: core needs a routing script".into()))?;
    let gateways = gateway::Gateways::new(&config.gateway, Instant::now())
        .map_err(|e| Error::Startup(format!("gateway: {e}")))?;
    let filter = Filter::new(config, &[]);
    filter.set_user_space("role: core (XDP belongs to the edge)".into());
    let reg_cfg = config.registrar.clone().unwrap_or_default();
    let registrar = Arc::new(
        registrar::Registrar::from_config(&reg_cfg)
            .await
            .map_err(|e| Error::Startup(format!("registrar: {e}")))?,
    );
    let shared = Shared::new(
        gateways,
        filter,
        RoleState::Core {
            registrar: registrar.clone(),
            server: OnceLock::new(),
        },
    );
    let probe = udp.by_addr.keys().min().copied();
    let conns = Connections::default();
    let dialer = crate::listeners::dialer(config)?;
    let mut outbox = Outbox::new(udp.by_addr.clone(), conns.clone()).with_dialer(dialer.clone());
    let hep = config.telemetry.hep.as_ref();
    if let Some(tap) = crate::telemetry::hep::tap(hep, &shared.metrics.hep)? {
        outbox = outbox.with_tap(tap);
    }

    let host = core_host(config, &shared, registrar.clone(), &conns)?;
    let engine = load_script(&script, host)?;
    let mut tasks = Vec::new();
    if let Some(t) = reload::spawn(script.reload, engine.clone()) {
        tasks.push(t);
    }
    let mut listeners = Vec::new();
    for (t, addrs) in [
        (Transport::Udp, &config.listen.udp),
        (Transport::Tcp, &config.listen.tcp),
        (Transport::Tls, &config.listen.tls),
    ] {
        listeners.extend(addrs.iter().map(|&addr| Listener { transport: t, addr }));
    }
    let settings = Settings {
        listeners,
        advertised: config.advertised_address.clone(),
        aliases: config.domain.local.clone(),
        seed: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
        limits: sip_limits(config),
        max_transactions: config.limits.max_transactions,
        server_header: config.server.server_header.clone(),
        udp_max_request: config.limits.udp_max_request(),
        ..Settings::default()
    };
    let mut driver = DriverSettings::default();
    // SIPhon's pool keys: the most handlers running at once, and how many
    // may wait.
    if let Some(threads) = script.sync_pool_max.or(script.sync_pool_size) {
        driver.router_concurrency = threads;
    }
    if let Some(queue) = script.executor_queue_capacity {
        driver.router_queue = queue;
    }
    let resolver = resolver(config)?;
    let (server, inner) = thread.enter(|| {
        Server::new(
            settings,
            driver,
            engine.clone() as Arc<dyn anysip_core::Router>,
            resolver,
            outbox.clone(),
        )
    });
    let handle = server.handle();
    if let RoleState::Core { server, .. } = &shared.role {
        let _ = server.set(handle.clone());
    }
    let dispatch: Arc<dyn Dispatch> = Arc::new(Front {
        inner,
        shared: shared.clone(),
    });
    dialer.attach(dispatch.clone());
    let sweeper = registrar.clone();
    tasks.push(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(30));
        loop {
            every.tick().await;
            if let Err(e) = sweeper.sweep(crate::shared::now_unix()).await {
                tracing::warn!(error = %e, "registrar sweep failed");
            }
        }
    }));
    tracing::info!(
        script = %script.path.display(),
        registrar = ?reg_cfg.backend,
        "core script and registrar"
    );
    Ok(Prepared {
        shared,
        dispatch,
        outbox,
        conns,
        sockets: udp.sockets,
        probe,
        tasks,
        streams_on: Vec::new(),
        running: Running::Core {
            server,
            handle,
            thread,
        },
        reload: Reloadable::Core(engine),
    })
}

fn core_host(
    config: &Config,
    shared: &Arc<Shared>,
    registrar: Arc<registrar::Registrar>,
    conns: &Connections,
) -> Result<Arc<CoreHost>, Error> {
    let auth = config.auth.as_ref();
    let users = Users::new(auth, &registrar).map_err(Error::Startup)?;
    let realm = auth
        .map(|a| a.realm.clone())
        .or_else(|| config.domain.local.first().cloned())
        .unwrap_or_else(|| "anysip".into());
    let algorithms = auth
        .map(|a| {
            a.algorithms
                .iter()
                .map(|al| match al {
                    anysip_config::DigestAlgorithm::Md5 => "MD5".to_owned(),
                    anysip_config::DigestAlgorithm::Sha256 => "SHA-256".to_owned(),
                })
                .collect()
        })
        // No `auth:` section: the config's default, MD5 alone.
        .unwrap_or_else(|| vec!["MD5".to_owned()]);
    // `auth.nonce_secret` (SIPhon's key) lets every core verify the others'
    // nonces; without it each process draws its own.
    let secret = match auth.and_then(|a| a.nonce_secret.as_deref()) {
        Some(s) if !s.is_empty() => s.as_bytes().to_vec(),
        _ => {
            let mut secret = vec![0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
                .map_err(|_| Error::Startup("no random source for the nonce secret".into()))?;
            secret
        }
    };
    Ok(Arc::new(CoreHost {
        registrar,
        rt: tokio::runtime::Handle::current(),
        shared: shared.clone(),
        users,
        realm,
        algorithms,
        nonce_ttl_secs: auth.map_or(300, |a| a.nonce_ttl_secs),
        nonce_secret: secret,
        local_domains: local_domains(config),
        caches: cache::Caches::new(config.cache.as_deref().unwrap_or_default())
            .map_err(Error::Startup)?,
        instance_id: config.server.instance_id.name.clone(),
        epoch: epoch()?,
        resolver: resolver(config)?,
        origin_ip: config
            .listen
            .udp
            .first()
            .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| {
                a.ip()
            }),
        conns: conns.clone(),
        numbers: Arc::new(config.number_registry()),
    }))
}

/// A random id for this process's start (SIPhon's `instance_epoch`), in
/// the UUID v4 form.
fn epoch() -> Result<String, Error> {
    let mut b = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| Error::Startup("no random source for the process epoch".into()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// `domain.local`, the advertised address and every listening address.
fn local_domains(config: &Config) -> Vec<String> {
    let mut out = config.domain.local.clone();
    out.extend(config.advertised_address.clone());
    for a in config
        .listen
        .udp
        .iter()
        .chain(&config.listen.tcp)
        .chain(&config.listen.tls)
    {
        out.push(a.ip().to_string());
    }
    out.sort();
    out.dedup();
    out
}

/// Loads the script (after SIPhon's `include_paths` joined `sys.path`).
/// Reloading is the watcher's ([`reload`]) and SIGHUP's, not the engine's
/// own check on calls.
fn load_script(script: &ScriptConfig, host: Arc<CoreHost>) -> Result<Arc<script::Engine>, Error> {
    let path = script.path.clone();
    tokio::task::block_in_place(|| {
        script::Engine::add_import_paths(&script.include_paths)
            .map_err(|e| Error::Startup(format!("script.include_paths: {e}")))?;
        script::Engine::load(&path, false, host)
            .map_err(|e| Error::Startup(format!("script.path: {e}")))
    })
    .map(Arc::new)
}

/// The resolver of `dns:`: its name servers, else the system's.
pub(crate) fn resolver(config: &Config) -> Result<resolve::Resolver, Error> {
    let dns = &config.dns;
    if dns.servers.is_empty() {
        return Ok(resolve::Resolver::new());
    }
    let timeout = Duration::from_millis(dns.timeout_ms);
    resolve::Resolver::with_nameservers(&dns.servers, timeout)
        .map_err(|e| Error::Startup(format!("dns.servers: {e}")))
}
