//! RFC 5626 §5.3 next-flow failover at the core (issue 11 item 4), with
//! real processes: three edges with the relay (127.0.0.1/.2/.3, one key
//! ring, one fleet CA made with `anysip fleet ca|cert`), one core running
//! the shipped `proxy_default.py` with its registrar in Redis. The core
//! reaches the fleet through edge 2 (edges 1 and 3 give edge 2's address
//! as their backend-facing one, as an anycast address would be another
//! instance's), so every request to a TCP flow crosses the relay.
//!
//! dave is one UA instance with two flows: reg-id 1 through edge 1, reg-id
//! 2 through edge 3 (`flows/ue.rs`). erin has one flow, through edge 1.
//! Calls to dave take one flow only. Edge 1 is killed with SIGKILL: erin's
//! next call is answered 480 within 2 s (edge 2's 430 ends her only
//! flow's binding) and she is no longer registered; dave's next 20 calls
//! are all answered over flow 2, each within 2 s, and flow 1's binding is
//! gone from Redis. dave then registers flow 1 again through edge 3 and
//! calls take it.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;
#[path = "support/uas.rs"]
mod uas;
#[path = "flows/ue.rs"]
mod ue;

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::{http, http_status, metric_value, repo_tests, sipp, tool, wait_for};
use lab::{core_yaml, deploy_script, dump_logs, fleet, keys, redis, scratch, start};

const SIP_PORT: u16 = 17260;
const RELAY_PORT: u16 = 17261;
const CORE: &str = "127.0.0.5:17270";
const CORE_ADMIN: &str = "127.0.0.1:17284";
const REDIS_PORT: u16 = 17290;
const ALICE: &str = "17275";
const CALLS: u32 = 20;
/// The most one call may take, the failover included.
const CALL_LIMIT: Duration = Duration::from_secs(2);
const DAVE: &str = "<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";
const ERIN: &str = "<urn:uuid:00000000-0000-1000-8000-0000000e0000>";
const FAY: &str = "<urn:uuid:00000000-0000-1000-8000-00000000fa00>";
const USERS: &str =
    "auth:\n  realm: domain.local\n  algorithms: [md5]\n  users:\n    alice: alice\n    dave: dave\n    erin: erin\n    fay: fay\n";

fn admin(instance: u16) -> String {
    format!("127.0.0.1:{}", 17280 + instance)
}

fn relay_addr(instance: u16) -> String {
    format!("127.0.0.{instance}:{RELAY_PORT}")
}

fn edge_tcp(instance: u16) -> String {
    format!("127.0.0.{instance}:{SIP_PORT}")
}

/// Edge `n`. Edges 1 and 3 hold the UEs' flows and listen on the wildcard
/// UDP address so that their backend-facing address can be edge 2's.
fn edge(dir: &Path, n: u16, keys: &Path) -> String {
    let d = dir.display();
    let peers: String = (1..=3)
        .map(|i| format!("    - {{ instance_id: {i}, address: {} }}\n", relay_addr(i)))
        .collect();
    let (udp, faces) = if n == 2 {
        (format!("127.0.0.2:{SIP_PORT}"), String::new())
    } else {
        (
            format!("0.0.0.0:{SIP_PORT}"),
            format!(
                "  ue_address: 127.0.0.{n}:{SIP_PORT}\n  backend_address: 127.0.0.2:{SIP_PORT}\n"
            ),
        )
    };
    format!(
        "role: edge\nlisten:\n  udp: [{udp}]\n  tcp: [{tcp}]\nadmin:\n  listen: {admin}\n\
         server:\n  instance_id: {n}\n  drain_secs: 1\n\
         gateway:\n  groups:\n    - name: backends\n      probe:\n        enabled: false\n      destinations:\n        - uri: sip:{CORE}\n          address: {CORE}\n\
         edge:\n  keys:\n    file: {k}\n{faces}\
         relay:\n  listen: {relay}\n  peers:\n{peers}  ca: {d}/fleet-ca.pem\n  cert: {d}/edge-{n}.pem\n  key: {d}/edge-{n}.key\n\
         \x20 connect_timeout_ms: 300\n  keep_alive_ms: 300\n  idle_timeout_ms: 1500\n",
        tcp = edge_tcp(n),
        admin = admin(n),
        k = keys.display(),
        relay = relay_addr(n),
    )
}

