//! The OPTIONS prober on a virtual clock.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use gateway::{
    Algorithm, DestId, DestinationConfig, DownReason, GatewayConfig, GatewayEvent, Gateways,
    GroupConfig, HashKey, ProbeConfig, ProbeFailure, ProbeRequest, ProbeResult, State, Transport,
};

const INTERVAL: u64 = 5;
const TIMEOUT: u64 = 2;
const FALL: u32 = 3;
const RISE: u32 = 2;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config(n: usize, probe: ProbeConfig) -> GatewayConfig {
    GatewayConfig {
        groups: vec![GroupConfig {
            name: "backends".into(),
            algorithm: Algorithm::Weighted,
            hash_key: HashKey::ToAor,
            probe,
            destinations: (0..n)
                .map(|i| DestinationConfig {
                    uri: format!("sip:10.0.0.{}:5060", i + 1),
                    address: format!("10.0.0.{}:5060", i + 1).parse().unwrap(),
                    transport: Some(Transport::Udp),
                    weight: 1,
                    priority: 1,
                    attrs: Default::default(),
                })
                .collect(),
        }],
    }
}

fn probe_config() -> ProbeConfig {
    ProbeConfig {
        enabled: true,
        interval_secs: INTERVAL,
        timeout_secs: TIMEOUT,
        failure_threshold: FALL,
        success_threshold: RISE,
        healthy_codes: None,
        ..ProbeConfig::default()
    }
}

/// A simulated network: the caller side of the prober.
struct Sim {
    gw: Gateways,
    now: Instant,
    t0: Instant,
    sent: Vec<(Duration, ProbeRequest)>,
    events: Vec<(Duration, GatewayEvent)>,
}

