//! Targets whose host is an IP literal go out without a resolution; host
//! names are resolved first (RFC 3263 §4 step 1).
#![allow(clippy::unwrap_used)]

#[allow(dead_code)] // the tests here use a part of the harness
#[path = "support/harness.rs"]
mod harness;

use anysip_core::{Decision, Edits, Flow, ForkStrategy, RouterCallKind, Target, Transport};
use bytes::Bytes;
use harness::*;

/// The proxy after `text` arrived from the UAC and the router answered
/// `decision`; nothing else answered.
fn decided(decision: Decision, text: &str) -> Sim {
    let mut sim = Sim::new(FnRouter::new(|_| Decision::Drop));
    let flow = Flow {
        transport: Transport::Udp,
        remote: addr(UAC),
        local: addr(PROXY),
        connection: 0,
    };
    sim.proxy
        .handle_bytes(Bytes::copy_from_slice(text.as_bytes()), flow, sim.now);
    let call = sim.proxy.poll_router_call().unwrap();
    assert!(matches!(call.kind, RouterCallKind::Request(_)));
    sim.proxy.handle_decision(call.id, decision, sim.now);
    sim
}

fn sent_to(sim: &mut Sim) -> Vec<std::net::SocketAddr> {
    std::iter::from_fn(|| sim.proxy.poll_transmit())
        .map(|t| t.flow.remote)
        .collect()
}

#[test]
fn ip_literal_targets_are_sent_at_once() {
    let targets = [
        format!("sip:bob@{UAS1}"),
        "sip:carol@192.0.2.21;transport=udp".to_owned(),
    ];
    let fork = Decision::Fork {
        edits: Edits::default(),
        targets: targets
            .iter()
            .map(|u| Target {
                uri: u.clone(),
                route: vec![],
                next_hop: None,
                flow: None,
            })
            .collect(),
        strategy: ForkStrategy::Parallel,
        hooks: None,
    };
    let mut sim = decided(fork, &invite("sip:bob@example.com", "l1", ""));
    assert!(sim.proxy.poll_resolve().is_none(), "no resolution");
    let to = sent_to(&mut sim);
    assert_eq!(
        to,
        [addr(UAC), addr(UAS1), addr(UAS2)],
        "100, then both branches"
    );
}

#[test]
fn ip_literal_next_hop_and_ack_need_no_resolution() {
    let relay = Decision::Relay {
        edits: Edits::default(),
        next_hop: Some(UAS2.to_string()),
        hooks: None,
    };
    let mut sim = decided(
        relay.clone(),
        &request(
            "MESSAGE",
            "sip:bob@example.com",
            "l2",
            "z9hG4bKl2",
            1,
            "",
            "",
        ),
    );
    assert!(sim.proxy.poll_resolve().is_none());
    assert_eq!(sent_to(&mut sim), [addr(UAS2)]);

    let ack = request(
        "ACK",
        &format!("sip:bob@{UAS1}"),
        "l3",
        "z9hG4bKl3",
        1,
        "t",
        "",
    );
    let mut sim = decided(relay, &ack);
    assert!(sim.proxy.poll_resolve().is_none());
    assert_eq!(sent_to(&mut sim), [addr(UAS2)]);
}

#[test]
fn host_names_are_resolved_first() {
    let relay = Decision::Relay {
        edits: Edits::default(),
        next_hop: Some("sip:pool.example;transport=udp".into()),
        hooks: None,
    };
    let mut sim = decided(
        relay,
        &request(
            "OPTIONS",
            "sip:bob@example.com",
            "l4",
            "z9hG4bKl4",
            1,
            "",
            "",
        ),
    );
    assert_eq!(sent_to(&mut sim), Vec::<std::net::SocketAddr>::new());
    let r = sim.proxy.poll_resolve().unwrap();
    assert_eq!(r.target.host, "pool.example");
    assert!(sim.proxy.poll_resolve().is_none());
    let dest = resolve::Destination {
        transport: Transport::Udp,
        addr: addr(UAS1),
    };
    sim.proxy.handle_resolved(r.id, vec![dest], sim.now);
    assert_eq!(sent_to(&mut sim), [addr(UAS1)]);
}
