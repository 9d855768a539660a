//! The daemon's state as the admin API shows it (`GET /status`, `/metrics`).
//! The engine updates it; the admin API reads copies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything `GET /status` returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    /// One entry per configured service, in configuration order.
    pub services: Vec<ServiceStatus>,
    /// Who is asking for maintenance.
    pub maintenance: MaintenanceStatus,
    /// The BIRD connection.
    pub bird: BirdStatus,
}

/// Maintenance sources.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MaintenanceStatus {
    /// The disable file exists.
    pub disable_file: bool,
    /// `POST /drain` is in force.
    pub admin: bool,
    /// A shutdown is under way.
    pub shutting_down: bool,
}

/// BIRD connection status and counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BirdStatus {
    /// The control socket path.
    pub socket: String,
    /// Whether the last exchange with BIRD worked.
    pub connected: bool,
    /// The last error, if the last exchange failed.
    pub last_error: Option<String>,
    /// Commands sent.
    pub commands_total: u64,
    /// Failed exchanges (connect, I/O, 8xxx/9xxx replies, missing protocols).
    pub errors_total: u64,
    /// Times a protocol was found in the wrong state although the wanted
    /// state had not changed (e.g. after `birdc configure`) and was fixed.
    pub corrections_total: u64,
}

/// One service.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// Its name.
    pub name: String,
    /// Its state (`init`, `rising`, `up`, `falling`, `down`, `draining`, `withdrawn`).
    pub state: String,
    /// The wanted action for its prefixes (`announce`, `announce-drain`, `withdraw`).
    pub wanted: String,
    /// Whether its anycast addresses are all on local interfaces.
    pub address_present: bool,
    /// Transitions so far, by the state entered.
    pub transitions: BTreeMap<String, u64>,
    /// Its checks.
    pub checks: Vec<CheckStatus>,
    /// Its prefixes.
    pub prefixes: Vec<PrefixStatus>,
}

/// One check.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CheckStatus {
    /// Its name.
    pub name: String,
    /// `http`, `sip_options` or `command`.
    pub kind: String,
    /// `init`, `rising`, `up`, `falling` or `down`.
    pub health: String,
    /// Whether the last run passed (none before the first).
    pub last_ok: Option<bool>,
    /// Why the last run failed.
    pub last_error: Option<String>,
    /// How long the last run took, in seconds.
    pub last_latency_seconds: Option<f64>,
    /// Runs so far.
    pub runs_total: u64,
    /// Failed runs so far.
    pub failures_total: u64,
    /// Sum of run durations, in seconds.
    pub latency_seconds_sum: f64,
}

/// One prefix.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PrefixStatus {
    /// The prefix.
    pub prefix: String,
    /// Its announce protocol in BIRD.
    pub announce_protocol: String,
    /// Its drain protocol in BIRD.
    pub drain_protocol: String,
    /// The wanted action.
    pub wanted: String,
    /// The announce protocol's state last seen in BIRD.
    pub announce_state: Option<String>,
    /// The drain protocol's state last seen in BIRD.
    pub drain_state: Option<String>,
}
