//! The sans-IO proxy through a simulated UAC — proxy — UAS(es), on a
//! virtual clock (DESIGN §12): no sockets, no sleeping.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;

use std::time::Duration;

use anysip_core::{Decision, Edits, ForkStrategy, Target};
use harness::*;
use sip::HeaderName;

fn fork(strategy: ForkStrategy, uris: &[&str]) -> Decision {
    Decision::Fork {
        edits: Edits {
            record_route: true,
            ..Default::default()
        },
        targets: uris
            .iter()
            .map(|u| Target {
                uri: u.to_string(),
                route: vec![],
                next_hop: None,
                flow: None,
            })
            .collect(),
        strategy,
        hooks: None,
    }
}

fn uas1() -> String {
    format!("sip:bob@{UAS1}")
}

#[test]
fn invite_relayed_with_100_180_200_then_ack_and_bye_end_to_end() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    sim.send(UAC, &invite(&uas1(), "c1", ""));
    assert_eq!(sim.kinds(UAC), ["100"]);
    let fwd = sim.take(UAS1);
    assert_eq!(fwd.len(), 1);
    let inv = &fwd[0];
    assert_eq!(inv.max_forwards().unwrap(), Some(69));
    let vias: Vec<_> = inv
        .vias()
        .map(|v| v.unwrap().as_str().to_string())
        .collect();
    assert_eq!(vias.len(), 2);
    assert!(
        vias[0].starts_with("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKAs"),
        "{vias:?}"
    );
    assert_eq!(
        inv.header(HeaderName::RecordRoute),
        Some("<sip:192.0.2.1:5060;lr>")
    );
    assert!(
        vias[1].ends_with(";rport=5060;received=192.0.2.10"),
        "{vias:?}"
    );

    sim.send_bytes(UAS1, answer(inv, 180, "b1", &[]));
    sim.send_bytes(
        UAS1,
        answer(inv, 200, "b1", &[("Contact", "<sip:bob@192.0.2.20>")]),
    );
    let up = sim.take(UAC);
    assert_eq!(up.iter().map(kind).collect::<Vec<_>>(), ["180", "200"]);
    // Our Via is gone, the UAC's is on top.
    assert!(up[1].top_via().unwrap().as_str().contains("z9hG4bK-c1"));
    assert_eq!(up[1].count(HeaderName::Via), 1);

    // ACK and BYE follow the route set: Route = our Record-Route.
    let route = "Route: <sip:192.0.2.1:5060;lr>\r\n";
    let ack = request(
        "ACK",
        "sip:bob@192.0.2.20",
        "c1",
        "z9hG4bKuac2",
        1,
        "b1",
        route,
    );
    sim.send(UAC, &ack);
    let a = sim.take(UAS1);
    assert_eq!(a.iter().map(kind).collect::<Vec<_>>(), ["ACK"]);
    assert_eq!(a[0].header(HeaderName::Route), None);
    assert_eq!(a[0].count(HeaderName::Via), 2);
    let bye = request(
        "BYE",
        "sip:bob@192.0.2.20",
        "c1",
        "z9hG4bKuac3",
        2,
        "b1",
        route,
    );
    sim.send(UAC, &bye);
    let b = sim.take(UAS1);
    assert_eq!(b.iter().map(kind).collect::<Vec<_>>(), ["BYE"]);
    sim.send_bytes(UAS1, answer(&b[0], 200, "b1", &[]));
    assert_eq!(sim.kinds(UAC), ["200"]);
    // Everything ends once the timers ran out.
    sim.advance(Duration::from_secs(40));
    assert!(sim.proxy.is_idle(), "{:?}", sim.proxy.stats());
    let st = sim.proxy.stats();
    assert_eq!(st.requests.get("INVITE"), Some(&1));
    assert_eq!(st.requests.get("ACK"), Some(&1));
}

#[test]
fn retransmitted_invite_is_absorbed() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    let inv = invite(&uas1(), "c2", "");
    sim.send(UAC, &inv);
    let fwd = sim.take(UAS1);
    sim.send_bytes(UAS1, answer(&fwd[0], 180, "b1", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "180"]);
    sim.send(UAC, &inv);
    sim.send(UAC, &inv);
    // The last provisional is re-sent; nothing reaches the UAS or router.
    assert_eq!(sim.kinds(UAC), ["180", "180"]);
    assert!(sim.take(UAS1).is_empty());
    assert_eq!(sim.router_calls, 2); // on_request + on_reply(180)
    assert_eq!(sim.proxy.stats().retransmissions, 2);
}

