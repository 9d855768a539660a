//! `anysip run` and `anysip check`.

pub(crate) mod edge;
pub(crate) mod listen;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anysip_config::{Config, ConfigError, LogFormat, Role};
use thiserror::Error;

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
    let configs = match path {
        Some(p) => vec![anysip_config::load(p)?],
        None => crate::defaults::embedded()?,
    };
    init_logs(&configs[0])?;
    if path.is_none() {
        tracing::warn!("no -c FILE: running the embedded development default: an edge on 127.0.0.1:5060 in front of a core on 127.0.0.1:5070 (memory registrar, deploy/scripts/proxy_default.py, users alice and bob)");
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            what: "tokio runtime".into(),
            source,
        })?;
    rt.block_on(async move {
        let roles = configs.into_iter().map(|c| serve(c, workers));
        futures_join(roles).await
    })
}

/// Serves one configuration (one role) until drained.
async fn serve(config: Config, workers: usize) -> Result<(), Error> {
    match config.role {
        Role::Edge => edge::serve(config, workers).await,
        Role::Core => crate::core::serve(config, workers).await,
    }
}

/// Runs the roles side by side; the first error wins.
async fn futures_join(
    roles: impl Iterator<Item = impl std::future::Future<Output = Result<(), Error>> + Send + 'static>,
) -> Result<(), Error> {
    let tasks: Vec<_> = roles.map(tokio::spawn).collect();
    let mut result = Ok(());
    for t in tasks {
        let r = t
            .await
            .unwrap_or_else(|e| Err(Error::Startup(format!("role task failed: {e}"))));
        if result.is_ok() {
            result = r;
        }
    }
    result
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

/// Returns when SIGTERM or SIGINT arrives, or a drain is requested over
/// the admin API; the process is then not ready.
pub(crate) async fn wait_for_drain(shared: &Shared) {
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
pub(crate) fn advertised(
    value: Option<&str>,
    default: SocketAddr,
    key: &str,
) -> Result<SocketAddr, Error> {
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
