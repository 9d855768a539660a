#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use sip::{Framing, Limits, Message};

use super::*;
use crate::http_date;

const NOW: u64 = 1_000_000;

fn message(to: &str, call_id: &str, cseq: u32, extra: &str) -> Message {
    let text = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <{to}>;tag=a\r\n\
         To: <{to}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(Bytes::from(text), Framing::Datagram, &Limits::default()).unwrap()
}

fn register(call_id: &str, cseq: u32, extra: &str) -> Register {
    Register::from_message(&message("sip:alice@Example.com", call_id, cseq, extra)).unwrap()
}

fn source() -> Source {
    Source::new("UDP", "192.0.2.1:5060".parse().unwrap())
}

fn run(policy: &Policy, current: &[Binding], call_id: &str, cseq: u32, extra: &str) -> Decision {
    process(
        &register(call_id, cseq, extra),
        &source(),
        policy,
        current,
        NOW,
    )
}

/// Applies a REGISTER and returns the new bindings (the old ones when it
/// was rejected).
fn apply(current: &mut Vec<Binding>, call_id: &str, cseq: u32, extra: &str) -> Decision {
    let d = run(&Policy::default(), current, call_id, cseq, extra);
    if let Some(b) = &d.bindings {
        current.clone_from(b);
    }
    d
}

fn contacts(o: &Outcome) -> Vec<&str> {
    o.header_values("Contact").collect()
}

#[test]
fn one_contact_default_expiry() {
    let d = run(
        &Policy::default(),
        &[],
        "c1",
        1,
        "Contact: <sip:alice@192.0.2.1:5060>\r\nUser-Agent: phone/1\r\n",
    );
    assert_eq!(d.outcome.status, 200);
    assert!(d.outcome.saved);
    assert_eq!(
        contacts(&d.outcome),
        ["<sip:alice@192.0.2.1:5060>;expires=3600"]
    );
    assert_eq!(d.outcome.header("Date"), Some(http_date(NOW).as_str()));
    let b = &d.bindings.unwrap()[0];
    assert_eq!(b.aor, "sip:alice@example.com");
    assert_eq!(b.expires_at, NOW + 3600);
    assert_eq!(b.received.as_deref(), Some("udp:192.0.2.1:5060"));
    assert_eq!(b.user_agent.as_deref(), Some("phone/1"));
    assert_eq!((b.call_id.as_str(), b.cseq, b.updated_at), ("c1", 1, NOW));
}

#[test]
fn expires_param_beats_header_beats_default() {
    let d = run(
        &Policy::default(),
        &[],
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>;expires=120, <sip:b@192.0.2.1>\r\nExpires: 300\r\n",
    );
    let b = d.bindings.unwrap();
    let e = |uri: &str| b.iter().find(|b| b.uri == uri).unwrap().expires_at - NOW;
    assert_eq!(e("sip:a@192.0.2.1"), 120);
    assert_eq!(e("sip:b@192.0.2.1"), 300);
}

#[test]
fn longer_than_max_is_cut() {
    let d = run(
        &Policy::default(),
        &[],
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>;expires=99999\r\n",
    );
    assert_eq!(contacts(&d.outcome), ["<sip:a@192.0.2.1>;expires=7200"]);
}

#[test]
fn shorter_than_min_is_423_and_changes_nothing() {
    let mut current = Vec::new();
    apply(&mut current, "c1", 1, "Contact: <sip:a@192.0.2.1>\r\n");
    let d = run(
        &Policy::default(),
        &current,
        "c1",
        2,
        "Contact: <sip:a@192.0.2.1>;expires=0, <sip:b@192.0.2.1>;expires=30\r\n",
    );
    assert_eq!(d.outcome.status, 423);
    assert_eq!(d.outcome.header("Min-Expires"), Some("60"));
    assert!(!d.outcome.saved);
    assert_eq!(d.bindings, None);
    // Expires: 0 is not "too brief".
    let d = run(
        &Policy::default(),
        &current,
        "c1",
        2,
        "Contact: <sip:a@192.0.2.1>\r\nExpires: 0\r\n",
    );
    assert_eq!(d.outcome.status, 200);
    assert_eq!(d.bindings, Some(vec![]));
}

