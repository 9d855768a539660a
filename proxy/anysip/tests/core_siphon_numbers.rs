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

use harness::{http, repo_tests, sipp, tool, wait_for};
use lab::{dump_logs, scratch, start};

const CORE: &str = "127.0.0.1:17341";
const ADMIN: &str = "127.0.0.1:17342";
const SIPP_PORT: &str = "17343";

/// A header's value in a message (the first line of that name).
fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Every line of the header `name`.
fn headers<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

/// The next INVITE the callee gets (other requests, the ACKs of earlier
/// answers, are passed over), within 10 s.
fn next_invite(uas: &UdpSocket) -> (String, SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        let Ok((len, from)) = uas.recv_from(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        if text.starts_with("INVITE ") {
            return (text, from);
        }
    }
    panic!("no INVITE reached the callee within 10 s");
}

/// 486 to `invite`, with a To tag.
fn busy(invite: &str) -> String {
    let mut out = String::from("SIP/2.0 486 Busy Here\r\n");
    for v in headers(invite, "Via") {
        out.push_str(&format!("Via: {v}\r\n"));
    }
    for name in ["From", "Call-ID", "CSeq"] {
        out.push_str(&format!("{name}: {}\r\n", header(invite, name).unwrap()));
    }
    out.push_str(&format!(
        "To: {};tag=callee\r\nContent-Length: 0\r\n\r\n",
        header(invite, "To").unwrap()
    ));
    out
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
    let call = |callee: &str| -> String {
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
        uas.send_to(busy(&invite).as_bytes(), from).unwrap();
        let st = uac.wait_timeout(Duration::from_secs(20));
        if !st.is_some_and(|s| s.success()) {
            dump_logs(&dir);
            panic!("sipp calling {callee}: {st:?}\n{invite}");
        }
        invite
    };

    let invite = call("0201234567");
    assert!(
        invite.starts_with(&format!(
            "INVITE sip:+31201234567@{callee_at};user=phone SIP/2.0\r\n"
        )),
        "{invite}"
    );
    assert_eq!(
        header(&invite, "From"),
        Some("\"Alice\" <sip:+31612345678@example.com>;tag=num1"),
        "{invite}"
    );
    assert_eq!(
        header(&invite, "To"),
        Some(format!("<sip:+31201234567@{callee_at}>").as_str()),
        "{invite}"
    );
    assert_eq!(
        headers(&invite, "P-Asserted-Identity"),
        ["\"Alice\" <sip:+31612345678@example.com;user=phone>, <tel:+31612345678>"],
        "{invite}"
    );

    // A preserved service number: Request-URI and To as sent, From
    // still normalized.
    let invite = call("08001234");
    assert!(
        invite.starts_with(&format!(
            "INVITE sip:08001234@{callee_at};user=phone SIP/2.0\r\n"
        )),
        "{invite}"
    );
    assert_eq!(
        header(&invite, "To"),
        Some(format!("<sip:08001234@{callee_at}>").as_str()),
        "{invite}"
    );
    assert_eq!(
        header(&invite, "From"),
        Some("\"Alice\" <sip:+31612345678@example.com>;tag=num1"),
        "{invite}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
