//! SIPhon's `proxy.send_request` in a running core: a script originates a
//! MESSAGE and awaits its final response (the test UAS ignores the first
//! transmission, so the answer comes to a retransmission), gets None when
//! nothing answers, and sends a NOTIFY without waiting.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::net::UdpSocket;
use std::time::Duration;

use harness::{http, wait_for};
use lab::{dump_logs, scratch, start};

const CORE: &str = "127.0.0.1:16947";
const ADMIN: &str = "127.0.0.1:16948";

const SCRIPT: &str = r#"
from siphon import proxy


@proxy.on_request("OPTIONS")
async def options(request):
    reply = await proxy.send_request(
        "MESSAGE",
        "sip:bob@" + request.get_header("X-To"),
        headers={"Content-Type": "text/plain", "X-Origin": "script"},
        body="hello",
        wait_for_response=True,
        timeout_ms=int(request.get_header("X-Wait")),
    )
    if reply is None:
        request.reply(504, "No Answer")
        return
    request.reply(200, f"got {reply.status_code} {reply.get_header('X-Uas')}")


@proxy.on_request("INFO")
async def info(request):
    sent = await proxy.send_request("NOTIFY", "sip:bob@" + request.get_header("X-To"), headers={"Event": "dialog"})
    request.reply(200, f"sent {sent}")
"#;

/// Sends `method` to the core with extra headers; its final answer's
/// status line.
fn ask(method: &str, n: u32, extra: &str) -> String {
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let local = ua.local_addr().unwrap();
    let msg = format!(
        "{method} sip:core@domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKsend{n}\r\nMax-Forwards: 70\r\n\
         From: <sip:t@domain.local>;tag={n}\r\nTo: <sip:core@domain.local>\r\nCall-ID: send-{n}\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    ua.send_to(msg.as_bytes(), CORE).unwrap();
    let mut buf = [0u8; 4096];
    let (len, _) = ua.recv_from(&mut buf).expect("an answer from the core");
    let text = String::from_utf8_lossy(&buf[..len]).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

/// A header's value in a message.
fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `status` to `req` (its Via, From, To, Call-ID and CSeq) with X-Uas.
fn answer(req: &str, status: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if let Some(v) = header(req, name) {
            out.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    out.push_str("X-Uas: yes\r\nContent-Length: 0\r\n\r\n");
    out
}

#[test]
fn scripts_send_requests_and_await_their_answers() {
    let dir = scratch("core-siphon-send");
    let script = dir.join("send_route.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let yaml = format!(
        "role: core\nlisten:\n  udp: [{CORE}]\nadmin:\n  listen: {ADMIN}\nserver:\n  instance_id: core-send\n  drain_secs: 2\n\
         domain:\n  local: [domain.local]\nscript:\n  path: {}\n",
        script.display()
    );
    let _core = start(&dir, "core", &yaml);
    wait_for("core admin", Duration::from_secs(20), || {
        http(ADMIN, "GET", "/admin/health", None).is_some()
    });
    let uas = UdpSocket::bind("127.0.0.1:0").unwrap();
    uas.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let to = uas.local_addr().unwrap().to_string();

    // Awaited: the first MESSAGE is ignored, its retransmission answered
    // 100 then 202.
    let caller = {
        let extra = format!("X-To: {to}\r\nX-Wait: 5000\r\n");
        std::thread::spawn(move || ask("OPTIONS", 1, &extra))
    };
    let mut buf = [0u8; 4096];
    let (len, _) = uas.recv_from(&mut buf).expect("the MESSAGE");
    let first = String::from_utf8_lossy(&buf[..len]).into_owned();
    let (len, from) = uas.recv_from(&mut buf).expect("its retransmission");
    let again = String::from_utf8_lossy(&buf[..len]).into_owned();
    if first != again {
        dump_logs(&dir);
    }
    assert_eq!(first, again, "a retransmission is the same request");
    assert!(
        first.starts_with(&format!("MESSAGE sip:bob@{to} SIP/2.0\r\n")),
        "{first}"
    );
    assert_eq!(header(&first, "X-Origin"), Some("script"), "{first}");
    assert_eq!(
        header(&first, "Content-Type"),
        Some("text/plain"),
        "{first}"
    );
    assert!(first.ends_with("\r\n\r\nhello"), "{first}");
    uas.send_to(answer(&first, "100 Trying").as_bytes(), from)
        .unwrap();
    uas.send_to(answer(&first, "202 Accepted").as_bytes(), from)
        .unwrap();
    assert_eq!(caller.join().unwrap(), "SIP/2.0 200 got 202 yes");

    // Nothing answers: None once timeout_ms has passed.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let quiet = silent.local_addr().unwrap();
    let started = std::time::Instant::now();
    assert_eq!(
        ask("OPTIONS", 2, &format!("X-To: {quiet}\r\nX-Wait: 800\r\n")),
        "SIP/2.0 504 No Answer"
    );
    assert!(started.elapsed() >= Duration::from_millis(700));

    // Not awaited: the script goes on at once; the NOTIFY still arrives.
    assert_eq!(
        ask("INFO", 3, &format!("X-To: {to}\r\n")),
        "SIP/2.0 200 sent None"
    );
    let (len, from) = uas.recv_from(&mut buf).expect("the NOTIFY");
    let notify = String::from_utf8_lossy(&buf[..len]).into_owned();
    assert!(notify.starts_with("NOTIFY sip:bob@"), "{notify}");
    assert_eq!(header(&notify, "Event"), Some("dialog"), "{notify}");
    uas.send_to(answer(&notify, "200 OK").as_bytes(), from)
        .unwrap();
    drop(silent);
    let _ = std::fs::remove_dir_all(&dir);
}
