//! The typed document: one struct per section, every one rejecting unknown
//! keys, every optional key with an explicit default.
//!
//! `docs/configuration.md` has a table per section (key, type, default,
//! meaning); keep it in step with the doc comments here.

mod core_role;
mod edge;
mod listen;
mod server;
mod siphon;
mod telemetry;
mod xdp;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use core_role::{
    AuthBackend, AuthConfig, DigestAlgorithm, HttpAuthConfig, ReloadMode, ScriptConfig,
};
pub use edge::{EdgeConfig, KeySource, KeysConfig};
/// `gateway:` — the types of the `gateway` crate, which owns gateway
/// groups (selection, probing) and validates its own section.
pub use gateway::{
    Algorithm, DestinationConfig, GatewayConfig, GroupConfig, HashKey, ProbeConfig, Transport,
};
pub use listen::{
    Dscp, ListenConfig, ListenOptions, SniCertificate, TlsConfig, TlsMethod, WebSocketConfig,
};
/// `numbering:` and `number_policies:` — the types of the `numbers` crate,
/// which owns telephone-number normalization.
pub use numbers::config::{DiversionConfig, NumberPolicyConfig, NumberingConfig};
/// `registrar:` — the types of the `registrar` crate, which owns them.
pub use registrar::config::{RedisConfig, RegistrarBackend, RegistrarConfig};
pub use server::{
    AdminConfig, DnsConfig, DomainConfig, InstanceId, Limits, MetricsConfig, PrometheusConfig,
    ServerConfig,
};
pub use siphon::{
    AdminAuthConfig, AdminUiConfig, CacheConfig, CorsConfig, KeepaliveConfig, NatConfig,
    RateLimitConfig, ScannerBlockConfig, SecurityConfig, UNSERVED_SECTIONS,
};
pub use telemetry::{HepConfig, LogConfig, LogFormat, OtlpConfig, TelemetryConfig};
pub use xdp::{mask, parse_cidr, AutoBlockConfig, XdpConfig, XdpMode};

