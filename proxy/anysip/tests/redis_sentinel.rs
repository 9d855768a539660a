//! The registrar on a Redis watched by Sentinel (one master, two replicas,
//! three sentinels on loopback) with `wait: {replicas: 1}`: sipp registers
//! users and calls through an edge and a core; the master is SIGKILLed
//! while calls run; once the sentinels have promoted a replica,
//! registrations and calls go on, and every binding written before the
//! kill (each acknowledged by a replica) is there.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;
#[path = "support/sentinel.rs"]
mod sentinel;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::{http, repo_tests, sipp, tool, wait_for, Proc};
use lab::{core_yaml, deploy_script, dump_logs, edge_yaml, keys, scratch, sipp_ok, start};
use sentinel::Sentinel;

const SERVERS: [u16; 3] = [16831, 16832, 16833];
const SENTINELS: [u16; 3] = [26831, 26832, 26833];
const CORE: &str = "127.0.0.1:15831";
const CORE_ADMIN: &str = "127.0.0.1:19831";
const EDGE: &str = "127.0.0.1:15832";
const EDGE_ADMIN: &str = "127.0.0.1:19832";
/// Users registered before the kill, and after.
const BEFORE: usize = 100;
const AFTER: usize = 30;

fn users(prefix: char, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

/// `auth:` with every test user (password = user name).
fn auth_yaml() -> String {
    let mut out = String::from("auth:\n  realm: domain.local\n  algorithms: [md5]\n  users:\n");
    for u in ["alice".to_owned(), "bob".to_owned()]
        .into_iter()
        .chain(users('u', BEFORE))
        .chain(users('w', AFTER))
    {
        out.push_str(&format!("    {u}: {u}\n"));
    }
    out
}

/// sipp registering `users` (tests/sipp/core-register-inf.xml) through
/// the edge from `port`; its exit status (None: still running at `limit`).
fn register_users(
    sipp_bin: &Path,
    dir: &Path,
    users: &[String],
    port: &str,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let csv = dir.join(format!("users-{port}.csv"));
    let lines: String = users
        .iter()
        .map(|u| format!("{u};[authentication username={u} password={u}];\n"))
        .collect();
    std::fs::write(&csv, format!("SEQUENTIAL\n{lines}")).unwrap();
    let xml = repo_tests().join("sipp/core-register-inf.xml");
    let n = users.len().to_string();
    let mut p = sipp(
        sipp_bin,
        &[
            "-sf",
            xml.to_str().unwrap(),
            EDGE,
            "-inf",
            csv.to_str().unwrap(),
            "-auth_uri",
            "domain.local",
            "-i",
            "127.0.0.1",
            "-p",
            port,
            "-m",
            &n,
            "-r",
            "50",
            "-timeout",
            "30s",
            "-trace_err",
            "-error_file",
            dir.join(format!("sipp-{port}.log")).to_str().unwrap(),
        ],
    );
    p.wait_timeout(limit)
}

/// sipp calling bob through the edge `calls` times at `rate`/s.
fn calls(sipp_bin: &Path, port: &str, calls: &str, rate: &str) -> Proc {
    let xml = repo_tests().join("sipp/core-uac.xml");
    let (ip, eport) = EDGE.split_once(':').unwrap();
    sipp(
        sipp_bin,
        &[
            "-sf",
            xml.to_str().unwrap(),
            EDGE,
            "-s",
            "bob",
            "-key",
            "other_ip",
            ip,
            "-key",
            "other_port",
            eport,
            "-i",
            "127.0.0.1",
            "-p",
            port,
            "-m",
            calls,
            "-r",
            rate,
            "-timeout",
            "60s",
        ],
    )
}

fn registered(aor: &str) -> bool {
    http(
        CORE_ADMIN,
        "GET",
        &format!("/admin/registrations/{aor}"),
        None,
    )
    .is_some_and(|(s, _)| s == 200)
}

/// A counter of the core's `/metrics` (0 when absent).
fn metric(name: &str) -> u64 {
    let (_, text) = http(CORE_ADMIN, "GET", "/metrics", None).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn sentinel_failover_keeps_registrations_and_calls_and_waited_bindings() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("redis-sentinel");
    let Some(mut redis) = Sentinel::start(&dir, &SERVERS, &SENTINELS) else {
        return;
    };
    assert_eq!(redis.master_port(), Some(SERVERS[0]));
    let registrar = format!(
        "registrar:\n  backend: redis\n  redis:\n{}    wait: {{replicas: 1, timeout_ms: 500}}\n    key_prefix: \"ha:\"\n{}",
        redis.yaml(),
        auth_yaml()
    );
    let script = deploy_script("proxy_default.py");
    let _core = start(
        &dir,
        "core",
        &core_yaml(CORE, CORE_ADMIN, &script, &registrar),
    );
    let keys = keys(&dir);
    let _edge = start(
        &dir,
        "edge",
        &edge_yaml(EDGE, EDGE_ADMIN, 1, &keys, &[CORE]),
    );
    for a in [CORE_ADMIN, EDGE_ADMIN] {
        wait_for("admin", Duration::from_secs(20), || {
            http(a, "GET", "/admin/ready", None).is_some_and(|(s, _)| s == 200)
        });
    }

    // bob registers through the edge and answers calls.
    lab::sipp_register(&sipp_bin, &dir, EDGE, "bob", "15841");
    let _bob = sipp(
        &sipp_bin,
        &[
            "-sf",
            repo_tests().join("sipp/uas-rr.xml").to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            "15841",
            "-aa",
            "-timeout",
            "180s",
        ],
    );
    // 100 users register; every write waited for a replica.
    let before = users('u', BEFORE);
    let st = register_users(&sipp_bin, &dir, &before, "15842", Duration::from_secs(40));
    if st.is_none_or(|s| !s.success()) {
        dump_logs(&dir);
        panic!("{BEFORE} registrations before the kill: {st:?}");
    }
    let waited = metric("anysip_registrar_redis_waits_total");
    assert!(
        waited > BEFORE as u64,
        "WAIT after every binding write: {waited}"
    );
    assert_eq!(
        metric("anysip_registrar_redis_wait_short_total"),
        0,
        "every write acknowledged by a replica"
    );

    // Calls run; the master is SIGKILLed in the middle of them.
    let mut load = calls(&sipp_bin, "15843", "200", "20");
    std::thread::sleep(Duration::from_secs(2));
    let killed = Instant::now();
    redis.kill(SERVERS[0]);
    wait_for(
        "the sentinels promote a replica",
        Duration::from_secs(30),
        || redis.master_port().is_some_and(|p| p != SERVERS[0]),
    );
    let promoted = redis.master_port().unwrap();
    eprintln!("new master {promoted} after {:?}", killed.elapsed());

    // Registrations go on: the core finds the new master by itself.
    let after = users('w', AFTER);
    let mut ok = false;
    for attempt in 0..10 {
        let st = register_users(
            &sipp_bin,
            &dir,
            &after[..1],
            "15844",
            Duration::from_secs(40),
        );
        if st.is_some_and(|s| s.success()) {
            eprintln!(
                "registering again after {:?} ({attempt} retries)",
                killed.elapsed()
            );
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    if !ok {
        dump_logs(&dir);
        panic!("no registration succeeded after the failover");
    }
    let st = register_users(&sipp_bin, &dir, &after, "15845", Duration::from_secs(40));
    if st.is_none_or(|s| !s.success()) {
        dump_logs(&dir);
        panic!("{AFTER} registrations after the failover: {st:?}");
    }
    // Calls go on.
    let _ = load.wait_timeout(Duration::from_secs(30));
    drop(load);
    sipp_ok(
        &sipp_bin,
        &dir,
        &[
            "-sf",
            repo_tests().join("sipp/core-uac.xml").to_str().unwrap(),
            EDGE,
            "-s",
            "bob",
            "-key",
            "other_ip",
            "127.0.0.1",
            "-key",
            "other_port",
            "15832",
            "-i",
            "127.0.0.1",
            "-p",
            "15846",
            "-m",
            "20",
            "-r",
            "20",
            "-timeout",
            "30s",
        ],
        Duration::from_secs(40),
        "20 calls to bob through the edge after the failover",
    );

    // Every binding written before the kill is on the new master.
    let missing: Vec<&String> = before
        .iter()
        .filter(|u| !registered(&format!("sip:{u}@domain.local")))
        .collect();
    assert!(missing.is_empty(), "lost in the failover: {missing:?}");
    assert!(registered("sip:bob@domain.local"));
    for u in &after {
        assert!(registered(&format!("sip:{u}@domain.local")), "{u}");
    }
    let keys = redis.cli(promoted, &["--scan", "--pattern", "ha:aor:*"]);
    assert_eq!(
        keys.lines().count(),
        BEFORE + AFTER + 1,
        "one hash per AoR on the new master"
    );
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}
