//! The set of gateway groups of a process, and the prober over all of them.

use std::time::Instant;

use crate::config::GatewayConfig;
use crate::group::GatewayGroup;
use crate::health::{GatewayEvent, State};
use crate::probe::{ProbeId, ProbeRequest, ProbeResult};
use crate::select::{DestId, Destination};
use crate::Error;

/// All gateway groups, by name, with the OPTIONS prober.
///
/// The prober is driven like a quinn connection: after any input, call
/// [`poll_probe`](Self::poll_probe) until `None` and send each OPTIONS,
/// drain [`poll_event`](Self::poll_event), and wake at
/// [`poll_timeout`](Self::poll_timeout) to call
/// [`handle_timeout`](Self::handle_timeout).
#[derive(Debug, Clone, Default)]
pub struct Gateways {
    groups: Vec<GatewayGroup>,
    next_probe_id: u64,
    config: GatewayConfig,
}

impl Gateways {
    /// Validates `config` and builds every group at `now` (all destinations
    /// up, first probes due at `now`).
    pub fn new(config: &GatewayConfig, now: Instant) -> Result<Self, Error> {
        config.validate()?;
        Ok(Gateways {
            groups: config
                .groups
                .iter()
                .map(|g| GatewayGroup::build(g, now))
                .collect(),
            next_probe_id: 0,
            config: config.clone(),
        })
    }

    /// The configuration in force (as given to [`new`](Self::new) or the
    /// last [`reload`](Self::reload)).
    pub fn config(&self) -> GatewayConfig {
        self.config.clone()
    }

    /// Replaces the configuration (hot reload) at `now`. A destination that
    /// stays — same group name, uri, address and transport — keeps its
    /// health, admin mark, counters and outstanding probe; new destinations
    /// start up, with a probe due at `now`. Selection state (weighted and
    /// round-robin positions) starts afresh. The change itself emits no
    /// event, except `Up` for a destination that probes held down in a group
    /// whose probing is now disabled. On error nothing changes.
    pub fn reload(&mut self, config: &GatewayConfig, now: Instant) -> Result<(), Error> {
        config.validate()?;
        let mut groups: Vec<GatewayGroup> = config
            .groups
            .iter()
            .map(|g| GatewayGroup::build(g, now))
            .collect();
        for g in &mut groups {
            if let Some(old) = self.groups.iter_mut().find(|o| o.name == g.name) {
                g.carry_over(old, now);
            }
        }
        self.groups = groups;
        self.config = config.clone();
        Ok(())
    }

    /// The group called `name`.
    pub fn group(&self, name: &str) -> Option<&GatewayGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The group called `name`, mutably.
    pub fn group_mut(&mut self, name: &str) -> Option<&mut GatewayGroup> {
        self.groups.iter_mut().find(|g| g.name == name)
    }

    /// All groups, in configuration order.
    pub fn groups(&self) -> impl Iterator<Item = &GatewayGroup> + '_ {
        self.groups.iter()
    }

    fn named(&mut self, name: &str) -> Result<&mut GatewayGroup, Error> {
        self.group_mut(name)
            .ok_or_else(|| Error::UnknownGroup(name.to_owned()))
    }

    /// Chooses a healthy destination of group `group`; see
    /// [`GatewayGroup::select`].
    pub fn select(
        &mut self,
        group: &str,
        key: Option<&[u8]>,
        now: Instant,
    ) -> Result<&Destination, Error> {
        self.select_excluding(group, key, &[], now)
    }

    /// Chooses a healthy destination of group `group` not in `exclude`; see
    /// [`GatewayGroup::select_excluding`].
    pub fn select_excluding(
        &mut self,
        group: &str,
        key: Option<&[u8]>,
        exclude: &[DestId],
        now: Instant,
    ) -> Result<&Destination, Error> {
        let g = self.named(group)?;
        let name = g.name.clone();
        g.select_excluding(key, exclude, now)
            .ok_or(Error::NoHealthyDestination(name))
    }

    /// Admin: marks the destination of `group` whose uri (or address) is
    /// `dest` down until [`mark_up`](Self::mark_up). Returns its state.
    pub fn mark_down(&mut self, group: &str, dest: &str, now: Instant) -> Result<State, Error> {
        let (g, id) = self.resolve(group, dest)?;
        g.mark_down(id, now)
    }

    /// Admin: lifts [`mark_down`](Self::mark_down). Returns the state, which
    /// stays down if the probes say so.
    pub fn mark_up(&mut self, group: &str, dest: &str, now: Instant) -> Result<State, Error> {
        let (g, id) = self.resolve(group, dest)?;
        g.mark_up(id, now)
    }

    fn resolve(&mut self, group: &str, dest: &str) -> Result<(&mut GatewayGroup, DestId), Error> {
        let g = self.named(group)?;
        match g.find(dest) {
            Some(id) => Ok((g, id)),
            None => Err(Error::UnknownDestination {
                group: group.to_owned(),
                dest: dest.to_owned(),
            }),
        }
    }

    /// The next OPTIONS to send at `now`, if any is due. Outstanding probes
    /// past their deadline are failed first (as by
    /// [`handle_timeout`](Self::handle_timeout)). Call until `None`.
    pub fn poll_probe(&mut self, now: Instant) -> Option<ProbeRequest> {
        self.handle_timeout(now);
        let (gi, di) = self
            .groups
            .iter()
            .enumerate()
            .find_map(|(gi, g)| g.due_probe(now).map(|di| (gi, di)))?;
        let id = ProbeId(self.next_probe_id);
        self.next_probe_id += 1;
        self.groups.get_mut(gi)?.start_probe(di, id, now)
    }

    /// Accounts for the result of probe `probe_id`: the final status code of
    /// the response, or why there is none. Returns `false` when the probe is
    /// not outstanding (unknown, already reported, or already timed out):
    /// such a late result is ignored. A provisional (1xx) status is ignored
    /// and the probe stays outstanding.
    pub fn handle_probe_result(
        &mut self,
        probe_id: ProbeId,
        result: ProbeResult,
        now: Instant,
    ) -> bool {
        self.groups
            .iter_mut()
            .any(|g| match g.find_probe(probe_id) {
                Some(i) => g.probe_result(i, result, now),
                None => false,
            })
    }

    /// When [`handle_timeout`](Self::handle_timeout) and
    /// [`poll_probe`](Self::poll_probe) next have something to do: the
    /// earliest probe deadline or next probe. `None` when nothing probes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.groups
            .iter()
            .filter_map(GatewayGroup::probe_wake_at)
            .min()
    }

    /// Fails every outstanding probe whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for g in &mut self.groups {
            g.expire_probes(now);
        }
    }

    /// The next health transition (groups in configuration order, oldest
    /// first within a group).
    pub fn poll_event(&mut self) -> Option<GatewayEvent> {
        self.groups.iter_mut().find_map(GatewayGroup::poll_event)
    }
}
