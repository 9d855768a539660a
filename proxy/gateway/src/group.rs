//! One gateway group: its members, their health and the selection state.

mod probing;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{Algorithm, GroupConfig, HashKey, ProbeConfig};
use crate::health::{DownReason, GatewayEvent, Health, State};
use crate::probe::ProbeSlot;
use crate::select::{in_best_tier, Candidate, DestId, Destination, GroupView, Selector, Usage};
use crate::{hash, Error};

/// Events kept for [`GatewayGroup::poll_event`] before the oldest are dropped.
pub const MAX_QUEUED_EVENTS: usize = 1024;

/// A gateway group: members, health, selection.
///
/// Built from a [`GroupConfig`]; usually reached through
/// [`Gateways`](crate::Gateways), which also drives the prober.
#[derive(Debug, Clone)]
pub struct GatewayGroup {
    pub(crate) name: String,
    pub(crate) algorithm: Algorithm,
    pub(crate) hash_key: HashKey,
    pub(crate) probe: ProbeConfig,
    pub(crate) members: Vec<Member>,
    candidates: Vec<Candidate>,
    selector: Selector,
    events: VecDeque<GatewayEvent>,
    pub(crate) events_dropped: u64,
    /// Choices per member, shared with the group's views.
    pub(crate) usage: Arc<Usage>,
}

/// A destination and its runtime state.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) dest: Destination,
    pub(crate) health: Health,
    pub(crate) probe: ProbeSlot,
}

impl GatewayGroup {
    /// Validates `config` (error paths start with `gateway.groups[name=NAME]`)
    /// and builds the group at `now`: every destination up, first probes due
    /// at `now`.
    pub fn new(config: &GroupConfig, now: Instant) -> Result<Self, Error> {
        config.validate_at(&format!("gateway.groups[name={}]", config.name))?;
        Ok(Self::build(config, now))
    }

    /// Builds from an already validated config.
    pub(crate) fn build(config: &GroupConfig, now: Instant) -> Self {
        let members: Vec<Member> = config
            .destinations
            .iter()
            .enumerate()
            .map(|(i, d)| Member {
                dest: Destination {
                    id: DestId(u32::try_from(i).unwrap_or(u32::MAX)),
                    uri: d.uri.clone(),
                    address: d.address,
                    transport: d.transport(),
                    weight: d.weight,
                    priority: d.priority,
                    attrs: d.attrs.clone(),
                },
                health: Health::new(now),
                probe: ProbeSlot::new(now),
            })
            .collect();
        let candidates: Vec<Candidate> = members
            .iter()
            .map(|m| Candidate {
                weight: m.dest.weight,
                hash: hash::stable_hash(m.dest.uri.as_bytes()),
                priority: m.dest.priority,
            })
            .collect();
        GatewayGroup {
            name: config.name.clone(),
            algorithm: config.algorithm,
            hash_key: config.hash_key,
            probe: config.probe.clone(),
            selector: Selector::new(config.algorithm, &candidates),
            candidates,
            members,
            events: VecDeque::new(),
            events_dropped: 0,
            usage: Arc::new(Usage::new(config.destinations.len(), now)),
        }
    }

    /// Takes over the runtime state of the destinations of `old` that are
    /// still configured (same uri, address and transport), and its queued
    /// events. When probing is now disabled, a destination that probes held
    /// down comes up (with an event).
    pub(crate) fn carry_over(&mut self, old: &mut GatewayGroup, now: Instant) {
        let probing = self.probe.enabled;
        self.events = std::mem::take(&mut old.events);
        self.events_dropped = old.events_dropped;
        let mut came_up = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            let Some(o) = old.members.iter().find(|o| {
                o.dest.uri == m.dest.uri
                    && o.dest.address == m.dest.address
                    && o.dest.transport == m.dest.transport
            }) else {
                continue;
            };
            m.health = o.health.clone();
            m.probe = o.probe.clone();
            self.usage.set(
                i,
                old.usage.selections(o.dest.id.index()),
                old.usage.last(o.dest.id.index()),
            );
            if !probing {
                // Nothing would ever bring it back up.
                m.probe.in_flight = None;
                if m.health.apply(now, |h| {
                    h.probe_up = true;
                    h.consecutive_failures = 0;
                    h.consecutive_successes = 0;
                }) {
                    came_up.push(i);
                }
            }
        }
        for i in came_up {
            self.emit(i);
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// What the caller should hash for [`Algorithm::Hash`].
    pub fn hash_key(&self) -> HashKey {
        self.hash_key
    }

    /// Its probe settings.
    pub fn probe_config(&self) -> &ProbeConfig {
        &self.probe
    }

    /// All destinations, in configuration order, whatever their health.
    pub fn destinations(&self) -> impl Iterator<Item = &Destination> + '_ {
        self.members.iter().map(|m| &m.dest)
    }

    /// The destination `id`.
    pub fn destination(&self, id: DestId) -> Option<&Destination> {
        self.members.get(id.index()).map(|m| &m.dest)
    }

