//! Cores sharing a Redis registrar, and a core running the shipped
//! `deploy/scripts/lb.py` in front of two of them (DESIGN §1: redundant
//! nodes behind a front LB with a Redis registrar). The LB's destinations
//! have unresolvable host names: their `address` overrides resolution.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

use harness::{http, repo_tests, sipp, tool, wait_for, Proc};
use lab::{core_requests, core_yaml, deploy_script, redis, scratch, start, AUTH};

fn redis_registrar(port: u16) -> String {
    format!("registrar:\n  backend: redis\n  redis:\n    url: redis://127.0.0.1:{port}/0\n    key_prefix: \"t{port}:\"\n{AUTH}")
}

/// REGISTER carol (digest, password "carol") straight to `core` from
/// `ua`: the final status after the challenge.
fn register_raw(ua: &UdpSocket, core: &str, n: u32) -> u16 {
    let local = ua.local_addr().unwrap();
    let send = |cseq: u32, auth: &str| -> String {
        let msg = format!(
            "REGISTER sip:domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKr{n}c{cseq}\r\nMax-Forwards: 70\r\n\
             From: <sip:carol@domain.local>;tag=r{n}\r\nTo: <sip:carol@domain.local>\r\nCall-ID: raw-{n}\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:carol@{local}>\r\nExpires: 600\r\n{auth}Content-Length: 0\r\n\r\n"
        );
        ua.send_to(msg.as_bytes(), core).unwrap();
        let mut buf = [0u8; 4096];
        let (len, _) = ua.recv_from(&mut buf).expect("an answer to REGISTER");
        String::from_utf8_lossy(&buf[..len]).into_owned()
    };
    let challenge = send(1, "");
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    let value = challenge
        .lines()
        .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .unwrap();
    let ch = sip::digest::Challenge::parse(value.trim()).unwrap();
    let creds = ch
        .respond(
            "carol",
            sip::digest::Secret::Password("carol"),
            &sip::digest::ClientRequest {
                method: "REGISTER",
                uri: "sip:domain.local",
                cnonce: "0a4f113b",
                nc: sip::digest::NonceCount(1),
            },
        )
        .unwrap();
    let answer = send(2, &format!("Authorization: {creds}\r\n"));
    answer[8..11].parse().unwrap()
}

fn registered(admin: &str, aor: &str) -> bool {
    http(admin, "GET", &format!("/admin/registrations/{aor}"), None).is_some_and(|(s, _)| s == 200)
}

fn register(sipp_bin: &Path, dir: &Path, to: &str, user: &str, port: &str) {
    lab::sipp_register(sipp_bin, dir, to, user, port);
}

/// `calls` calls to `user` through `to` (INVITE, ACK, BYE all via `to`).
fn call(sipp_bin: &Path, dir: &Path, to: &str, user: &str, calls: &str, from_port: &str) {
    let xml = repo_tests().join("sipp/core-uac.xml");
    let (ip, port) = to.split_once(':').unwrap();
    let err_file = dir
        .join(format!("sipp-{from_port}.log"))
        .display()
        .to_string();
    lab::sipp_ok(
        sipp_bin,
        dir,
        &[
            "-sf",
            xml.to_str().unwrap(),
            to,
            "-s",
            user,
            "-key",
            "other_ip",
            ip,
            "-key",
            "other_port",
            port,
            "-i",
            "127.0.0.1",
            "-p",
            from_port,
            "-m",
            calls,
            "-r",
            "20",
            "-timeout",
            "60s",
            "-trace_err",
            "-error_file",
            &err_file,
        ],
        Duration::from_secs(70),
        &format!("{calls} call(s) to {user} through {to}"),
    );
}

