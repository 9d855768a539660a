//! RFC 5626 §5.3 in the sans-IO proxy, on a virtual clock: targets that
//! are registered flows of one UA instance (two reg-ids, each behind its
//! own edge) are tried one at a time; a dead flow (430 from its edge, or
//! silence, or a transport error) is reported for its binding to end and
//! the instance's next flow is tried; with none left the caller gets 480.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use anysip_core::{Decision, Edits, FlowFailure, ForkStrategy, RegisteredFlow, Target};
use harness::*;

const EDGE_A: &str = "192.0.2.31:5060";
const EDGE_B: &str = "192.0.2.32:5060";
const AOR: &str = "sip:dave@example.com";
const DAVE: &str = "<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";
const ERIN: &str = "<urn:uuid:00000000-0000-1000-8000-0000000e0000>";

/// Flow `reg_id` of `instance`, registered through `edge` (its Path).
fn flow(instance: &str, reg_id: u32, edge: &str) -> Target {
    Target {
        uri: format!("sip:dave@198.51.100.7:{};transport=tcp;ob", 40000 + reg_id),
        route: vec![format!("<sip:{edge};lr;ob>")],
        next_hop: None,
        flow: Some(RegisteredFlow {
            aor: AOR.into(),
            instance: instance.into(),
            reg_id,
        }),
    }
}

/// A contact that is not a flow, reached directly.
fn plain(at: &str) -> Target {
    Target {
        uri: format!("sip:dave@{at}"),
        ..Target::default()
    }
}

fn fork(strategy: ForkStrategy, targets: Vec<Target>) -> Decision {
    Decision::Fork {
        edits: Edits {
            record_route: true,
            ..Default::default()
        },
        targets,
        strategy,
        hooks: None,
    }
}

fn sim(strategy: ForkStrategy, targets: Vec<Target>) -> Sim {
    Sim::new(FnRouter::new(move |_| fork(strategy, targets.clone())))
}

fn flow_failures(sim: &Sim, outcome: &str) -> u64 {
    sim.proxy
        .stats()
        .flow_failures
        .get(outcome)
        .copied()
        .unwrap_or(0)
}

#[test]
fn a_430_moves_to_the_instances_next_flow_and_reports_the_dead_one() {
    let mut sim = sim(
        ForkStrategy::Parallel,
        vec![flow(DAVE, 1, EDGE_A), flow(DAVE, 2, EDGE_B), plain(UAS1)],
    );
    sim.send(UAC, &invite(AOR, "f1", ""));
    assert_eq!(sim.kinds(UAC), ["100"]);
    // One flow of dave's instance at a time; the other contact at once.
    let to_a = sim.take(EDGE_A);
    assert_eq!(to_a.iter().map(kind).collect::<Vec<_>>(), ["INVITE"]);
    assert_eq!(
        to_a[0].header(sip::HeaderName::Route),
        Some("<sip:192.0.2.31:5060;lr;ob>")
    );
    assert!(sim.take(EDGE_B).is_empty());
    let to_uas = sim.take(UAS1);
    assert_eq!(to_uas.len(), 1);

    // Edge A has lost the flow: 430. It is ACKed, reported, and flow 2
    // gets the INVITE (over edge B, with its own Path).
    sim.send_bytes(EDGE_A, answer(&to_a[0], 430, "ea", &[]));
    assert_eq!(sim.kinds(EDGE_A), ["ACK"]);
    let to_b = sim.take(EDGE_B);
    assert_eq!(to_b.iter().map(kind).collect::<Vec<_>>(), ["INVITE"]);
    assert_eq!(
        to_b[0].header(sip::HeaderName::Route),
        Some("<sip:192.0.2.32:5060;lr;ob>")
    );
    assert_eq!(
        to_b[0].request_uri_str(),
        Some("sip:dave@198.51.100.7:40002;transport=tcp;ob")
    );
    assert!(sim.take(UAC).is_empty(), "nothing final yet");
    assert_eq!(sim.failed_flows.len(), 1);
    let f = &sim.failed_flows[0];
    assert_eq!(
        (f.flow.aor.as_str(), f.flow.instance.as_str(), f.flow.reg_id),
        (AOR, DAVE, 1)
    );
    assert_eq!(f.uri, "sip:dave@198.51.100.7:40001;transport=tcp;ob");
    assert_eq!(f.route, ["<sip:192.0.2.31:5060;lr;ob>"]);
    assert_eq!(f.failure, FlowFailure::FlowFailed);

    // The other contact is busy; dave answers over flow 2.
    sim.send_bytes(UAS1, answer(&to_uas[0], 486, "u1", &[]));
    sim.send_bytes(EDGE_B, answer(&to_b[0], 180, "eb", &[]));
    sim.send_bytes(EDGE_B, answer(&to_b[0], 200, "eb", &[]));
    assert_eq!(sim.kinds(UAC), ["180", "200"]);
    assert_eq!(flow_failures(&sim, "next_flow"), 1);
    assert_eq!(flow_failures(&sim, "none_left"), 0);
    assert_eq!(sim.failed_flows.len(), 1, "flow 2 is alive");
    sim.advance(Duration::from_secs(40));
    assert!(sim.proxy.is_idle(), "{:?}", sim.proxy.stats());
}