    /// The destination whose uri is `name`, or else whose address (as
    /// `ip:port`, `[v6]:port`) is `name`.
    pub fn find(&self, name: &str) -> Option<DestId> {
        let by_uri = self.members.iter().find(|m| m.dest.uri == name);
        let by_addr = || {
            let addr: std::net::SocketAddr = name.parse().ok()?;
            self.members.iter().find(|m| m.dest.address == addr)
        };
        by_uri.or_else(by_addr).map(|m| m.dest.id)
    }

    /// The health of destination `id`.
    pub fn state(&self, id: DestId) -> Option<State> {
        self.members.get(id.index()).map(|m| m.health.state())
    }

    /// Why destination `id` is down (`None` when up or unknown).
    pub fn down_reason(&self, id: DestId) -> Option<DownReason> {
        self.members.get(id.index()).and_then(|m| m.health.reason())
    }

    /// The healthy destinations, in configuration order.
    pub fn all_healthy(&self) -> impl Iterator<Item = &Destination> + '_ {
        self.members
            .iter()
            .filter(|m| m.health.is_up())
            .map(|m| &m.dest)
    }

    /// How many destinations are up.
    pub fn healthy_count(&self) -> usize {
        self.members.iter().filter(|m| m.health.is_up()).count()
    }

    /// Chooses a healthy destination by the group's algorithm, or `None`
    /// when all are down. `key` is the request's [`hash_key`](Self::hash_key)
    /// for [`Algorithm::Hash`] (without one it falls back to weighted) and is
    /// ignored otherwise. Counts the selection.
    pub fn select(&mut self, key: Option<&[u8]>, now: Instant) -> Option<&Destination> {
        self.select_excluding(key, &[], now)
    }

    /// As [`select`](Self::select), never choosing a destination in
    /// `exclude`: the next best for failover (serial retry after a failure).
    /// With [`Algorithm::Hash`] and the same key this walks the key's
    /// rendezvous order, so every instance fails over the same way.
    pub fn select_excluding(
        &mut self,
        key: Option<&[u8]>,
        exclude: &[DestId],
        now: Instant,
    ) -> Option<&Destination> {
        let members = &self.members;
        let eligible = in_best_tier(&self.candidates, |i: usize| {
            members[i].health.is_up() && !exclude.iter().any(|x| x.index() == i)
        });
        let i = self.selector.pick(key, &self.candidates, eligible)?;
        self.usage.record(i, now);
        self.members.get(i).map(|m| &m.dest)
    }

    /// Chooses by rendezvous hashing on `key` whatever the group's
    /// algorithm: the same healthy member for the same key, at every
    /// instance. For requests that must follow another request's choice
    /// without carrying it (a stateless edge's CANCEL and non-2xx ACK).
    pub fn select_sticky(&mut self, key: &[u8], now: Instant) -> Option<&Destination> {
        let members = &self.members;
        let uniform = self
            .candidates
            .windows(2)
            .all(|w| w[0].weight == w[1].weight);
        let eligible = in_best_tier(&self.candidates, |i| members[i].health.is_up());
        let i = crate::select::sticky(key, &self.candidates, uniform, eligible)?;
        self.usage.record(i, now);
        self.members.get(i).map(|m| &m.dest)
    }

    /// The group as it is now, to choose from without `&mut` or a lock
    /// (see [`GroupView`]); health changes after this call need a new view.
    pub fn view(&self) -> GroupView {
        GroupView::new(
            &self.name,
            self.algorithm,
            self.hash_key,
            self.members.iter().map(|m| m.dest.clone()).collect(),
            &self.candidates,
            self.members.iter().map(|m| m.health.is_up()).collect(),
            self.usage.clone(),
        )
    }

    /// Marks destination `id` down by the admin, whatever the probes say,
    /// until [`mark_up`](Self::mark_up). Returns its state afterwards.
    pub fn mark_down(&mut self, id: DestId, now: Instant) -> Result<State, Error> {
        self.admin(id, now, true)
    }

    /// Lifts an admin [`mark_down`](Self::mark_down): the destination is up
    /// again unless the probes hold it down. Returns its state afterwards.
    pub fn mark_up(&mut self, id: DestId, now: Instant) -> Result<State, Error> {
        self.admin(id, now, false)
    }

    fn admin(&mut self, id: DestId, now: Instant, down: bool) -> Result<State, Error> {
        let Some(m) = self.members.get_mut(id.index()) else {
            return Err(Error::UnknownDestination {
                group: self.name.clone(),
                dest: id.0.to_string(),
            });
        };
        let changed = m.health.apply(now, |h| h.admin_down = down);
        let state = m.health.state();
        if changed {
            self.emit(id.index());
        }
        Ok(state)
    }

    /// The next health transition, oldest first.
    pub fn poll_event(&mut self) -> Option<GatewayEvent> {
        self.events.pop_front()
    }

    /// Queues the event for member `i`'s current state.
    pub(crate) fn emit(&mut self, i: usize) {
        let Some(m) = self.members.get(i) else { return };
        let (group, dest, uri) = (self.name.clone(), m.dest.id, m.dest.uri.clone());
        let event = match m.health.reason() {
            None => GatewayEvent::Up { group, dest, uri },
            Some(reason) => GatewayEvent::Down {
                group,
                dest,
                uri,
                reason,
            },
        };
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
            self.events_dropped += 1;
        }
        self.events.push_back(event);
    }
}
