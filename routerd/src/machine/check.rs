//! One check's rise/fall counter and its schedule.

use std::time::{Duration, Instant};

/// How often a check runs and how many results move it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTiming {
    /// Time between the end of one run and the start of the next when settled.
    pub interval: Duration,
    /// The same while a change is pending (INIT, RISING, FALLING).
    pub fast_interval: Duration,
    /// Consecutive successes to go up.
    pub rise: u32,
    /// Consecutive failures to go down.
    pub fall: u32,
}

/// Where one check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckHealth {
    /// No result yet.
    Init,
    /// This many consecutive successes, fewer than `rise`.
    Rising(u32),
    /// Passed `rise` times and has not failed `fall` times since.
    Up,
    /// Was up; this many consecutive failures, fewer than `fall`.
    Falling(u32),
    /// Failed (`fall` times from up, or once from anywhere else).
    Down,
}

impl CheckHealth {
    /// Lower-case name, as in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckHealth::Init => "init",
            CheckHealth::Rising(_) => "rising",
            CheckHealth::Up => "up",
            CheckHealth::Falling(_) => "falling",
            CheckHealth::Down => "down",
        }
    }

    /// Whether a change is pending, so the fast interval applies.
    pub fn pending(self) -> bool {
        matches!(
            self,
            CheckHealth::Init | CheckHealth::Rising(_) | CheckHealth::Falling(_)
        )
    }

    fn next(self, ok: bool, t: &CheckTiming) -> CheckHealth {
        let rise = t.rise.max(1);
        let fall = t.fall.max(1);
        match (self, ok) {
            (CheckHealth::Up, true) => CheckHealth::Up,
            (CheckHealth::Init | CheckHealth::Down, true) if rise == 1 => CheckHealth::Up,
            // A failing check that passes again before `fall` was never down.
            (CheckHealth::Falling(_), true) => CheckHealth::Up,
            (CheckHealth::Init | CheckHealth::Down, true) => CheckHealth::Rising(1),
            (CheckHealth::Rising(n), true) if n + 1 >= rise => CheckHealth::Up,
            (CheckHealth::Rising(n), true) => CheckHealth::Rising(n + 1),
            // Not announced yet: nothing to protect, so one failure is enough.
            (CheckHealth::Init | CheckHealth::Rising(_) | CheckHealth::Down, false) => {
                CheckHealth::Down
            }
            (CheckHealth::Up, false) if fall == 1 => CheckHealth::Down,
            (CheckHealth::Up, false) => CheckHealth::Falling(1),
            (CheckHealth::Falling(n), false) if n + 1 >= fall => CheckHealth::Down,
            (CheckHealth::Falling(n), false) => CheckHealth::Falling(n + 1),
        }
    }
}

#[derive(Debug)]
pub(super) struct Check {
    timing: CheckTiming,
    health: CheckHealth,
    /// `None` while running.
    next_due: Option<Instant>,
}

impl Check {
    pub(super) fn new(timing: CheckTiming, now: Instant) -> Check {
        Check {
            timing,
            health: CheckHealth::Init,
            next_due: Some(now),
        }
    }

    pub(super) fn health(&self) -> CheckHealth {
        self.health
    }

    pub(super) fn next_due(&self) -> Option<Instant> {
        self.next_due
    }

    /// Marks the check running if it is due.
    pub(super) fn take_if_due(&mut self, now: Instant) -> bool {
        match self.next_due {
            Some(t) if t <= now => {
                self.next_due = None;
                true
            }
            _ => false,
        }
    }

    pub(super) fn record(&mut self, now: Instant, ok: bool) {
        self.health = self.health.next(ok, &self.timing);
        let wait = if self.health.pending() {
            self.timing.fast_interval
        } else {
            self.timing.interval
        };
        self.next_due = Some(now + wait);
    }
}