#[test]
fn several_contacts_per_register_and_per_aor() {
    let mut current = Vec::new();
    apply(
        &mut current,
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.1>\r\n",
    );
    let d = apply(
        &mut current,
        "c2",
        1,
        "Contact: <sip:c@192.0.2.2>;q=0.5\r\n",
    );
    assert_eq!(current.len(), 3);
    let c = contacts(&d.outcome);
    assert_eq!(c.len(), 3);
    // Best q first (no q counts as 1).
    assert_eq!(c[2], "<sip:c@192.0.2.2>;expires=3600;q=0.5");
    assert_eq!(
        current
            .iter()
            .find(|b| b.uri == "sip:c@192.0.2.2")
            .unwrap()
            .q,
        Some(500)
    );
}

#[test]
fn refresh_and_removal_compare_uris_per_19_1_4() {
    let mut current = Vec::new();
    apply(
        &mut current,
        "c1",
        1,
        "Contact: <sip:a@HOST.example.com;transport=udp;x=1>\r\n",
    );
    apply(
        &mut current,
        "c1",
        2,
        "Contact: <sip:a@host.example.com;x=1;transport=UDP>;expires=600\r\n",
    );
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].expires_at, NOW + 600);
    assert_eq!(current[0].uri, "sip:a@host.example.com;x=1;transport=UDP");
    // A different user part is another binding.
    apply(
        &mut current,
        "c1",
        3,
        "Contact: <sip:A@host.example.com;x=1;transport=udp>\r\n",
    );
    assert_eq!(current.len(), 2);
    let d = apply(
        &mut current,
        "c1",
        4,
        "Contact: <sip:a@host.example.com;transport=udp;x=1>;expires=0\r\n",
    );
    assert_eq!(d.outcome.status, 200);
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].uri, "sip:A@host.example.com;x=1;transport=udp");
}

#[test]
fn star_removes_everything_with_expires_zero_only() {
    let mut current = Vec::new();
    apply(
        &mut current,
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.1>\r\n",
    );
    for bad in ["Contact: *\r\n", "Contact: *\r\nExpires: 60\r\n"] {
        let d = run(&Policy::default(), &current, "c9", 1, bad);
        assert_eq!(d.outcome.status, 400, "{bad}");
        assert_eq!(d.bindings, None);
    }
    let with_other = message(
        "sip:alice@example.com",
        "c9",
        1,
        "Contact: *, <sip:a@192.0.2.1>\r\nExpires: 0\r\n",
    );
    assert_eq!(Register::from_message(&with_other).unwrap_err().status, 400);
    let d = apply(&mut current, "c9", 1, "Contact: *\r\nExpires: 0\r\n");
    assert_eq!(d.outcome.status, 200);
    assert!(current.is_empty());
    assert_eq!(contacts(&d.outcome), Vec::<&str>::new());
}

#[test]
fn star_checks_cseq_of_same_call_id() {
    let mut current = Vec::new();
    apply(&mut current, "c1", 5, "Contact: <sip:a@192.0.2.1>\r\n");
    let d = run(
        &Policy::default(),
        &current,
        "c1",
        5,
        "Contact: *\r\nExpires: 0\r\n",
    );
    assert_eq!(d.outcome.status, 500);
    let d = run(
        &Policy::default(),
        &current,
        "c1",
        6,
        "Contact: *\r\nExpires: 0\r\n",
    );
    assert_eq!(d.outcome.status, 200);
}

#[test]
fn cseq_ordering() {
    let mut current = Vec::new();
    apply(&mut current, "c1", 10, "Contact: <sip:a@192.0.2.1>\r\n");
    for cseq in [9, 10] {
        let d = run(
            &Policy::default(),
            &current,
            "c1",
            cseq,
            "Contact: <sip:a@192.0.2.1>;expires=0\r\n",
        );
        assert_eq!(d.outcome.status, 500, "cseq {cseq}");
        assert_eq!(d.bindings, None);
    }
    // Higher CSeq, same Call-ID: accepted.
    let d = run(
        &Policy::default(),
        &current,
        "c1",
        11,
        "Contact: <sip:a@192.0.2.1>\r\n",
    );
    assert_eq!(d.outcome.status, 200);
    // Another Call-ID replaces whatever its CSeq.
    let d = apply(
        &mut current,
        "c2",
        1,
        "Contact: <sip:a@192.0.2.1>;expires=120\r\n",
    );
    assert_eq!(d.outcome.status, 200);
    assert_eq!(current.len(), 1);
    assert_eq!((current[0].call_id.as_str(), current[0].cseq), ("c2", 1));
}

