//! The packet filter with XDP off (no `xdp.interface`): the classifier in
//! the UDP receive path drops junk, rate-limits new requests per source
//! while in-dialog requests pass, honours the blocklist managed through
//! the admin API, and blocks scanners by User-Agent.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;

use std::net::UdpSocket;
use std::time::Duration;

use harness::{anysip, http, wait_for};

const EDGE: &str = "127.0.0.1:15660";
const ADMIN: &str = "127.0.0.1:19491";

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("edge.yaml");
    std::fs::write(
        &path,
        format!(
            "role: edge\nlisten:\n  udp: [{EDGE}]\nadmin:\n  listen: {ADMIN}\n\
             gateway:\n  groups:\n    - name: backends\n      destinations:\n        - uri: sip:127.0.0.1:15670\n          address: 127.0.0.1:15670\n\
             edge:\n  keys:\n    dev: true\n\
             xdp:\n  rate: 1\n  burst: 5\n  auto_shed: false\n  blocklist: [192.0.2.0/24]\n  auto_block:\n    block_secs: 600\n"
        ),
    )
    .unwrap();
    path
}

struct Ue(UdpSocket);

impl Ue {
    fn at(ip: &str) -> Ue {
        let s = UdpSocket::bind(format!("{ip}:0")).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        Ue(s)
    }

    fn request(&self, method: &str, n: u32, extra: &str) -> String {
        let local = self.0.local_addr().unwrap();
        format!(
            "{method} sip:{EDGE} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKf{n}{}\r\nMax-Forwards: 70\r\n\
             From: <sip:t@x>;tag=1\r\nTo: <sip:{EDGE}>\r\nCall-ID: f{n}-{}\r\nCSeq: {n} {method}\r\n{extra}Content-Length: 0\r\n\r\n",
            local.port(),
            local.port()
        )
    }

    fn send(&self, bytes: &[u8]) {
        self.0.send_to(bytes, EDGE).unwrap();
    }

    /// Whether an answer comes within the read timeout.
    fn answered(&self) -> bool {
        let mut buf = [0u8; 4096];
        self.0.recv_from(&mut buf).is_ok()
    }

    fn options_answered(&self, n: u32) -> bool {
        self.send(self.request("OPTIONS", n, "").as_bytes());
        self.answered()
    }
}

fn stats() -> serde_json::Value {
    let (status, body) = http(ADMIN, "GET", "/admin/stats", None).unwrap();
    assert_eq!(status, 200);
    serde_json::from_str(&body).unwrap()
}

fn user_space(verdict: &str) -> u64 {
    stats()["filter"]["user_space"][verdict].as_u64().unwrap()
}

