//! A reconnect storm (issue 14): after a route change or a restart
//! thousands of UEs reconnect at once. 10,000 TCP connections opened in a
//! burst are all accepted by one edge within 2 s (the listener's backlog
//! is the kernel's largest; TLS handshakes would run off the accept path).
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::time::{Duration, Instant};

use harness::{http, http_status, wait_for};
use lab::{dump_logs, keys, scratch, start};

const EDGE: &str = "127.0.0.1:18760";
const ADMIN: &str = "127.0.0.1:19760";
const BURST: usize = 10_000;

fn connections() -> u64 {
    let (_, body) = http(ADMIN, "GET", "/admin/stats", None).unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["connections"].as_u64().unwrap()
}

#[test]
fn ten_thousand_connections_in_a_burst_are_accepted_within_two_seconds() {
    // Ours and the edge's descriptors: raise this process's soft limit.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= BURST as u64 + 256,
        "the open files limit ({hard}) is below the test's {BURST} connections"
    );
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    let dir = scratch("accept-storm");
    let keys = keys(&dir);
    let edge = format!(
        "role: edge\nlisten:\n  udp: [{EDGE}]\n  tcp: [{EDGE}]\nadmin:\n  listen: {ADMIN}\n\
         limits:\n  max_connections: 12000\n\
         gateway:\n  groups:\n    - name: backends\n      probe:\n        enabled: false\n      destinations:\n\
         \x20       - uri: sip:127.0.0.1:18770\n          address: 127.0.0.1:18770\n\
         edge:\n  keys:\n    file: {}\n",
        keys.display()
    );
    let _edge = start(&dir, "edge", &edge);
    wait_for("edge ready", Duration::from_secs(20), || {
        http_status(ADMIN, "GET", "/admin/ready") == Some(200)
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (held, opened_in) = rt.block_on(async {
        let t0 = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..BURST {
            set.spawn(tokio::net::TcpStream::connect(EDGE));
        }
        let mut held = Vec::with_capacity(BURST);
        while let Some(r) = set.join_next().await {
            held.push(r.unwrap().expect("connect"));
        }
        (held, t0.elapsed())
    });
    let t0 = Instant::now();
    let mut accepted = connections();
    while accepted < BURST as u64 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        accepted = connections();
    }
    let total = opened_in + t0.elapsed();
    eprintln!("{BURST} connections: connected in {opened_in:?}, all accepted after {total:?}");
    if accepted < BURST as u64 || total > Duration::from_secs(2) {
        dump_logs(&dir);
    }
    assert_eq!(accepted, BURST as u64, "connections the edge accepted");
    assert!(
        total <= Duration::from_secs(2),
        "{BURST} connections took {total:?} to be accepted"
    );
    drop(held);
    let _ = std::fs::remove_dir_all(&dir);
}