fn uas(sipp_bin: &Path, port: &str) -> Proc {
    let xml = repo_tests().join("sipp/uas-rr.xml");
    let p = sipp(
        sipp_bin,
        &[
            "-sf",
            xml.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            port,
            "-aa",
            "-timeout",
            "120s",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    p
}

#[test]
fn redis_bindings_survive_restarts_and_are_shared_by_cores() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("core-redis");
    let Some(redis_proc) = redis(&dir, 16391) else {
        return;
    };
    let script = deploy_script("proxy_default.py");
    let (c1, c1_admin, c2, c2_admin) = (
        "127.0.0.1:15571",
        "127.0.0.1:19571",
        "127.0.0.1:15572",
        "127.0.0.1:19572",
    );
    let yaml1 = core_yaml(c1, c1_admin, &script, &redis_registrar(16391));
    let mut core1 = start(&dir, "core1", &yaml1);
    let _core2 = start(
        &dir,
        "core2",
        &core_yaml(c2, c2_admin, &script, &redis_registrar(16391)),
    );
    for a in [c1_admin, c2_admin] {
        wait_for("core admin", Duration::from_secs(20), || {
            http(a, "GET", "/admin/health", None).is_some()
        });
    }
    register(&sipp_bin, &dir, c1, "bob", "15590");
    assert!(registered(c1_admin, "sip:bob@domain.local"));
    assert!(
        registered(c2_admin, "sip:bob@domain.local"),
        "core 2 sees core 1's binding"
    );

    // Restart core 1: the binding is still there.
    drop(core1);
    core1 = start(&dir, "core1-again", &yaml1);
    wait_for("core 1 back", Duration::from_secs(20), || {
        http(c1_admin, "GET", "/admin/health", None).is_some()
    });
    assert!(
        registered(c1_admin, "sip:bob@domain.local"),
        "binding survived the restart"
    );

    // bob, registered through core 1, is reached by calls through core 2.
    let _bob = uas(&sipp_bin, "15590");
    let before = core_requests(c2_admin, "INVITE");
    call(&sipp_bin, &dir, c2, "bob", "10", "15580");
    assert!(core_requests(c2_admin, "INVITE") >= before + 10);

    // Redis goes away: REGISTER (with good credentials) gets 503, the core
    // keeps running and says so in its log; Redis back on the same port,
    // the next REGISTER is stored (the registrar reconnected).
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(register_raw(&ua, c2, 1), 200);
    drop(redis_proc);
    assert_eq!(register_raw(&ua, c2, 2), 503, "Redis down");
    assert!(
        http(c2_admin, "GET", "/admin/health", None).is_some(),
        "still running"
    );
    let _redis = redis(&dir, 16391).unwrap();
    let mut n = 3;
    wait_for("REGISTER stored again", Duration::from_secs(10), || {
        n += 1;
        register_raw(&ua, c2, n) == 200
    });
    drop(core1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lb_script_spreads_by_hash_and_fails_over() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("core-lb");
    let Some(_redis) = redis(&dir, 16392) else {
        return;
    };
    let script = deploy_script("proxy_default.py");
    let (b1, b1_admin, b2, b2_admin) = (
        "127.0.0.1:15681",
        "127.0.0.1:19681",
        "127.0.0.1:15682",
        "127.0.0.1:19682",
    );
    let (lb, lb_admin) = ("127.0.0.1:15680", "127.0.0.1:19680");
    let mut back1 = Some(start(
        &dir,
        "back1",
        &core_yaml(b1, b1_admin, &script, &redis_registrar(16392)),
    ));
    let _back2 = start(
        &dir,
        "back2",
        &core_yaml(b2, b2_admin, &script, &redis_registrar(16392)),
    );
    let lb_yaml = core_yaml(
        lb,
        lb_admin,
        &deploy_script("lb.py"),
        &format!(
            "gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        interval_secs: 1\n        timeout_secs: 1\n        failure_threshold: 2\n      destinations:\n\
             \x20       - uri: sip:back1.invalid\n          address: {b1}\n        - uri: sip:back2.invalid\n          address: {b2}\n"
        ),
    );
    let _lb = start(&dir, "lb", &lb_yaml);
    for a in [b1_admin, b2_admin, lb_admin] {
        wait_for("admin", Duration::from_secs(20), || {
            http(a, "GET", "/admin/health", None).is_some()
        });
    }

    // Spread with affinity: MESSAGEs to 20 different users through the LB
    // reach both backends; the same 20 again land exactly where they did.
    // (Not OPTIONS: the LB's probes are OPTIONS, and one landing between
    // two readings of the counters would be counted as a user's request.)
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let local = ua.local_addr().unwrap();
    let send_round = |round: u32| {
        for n in 0..20 {
            let msg = format!(
                "MESSAGE sip:user{n}@domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKlb{round}x{n}\r\nMax-Forwards: 70\r\n\
                 From: <sip:t@domain.local>;tag=1\r\nTo: <sip:user{n}@domain.local>\r\nCall-ID: lb{round}-{n}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
            );
            ua.send_to(msg.as_bytes(), lb).unwrap();
            let mut buf = [0u8; 4096];
            let (n, _) = ua.recv_from(&mut buf).expect("an answer through the LB");
            assert!(
                buf[..n].starts_with(b"SIP/2.0 404"),
                "{}",
                String::from_utf8_lossy(&buf[..n])
            );
        }
    };
    let counts = || {
        (
            core_requests(b1_admin, "MESSAGE"),
            core_requests(b2_admin, "MESSAGE"),
        )
    };
    let (o1, o2) = counts();
    send_round(1);
    let (r1, r2) = counts();
    let (first1, first2) = (r1 - o1, r2 - o2);
    assert!(
        first1 > 0 && first2 > 0,
        "both backends used: {first1} / {first2}"
    );
    assert_eq!(first1 + first2, 20);
    send_round(2);
    let (s1, s2) = counts();
    assert_eq!(
        (s1 - r1, s2 - r2),
        (first1, first2),
        "the same users land on the same backends"
    );

    // bob registers through the LB (on whichever backend his AoR hashes
    // to); calls reach him; then that backend dies, probes mark it down,
    // and new calls go to the other one, which finds bob in Redis.
    register(&sipp_bin, &dir, lb, "bob", "15690");
    let _bob = uas(&sipp_bin, "15690");
    call(&sipp_bin, &dir, lb, "bob", "5", "15685");
    let bob_on_1 = core_requests(b1_admin, "INVITE") >= 5;
    let (dead_admin, live_admin, dead_uri) = if bob_on_1 {
        (b1_admin, b2_admin, "back1.invalid")
    } else {
        (b2_admin, b1_admin, "back2.invalid")
    };
    let _ = dead_admin;
    if bob_on_1 {
        back1.take();
    } else {
        drop(_back2);
    }
    wait_for(
        "dead backend marked down by probes",
        Duration::from_secs(10),
        || {
            let (_, g) = http(lb_admin, "GET", "/admin/gateways", None).unwrap();
            let g: serde_json::Value = serde_json::from_str(&g).unwrap();
            g["groups"][0]["destinations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["uri"] == format!("sip:{dead_uri}") && d["state"] != "up")
        },
    );
    let before = core_requests(live_admin, "INVITE");
    call(&sipp_bin, &dir, lb, "bob", "5", "15685");
    assert!(
        core_requests(live_admin, "INVITE") >= before + 5,
        "new calls went to the live backend"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
