//! The state machine on a virtual clock: no sleeping, every step explicit.

use super::*;

const SEC: Duration = Duration::from_secs(1);
const FAST: Duration = Duration::from_millis(200);

fn timing(rise: u32, fall: u32) -> CheckTiming {
    CheckTiming {
        interval: SEC,
        fast_interval: FAST,
        rise,
        fall,
    }
}

/// A virtual clock and a machine with the given services.
struct Sim {
    m: Machine,
    now: Instant,
}

impl Sim {
    fn new(specs: &[ServiceSpec]) -> Sim {
        let now = Instant::now();
        let mut m = Machine::new(specs, now);
        for i in 0..specs.len() {
            m.set_address_present(i, true, now);
        }
        Sim { m, now }
    }

    fn one(rise: u32, fall: u32) -> Sim {
        Sim::new(&[ServiceSpec {
            grace: Duration::from_secs(5),
            checks: vec![timing(rise, fall)],
        }])
    }

    /// Advances the clock to the machine's next deadline (at most `limit`
    /// ahead) and answers every due check with `ok(check)`.
    fn step(&mut self, ok: impl Fn(CheckId) -> bool) -> Duration {
        let before = self.now;
        if let Some(t) = self.m.poll_timeout() {
            if t > self.now {
                self.now = t;
            }
        }
        self.m.tick(self.now);
        for id in self.m.poll_due(self.now) {
            self.m.on_result(id, self.now, ok(id));
        }
        self.now - before
    }

    /// Steps until the service reaches `want`; returns the virtual time taken.
    fn until(&mut self, want: ServiceState, ok: impl Fn(CheckId) -> bool) -> Duration {
        let start = self.now;
        for _ in 0..1000 {
            if self.m.state(0) == want {
                return self.now - start;
            }
            self.step(&ok);
        }
        panic!("never reached {want}; stuck in {}", self.m.state(0));
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.m.tick(self.now);
    }
}

#[test]
fn starts_in_init_and_withdrawn() {
    let s = Sim::one(3, 2);
    assert_eq!(s.m.state(0), ServiceState::Init);
    assert_eq!(s.m.wanted(0), PrefixAction::Withdraw);
    assert_eq!(s.m.poll_timeout(), Some(s.now));
}

#[test]
fn rises_after_rise_successes_at_the_fast_interval() {
    let mut s = Sim::one(3, 2);
    s.step(|_| true);
    assert_eq!(s.m.state(0), ServiceState::Rising);
    assert_eq!(
        s.m.check_health(CheckId {
            service: 0,
            check: 0
        }),
        CheckHealth::Rising(1)
    );
    assert_eq!(s.step(|_| true), FAST);
    assert_eq!(s.m.state(0), ServiceState::Rising);
    assert_eq!(s.step(|_| true), FAST);
    assert_eq!(s.m.state(0), ServiceState::Up);
    assert_eq!(s.m.wanted(0), PrefixAction::Announce);
    // Settled: back to the normal interval.
    assert_eq!(s.step(|_| true), SEC);
}

#[test]
fn falls_after_fall_failures_and_stays_announced_meanwhile() {
    let mut s = Sim::one(2, 3);
    s.until(ServiceState::Up, |_| true);
    s.step(|_| false);
    assert_eq!(s.m.state(0), ServiceState::Falling);
    assert_eq!(s.m.wanted(0), PrefixAction::Announce);
    assert_eq!(s.step(|_| false), FAST);
    assert_eq!(s.m.state(0), ServiceState::Falling);
    assert_eq!(s.step(|_| false), FAST);
    assert_eq!(s.m.state(0), ServiceState::Down);
    assert_eq!(s.m.wanted(0), PrefixAction::Withdraw);
    assert_eq!(s.step(|_| false), SEC);
}

#[test]
fn one_success_while_falling_cancels_the_fall() {
    let mut s = Sim::one(2, 3);
    s.until(ServiceState::Up, |_| true);
    s.step(|_| false);
    s.step(|_| false);
    assert_eq!(s.m.state(0), ServiceState::Falling);
    s.step(|_| true);
    assert_eq!(s.m.state(0), ServiceState::Up);
    // The failure count starts again from zero.
    s.step(|_| false);
    s.step(|_| false);
    assert_eq!(s.m.state(0), ServiceState::Falling);
}

