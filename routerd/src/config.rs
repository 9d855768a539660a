//! The YAML configuration (`routerd run -c FILE`).
//!
//! Every struct rejects unknown keys, every optional key has an explicit
//! default, and every error names the file, the key path and what is wrong.
//! `deploy/examples/routerd.yaml` is the annotated example.

mod types;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::bird::is_symbol;
use crate::machine::{CheckTiming, ServiceSpec, ShutdownMode};
use crate::Error;

pub use types::{HttpUrl, Prefix};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How to reach BIRD.
    #[serde(default)]
    pub bird: BirdConfig,
    /// The admin API (status, drain, metrics).
    #[serde(default)]
    pub admin: AdminConfig,
    /// How often the wanted state is re-asserted in BIRD and the address and
    /// disable file are looked at, in milliseconds. Default 1000.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// While this file exists every service drains. Default: none.
    #[serde(default)]
    pub disable_file: Option<PathBuf>,
    /// What SIGTERM/SIGINT does to the routes: `withdraw` (default) or `drain`.
    #[serde(default)]
    pub on_shutdown: OnShutdown,
    /// The services and their prefixes. At least one.
    pub services: Vec<ServiceConfig>,
}

/// `bird:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BirdConfig {
    /// BIRD's control socket. Default `/run/bird/bird.ctl`.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// Time limit for one command, connecting included, in ms. Default 2000.
    #[serde(default = "default_bird_timeout_ms")]
    pub timeout_ms: u64,
}

impl Default for BirdConfig {
    fn default() -> Self {
        BirdConfig {
            socket: default_socket(),
            timeout_ms: default_bird_timeout_ms(),
        }
    }
}

/// `admin:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Listen address of the admin API. Default `127.0.0.1:9180`.
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
    /// A second listener serving only `GET /metrics`, for a Prometheus
    /// that cannot reach the admin API's loopback address (Kubernetes).
    /// Read-only: nothing there can drain the node. Default none.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: default_admin_listen(),
            metrics_listen: None,
        }
    }
}

/// `on_shutdown:`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnShutdown {
    /// Withdraw at once.
    #[default]
    Withdraw,
    /// Drain for each service's grace period, then withdraw.
    Drain,
}

impl From<OnShutdown> for ShutdownMode {
    fn from(o: OnShutdown) -> ShutdownMode {
        match o {
            OnShutdown::Withdraw => ShutdownMode::Withdraw,
            OnShutdown::Drain => ShutdownMode::Drain,
        }
    }
}

/// One entry of `services:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Name, used in logs, status and metrics. Unique.
    pub name: String,
    /// Anycast addresses that must be on a local interface for the service
    /// to be up. At least one.
    pub addresses: Vec<IpAddr>,
    /// How long a drain announces with the graceful-shutdown community
    /// before withdrawing, in seconds. Default 30.
    #[serde(default = "default_grace_secs")]
    pub grace_secs: u64,
    /// The prefixes this service announces. At least one.
    pub prefixes: Vec<PrefixConfig>,
    /// The checks; all must pass. At least one.
    pub checks: Vec<CheckConfig>,
}

/// One entry of `prefixes:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixConfig {
    /// The prefix, e.g. `192.0.2.1/32`.
    pub prefix: Prefix,
    /// The BIRD static protocol that announces it normally.
    pub announce_protocol: String,
    /// The BIRD static protocol that announces it while draining.
    pub drain_protocol: String,
}

