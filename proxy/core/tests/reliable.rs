//! RFC 3262 §3 in the sans-IO proxy, on a virtual clock: a router that
//! answers an INVITE with a reliable 183 gets it sent with `Require:
//! 100rel` and an `RSeq`, retransmitted after 0.5, 1, 2, 4, 8, 16 s until
//! the PRACK (answered 200 by the proxy, never seen by the router); a PRACK
//! matching nothing gets 481; no PRACK in 64*T1 rejects the INVITE with
//! 500; a UAC without 100rel gets the 183 unreliably.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use anysip_core::{Decision, Reply};
use harness::*;
use sip::{HeaderName, Message};

/// 183 reliably to every INVITE (with the router's own Require), 404 to
/// anything else the router is asked about.
fn router() -> FnRouter {
    FnRouter::new(|req| {
        if req.message.method() == Some(&sip::Method::Invite) {
            Decision::Reply(Reply {
                reason: Some("Session Progress".into()),
                headers: vec![("Require".into(), "timer".into())],
                reliable: true,
                ..Reply::status(183)
            })
        } else {
            Decision::Reply(Reply::status(404))
        }
    })
}

const RURI: &str = "sip:bob@proxy.example";

fn rseq(m: &Message) -> u32 {
    m.header_by_name("RSeq").unwrap().parse().unwrap()
}

/// A PRACK of the UAC in the early dialog of `resp` with this RAck.
fn prack(resp: &Message, call: &str, n: u32, rack: &str) -> String {
    request(
        "PRACK",
        "sip:192.0.2.1:5060",
        call,
        &format!("z9hG4bKprack{n}"),
        1 + n,
        resp.to_tag().unwrap(),
        &format!("RAck: {rack}\r\n"),
    )
}

/// Steps the clock from timer to timer for `limit`, returning what the
/// UAC got and when (seconds after the start, in ms).
fn run(sim: &mut Sim, limit: Duration) -> Vec<(u128, Message)> {
    let start = sim.now;
    let mut got = Vec::new();
    for _ in 0..1000 {
        let Some(next) = sim.proxy.poll_timeout() else {
            break;
        };
        if next > start + limit {
            break;
        }
        sim.advance(next.saturating_duration_since(sim.now));
        let at = (sim.now - start).as_millis();
        got.extend(sim.take(UAC).into_iter().map(|m| (at, m)));
    }
    sim.advance((start + limit).saturating_duration_since(sim.now));
    got
}

#[test]
fn reliable_183_has_require_100rel_and_rseq_and_is_retransmitted_until_its_prack() {
    let mut sim = Sim::new(router());
    sim.send(UAC, &invite(RURI, "r1", "Supported: 100rel, timer\r\n"));
    let got = sim.take(UAC);
    assert_eq!(got.iter().map(kind).collect::<Vec<_>>(), ["100", "183"]);
    let p = &got[1];
    assert_eq!(p.reason(), Some("Session Progress"));
    // The router's Require, with 100rel merged in.
    assert_eq!(p.header(HeaderName::Require), Some("timer, 100rel"));
    assert_eq!(p.count(HeaderName::Require), 1);
    let first = rseq(p);
    assert!((1..=(1u32 << 31) - 1).contains(&first), "{first}");
    // The early dialog: our tag and a Contact where the PRACK comes.
    assert!(p.to_tag().is_some());
    assert_eq!(p.header(HeaderName::Contact), Some("<sip:192.0.2.1:5060>"));

    // Retransmitted at 0.5 s and 1.5 s (the interval doubles).
    let again = run(&mut sim, Duration::from_millis(1600));
    let at: Vec<u128> = again.iter().map(|(t, _)| *t).collect();
    assert_eq!(at, [500, 1500]);
    for (_, m) in &again {
        assert_eq!(m.as_bytes(), p.as_bytes(), "the same response again");
    }

    // The PRACK: 200 from the proxy, the router never asked.
    sim.send(UAC, &prack(p, "r1", 1, &format!("{first} 1 INVITE")));
    let ok = sim.take(UAC);
    assert_eq!(ok.iter().map(kind).collect::<Vec<_>>(), ["200"]);
    assert_eq!(ok[0].cseq().unwrap().method, "PRACK");
    assert_eq!(sim.router_calls, 1);

    // No more retransmissions, and no 500 either.
    assert!(run(&mut sim, Duration::from_secs(40)).is_empty());
    let st = sim.proxy.stats();
    assert_eq!(st.reliable_provisionals.get("sent"), Some(&1));
    assert_eq!(st.reliable_provisionals.get("retransmitted"), Some(&2));
    assert_eq!(st.reliable_provisionals.get("acknowledged"), Some(&1));
    assert_eq!(st.reliable_provisionals.get("timed_out"), None);

    // The INVITE waits for the UAC: a CANCEL ends it, 487 in the dialog.
    let cancel = request("CANCEL", RURI, "r1", "z9hG4bK-r1", 1, "", "");
    sim.send(UAC, &cancel);
    let end = sim.take(UAC);
    assert_eq!(end.iter().map(kind).collect::<Vec<_>>(), ["200", "487"]);
    assert_eq!(end[1].to_tag(), p.to_tag());
}