#[test]
fn parallel_fork_200_wins_and_the_other_branch_is_cancelled() {
    let u2 = format!("sip:carol@{UAS2}");
    let mut sim = Sim::new(FnRouter::new(move |_| {
        fork(ForkStrategy::Parallel, &[&format!("sip:bob@{UAS1}"), &u2])
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c3", ""));
    let b1 = sim.take(UAS1).remove(0);
    let b2 = sim.take(UAS2).remove(0);
    assert_eq!(b1.request_uri_str(), Some("sip:bob@192.0.2.20:5060"));
    assert_ne!(
        b1.top_via().unwrap().branch(),
        b2.top_via().unwrap().branch()
    );
    sim.send_bytes(UAS1, answer(&b1, 180, "t1", &[]));
    sim.send_bytes(UAS2, answer(&b2, 486, "t2", &[]));
    // The 486 is ACKed hop by hop and held back.
    assert_eq!(sim.kinds(UAS2), ["ACK"]);
    sim.send_bytes(UAS1, answer(&b1, 200, "t1", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "180", "200"]);
    // The 486 was never forwarded; nothing is left to CANCEL.
    assert!(sim.take(UAS1).is_empty());
    sim.advance(Duration::from_secs(60));
    assert!(sim.proxy.is_idle(), "{:?}", sim.proxy.stats());
}

#[test]
fn parallel_fork_486_then_200_and_provisional_branch_cancelled() {
    let mut sim = Sim::new(FnRouter::new(|_| {
        fork(
            ForkStrategy::Parallel,
            &[&format!("sip:bob@{UAS1}"), &format!("sip:carol@{UAS2}")],
        )
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c4", ""));
    let b1 = sim.take(UAS1).remove(0);
    let b2 = sim.take(UAS2).remove(0);
    sim.send_bytes(UAS1, answer(&b1, 180, "t1", &[]));
    sim.send_bytes(UAS2, answer(&b2, 200, "t2", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "180", "200"]);
    // Branch 1 had a provisional: it gets a CANCEL; its 487 goes nowhere.
    let c = sim.take(UAS1);
    assert_eq!(c.iter().map(kind).collect::<Vec<_>>(), ["CANCEL"]);
    assert_eq!(
        c[0].top_via().unwrap().branch(),
        b1.top_via().unwrap().branch()
    );
    sim.send_bytes(UAS1, answer(&c[0], 200, "t1", &[]));
    sim.send_bytes(UAS1, answer(&b1, 487, "t1", &[]));
    assert_eq!(sim.kinds(UAS1), ["ACK"]);
    assert!(sim.take(UAC).is_empty());
    sim.advance(Duration::from_secs(60));
    assert!(sim.proxy.is_idle(), "{:?}", sim.proxy.stats());
}

#[test]
fn every_2xx_of_a_fork_is_forwarded() {
    let mut sim = Sim::new(FnRouter::new(|_| {
        fork(
            ForkStrategy::Parallel,
            &[&format!("sip:bob@{UAS1}"), &format!("sip:carol@{UAS2}")],
        )
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c4b", ""));
    let b1 = sim.take(UAS1).remove(0);
    let b2 = sim.take(UAS2).remove(0);
    sim.send_bytes(UAS1, answer(&b1, 200, "t1", &[]));
    sim.send_bytes(UAS2, answer(&b2, 200, "t2", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "200", "200"]);
}

#[test]
fn sequential_fork_fails_over() {
    let mut sim = Sim::new(FnRouter::new(|_| {
        fork(
            ForkStrategy::Sequential,
            &[&format!("sip:bob@{UAS1}"), &format!("sip:carol@{UAS2}")],
        )
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c5", ""));
    let b1 = sim.take(UAS1).remove(0);
    assert!(sim.take(UAS2).is_empty());
    sim.send_bytes(UAS1, answer(&b1, 486, "t1", &[]));
    assert_eq!(sim.kinds(UAS1), ["ACK"]);
    let b2 = sim.take(UAS2).remove(0);
    assert_eq!(b2.request_uri_str(), Some("sip:carol@192.0.2.21:5060"));
    sim.send_bytes(UAS2, answer(&b2, 200, "t2", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "200"]);
}

#[test]
fn on_failure_relay_starts_a_new_branch() {
    let mut r = FnRouter::new(|_| relay_rr());
    r.failure = Box::new(|_, best| {
        assert_eq!(best.message.status(), Some(404));
        Decision::Relay {
            edits: Edits::default(),
            next_hop: Some(UAS2.to_string()),
            hooks: None,
        }
    });
    let mut sim = Sim::new(r);
    sim.send(UAC, &invite(&uas1(), "c5b", ""));
    let b1 = sim.take(UAS1).remove(0);
    sim.send_bytes(UAS1, answer(&b1, 404, "t1", &[]));
    let b2 = sim.take(UAS2).remove(0);
    sim.send_bytes(UAS2, answer(&b2, 486, "t2", &[]));
    // on_failure is asked again: it relays again, to UAS2 once more.
    let b3 = sim.take(UAS2);
    assert_eq!(b3.iter().filter(|m| kind(m) == "INVITE").count(), 1);
}

#[test]
fn six_xx_ends_the_fork_and_cancels_the_rest() {
    let mut sim = Sim::new(FnRouter::new(|_| {
        fork(
            ForkStrategy::Parallel,
            &[&format!("sip:bob@{UAS1}"), &format!("sip:carol@{UAS2}")],
        )
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c6", ""));
    let b1 = sim.take(UAS1).remove(0);
    let b2 = sim.take(UAS2).remove(0);
    sim.send_bytes(UAS1, answer(&b1, 180, "t1", &[]));
    sim.send_bytes(UAS2, answer(&b2, 603, "t2", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "180", "603"]);
    assert_eq!(sim.kinds(UAS1), ["CANCEL"]);
}

#[test]
fn challenges_of_401_and_407_are_aggregated() {
    let mut sim = Sim::new(FnRouter::new(|_| {
        fork(
            ForkStrategy::Parallel,
            &[&format!("sip:bob@{UAS1}"), &format!("sip:carol@{UAS2}")],
        )
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c7", ""));
    let b1 = sim.take(UAS1).remove(0);
    let b2 = sim.take(UAS2).remove(0);
    sim.send_bytes(
        UAS1,
        answer(
            &b1,
            401,
            "t1",
            &[("WWW-Authenticate", "Digest realm=\"one\", nonce=\"1\"")],
        ),
    );
    sim.send_bytes(
        UAS2,
        answer(
            &b2,
            407,
            "t2",
            &[("Proxy-Authenticate", "Digest realm=\"two\", nonce=\"2\"")],
        ),
    );
    let up = sim.take(UAC);
    assert_eq!(up.iter().map(kind).collect::<Vec<_>>(), ["100", "401"]);
    let f = &up[1];
    assert_eq!(
        f.header(HeaderName::WwwAuthenticate),
        Some("Digest realm=\"one\", nonce=\"1\"")
    );
    assert_eq!(
        f.header(HeaderName::ProxyAuthenticate),
        Some("Digest realm=\"two\", nonce=\"2\"")
    );
}

#[test]
fn lowest_class_wins_and_503_becomes_500() {
    let mut sim = Sim::new(FnRouter::new(|_| {
        fork(
            ForkStrategy::Parallel,
            &[&format!("sip:bob@{UAS1}"), &format!("sip:carol@{UAS2}")],
        )
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c7b", ""));
    let b1 = sim.take(UAS1).remove(0);
    let b2 = sim.take(UAS2).remove(0);
    sim.send_bytes(UAS1, answer(&b1, 503, "t1", &[]));
    sim.send_bytes(UAS2, answer(&b2, 603, "t2", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "603"]);

    let mut sim = Sim::new(FnRouter::new(|_| {
        fork(
            ForkStrategy::Parallel,
            &[&format!("sip:bob@{UAS1}"), &format!("sip:carol@{UAS2}")],
        )
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c7c", ""));
    let b1 = sim.take(UAS1).remove(0);
    sim.take(UAS2);
    sim.send_bytes(UAS1, answer(&b1, 503, "t1", &[]));
    sim.advance(Duration::from_secs(40)); // branch 2 times out: 408 (Timer B)
    let up: Vec<_> = sim.kinds_once(UAC);
    assert_eq!(up, ["100", "408"], "408 (class 4) beats 503");
}

#[test]
fn only_a_503_is_forwarded_as_500() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    sim.send(UAC, &invite(&uas1(), "c7d", ""));
    let b1 = sim.take(UAS1).remove(0);
    sim.send_bytes(UAS1, answer(&b1, 503, "t1", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "500"]);
}

#[test]
fn timer_c_cancels_a_ringing_branch_and_answers_408() {
    let mut s = settings();
    s.timer_c = Duration::from_secs(181);
    let mut sim = Sim::with(s, FnRouter::new(|_| relay_rr()));
    sim.send(UAC, &invite(&uas1(), "c8", ""));
    let b1 = sim.take(UAS1).remove(0);
    sim.send_bytes(UAS1, answer(&b1, 180, "t1", &[]));
    sim.advance(Duration::from_secs(120));
    sim.send_bytes(UAS1, answer(&b1, 183, "t1", &[])); // resets Timer C
    sim.advance(Duration::from_secs(120));
    assert!(sim.take(UAS1).is_empty());
    assert_eq!(sim.kinds(UAC), ["100", "180", "183"]);
    sim.advance(Duration::from_secs(62));
    let c = sim.take(UAS1);
    assert_eq!(c.iter().map(kind).collect::<Vec<_>>(), ["CANCEL", "CANCEL"]); // + Timer E
    sim.send_bytes(UAS1, answer(&c[0], 200, "t1", &[]));
    sim.send_bytes(UAS1, answer(&b1, 487, "t1", &[]));
    assert_eq!(sim.kinds(UAC), ["408"]);
    assert_eq!(sim.kinds(UAS1), ["ACK"]);
}

#[test]
fn timer_c_without_provisional_is_a_408() {
    let mut s = settings();
    s.timer_c = Duration::from_secs(10);
    let mut sim = Sim::with(s, FnRouter::new(|_| relay_rr()));
    sim.send(UAC, &invite(&uas1(), "c9", ""));
    sim.advance(Duration::from_secs(11));
    assert_eq!(sim.kinds_once(UAC), ["100", "408"]);
}

#[test]
fn timer_b_gives_408_after_retransmissions() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    sim.send(UAC, &invite(&uas1(), "c10", ""));
    sim.advance(Duration::from_secs(33));
    assert_eq!(sim.take(UAS1).len(), 7); // INVITE + 6 Timer A retransmissions
    assert_eq!(sim.kinds_once(UAC), ["100", "408"]);
}

/// RFC 4320 §4.2: a transaction-stateful element sends no 408 to a
/// non-INVITE request; a downstream 408 is not passed on either.
#[test]
fn non_invite_timeout_sends_no_408() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    sim.send(
        UAC,
        &request("OPTIONS", &uas1(), "c10b", "z9hG4bKo1", 1, "", ""),
    );
    sim.advance(Duration::from_secs(33));
    assert!(sim.kinds(UAC).is_empty(), "no answer after Timer F");
    assert!(sim.proxy.is_idle(), "and nothing left behind");

    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    sim.send(
        UAC,
        &request("OPTIONS", &uas1(), "c10c", "z9hG4bKo2", 1, "", ""),
    );
    let fwd = sim.take(UAS1).remove(0);
    sim.send_bytes(UAS1, answer(&fwd, 408, "t1", &[]));
    sim.advance(Duration::from_secs(1));
    assert!(
        sim.kinds(UAC).is_empty(),
        "a downstream 408 is not forwarded"
    );
}

#[test]
fn next_destination_on_503_and_on_timeout() {
    let mut sim = Sim::new(FnRouter::new(|_| Decision::Relay {
        edits: Edits::default(),
        next_hop: Some("sip:pool.example".into()),
        hooks: None,
    }));
    sim.extra_dests = vec![("pool.example".into(), vec![addr(UAS1), addr(UAS2)])];
    sim.send(UAC, &invite("sip:bob@example.com", "c11", ""));
    let b1 = sim.take(UAS1).remove(0);
    sim.send_bytes(UAS1, answer(&b1, 503, "t1", &[]));
    let b2 = sim.take(UAS2);
    assert_eq!(b2.len(), 1, "503 → next destination");
    assert_ne!(
        b2[0].top_via().unwrap().branch(),
        b1.top_via().unwrap().branch()
    );
    sim.send_bytes(UAS2, answer(&b2[0], 200, "t2", &[]));
    assert_eq!(sim.kinds(UAC), ["100", "200"]);
}

#[test]
fn cancel_from_the_uac() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    let inv = invite(&uas1(), "c12", "");
    sim.send(UAC, &inv);
    let b1 = sim.take(UAS1).remove(0);
    sim.send_bytes(UAS1, answer(&b1, 180, "t1", &[]));
    sim.take(UAC);
    let cancel = request("CANCEL", &uas1(), "c12", "z9hG4bK-c12", 1, "", "");
    sim.send(UAC, &cancel);
    let up = sim.take(UAC);
    assert_eq!(up.iter().map(kind).collect::<Vec<_>>(), ["200", "487"]);
    let c = sim.take(UAS1);
    assert_eq!(c.iter().map(kind).collect::<Vec<_>>(), ["CANCEL"]);
    sim.send_bytes(UAS1, answer(&c[0], 200, "t1", &[]));
    sim.send_bytes(UAS1, answer(&b1, 487, "t1", &[]));
    assert_eq!(sim.kinds(UAS1), ["ACK"]);
    assert!(sim.take(UAC).is_empty());
    // The UAC's ACK of the 487 is absorbed.
    let ack = request("ACK", &uas1(), "c12", "z9hG4bK-c12", 1, "x", "");
    sim.send(UAC, &ack);
    assert!(sim.take(UAS1).is_empty());
    assert_eq!(sim.router_calls, 2); // on_request, on_reply(180)
    sim.advance(Duration::from_secs(60));
    assert!(sim.proxy.is_idle(), "{:?}", sim.proxy.stats());
}

#[test]
fn cancel_matching_nothing_gets_481() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    sim.send(
        UAC,
        &request("CANCEL", &uas1(), "c13", "z9hG4bKnone", 1, "", ""),
    );
    assert_eq!(sim.kinds(UAC), ["481"]);
}

#[test]
fn loops_get_482_and_spirals_pass() {
    // The router sends everything back to the proxy itself: a loop.
    let mut sim = Sim::new(FnRouter::new(|_| Decision::Relay {
        edits: Edits::default(),
        next_hop: Some(PROXY.into()),
        hooks: None,
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c14", ""));
    let looped = sim.take(PROXY).remove(0);
    sim.send_bytes(PROXY, looped.as_bytes().clone());
    let back = sim.take(PROXY);
    assert_eq!(back.iter().map(kind).collect::<Vec<_>>(), ["482"]);
    assert_eq!(sim.proxy.stats().loops, 1);

    // A spiral: the Request-URI changes on the second pass.
    let mut sim = Sim::new(FnRouter::new(|req| {
        let ruri = req
            .message
            .request_uri_str()
            .unwrap_or_default()
            .to_string();
        if ruri.starts_with("sip:alias@") {
            Decision::Relay {
                edits: Edits {
                    ruri: Some("sip:bob@proxy.example".into()),
                    ..Default::default()
                },
                next_hop: Some(PROXY.into()),
                hooks: None,
            }
        } else {
            Decision::Relay {
                edits: Edits::default(),
                next_hop: Some(UAS1.into()),
                hooks: None,
            }
        }
    }));
    sim.send(UAC, &invite("sip:alias@proxy.example", "c15", ""));
    let spiral = sim.take(PROXY).remove(0);
    sim.send_bytes(PROXY, spiral.as_bytes().clone());
    let fwd = sim.take(UAS1);
    assert_eq!(fwd.len(), 1);
    assert_eq!(fwd[0].count(HeaderName::Via), 3);
}

#[test]
fn strict_route_is_fixed_and_own_route_removed() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let mut sim = Sim::new(FnRouter::new(move |req| {
        s2.lock().unwrap().push(req.route_consumed);
        relay_rr()
    }));
    // Strict routing: our Record-Route URI as Request-URI, the real one last.
    let text = request(
        "BYE",
        "sip:192.0.2.1:5060",
        "c16",
        "z9hG4bKs1",
        2,
        "b1",
        "Route: <sip:bob@192.0.2.20>\r\n",
    );
    sim.send(UAC, &text);
    let f = sim.take(UAS1);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].request_uri_str(), Some("sip:bob@192.0.2.20"));
    assert_eq!(f[0].header(HeaderName::Route), None);
    // Loose routing: our Route removed, the next one is the target.
    let text = request(
        "BYE",
        "sip:bob@192.0.2.99",
        "c17",
        "z9hG4bKs2",
        2,
        "b1",
        "Route: <sip:192.0.2.1;lr>, <sip:192.0.2.20;lr>\r\n",
    );
    sim.send(UAC, &text);
    let f = sim.take(UAS1);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].request_uri_str(), Some("sip:bob@192.0.2.99"));
    assert_eq!(f[0].header(HeaderName::Route), Some("<sip:192.0.2.20;lr>"));
    assert_eq!(*seen.lock().unwrap(), [false, true]);
}

#[test]
fn max_forwards_zero_is_483_and_proxy_require_is_420() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    let t = invite(&uas1(), "c18", "").replace("Max-Forwards: 70", "Max-Forwards: 0");
    sim.send(UAC, &t);
    assert_eq!(sim.kinds(UAC), ["483"]);
    let t = request(
        "OPTIONS",
        &uas1(),
        "c19",
        "z9hG4bKo2",
        1,
        "",
        "Proxy-Require: foo\r\n",
    );
    sim.send(UAC, &t);
    let r = sim.take(UAC);
    assert_eq!(r.iter().map(kind).collect::<Vec<_>>(), ["420"]);
    assert_eq!(r[0].header(HeaderName::Unsupported), Some("foo"));
    assert_eq!(sim.router_calls, 0);
}

#[test]
fn draining_refuses_new_calls_but_not_dialogs() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    sim.proxy.drain();
    sim.send(UAC, &invite(&uas1(), "c20", ""));
    let r = sim.take(UAC);
    assert_eq!(r.iter().map(kind).collect::<Vec<_>>(), ["503"]);
    assert_eq!(r[0].header(HeaderName::RetryAfter), Some("30"));
    let bye = request("BYE", &uas1(), "c21", "z9hG4bKb9", 2, "b1", "");
    sim.send(UAC, &bye);
    assert_eq!(sim.kinds(UAS1), ["BYE"]);
}

#[test]
fn router_reply_drop_and_failure() {
    let mut sim = Sim::new(FnRouter::new(|req| {
        match req
            .message
            .method()
            .map(|m| m.as_str().to_string())
            .as_deref()
        {
            Some("OPTIONS") => Decision::Reply(anysip_core::Reply {
                status: 200,
                reason: None,
                headers: vec![("Allow".into(), "INVITE, ACK".into())],
                body: None,
                reliable: false,
            }),
            Some("MESSAGE") => Decision::Drop,
            _ => Decision::Failed("Traceback: boom".into()),
        }
    }));
    sim.send(
        UAC,
        &request("OPTIONS", &uas1(), "c22", "z9hG4bKo3", 1, "", ""),
    );
    let r = sim.take(UAC);
    assert_eq!(kind(&r[0]), "200");
    assert_eq!(r[0].header_by_name("Allow"), Some("INVITE, ACK"));
    assert!(r[0].to_tag().is_some());
    sim.send(
        UAC,
        &request("MESSAGE", &uas1(), "c23", "z9hG4bKo4", 1, "", ""),
    );
    assert_eq!(sim.kinds(UAC), ["500"]);
    sim.send(
        UAC,
        &request("INFO", &uas1(), "c24", "z9hG4bKo5", 1, "", ""),
    );
    assert_eq!(sim.kinds(UAC), ["500"]);
    assert_eq!(sim.proxy.stats().router_errors, 1);
}

#[test]
fn stray_2xx_goes_on_by_via_and_others_are_dropped() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    let branch = "z9hG4bKAs0000000000000000.1";
    let text = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\nVia: SIP/2.0/UDP {UAC};branch=z9hG4bKx;rport=5060;received=192.0.2.10\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: s1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    sim.send(UAS1, &text);
    assert_eq!(sim.kinds(UAC), ["200"]);
    sim.send(UAS1, &text.replace("1 INVITE", "1 BYE"));
    assert!(sim.take(UAC).is_empty());
    assert_eq!(sim.proxy.stats().drops.get("stray_response"), Some(&1));
}

#[test]
fn route_set_of_a_target_goes_in_front() {
    let mut sim = Sim::new(FnRouter::new(|_| Decision::Fork {
        edits: Edits::default(),
        targets: vec![Target {
            uri: "sip:bob@198.51.100.7".into(),
            route: vec![format!("<sip:{UAS2};lr>")],
            next_hop: None,
            flow: None,
        }],
        strategy: ForkStrategy::Parallel,
        hooks: None,
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c25", ""));
    let f = sim.take(UAS2);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].request_uri_str(), Some("sip:bob@198.51.100.7"));
    assert_eq!(
        f[0].header(HeaderName::Route),
        Some("<sip:192.0.2.21:5060;lr>")
    );
}

#[test]
fn on_reply_edits_and_drops_responses() {
    let mut r = FnRouter::new(|_| relay_rr());
    r.reply = Box::new(|_, resp| match resp.message.status() {
        Some(180) => anysip_core::ReplyDecision::Drop,
        Some(200) => anysip_core::ReplyDecision::ForwardEdited(vec![
            anysip_core::HeaderEdit::Set("X-Core".into(), "yes".into()),
            anysip_core::HeaderEdit::Remove("Contact".into()),
        ]),
        _ => anysip_core::ReplyDecision::Forward,
    });
    let mut sim = Sim::new(r);
    sim.send(UAC, &invite(&uas1(), "c26", ""));
    let b1 = sim.take(UAS1).remove(0);
    sim.send_bytes(UAS1, answer(&b1, 180, "t1", &[]));
    sim.send_bytes(
        UAS1,
        answer(&b1, 200, "t1", &[("Contact", "<sip:bob@192.0.2.20>")]),
    );
    let up = sim.take(UAC);
    assert_eq!(up.iter().map(kind).collect::<Vec<_>>(), ["100", "200"]);
    assert_eq!(up[1].header_by_name("X-Core"), Some("yes"));
    assert_eq!(up[1].header(HeaderName::Contact), None);
}

#[test]
fn request_edits_change_uri_headers_and_body() {
    let mut sim = Sim::new(FnRouter::new(|_| Decision::Relay {
        edits: Edits {
            ruri: Some(format!("sip:carol@{UAS2}")),
            record_route: false,
            headers: vec![
                anysip_core::HeaderEdit::Set("Subject".into(), "hello".into()),
                anysip_core::HeaderEdit::Append("X-A".into(), "1".into()),
                anysip_core::HeaderEdit::Remove("Contact".into()),
            ],
            body: Some(("text/plain".into(), bytes::Bytes::from_static(b"hi there"))),
            via: None,
        },
        next_hop: None,
        hooks: None,
    }));
    sim.send(UAC, &invite(&uas1(), "c27", "Subject: old\r\n"));
    let f = sim.take(UAS2);
    assert_eq!(f.len(), 1);
    let m = &f[0];
    assert_eq!(m.request_uri_str(), Some("sip:carol@192.0.2.21:5060"));
    assert_eq!(m.header(HeaderName::Subject), Some("hello"));
    assert_eq!(m.count(HeaderName::Subject), 1);
    assert_eq!(m.header_by_name("X-A"), Some("1"));
    assert_eq!(m.header(HeaderName::Contact), None);
    assert_eq!(m.header(HeaderName::RecordRoute), None);
    assert_eq!(m.body(), b"hi there");
    assert_eq!(m.header(HeaderName::ContentType), Some("text/plain"));
    assert_eq!(m.content_length(), Some(8));
}

#[test]
fn transport_error_tries_the_next_destination() {
    let mut sim = Sim::new(FnRouter::new(|_| Decision::Relay {
        edits: Edits::default(),
        next_hop: Some("sip:pool.example".into()),
        hooks: None,
    }));
    sim.extra_dests = vec![("pool.example".into(), vec![addr(UAS1), addr(UAS2)])];
    sim.send(
        UAC,
        &request(
            "MESSAGE",
            "sip:bob@example.com",
            "c28",
            "z9hG4bKm1",
            1,
            "",
            "",
        ),
    );
    let first = sim.take_sent(UAS1).remove(0);
    sim.proxy
        .handle_transport_error(first.on_error.unwrap(), sim.now);
    sim.pump();
    let second = sim.take(UAS2);
    assert_eq!(second.iter().map(kind).collect::<Vec<_>>(), ["MESSAGE"]);
    sim.send_bytes(UAS2, answer(&second[0], 202, "t2", &[]));
    assert_eq!(sim.kinds(UAC), ["202"]);
}

#[test]
fn endless_failover_is_cut_short() {
    let mut r = FnRouter::new(|_| Decision::Relay {
        edits: Edits::default(),
        next_hop: Some("sip:nowhere.invalid".into()),
        hooks: None,
    });
    r.failure = Box::new(|_, _| Decision::Relay {
        edits: Edits::default(),
        next_hop: Some("sip:nowhere.invalid".into()),
        hooks: None,
    });
    let mut sim = Sim::new(r);
    sim.send(UAC, &invite("sip:bob@example.com", "c29", ""));
    // Nothing resolves: our own 503 (a received 503 would become 500).
    assert_eq!(sim.kinds(UAC), ["100", "503"]);
    assert!(sim.router_calls <= 70, "{}", sim.router_calls);
}

#[test]
fn tcp_in_udp_out_double_record_route_and_responses_on_the_connection() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    let text = invite(&uas1(), "c30", "").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    sim.send_tcp(UAC, 9, &text);
    let up = sim.take_sent(UAC);
    assert_eq!(up.len(), 1);
    assert_eq!(kind(&up[0].msg), "100");
    assert_eq!(up[0].flow.connection, 9);
    let fwd = sim.take(UAS1).remove(0);
    let rrs: Vec<_> = fwd
        .record_routes()
        .map(|r| r.unwrap().as_str().to_string())
        .collect();
    assert_eq!(
        rrs,
        [
            "<sip:192.0.2.1:5060;lr>",
            "<sip:192.0.2.1:5060;transport=tcp;lr>"
        ]
    );
    assert!(fwd.top_via().unwrap().as_str().starts_with("SIP/2.0/UDP "));
    sim.send_bytes(UAS1, answer(&fwd, 200, "t1", &[]));
    let up = sim.take_sent(UAC);
    assert_eq!(kind(&up[0].msg), "200");
    assert_eq!(up[0].flow.connection, 9);
    // Both Record-Routes are ours: an in-dialog request over TCP loses both.
    let route = "Route: <sip:192.0.2.1:5060;transport=tcp;lr>, <sip:192.0.2.1:5060;lr>\r\n";
    let bye = request(
        "BYE",
        "sip:bob@192.0.2.20",
        "c30",
        "z9hG4bKt2",
        2,
        "t1",
        route,
    )
    .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    sim.send_tcp(UAC, 9, &bye);
    let f = sim.take(UAS1);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].header(HeaderName::Route), None);
}

#[test]
fn mangled_messages_never_panic() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    let base = invite(&uas1(), "c31", "Route: <sip:192.0.2.1;lr>\r\n").into_bytes();
    let mut seed: u64 = 0x1234_5678;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for i in 0..3000 {
        let mut m = base.clone();
        match i % 3 {
            0 => {
                let at = next() % m.len();
                m[at] ^= 1 << (next() % 8);
            }
            1 => m.truncate(next() % m.len()),
            _ => {
                let at = next() % m.len();
                m.insert(at, b"\r\n;,<>:@\"%"[next() % 10]);
            }
        }
        sim.send_bytes(UAC, bytes::Bytes::from(m));
        // Responses too: the same bytes as a response from the UAS.
        let mut r = answer(
            &sim.take(UAS1)
                .pop()
                .unwrap_or_else(|| parse(base.clone().into())),
            200,
            "x",
            &[],
        )
        .to_vec();
        let at = next() % r.len();
        r[at] ^= 1 << (next() % 8);
        sim.send_bytes(UAS1, bytes::Bytes::from(r));
        sim.sent.clear();
    }
    sim.advance(Duration::from_secs(300));
}

#[test]
fn a_cancelled_branch_that_never_answers_is_given_up() {
    let mut sim = Sim::new(FnRouter::new(|_| {
        fork(
            ForkStrategy::Parallel,
            &[&format!("sip:bob@{UAS1}"), &format!("sip:carol@{UAS2}")],
        )
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c32", ""));
    let b1 = sim.take(UAS1).remove(0);
    let b2 = sim.take(UAS2).remove(0);
    sim.send_bytes(UAS1, answer(&b1, 180, "t1", &[]));
    sim.send_bytes(UAS2, answer(&b2, 200, "t2", &[]));
    assert_eq!(sim.kinds_once(UAS1), ["CANCEL"]);
    // UAS1 never answers the CANCEL nor the INVITE.
    sim.advance(Duration::from_secs(70));
    assert!(sim.proxy.is_idle(), "{:?}", sim.proxy.stats());
    assert_eq!(sim.kinds_once(UAC), ["100", "180", "200"]);
}

#[test]
fn cancel_while_the_router_decides() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    sim.hold_router = true;
    sim.send(UAC, &invite(&uas1(), "c33", ""));
    assert_eq!(sim.kinds(UAC), ["100"]);
    sim.send(
        UAC,
        &request("CANCEL", &uas1(), "c33", "z9hG4bK-c33", 1, "", ""),
    );
    assert_eq!(sim.kinds(UAC), ["200", "487"]);
    sim.release();
    assert!(
        sim.take(UAS1).is_empty(),
        "nothing forwarded after the CANCEL"
    );
    sim.send(
        UAC,
        &request("ACK", &uas1(), "c33", "z9hG4bK-c33", 1, "x", ""),
    );
    sim.advance(Duration::from_secs(40));
    assert!(sim.proxy.is_idle(), "{:?}", sim.proxy.stats());
}

#[test]
fn responses_keep_their_order_through_on_reply() {
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    sim.send(UAC, &invite(&uas1(), "c34", ""));
    let b1 = sim.take(UAS1).remove(0);
    sim.hold_router = true;
    sim.send_bytes(UAS1, answer(&b1, 180, "t1", &[]));
    sim.send_bytes(UAS1, answer(&b1, 183, "t1", &[]));
    sim.send_bytes(UAS1, answer(&b1, 200, "t1", &[]));
    // One on_reply call at a time.
    assert_eq!(sim.held.len(), 1);
    sim.release();
    assert_eq!(sim.kinds(UAC), ["100", "180", "183", "200"]);
}

#[test]
fn a_strict_router_next_gets_the_route_as_request_uri() {
    let mut sim = Sim::new(FnRouter::new(|_| Decision::Fork {
        edits: Edits::default(),
        targets: vec![Target {
            uri: "sip:bob@198.51.100.7".into(),
            route: vec![format!("sip:{UAS2}"), "sip:198.51.100.8;lr".into()],
            next_hop: None,
            flow: None,
        }],
        strategy: ForkStrategy::Parallel,
        hooks: None,
    }));
    sim.send(UAC, &invite("sip:bob@example.com", "c35", ""));
    let f = sim.take(UAS2);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].request_uri_str(), Some("sip:192.0.2.21:5060"));
    let routes: Vec<_> = f[0]
        .routes()
        .map(|r| r.unwrap().uri_raw.to_string())
        .collect();
    assert_eq!(routes, ["sip:198.51.100.8;lr", "sip:bob@198.51.100.7"]);
}

#[test]
fn overload_counts_server_transactions_only() {
    // Two server transactions allowed: two INVITEs relayed (each with a
    // client transaction of its own, which do not count), the third 503.
    let mut s = settings();
    s.max_transactions = 2;
    let mut sim = Sim::with(s, FnRouter::new(|_| relay_rr()));
    sim.send(UAC, &invite(&uas1(), "ov1", ""));
    sim.send(UAC, &invite(&uas1(), "ov2", ""));
    assert_eq!(sim.take(UAS1).len(), 2, "both relayed");
    assert_eq!(sim.kinds(UAC), ["100", "100"]);
    sim.send(UAC, &invite(&uas1(), "ov3", ""));
    assert_eq!(sim.kinds(UAC), ["503"]);
    assert!(sim.take(UAS1).is_empty());
    assert_eq!(sim.proxy.stats().drops.get("overload"), Some(&1));
}

#[test]
fn stale_timers_do_not_pile_up() {
    // Each answered INVITE leaves two Timer C entries (3 minutes) behind;
    // once the calls are over the heap is compacted rather than holding
    // them until they are due.
    let mut sim = Sim::new(FnRouter::new(|_| relay_rr()));
    for i in 0..1500 {
        sim.send(UAC, &invite(&uas1(), &format!("st{i}"), ""));
        let fwd = sim.take(UAS1).remove(0);
        sim.send_bytes(UAS1, answer(&fwd, 180, "b", &[]));
        sim.send_bytes(UAS1, answer(&fwd, 200, "b", &[]));
        sim.sent.clear();
    }
    assert!(
        sim.proxy.timers_queued() > 3000,
        "{}",
        sim.proxy.timers_queued()
    );
    // The transactions end (64*T1), then one more call arms timers again.
    sim.advance(Duration::from_secs(40));
    sim.send(UAC, &invite(&uas1(), "st-last", ""));
    let queued = sim.proxy.timers_queued();
    assert!(queued < 1100, "{queued} timer entries queued");
}
