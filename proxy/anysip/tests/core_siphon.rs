//! SIPhon's script API in a running core, driven by sipp: a script written
//! with SIPhon's names only (`from siphon import ...`) challenges with
//! `auth.require_digest` (401 for REGISTER, 407 for INVITE), edits the
//! INVITE's headers (the UAS checks them), relays the real failure from
//! `on_failure`, adds reply headers, names an unserved function in its
//! error, sees a registration in `@registrar.on_change`, runs a
//! `@timer.every` callback and exports its own metrics on `/metrics`.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::net::UdpSocket;
use std::time::Duration;

use harness::{http, repo_tests, sipp, tool, wait_for};
use lab::{core_yaml, dump_logs, scratch, sipp_ok, sipp_register, start, AUTH};

const CORE: &str = "127.0.0.1:15980";
const ADMIN: &str = "127.0.0.1:19980";
const UAS: &str = "15981";
const BUSY: &str = "15982";
const SLOW: &str = "15988";

const SCRIPT: &str = r#"
from siphon import proxy, registrar, auth, log, timer, metrics, cache, b2bua, presence, rtpengine

requests = metrics.counter("siphon_test_requests_total", "Requests the script saw", labels=["method"])
failures = metrics.counter("siphon_test_failures", "Failures relayed by on_failure", labels=["code"])
ticks = metrics.counter("siphon_test_ticks_total", "Timer callbacks run")
bindings = metrics.gauge("siphon_test_bindings", "Bindings of alice seen by the timer")
changes = metrics.counter("siphon_test_changes", "registrar.on_change events", labels=["event"])
quality = metrics.gauge("siphon_test_q", "The q of alice's contact, as on_change saw it")
cancels = metrics.counter("siphon_test_cancels", "INVITEs CANCELled (on_cancel)", labels=["user"])


@registrar.on_change
def changed(aor, event, contacts):
    changes.labels(event=event).inc()
    if aor == "sip:alice@domain.local" and contacts:
        quality.set(contacts[0].q)


@timer.every(seconds=0.2)
def tick():
    ticks.inc()
    bindings.set(len(registrar.lookup("sip:alice@domain.local")))


@proxy.on_request
def route(request):
    requests.labels(method=request.method).inc()
    if request.in_dialog:
        request.relay()
        return
    if request.method == "OPTIONS":
        try:
            b2bua.terminate(request.call_id)
        except NotImplementedError as e:
            request.set_reply_header("X-Unserved", str(e))
        request.add_reply_header("X-Cseq", str(request.cseq[0]))
        request.add_reply_header("X-Body", repr(request.body))
        request.set_reply_to_tag("siphon-tag")
        request.reply(200, "OK")
        return
    if request.method == "REGISTER":
        if not auth.require_digest(request, realm="domain.local"):
            return
        registrar.save(request)
        request.set_reply_header("X-Registered", request.auth_user)
        return
    if request.method == "INVITE":
        if not auth.require_digest(request, realm="domain.local"):
            return
        request.set_header("X-Edited", "yes")
        request.remove_headers_matching("X-Strip-")
        request.ensure_header("X-Ensured", "1")
        port = {"ok": UAS, "busy": BUSY, "slow": SLOW, "reject": SLOW}.get(request.ruri.user)
        if port is None:
            request.reply(404, "Not Found")
            return
        uri = request.ruri
        uri.host = "127.0.0.1"
        uri.port = port
        request.ruri = uri
        request.relay()
        return
    request.reply(405, "Method Not Allowed")


@proxy.on_reply
def provisional(request, reply):
    # The proxy-side reject of a ringing call (SIPhon's reply.reject).
    if request.ruri.user == "reject" and reply.status_code == 180:
        reply.reject(503, "Media Authorization Failed")


@proxy.on_cancel
def cancelled(request):
    cancels.labels(user=request.ruri.user).inc()


