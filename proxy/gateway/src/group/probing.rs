//! The group's side of the prober: due probes, results, timeouts.

use std::time::{Duration, Instant};

use super::GatewayGroup;
use crate::probe::{Outcome, ProbeFailure, ProbeId, ProbeRequest, ProbeResult};

impl GatewayGroup {
    fn interval(&self) -> Duration {
        Duration::from_secs(self.probe.interval_secs)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.probe.timeout_secs)
    }

    /// The first member whose probe is due at `now`.
    pub(crate) fn due_probe(&self, now: Instant) -> Option<usize> {
        if !self.probe.enabled {
            return None;
        }
        self.members.iter().position(|m| m.probe.is_due(now))
    }

    /// Sends (records) probe `id` to member `i`.
    pub(crate) fn start_probe(
        &mut self,
        i: usize,
        id: ProbeId,
        now: Instant,
    ) -> Option<ProbeRequest> {
        let (interval, timeout) = (self.interval(), self.timeout());
        let m = self.members.get_mut(i)?;
        m.probe.start(id, now, interval, timeout);
        Some(ProbeRequest {
            probe_id: id,
            group: self.name.clone(),
            dest: m.dest.id,
            uri: m.dest.uri.clone(),
            address: m.dest.address,
            transport: m.dest.transport,
            deadline: now + timeout,
            from_user: self.probe.from_user.clone(),
            from_domain: self.probe.from_domain.clone(),
        })
    }

    /// The member with probe `id` outstanding.
    pub(crate) fn find_probe(&self, id: ProbeId) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.probe.in_flight.is_some_and(|f| f.id == id))
    }

    /// Accounts for the result of member `i`'s outstanding probe. Returns
    /// `false` if it has none. A provisional status is ignored (the probe
    /// stays outstanding).
    pub(crate) fn probe_result(&mut self, i: usize, result: ProbeResult, now: Instant) -> bool {
        let (fall, rise) = (self.probe.failure_threshold, self.probe.success_threshold);
        let healthy = match result {
            Ok(status) => self.probe.is_healthy_status(status),
            Err(_) => false,
        };
        let Some(m) = self.members.get_mut(i) else {
            return false;
        };
        let Some(flight) = m.probe.in_flight else {
            return false;
        };
        if matches!(result, Ok(100..=199)) {
            return true;
        }
        m.probe.in_flight = None;
        match result {
            Ok(status) => {
                m.probe.last = Some(Outcome::Status(status));
                m.probe.last_rtt = Some(now.saturating_duration_since(flight.sent_at));
            }
            Err(failure) => m.probe.last = Some(Outcome::Failed(failure)),
        }
        if !healthy {
            m.probe.failed += 1;
        }
        let changed = m.health.apply(now, |h| {
            if healthy {
                h.probe_success(rise);
            } else {
                h.probe_failure(fall);
            }
        });
        if changed {
            self.emit(i);
        }
        true
    }

    /// Fails every outstanding probe whose deadline is at or before `now`.
    pub(crate) fn expire_probes(&mut self, now: Instant) {
        for i in 0..self.members.len() {
            let expired = self.members[i]
                .probe
                .in_flight
                .is_some_and(|f| f.deadline <= now);
            if expired {
                self.probe_result(i, Err(ProbeFailure::Timeout), now);
            }
        }
    }

    /// When the prober next needs attention for this group.
    pub(crate) fn probe_wake_at(&self) -> Option<Instant> {
        if !self.probe.enabled {
            return None;
        }
        self.members.iter().map(|m| m.probe.wake_at()).min()
    }
}