#[test]
fn same_contact_twice_in_one_register() {
    let d = run(
        &Policy::default(),
        &[],
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>;expires=100\r\nContact: <sip:a@192.0.2.1>;expires=200\r\n",
    );
    assert_eq!(d.outcome.status, 200);
    assert_eq!(contacts(&d.outcome), ["<sip:a@192.0.2.1>;expires=200"]);
}

#[test]
fn too_many_contacts_changes_nothing() {
    let policy = Policy {
        max_contacts: 2,
        ..Policy::default()
    };
    let mut current = Vec::new();
    let d = run(
        &policy,
        &current,
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.1>, <sip:c@192.0.2.1>\r\n",
    );
    assert_eq!(
        (d.outcome.status, d.outcome.reason.as_deref()),
        (403, Some("Too Many Contacts"))
    );
    assert_eq!(d.bindings, None);
    let d = run(
        &policy,
        &current,
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.1>\r\n",
    );
    current = d.bindings.unwrap();
    // A third one is refused; a refresh or a swap at the limit is fine.
    let d = run(&policy, &current, "c2", 1, "Contact: <sip:c@192.0.2.1>\r\n");
    assert_eq!(d.outcome.status, 403);
    let d = run(&policy, &current, "c1", 2, "Contact: <sip:a@192.0.2.1>\r\n");
    assert_eq!(d.outcome.status, 200);
    let d = run(
        &policy,
        &current,
        "c1",
        2,
        "Contact: <sip:a@192.0.2.1>;expires=0, <sip:c@192.0.2.1>\r\n",
    );
    assert_eq!(d.outcome.status, 200);
    assert_eq!(d.bindings.unwrap().len(), 2);
}

#[test]
fn path_is_stored_and_returned_in_order() {
    let d = run(
        &Policy::default(),
        &[],
        "c1",
        1,
        "Path: <sip:p2.example.com;lr>\r\nPath: <sip:edge.example.com;lr;ob>\r\nSupported: path\r\nContact: <sip:a@192.0.2.1>\r\n",
    );
    assert_eq!(d.outcome.status, 200);
    assert_eq!(
        d.outcome.header("Path"),
        Some("<sip:p2.example.com;lr>, <sip:edge.example.com;lr;ob>")
    );
    assert_eq!(d.outcome.header("Supported"), Some("path"));
    assert_eq!(
        d.bindings.unwrap()[0].path,
        ["<sip:p2.example.com;lr>", "<sip:edge.example.com;lr;ob>"]
    );
    // No Path in the REGISTER: none in the response.
    let d = run(
        &Policy::default(),
        &[],
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>\r\n",
    );
    assert_eq!(d.outcome.header("Path"), None);
}

#[test]
fn path_without_supported_path() {
    let extra = "Path: <sip:edge.example.com;lr>\r\nContact: <sip:a@192.0.2.1>\r\n";
    // Accepted by default (the edge vouches for it) ...
    let d = run(&Policy::default(), &[], "c1", 1, extra);
    assert_eq!(d.outcome.status, 200);
    assert!(d.outcome.header("Path").is_some());
    // ... refused when the policy asks for the UA's support.
    let strict = Policy {
        require_path_support: true,
        ..Policy::default()
    };
    let d = run(&strict, &[], "c1", 1, extra);
    assert_eq!(d.outcome.status, 420);
    assert_eq!(d.outcome.header("Unsupported"), Some("path"));
    let d = run(
        &strict,
        &[],
        "c1",
        1,
        &format!("Supported: path\r\n{extra}"),
    );
    assert_eq!(d.outcome.status, 200);
}

