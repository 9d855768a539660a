//! SIPhon's number normalization in a running core: the configuration
//! and the proxy script of SIPhon's cookbook `number-normalization.md`
//! (`tests/data/siphon/numbers/`, the script unchanged; the test adds
//! the listeners, points `script.path` at the script and gives the
//! `ims-e164@2026` policy a preserved `0800*` service range). sipp sends
//! INVITEs with national and 00-international identities; the callee
//! (a socket of the test) sees From, To, P-Asserted-Identity and the
//! Request-URI in +E.164, and a preserved service number as it was sent.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::{Framing, HeaderName, Limits, Message};

use harness::{http, repo_tests, sipp, tool, wait_for};
use lab::{dump_logs, scratch, start};

const CORE: &str = "127.0.0.1:17341";
const ADMIN: &str = "127.0.0.1:17342";
const SIPP_PORT: &str = "17343";

/// The next INVITE the callee gets (other requests, the ACKs of earlier
/// answers, are passed over), within 10 s.
fn next_invite(uas: &UdpSocket) -> (Message, SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        let Ok((len, from)) = uas.recv_from(&mut buf) else {
            continue;
        };
        let bytes = Bytes::copy_from_slice(&buf[..len]);
        let m = Message::parse(bytes, Framing::Datagram, &Limits::default()).unwrap();
        if m.method().is_some_and(|x| x.as_str() == "INVITE") {
            return (m, from);
        }
    }
    panic!("no INVITE reached the callee within 10 s");
}

/// Every line of the header `name`.
fn lines<'m>(m: &'m Message, name: &str) -> Vec<&'m str> {
    m.headers()
        .filter(|h| h.raw_name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
        .collect()
}

#[test]
fn cookbook_policy_rewrites_identities_to_e164() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("core-siphon-numbers");
    let data = repo_tests().join("data/siphon/numbers");
    let script = dir.join("edge.py");
    std::fs::copy(data.join("edge.py"), &script).unwrap();
    let cookbook = std::fs::read_to_string(data.join("siphon.yaml")).unwrap();
    let cookbook = cookbook
        .replace(
            "\"/etc/siphon/edge.py\"",
            &format!("{:?}", script.display().to_string()),
        )
        .replace(
            "  \"ims-e164@2026\":\n    default: e164\n",
            "  \"ims-e164@2026\":\n    default: e164\n    preserve_users: [\"0800*\"]\n",
        );
    assert!(cookbook.contains("preserve_users: [\"0800*\"]\n"));
    let yaml = format!(
        "listen:\n  udp: [{CORE}]\nadmin:\n  listen: {ADMIN}\nserver:\n  instance_id: core-numbers\n  drain_secs: 1\n{cookbook}"
    );
    let _core = start(&dir, "core", &yaml);
    wait_for("core admin", Duration::from_secs(20), || {
        http(ADMIN, "GET", "/admin/health", None).is_some()
    });
    let uas = UdpSocket::bind("127.0.0.1:0").unwrap();
    uas.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let callee_at = uas.local_addr().unwrap().to_string();
    let xml = repo_tests().join("sipp/numbers-uac.xml");

    // One call to `callee`: the INVITE as the callee gets it.
    let call = |callee: &str| -> Message {
        let mut uac = sipp(
            &sipp_bin,
            &[
                "-sf",
                xml.to_str().unwrap(),
                CORE,
                "-key",
                "callee",
                callee,
                "-key",
                "uas",
                &callee_at,
                "-i",
                "127.0.0.1",
                "-p",
                SIPP_PORT,
                "-m",
                "1",
                "-timeout",
                "15",
                "-timeout_error",
            ],
        );
        let (invite, from) = next_invite(&uas);
        let busy = sip::response::response(&invite, 486)
            .unwrap()
            .to_tag("callee")
            .build();
        uas.send_to(&busy, from).unwrap();
        let st = uac.wait_timeout(Duration::from_secs(20));
        if !st.is_some_and(|s| s.success()) {
            dump_logs(&dir);
            panic!("sipp calling {callee}: {st:?}\n{invite:?}");
        }
        invite
    };

    let invite = call("0201234567");
    assert_eq!(
        invite.request_uri_str(),
        Some(format!("sip:+31201234567@{callee_at};user=phone").as_str()),
        "{invite:?}"
    );
    assert_eq!(
        invite.header(HeaderName::From),
        Some("\"Alice\" <sip:+31612345678@example.com>;tag=num1"),
        "{invite:?}"
    );
    assert_eq!(
        invite.header(HeaderName::To),
        Some(format!("<sip:+31201234567@{callee_at}>").as_str()),
        "{invite:?}"
    );
    assert_eq!(
        lines(&invite, "P-Asserted-Identity"),
        ["\"Alice\" <sip:+31612345678@example.com;user=phone>, <tel:+31612345678>"],
        "{invite:?}"
    );

    // A preserved service number: Request-URI and To as sent, From
    // still normalized.
    let invite = call("08001234");
    assert_eq!(
        invite.request_uri_str(),
        Some(format!("sip:08001234@{callee_at};user=phone").as_str()),
        "{invite:?}"
    );
    assert_eq!(
        invite.header(HeaderName::To),
        Some(format!("<sip:08001234@{callee_at}>").as_str()),
        "{invite:?}"
    );
    assert_eq!(
        invite.header(HeaderName::From),
        Some("\"Alice\" <sip:+31612345678@example.com>;tag=num1"),
        "{invite:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