#[test]
fn without_a_prack_the_183_goes_at_0_5_1_5_3_5_7_5_15_5_31_5_s_then_500_at_32_s() {
    let mut sim = Sim::new(router());
    sim.send(UAC, &invite(RURI, "r2", "Require: 100rel\r\n"));
    let got = sim.take(UAC);
    assert_eq!(got.iter().map(kind).collect::<Vec<_>>(), ["100", "183"]);
    let tag = got[1].to_tag().unwrap().to_owned();
    let seen = run(&mut sim, Duration::from_millis(32_100));
    let sent: Vec<(u128, String)> = seen.iter().map(|(t, m)| (*t, kind(m))).collect();
    let want: Vec<(u128, String)> = [500, 1500, 3500, 7500, 15500, 31500]
        .into_iter()
        .map(|t| (t, "183".to_owned()))
        .chain([(32000, "500".to_owned())])
        .collect();
    assert_eq!(sent, want);
    let reject = &seen.last().unwrap().1;
    assert_eq!(reject.reason(), Some("No PRACK Received"));
    assert_eq!(
        reject.to_tag(),
        Some(tag.as_str()),
        "the 183's early dialog"
    );
    let st = sim.proxy.stats();
    assert_eq!(st.reliable_provisionals.get("timed_out"), Some(&1));
    assert_eq!(st.reliable_provisionals.get("retransmitted"), Some(&6));

    // The 500 is retransmitted until its ACK; then everything ends.
    let ack = request("ACK", RURI, "r2", "z9hG4bK-r2", 1, &tag, "");
    sim.send(UAC, &ack);
    sim.take(UAC);
    run(&mut sim, Duration::from_secs(40));
    assert!(sim.proxy.is_idle(), "{:?}", sim.proxy.stats());
}

#[test]
fn a_prack_matching_nothing_gets_481_and_a_bad_rack_400() {
    let mut sim = Sim::new(router());
    sim.send(UAC, &invite(RURI, "r3", "Supported: 100rel\r\n"));
    let p = sim.take(UAC).remove(1);
    let n = rseq(&p);
    // Wrong RSeq, wrong CSeq number, wrong method: 481, still unacknowledged.
    for (i, rack) in [
        format!("{} 1 INVITE", n.wrapping_add(1)),
        format!("{n} 2 INVITE"),
        format!("{n} 1 UPDATE"),
    ]
    .iter()
    .enumerate()
    {
        sim.send(UAC, &prack(&p, "r3", i as u32 + 1, rack));
        assert_eq!(sim.kinds(UAC), ["481"], "{rack}");
    }
    sim.send(UAC, &prack(&p, "r3", 4, "one 1 INVITE"));
    let bad = sim.take(UAC);
    assert_eq!(bad.iter().map(kind).collect::<Vec<_>>(), ["400"]);
    assert_eq!(bad[0].reason(), Some("Missing or Bad RAck"));
    let again = run(&mut sim, Duration::from_millis(600));
    assert_eq!(again.len(), 1, "still retransmitted");

    // The right one: 200; the same RAck again (a new PRACK): 481.
    sim.send(UAC, &prack(&p, "r3", 5, &format!("{n} 1 INVITE")));
    assert_eq!(sim.kinds(UAC), ["200"]);
    sim.send(UAC, &prack(&p, "r3", 6, &format!("{n} 1 INVITE")));
    assert_eq!(sim.kinds(UAC), ["481"]);
    assert_eq!(sim.router_calls, 1, "no PRACK reached the router");
    assert_eq!(
        sim.proxy
            .stats()
            .reliable_provisionals
            .get("unmatched_prack"),
        Some(&4)
    );
}