#[test]
fn the_last_flow_failing_gives_480() {
    let mut sim = sim(ForkStrategy::Parallel, vec![flow(DAVE, 1, EDGE_A)]);
    sim.send(UAC, &invite(AOR, "f2", ""));
    let inv = sim.take(EDGE_A).remove(0);
    sim.send_bytes(EDGE_A, answer(&inv, 430, "ea", &[]));
    // The 430 is between the edge and us: the caller hears 480.
    assert_eq!(sim.kinds(UAC), ["100", "480"]);
    assert_eq!(sim.failed_flows.len(), 1);
    assert_eq!(flow_failures(&sim, "none_left"), 1);
    sim.advance(Duration::from_secs(40));
    assert!(sim.proxy.is_idle());
}

#[test]
fn every_flow_dead_reports_each_then_480() {
    let mut sim = sim(
        ForkStrategy::Parallel,
        vec![flow(DAVE, 1, EDGE_A), flow(DAVE, 2, EDGE_B)],
    );
    sim.send(UAC, &invite(AOR, "f3", ""));
    let a = sim.take(EDGE_A).remove(0);
    sim.send_bytes(EDGE_A, answer(&a, 430, "ea", &[]));
    let b = sim.take(EDGE_B).remove(0);
    sim.send_bytes(EDGE_B, answer(&b, 430, "eb", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "480"]);
    let reg_ids: Vec<u32> = sim.failed_flows.iter().map(|f| f.flow.reg_id).collect();
    assert_eq!(reg_ids, [1, 2]);
    assert_eq!(flow_failures(&sim, "next_flow"), 1);
    assert_eq!(flow_failures(&sim, "none_left"), 1);
}

#[test]
fn an_answer_from_the_ua_ends_its_instance() {
    let mut sim = sim(
        ForkStrategy::Parallel,
        vec![flow(DAVE, 1, EDGE_A), flow(DAVE, 2, EDGE_B)],
    );
    sim.send(UAC, &invite(AOR, "f4", ""));
    let a = sim.take(EDGE_A).remove(0);
    // A 408 or a 486 from downstream: the UA was reached (RFC 5626 §5.3:
    // no other flow of the instance is tried).
    sim.send_bytes(EDGE_A, answer(&a, 486, "ea", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "486"]);
    assert!(sim.take(EDGE_B).is_empty());
    assert!(sim.failed_flows.is_empty());
}

#[test]
fn silence_is_a_dead_flow() {
    let mut sim = sim(
        ForkStrategy::Parallel,
        vec![flow(DAVE, 1, EDGE_A), flow(DAVE, 2, EDGE_B)],
    );
    sim.send(UAC, &invite(AOR, "f5", ""));
    assert_eq!(sim.kinds_once(EDGE_A), ["INVITE"]);
    // Timer B (64*T1 = 32 s): nothing ever answered flow 1.
    sim.advance(Duration::from_millis(32_100));
    let to_b = sim.take(EDGE_B);
    assert_eq!(to_b.iter().map(kind).collect::<Vec<_>>(), ["INVITE"]);
    assert_eq!(sim.failed_flows.len(), 1);
    assert_eq!(sim.failed_flows[0].failure, FlowFailure::Timeout);
    sim.send_bytes(EDGE_B, answer(&to_b[0], 200, "eb", &[]));
    assert_eq!(sim.kinds_once(UAC), ["100", "200"]);
}

