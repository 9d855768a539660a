//! Logs, metrics and traces: `tracing` to stderr (text or JSON), the
//! counters ([`metrics`], rendered by the admin API's `/metrics`), and the
//! per-message spans exported over OTLP ([`otlp`]).

pub(crate) mod hep;
pub(crate) mod metrics;
pub(crate) mod otlp;

use anysip_config::{Config, LogFormat};

use crate::error::Error;

/// The tracing target of the per-message `sip` span (the edge dispatch).
pub(crate) const SIP_SPAN_TARGET: &str = "anysip::role::edge::dispatch";

/// Opens `log.file` for appending, creating its directory.
fn open_log_file(path: &std::path::Path) -> Result<std::fs::File, Error> {
    let io = |source| Error::Io {
        what: format!("log.file {}", path.display()),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)
}

/// Starts the logs (and the OTLP export when configured).
pub(crate) fn init(config: &Config) -> Result<(), Error> {
    use tracing_subscriber::prelude::*;
    let log = config.log_config();
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&log.level))
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match log.format {
        LogFormat::Json => fmt.json().with_filter(filter()).boxed(),
        LogFormat::Text => fmt.with_filter(filter()).boxed(),
    };
    // `log.file`: the same lines appended to a file as well.
    let file = match &log.file {
        Some(path) => {
            let file = open_log_file(path)?;
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file));
            Some(match log.format {
                LogFormat::Json => layer.json().with_filter(filter()).boxed(),
                LogFormat::Text => layer.with_filter(filter()).boxed(),
            })
        }
        None => None,
    };
    let otlp = match &config.telemetry.otlp {
        Some(o) => {
            // The per-message `sip` spans are debug level: the exporter asks
            // for them whatever the log level.
            let only_sip = tracing_subscriber::filter::Targets::new()
                .with_target(SIP_SPAN_TARGET, tracing::Level::DEBUG);
            Some(otlp::layer(&o.endpoint, &o.service_name)?.with_filter(only_sip))
        }
        None => None,
    };
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(file)
        .with(otlp)
        .try_init();
    Ok(())
}
