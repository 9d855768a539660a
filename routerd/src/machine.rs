//! The health state machine: sans-IO, deterministic, time passed in.
//!
//! Check results, address presence and maintenance requests go in; what
//! comes out is, for every service, its [`ServiceState`] and the
//! [`PrefixAction`] wanted for each of its prefixes, plus which checks are
//! due and when the machine next needs to be woken. The daemon
//! ([`crate::engine`]) runs the checks and talks to BIRD; this module reads
//! no clock and does no I/O, so it is tested by stepping a virtual clock.
//!
//! Each check climbs INIT → RISING → UP on `rise` consecutive successes and
//! falls UP → FALLING → DOWN on `fall` consecutive failures, and is polled
//! at its fast interval while such a change is pending. A service is up only
//! when every check is up and its anycast address is on a local interface.
//! Maintenance (the disable file, the admin API, a draining shutdown) moves
//! an announced service to DRAINING for its grace period and then to
//! WITHDRAWN.

mod check;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::{Duration, Instant};

pub use check::{CheckHealth, CheckTiming};

/// Where a service is; what [`PrefixAction`] it wants follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceState {
    /// No check has answered yet. Withdrawn.
    Init,
    /// Checks are passing but not yet `rise` times. Withdrawn.
    Rising,
    /// Every check is up and the address is present. Announced.
    Up,
    /// Was up; a check has failed fewer than `fall` times. Still announced.
    Falling,
    /// A check is down or the address is missing. Withdrawn.
    Down,
    /// Maintenance: announced with the graceful-shutdown community until the
    /// grace period ends.
    Draining,
    /// Maintenance: withdrawn after draining (or at once if it was not announced).
    Withdrawn,
}

impl ServiceState {
    /// Every state, in the order metrics list them.
    pub const ALL: [ServiceState; 7] = [
        ServiceState::Init,
        ServiceState::Rising,
        ServiceState::Up,
        ServiceState::Falling,
        ServiceState::Down,
        ServiceState::Draining,
        ServiceState::Withdrawn,
    ];

    /// What a service in this state wants for its prefixes.
    pub fn action(self) -> PrefixAction {
        match self {
            ServiceState::Up | ServiceState::Falling => PrefixAction::Announce,
            ServiceState::Draining => PrefixAction::AnnounceDrain,
            ServiceState::Init
            | ServiceState::Rising
            | ServiceState::Down
            | ServiceState::Withdrawn => PrefixAction::Withdraw,
        }
    }

    /// Lower-case name, as in logs, JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Init => "init",
            ServiceState::Rising => "rising",
            ServiceState::Up => "up",
            ServiceState::Falling => "falling",
            ServiceState::Down => "down",
            ServiceState::Draining => "draining",
            ServiceState::Withdrawn => "withdrawn",
        }
    }
}

impl fmt::Display for ServiceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wanted state of one prefix in BIRD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrefixAction {
    /// Announce protocol on, drain protocol off.
    Announce,
    /// Drain protocol on (graceful-shutdown community, prepends), announce off.
    AnnounceDrain,
    /// Both off.
    Withdraw,
}

impl PrefixAction {
    /// Every action, in the order metrics list them.
    pub const ALL: [PrefixAction; 3] = [
        PrefixAction::Announce,
        PrefixAction::AnnounceDrain,
        PrefixAction::Withdraw,
    ];

    /// Lower-case name, as in logs, JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            PrefixAction::Announce => "announce",
            PrefixAction::AnnounceDrain => "announce-drain",
            PrefixAction::Withdraw => "withdraw",
        }
    }
}

impl fmt::Display for PrefixAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who asked for maintenance. The service drains while any of them does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaintenanceSource {
    /// The disable file exists.
    File,
    /// `POST /drain` on the admin API (`routerd drain`).
    Admin,
}

/// What to do with the routes when the daemon is told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Withdraw every prefix at once.
    Withdraw,
    /// Drain every announced prefix for its grace period, then withdraw.
    Drain,
}

/// Names a check: the service's index and the check's index in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckId {
    /// Index of the service in the configuration.
    pub service: usize,
    /// Index of the check within the service.
    pub check: usize,
}

