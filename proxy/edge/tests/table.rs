//! DESIGN §6, row by row, on the sans-IO edge.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use bytes::Bytes;
use edge::{Action, Backends, DropReason, Edge, EdgeSettings, Flow, Target};
use sip::response::response;
use sip::{Framing, HeaderName, Limits, Message};
use tokencodec::{Backend, KeyId, KeyRing, TokenCodec, Transport};

const NOW: u64 = 1_800_000_000;
const UE: &str = "198.51.100.7:5062";
const BACKEND: &str = "10.0.0.20:5070";

struct Group {
    up: bool,
    picks: Vec<(Vec<u8>, bool)>,
}

impl Backends for Group {
    fn backend_of(&self, source: SocketAddr, transport: Transport) -> Option<Backend> {
        (source == BACKEND.parse::<SocketAddr>().unwrap()).then_some(Backend {
            transport,
            addr: source,
        })
    }
    fn select(&mut self, key: &[u8], sticky: bool) -> Option<Backend> {
        self.picks.push((key.to_vec(), sticky));
        self.up.then(|| Backend {
            transport: Transport::Udp,
            addr: BACKEND.parse().unwrap(),
        })
    }
}

fn settings() -> EdgeSettings {
    EdgeSettings {
        instance_id: 7,
        ue_facing: "192.0.2.10:5060".parse().unwrap(),
        backend_facing: "10.0.0.10:5060".parse().unwrap(),
        retry_after_secs: 30,
        selection_key: edge::SelectionKey::ToAor,
        udp_max_request: 1300,
        stream_ports: edge::StreamPorts {
            tls: Some(5061),
            ..Default::default()
        },
    }
}

fn edge_with(ring: KeyRing) -> Edge {
    Edge::new(
        TokenCodec::new(ring, tokencodec::Limits::default()),
        settings(),
        Limits::default(),
    )
}

fn edge() -> Edge {
    edge_with(KeyRing::generate(KeyId(1)).unwrap())
}

fn group() -> Group {
    Group {
        up: true,
        picks: vec![],
    }
}

fn from(addr: &str, transport: Transport) -> Flow {
    let local = if addr == BACKEND {
        "10.0.0.10:5060"
    } else {
        "192.0.2.10:5060"
    };
    Flow {
        transport,
        remote: addr.parse().unwrap(),
        local: local.parse().unwrap(),
        connection: 99,
    }
}

