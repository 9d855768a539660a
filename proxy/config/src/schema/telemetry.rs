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
    /// HEP v3 capture of every SIP message to a Homer collector. Default
    /// none (off).
    #[serde(default)]
    pub hep: Option<HepConfig>,
}

/// `telemetry.hep:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HepConfig {
    /// The collector, `IP:port` (UDP).
    pub endpoint: std::net::SocketAddr,
    /// The capture agent id the collector sees. Default 1.
    #[serde(default = "default_capture_id")]
    pub capture_id: u32,
    /// The collector's password (HEP's authentication key chunk). Default
    /// none.
    #[serde(default)]
    pub password: Option<String>,
}

fn default_capture_id() -> u32 {
    1
}

/// `telemetry.log:`, or SIPhon's top-level `log:` (the same keys).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (default; SIPhon's `pretty`) or `json` (one object per line).
    #[serde(default)]
    pub format: LogFormat,
    /// Also write the logs to this file (appended; its directory is
    /// created when missing), as well as to standard error. Default none.
    #[serde(default)]
    pub file: Option<std::path::PathBuf>,
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
            file: None,
            level: default_level(),
        }
    }
}

/// `telemetry.log.format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines (`text`, or SIPhon's `pretty`).
    #[default]
    #[serde(alias = "pretty")]
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
