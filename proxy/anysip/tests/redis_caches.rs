//! The scripts' named caches (`cache:`) on a three-master Redis Cluster
//! (`cluster:`) and on a Sentinel-watched master (`redis+sentinel://`):
//! values stored and read through a core's script, lists in many slots
//! summed by `list_len_sum` (a scan of every master) and one taken by
//! `list_pop_all` (a transaction on its node), and a cached value
//! read again after the sentinels have promoted a replica.
#![allow(clippy::unwrap_used)]

#[path = "../../registrar/tests/support/cluster.rs"]
mod cluster;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;
#[path = "support/sentinel.rs"]
mod sentinel;

use std::net::UdpSocket;
use std::time::Duration;

use harness::{http, tool, wait_for};
use lab::{core_yaml, dump_logs, scratch, start};
use sentinel::Sentinel;

const CLUSTER: [u16; 3] = [16851, 16852, 16853];
const SERVERS: [u16; 3] = [16854, 16855, 16856];
const SENTINELS: [u16; 3] = [26854, 26855, 26856];
const CORE: &str = "127.0.0.1:15851";
const ADMIN: &str = "127.0.0.1:19851";
/// Lists pushed to, each its own key (and slot).
const LISTS: usize = 24;

const SCRIPT: &str = r#"
from siphon import proxy, cache


@proxy.on_request("OPTIONS")
async def options(request):
    name = request.get_header("X-Cache")
    op = request.get_header("X-Op")
    if op == "store":
        ok = await cache.store(name, "k", request.get_header("X-Value"), ttl=600)
        request.reply(200, f"stored {ok}")
    elif op == "fetch":
        request.reply(200, f"fetched {await cache.fetch(name, 'k')}")
    elif op == "push":
        total = 0
        for i in range(int(request.get_header("X-Lists"))):
            total += await cache.list_push(name, f"q:{i}", "x") or 0
        request.reply(200, f"pushed {total}")
    elif op == "pop":
        request.reply(200, f"popped {await cache.list_pop_all(name, 'q:0')}")
    elif op == "sum":
        request.reply(200, f"sum {await cache.list_len_sum(name, 'q:')}")
"#;

/// The reason phrase the core answers an OPTIONS asking `extra`.
fn ask(n: u32, extra: &str) -> String {
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = ua.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:cache@domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKrc{n}\r\nMax-Forwards: 70\r\n\
         From: <sip:t@domain.local>;tag=1\r\nTo: <sip:cache@domain.local>\r\nCall-ID: rc-{n}\r\nCSeq: 1 OPTIONS\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    ua.send_to(msg.as_bytes(), CORE).unwrap();
    let mut buf = [0u8; 4096];
    let Ok((len, _)) = ua.recv_from(&mut buf) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&buf[..len]).into_owned();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("SIP/2.0 200 ").unwrap_or(line).to_owned()
}

#[test]
fn caches_on_a_cluster_and_through_sentinel() {
    if !cluster::available("caches_on_a_cluster_and_through_sentinel") {
        return;
    }
    let dir = scratch("redis-caches");
    let redis_cluster = cluster::Cluster::start(CLUSTER);
    let Some(mut sentinel) = Sentinel::start(&dir, &SERVERS, &SENTINELS) else {
        return;
    };
    if tool("redis-cli").is_none() {
        return;
    }
    let script = dir.join("caches.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let sentinels: Vec<String> = SENTINELS.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let caches = format!(
        "cache:\n  - name: cl\n    cluster:\n      nodes: [\"127.0.0.1:{}\"]\n  - name: se\n    url: \"redis+sentinel://{}/{}\"\n",
        CLUSTER[2],
        sentinels.join(","),
        sentinel::MASTER
    );
    let _core = start(&dir, "core", &core_yaml(CORE, ADMIN, &script, &caches));
    wait_for("core admin", Duration::from_secs(20), || {
        http(ADMIN, "GET", "/admin/health", None).is_some()
    });

    // Cluster: one value, lists in many slots, and their sum over every
    // master.
    assert_eq!(
        ask(1, "X-Cache: cl\r\nX-Op: store\r\nX-Value: v1\r\n"),
        "stored True"
    );
    assert_eq!(ask(2, "X-Cache: cl\r\nX-Op: fetch\r\n"), "fetched v1");
    let lists = format!("X-Cache: cl\r\nX-Op: push\r\nX-Lists: {LISTS}\r\n");
    assert_eq!(ask(3, &lists), format!("pushed {LISTS}"));
    let per_node: Vec<usize> = CLUSTER
        .iter()
        .map(|p| redis_cluster.keys_on(*p, "q:*"))
        .collect();
    assert_eq!(per_node.iter().sum::<usize>(), LISTS, "{per_node:?}");
    assert!(
        per_node.iter().all(|n| *n > 0),
        "lists on every master: {per_node:?}"
    );
    assert_eq!(
        ask(4, "X-Cache: cl\r\nX-Op: sum\r\n"),
        format!("sum {LISTS}")
    );
    // Read and cleared in one transaction, on the list's node.
    assert_eq!(ask(6, "X-Cache: cl\r\nX-Op: pop\r\n"), "popped ['x']");
    assert_eq!(
        ask(7, "X-Cache: cl\r\nX-Op: sum\r\n"),
        format!("sum {}", LISTS - 1)
    );

    // Sentinel: a value on the master, read back after a failover.
    assert_eq!(
        ask(8, "X-Cache: se\r\nX-Op: store\r\nX-Value: v2\r\n"),
        "stored True"
    );
    assert_eq!(sentinel.cli(SERVERS[0], &["GET", "k"]), "v2");
    wait_for("the value on a replica", Duration::from_secs(10), || {
        sentinel.cli(SERVERS[1], &["GET", "k"]) == "v2"
            && sentinel.cli(SERVERS[2], &["GET", "k"]) == "v2"
    });
    sentinel.kill(SERVERS[0]);
    wait_for(
        "the sentinels promote a replica",
        Duration::from_secs(30),
        || sentinel.master_port().is_some_and(|p| p != SERVERS[0]),
    );
    let mut n = 10;
    let mut last = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        n += 1;
        last = ask(n, "X-Cache: se\r\nX-Op: fetch\r\n");
        if last == "fetched v2" {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if last != "fetched v2" {
        dump_logs(&dir);
    }
    assert_eq!(last, "fetched v2", "read from the new master");
    assert_eq!(
        ask(n + 1, "X-Cache: se\r\nX-Op: store\r\nX-Value: v3\r\n"),
        "stored True"
    );
    let master = sentinel.master_port().unwrap();
    assert_eq!(sentinel.cli(master, &["GET", "k"]), "v3");
    drop(sentinel);
    drop(redis_cluster);
    let _ = std::fs::remove_dir_all(&dir);
}