fn invite(method: &str, cseq_method: &str, extra: &str) -> Bytes {
    Bytes::from(format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.1.1.1:5062;rport;branch=z9hG4bKue1\r\n\
         Max-Forwards: 70\r\n{extra}\
         To: <sip:Bob@Example.com>\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         Call-ID: call-1\r\n\
         CSeq: 1 {cseq_method}\r\n\
         Contact: <sip:alice@10.1.1.1:5062>\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

fn parse(b: &Bytes) -> Message {
    Message::parse(b.clone(), Framing::Datagram, &Limits::default()).unwrap()
}

fn forwarded(a: Action) -> (Target, Message, Option<Bytes>) {
    match a {
        Action::Forward {
            target,
            bytes,
            failed,
        } => (target, parse(&bytes), failed),
        other => panic!("expected Forward, got {other:?}"),
    }
}

fn replied(a: Action) -> Message {
    match a {
        Action::Reply { bytes, .. } => parse(&bytes),
        other => panic!("expected Reply, got {other:?}"),
    }
}

fn ue_flow_target(t: Target) -> tokencodec::Flow {
    match t {
        Target::Flow(f) => f,
        other => panic!("expected a flow, got {other:?}"),
    }
}

#[test]
fn initial_invite_goes_to_a_backend_with_via_and_double_record_route() {
    let e = edge();
    let mut g = group();
    let (target, m, _) = forwarded(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    assert_eq!(
        target,
        Target::Backend(Backend {
            transport: Transport::Udp,
            addr: BACKEND.parse().unwrap()
        })
    );
    assert_eq!(g.picks, vec![(b"Bob@example.com".to_vec(), true)]);
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[0].host_raw, "10.0.0.10");
    assert!(vias[0].branch().unwrap().starts_with("z9hG4bK"));
    assert!(vias[0].params.value("atk").is_some());
    assert_eq!(vias[1].received(), Some("198.51.100.7".parse().unwrap()));
    assert_eq!(vias[1].rport(), Some(Some(5062)));
    let rr: Vec<_> = m
        .record_routes()
        .map(|r| r.unwrap().uri_raw.to_string())
        .collect();
    assert_eq!(rr.len(), 2);
    assert!(rr[0].contains("@10.0.0.10:5060;lr"), "{rr:?}");
    assert!(rr[1].contains("@192.0.2.10:5060;lr"), "{rr:?}");
    assert_eq!(m.max_forwards().unwrap(), Some(69));
    // Nothing of the UE's address is readable in what the edge added.
    let added = format!("{}{}", rr.join(""), vias[0].as_str());
    assert!(!added.contains("198.51.100.7") && !added.contains("10.0.0.20"));
}

#[test]
fn selection_keys() {
    for (key, want) in [
        (edge::SelectionKey::ToAor, b"Bob@example.com".to_vec()),
        (edge::SelectionKey::FromAor, b"alice@example.com".to_vec()),
        (edge::SelectionKey::CallId, b"call-1".to_vec()),
        (
            edge::SelectionKey::RequestUri,
            b"sip:bob@example.com".to_vec(),
        ),
    ] {
        let e = Edge::new(
            TokenCodec::new(
                KeyRing::generate(KeyId(1)).unwrap(),
                tokencodec::Limits::default(),
            ),
            EdgeSettings {
                selection_key: key,
                ..settings()
            },
            Limits::default(),
        );
        let mut g = group();
        let _ = e.handle(
            invite("INVITE", "INVITE", ""),
            &from(UE, Transport::Udp),
            &mut g,
            NOW,
        );
        assert_eq!(g.picks[0].0, want, "{key:?}");
    }
}

#[test]
fn response_follows_the_via_token_back_to_the_ue_flow() {
    let e = edge();
    let mut g = group();
    let (_, fwd, _) = forwarded(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    let ok = response(&fwd, 200).unwrap().to_tag("b1").build();
    let (target, m, _) = forwarded(e.handle(ok, &from(BACKEND, Transport::Udp), &mut g, NOW));
    let flow = ue_flow_target(target);
    assert_eq!(flow.ue, UE.parse().unwrap());
    assert_eq!(flow.local, "192.0.2.10:5060".parse().unwrap());
    assert_eq!(m.vias().count(), 1);
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bKue1"));
    // Any instance with the key ring routes it the same way.
    let other = edge_with(e.codec().key_ring().clone());
    let ok = response(&fwd, 180).unwrap().to_tag("b1").build();
    let (target2, _, _) = forwarded(other.handle(ok, &from(BACKEND, Transport::Udp), &mut g, NOW));
    assert_eq!(ue_flow_target(target2), flow);
}

#[test]
fn in_dialog_requests_use_the_record_route_token_both_ways() {
    let e = edge();
    let mut g = group();
    let (_, fwd, _) = forwarded(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    let rr: Vec<String> = fwd
        .record_routes()
        .map(|r| r.unwrap().as_str().to_string())
        .collect();
    // The UE (caller) uses the Record-Route reversed; the callee in order.
    let ue_routes = format!("Route: {}, {}\r\n", rr[1], rr[0]);
    let bye = invite("BYE", "BYE", &ue_routes);
    let mut g2 = Group {
        up: false,
        picks: vec![],
    };
    let (target, m, _) = forwarded(e.handle(bye, &from(UE, Transport::Udp), &mut g2, NOW));
    assert_eq!(
        target,
        Target::Backend(Backend {
            transport: Transport::Udp,
            addr: BACKEND.parse().unwrap()
        })
    );
    assert!(g2.picks.is_empty(), "no selection for in-dialog requests");
    assert_eq!(m.routes().count(), 0);
    // From the backend: to the UE's flow.
    let callee_routes = format!("Route: {}, {}\r\n", rr[0], rr[1]);
    let bye = invite("BYE", "BYE", &callee_routes);
    let (target, m, failed) =
        forwarded(e.handle(bye, &from(BACKEND, Transport::Udp), &mut g2, NOW));
    assert_eq!(ue_flow_target(target).ue, UE.parse().unwrap());
    assert!(failed.is_none(), "UDP flows do not fail");
    assert_eq!(m.routes().count(), 0);
    assert_eq!(m.top_via().unwrap().host_raw, "192.0.2.10");
    // The UE's answer to it goes back to the backend.
    let ok = response(&m, 200).unwrap().build();
    let (target, _, _) = forwarded(e.handle(ok, &from(UE, Transport::Udp), &mut g2, NOW));
    assert_eq!(
        target,
        Target::Backend(Backend {
            transport: Transport::Udp,
            addr: BACKEND.parse().unwrap()
        })
    );
}

#[test]
fn tampered_or_foreign_tokens_get_403_and_nothing_is_forwarded() {
    let e = edge();
    let mut g = group();
    let (_, fwd, _) = forwarded(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    let rr = fwd
        .record_routes()
        .next()
        .unwrap()
        .unwrap()
        .as_str()
        .to_string();
    let at = rr.find('@').unwrap();
    let mut bad = rr.clone().into_bytes();
    bad[at - 3] = if bad[at - 3] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    let m = replied(e.handle(
        invite("BYE", "BYE", &format!("Route: {bad}\r\n")),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    assert_eq!(m.status(), Some(403));
    // A key ring without the key: 403 too.
    let stranger = edge();
    let m = replied(stranger.handle(
        invite("BYE", "BYE", &format!("Route: {rr}\r\n")),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    assert_eq!(m.status(), Some(403));
}

#[test]
fn not_an_open_relay() {
    let e = edge();
    let mut g = group();
    // A backend's request without the edge's token.
    let m = replied(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(BACKEND, Transport::Udp),
        &mut g,
        NOW,
    ));
    assert_eq!(m.status(), Some(403));
    // A UE using a Path (flow) token to reach another UE.
    let (_, reg, _) = forwarded(e.handle(
        invite("REGISTER", "REGISTER", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    let path = reg.paths().next().unwrap().unwrap().as_str().to_string();
    let m = replied(e.handle(
        invite("INVITE", "INVITE", &format!("Route: {path}\r\n")),
        &from("203.0.113.9:5060", Transport::Udp),
        &mut g,
        NOW,
    ));
    assert_eq!(m.status(), Some(403));
}

#[test]
fn register_gets_path_and_requests_through_it_record_route() {
    let e = edge();
    let mut g = group();
    let (target, m, _) = forwarded(e.handle(
        invite("REGISTER", "REGISTER", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    assert!(matches!(target, Target::Backend(_)));
    let path = m.paths().next().unwrap().unwrap();
    let uri = path.uri().unwrap();
    let sip = uri.as_sip().unwrap();
    assert!(sip.params.has("ob") && sip.params.has("lr"));
    assert_eq!(sip.host_raw, "10.0.0.10");
    let flow = e.codec().open_flow(sip.user.unwrap(), NOW).unwrap().token;
    assert_eq!(flow.ue, UE.parse().unwrap());
    assert_eq!(m.record_routes().count(), 0);
    // The core routes to the UE through the Path: the request arrives with it as Route.
    let to_ue = invite("INVITE", "INVITE", &format!("Route: {}\r\n", path.as_str()));
    let (target, m, _) = forwarded(e.handle(to_ue, &from(BACKEND, Transport::Udp), &mut g, NOW));
    assert_eq!(ue_flow_target(target).ue, UE.parse().unwrap());
    assert_eq!(m.routes().count(), 0);
    // It record-routes, facing the UE first.
    let rr: Vec<String> = m
        .record_routes()
        .map(|r| r.unwrap().as_str().to_string())
        .collect();
    assert_eq!(rr.len(), 2);
    assert!(
        rr[0].contains("@192.0.2.10:5060") && rr[1].contains("@10.0.0.10:5060"),
        "{rr:?}"
    );
    // The UE (callee) routes its in-dialog requests along it, to that backend.
    let mut none = Group {
        up: false,
        picks: vec![],
    };
    let bye = invite(
        "BYE",
        "BYE",
        &format!("Route: {}, {}\r\nX-Dummy: 1\r\n", rr[0], rr[1]),
    );
    let (target, m, _) = forwarded(e.handle(bye, &from(UE, Transport::Udp), &mut none, NOW));
    assert_eq!(
        target,
        Target::Backend(Backend {
            transport: Transport::Udp,
            addr: BACKEND.parse().unwrap()
        })
    );
    assert_eq!(m.routes().count(), 0);
}

#[test]
fn max_forwards_options_self_and_no_backend() {
    let e = edge();
    let mut g = group();
    let zero = Bytes::from(
        String::from_utf8(invite("INVITE", "INVITE", "").to_vec())
            .unwrap()
            .replace("Max-Forwards: 70", "Max-Forwards: 0"),
    );
    assert_eq!(
        replied(e.handle(zero, &from(UE, Transport::Udp), &mut g, NOW)).status(),
        Some(483)
    );
    let opts = Bytes::from_static(b"OPTIONS sip:192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKmon\r\nMax-Forwards: 0\r\nTo: <sip:192.0.2.10>\r\nFrom: <sip:mon@example.net>;tag=m\r\nCall-ID: mon-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    let m = replied(e.handle(opts, &from("203.0.113.5:5060", Transport::Udp), &mut g, NOW));
    assert_eq!(m.status(), Some(200));
    assert!(m.to_tag().is_some());
    let mut down = Group {
        up: false,
        picks: vec![],
    };
    let m = replied(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut down,
        NOW,
    ));
    assert_eq!(m.status(), Some(503));
    assert_eq!(m.header(HeaderName::RetryAfter), Some("30"));
}

#[test]
fn foreign_responses_are_dropped() {
    let e = edge();
    let mut g = group();
    let resp = Bytes::from_static(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bKforged;atk=AAAA\r\nVia: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1\r\nTo: <sip:a@b>;tag=1\r\nFrom: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        e.handle(resp, &from(BACKEND, Transport::Udp), &mut g, NOW),
        Action::Drop(DropReason::ForeignVia)
    );
}

#[test]
fn retransmissions_cancel_and_ack_share_the_branch_and_backend() {
    let e = edge();
    let mut g = group();
    let branch = |a: Action| {
        forwarded(a)
            .1
            .top_via()
            .unwrap()
            .branch()
            .unwrap()
            .to_string()
    };
    let b1 = branch(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    let b2 = branch(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW + 3,
    ));
    let other = edge_with(e.codec().key_ring().clone());
    let b3 = branch(other.handle(
        invite("CANCEL", "CANCEL", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW + 5,
    ));
    let b4 = branch(other.handle(
        invite("ACK", "ACK", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW + 5,
    ));
    assert_eq!(b1, b2);
    assert_eq!(b1, b3);
    assert_eq!(b1, b4);
    assert_eq!(
        g.picks.iter().map(|p| p.1).collect::<Vec<_>>(),
        vec![true, true, true, true]
    );
    // Other requests follow the group's algorithm.
    let mut g2 = group();
    let _ = e.handle(
        invite("MESSAGE", "MESSAGE", ""),
        &from(UE, Transport::Udp),
        &mut g2,
        NOW,
    );
    assert!(!g2.picks[0].1);
}

#[test]
fn a_request_that_loops_back_gets_482() {
    let e = edge();
    let mut g = group();
    let (_, fwd, _) = forwarded(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    // The same request comes back in with the edge's Via below a new one.
    let text = String::from_utf8(fwd.as_bytes().to_vec()).unwrap();
    let again = text.replacen(
        "Via: ",
        "Via: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKloop\r\nVia: ",
        1,
    );
    let m = Message::parse(Bytes::from(again), Framing::Datagram, &Limits::default()).unwrap();
    // Its top Via changed, so the branch changed: a spiral, not a loop.
    let a = e.handle(m.as_bytes().clone(), &from(UE, Transport::Udp), &mut g, NOW);
    assert!(matches!(a, Action::Forward { .. }));
    // The same top Via as the original: the edge would add a Via it already added.
    let looped = text.replacen(
        "Via: SIP/2.0/UDP 10.0.0.10",
        "Via: SIP/2.0/UDP 10.1.1.1:5062;rport;branch=z9hG4bKue1\r\nVia: SIP/2.0/UDP 10.0.0.10",
        1,
    );
    let m = replied(e.handle(Bytes::from(looped), &from(UE, Transport::Udp), &mut g, NOW));
    assert_eq!(m.status(), Some(482));
}

#[test]
fn stream_flows_carry_instance_and_connection_and_can_fail() {
    let e = edge();
    let mut g = group();
    let (_, fwd, _) = forwarded(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Tls),
        &mut g,
        NOW,
    ));
    let rr: Vec<String> = fwd
        .record_routes()
        .map(|r| r.unwrap().as_str().to_string())
        .collect();
    assert!(rr[1].contains("transport=tls"), "{rr:?}");
    let ok = response(&fwd, 200).unwrap().to_tag("b").build();
    let (target, _, _) = forwarded(e.handle(ok, &from(BACKEND, Transport::Udp), &mut g, NOW));
    let flow = ue_flow_target(target);
    assert_eq!(
        (flow.transport, flow.instance, flow.connection),
        (Transport::Tls, 7, 99)
    );
    let bye = invite("BYE", "BYE", &format!("Route: {}, {}\r\n", rr[0], rr[1]));
    let (_, _, failed) = forwarded(e.handle(bye, &from(BACKEND, Transport::Udp), &mut g, NOW));
    let failed = parse(&failed.unwrap());
    assert_eq!(failed.status(), Some(430));
}

#[test]
fn malformed_input_is_answered_or_dropped() {
    let e = edge();
    let mut g = group();
    let a = e.handle(
        Bytes::from_static(b"\x00\x01garbage"),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    );
    assert!(matches!(a, Action::Drop(DropReason::Unparseable(_))));
    let bad = Bytes::from(
        String::from_utf8(invite("INVITE", "INVITE", "").to_vec())
            .unwrap()
            .replace("CSeq: 1 INVITE", "CSeq: 1 BYE"),
    );
    assert_eq!(
        replied(e.handle(bad, &from(UE, Transport::Udp), &mut g, NOW)).status(),
        Some(400)
    );
    let nocl = Bytes::from(
        String::from_utf8(invite("INVITE", "INVITE", "").to_vec())
            .unwrap()
            .replace("Content-Length: 0\r\n", ""),
    );
    match e.handle(nocl, &from(UE, Transport::Tcp), &mut g, NOW) {
        Action::Reply { bytes, close } => {
            assert!(close);
            assert_eq!(parse(&bytes).status(), Some(400));
        }
        other => panic!("{other:?}"),
    }
    // On WebSocket the 400 leaves the connection open: each frame is one
    // message, so the next one is still framed.
    let bad = Bytes::from(
        String::from_utf8(invite("INVITE", "INVITE", "").to_vec())
            .unwrap()
            .replace("CSeq: 1 INVITE", "CSeq: 1 BYE"),
    );
    match e.handle(bad, &from(UE, Transport::Ws), &mut g, NOW) {
        Action::Reply { bytes, close } => {
            assert!(!close);
            assert_eq!(parse(&bytes).status(), Some(400));
        }
        other => panic!("{other:?}"),
    }
}

/// A UE configured with the edge as outbound proxy sends its requests with
/// `Route: <sip:edge;lr>`: the edge removes its own Route (RFC 3261 §16.4)
/// and treats the request as an initial one, and an in-dialog request
/// with the plain Route above the edge's token Routes follows the tokens.
#[test]
fn outbound_proxy_route_to_the_edge_is_removed() {
    let e = edge();
    let mut g = group();
    let reg = invite(
        "REGISTER",
        "REGISTER",
        "Route: <sip:192.0.2.10;lr>, <sip:proxy.example.net;lr>\r\n",
    );
    let (target, m, _) = forwarded(e.handle(reg, &from(UE, Transport::Udp), &mut g, NOW));
    assert!(matches!(target, Target::Backend(_)));
    let routes: Vec<String> = m
        .routes()
        .map(|r| r.unwrap().as_str().to_string())
        .collect();
    assert_eq!(
        routes,
        ["<sip:proxy.example.net;lr>"],
        "only the edge's own Route is removed"
    );
    assert_eq!(m.paths().count(), 1, "Path added as for any REGISTER");

    // In dialog: plain Route, then the edge's Record-Route tokens.
    let (_, m, _) = forwarded(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    let rr: Vec<String> = m
        .record_routes()
        .map(|r| r.unwrap().as_str().to_string())
        .collect();
    let mut none = Group {
        up: false,
        picks: vec![],
    };
    let bye = invite(
        "BYE",
        "BYE",
        &format!("Route: <sip:192.0.2.10:5060;lr>, {}, {}\r\n", rr[0], rr[1]),
    );
    let (target, m, _) = forwarded(e.handle(bye, &from(UE, Transport::Udp), &mut none, NOW));
    assert!(matches!(target, Target::Backend(_)), "{target:?}");
    assert_eq!(m.routes().count(), 0);
}

#[test]
fn an_ack_the_edge_would_reject_is_absorbed() {
    // No healthy backend: an INVITE gets 503, and the ACK to that 503 (or
    // any ACK) is never answered: it is absorbed and counted as such.
    let e = edge();
    let mut down = Group {
        up: false,
        picks: vec![],
    };
    let a = e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut down,
        NOW,
    );
    assert!(matches!(a, Action::Reply { .. }), "{a:?}");
    let a = e.handle(
        invite("ACK", "ACK", ""),
        &from(UE, Transport::Udp),
        &mut down,
        NOW,
    );
    assert!(matches!(a, Action::Drop(DropReason::AckAbsorbed)), "{a:?}");
    assert_eq!(DropReason::AckAbsorbed.label(), "ack_absorbed");
}

/// A group whose one backend is reached over `transport`.
struct StreamGroup(Transport);

impl Backends for StreamGroup {
    fn backend_of(&self, source: SocketAddr, transport: Transport) -> Option<Backend> {
        (source.ip() == BACKEND.parse::<SocketAddr>().unwrap().ip()).then_some(Backend {
            transport,
            addr: BACKEND.parse().unwrap(),
        })
    }
    fn select(&mut self, _key: &[u8], _sticky: bool) -> Option<Backend> {
        Some(Backend {
            transport: self.0,
            addr: BACKEND.parse().unwrap(),
        })
    }
}

#[test]
fn a_request_too_large_for_udp_goes_over_tcp_or_gets_513() {
    // RFC 3261 §18.1.1: over 1300 octets (MTU 1500 less 200) to a UDP
    // backend, the request goes over TCP to the same address; its Via
    // says so, and the edge's answer if TCP fails is 513.
    let e = edge();
    let body = "v=0\r\n".repeat(300);
    let extra = "Content-Type: application/sdp\r\n";
    let big = Bytes::from(
        String::from_utf8(invite("INVITE", "INVITE", extra).to_vec())
            .unwrap()
            .replace(
                "Content-Length: 0\r\n\r\n",
                &format!("Content-Length: {}\r\n\r\n{body}", body.len()),
            ),
    );
    let (target, m, failed) =
        forwarded(e.handle(big, &from(UE, Transport::Udp), &mut group(), NOW));
    assert_eq!(
        target,
        Target::Backend(Backend {
            transport: Transport::Tcp,
            addr: BACKEND.parse().unwrap()
        })
    );
    assert_eq!(m.top_via().unwrap().transport, "TCP");
    let failed = parse(&failed.expect("a 513 to answer with"));
    assert_eq!(failed.status(), Some(513));
    // A small one stays on UDP with nothing to answer if it is lost.
    let (target, m, failed) = forwarded(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut group(),
        NOW,
    ));
    assert!(matches!(target, Target::Backend(b) if b.transport == Transport::Udp));
    assert_eq!(m.top_via().unwrap().transport, "UDP");
    assert!(failed.is_none());
}

#[test]
fn stream_backends_get_their_transport_in_via_path_and_a_503_if_unreachable() {
    let e = edge();
    let mut g = StreamGroup(Transport::Tls);
    let (target, m, failed) = forwarded(e.handle(
        invite("INVITE", "INVITE", ""),
        &from(UE, Transport::Udp),
        &mut g,
        NOW,
    ));
    assert!(matches!(target, Target::Backend(b) if b.transport == Transport::Tls));
    assert_eq!(m.top_via().unwrap().transport, "TLS");
    assert_eq!(parse(&failed.unwrap()).status(), Some(503));
    let rr: Vec<_> = m
        .record_routes()
        .map(|r| r.unwrap().uri_raw.to_string())
        .collect();
    assert!(rr[0].contains(":5061;transport=tls"), "{rr:?}");
    // A REGISTER's Path tells the backend to come back over TLS.
    let reg = invite("REGISTER", "REGISTER", "");
    let (_, m, _) = forwarded(e.handle(reg, &from(UE, Transport::Udp), &mut g, NOW));
    let path = m.header(HeaderName::Path).unwrap().to_string();
    assert!(path.contains(":5061;transport=tls"), "{path}");
    // An ACK is never answered: nothing to send if it cannot go.
    let ack = invite("ACK", "ACK", "");
    let (_, _, failed) = forwarded(e.handle(ack, &from(UE, Transport::Udp), &mut g, NOW));
    assert!(failed.is_none());
}

#[test]
fn a_stream_backend_connecting_from_an_ephemeral_port_is_the_backend() {
    // The backend opened the connection (its port is not the one the
    // edge sends to): its request toward the UE carries the flow token of
    // the UE's registration and goes to the UE, record-routed back to the
    // backend's listening address.
    let e = edge();
    let mut g = StreamGroup(Transport::Tcp);
    let reg = invite("REGISTER", "REGISTER", "");
    let (_, m, _) = forwarded(e.handle(reg, &from(UE, Transport::Udp), &mut g, NOW));
    let path = m.header(HeaderName::Path).unwrap().to_string();
    let uri = path
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let from_backend = Flow {
        transport: Transport::Tcp,
        remote: "10.0.0.20:40001".parse().unwrap(),
        local: "10.0.0.10:5060".parse().unwrap(),
        connection: 5,
    };
    let req = invite("INVITE", "INVITE", &format!("Route: <{uri}>\r\n"));
    let (target, m, _) = forwarded(e.handle(req, &from_backend, &mut g, NOW));
    assert!(matches!(target, Target::Flow(f) if f.ue == UE.parse().unwrap()));
    assert!(m.record_routes().count() >= 1);
}

/// RFC 7118 §5: a WebSocket UE's Via names an `.invalid` host and its
/// messages may omit Content-Length (one message per frame). The edge marks
/// the Via with `received`, record-routes with `;transport=ws` (`wss`)
/// towards the UE, seals the connection into its tokens, and sends the
/// response and the backend's in-dialog requests back over that connection.
#[test]
fn websocket_flows_follow_rfc_7118() {
    for (transport, name) in [(Transport::Ws, "ws"), (Transport::Wss, "wss")] {
        let e = edge();
        let mut g = group();
        let invite = Bytes::from(format!(
            "INVITE sip:bob@example.com SIP/2.0\r\n\
             Via: SIP/2.0/{} df7jal23ls0d.invalid;branch=z9hG4bKws1\r\n\
             Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=w1\r\n\
             Call-ID: ws-1\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:alice@df7jal23ls0d.invalid;transport={name};ob>\r\n\r\n",
            name.to_ascii_uppercase()
        ));
        let (target, fwd, _) = forwarded(e.handle(invite, &from(UE, transport), &mut g, NOW));
        assert!(matches!(target, Target::Backend(_)), "{name}");
        let vias: Vec<_> = fwd.vias().map(Result::unwrap).collect();
        assert_eq!(vias[0].transport, "UDP", "{name}: the edge's Via");
        assert_eq!(vias[1].host_raw, "df7jal23ls0d.invalid");
        assert_eq!(
            vias[1].received(),
            Some("198.51.100.7".parse().unwrap()),
            "{name}"
        );
        let rr: Vec<String> = fwd
            .record_routes()
            .map(|r| r.unwrap().as_str().to_string())
            .collect();
        assert_eq!(rr.len(), 2, "{name}: {rr:?}");
        assert!(!rr[0].contains("transport="), "{name}: {rr:?}");
        assert!(
            rr[1].contains(&format!(";transport={name};lr")),
            "{name}: {rr:?}"
        );
        // The response returns over the UE's connection.
        let ok = response(&fwd, 200).unwrap().to_tag("b").build();
        let (target, resp, _) =
            forwarded(e.handle(ok, &from(BACKEND, Transport::Udp), &mut g, NOW));
        let flow = ue_flow_target(target);
        assert_eq!(
            (flow.transport, flow.instance, flow.connection),
            (transport, 7, 99),
            "{name}"
        );
        assert_eq!(resp.vias().count(), 1);
        // The callee's BYE along the Record-Route: to the same connection,
        // or 430 when it is gone.
        let bye = Bytes::from(format!(
            "BYE sip:alice@df7jal23ls0d.invalid;transport={name} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {BACKEND};branch=z9hG4bKbye1\r\nMax-Forwards: 70\r\n\
             Route: {}, {}\r\nTo: <sip:alice@example.com>;tag=w1\r\nFrom: <sip:bob@example.com>;tag=b\r\n\
             Call-ID: ws-1\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
            rr[0], rr[1]
        ));
        let (target, _, failed) =
            forwarded(e.handle(bye, &from(BACKEND, Transport::Udp), &mut g, NOW));
        let flow = ue_flow_target(target);
        assert_eq!((flow.transport, flow.connection), (transport, 99), "{name}");
        assert_eq!(parse(&failed.unwrap()).status(), Some(430));
    }
}