/// One entry of `checks:`: timing plus exactly one of `http`,
/// `sip_options`, `command`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Name, used in logs, status and metrics. Unique within the service.
    pub name: String,
    /// Time between runs when settled, in ms. Default 1000.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// Time between runs while a change is pending, in ms. Default 250.
    #[serde(default = "default_fast_interval_ms")]
    pub fast_interval_ms: u64,
    /// A run taking longer fails, in ms. Default 500.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Consecutive successes to go up. Default 3.
    #[serde(default = "default_rise")]
    pub rise: u32,
    /// Consecutive failures to go down. Default 2.
    #[serde(default = "default_fall")]
    pub fall: u32,
    /// HTTP GET; a 2xx status is healthy.
    #[serde(default)]
    pub http: Option<HttpCheckConfig>,
    /// SIP OPTIONS; a status in `healthy_codes` is healthy.
    #[serde(default)]
    pub sip_options: Option<SipCheckConfig>,
    /// A command; exit status 0 is healthy.
    #[serde(default)]
    pub command: Option<CommandCheckConfig>,
}

/// `http:` of a check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheckConfig {
    /// `http://host:port/path` (plain HTTP; host is an IP address or name).
    pub url: HttpUrl,
}

/// `sip_options:` of a check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipCheckConfig {
    /// Where to send the OPTIONS.
    pub target: SocketAddr,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    pub transport: SipTransport,
    /// Status codes that count as healthy. Default `[200]`.
    #[serde(default = "default_healthy_codes")]
    pub healthy_codes: Vec<u16>,
}

/// `sip_options.transport`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SipTransport {
    /// UDP.
    #[default]
    Udp,
    /// TCP.
    Tcp,
}

/// `command:` of a check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandCheckConfig {
    /// Program and arguments (no shell). At least the program.
    pub argv: Vec<String>,
}

/// What a check does, once exactly one kind has been chosen.
#[derive(Debug, Clone)]
pub enum CheckKind {
    /// See [`HttpCheckConfig`].
    Http(HttpCheckConfig),
    /// See [`SipCheckConfig`].
    SipOptions(SipCheckConfig),
    /// See [`CommandCheckConfig`].
    Command(CommandCheckConfig),
}

impl CheckConfig {
    /// The kind of the check. Validated configurations have exactly one.
    pub fn kind(&self) -> Option<CheckKind> {
        match (&self.http, &self.sip_options, &self.command) {
            (Some(h), None, None) => Some(CheckKind::Http(h.clone())),
            (None, Some(s), None) => Some(CheckKind::SipOptions(s.clone())),
            (None, None, Some(c)) => Some(CheckKind::Command(c.clone())),
            _ => None,
        }
    }

    /// The per-run time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The timing the state machine needs.
    pub fn timing(&self) -> CheckTiming {
        CheckTiming {
            interval: Duration::from_millis(self.interval_ms),
            fast_interval: Duration::from_millis(self.fast_interval_ms),
            rise: self.rise,
            fall: self.fall,
        }
    }
}

