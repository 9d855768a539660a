//! The configuration of the `anysip` binary.
//!
//! One YAML file (`anysip run -c FILE`, `anysip check -c FILE`) describes an
//! edge or a core. Loading it is three steps, each with errors that name the
//! file and where in it:
//!
//! 1. [`expand`]: `${VAR}` and `${VAR:-default}` are replaced in the raw
//!    text (`$$` is a literal `$`);
//! 2. parsing into [`Config`] (serde_yaml; every struct rejects unknown
//!    keys; `serde_path_to_error` gives the key path of a failure);
//! 3. [`Config::validate`]: ranges, listener collisions, references between
//!    sections, the sections each [`Role`] needs.
//!
//! SIPhon's `siphon.yaml` loads as it is (DESIGN §1): its keys for what
//! anysip serves keep their meaning, its other sections are accepted with
//! a warning each ([`Config::notices`]), an unset `${VAR}` expands to
//! nothing with a warning; a key in neither schema is still an error.
//!
//! ```
//! let config = anysip_config::Config::embedded_default();
//! assert_eq!(config.role, anysip_config::Role::Edge);
//! ```
//!
//! `docs/configuration.md` is the operator's reference; the examples in
//! `deploy/examples/` are parsed by this crate's tests.

#![forbid(unsafe_code)]

mod error;
pub mod expand;
mod load;
mod notice;
mod schema;
mod siphon;
mod validate;

pub use error::{ConfigError, Invalid};
pub use load::{load, DEFAULT_YAML, EMBEDDED_NAME};
pub use notice::Notice;
pub use registrar::config::{LivenessConfig, PostgresConfig};
pub use schema::{mask, parse_cidr, AutoBlockConfig, InstanceId, XdpConfig, XdpMode};
pub use schema::{
    AdminAuthConfig, AdminUiConfig, AuthBackend, CacheConfig, CorsConfig, Dscp, HepConfig,
    HttpAuthConfig, KeepaliveConfig, ListenOptions, NatConfig, RateLimitConfig, ReloadMode,
    ScannerBlockConfig, SecurityConfig, SniCertificate, TlsMethod, UNSERVED_SECTIONS,
};
pub use schema::{
    AdminConfig, Algorithm, AuthConfig, Config, DestinationConfig, DigestAlgorithm, DnsConfig,
    DomainConfig, EdgeConfig, GatewayConfig, GroupConfig, HashKey, KeySource, KeysConfig, Limits,
    ListenConfig, LogConfig, LogFormat, MetricsConfig, OtlpConfig, ProbeConfig, PrometheusConfig,
    RedisConfig, RegistrarBackend, RegistrarConfig, Role, ScriptConfig, ServerConfig,
    TelemetryConfig, TlsConfig, Transport, WebSocketConfig,
};
pub use schema::{DiversionConfig, NumberPolicyConfig, NumberingConfig};
pub use validate::{parse_host_port, HostPort};