/// What the machine needs to know about one service.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// How long a drain announces with the graceful-shutdown community.
    pub grace: Duration,
    /// One entry per check, in configuration order.
    pub checks: Vec<CheckTiming>,
}

/// A change of a service's state, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Index of the service.
    pub service: usize,
    /// State before.
    pub from: ServiceState,
    /// State after.
    pub to: ServiceState,
    /// When it happened.
    pub at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Draining { until: Instant },
    Withdrawn,
}

#[derive(Debug)]
struct Service {
    grace: Duration,
    checks: Vec<check::Check>,
    address_present: bool,
    file: bool,
    admin: bool,
    phase: Option<Phase>,
    state: ServiceState,
}

impl Service {
    fn health_state(&self) -> ServiceState {
        if !self.address_present || self.checks.iter().any(|c| c.health() == CheckHealth::Down) {
            return ServiceState::Down;
        }
        let pending = |h| matches!(h, CheckHealth::Init | CheckHealth::Rising(_));
        if self.checks.iter().any(|c| pending(c.health())) {
            if self.checks.iter().all(|c| c.health() == CheckHealth::Init) {
                return ServiceState::Init;
            }
            return ServiceState::Rising;
        }
        if self
            .checks
            .iter()
            .any(|c| matches!(c.health(), CheckHealth::Falling(_)))
        {
            return ServiceState::Falling;
        }
        ServiceState::Up
    }

    fn exposed_state(&self) -> ServiceState {
        match self.phase {
            Some(Phase::Draining { .. }) => ServiceState::Draining,
            Some(Phase::Withdrawn) => ServiceState::Withdrawn,
            None => self.health_state(),
        }
    }

    /// Enters maintenance: drain what is announced, withdraw the rest.
    fn begin_maintenance(&mut self, now: Instant, mode: ShutdownMode) {
        let announced = self.exposed_state().action();
        self.phase = match (self.phase, announced, mode) {
            (Some(Phase::Withdrawn), ..) => Some(Phase::Withdrawn),
            (_, _, ShutdownMode::Withdraw) => Some(Phase::Withdrawn),
            (Some(p @ Phase::Draining { .. }), ..) => Some(p),
            (None, PrefixAction::Announce, ShutdownMode::Drain) => Some(Phase::Draining {
                until: now + self.grace,
            }),
            (None, _, ShutdownMode::Drain) => Some(Phase::Withdrawn),
        };
    }
}

/// The whole daemon's health state. See the module documentation.
#[derive(Debug)]
pub struct Machine {
    services: Vec<Service>,
    shutdown: Option<ShutdownMode>,
    transitions: Vec<Transition>,
}

impl Machine {
    /// A machine in which every check is due at `now` and every address is
    /// taken as absent until [`Machine::set_address_present`] says otherwise.
    pub fn new(specs: &[ServiceSpec], now: Instant) -> Machine {
        let services = specs
            .iter()
            .map(|s| Service {
                grace: s.grace,
                checks: s
                    .checks
                    .iter()
                    .map(|t| check::Check::new(*t, now))
                    .collect(),
                address_present: false,
                file: false,
                admin: false,
                phase: None,
                state: ServiceState::Init,
            })
            .collect();
        Machine {
            services,
            shutdown: None,
            transitions: Vec::new(),
        }
    }

    /// The checks due at `now`. They count as running until their result is
    /// given to [`Machine::on_result`], and are not returned again before.
    pub fn poll_due(&mut self, now: Instant) -> Vec<CheckId> {
        let mut due = Vec::new();
        for (si, s) in self.services.iter_mut().enumerate() {
            for (ci, c) in s.checks.iter_mut().enumerate() {
                if c.take_if_due(now) {
                    due.push(CheckId {
                        service: si,
                        check: ci,
                    });
                }
            }
        }
        due
    }

    /// The result of a check returned by [`Machine::poll_due`]: `ok` is
    /// whether it passed (a timeout is a failure). Unknown ids are ignored.
    pub fn on_result(&mut self, id: CheckId, now: Instant, ok: bool) {
        let Some(c) = self
            .services
            .get_mut(id.service)
            .and_then(|s| s.checks.get_mut(id.check))
        else {
            return;
        };
        c.record(now, ok);
        self.refresh(id.service, now);
    }

