//! SIPhon's per-relay callbacks in a running core: `request.relay(
//! on_reply=, on_failure=)`. A script with no `@proxy.on_reply` handler
//! still hears every response of a relay that gave `on_reply`; an
//! `on_failure` callback sees the real failure and relays the request
//! again (with callbacks of its own, which edit the answer the caller
//! gets); an `on_failure` callback that decides nothing lets the failure
//! through; a callback that cannot be called is a 500 naming the argument.
//! And `registrar.save(aliases=)`: a call to an alias of a registered AoR
//! reaches its contact.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;
#[path = "support/uas.rs"]
mod uas;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use harness::{http, wait_for};
use lab::{core_yaml, dump_logs, scratch, start};

const CORE: &str = "127.0.0.1:15990";
const ADMIN: &str = "127.0.0.1:19990";
const OK_UAS: &str = "127.0.0.1:15991";
const BUSY_UAS: &str = "127.0.0.1:15992";

const SCRIPT: &str = r#"
from siphon import proxy, metrics

seen = metrics.counter("cb_replies", "Responses seen by relay on_reply callbacks", labels=["leg", "code"])
failed = metrics.counter("cb_failures", "Failures seen by relay on_failure callbacks", labels=["leg", "code", "reason"])


def second_reply(request, reply):
    seen.labels(leg="second", code=str(reply.status_code)).inc()
    if reply.status_code == 200:
        reply.set_header("X-Second", request.ruri.user)


def first_reply(request, reply):
    seen.labels(leg="first", code=str(reply.status_code)).inc()


def first_failure(request, code, reason):
    failed.labels(leg="first", code=str(code), reason=reason).inc()
    request.relay("sip:OK_UAS", on_reply=second_reply)


async def noted(request, code, reason):
    failed.labels(leg="noted", code=str(code), reason=reason).inc()


@proxy.on_request
def route(request):
    if request.in_dialog or request.method == "ACK":
        request.relay()
        return
    user = request.ruri.user
    if user == "retry":
        request.relay("sip:BUSY_UAS", on_reply=first_reply, on_failure=first_failure)
    elif user == "busy":
        request.relay("sip:BUSY_UAS", on_failure=noted)
    elif user == "bad":
        request.relay("sip:OK_UAS", on_reply=42)
    else:
        request.reply(404, "Not Found")
"#;

/// A UAS on `addr` until `stop`: answers INVITE with 180 and 200, or with
/// 486 when `busy`; returns the requests it received.
fn uas(addr: &'static str, busy: bool, stop: Arc<AtomicBool>) -> thread::JoinHandle<Vec<String>> {
    uas_on(UdpSocket::bind(addr).unwrap(), busy, stop)
}

/// [`uas`] on a socket already bound.
fn uas_on(sock: UdpSocket, busy: bool, stop: Arc<AtomicBool>) -> thread::JoinHandle<Vec<String>> {
    let addr = sock.local_addr().unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut seen = Vec::new();
        let until = Instant::now() + Duration::from_secs(60);
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let parsed = sip::Message::parse(
                bytes::Bytes::copy_from_slice(&buf[..n]),
                sip::Framing::Datagram,
                &sip::Limits::default(),
            );
            let Ok(m) = parsed else {
                continue;
            };
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let out = if busy && m.method().is_some_and(|x| x.as_str() == "INVITE") {
                vec![sip::response::response(&m, 486)
                    .unwrap()
                    .to_tag("busy")
                    .build()]
            } else {
                uas::answer(&m, "ok", &format!("<sip:uas@{addr}>"))
            };
            for r in out {
                let _ = sock.send_to(&r, from);
            }
        }
        seen
    })
}

/// Sends an INVITE for `user` to the core; the responses it gets, up to
/// and including the final one (which is ACKed when not a 2xx).
fn call(ua: &UdpSocket, user: &str) -> Vec<String> {
    call_via(ua, CORE, user)
}