/// The whole file.
///
/// Sections that only one role uses (`edge` for `role: edge`; `registrar`,
/// `script`, `auth` for `role: core`) are optional and rejected by
/// validation under the other role.
///
/// SIPhon's `siphon.yaml` is read as it is: its keys for what anysip
/// serves mean what they mean there; its sections for what anysip does not
/// serve ([`UNSERVED_SECTIONS`]) are accepted and named in [`Config::notices`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `role:` as written.
    #[serde(default, rename = "role")]
    role_given: Option<Role>,
    /// What this process is: `role:`, or when absent `core` if the file has
    /// a `script:` (a SIPhon configuration), else `edge`.
    #[serde(skip)]
    pub role: Role,
    /// Warnings about the file: unset variables, SIPhon keys read but not
    /// served. `anysip check` prints them; `anysip run` logs them.
    #[serde(skip)]
    pub notices: Vec<crate::Notice>,
    /// SIP listeners. At least one address in all.
    #[serde(default)]
    pub listen: ListenConfig,
    /// Certificate and key for the `listen.tls` and `listen.wss` listeners.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// The WebSocket listeners' Upgrade and keepalive; defaults apply when
    /// absent.
    #[serde(default)]
    pub websocket: WebSocketConfig,
    /// Domains this node is responsible for.
    #[serde(default)]
    pub domain: DomainConfig,
    /// Host (and optional port) put in Via and Record-Route instead of the
    /// listener address, e.g. the anycast address or its DNS name.
    #[serde(default)]
    pub advertised_address: Option<String>,
    /// Instance identity and drain.
    #[serde(default)]
    pub server: ServerConfig,
    /// Prometheus metrics.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The admin API (`/admin/health`, `/admin/ready`, `/admin/drain`, ...).
    #[serde(default)]
    pub admin: AdminConfig,
    /// Resource limits on network input.
    #[serde(default)]
    pub limits: Limits,
    /// Logs and traces.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// Gateway groups (backends for the edge; dispatcher sets for the core).
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// The edge role. Only with `role: edge`; defaults apply when absent.
    #[serde(default)]
    pub edge: Option<EdgeConfig>,
    /// The packet filter (XDP, or the same classifier in user space). Only
    /// with `role: edge`; defaults apply when absent.
    #[serde(default)]
    pub xdp: Option<XdpConfig>,
    /// The relay between edge instances (QUIC, docs/relay.md). Only with
    /// `role: edge`; without it, a message for a stream flow held by
    /// another instance is answered 430.
    #[serde(default)]
    pub relay: Option<relay::RelayConfig>,
    /// The registrar. Only with `role: core`; optional.
    #[serde(default)]
    pub registrar: Option<RegistrarConfig>,
    /// The routing script. Required with `role: core`.
    #[serde(default)]
    pub script: Option<ScriptConfig>,
    /// Digest authentication. Only with `role: core`; optional.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Name resolution. Optional.
    #[serde(default)]
    pub dns: DnsConfig,
    /// SIPhon's spelling of `telemetry.log` (level, format, file). Give one
    /// of the two.
    #[serde(default)]
    pub log: Option<LogConfig>,
    /// SIPhon's `security:`, mapped onto the packet filter.
    #[serde(default)]
    pub security: Option<SecurityConfig>,
    /// SIPhon's `nat:`.
    #[serde(default)]
    pub nat: Option<NatConfig>,
    /// SIPhon's named caches for scripts (`cache.fetch(name, key)`).
    #[serde(default)]
    pub cache: Option<Vec<CacheConfig>>,
    #[serde(default)]
    pub b2bua: Option<serde_yaml::Value>,
    #[serde(default)]
    pub cdr: Option<serde_yaml::Value>,
    #[serde(default)]
    pub control: Option<serde_yaml::Value>,
    #[serde(default)]
    pub diameter: Option<serde_yaml::Value>,
    #[serde(default)]
    pub dialog: Option<serde_yaml::Value>,
    #[serde(default)]
    pub extensions: Option<serde_yaml::Value>,
    #[serde(default)]
    pub ipsec: Option<serde_yaml::Value>,
    #[serde(default)]
    pub isc: Option<serde_yaml::Value>,
    #[serde(default)]
    pub lawful_intercept: Option<serde_yaml::Value>,
    #[serde(default)]
    pub lcr: Option<serde_yaml::Value>,
    #[serde(default)]
    pub media: Option<serde_yaml::Value>,
    #[serde(default)]
    pub memory: Option<serde_yaml::Value>,
    /// SIPhon's named number policies (`request.rewrite_identities(name)`),
    /// by name. Only with `role: core`.
    #[serde(default)]
    pub number_policies: Option<BTreeMap<String, NumberPolicyConfig>>,
    /// SIPhon's home numbering plan (`numbers.parse`,
    /// `rewrite_identities`). Only with `role: core`; defaults apply when
    /// absent.
    #[serde(default)]
    pub numbering: Option<NumberingConfig>,
    #[serde(default)]
    pub registrant: Option<serde_yaml::Value>,
    #[serde(default)]
    pub rf: Option<serde_yaml::Value>,
    #[serde(default)]
    pub ro: Option<serde_yaml::Value>,
    #[serde(default)]
    pub sbi: Option<serde_yaml::Value>,
    #[serde(default)]
    pub session_timer: Option<serde_yaml::Value>,
    #[serde(default)]
    pub srs: Option<serde_yaml::Value>,
    #[serde(default)]
    pub stir: Option<serde_yaml::Value>,
    #[serde(default)]
    pub subscribe_state: Option<serde_yaml::Value>,
    #[serde(default)]
    pub tracing: Option<serde_yaml::Value>,
    #[serde(default)]
    pub transaction: Option<serde_yaml::Value>,
}

/// `role:`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Stateless anycast edge: seals and opens routing tokens.
    #[default]
    Edge,
    /// Stateful scripted proxy and registrar behind the edges.
    Core,
}