impl Config {
    /// Reads, parses and validates `path`.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
            file: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and validates YAML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, Error> {
        let de = serde_yaml::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let mut message = e.into_inner().to_string();
            // serde_yaml starts nested errors with its own (shorter) path.
            if let Some((head, rest)) = message.split_once(": ") {
                if !head.contains(' ') && path.starts_with(head) {
                    message = rest.to_owned();
                }
            }
            Error::Config {
                file: file.to_owned(),
                path,
                message,
            }
        })?;
        config.validate().map_err(|(path, message)| Error::Config {
            file: file.to_owned(),
            path,
            message,
        })?;
        Ok(config)
    }

    /// The machine's view of the services.
    pub fn service_specs(&self) -> Vec<ServiceSpec> {
        self.services
            .iter()
            .map(|s| ServiceSpec {
                grace: Duration::from_secs(s.grace_secs),
                checks: s.checks.iter().map(CheckConfig::timing).collect(),
            })
            .collect()
    }

    /// The re-assert period.
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms)
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let err = |path: String, msg: &str| Err((path, msg.to_owned()));
        if self.tick_ms == 0 {
            return err("tick_ms".into(), "must be at least 1");
        }
        if self.bird.timeout_ms == 0 {
            return err("bird.timeout_ms".into(), "must be at least 1");
        }
        if self.services.is_empty() {
            return err("services".into(), "at least one service is needed");
        }
        let mut names = HashSet::new();
        let mut protocols = HashSet::new();
        for (i, s) in self.services.iter().enumerate() {
            let at = format!("services[{i}]");
            if s.name.is_empty() {
                return err(format!("{at}.name"), "must not be empty");
            }
            if !names.insert(s.name.as_str()) {
                return err(format!("{at}.name"), "another service has this name");
            }
            if s.addresses.is_empty() {
                return err(format!("{at}.addresses"), "at least one address is needed");
            }
            if s.prefixes.is_empty() {
                return err(format!("{at}.prefixes"), "at least one prefix is needed");
            }
            for (j, p) in s.prefixes.iter().enumerate() {
                let at = format!("{at}.prefixes[{j}]");
                for (key, proto) in [
                    ("announce_protocol", &p.announce_protocol),
                    ("drain_protocol", &p.drain_protocol),
                ] {
                    if !is_symbol(proto) {
                        return err(
                            format!("{at}.{key}"),
                            "not a BIRD protocol name (letters, digits, _; not starting with a digit)",
                        );
                    }
                    if !protocols.insert(proto.as_str()) {
                        return err(
                            format!("{at}.{key}"),
                            "this BIRD protocol is already used by another prefix",
                        );
                    }
                }
            }
            if s.checks.is_empty() {
                return err(format!("{at}.checks"), "at least one check is needed");
            }
            let mut check_names = HashSet::new();
            for (j, c) in s.checks.iter().enumerate() {
                let at = format!("{at}.checks[{j}]");
                if c.name.is_empty() {
                    return err(format!("{at}.name"), "must not be empty");
                }
                if !check_names.insert(c.name.as_str()) {
                    return err(
                        format!("{at}.name"),
                        "another check of this service has this name",
                    );
                }
                for (key, v) in [
                    ("interval_ms", c.interval_ms),
                    ("fast_interval_ms", c.fast_interval_ms),
                    ("timeout_ms", c.timeout_ms),
                    ("rise", u64::from(c.rise)),
                    ("fall", u64::from(c.fall)),
                ] {
                    if v == 0 {
                        return err(format!("{at}.{key}"), "must be at least 1");
                    }
                }
                if c.fast_interval_ms > c.interval_ms {
                    return err(
                        format!("{at}.fast_interval_ms"),
                        "must not be longer than interval_ms",
                    );
                }
                match c.kind() {
                    None => {
                        return err(at, "exactly one of http, sip_options, command must be set");
                    }
                    Some(CheckKind::Command(cmd)) if cmd.argv.is_empty() => {
                        return err(format!("{at}.command.argv"), "must name a program");
                    }
                    Some(CheckKind::SipOptions(sip)) if sip.healthy_codes.is_empty() => {
                        return err(
                            format!("{at}.sip_options.healthy_codes"),
                            "at least one code is needed",
                        );
                    }
                    Some(CheckKind::SipOptions(sip))
                        if sip.healthy_codes.iter().any(|c| !(100..700).contains(c)) =>
                    {
                        return err(
                            format!("{at}.sip_options.healthy_codes"),
                            "SIP status codes are 100 to 699",
                        );
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }
}

fn default_tick_ms() -> u64 {
    1000
}
fn default_socket() -> PathBuf {
    PathBuf::from("/run/bird/bird.ctl")
}
fn default_bird_timeout_ms() -> u64 {
    2000
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9180))
}
fn default_grace_secs() -> u64 {
    30
}
fn default_interval_ms() -> u64 {
    1000
}
fn default_fast_interval_ms() -> u64 {
    250
}
fn default_timeout_ms() -> u64 {
    500
}
fn default_rise() -> u32 {
    3
}
fn default_fall() -> u32 {
    2
}
fn default_healthy_codes() -> Vec<u16> {
    vec![200]
}

#[cfg(test)]
mod tests;