/// [`call`] to the core at `core`.
fn call_via(ua: &UdpSocket, core: &str, user: &str) -> Vec<String> {
    let local = ua.local_addr().unwrap();
    let head = format!(
        "Via: SIP/2.0/UDP {local};branch=z9hG4bK-{user}\r\nMax-Forwards: 70\r\n\
         From: <sip:caller@domain.local>;tag=c1\r\nTo: <sip:{user}@domain.local>\r\nCall-ID: cb-{user}\r\n"
    );
    let invite = format!(
        "INVITE sip:{user}@domain.local SIP/2.0\r\n{head}CSeq: 1 INVITE\r\nContact: <sip:caller@{local}>\r\nContent-Length: 0\r\n\r\n"
    );
    ua.send_to(invite.as_bytes(), core).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let Ok((n, _)) = ua.recv_from(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let status: u16 = text[8..11].parse().unwrap_or(0);
        got.push(text.clone());
        if status >= 200 {
            if status >= 300 {
                let to = text
                    .lines()
                    .find(|l| l.starts_with("To:"))
                    .unwrap_or("To: <sip:x@domain.local>")
                    .to_owned();
                let ack = format!(
                    "ACK sip:{user}@domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-{user}\r\n\
                     Max-Forwards: 70\r\nFrom: <sip:caller@domain.local>;tag=c1\r\n{to}\r\nCall-ID: cb-{user}\r\n\
                     CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
                );
                ua.send_to(ack.as_bytes(), core).unwrap();
            }
            return got;
        }
    }
    got
}

/// A metric's value on `/metrics` (the first line starting with `prefix`).
fn metric(prefix: &str) -> Option<f64> {
    harness::metric_value(ADMIN, prefix)
}

fn final_status(got: &[String]) -> Option<&str> {
    got.last().map(|t| &t[8..11])
}

#[test]
fn per_relay_callbacks_hear_responses_and_retarget_failures() {
    let dir = scratch("core-siphon-callbacks");
    let script = dir.join("callbacks.py");
    let text = SCRIPT
        .replace("OK_UAS", OK_UAS)
        .replace("BUSY_UAS", BUSY_UAS);
    std::fs::write(&script, text).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let uases = [
        uas(OK_UAS, false, Arc::clone(&stop)),
        uas(BUSY_UAS, true, Arc::clone(&stop)),
    ];
    let _core = start(&dir, "core", &core_yaml(CORE, ADMIN, &script, ""));
    wait_for("core admin", Duration::from_secs(20), || {
        http(ADMIN, "GET", "/admin/health", None).is_some()
    });
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    let checks = || {
        // The 486 went to the first relay's on_reply and on_failure; its
        // on_failure relayed to the other UAS, whose callback edited the
        // 200 the caller got.
        let retry = call(&ua, "retry");
        assert_eq!(final_status(&retry), Some("200"), "{retry:?}");
        let ok = retry.last().unwrap();
        assert!(ok.contains("\r\nX-Second: retry\r\n"), "{ok}");
        assert!(
            retry.iter().any(|r| r.starts_with("SIP/2.0 180")),
            "{retry:?}"
        );
        assert_eq!(
            metric("cb_replies_total{leg=\"first\",code=\"486\"}"),
            Some(1.0)
        );
        assert_eq!(
            metric("cb_replies_total{leg=\"second\",code=\"180\"}"),
            Some(1.0)
        );
        assert_eq!(
            metric("cb_replies_total{leg=\"second\",code=\"200\"}"),
            Some(1.0)
        );
        assert_eq!(
            metric("cb_failures_total{leg=\"first\",code=\"486\",reason=\"Busy Here\"}"),
            Some(1.0)
        );

        // An async on_failure that decides nothing: the 486 goes through.
        let busy = call(&ua, "busy");
        assert_eq!(final_status(&busy), Some("486"), "{busy:?}");
        assert_eq!(
            metric("cb_failures_total{leg=\"noted\",code=\"486\",reason=\"Busy Here\"}"),
            Some(1.0)
        );
        // No callback heard the busy call's responses but its own.
        assert_eq!(
            metric("cb_replies_total{leg=\"first\",code=\"486\"}"),
            Some(1.0)
        );

        // A callback that is not callable: 500, and the log names it.
        let bad = call(&ua, "bad");
        assert_eq!(final_status(&bad), Some("500"), "{bad:?}");
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(checks));
    stop.store(true, Ordering::Relaxed);
    for u in uases {
        u.join().unwrap();
    }
    if let Err(e) = outcome {
        dump_logs(&dir);
        std::panic::resume_unwind(e);
    }
    let log = std::fs::read_to_string(dir.join("core.log")).unwrap_or_default();
    assert!(
        log.contains("relay(on_reply=) takes a callable, not int"),
        "the log names the bad argument"
    );
}