#[test]
fn a_failure_while_rising_goes_down_and_restarts_the_count() {
    let mut s = Sim::one(3, 2);
    s.step(|_| true);
    s.step(|_| true);
    s.step(|_| false);
    assert_eq!(s.m.state(0), ServiceState::Down);
    s.step(|_| true);
    assert_eq!(
        s.m.check_health(CheckId {
            service: 0,
            check: 0
        }),
        CheckHealth::Rising(1)
    );
}

#[test]
fn rise_and_fall_of_one_act_at_once() {
    let mut s = Sim::one(1, 1);
    s.step(|_| true);
    assert_eq!(s.m.state(0), ServiceState::Up);
    s.step(|_| false);
    assert_eq!(s.m.state(0), ServiceState::Down);
    s.step(|_| true);
    assert_eq!(s.m.state(0), ServiceState::Up);
}

#[test]
fn every_check_must_be_up() {
    let mut s = Sim::new(&[ServiceSpec {
        grace: SEC,
        checks: vec![timing(2, 2), timing(2, 2)],
    }]);
    let t = s.until(ServiceState::Up, |_| true);
    assert_eq!(t, FAST);
    // The second check fails: the service falls, then goes down.
    s.until(ServiceState::Down, |id| id.check == 0);
    assert_eq!(
        s.m.check_health(CheckId {
            service: 0,
            check: 0
        }),
        CheckHealth::Up
    );
    // Only the first check passing is not enough.
    for _ in 0..10 {
        s.step(|id| id.check == 0);
    }
    assert_eq!(s.m.state(0), ServiceState::Down);
}

#[test]
fn a_missing_address_is_down_at_once() {
    let mut s = Sim::one(2, 3);
    s.until(ServiceState::Up, |_| true);
    s.m.set_address_present(0, false, s.now);
    assert_eq!(s.m.state(0), ServiceState::Down);
    assert_eq!(s.m.wanted(0), PrefixAction::Withdraw);
    s.m.set_address_present(0, true, s.now);
    // The checks stayed up meanwhile.
    assert_eq!(s.m.state(0), ServiceState::Up);
}

#[test]
fn address_absent_until_told() {
    let now = Instant::now();
    let mut m = Machine::new(
        &[ServiceSpec {
            grace: SEC,
            checks: vec![timing(1, 1)],
        }],
        now,
    );
    for id in m.poll_due(now) {
        m.on_result(id, now, true);
    }
    assert_eq!(m.state(0), ServiceState::Down);
}

#[test]
fn drain_announces_with_drain_for_grace_then_withdraws() {
    let mut s = Sim::one(2, 2);
    s.until(ServiceState::Up, |_| true);
    s.m.set_maintenance(MaintenanceSource::Admin, true, s.now);
    assert_eq!(s.m.state(0), ServiceState::Draining);
    assert_eq!(s.m.wanted(0), PrefixAction::AnnounceDrain);
    s.advance(Duration::from_millis(4999));
    assert_eq!(s.m.state(0), ServiceState::Draining);
    // The machine asks to be woken at the end of the grace period.
    assert!(s
        .m
        .poll_timeout()
        .is_some_and(|t| t <= s.now + Duration::from_millis(1)));
    s.advance(Duration::from_millis(1));
    assert_eq!(s.m.state(0), ServiceState::Withdrawn);
    assert_eq!(s.m.wanted(0), PrefixAction::Withdraw);
    // Undrain: back to what the checks say, which is up.
    s.m.set_maintenance(MaintenanceSource::Admin, false, s.now);
    assert_eq!(s.m.state(0), ServiceState::Up);
}

#[test]
fn drain_of_a_withdrawn_service_skips_draining() {
    let mut s = Sim::one(2, 2);
    s.until(ServiceState::Down, |_| false);
    s.m.set_maintenance(MaintenanceSource::File, true, s.now);
    assert_eq!(s.m.state(0), ServiceState::Withdrawn);
}

#[test]
fn health_changes_while_drained_do_not_announce() {
    let mut s = Sim::one(2, 2);
    s.until(ServiceState::Down, |_| false);
    s.m.set_maintenance(MaintenanceSource::File, true, s.now);
    for _ in 0..20 {
        s.step(|_| true);
        assert_eq!(s.m.wanted(0), PrefixAction::Withdraw);
    }
    s.m.set_maintenance(MaintenanceSource::File, false, s.now);
    assert_eq!(s.m.state(0), ServiceState::Up);
}

