//! The routing script inside a running core: an `async def` handler, an
//! exception (500, traceback logged, the next request served), hot reload
//! on file change, and a broken new version that leaves the old one
//! running; then a drain (503 to new requests, the process exits).
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::net::UdpSocket;
use std::time::Duration;

use harness::{http, wait_for};
use lab::{core_yaml, dump_logs, scratch, start};

const CORE: &str = "127.0.0.1:15970";
const ADMIN: &str = "127.0.0.1:19970";

fn script(version: &str) -> String {
    format!(
        r#"import asyncio
from anysip import proxy, log


@proxy.on_request("OPTIONS")
async def options(request):
    await asyncio.sleep(0)
    if request.has("X-Boom"):
        raise RuntimeError("boom on purpose")
    request.reply(200, "Version {version}")


@proxy.on_request
def other(request):
    # Every matching handler runs (SIPhon's dispatcher): leave OPTIONS be.
    if request.method != "OPTIONS":
        request.reply(405)
"#
    )
}

/// Sends an OPTIONS (with `extra` headers) and returns the status line.
fn options(ua: &UdpSocket, n: u32, extra: &str) -> String {
    let local = ua.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:ping@domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKs{n}\r\nMax-Forwards: 70\r\n\
         From: <sip:t@domain.local>;tag=1\r\nTo: <sip:ping@domain.local>\r\nCall-ID: script-{n}\r\nCSeq: 1 OPTIONS\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    ua.send_to(msg.as_bytes(), CORE).unwrap();
    let mut buf = [0u8; 4096];
    let (len, _) = ua.recv_from(&mut buf).expect("an answer");
    let text = String::from_utf8_lossy(&buf[..len]).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn async_handler_errors_and_hot_reload() {
    let dir = scratch("core-script");
    let path = dir.join("route.py");
    std::fs::write(&path, script("1")).unwrap();
    let mut core = start(&dir, "core", &core_yaml(CORE, ADMIN, &path, ""));
    wait_for("core admin", Duration::from_secs(20), || {
        http(ADMIN, "GET", "/admin/health", None).is_some()
    });
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(3))).unwrap();

    // The async handler answers.
    assert_eq!(options(&ua, 1, ""), "SIP/2.0 200 Version 1");
    // An exception: 500, the traceback in the log, and the next request
    // is served as before.
    let st = options(&ua, 2, "X-Boom: yes\r\n");
    assert!(st.starts_with("SIP/2.0 500"), "{st}");
    assert_eq!(options(&ua, 3, ""), "SIP/2.0 200 Version 1");
    let log = std::fs::read_to_string(dir.join("core.log")).unwrap();
    assert!(
        log.contains("boom on purpose") && log.contains("Traceback"),
        "{log}"
    );

    // Hot reload: the new file takes over without a restart.
    std::fs::write(&path, script("2")).unwrap();
    let mut n = 10;
    wait_for("the new script version", Duration::from_secs(10), || {
        n += 1;
        options(&ua, n, "") == "SIP/2.0 200 Version 2"
    });

    // A version that does not compile leaves version 2 running, and the
    // log says why (file and line).
    std::fs::write(&path, "from anysip import proxy\n\ndef broken(:\n").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(options(&ua, 100, ""), "SIP/2.0 200 Version 2");
    assert_eq!(options(&ua, 101, ""), "SIP/2.0 200 Version 2");
    let log = std::fs::read_to_string(dir.join("core.log")).unwrap();
    if !log.contains("route.py:3") {
        dump_logs(&dir);
    }
    assert!(
        log.contains("route.py:3"),
        "the compile error names file and line"
    );

    // Drain: not ready, new requests get 503 with Retry-After, and the
    // process exits on its own (nothing in flight; drain_secs 2).
    let (st, _) = http(ADMIN, "POST", "/admin/drain", None).unwrap();
    assert_eq!(st, 202);
    assert_eq!(
        harness::http_status(ADMIN, "GET", "/admin/ready"),
        Some(503)
    );
    let st = options(&ua, 200, "");
    assert!(st.starts_with("SIP/2.0 503"), "{st}");
    let status = core
        .wait_timeout(Duration::from_secs(10))
        .expect("the core exits after draining");
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}