#[test]
fn user_space_classifier() {
    let dir = std::env::temp_dir().join(format!("anysip-filter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _edge = anysip(&config(&dir));
    wait_for("admin API", Duration::from_secs(10), || {
        http(ADMIN, "GET", "/admin/health", None).is_some()
    });

    // Said in /admin/stats: the classifier is in user space, and why.
    let s = stats();
    assert_eq!(s["filter"]["path"], "user_space", "{s}");
    assert_eq!(s["filter"]["reason"], "no xdp.interface configured");
    assert_eq!(s["filter"]["blocklist_entries"], 1, "the config entry");

    // Junk is dropped unanswered and counted as not SIP.
    let junk = Ue::at("127.0.0.4");
    let before = user_space("drop_not_sip");
    for i in 0..50u8 {
        junk.send(&[0xde, 0xad, i, b'x', b'y']);
    }
    junk.send(b"\x16\x03\x01\x00\xa5 TLS on the UDP port");
    assert!(!junk.answered());
    wait_for("junk counted", Duration::from_secs(3), || {
        user_space("drop_not_sip") == before + 51
    });
    assert!(
        junk.options_answered(1),
        "SIP from the same source still passes"
    );

    // Rate limit: burst 5, 1/s: of 20 OPTIONS in a row 5 get through; BYE,
    // ACK and responses are never limited.
    let flood = Ue::at("127.0.0.7");
    let limited = user_space("drop_rate_limited");
    for n in 0..20 {
        flood.send(flood.request("OPTIONS", 100 + n, "").as_bytes());
    }
    let mut answers = 0;
    while flood.answered() {
        answers += 1;
    }
    assert_eq!(answers, 5, "the burst");
    assert_eq!(user_space("drop_rate_limited"), limited + 15);
    let passed = user_space("pass");
    for n in 0..10 {
        flood.send(flood.request("BYE", 200 + n, "").as_bytes());
        flood.send(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\nCall-ID: r\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n");
    }
    wait_for(
        "in-dialog requests and responses pass",
        Duration::from_secs(3),
        || user_space("pass") >= passed + 20,
    );
    assert_eq!(user_space("drop_rate_limited"), limited + 15);

    // The blocklist through the admin API, with and without TTL.
    let ue = Ue::at("127.0.0.6");
    assert!(ue.options_answered(300));
    let (st, body) = http(
        ADMIN,
        "POST",
        "/admin/blocklist",
        Some(r#"{"cidr": "127.0.0.6/32"}"#),
    )
    .unwrap();
    assert_eq!(st, 201, "{body}");
    assert!(!ue.options_answered(301), "blocklisted");
    assert!(user_space("drop_blocklisted") >= 1);
    let (st, _) = http(ADMIN, "DELETE", "/admin/blocklist?cidr=127.0.0.6/32", None).unwrap();
    assert_eq!(st, 200);
    assert!(ue.options_answered(302), "removed");
    let (st, _) = http(ADMIN, "DELETE", "/admin/blocklist?cidr=127.0.0.6/32", None).unwrap();
    assert_eq!(st, 404, "already gone");
    let (st, body) = http(
        ADMIN,
        "POST",
        "/admin/blocklist",
        Some(r#"{"cidr": "127.0.0.6", "ttl_secs": 1}"#),
    )
    .unwrap();
    assert_eq!(st, 201, "{body}");
    assert!(!ue.options_answered(303));
    wait_for("the TTL entry lapses", Duration::from_secs(5), || {
        ue.options_answered(304)
    });
    let (st, body) = http(
        ADMIN,
        "POST",
        "/admin/blocklist",
        Some(r#"{"cidr": "10.0.0.0/99"}"#),
    )
    .unwrap();
    assert_eq!(st, 400);
    assert!(body.contains("prefix length"), "{body}");

    // A scanner's User-Agent blocks its source; it gets nothing back, then
    // or later, whatever it sends.
    let scanner = Ue::at("127.0.0.5");
    assert!(scanner.options_answered(400));
    scanner.send(
        scanner
            .request("OPTIONS", 401, "User-Agent: friendly-scanner\r\n")
            .as_bytes(),
    );
    assert!(!scanner.answered());
    assert!(!scanner.options_answered(402), "the source stays blocked");
    let (_, list) = http(ADMIN, "GET", "/admin/blocklist", None).unwrap();
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let auto = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["cidr"] == "127.0.0.5/32")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(auto["origin"], "auto");
    assert!(auto["expires_in_secs"].as_u64().unwrap() > 590);
    assert_eq!(stats()["filter"]["auto_blocked"], 1);

    // Shed level 2 through the admin API: new requests are dropped, the
    // in-dialog ones pass; level 0 restores service.
    let shedder = Ue::at("127.0.0.8");
    let (st, body) = http(ADMIN, "POST", "/admin/shed", Some(r#"{"level": 2}"#)).unwrap();
    assert_eq!(st, 200, "{body}");
    let shed = user_space("drop_shed");
    assert!(!shedder.options_answered(500), "new request shed");
    assert_eq!(user_space("drop_shed"), shed + 1);
    let passed = user_space("pass");
    shedder.send(shedder.request("BYE", 501, "").as_bytes());
    wait_for("BYE passes while shedding", Duration::from_secs(3), || {
        user_space("pass") > passed
    });
    let (st, _) = http(ADMIN, "POST", "/admin/shed", Some(r#"{"level": 7}"#)).unwrap();
    assert_eq!(st, 400);
    let (st, _) = http(ADMIN, "POST", "/admin/shed", Some(r#"{"level": 0}"#)).unwrap();
    assert_eq!(st, 200);
    assert!(shedder.options_answered(502));

    // Counters in /metrics.
    let (_, metrics) = http(ADMIN, "GET", "/metrics", None).unwrap();
    assert!(metrics
        .contains("anysip_filter_packets_total{path=\"user_space\",verdict=\"drop_not_sip\"}"));
    assert!(metrics.contains("anysip_xdp_attached 0"));
    assert!(metrics.contains("anysip_shed_level 0"));
    let _ = std::fs::remove_dir_all(&dir);
}