#[test]
fn both_sources_must_clear() {
    let mut s = Sim::one(1, 1);
    s.until(ServiceState::Up, |_| true);
    s.m.set_maintenance(MaintenanceSource::File, true, s.now);
    s.m.set_maintenance(MaintenanceSource::Admin, true, s.now);
    s.m.set_maintenance(MaintenanceSource::File, false, s.now);
    assert_eq!(s.m.state(0), ServiceState::Draining);
    assert!(s.m.maintenance(MaintenanceSource::Admin));
    s.m.set_maintenance(MaintenanceSource::Admin, false, s.now);
    assert_eq!(s.m.state(0), ServiceState::Up);
}

#[test]
fn repeated_maintenance_keeps_the_original_deadline() {
    let mut s = Sim::one(1, 1);
    s.until(ServiceState::Up, |_| true);
    s.m.set_maintenance(MaintenanceSource::File, true, s.now);
    let deadline = s.m.poll_timeout();
    s.advance(Duration::from_secs(3));
    s.m.set_maintenance(MaintenanceSource::File, true, s.now);
    s.advance(Duration::from_secs(2));
    assert_eq!(
        s.m.state(0),
        ServiceState::Withdrawn,
        "deadline {deadline:?}"
    );
}

#[test]
fn shutdown_withdraw_is_immediate_and_final() {
    let mut s = Sim::one(1, 1);
    s.until(ServiceState::Up, |_| true);
    assert!(!s.m.is_finished());
    s.m.shutdown(ShutdownMode::Withdraw, s.now);
    assert_eq!(s.m.state(0), ServiceState::Withdrawn);
    assert!(s.m.is_finished());
    s.m.set_maintenance(MaintenanceSource::Admin, false, s.now);
    assert_eq!(s.m.state(0), ServiceState::Withdrawn);
}

#[test]
fn shutdown_drain_finishes_after_grace() {
    let mut s = Sim::one(1, 1);
    s.until(ServiceState::Up, |_| true);
    s.m.shutdown(ShutdownMode::Drain, s.now);
    assert_eq!(s.m.state(0), ServiceState::Draining);
    assert!(!s.m.is_finished());
    // A withdraw request during a draining shutdown cuts it short.
    s.m.shutdown(ShutdownMode::Withdraw, s.now);
    assert!(s.m.is_finished());
}

#[test]
fn shutdown_drain_waits_for_the_grace_period() {
    let mut s = Sim::one(1, 1);
    s.until(ServiceState::Up, |_| true);
    s.m.shutdown(ShutdownMode::Drain, s.now);
    s.advance(Duration::from_secs(5));
    assert!(s.m.is_finished());
}

#[test]
fn transitions_are_reported_in_order() {
    let mut s = Sim::one(2, 2);
    s.m.take_transitions();
    s.until(ServiceState::Up, |_| true);
    s.until(ServiceState::Down, |_| false);
    let seen: Vec<_> =
        s.m.take_transitions()
            .iter()
            .map(|t| (t.from, t.to))
            .collect();
    use ServiceState::*;
    assert_eq!(
        seen,
        vec![(Init, Rising), (Rising, Up), (Up, Falling), (Falling, Down)]
    );
    assert!(s.m.take_transitions().is_empty());
}

#[test]
fn running_checks_are_not_polled_again() {
    let mut s = Sim::one(2, 2);
    let due = s.m.poll_due(s.now);
    assert_eq!(due.len(), 1);
    assert!(s.m.poll_due(s.now + SEC).is_empty());
    assert_eq!(s.m.poll_timeout(), None);
    s.m.on_result(due[0], s.now + SEC, true);
    assert_eq!(s.m.poll_timeout(), Some(s.now + SEC + FAST));
}

#[test]
fn unknown_ids_are_ignored() {
    let mut s = Sim::one(1, 1);
    s.m.on_result(
        CheckId {
            service: 7,
            check: 0,
        },
        s.now,
        true,
    );
    s.m.set_address_present(9, true, s.now);
    assert_eq!(s.m.state(9), ServiceState::Init);
    assert_eq!(
        s.m.check_health(CheckId {
            service: 0,
            check: 3
        }),
        CheckHealth::Init
    );
}

#[test]
fn actions_follow_states() {
    use ServiceState::*;
    let want: Vec<_> = ServiceState::ALL.iter().map(|s| s.action()).collect();
    let (a, d, w) = (
        PrefixAction::Announce,
        PrefixAction::AnnounceDrain,
        PrefixAction::Withdraw,
    );
    assert_eq!(want, vec![w, w, a, a, w, d, w]);
    assert_eq!(Draining.to_string(), "draining");
    assert_eq!(d.to_string(), "announce-drain");
}
