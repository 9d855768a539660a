//! `telemetry:` — logs and traces.

use serde::Deserialize;

/// `telemetry:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Logs on standard error.
    #[serde(default)]
    pub log: LogConfig,
    /// OpenTelemetry trace export. Default none (off).
    #[serde(default)]
    pub otlp: Option<OtlpConfig>,
}

/// `telemetry.log:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (default) or `json` (one object per line).
    #[serde(default)]
    pub format: LogFormat,
    /// A level (`trace`, `debug`, `info`, `warn`, `error`, `off`) or a
    /// filter such as `info,anysip_edge=debug`. `RUST_LOG` overrides it.
    /// Default `info`.
    #[serde(default = "default_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::default(),
            level: default_level(),
        }
    }
}

/// `telemetry.log.format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `telemetry.otlp:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// Collector endpoint, `http://` or `https://` (OTLP/gRPC or HTTP).
    pub endpoint: String,
    /// `service.name` resource attribute. Default `anysip`.
    #[serde(default = "default_service_name")]
    pub service_name: String,
}

fn default_level() -> String {
    "info".to_owned()
}
fn default_service_name() -> String {
    "anysip".to_owned()
}
