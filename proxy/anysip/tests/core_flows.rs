//! RFC 5626 §5.3 with the shipped `deploy/scripts/proxy_default.py` (the
//! core's proxy does it for every script that relays to bindings): a UE
//! instance registered with two flows (reg-id 1 and 2) is called on one
//! flow only, the most recently registered; when that flow answers 430 Flow
//! Failed (what an edge answers for a flow it lost) the core tries the
//! instance's other flow, and the call completes there. With a second
//! instance of the same AoR, the call goes to one flow of each instance at
//! once. The UEs are UDP sockets registered straight at the core (digest),
//! so the core is their first hop and applies outbound.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use bytes::Bytes;
use harness::{http_status, wait_for};
use lab::{core_yaml, deploy_script, dump_logs, scratch, start, AUTH};
use sip::digest::{Challenge, ClientRequest, NonceCount, Secret};
use sip::{Framing, Limits, Message};

const CORE: &str = "127.0.0.1:15690";
const CORE_ADMIN: &str = "127.0.0.1:19690";

fn socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s
}

/// The next SIP message on `s` within `limit` that is not a 100 Trying.
fn next(s: &UdpSocket, limit: Duration) -> Option<Message> {
    let t0 = Instant::now();
    let mut buf = [0u8; 8192];
    while t0.elapsed() < limit {
        let Ok(n) = s.recv(&mut buf) else { continue };
        let m = Message::parse(
            Bytes::copy_from_slice(&buf[..n]),
            Framing::Datagram,
            &Limits::default(),
        )
        .unwrap();
        if m.status() != Some(100) {
            return Some(m);
        }
    }
    None
}

fn method(m: &Message) -> String {
    m.method()
        .map(|x| x.as_str().to_owned())
        .unwrap_or_default()
}

/// The next INVITE of call `n` on `s` within `limit` (ACKs of earlier
/// answers and retransmissions of earlier INVITEs skipped).
fn next_invite(s: &UdpSocket, n: u32, limit: Duration) -> Option<Message> {
    let t0 = Instant::now();
    let call_id = format!("flows-call-{n}@test");
    while t0.elapsed() < limit {
        let m = next(s, limit.saturating_sub(t0.elapsed()))?;
        if method(&m) == "INVITE" && m.header_by_name("Call-ID") == Some(call_id.as_str()) {
            return Some(m);
        }
    }
    None
}

/// Registers a flow of `instance` with `reg_id` from `s`, with digest.
fn register(s: &UdpSocket, instance: &str, reg_id: u32) {
    let local = s.local_addr().unwrap();
    let msg = |cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-flow-{reg_id}-{cseq}-{}\r\n\
             From: <sip:bob@domain.local>;tag=f{reg_id}\r\nTo: <sip:bob@domain.local>\r\n\
             Call-ID: flow-{instance}-{reg_id}@test\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:bob@{local};ob>;+sip.instance=\"<urn:uuid:{instance}>\";reg-id={reg_id}\r\n\
             Supported: outbound, path\r\n{auth}Expires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            local.port()
        )
    };
    s.send_to(msg(1, "").as_bytes(), CORE).unwrap();
    let challenge = next(s, Duration::from_secs(5)).expect("401 to REGISTER");
    assert_eq!(challenge.status(), Some(401), "{challenge:?}");
    let c = Challenge::parse(challenge.header_by_name("WWW-Authenticate").unwrap()).unwrap();
    let creds = c
        .respond(
            "bob",
            Secret::Password("bob"),
            &ClientRequest {
                method: "REGISTER",
                uri: "sip:domain.local",
                cnonce: "f10f10f1",
                nc: NonceCount::FIRST,
            },
        )
        .unwrap();
    s.send_to(
        msg(2, &format!("Authorization: {creds}\r\n")).as_bytes(),
        CORE,
    )
    .unwrap();
    let ok = next(s, Duration::from_secs(5)).expect("200 to REGISTER");
    assert_eq!(ok.status(), Some(200), "{ok:?}");
}

/// alice's INVITE to bob, from `a`.
fn invite(a: &UdpSocket, n: u32) {
    let local = a.local_addr().unwrap();
    let msg = format!(
        "INVITE sip:bob@domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-alice-{n}\r\n\
         From: <sip:alice@domain.local>;tag=a{n}\r\nTo: <sip:bob@domain.local>\r\n\
         Call-ID: flows-call-{n}@test\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{local}>\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    a.send_to(msg.as_bytes(), CORE).unwrap();
}

/// Answers the INVITE `m` received on `s` with `status`.
fn answer(s: &UdpSocket, m: &Message, status: u16) {
    let local = s.local_addr().unwrap();
    let r = sip::response::response(m, status)
        .unwrap()
        .to_tag("bob")
        .header("Contact", &format!("<sip:bob@{local}>"))
        .build();
    // Back to the core, which is the top Via.
    s.send_to(&r, CORE).unwrap();
}

/// The first final response `a` gets.
fn final_status(a: &UdpSocket) -> u16 {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if let Some(m) = next(a, Duration::from_secs(1)) {
            if let Some(s) = m.status().filter(|s| *s >= 200) {
                return s;
            }
        }
    }
    panic!("no final response within 10 s");
}

#[test]
fn one_flow_per_instance_and_the_next_flow_after_430() {
    let dir = scratch("core-flows");
    let _core = start(
        &dir,
        "core",
        &core_yaml(CORE, CORE_ADMIN, &deploy_script("proxy_default.py"), AUTH),
    );
    wait_for("core ready", Duration::from_secs(20), || {
        http_status(CORE_ADMIN, "GET", "/admin/ready") == Some(200)
    });
    let (flow1, flow2, alice) = (socket(), socket(), socket());
    let uuid = "00000000-0000-4000-8000-0000000000b1";
    register(&flow1, uuid, 1);
    // Bindings are ordered by when they were registered (seconds).
    std::thread::sleep(Duration::from_millis(1100));
    register(&flow2, uuid, 2);

    // The call goes to the most recent flow only.
    invite(&alice, 1);
    let Some(first) = next_invite(&flow2, 1, Duration::from_secs(5)) else {
        dump_logs(&dir);
        panic!("the INVITE did not reach flow 2 (the most recent)");
    };
    assert!(
        next_invite(&flow1, 1, Duration::from_millis(500)).is_none(),
        "flow 1 got the INVITE too: one flow per instance at a time"
    );
    // That flow failed: the core tries the instance's other flow.
    answer(&flow2, &first, 430);
    let Some(second) = next_invite(&flow1, 1, Duration::from_secs(5)) else {
        dump_logs(&dir);
        panic!("after 430 on flow 2 the INVITE did not reach flow 1");
    };
    answer(&flow1, &second, 200);
    assert_eq!(final_status(&alice), 200, "the call completes on flow 1");

    // A second instance of bob: one flow of each instance, at once.
    let other = socket();
    register(&other, "00000000-0000-4000-8000-0000000000b2", 1);
    invite(&alice, 2);
    let to_other =
        next_invite(&other, 2, Duration::from_secs(5)).expect("INVITE to the other instance");
    let mut to_bob = None;
    for s in [&flow1, &flow2] {
        if let Some(m) = next_invite(s, 2, Duration::from_millis(700)) {
            assert!(
                to_bob.is_none(),
                "both flows of one instance got the INVITE"
            );
            to_bob = Some((s, m));
        }
    }
    let (s, m) = to_bob.expect("one flow of the first instance got the INVITE");
    answer(&other, &to_other, 486);
    answer(s, &m, 486);
    assert_eq!(final_status(&alice), 486);
}