#[test]
fn a_prack_of_another_dialog_goes_to_the_router() {
    let mut sim = Sim::new(router());
    sim.send(UAC, &invite(RURI, "r4", "Supported: 100rel\r\n"));
    sim.take(UAC);
    let other = request(
        "PRACK",
        RURI,
        "r4",
        "z9hG4bKother",
        2,
        "someone-else",
        "RAck: 1 1 INVITE\r\n",
    );
    sim.send(UAC, &other);
    assert_eq!(sim.kinds(UAC), ["404"], "the router's answer");
    assert_eq!(sim.router_calls, 2);
}

#[test]
fn a_final_response_stops_the_retransmissions_and_a_late_prack_still_gets_200() {
    let mut sim = Sim::new(router());
    sim.send(UAC, &invite(RURI, "r5", "Supported: 100rel\r\n"));
    let p = sim.take(UAC).remove(1);
    let cancel = request("CANCEL", RURI, "r5", "z9hG4bK-r5", 1, "", "");
    sim.send(UAC, &cancel);
    assert_eq!(sim.kinds(UAC), ["200", "487"]);
    let ack = request("ACK", RURI, "r5", "z9hG4bK-r5", 1, p.to_tag().unwrap(), "");
    sim.send(UAC, &ack);
    let later = run(&mut sim, Duration::from_secs(2));
    assert!(later.is_empty(), "{later:?}");
    sim.send(UAC, &prack(&p, "r5", 1, &format!("{} 1 INVITE", rseq(&p))));
    assert_eq!(sim.kinds(UAC), ["200"]);
    assert!(run(&mut sim, Duration::from_secs(40)).is_empty());
    assert!(sim.proxy.is_idle(), "{:?}", sim.proxy.stats());
}

#[test]
fn without_100rel_from_the_uac_the_183_goes_unreliably() {
    let mut sim = Sim::new(router());
    sim.send(UAC, &invite(RURI, "r6", "Supported: timer\r\n"));
    let got = sim.take(UAC);
    assert_eq!(got.iter().map(kind).collect::<Vec<_>>(), ["100", "183"]);
    assert_eq!(got[1].header_by_name("RSeq"), None);
    assert_eq!(got[1].header(HeaderName::Require), Some("timer"));
    assert!(run(&mut sim, Duration::from_secs(40)).is_empty());
    let st = sim.proxy.stats();
    assert_eq!(st.reliable_provisionals.get("unreliable"), Some(&1));
    assert_eq!(st.reliable_provisionals.get("sent"), None);
}

#[test]
fn each_invite_gets_its_own_first_rseq() {
    // Two INVITEs: each transaction has its own random first RSeq.
    let mut sim = Sim::new(router());
    sim.send(UAC, &invite(RURI, "r7", "Supported: 100rel\r\n"));
    let a = rseq(&sim.take(UAC)[1]);
    sim.send(UAC, &invite(RURI, "r8", "Supported: 100rel\r\n"));
    let b = rseq(&sim.take(UAC)[1]);
    assert_ne!(a, b);
}

#[test]
fn over_tcp_the_183_is_retransmitted_too() {
    // RFC 3262 §3 makes no exception for reliable transports: the PRACK is
    // what tells the UAS the UAC has the response.
    let mut sim = Sim::new(router());
    let inv = invite(RURI, "r9", "Supported: 100rel\r\n").replace("UDP", "TCP");
    sim.send_tcp(UAC, 3, &inv);
    let got = sim.take_sent(UAC);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].msg.status(), Some(183));
    assert_eq!(got[1].flow.connection, 3);
    let again = run(&mut sim, Duration::from_millis(600));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1.as_bytes(), got[1].msg.as_bytes());
}