impl Role {
    /// `edge` or `core`, as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Edge => "edge",
            Role::Core => "core",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Config {
    /// The log settings: `log:` (SIPhon) or `telemetry.log`.
    pub fn log_config(&self) -> &LogConfig {
        self.log.as_ref().unwrap_or(&self.telemetry.log)
    }

    /// Settles what the file leaves implicit: the role.
    pub(crate) fn settle(&mut self) {
        self.role = match self.role_given {
            Some(role) => role,
            None if self.script.is_some() => Role::Core,
            None => Role::Edge,
        };
    }

    /// Whether `role:` was written in the file.
    pub fn role_given(&self) -> bool {
        self.role_given.is_some()
    }

    /// The SIPhon sections of this file that anysip does not serve.
    pub fn unserved_sections(&self) -> Vec<&'static str> {
        let present = [
            self.b2bua.is_some(),
            self.cdr.is_some(),
            self.control.is_some(),
            self.diameter.is_some(),
            self.dialog.is_some(),
            self.extensions.is_some(),
            self.ipsec.is_some(),
            self.isc.is_some(),
            self.lawful_intercept.is_some(),
            self.lcr.is_some(),
            self.media.is_some(),
            self.memory.is_some(),
            self.registrant.is_some(),
            self.rf.is_some(),
            self.ro.is_some(),
            self.sbi.is_some(),
            self.session_timer.is_some(),
            self.srs.is_some(),
            self.stir.is_some(),
            self.subscribe_state.is_some(),
            self.tracing.is_some(),
            self.transaction.is_some(),
        ];
        UNSERVED_SECTIONS
            .iter()
            .zip(present)
            .filter_map(|(name, set)| set.then_some(*name))
            .collect()
    }

    /// The home numbering plan and the named number policies, resolved
    /// (`numbering:` defaults when absent).
    pub fn number_registry(&self) -> numbers::Registry {
        let numbering = self.numbering.clone().unwrap_or_default();
        let empty = BTreeMap::new();
        numbers::config::registry(&numbering, self.number_policies.as_ref().unwrap_or(&empty))
    }

    /// The gateway group called `name`.
    pub fn gateway_group(&self, name: &str) -> Option<&GroupConfig> {
        self.gateway.groups.iter().find(|g| g.name == name)
    }

    /// The edge section, with its defaults when the file has none.
    ///
    /// Meaningful for `role: edge` only.
    pub fn edge_or_default(&self) -> EdgeConfig {
        self.edge.clone().unwrap_or_default()
    }

    /// Every file the configuration names, with its key path, so that
    /// `anysip check` can verify that they exist. Validation does not look
    /// at the file system.
    pub fn referenced_files(&self) -> Vec<(String, &std::path::Path)> {
        let mut files = Vec::new();
        if let Some(tls) = &self.tls {
            if let Some(cert) = &tls.cert {
                files.push(("tls.cert".to_owned(), cert.as_path()));
            }
            if let Some(key) = &tls.key {
                files.push(("tls.key".to_owned(), key.as_path()));
            }
            if let Some(ca) = &tls.client_ca {
                files.push(("tls.client_ca".to_owned(), ca.as_path()));
            }
            for (i, extra) in tls.certificates.iter().enumerate() {
                files.push((
                    format!("tls.certificates[{i}].certificate"),
                    extra.certificate.as_path(),
                ));
                files.push((
                    format!("tls.certificates[{i}].private_key"),
                    extra.private_key.as_path(),
                ));
            }
        }
        if let Some(edge) = &self.edge {
            if let Some(keys) = &edge.keys {
                if let Some(file) = &keys.file {
                    files.push(("edge.keys.file".to_owned(), file.as_path()));
                }
            }
        }
        if let Some(r) = &self.relay {
            files.push(("relay.ca".to_owned(), r.ca.as_path()));
            files.push(("relay.cert".to_owned(), r.cert.as_path()));
            files.push(("relay.key".to_owned(), r.key.as_path()));
        }
        if let Some(script) = &self.script {
            files.push(("script.path".to_owned(), script.path.as_path()));
        }
        if let Some(auth) = &self.auth {
            if let Some(users) = &auth.users_file {
                files.push(("auth.users_file".to_owned(), users.as_path()));
            }
        }
        files
    }
}
