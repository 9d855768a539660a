//! Health of one destination: what the probes say, what the admin says, and
//! the transitions between up and down that are reported as events.
//!
//! A destination is down when an operator marked it down (`mark_down`),
//! whatever the probes say, until `mark_up`; otherwise it is what the probes
//! say. Probes keep running while a destination is marked down, so that
//! `mark_up` returns it to its real state. A destination starts up
//! (optimistic: traffic flows at start, before the first probe answers).

use std::time::Instant;

use serde::Serialize;

use crate::select::DestId;

/// Up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Selectable.
    Up,
    /// Never selected.
    Down,
}

/// Why a destination is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DownReason {
    /// `failure_threshold` consecutive probes failed.
    Probe,
    /// Marked down by the admin API; overrides the probes.
    Admin,
}

/// A health transition of a destination, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GatewayEvent {
    /// The destination went down.
    Down {
        /// The group.
        group: String,
        /// The destination within the group.
        dest: DestId,
        /// Its uri.
        uri: String,
        /// Why.
        reason: DownReason,
    },
    /// The destination came (back) up.
    Up {
        /// The group.
        group: String,
        /// The destination within the group.
        dest: DestId,
        /// Its uri.
        uri: String,
    },
}

/// The health bookkeeping of one destination.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    pub(crate) admin_down: bool,
    pub(crate) probe_up: bool,
    pub(crate) consecutive_failures: u32,
    pub(crate) consecutive_successes: u32,
    /// When the effective state last changed (or the group was built).
    pub(crate) since: Instant,
}

impl Health {
    pub(crate) fn new(now: Instant) -> Self {
        Health {
            admin_down: false,
            probe_up: true,
            consecutive_failures: 0,
            consecutive_successes: 0,
            since: now,
        }
    }

    pub(crate) fn state(&self) -> State {
        if self.admin_down || !self.probe_up {
            State::Down
        } else {
            State::Up
        }
    }

    pub(crate) fn reason(&self) -> Option<DownReason> {
        if self.admin_down {
            Some(DownReason::Admin)
        } else if !self.probe_up {
            Some(DownReason::Probe)
        } else {
            None
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.state() == State::Up
    }

    /// Applies `change` and reports whether the effective state changed.
    pub(crate) fn apply(&mut self, now: Instant, change: impl FnOnce(&mut Self)) -> bool {
        let before = self.state();
        change(self);
        let changed = self.state() != before;
        if changed {
            self.since = now;
        }
        changed
    }

    /// A successful probe; `rise` successes in a row bring the probe state up.
    pub(crate) fn probe_success(&mut self, rise: u32) {
        self.consecutive_failures = 0;
        self.consecutive_successes = self.consecutive_successes.saturating_add(1);
        if !self.probe_up && self.consecutive_successes >= rise {
            self.probe_up = true;
        }
    }

    /// A failed probe; `fall` failures in a row take the probe state down.
    pub(crate) fn probe_failure(&mut self, fall: u32) {
        self.consecutive_successes = 0;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.probe_up && self.consecutive_failures >= fall {
            self.probe_up = false;
        }
    }
}