const ALIAS_CORE: &str = "127.0.0.1:15993";
const ALIAS_ADMIN: &str = "127.0.0.1:19993";
const ALIAS_UAS: &str = "127.0.0.1:15994";

const ALIAS_SCRIPT: &str = r#"
from siphon import proxy, registrar


@proxy.on_request
def route(request):
    if request.in_dialog or request.method == "ACK":
        request.relay()
        return
    if request.method == "REGISTER":
        registrar.save(request, aliases=["tel:+15551234", "sip:+15551234@domain.local"])
        return
    contacts = registrar.lookup(request.ruri)
    if not contacts:
        request.reply(404, "Not Found")
        return
    request.set_header("X-Aliases", " ".join(registrar.associated_uris(request.ruri)))
    request.relay(contacts[0])
"#;

#[test]
fn a_call_to_an_alias_reaches_the_registered_contact() {
    let dir = scratch("core-siphon-aliases");
    let script = dir.join("aliases.py");
    std::fs::write(&script, ALIAS_SCRIPT).unwrap();
    let _core = start(
        &dir,
        "core",
        &core_yaml(ALIAS_CORE, ALIAS_ADMIN, &script, ""),
    );
    wait_for("core admin", Duration::from_secs(20), || {
        http(ALIAS_ADMIN, "GET", "/admin/health", None).is_some()
    });
    // alice registers from the socket she answers on.
    let alice = UdpSocket::bind(ALIAS_UAS).unwrap();
    alice
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let register = format!(
        "REGISTER sip:domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {ALIAS_UAS};branch=z9hG4bK-reg1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@domain.local>;tag=r1\r\nTo: <sip:alice@domain.local>\r\n\
         Call-ID: alias-reg\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@{ALIAS_UAS}>\r\nExpires: 300\r\n\
         Content-Length: 0\r\n\r\n"
    );
    alice.send_to(register.as_bytes(), ALIAS_CORE).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = alice.recv_from(&mut buf).expect("an answer to REGISTER");
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    let stop = Arc::new(AtomicBool::new(false));
    let callee = uas_on(alice, false, Arc::clone(&stop));

    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let checks = || {
        // An alias and the AoR itself reach alice; nobody else does.
        for user in ["+15551234", "alice"] {
            let got = call_via(&ua, ALIAS_CORE, user);
            assert_eq!(final_status(&got), Some("200"), "{user}: {got:?}");
        }
        let got = call_via(&ua, ALIAS_CORE, "+15550000");
        assert_eq!(final_status(&got), Some("404"), "{got:?}");
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(checks));
    stop.store(true, Ordering::Relaxed);
    let seen = callee.join().unwrap();
    if let Err(e) = outcome {
        dump_logs(&dir);
        std::panic::resume_unwind(e);
    }
    // The script read the set through the alias and through the AoR.
    let invites: Vec<&String> = seen.iter().filter(|r| r.starts_with("INVITE ")).collect();
    assert_eq!(invites.len(), 2, "{seen:?}");
    for i in invites {
        assert!(
            i.contains("\r\nX-Aliases: tel:+15551234 sip:+15551234@domain.local\r\n"),
            "{i}"
        );
    }
}
