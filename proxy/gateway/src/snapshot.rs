//! A serialisable picture of every group for the admin API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use serde::Serialize;

use crate::config::{Algorithm, HashKey, Transport};
use crate::group::{GatewayGroup, Member};
use crate::health::{DownReason, State};
use crate::probe::{Outcome, ProbeFailure};
use crate::select::DestId;
use crate::Gateways;

/// Every group (`GET /admin/gateways`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// In configuration order.
    pub groups: Vec<GroupSnapshot>,
}

/// One group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSnapshot {
    /// Its name.
    pub name: String,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// Its hash key.
    pub hash_key: HashKey,
    /// Whether it probes.
    pub probe_enabled: bool,
    /// Destinations up.
    pub healthy: usize,
    /// Destinations configured.
    pub total: usize,
    /// Health events dropped because nobody polled them.
    pub events_dropped: u64,
    /// Its destinations, in configuration order.
    pub destinations: Vec<DestinationSnapshot>,
}

/// One destination.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DestinationSnapshot {
    /// Its group.
    pub group: String,
    /// Its index in the group.
    pub id: DestId,
    /// Its uri.
    pub uri: String,
    /// Where requests go.
    pub address: SocketAddr,
    /// How.
    pub transport: Transport,
    /// Its weight.
    pub weight: u32,
    /// Its tier (lower first).
    pub priority: u32,
    /// Its attributes.
    pub attrs: BTreeMap<String, String>,
    /// `up` or `down`.
    pub state: State,
    /// Why it is down (`admin` wins over `probe`); `null` when up.
    pub reason: Option<DownReason>,
    /// Marked down by the admin API.
    pub admin_down: bool,
    /// What the probes alone say.
    pub probe_state: State,
    /// Seconds since `state` last changed (or since start).
    pub state_secs: u64,
    /// Failed probes in a row.
    pub consecutive_failures: u32,
    /// Successful probes in a row.
    pub consecutive_successes: u32,
    /// Status of the last probe answered.
    pub last_probe_status: Option<u16>,
    /// Failure of the last probe, when it got no response.
    pub last_probe_error: Option<ProbeFailure>,
    /// Round-trip time of the last probe answered, in milliseconds.
    pub last_probe_rtt_ms: Option<f64>,
    /// Probes sent.
    pub probes_sent: u64,
    /// Probes failed (no response, or an unhealthy status).
    pub probes_failed: u64,
    /// Times chosen by `select`.
    pub selections: u64,
    /// Seconds since last chosen.
    pub last_selected_secs: Option<u64>,
}

impl Gateways {
    /// A picture of every group at `now`.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        Snapshot {
            groups: self.groups().map(|g| g.snapshot(now)).collect(),
        }
    }
}

impl GatewayGroup {
    /// A picture of this group at `now`.
    pub fn snapshot(&self, now: Instant) -> GroupSnapshot {
        GroupSnapshot {
            name: self.name.clone(),
            algorithm: self.algorithm,
            hash_key: self.hash_key,
            probe_enabled: self.probe.enabled,
            healthy: self.healthy_count(),
            total: self.members.len(),
            events_dropped: self.events_dropped,
            destinations: self
                .members
                .iter()
                .map(|m| member_snapshot(self, m, now))
                .collect(),
        }
    }
}

fn member_snapshot(g: &GatewayGroup, m: &Member, now: Instant) -> DestinationSnapshot {
    let i = m.dest.id.index();
    let (status, error) = match m.probe.last {
        Some(Outcome::Status(s)) => (Some(s), None),
        Some(Outcome::Failed(f)) => (None, Some(f)),
        None => (None, None),
    };
    DestinationSnapshot {
        group: g.name.clone(),
        id: m.dest.id,
        uri: m.dest.uri.clone(),
        address: m.dest.address,
        transport: m.dest.transport,
        weight: m.dest.weight,
        priority: m.dest.priority,
        attrs: m.dest.attrs.clone(),
        state: m.health.state(),
        reason: m.health.reason(),
        admin_down: m.health.admin_down,
        probe_state: if m.health.probe_up {
            State::Up
        } else {
            State::Down
        },
        state_secs: now.saturating_duration_since(m.health.since).as_secs(),
        consecutive_failures: m.health.consecutive_failures,
        consecutive_successes: m.health.consecutive_successes,
        last_probe_status: status,
        last_probe_error: error,
        last_probe_rtt_ms: m.probe.last_rtt.map(|d| d.as_secs_f64() * 1000.0),
        probes_sent: m.probe.sent,
        probes_failed: m.probe.failed,
        selections: g.usage.selections(i),
        last_selected_secs: g
            .usage
            .last(i)
            .map(|t| now.saturating_duration_since(t).as_secs()),
    }
}
