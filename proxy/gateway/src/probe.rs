//! The sans-IO OPTIONS prober: when to probe each destination and what the
//! results mean. The caller builds and sends the OPTIONS and reports back.
//!
//! Each destination of a group with `probe.enabled` is probed every
//! `interval_secs`, the first time when the group is built, with at most one
//! probe outstanding. A probe succeeds when a final response with a healthy
//! status arrives (see [`ProbeConfig::is_healthy_status`]); it fails on any
//! other final status, when the caller reports it unreachable, or when
//! `timeout_secs` pass without a final response. Provisional responses are
//! ignored. `failure_threshold` consecutive failures take a destination
//! down, `success_threshold` consecutive successes bring it back.
//!
//! [`ProbeConfig::is_healthy_status`]: crate::ProbeConfig::is_healthy_status

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Transport;
use crate::select::DestId;

/// Names one probe, from [`Gateways::poll_probe`] to
/// [`Gateways::handle_probe_result`]. Unique within a [`Gateways`].
///
/// [`Gateways`]: crate::Gateways
/// [`Gateways::poll_probe`]: crate::Gateways::poll_probe
/// [`Gateways::handle_probe_result`]: crate::Gateways::handle_probe_result
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ProbeId(pub u64);

/// An OPTIONS the caller should send now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeRequest {
    /// Report the result under this id.
    pub probe_id: ProbeId,
    /// The group of the destination.
    pub group: String,
    /// The destination within the group.
    pub dest: DestId,
    /// The destination's uri (the Request-URI of the OPTIONS).
    pub uri: String,
    /// Where to send it.
    pub address: SocketAddr,
    /// How to send it.
    pub transport: Transport,
    /// The probe fails if no final response is reported by then.
    pub deadline: Instant,
    /// The user part of the OPTIONS' From URI (`probe.from_user`), if set.
    pub from_user: Option<String>,
    /// The host part of the OPTIONS' From URI (`probe.from_domain`), if set.
    pub from_domain: Option<String>,
}

/// Why a probe failed without a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeFailure {
    /// No final response in time (the prober's own timeout, or the
    /// transaction layer's).
    Timeout,
    /// It could not be sent: connection refused, ICMP unreachable, TLS
    /// handshake failure...
    Unreachable,
}

/// What the caller reports for a probe: the final status code received, or
/// why there is none.
pub type ProbeResult = Result<u16, ProbeFailure>;

/// The last outcome of a destination's probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Status(u16),
    Failed(ProbeFailure),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    pub(crate) id: ProbeId,
    pub(crate) sent_at: Instant,
    pub(crate) deadline: Instant,
}

/// The probing bookkeeping of one destination.
#[derive(Debug, Clone)]
pub(crate) struct ProbeSlot {
    pub(crate) next_at: Instant,
    pub(crate) in_flight: Option<InFlight>,
    pub(crate) last: Option<Outcome>,
    pub(crate) last_rtt: Option<Duration>,
    pub(crate) sent: u64,
    pub(crate) failed: u64,
}

impl ProbeSlot {
    pub(crate) fn new(now: Instant) -> Self {
        ProbeSlot {
            next_at: now,
            in_flight: None,
            last: None,
            last_rtt: None,
            sent: 0,
            failed: 0,
        }
    }

    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.in_flight.is_none() && self.next_at <= now
    }

    /// Records that probe `id` is sent at `now`, and schedules the next one
    /// `interval` after this one was due (or after `now` if the caller is
    /// more than an interval late), so that probes do not drift.
    pub(crate) fn start(
        &mut self,
        id: ProbeId,
        now: Instant,
        interval: Duration,
        timeout: Duration,
    ) {
        let deadline = now + timeout;
        self.in_flight = Some(InFlight {
            id,
            sent_at: now,
            deadline,
        });
        self.sent += 1;
        let next = self.next_at + interval;
        self.next_at = if next <= now { now + interval } else { next };
    }

    /// The earliest instant at which this slot needs attention.
    pub(crate) fn wake_at(&self) -> Instant {
        match self.in_flight {
            Some(f) => f.deadline.min(self.next_at),
            None => self.next_at,
        }
    }
}