#[test]
fn a_transport_error_is_a_dead_flow() {
    let mut sim = sim(
        ForkStrategy::Parallel,
        vec![flow(DAVE, 1, EDGE_A), flow(DAVE, 2, EDGE_B)],
    );
    sim.send(UAC, &invite(AOR, "f6", ""));
    let sent = sim.take_sent(EDGE_A).remove(0);
    sim.proxy
        .handle_transport_error(sent.on_error.unwrap(), sim.now);
    sim.pump();
    assert_eq!(sim.kinds(EDGE_B), ["INVITE"]);
    assert_eq!(sim.failed_flows.len(), 1);
    assert_eq!(sim.failed_flows[0].failure, FlowFailure::Unreachable);
}

#[test]
fn a_provisional_answer_then_silence_is_not_a_dead_flow() {
    let mut sim = sim(
        ForkStrategy::Parallel,
        vec![flow(DAVE, 1, EDGE_A), flow(DAVE, 2, EDGE_B)],
    );
    sim.send(UAC, &invite(AOR, "f7", ""));
    let a = sim.take(EDGE_A).remove(0);
    sim.send_bytes(EDGE_A, answer(&a, 180, "ea", &[]));
    // Timer C (3 minutes): the ringing branch is CANCELled and counts as
    // 408, which says the UA was reached.
    sim.advance(Duration::from_secs(181));
    assert!(sim.kinds_once(EDGE_A).iter().any(|k| k == "CANCEL"));
    sim.advance(Duration::from_secs(40));
    assert!(sim.take(EDGE_B).is_empty());
    assert!(sim.failed_flows.is_empty());
    assert_eq!(sim.kinds_once(UAC).last().map(String::as_str), Some("408"));
}

#[test]
fn sequential_forking_tries_the_next_flow_before_the_next_target() {
    let mut sim = sim(
        ForkStrategy::Sequential,
        vec![
            flow(DAVE, 1, EDGE_A),
            plain(UAS1),
            flow(DAVE, 2, EDGE_B),
            flow(ERIN, 1, UAS2),
        ],
    );
    sim.send(UAC, &invite(AOR, "f8", ""));
    let a = sim.take(EDGE_A).remove(0);
    assert!(sim.take(UAS1).is_empty());
    sim.send_bytes(EDGE_A, answer(&a, 430, "ea", &[]));
    // dave's flow 2 stands in for flow 1 before the fork goes on.
    let b = sim.take(EDGE_B).remove(0);
    assert!(sim.take(UAS1).is_empty());
    sim.send_bytes(EDGE_B, answer(&b, 486, "eb", &[]));
    let u = sim.take(UAS1).remove(0);
    sim.send_bytes(UAS1, answer(&u, 486, "u1", &[]));
    // Another instance (erin's) is a target of its own.
    let e = sim.take(UAS2).remove(0);
    sim.send_bytes(UAS2, answer(&e, 200, "e1", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "200"]);
    assert_eq!(sim.failed_flows.len(), 1);
}

#[test]
fn cancelled_while_failing_over_goes_no_further() {
    let mut sim = sim(
        ForkStrategy::Parallel,
        vec![flow(DAVE, 1, EDGE_A), flow(DAVE, 2, EDGE_B)],
    );
    let inv = invite(AOR, "f9", "");
    sim.send(UAC, &inv);
    let a = sim.take(EDGE_A).remove(0);
    sim.send_bytes(EDGE_A, answer(&a, 430, "ea", &[]));
    let b = sim.take(EDGE_B).remove(0);
    sim.send_bytes(EDGE_B, answer(&b, 180, "eb", &[]));
    let cancel =
        inv.replacen("INVITE sip", "CANCEL sip", 1)
            .replacen("CSeq: 1 INVITE", "CSeq: 1 CANCEL", 1);
    sim.send(UAC, &cancel);
    assert!(sim.kinds_once(EDGE_B).iter().any(|k| k == "CANCEL"));
    sim.send_bytes(EDGE_B, answer(&b, 487, "eb", &[]));
    let up = sim.kinds_once(UAC);
    assert!(up.iter().any(|k| k == "487"), "{up:?}");
    assert_eq!(sim.failed_flows.len(), 1);
    sim.advance(Duration::from_secs(40));
    assert!(sim.proxy.is_idle(), "{:?}", sim.proxy.stats());
}
