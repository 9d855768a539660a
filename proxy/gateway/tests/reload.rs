//! Hot reload keeps what is known of destinations that stay.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use gateway::{
    Algorithm, DestinationConfig, DownReason, GatewayConfig, GatewayEvent, Gateways, GroupConfig,
    HashKey, ProbeConfig, State, Transport,
};

fn dest(n: u8) -> DestinationConfig {
    DestinationConfig {
        uri: format!("sip:10.0.0.{n}:5060"),
        address: format!("10.0.0.{n}:5060").parse().unwrap(),
        transport: Some(Transport::Udp),
        weight: 1,
        priority: 1,
        attrs: Default::default(),
    }
}

fn config(dests: &[u8], probe_enabled: bool) -> GatewayConfig {
    GatewayConfig {
        groups: vec![GroupConfig {
            name: "backends".into(),
            algorithm: Algorithm::RoundRobin,
            hash_key: HashKey::ToAor,
            probe: ProbeConfig {
                enabled: probe_enabled,
                failure_threshold: 1,
                success_threshold: 1,
                ..ProbeConfig::default()
            },
            destinations: dests.iter().map(|&n| dest(n)).collect(),
        }],
    }
}

fn state_of(gw: &Gateways, uri: &str) -> (State, Option<DownReason>) {
    let g = gw.group("backends").unwrap();
    let id = g.find(uri).unwrap();
    (g.state(id).unwrap(), g.down_reason(id))
}

#[test]
fn reload_keeps_health_of_destinations_that_stay() {
    let t0 = Instant::now();
    let mut gw = Gateways::new(&config(&[1, 2, 3], true), t0).unwrap();
    assert_eq!(
        gw.select("backends", None, t0).unwrap().uri,
        "sip:10.0.0.1:5060"
    );
    // 10.0.0.1 fails its probe, the others answer.
    while let Some(p) = gw.poll_probe(t0) {
        let result = if p.dest.0 == 0 {
            Err(gateway::ProbeFailure::Unreachable)
        } else {
            Ok(200)
        };
        gw.handle_probe_result(p.probe_id, result, t0);
    }
    gw.mark_down("backends", "sip:10.0.0.2:5060", t0).unwrap();
    while gw.poll_event().is_some() {}
    // A probe outstanding across the reload.
    let t1 = t0 + Duration::from_secs(5);
    let outstanding = gw.poll_probe(t1).unwrap();
    assert_eq!(outstanding.uri, "sip:10.0.0.1:5060");

    // Invalid: refused, nothing changes.
    let mut bad = config(&[1, 2], true);
    bad.groups[0].destinations[0].weight = 0;
    assert!(gw.reload(&bad, t1).is_err());
    assert_eq!(gw.group("backends").unwrap().destinations().count(), 3);

    // New order, 10.0.0.3 removed, 10.0.0.4 added.
    gw.reload(&config(&[4, 2, 1], true), t1).unwrap();
    assert_eq!(
        state_of(&gw, "sip:10.0.0.1:5060"),
        (State::Down, Some(DownReason::Probe))
    );
    assert_eq!(
        state_of(&gw, "sip:10.0.0.2:5060"),
        (State::Down, Some(DownReason::Admin))
    );
    assert_eq!(state_of(&gw, "sip:10.0.0.4:5060"), (State::Up, None));
    assert!(gw
        .group("backends")
        .unwrap()
        .find("sip:10.0.0.3:5060")
        .is_none());
    assert!(gw.poll_event().is_none());
    let snap = gw.snapshot(t1);
    let d3 = &snap.groups[0].destinations[2];
    assert_eq!(d3.uri, "sip:10.0.0.1:5060");
    assert_eq!(d3.selections, 1);

    // The outstanding probe is still recognised.
    assert!(gw.handle_probe_result(outstanding.probe_id, Ok(200), t1));
    assert_eq!(state_of(&gw, "sip:10.0.0.1:5060"), (State::Up, None));
    assert!(matches!(gw.poll_event(), Some(GatewayEvent::Up { .. })));
    // The new destination is probed at once.
    let p = gw.poll_probe(t1).unwrap();
    assert_eq!(p.uri, "sip:10.0.0.4:5060");
}

#[test]
fn disabling_probes_releases_probe_down_destinations() {
    let t0 = Instant::now();
    let mut gw = Gateways::new(&config(&[1, 2], true), t0).unwrap();
    while let Some(p) = gw.poll_probe(t0) {
        gw.handle_probe_result(p.probe_id, Err(gateway::ProbeFailure::Timeout), t0);
    }
    gw.mark_up("backends", "sip:10.0.0.2:5060", t0).unwrap();
    gw.mark_down("backends", "sip:10.0.0.2:5060", t0).unwrap();
    while gw.poll_event().is_some() {}
    gw.reload(&config(&[1, 2], false), t0).unwrap();
    assert_eq!(state_of(&gw, "sip:10.0.0.1:5060"), (State::Up, None));
    // Still marked down by the admin.
    assert_eq!(
        state_of(&gw, "sip:10.0.0.2:5060"),
        (State::Down, Some(DownReason::Admin))
    );
    assert!(matches!(gw.poll_event(), Some(GatewayEvent::Up { .. })));
    assert!(gw.poll_event().is_none());
    assert!(gw.poll_probe(t0 + Duration::from_secs(60)).is_none());
    assert_eq!(gw.poll_timeout(), None);
}
