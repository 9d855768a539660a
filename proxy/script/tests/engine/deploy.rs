//! The shipped scripts: deploy/scripts/proxy_default.py and lb.py.

use std::time::Instant;

use anysip_core::{Decision, Router, Target};
use script::Engine;
use sip::digest::{Challenge, ClientRequest, NonceCount, Secret};

use super::support::*;

#[test]
fn proxy_default_registers_and_routes() {
    let host = TestHost::new();
    let e = Engine::load(&deploy_script("proxy_default.py"), false, host.clone()).unwrap();
    let reg = |extra: &str| {
        ctx(&format!(
            "REGISTER sip:domain.local SIP/2.0\n\
             Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bKreg1\n\
             Max-Forwards: 70\n\
             To: <sip:alice@domain.local>\n\
             From: <sip:alice@domain.local>;tag=r1\n\
             Call-ID: reg1@pc33\n\
             CSeq: 1 REGISTER\n\
             Contact: <sip:alice@192.0.2.7:5062>\n\
             {extra}Content-Length: 0\n\n"
        ))
    };
    // REGISTER: challenged, then saved.
    let challenge = match e.on_request(&reg("")) {
        Decision::Reply(r) if r.status == 401 => Challenge::parse(&r.headers[0].1).unwrap(),
        other => panic!("{other:?}"),
    };
    let creq = ClientRequest {
        method: "REGISTER",
        uri: "sip:domain.local",
        cnonce: "c1",
        nc: NonceCount::FIRST,
    };
    let auth = challenge
        .respond("alice", Secret::Password("secret"), &creq)
        .unwrap();
    match e.on_request(&reg(&format!("Authorization: {auth}\n"))) {
        Decision::Reply(r) => assert_eq!(r.status, 200),
        other => panic!("{other:?}"),
    }
    assert!(host.called("registrar_save"));

    // INVITE to a registered user: lookup, record-route, relay to it.
    let invite = |ruri: &str| request("INVITE", ruri, "");
    match e.on_request(&invite("sip:alice@domain.local")) {
        Decision::Fork { edits, targets, .. } => {
            assert!(edits.record_route);
            assert_eq!(targets.len(), 1);
            assert_eq!(targets[0].uri, "sip:alice@192.0.2.7:5062");
        }
        other => panic!("{other:?}"),
    }
    // Two contacts: forked in parallel.
    host.add_binding(
        "sip:carol@domain.local",
        "sip:carol@192.0.2.30",
        &["<sip:edge;lr>"],
    );
    host.add_binding("sip:carol@domain.local", "sip:carol@192.0.2.31", &[]);
    match e.on_request(&invite("sip:carol@domain.local")) {
        Decision::Fork { targets, .. } => {
            assert_eq!(targets.len(), 2);
            assert_eq!(
                targets[0],
                Target {
                    uri: "sip:carol@192.0.2.30".into(),
                    route: vec!["<sip:edge;lr>".into()],
                    next_hop: None,
                    flow: None
                }
            );
        }
        other => panic!("{other:?}"),
    }
    // OPTIONS to the proxy itself: 200.
    assert!(matches!(
        e.on_request(&request("OPTIONS", "sip:domain.local", "")),
        Decision::Reply(r) if r.status == 200
    ));
    // Unknown user: 404. Other domain: 403.
    assert!(
        matches!(e.on_request(&invite("sip:nobody@domain.local")), Decision::Reply(r) if r.status == 404)
    );
    assert!(
        matches!(e.on_request(&invite("sip:x@elsewhere.example")), Decision::Reply(r) if r.status == 403)
    );

    // In-dialog: loose-routed relay, else 404; ACK without route dropped.
    let mut bye = request("BYE", "sip:bob@192.0.2.20", "");
    bye.message = in_dialog(&bye);
    assert!(matches!(e.on_request(&bye), Decision::Reply(r) if r.status == 404));
    bye.route_consumed = true;
    assert!(matches!(
        e.on_request(&bye),
        Decision::Relay { next_hop: None, .. }
    ));
    let mut ack = request("ACK", "sip:bob@192.0.2.20", "");
    ack.message = in_dialog(&ack);
    assert_eq!(e.on_request(&ack), Decision::Drop);
}

fn in_dialog(req: &anysip_core::RequestContext) -> sip::Message {
    message(
        &String::from_utf8_lossy(req.message.as_bytes())
            .replace(
                "To: <sip:bob@domain.local>",
                "To: <sip:bob@domain.local>;tag=t1",
            )
            .replace("\r\n", "\n"),
    )
}

#[test]
fn lb_selects_a_backend_or_503() {
    let host = TestHost::new();
    host.add_group(
        "backends",
        &[
            ("sip:core1.example:5060", true),
            ("sip:core2.example:5060", true),
        ],
    );
    let e = Engine::load(&deploy_script("lb.py"), false, host.clone()).unwrap();
    let invite = request("INVITE", "sip:bob@domain.local", "");
    let first = match e.on_request(&invite) {
        Decision::Relay {
            edits,
            next_hop: Some(hop),
            ..
        } => {
            assert!(edits.record_route);
            hop
        }
        other => panic!("{other:?}"),
    };
    assert!(first.starts_with("sip:core"));
    // Same To → same backend.
    assert!(
        matches!(e.on_request(&invite), Decision::Relay { next_hop: Some(h), .. } if h == first)
    );
    assert!(host.called("gateway_select backends Some(\"sip:bob@domain.local\")"));
    // In-dialog: loose route.
    let mut bye = request(
        "BYE",
        "sip:bob@192.0.2.20",
        "Route: <sip:core1.example;lr>\n",
    );
    bye.message = in_dialog(&bye);
    assert!(matches!(
        e.on_request(&bye),
        Decision::Relay { next_hop: None, .. }
    ));
    // Nothing healthy: 503.
    host.gateway_mark_all_down();
    assert!(matches!(e.on_request(&invite), Decision::Reply(r) if r.status == 503));
}

/// Micro-benchmark: one on_request through proxy_default.py (an INVITE to
/// a registered user: lookup + record_route + relay). Bounded: 20 000
/// calls or 10 s. Run with `--nocapture` to see the figure.
#[test]
fn bench_proxy_default_on_request() {
    let host = TestHost::new();
    host.add_binding("sip:bob@domain.local", "sip:bob@192.0.2.20:5060", &[]);
    let e = Engine::load(&deploy_script("proxy_default.py"), false, host.clone()).unwrap();
    let invite = request("INVITE", "sip:bob@domain.local", "");
    for _ in 0..200 {
        assert!(matches!(e.on_request(&invite), Decision::Fork { .. }));
    }
    host.calls.lock().unwrap().clear();
    let start = Instant::now();
    let mut n = 0u32;
    while n < 20_000 && start.elapsed().as_secs() < 10 {
        let d = e.on_request(&invite);
        assert!(matches!(d, Decision::Fork { .. }));
        n += 1;
        if n % 1000 == 0 {
            host.calls.lock().unwrap().clear();
        }
    }
    let per_call = start.elapsed() / n;
    println!("proxy_default.py on_request (INVITE → lookup → relay): {per_call:?} per call over {n} calls");
}