const INSTANCE: &str = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"";

#[test]
fn outbound_flow_replaces_by_instance_and_reg_id() {
    let mut current = Vec::new();
    let path = "Path: <sip:edge.example.com;lr;ob>\r\n";
    let d = apply(
        &mut current,
        "c1",
        1,
        &format!("{path}Contact: <sip:a@192.0.2.1:1111;ob>;{INSTANCE};reg-id=1\r\n"),
    );
    assert_eq!(d.outcome.status, 200);
    assert_eq!(d.outcome.header("Require"), Some("outbound"));
    assert_eq!(
        contacts(&d.outcome),
        [format!(
            "<sip:a@192.0.2.1:1111;ob>;expires=3600;{INSTANCE};reg-id=1"
        )]
    );
    // Same flow from a new address and a new Call-ID: replaced.
    apply(
        &mut current,
        "c2",
        1,
        &format!("{path}Contact: <sip:a@192.0.2.9:2222;ob>;{INSTANCE};reg-id=1\r\n"),
    );
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].uri, "sip:a@192.0.2.9:2222;ob");
    // Another reg-id is another flow of the same instance.
    apply(
        &mut current,
        "c3",
        1,
        &format!("{path}Contact: <sip:a@192.0.2.9:3333;ob>;{INSTANCE};reg-id=2\r\n"),
    );
    assert_eq!(current.len(), 2);
    assert!(current
        .iter()
        .all(|b| b.instance.is_some() && b.reg_id.is_some()));
}

#[test]
fn instance_without_reg_id_identifies_by_instance() {
    let mut current = Vec::new();
    let d = apply(
        &mut current,
        "c1",
        1,
        &format!("Contact: <sip:a@192.0.2.1:1111>;{INSTANCE}\r\n"),
    );
    assert_eq!(d.outcome.header("Require"), None);
    apply(
        &mut current,
        "c2",
        1,
        &format!("Contact: <sip:a@192.0.2.1:2222>;{INSTANCE}\r\n"),
    );
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].uri, "sip:a@192.0.2.1:2222");
    assert_eq!(current[0].reg_id, None);
}

#[test]
fn reg_id_rules() {
    let two = format!(
        "Contact: <sip:a@192.0.2.1>;{INSTANCE};reg-id=1, <sip:b@192.0.2.1>;{INSTANCE};reg-id=2\r\n"
    );
    assert_eq!(
        run(&Policy::default(), &[], "c1", 1, &two).outcome.status,
        400
    );
    let no_ob = format!(
        "Path: <sip:edge.example.com;lr>\r\nContact: <sip:a@192.0.2.1>;{INSTANCE};reg-id=1\r\n"
    );
    assert_eq!(
        run(&Policy::default(), &[], "c1", 1, &no_ob).outcome.status,
        439
    );
    // reg-id without an instance is ignored.
    let d = run(
        &Policy::default(),
        &[],
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>;reg-id=1\r\n",
    );
    assert_eq!(d.outcome.status, 200);
    assert_eq!(d.outcome.header("Require"), None);
    assert_eq!(d.bindings.unwrap()[0].reg_id, None);
}

#[test]
fn query_lists_live_bindings_and_saves_nothing() {
    let mut current = Vec::new();
    apply(
        &mut current,
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>;expires=60, <sip:b@192.0.2.1>;expires=600\r\n",
    );
    let d = process(
        &register("c5", 1, ""),
        &source(),
        &Policy::default(),
        &current,
        NOW + 100,
    );
    assert_eq!(d.outcome.status, 200);
    assert!(!d.outcome.saved);
    assert_eq!(d.bindings, None);
    assert_eq!(contacts(&d.outcome), ["<sip:b@192.0.2.1>;expires=500"]);
}

#[test]
fn expired_bindings_do_not_count() {
    let policy = Policy {
        max_contacts: 1,
        ..Policy::default()
    };
    let mut current = Vec::new();
    apply(
        &mut current,
        "c1",
        1,
        "Contact: <sip:a@192.0.2.1>;expires=60\r\n",
    );
    let reg = register("c2", 1, "Contact: <sip:b@192.0.2.1>\r\n");
    let d = process(&reg, &source(), &policy, &current, NOW + 61);
    assert_eq!(d.outcome.status, 200);
    let b = d.bindings.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].uri, "sip:b@192.0.2.1");
}

