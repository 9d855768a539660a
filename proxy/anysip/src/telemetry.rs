//! Logs, metrics and traces: `tracing` to stderr (text or JSON), the
//! counters ([`metrics`], rendered by the admin API's `/metrics`), and the
//! per-message spans exported over OTLP ([`otlp`]).

pub(crate) mod metrics;
pub(crate) mod otlp;

use anysip_config::{Config, LogFormat};

use crate::error::Error;

/// The tracing target of the per-message `sip` span (the edge dispatch).
pub(crate) const SIP_SPAN_TARGET: &str = "anysip::role::edge::dispatch";

/// Starts the logs (and the OTLP export when configured).
pub(crate) fn init(config: &Config) -> Result<(), Error> {
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
                .with_target(SIP_SPAN_TARGET, tracing::Level::DEBUG);
            Some(otlp::layer(&o.endpoint, &o.service_name)?.with_filter(only_sip))
        }
        None => None,
    };
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otlp)
        .try_init();
    Ok(())
}