impl Sim {
    fn new(n: usize, probe: ProbeConfig) -> Self {
        let t0 = Instant::now();
        Sim {
            gw: Gateways::new(&config(n, probe), t0).unwrap(),
            now: t0,
            t0,
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// Sends what is due at `now`, answering each probe at once with
    /// `answer` (or leaving it unanswered), and collects events.
    fn pump(&mut self, answer: &mut dyn FnMut(&ProbeRequest, Duration) -> Option<ProbeResult>) {
        self.gw.handle_timeout(self.now);
        while let Some(p) = self.gw.poll_probe(self.now) {
            assert!(p.deadline == self.now + secs(TIMEOUT));
            if let Some(result) = answer(&p, self.elapsed()) {
                let rtt = self.now + Duration::from_millis(5);
                assert!(self.gw.handle_probe_result(p.probe_id, result, rtt));
            }
            self.sent.push((self.elapsed(), p));
        }
        while let Some(e) = self.gw.poll_event() {
            self.events.push((self.elapsed(), e));
        }
    }

    /// Runs until `until` (since t0), jumping from one `poll_timeout` to the
    /// next, calling `check` after each step.
    fn run(
        &mut self,
        until: Duration,
        answer: &mut dyn FnMut(&ProbeRequest, Duration) -> Option<ProbeResult>,
        check: &mut dyn FnMut(&Sim),
    ) {
        loop {
            self.pump(answer);
            check(self);
            match self.gw.poll_timeout() {
                Some(t) if t - self.t0 <= until => {
                    assert!(t >= self.now, "poll_timeout went back in time");
                    self.now = t;
                }
                _ => break,
            }
        }
    }

    fn state(&self, i: u32) -> State {
        self.gw.group("backends").unwrap().state(DestId(i)).unwrap()
    }
}

#[test]
fn stops_answering_goes_down_after_fall_probes_and_comes_back_after_rise() {
    let mut sim = Sim::new(1, probe_config());
    let last_answered = secs(20);
    let resume = secs(60);
    let mut answer =
        |_: &ProbeRequest, at: Duration| (at <= last_answered || at >= resume).then_some(Ok(200));
    // Probes at 0, 5, ..., 20 are answered; 25, 30, 35 time out at 27, 32,
    // 37: down exactly at 20 + FALL * INTERVAL + TIMEOUT, not a moment before.
    let down_at = last_answered + secs(u64::from(FALL) * INTERVAL + TIMEOUT);
    let mut check = |s: &Sim| {
        let expect = if s.elapsed() < down_at {
            State::Up
        } else {
            State::Down
        };
        assert_eq!(s.state(0), expect, "at {:?}", s.elapsed());
    };
    sim.run(down_at - Duration::from_millis(1), &mut answer, &mut check);
    assert_eq!(sim.state(0), State::Up);
    assert!(sim.events.is_empty());
    sim.now = sim.t0 + down_at - Duration::from_millis(1);
    sim.gw.handle_timeout(sim.now);
    assert_eq!(sim.state(0), State::Up);

    sim.run(resume - secs(1), &mut answer, &mut check);
    assert_eq!(
        sim.events,
        [(
            down_at,
            GatewayEvent::Down {
                group: "backends".into(),
                dest: DestId(0),
                uri: "sip:10.0.0.1:5060".into(),
                reason: DownReason::Probe,
            }
        )]
    );
    // Timed-out probes kept going once a period while down.
    let times: Vec<u64> = sim.sent.iter().map(|(t, _)| t.as_secs()).collect();
    assert_eq!(times, [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55]);

    // Answers again from 60: the first success is not enough, the second is.
    let up_at = resume + secs(u64::from(RISE - 1) * INTERVAL);
    let mut check = |s: &Sim| {
        let expect = if s.elapsed() < up_at {
            State::Down
        } else {
            State::Up
        };
        assert_eq!(s.state(0), expect, "at {:?}", s.elapsed());
    };
    sim.run(secs(120), &mut answer, &mut check);
    assert_eq!(sim.events.len(), 2, "{:?}", sim.events);
    assert_eq!(
        sim.events[1],
        (
            up_at,
            GatewayEvent::Up {
                group: "backends".into(),
                dest: DestId(0),
                uri: "sip:10.0.0.1:5060".into(),
            }
        )
    );

    let snap = sim.gw.snapshot(sim.now);
    let d = &snap.groups[0].destinations[0];
    assert_eq!(d.state, State::Up);
    assert_eq!(d.last_probe_status, Some(200));
    assert_eq!(d.last_probe_rtt_ms, Some(5.0));
    assert_eq!(d.probes_failed, 7); // 25 .. 55
}

#[test]
fn a_503_fails_and_any_other_final_response_succeeds() {
    let mut sim = Sim::new(1, probe_config());
    let mut code = |_: &ProbeRequest, at: Duration| match at.as_secs() {
        0..=9 => Some(Ok(404)),
        10..=24 => Some(Ok(503)),
        _ => Some(Ok(405)),
    };
    sim.run(secs(19), &mut code, &mut |_| {});
    assert_eq!(sim.state(0), State::Up);
    sim.run(secs(20), &mut code, &mut |_| {});
    assert_eq!(sim.state(0), State::Down); // 503 at 10, 15, 20
    sim.run(secs(30), &mut code, &mut |_| {});
    assert_eq!(sim.state(0), State::Up); // 405 at 25, 30

    // With healthy_codes: [200] only 200 counts.
    let probe = ProbeConfig {
        healthy_codes: Some(vec![200]),
        failure_threshold: 1,
        ..probe_config()
    };
    let mut sim = Sim::new(1, probe);
    sim.run(secs(0), &mut |_, _| Some(Ok(404)), &mut |_| {});
    assert_eq!(sim.state(0), State::Down);
}

#[test]
fn unreachable_counts_as_failure_and_late_results_are_ignored() {
    let probe = ProbeConfig {
        failure_threshold: 2,
        ..probe_config()
    };
    let mut sim = Sim::new(1, probe);
    sim.run(
        secs(5),
        &mut |_, _| Some(Err(ProbeFailure::Unreachable)),
        &mut |_| {},
    );
    assert_eq!(sim.state(0), State::Down);
    let snap = sim.gw.snapshot(sim.now);
    assert_eq!(
        snap.groups[0].destinations[0].last_probe_error,
        Some(ProbeFailure::Unreachable)
    );

    // A probe left unanswered; its result after the deadline is ignored.
    sim.now = sim.t0 + secs(10);
    let p = sim.gw.poll_probe(sim.now).unwrap();
    // A provisional response keeps it outstanding.
    assert!(sim.gw.handle_probe_result(p.probe_id, Ok(100), sim.now));
    sim.gw.handle_timeout(p.deadline);
    assert!(!sim.gw.handle_probe_result(p.probe_id, Ok(200), p.deadline));
    assert!(!sim
        .gw
        .handle_probe_result(gateway::ProbeId(9999), Ok(200), p.deadline));
    let snap = sim.gw.snapshot(sim.now);
    assert_eq!(snap.groups[0].destinations[0].consecutive_failures, 3);
}

#[test]
fn disabled_probe_sends_nothing() {
    let probe = ProbeConfig {
        enabled: false,
        ..probe_config()
    };
    let mut sim = Sim::new(3, probe);
    assert_eq!(sim.gw.poll_timeout(), None);
    for s in [0, 5, 60, 3600] {
        assert!(sim.gw.poll_probe(sim.t0 + secs(s)).is_none());
    }
    sim.run(secs(3600), &mut |_, _| Some(Ok(200)), &mut |_| {});
    assert!(sim.sent.is_empty());
    assert_eq!(sim.state(0), State::Up);
}

#[test]
fn every_destination_is_probed_each_interval() {
    let mut sim = Sim::new(3, probe_config());
    sim.run(secs(10), &mut |_, _| Some(Ok(200)), &mut |_| {});
    let sent: Vec<(u64, u32)> = sim
        .sent
        .iter()
        .map(|(t, p)| (t.as_secs(), p.dest.0))
        .collect();
    assert_eq!(
        sent,
        [
            (0, 0),
            (0, 1),
            (0, 2),
            (5, 0),
            (5, 1),
            (5, 2),
            (10, 0),
            (10, 1),
            (10, 2)
        ]
    );
    let ids: std::collections::HashSet<_> = sim.sent.iter().map(|(_, p)| p.probe_id).collect();
    assert_eq!(ids.len(), 9);
    let p = &sim.sent[4].1;
    assert_eq!(p.group, "backends");
    assert_eq!(p.uri, "sip:10.0.0.2:5060");
    assert_eq!(p.address, "10.0.0.2:5060".parse().unwrap());
    assert_eq!(p.transport, Transport::Udp);
}

#[test]
fn admin_down_overrides_probes() {
    let mut sim = Sim::new(2, probe_config());
    let mut ok = |_: &ProbeRequest, _: Duration| Some(Ok(200));
    sim.run(secs(5), &mut ok, &mut |_| {});
    assert_eq!(
        sim.gw.mark_down("backends", "sip:10.0.0.1:5060", sim.now),
        Ok(State::Down)
    );
    // Marking down twice is one transition.
    assert_eq!(
        sim.gw.mark_down("backends", "sip:10.0.0.1:5060", sim.now),
        Ok(State::Down)
    );
    sim.run(secs(60), &mut ok, &mut |s| {
        assert_eq!(s.state(0), State::Down)
    });
    assert_eq!(sim.events.len(), 1);
    assert!(matches!(
        sim.events[0].1,
        GatewayEvent::Down {
            reason: DownReason::Admin,
            dest: DestId(0),
            ..
        }
    ));
    assert_eq!(
        sim.gw.mark_up("backends", "sip:10.0.0.1:5060", sim.now),
        Ok(State::Up)
    );
    sim.pump(&mut ok);
    assert_eq!(sim.events.len(), 2);
    assert!(matches!(
        sim.events[1].1,
        GatewayEvent::Up {
            dest: DestId(0),
            ..
        }
    ));
}

#[test]
fn mark_up_leaves_a_probe_down_member_down() {
    let probe = ProbeConfig {
        failure_threshold: 1,
        success_threshold: 1,
        ..probe_config()
    };
    let mut sim = Sim::new(1, probe);
    sim.gw
        .mark_down("backends", "10.0.0.1:5060", sim.now)
        .unwrap();
    // Probes fail while admin-down: already down, no new event.
    sim.run(secs(10), &mut |_, _| None, &mut |_| {});
    assert_eq!(sim.events.len(), 1);
    assert_eq!(
        sim.gw.mark_up("backends", "10.0.0.1:5060", sim.now),
        Ok(State::Down)
    );
    assert_eq!(
        sim.gw.group("backends").unwrap().down_reason(DestId(0)),
        Some(DownReason::Probe)
    );
    sim.pump(&mut |_, _| None);
    assert_eq!(sim.events.len(), 1);
    // It answers again: up, one event.
    sim.run(secs(40), &mut |_, _| Some(Ok(200)), &mut |_| {});
    assert_eq!(sim.state(0), State::Up);
    assert_eq!(sim.events.len(), 2);
    assert!(matches!(sim.events[1].1, GatewayEvent::Up { .. }));
}

#[test]
fn snapshot_serialises_for_the_admin_api() {
    let mut sim = Sim::new(2, probe_config());
    sim.run(secs(0), &mut |_, _| Some(Ok(200)), &mut |_| {});
    sim.gw
        .mark_down("backends", "sip:10.0.0.2:5060", sim.now)
        .unwrap();
    sim.gw.select("backends", None, sim.now).unwrap();
    let json = serde_json::to_value(sim.gw.snapshot(sim.now + secs(3))).unwrap();
    let g = &json["groups"][0];
    assert_eq!(g["name"], "backends");
    assert_eq!(g["algorithm"], "weighted");
    assert_eq!(g["healthy"], 1);
    assert_eq!(g["total"], 2);
    let d0 = &g["destinations"][0];
    assert_eq!(d0["group"], "backends");
    assert_eq!(d0["id"], 0);
    assert_eq!(d0["uri"], "sip:10.0.0.1:5060");
    assert_eq!(d0["address"], "10.0.0.1:5060");
    assert_eq!(d0["transport"], "udp");
    assert_eq!(d0["weight"], 1);
    assert_eq!(d0["state"], "up");
    assert_eq!(d0["reason"], serde_json::Value::Null);
    assert_eq!(d0["consecutive_successes"], 1);
    assert_eq!(d0["last_probe_status"], 200);
    assert_eq!(d0["last_probe_rtt_ms"], 5.0);
    assert_eq!(d0["selections"], 1);
    assert_eq!(d0["last_selected_secs"], 3);
    let d1 = &g["destinations"][1];
    assert_eq!(d1["state"], "down");
    assert_eq!(d1["reason"], "admin");
    assert_eq!(d1["probe_state"], "up");
    assert_eq!(d1["admin_down"], true);
    let down = serde_json::to_value(GatewayEvent::Down {
        group: "backends".into(),
        dest: DestId(1),
        uri: "sip:10.0.0.2:5060".into(),
        reason: DownReason::Admin,
    })
    .unwrap();
    assert_eq!(down["event"], "down");
    assert_eq!(down["reason"], "admin");
}

mod model {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Against a reference model: state after each probe, one event per
        /// transition, and all of it whatever mix of failure kinds.
        #[test]
        fn health_follows_the_thresholds(
            fall in 1u32..5,
            rise in 1u32..5,
            outcomes in prop::collection::vec(0u8..4, 1..60),
        ) {
            let probe = ProbeConfig { failure_threshold: fall, success_threshold: rise, ..probe_config() };
            let mut sim = Sim::new(1, probe);
            let (mut up, mut cf, mut cs, mut transitions) = (true, 0u32, 0u32, 0usize);
            for (k, o) in outcomes.iter().enumerate() {
                sim.now = sim.t0 + secs(INTERVAL * k as u64);
                sim.gw.handle_timeout(sim.now);
                let p = sim.gw.poll_probe(sim.now).unwrap();
                prop_assert!(sim.gw.poll_probe(sim.now).is_none());
                let ok = match o {
                    0 => { sim.gw.handle_probe_result(p.probe_id, Ok(200), sim.now); true }
                    1 => { sim.gw.handle_probe_result(p.probe_id, Ok(503), sim.now); false }
                    2 => { sim.gw.handle_probe_result(p.probe_id, Err(ProbeFailure::Unreachable), sim.now); false }
                    _ => { sim.gw.handle_timeout(p.deadline); false }
                };
                let was = up;
                if ok {
                    cf = 0; cs += 1;
                    if !up && cs >= rise { up = true; }
                } else {
                    cs = 0; cf += 1;
                    if up && cf >= fall { up = false; }
                }
                if was != up { transitions += 1; }
                let expect = if up { State::Up } else { State::Down };
                prop_assert_eq!(sim.state(0), expect);
            }
            let mut events = 0;
            while sim.gw.poll_event().is_some() { events += 1; }
            prop_assert_eq!(events, transitions);
        }
    }
}