/// The reg-ids of `user`'s bindings at the core (read from Redis).
fn reg_ids(user: &str) -> Vec<u64> {
    let (status, body) = http(
        CORE_ADMIN,
        "GET",
        &format!("/admin/registrations/sip:{user}@domain.local"),
        None,
    )
    .unwrap();
    if status == 404 {
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut ids: Vec<u64> = v["bindings"]
        .as_array()
        .map(|a| a.iter().filter_map(|b| b["reg_id"].as_u64()).collect())
        .unwrap_or_default();
    ids.sort_unstable();
    ids
}

/// The sum of the core's `/metrics` lines starting with `prefix`.
fn core_metric(prefix: &str) -> u64 {
    let (_, text) = http(CORE_ADMIN, "GET", "/metrics", None).unwrap();
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// One call from alice to `user` through edge 2 (tests/sipp/core-uac.xml:
/// INVITE, ACK, BYE): whether sipp saw it through, and how long it took.
fn call(sipp_bin: &Path, user: &str) -> (bool, Duration) {
    let uac = repo_tests().join("sipp/core-uac.xml");
    let t0 = Instant::now();
    let mut p = sipp(
        sipp_bin,
        &[
            "-sf",
            uac.to_str().unwrap(),
            &edge_tcp(2),
            "-s",
            user,
            "-key",
            "other_ip",
            "127.0.0.2",
            "-key",
            "other_port",
            &SIP_PORT.to_string(),
            "-i",
            "127.0.0.1",
            "-p",
            ALICE,
            "-m",
            "1",
            "-timeout",
            "10s",
        ],
    );
    let ok = p
        .wait_timeout(Duration::from_secs(15))
        .is_some_and(|s| s.success());
    (ok, t0.elapsed())
}

/// An INVITE to `user` from a plain UDP socket through edge 2: the first
/// final status and how long it took (the final response is ACKed).
fn invite(ua: &UdpSocket, user: &str, n: u32) -> (u16, Duration) {
    let local = ua.local_addr().unwrap();
    let branch = format!("z9hG4bK-flows-{user}-{n}");
    let head = |method: &str, to_tag: &str| {
        format!(
            "{method} sip:{user}@domain.local SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             From: <sip:alice@domain.local>;tag=a{n}\r\nTo: <sip:{user}@domain.local>{to_tag}\r\n\
             Call-ID: flows-{user}-{n}@test\r\nCSeq: 1 {method}\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let edge = edge_tcp(2);
    let t0 = Instant::now();
    ua.send_to(head("INVITE", "").as_bytes(), &edge).unwrap();
    let mut buf = [0u8; 4096];
    while t0.elapsed() < Duration::from_secs(40) {
        let Ok((len, _)) = ua.recv_from(&mut buf) else {
            continue;
        };
        let Ok(resp) = sip::Message::parse(
            bytes::Bytes::copy_from_slice(&buf[..len]),
            sip::Framing::Datagram,
            &sip::Limits::default(),
        ) else {
            continue;
        };
        let code = resp.status().unwrap_or(0);
        if code >= 300 {
            let took = t0.elapsed();
            let tag = resp
                .to()
                .ok()
                .and_then(|t| t.tag().map(|t| format!(";tag={t}")))
                .unwrap_or_default();
            // RFC 3261 §17.1.1.3: the ACK of a non-2xx, same branch.
            let ack = head("ACK", &tag);
            ua.send_to(ack.as_bytes(), &edge).unwrap();
            return (code, took);
        }
        assert!(code < 200, "{user}: unexpected {code}");
    }
    panic!("no final response to the INVITE to {user} within 40 s");
}

#[test]
fn a_dead_flow_fails_over_to_the_instances_next_flow() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("flows");
    let Some(_redis) = redis(&dir, REDIS_PORT) else {
        return;
    };
    let keys = keys(&dir);
    fleet(&dir, &[1, 2, 3]);
    let registrar = format!(
        "registrar:\n  backend: redis\n  redis:\n    url: redis://127.0.0.1:{REDIS_PORT}/0\n    key_prefix: \"flows:\"\n{USERS}"
    );
    let _core = start(
        &dir,
        "core",
        &core_yaml(
            CORE,
            CORE_ADMIN,
            &deploy_script("proxy_default.py"),
            &registrar,
        ),
    );
    let mut edges: Vec<harness::Proc> = (1..=3)
        .map(|n| start(&dir, &format!("edge-{n}"), &edge(&dir, n, &keys)))
        .collect();
    for a in [CORE_ADMIN.to_string(), admin(1), admin(2), admin(3)] {
        let t0 = Instant::now();
        while http_status(&a, "GET", "/admin/ready") != Some(200) {
            if t0.elapsed() > Duration::from_secs(20) {
                dump_logs(&dir);
                panic!("{a} not ready");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // dave registers flow 2 through edge 3, then flow 1 through edge 1
    // (the most recent binding is tried first); erin her one flow through
    // edge 1.
    let dave = ue::Ua::start(
        "dave",
        DAVE,
        &[(2, &edge_tcp(3)), (1, &edge_tcp(1))],
        Duration::from_millis(1100),
    );
    let erin = ue::Ua::start("erin", ERIN, &[(1, &edge_tcp(1))], Duration::ZERO);
    assert_eq!(reg_ids("dave"), [1, 2]);
    assert_eq!(reg_ids("erin"), [1]);

    // One flow per instance at a time: every call takes flow 1 only.
    for _ in 0..5 {
        let (ok, took) = call(&sipp_bin, "dave");
        if !ok {
            dump_logs(&dir);
        }
        assert!(ok, "a call to dave failed before the kill ({took:?})");
    }
    assert_eq!((dave.invites(1), dave.invites(2)), (5, 0));

    // fay's one flow (through edge 1) closes while edge 1 lives: edge 1,
    // the owner, answers the relayed INVITE 430 itself and the answer
    // returns to the core as any response (edge 2, which relayed it, sends
    // none); the core ends her binding and answers 480, fast.
    let fay = ue::Ua::start("fay", FAY, &[(1, &edge_tcp(1))], Duration::ZERO);
    assert_eq!(reg_ids("fay"), [1]);
    let open = || metric_value(&admin(1), "anysip_connections_open").unwrap_or(0.0);
    let before = open();
    drop(fay);
    wait_for(
        "fay's connection closed at edge 1",
        Duration::from_secs(3),
        || open() < before,
    );
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let (status, took) = invite(&ua, "fay", 1);
    if status != 480 || took > CALL_LIMIT {
        dump_logs(&dir);
    }
    assert_eq!(status, 480, "fay's only flow is gone");
    assert!(took < CALL_LIMIT, "fay answered after {took:?}");
    let owner_430 = metric_value(&admin(1), "anysip_replies_total{status=\"430\"}");
    assert_eq!(owner_430, Some(1.0), "edge 1 answered 430");
    // The INVITE, and (once it comes) the core's ACK of the 430, relayed
    // like the INVITE.
    let gone = metric_value(
        &admin(1),
        "anysip_drops_total{reason=\"relayed_flow_gone\"}",
    );
    assert!(gone.is_some_and(|g| g >= 1.0), "{gone:?}");
    assert_eq!(
        metric_value(&admin(2), "anysip_replies_total{status=\"430\"}").unwrap_or(0.0),
        0.0,
        "edge 2 relayed, the owner answered"
    );
    wait_for("fay's binding removed", Duration::from_secs(3), || {
        reg_ids("fay").is_empty()
    });

    // The owner of flow 1 and of erin's flow dies.
    edges[0].0.kill().unwrap();
    let _ = edges[0].0.wait();

    // erin has no other flow: 480 (edge 2's 430 is between it and the
    // core), fast; her binding is gone, so the next call finds no one.
    let (status, took) = invite(&ua, "erin", 1);
    if status != 480 || took > CALL_LIMIT {
        dump_logs(&dir);
    }
    assert_eq!(status, 480, "erin's only flow is dead");
    assert!(took < CALL_LIMIT, "erin answered after {took:?}");
    eprintln!("erin's 480 after {took:?}");
    wait_for(
        "erin's dead binding removed",
        Duration::from_secs(3),
        || reg_ids("erin").is_empty(),
    );
    let (status, took) = invite(&ua, "erin", 2);
    assert_eq!(status, 404, "erin is no longer registered");
    assert!(took < CALL_LIMIT);
    drop(erin);

    // dave: every call is answered over flow 2, each in bounded time.
    let mut times = Vec::new();
    for i in 0..CALLS {
        let (ok, took) = call(&sipp_bin, "dave");
        if !ok || took > CALL_LIMIT {
            dump_logs(&dir);
        }
        assert!(ok, "call {i} to dave failed ({took:?})");
        assert!(took < CALL_LIMIT, "call {i} to dave took {took:?}");
        times.push(took);
    }
    eprintln!("calls to dave after the kill: {times:?}");
    assert_eq!(dave.invites(2), CALLS, "every call over flow 2");
    assert_eq!(dave.invites(1), 5, "nothing more reached flow 1");

    // Flow 1's binding is gone from the registrar (Redis), flow 2's stays.
    wait_for("dave's dead flow removed", Duration::from_secs(3), || {
        reg_ids("dave") == [2]
    });
    if let Some(cli) = tool("redis-cli") {
        let out = Command::new(cli)
            .args(["-p", &REDIS_PORT.to_string()])
            .args(["HKEYS", "flows:aor:{sip:dave@domain.local}"])
            .output()
            .unwrap();
        let keys = String::from_utf8_lossy(&out.stdout);
        let mut keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["_v", &format!("flow:2:{DAVE}")], "in Redis");
    }
    // dave recovers flow 1 through a live edge (RFC 5626 §4.5): the new,
    // most recent binding takes the calls again.
    let recovered = ue::Ua::start("dave", DAVE, &[(1, &edge_tcp(3))], Duration::ZERO);
    assert_eq!(reg_ids("dave"), [1, 2]);
    for i in 0..3 {
        let (ok, took) = call(&sipp_bin, "dave");
        assert!(
            ok && took < CALL_LIMIT,
            "call {i} after recovery ({took:?})"
        );
    }
    assert_eq!(recovered.invites(1), 3, "over the recovered flow 1");
    assert_eq!(dave.invites(2), CALLS);
    drop(recovered);
    // The core failed over once for dave and gave up once for erin.
    assert!(
        core_metric("anysip_core_flow_failures_total{outcome=\"next_flow\"}") >= 1,
        "next_flow counted"
    );
    assert!(
        core_metric("anysip_core_flow_failures_total{outcome=\"none_left\"}") >= 1,
        "none_left counted"
    );
    drop(dave);
    drop(edges);
    let _ = std::fs::remove_dir_all(&dir);
}