    /// Whether the service's anycast addresses are all on local interfaces.
    pub fn set_address_present(&mut self, service: usize, present: bool, now: Instant) {
        if let Some(s) = self.services.get_mut(service) {
            s.address_present = present;
            self.refresh(service, now);
        }
    }

    /// Turns one source of maintenance on or off for every service.
    pub fn set_maintenance(&mut self, source: MaintenanceSource, on: bool, now: Instant) {
        for i in 0..self.services.len() {
            let s = &mut self.services[i];
            match source {
                MaintenanceSource::File => s.file = on,
                MaintenanceSource::Admin => s.admin = on,
            }
            if s.file || s.admin || self.shutdown.is_some() {
                s.begin_maintenance(now, ShutdownMode::Drain);
            } else {
                s.phase = None;
            }
            self.refresh(i, now);
        }
    }

    /// Whether a maintenance source is on (the same for every service).
    pub fn maintenance(&self, source: MaintenanceSource) -> bool {
        self.services.first().is_some_and(|s| match source {
            MaintenanceSource::File => s.file,
            MaintenanceSource::Admin => s.admin,
        })
    }

    /// Starts the shutdown: every service drains or withdraws and stays so.
    pub fn shutdown(&mut self, mode: ShutdownMode, now: Instant) {
        let mode = match self.shutdown {
            Some(ShutdownMode::Withdraw) => ShutdownMode::Withdraw,
            _ => mode,
        };
        self.shutdown = Some(mode);
        for i in 0..self.services.len() {
            self.services[i].begin_maintenance(now, mode);
            self.refresh(i, now);
        }
    }

    /// True once a shutdown has been asked for and every service is withdrawn.
    pub fn is_finished(&self) -> bool {
        self.shutdown.is_some()
            && self
                .services
                .iter()
                .all(|s| s.state == ServiceState::Withdrawn)
    }

    /// Advances timers (the end of a drain's grace period).
    pub fn tick(&mut self, now: Instant) {
        for i in 0..self.services.len() {
            if let Some(Phase::Draining { until }) = self.services[i].phase {
                if now >= until {
                    self.services[i].phase = Some(Phase::Withdrawn);
                }
            }
            self.refresh(i, now);
        }
    }

    /// When the machine next needs [`Machine::poll_due`] or [`Machine::tick`]:
    /// the earliest check due (not counting running ones) or end of a drain.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let checks = self
            .services
            .iter()
            .flat_map(|s| s.checks.iter().filter_map(|c| c.next_due()));
        let drains = self.services.iter().filter_map(|s| match s.phase {
            Some(Phase::Draining { until }) => Some(until),
            _ => None,
        });
        checks.chain(drains).min()
    }

    /// The state of a service (`Init` for an unknown index).
    pub fn state(&self, service: usize) -> ServiceState {
        self.services
            .get(service)
            .map_or(ServiceState::Init, |s| s.state)
    }

    /// What the service wants for each of its prefixes.
    pub fn wanted(&self, service: usize) -> PrefixAction {
        self.state(service).action()
    }

    /// The health of one check (`Init` for an unknown id).
    pub fn check_health(&self, id: CheckId) -> CheckHealth {
        self.services
            .get(id.service)
            .and_then(|s| s.checks.get(id.check))
            .map_or(CheckHealth::Init, |c| c.health())
    }

    /// Whether the service's address was last reported present.
    pub fn address_present(&self, service: usize) -> bool {
        self.services
            .get(service)
            .is_some_and(|s| s.address_present)
    }

    /// The transitions since the last call, oldest first.
    pub fn take_transitions(&mut self) -> Vec<Transition> {
        std::mem::take(&mut self.transitions)
    }

    fn refresh(&mut self, service: usize, now: Instant) {
        let Some(s) = self.services.get_mut(service) else {
            return;
        };
        let to = s.exposed_state();
        if to != s.state {
            self.transitions.push(Transition {
                service,
                from: s.state,
                to,
                at: now,
            });
            s.state = to;
        }
    }
}
