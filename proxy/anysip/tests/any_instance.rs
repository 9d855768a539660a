//! Any instance routes any message of a dialog: two edge processes sharing
//! a key ring, on 127.0.0.1 and 127.0.0.2, both advertising one "anycast"
//! address (127.0.0.100, which the test stands in for by choosing the
//! instance each message goes to). Calls are set up through one instance
//! and continued through the other, from both sides: ACK, re-INVITE, BYE,
//! a 486 with its non-2xx ACK, and a CANCEL before the answer.
#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::response::response;
use sip::{Framing, HeaderName, Limits, Message};

#[path = "support/harness.rs"]
mod harness;

use harness::Proc;

const A: &str = "127.0.0.1:15360";
const B: &str = "127.0.0.2:15360";
const UAS: &str = "127.0.0.1:15370";
const UAC: &str = "127.0.0.1:15380";

fn edge(dir: &Path, name: &str, listen: &str, admin: &str, instance: u16, keys: &Path) -> Proc {
    let cfg = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &cfg,
        format!(
            "listen:\n  udp: [{listen}]\nadmin:\n  listen: {admin}\nserver:\n  instance_id: {instance}\n\
             gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        enabled: false\n      destinations:\n        - uri: sip:{UAS}\n          address: {UAS}\n\
             edge:\n  keys:\n    file: {}\n  ue_address: 127.0.0.100:15360\n  backend_address: {listen}\n",
            keys.display()
        ),
    )
    .unwrap();
    Proc(
        Command::new(env!("CARGO_BIN_EXE_anysip"))
            .args(["run", "-c"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

struct Ua {
    sock: UdpSocket,
}

impl Ua {
    fn bind(addr: &str) -> Ua {
        let sock = UdpSocket::bind(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Ua { sock }
    }

    fn send(&self, to: &str, bytes: &[u8]) {
        self.sock.send_to(bytes, to).unwrap();
    }

    /// The next message, within 3 s.
    fn recv(&self) -> Message {
        let t0 = Instant::now();
        let mut buf = [0u8; 65535];
        while t0.elapsed() < Duration::from_secs(3) {
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                return Message::parse(
                    Bytes::copy_from_slice(&buf[..n]),
                    Framing::Datagram,
                    &Limits::default(),
                )
                .unwrap();
            }
        }
        panic!("nothing received at {}", self.sock.local_addr().unwrap());
    }
}

#[allow(clippy::too_many_arguments)]
fn req(
    method: &str,
    ruri: &str,
    branch: &str,
    cseq: u32,
    cseq_method: &str,
    to_tag: &str,
    call: &str,
    extra: &str,
) -> Vec<u8> {
    format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {UAC};branch={branch};rport\r\nMax-Forwards: 70\r\n{extra}\
         From: <sip:alice@example.com>;tag=a-{call}\r\nTo: <sip:bob@example.com>{to_tag}\r\nCall-ID: {call}\r\n\
         CSeq: {cseq} {cseq_method}\r\nContact: <sip:alice@{UAC}>\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The UAS's response: Via, From, To, Call-ID, CSeq copied; Record-Route
/// copied on 2xx to INVITE; a To tag.
fn answer(m: &Message, status: u16) -> Vec<u8> {
    let mut b = response(m, status).unwrap().to_tag("b-tag");
    if m.method() == Some(&sip::Method::Invite) && status < 300 {
        for rr in m.values(HeaderName::RecordRoute) {
            b = b.header("Record-Route", rr);
        }
        b = b.header("Contact", &format!("<sip:bob@{UAS}>"));
    }
    b.build().to_vec()
}

fn route_set(resp: &Message, reverse: bool) -> String {
    let mut rr: Vec<String> = resp
        .values(HeaderName::RecordRoute)
        .map(str::to_string)
        .collect();
    if reverse {
        rr.reverse();
    }
    format!("Route: {}\r\n", rr.join(", "))
}

#[test]
fn calls_survive_moving_between_instances() {
    let dir = std::env::temp_dir().join(format!("anysip-any-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_anysip"))
        .args(["token", "keygen"])
        .output()
        .unwrap();
    std::fs::write(&keys, out.stdout).unwrap();
    let _a = edge(&dir, "a", A, "127.0.0.1:19191", 1, &keys);
    let _b = edge(&dir, "b", B, "127.0.0.1:19192", 2, &keys);
    std::thread::sleep(Duration::from_millis(700));
    let uac = Ua::bind(UAC);
    let uas = Ua::bind(UAS);
    let ruri = "sip:bob@example.com";

    // 1. INVITE through A; 200 through B; ACK through B; re-INVITE through
    //    A, answered through B, ACKed through A; BYE from the callee side
    //    through B, its 200 through A.
    uac.send(
        A,
        &req("INVITE", ruri, "z9hG4bKc1i", 1, "INVITE", "", "call-1", ""),
    );
    let inv = uas.recv();
    assert_eq!(inv.method(), Some(&sip::Method::Invite));
    assert_eq!(
        inv.record_routes().count(),
        2,
        "UE- and backend-facing Record-Route"
    );
    uas.send(B, &answer(&inv, 200));
    let ok = uac.recv();
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.vias().count(), 1, "the edge's Via is popped");
    let ue_routes = route_set(&ok, true);
    uac.send(
        B,
        &req(
            "ACK",
            "sip:bob@127.0.0.1:15370",
            "z9hG4bKc1a",
            1,
            "ACK",
            ";tag=b-tag",
            "call-1",
            &ue_routes,
        ),
    );
    let ack = uas.recv();
    assert_eq!(ack.method(), Some(&sip::Method::Ack));
    assert_eq!(ack.routes().count(), 0, "both of the edge's Routes popped");
    uac.send(
        A,
        &req(
            "INVITE",
            "sip:bob@127.0.0.1:15370",
            "z9hG4bKc1r",
            2,
            "INVITE",
            ";tag=b-tag",
            "call-1",
            &ue_routes,
        ),
    );
    let reinv = uas.recv();
    assert_eq!(reinv.cseq().unwrap().seq, 2);
    uas.send(B, &answer(&reinv, 200));
    assert_eq!(uac.recv().status(), Some(200));
    uac.send(
        A,
        &req(
            "ACK",
            "sip:bob@127.0.0.1:15370",
            "z9hG4bKc1ra",
            2,
            "ACK",
            ";tag=b-tag",
            "call-1",
            &ue_routes,
        ),
    );
    assert_eq!(uas.recv().method(), Some(&sip::Method::Ack));
    let callee_routes = route_set(&ok, false);
    // The callee's re-INVITE through B, answered through A, ACKed through B.
    let reinv = format!(
        "INVITE sip:alice@{UAC} SIP/2.0\r\nVia: SIP/2.0/UDP {UAS};branch=z9hG4bKc1cr\r\nMax-Forwards: 70\r\n{callee_routes}\
         From: <sip:bob@example.com>;tag=b-tag\r\nTo: <sip:alice@example.com>;tag=a-call-1\r\nCall-ID: call-1\r\nCSeq: 2 INVITE\r\n\
         Contact: <sip:bob@{UAS}>\r\nContent-Length: 0\r\n\r\n"
    );
    uas.send(B, reinv.as_bytes());
    let reinv = uac.recv();
    assert_eq!(reinv.method(), Some(&sip::Method::Invite));
    assert_eq!(reinv.routes().count(), 0);
    uac.send(A, &answer(&reinv, 200));
    assert_eq!(
        uas.recv().status(),
        Some(200),
        "the UE's 200 reaches the callee through the other instance"
    );
    let ack = format!(
        "ACK sip:alice@{UAC} SIP/2.0\r\nVia: SIP/2.0/UDP {UAS};branch=z9hG4bKc1cra\r\nMax-Forwards: 70\r\n{callee_routes}\
         From: <sip:bob@example.com>;tag=b-tag\r\nTo: <sip:alice@example.com>;tag=a-call-1\r\nCall-ID: call-1\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    uas.send(B, ack.as_bytes());
    assert_eq!(uac.recv().method(), Some(&sip::Method::Ack));
    let bye = format!(
        "BYE sip:alice@{UAC} SIP/2.0\r\nVia: SIP/2.0/UDP {UAS};branch=z9hG4bKc1b\r\nMax-Forwards: 70\r\n{callee_routes}\
         From: <sip:bob@example.com>;tag=b-tag\r\nTo: <sip:alice@example.com>;tag=a-call-1\r\nCall-ID: call-1\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    uas.send(B, bye.as_bytes());
    let bye = uac.recv();
    assert_eq!(bye.method(), Some(&sip::Method::Bye));
    assert_eq!(bye.routes().count(), 0);
    uac.send(A, &answer(&bye, 200));
    let bye_ok = uas.recv();
    assert_eq!(bye_ok.status(), Some(200));
    assert_eq!(bye_ok.cseq().unwrap().method, "BYE");

    // 2. Rejected: INVITE through A, 486 through B, the non-2xx ACK
    //    through B reaches the backend with the INVITE's edge branch.
    uac.send(
        A,
        &req("INVITE", ruri, "z9hG4bKc2i", 1, "INVITE", "", "call-2", ""),
    );
    let inv = uas.recv();
    let edge_branch = inv.top_via().unwrap().branch().unwrap().to_string();
    uas.send(B, &answer(&inv, 486));
    assert_eq!(uac.recv().status(), Some(486));
    uac.send(
        B,
        &req(
            "ACK",
            ruri,
            "z9hG4bKc2i",
            1,
            "ACK",
            ";tag=b-tag",
            "call-2",
            "",
        ),
    );
    let ack = uas.recv();
    assert_eq!(ack.method(), Some(&sip::Method::Ack));
    assert_eq!(ack.top_via().unwrap().branch(), Some(edge_branch.as_str()));

    // 3. Cancelled: INVITE through A, 180 through B, CANCEL through B
    //    matches the INVITE's branch; 200 to CANCEL through A, 487 through
    //    B, its ACK through A.
    uac.send(
        A,
        &req("INVITE", ruri, "z9hG4bKc3i", 1, "INVITE", "", "call-3", ""),
    );
    let inv = uas.recv();
    let edge_branch = inv.top_via().unwrap().branch().unwrap().to_string();
    uas.send(B, &answer(&inv, 180));
    assert_eq!(uac.recv().status(), Some(180));
    uac.send(
        B,
        &req("CANCEL", ruri, "z9hG4bKc3i", 1, "CANCEL", "", "call-3", ""),
    );
    let cancel = uas.recv();
    assert_eq!(cancel.method(), Some(&sip::Method::Cancel));
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        Some(edge_branch.as_str())
    );
    uas.send(A, &answer(&cancel, 200));
    let c_ok = uac.recv();
    assert_eq!(
        (c_ok.status(), c_ok.cseq().unwrap().method),
        (Some(200), "CANCEL")
    );
    uas.send(B, &answer(&inv, 487));
    assert_eq!(uac.recv().status(), Some(487));
    uac.send(
        A,
        &req(
            "ACK",
            ruri,
            "z9hG4bKc3i",
            1,
            "ACK",
            ";tag=b-tag",
            "call-3",
            "",
        ),
    );
    let ack = uas.recv();
    assert_eq!(ack.method(), Some(&sip::Method::Ack));
    assert_eq!(ack.top_via().unwrap().branch(), Some(edge_branch.as_str()));

    // 4. The caller's BYE through the other instance: INVITE through A, 200
    //    through B, ACK through A, BYE through B, its 200 through A.
    uac.send(
        A,
        &req("INVITE", ruri, "z9hG4bKc4i", 1, "INVITE", "", "call-4", ""),
    );
    let inv = uas.recv();
    uas.send(B, &answer(&inv, 200));
    let ok = uac.recv();
    assert_eq!(ok.status(), Some(200));
    let routes = route_set(&ok, true);
    uac.send(
        A,
        &req(
            "ACK",
            "sip:bob@127.0.0.1:15370",
            "z9hG4bKc4a",
            1,
            "ACK",
            ";tag=b-tag",
            "call-4",
            &routes,
        ),
    );
    assert_eq!(uas.recv().method(), Some(&sip::Method::Ack));
    uac.send(
        B,
        &req(
            "BYE",
            "sip:bob@127.0.0.1:15370",
            "z9hG4bKc4b",
            2,
            "BYE",
            ";tag=b-tag",
            "call-4",
            &routes,
        ),
    );
    let bye = uas.recv();
    assert_eq!(bye.method(), Some(&sip::Method::Bye));
    uas.send(A, &answer(&bye, 200));
    let bye_ok = uac.recv();
    assert_eq!(
        (bye_ok.status(), bye_ok.cseq().unwrap().method),
        (Some(200), "BYE")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