#[test]
fn unreadable_registers() {
    let m = message("tel:+15551234", "c1", 1, "Contact: <sip:a@192.0.2.1>\r\n");
    assert_eq!(Register::from_message(&m).unwrap_err().status, 416);
    for extra in [
        "Contact: <sip:a@192.0.2.1>;expires=abc\r\n",
        "Contact: <sip:a@192.0.2.1>;q=7\r\n",
        "Expires: soon\r\nContact: <sip:a@192.0.2.1>\r\n",
        "Path: sip:no-angle.example.com\r\nContact: <sip:a@192.0.2.1>\r\n",
    ] {
        let m = message("sip:alice@example.com", "c1", 1, extra);
        assert_eq!(
            Register::from_message(&m).unwrap_err().status,
            400,
            "{extra}"
        );
    }
}

#[test]
fn received_only_when_the_register_came_straight_from_the_ua() {
    let mut b = Vec::new();
    apply(&mut b, "direct", 1, "Contact: <sip:a@192.0.2.1>\r\n");
    assert_eq!(b[0].received.as_deref(), Some("udp:192.0.2.1:5060"));
    // Through a proxy (a second Via): the source is the proxy, not a flow
    // of the UA, so it is not the contact's next hop.
    let mut b = Vec::new();
    apply(
        &mut b,
        "proxied",
        1,
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp\r\nContact: <sip:a@192.0.2.1>\r\n",
    );
    assert_eq!(b[0].received, None);
}

#[test]
fn contacts_of_unknown_schemes_are_refused() {
    let m = message(
        "sip:alice@Example.com",
        "unk",
        1,
        "Contact: <name:John_Smith>\r\n",
    );
    let out = Register::from_message(&m).unwrap_err();
    assert_eq!(out.status, 400);
    let m = message(
        "sip:alice@Example.com",
        "tel",
        1,
        "Contact: <tel:+15551234567>\r\n",
    );
    assert!(
        Register::from_message(&m).is_ok(),
        "tel: is a place to call"
    );
}

#[test]
fn a_binding_keeps_its_other_params_and_who_accepted_it() {
    let src = Source::new("TCP", "192.0.2.1:40000".parse().unwrap())
        .arrived_on("192.0.2.9:5060".parse().unwrap(), 7)
        .accepted_by(Some(("core-a".into(), "e1".into())), Some("tok".into()));
    let d = process(
        &register(
            "c1",
            1,
            "Contact: <sip:a@192.0.2.1;transport=tcp>;Q=0.5;expires=60;+G.3gpp.smsip;x=\"y z\";+sip.instance=\"<urn:uuid:1>\";reg-id=1\r\n",
        ),
        &src,
        &Policy::default(),
        &[],
        NOW,
    );
    let b = &d.bindings.unwrap()[0];
    assert_eq!(
        b.params,
        vec![
            ("+g.3gpp.smsip".to_owned(), None),
            ("x".to_owned(), Some("\"y z\"".to_owned()))
        ]
    );
    assert_eq!(
        b.accepted,
        crate::Accepted {
            flow: Some(crate::StoredFlow {
                transport: "tcp".into(),
                remote: "192.0.2.1:40000".parse().unwrap(),
                local: "192.0.2.9:5060".parse().unwrap(),
                connection: 7,
            }),
            by: Some("core-a".into()),
            epoch: Some("e1".into()),
            flow_token: Some("tok".into()),
        }
    );
    // Stored as JSON and read back; a record without these fields reads.
    let json = serde_json::to_string(b).unwrap();
    assert_eq!(&serde_json::from_str::<Binding>(&json).unwrap(), b);
    let old =
        r#"{"aor":"sip:a@b","uri":"sip:a@c","expires_at":1,"call_id":"c","cseq":1,"updated_at":0}"#;
    let old: Binding = serde_json::from_str(old).unwrap();
    assert!(old.params.is_empty() && old.accepted == crate::Accepted::default());
}