@proxy.on_failure
def failed(request, reply):
    failures.labels(code=str(reply.status_code)).inc()
    log.info(f"relaying {reply.status_code} from {reply.to_uri} at {reply.source_ip}:{reply.source_port}")
    reply.relay()
"#;

/// Waits until something (a sipp UAS) listens on UDP 127.0.0.1:`port`.
fn wait_bound(port: &str) {
    wait_for("a sipp UAS listening", Duration::from_secs(10), || {
        UdpSocket::bind(format!("127.0.0.1:{port}")).is_err()
    });
}

/// A metric's value on `/metrics` (the first line starting with `prefix`).
fn metric(prefix: &str) -> Option<f64> {
    harness::metric_value(ADMIN, prefix)
}

#[test]
fn siphon_script_through_a_running_core() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("core-siphon");
    let script = dir.join("siphon_route.py");
    let script_text = SCRIPT
        .replace("UAS", UAS)
        .replace("BUSY", BUSY)
        .replace("SLOW", SLOW);
    std::fs::write(&script, script_text).unwrap();
    let _core = start(&dir, "core", &core_yaml(CORE, ADMIN, &script, AUTH));
    wait_for("core admin", Duration::from_secs(20), || {
        http(ADMIN, "GET", "/admin/health", None).is_some()
    });

    // Reply headers, SIPhon's cseq and body, and an unserved function's
    // error naming it.
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let local = ua.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:ping@domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKsiphon1\r\nMax-Forwards: 70\r\n\
         From: <sip:t@domain.local>;tag=1\r\nTo: <sip:ping@domain.local>\r\nCall-ID: siphon-1\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    ua.send_to(options.as_bytes(), CORE).unwrap();
    let mut buf = [0u8; 4096];
    let (len, _) = ua.recv_from(&mut buf).expect("an answer to OPTIONS");
    let answer = String::from_utf8_lossy(&buf[..len]).into_owned();
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer}");
    for want in [
        "X-Unserved: siphon.b2bua.terminate() is not served by anysip\r\n",
        "X-Cseq: 7\r\n",
        "X-Body: None\r\n",
        "To: <sip:ping@domain.local>;tag=siphon-tag\r\n",
    ] {
        assert!(answer.contains(want), "{want:?} in {answer}");
    }
    assert_eq!(answer.matches("\r\nTo:").count(), 1, "{answer}");

    // REGISTER: auth.require_digest challenges with 401, then saves;
    // on_change sees the new registration (q 1.0: the contact gave none).
    sipp_register(&sipp_bin, &dir, CORE, "alice", "15984");
    assert_eq!(
        metric("siphon_test_changes_total{event=\"registered\"}"),
        Some(1.0)
    );
    assert_eq!(metric("siphon_test_q"), Some(1.0));

    // INVITE: 407 challenge, then the edited INVITE reaches the UAS (it
    // fails the call on a missing or leaked header), 200, ACK, BYE.
    let sc = repo_tests().join("sipp");
    let mut uas = sipp(
        &sipp_bin,
        &[
            "-sf",
            sc.join("script-api-uas.xml").to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            UAS,
            "-m",
            "1",
            "-timeout",
            "30",
            "-timeout_error",
        ],
    );
    let mut busy = sipp(
        &sipp_bin,
        &[
            "-sf",
            sc.join("script-api-busy.xml").to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            BUSY,
            "-m",
            "1",
            "-timeout",
            "30",
            "-timeout_error",
        ],
    );
    wait_bound(UAS);
    wait_bound(BUSY);
    let uac = |service: &str, port: &str| {
        let uri = format!("{service}@domain.local");
        sipp_ok(
            &sipp_bin,
            &dir,
            &[
                "-sf",
                sc.join("script-api-uac.xml").to_str().unwrap(),
                CORE,
                "-s",
                service,
                "-au",
                "alice",
                "-ap",
                "alice",
                "-auth_uri",
                &uri,
                "-i",
                "127.0.0.1",
                "-p",
                port,
                "-m",
                "1",
                "-timeout",
                "20",
                "-timeout_error",
            ],
            Duration::from_secs(30),
            &format!("call to {service}"),
        );
    };
    uac("ok", "15983");
    let st = uas
        .wait_timeout(Duration::from_secs(20))
        .expect("the UAS ends");
    if !st.success() {
        dump_logs(&dir);
    }
    assert!(st.success(), "the UAS saw the script's header edits: {st}");

    // A busy callee: on_failure sees the 486 and relays it to the caller.
    uac("busy", "15985");
    let st = busy
        .wait_timeout(Duration::from_secs(20))
        .expect("the busy UAS ends");
    assert!(st.success(), "busy UAS: {st}");

    // A CANCEL at the 180: 487 to the caller, and on_cancel sees the
    // INVITE.
    let mut slow = sipp(
        &sipp_bin,
        &[
            "-sf",
            sc.join("script-api-slow.xml").to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            SLOW,
            "-m",
            "1",
            "-timeout",
            "30",
            "-timeout_error",
        ],
    );
    wait_bound(SLOW);
    sipp_ok(
        &sipp_bin,
        &dir,
        &[
            "-sf",
            sc.join("script-api-cancel.xml").to_str().unwrap(),
            CORE,
            "-s",
            "slow",
            "-au",
            "alice",
            "-ap",
            "alice",
            "-auth_uri",
            "slow@domain.local",
            "-i",
            "127.0.0.1",
            "-p",
            "15989",
            "-m",
            "1",
            "-timeout",
            "20",
            "-timeout_error",
        ],
        Duration::from_secs(30),
        "a CANCELled call",
    );
    let st = slow
        .wait_timeout(Duration::from_secs(20))
        .expect("the slow UAS ends");
    assert!(st.success(), "slow UAS: {st}");
    wait_for("on_cancel", Duration::from_secs(5), || {
        metric("siphon_test_cancels_total{user=\"slow\"}") == Some(1.0)
    });

    // reply.reject on the 180: the caller gets 503, the callee a CANCEL.
    let mut slow = sipp(
        &sipp_bin,
        &[
            "-sf",
            sc.join("script-api-slow.xml").to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            SLOW,
            "-m",
            "1",
            "-timeout",
            "30",
            "-timeout_error",
        ],
    );
    wait_bound(SLOW);
    sipp_ok(
        &sipp_bin,
        &dir,
        &[
            "-sf",
            sc.join("script-api-rejected.xml").to_str().unwrap(),
            CORE,
            "-s",
            "reject",
            "-au",
            "alice",
            "-ap",
            "alice",
            "-auth_uri",
            "reject@domain.local",
            "-i",
            "127.0.0.1",
            "-p",
            "15979",
            "-m",
            "1",
            "-timeout",
            "20",
            "-timeout_error",
        ],
        Duration::from_secs(30),
        "a call rejected at its 180",
    );
    let st = slow
        .wait_timeout(Duration::from_secs(20))
        .expect("the rejected UAS ends");
    assert!(st.success(), "rejected UAS: {st}");

    // The script's metrics on /metrics: the failure it relayed, what it
    // saw, and the timer that ran (and saw alice's binding).
    assert_eq!(
        metric("siphon_test_failures_total{code=\"486\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric("siphon_test_requests_total{method=\"INVITE\"}"),
        Some(8.0),
        "two INVITEs per call, challenged then authenticated"
    );
    wait_for("the timer", Duration::from_secs(5), || {
        metric("siphon_test_ticks_total").is_some_and(|n| n >= 3.0)
    });
    wait_for(
        "the timer's registrar lookup",
        Duration::from_secs(5),
        || metric("siphon_test_bindings") == Some(1.0),
    );
    let log = std::fs::read_to_string(dir.join("core.log")).unwrap();
    assert!(
        log.contains("relaying 486 from sip:busy@domain.local"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

const CACHE_SCRIPT: &str = r#"
from siphon import proxy, cache


@proxy.on_request("OPTIONS")
async def options(request):
    name = request.get_header("X-Cache")
    key = request.get_header("X-Key")
    value = request.get_header("X-Store")
    if value is not None:
        ok = await cache.store(name, key, value, ttl=60)
        n = await cache.list_push(name, key + ":q", value)
        request.reply(200, f"stored {ok} {n}")
        return
    got = await cache.fetch(name, key)
    items = await cache.list_pop_all(name, key + ":q")
    request.reply(200, f"fetched {got} {items} {cache.has_cache(name)}")
"#;

/// The reason phrase a core gives to an OPTIONS with `extra` headers.
fn ask(core: &str, n: u32, extra: &str) -> String {
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let local = ua.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:cache@domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKcache{n}\r\nMax-Forwards: 70\r\n\
         From: <sip:t@domain.local>;tag=1\r\nTo: <sip:cache@domain.local>\r\nCall-ID: cache-{n}\r\nCSeq: 1 OPTIONS\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    ua.send_to(msg.as_bytes(), core).unwrap();
    let mut buf = [0u8; 4096];
    let (len, _) = ua.recv_from(&mut buf).expect("an answer");
    let text = String::from_utf8_lossy(&buf[..len]).into_owned();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("SIP/2.0 200 ").unwrap_or(line).to_owned()
}

#[test]
fn cache_shared_by_two_cores_through_redis() {
    const A: &str = "127.0.0.1:15986";
    const B: &str = "127.0.0.1:15987";
    let dir = scratch("core-siphon-cache");
    let Some(_redis) = lab::redis(&dir, 16986) else {
        return;
    };
    let script = dir.join("cache_route.py");
    std::fs::write(&script, CACHE_SCRIPT).unwrap();
    let caches = "cache:\n  - name: shared\n    url: redis://127.0.0.1:16986\n  - name: mine\n    url: memory://\n";
    let _a = start(
        &dir,
        "core-a",
        &core_yaml(A, "127.0.0.1:19986", &script, caches),
    );
    let _b = start(
        &dir,
        "core-b",
        &core_yaml(B, "127.0.0.1:19987", &script, caches),
    );
    for admin in ["127.0.0.1:19986", "127.0.0.1:19987"] {
        wait_for("core admin", Duration::from_secs(20), || {
            http(admin, "GET", "/admin/health", None).is_some()
        });
    }
    // Stored through core A, read (and the list taken) through core B.
    assert_eq!(
        ask(A, 1, "X-Cache: shared\r\nX-Key: k1\r\nX-Store: v1\r\n"),
        "stored True 1"
    );
    assert_eq!(
        ask(B, 2, "X-Cache: shared\r\nX-Key: k1\r\n"),
        "fetched v1 ['v1'] True"
    );
    // Taken: gone for core A too.
    assert_eq!(
        ask(A, 3, "X-Cache: shared\r\nX-Key: k1\r\n"),
        "fetched v1 [] True"
    );
    // A memory:// cache is the core's own.
    assert_eq!(
        ask(A, 4, "X-Cache: mine\r\nX-Key: k2\r\nX-Store: v2\r\n"),
        "stored True 1"
    );
    assert_eq!(
        ask(A, 5, "X-Cache: mine\r\nX-Key: k2\r\n"),
        "fetched v2 ['v2'] True"
    );
    assert_eq!(
        ask(B, 6, "X-Cache: mine\r\nX-Key: k2\r\n"),
        "fetched None [] True"
    );
    // An unknown cache: SIPhon's answers.
    assert_eq!(
        ask(B, 7, "X-Cache: nope\r\nX-Key: k\r\nX-Store: v\r\n"),
        "stored False None"
    );
    assert_eq!(
        ask(B, 8, "X-Cache: nope\r\nX-Key: k\r\n"),
        "fetched None [] False"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
