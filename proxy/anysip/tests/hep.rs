//! HEP v3 capture (issue 16): an edge and a core with `telemetry.hep`
//! send every SIP message of a sipp registration and call to a collector
//! of this test, which decodes them with hep-js (the Homer project's HEP
//! library, pinned in tests/hep/package-lock.json; Debian's tshark 4.0 has
//! no HEP dissector): each packet is HEP v3 with the right capture id,
//! password, addresses and the SIP message as its payload.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::{http, http_status, repo_tests, sipp, tool, wait_for, Proc};
use lab::{
    core_yaml, deploy_script, dump_logs, edge_yaml, keys, scratch, sipp_ok, sipp_register, start,
    AUTH,
};

const EDGE: &str = "127.0.0.1:18960";
const EDGE_ADMIN: &str = "127.0.0.1:19960";
const CORE: &str = "127.0.0.3:18970";
const CORE_ADMIN: &str = "127.0.0.1:19970";
const COLLECTOR: u16 = 18999;
const ALICE: &str = "18980";
const BOB: &str = "18990";

fn hep_dir() -> Option<PathBuf> {
    let dir = repo_tests().join("hep");
    if dir.join("node_modules/hep-js").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "tests/hep/node_modules is missing: run npm ci in tests/hep (scripts/test does)"
    );
    eprintln!("SKIPPED: tests/hep/node_modules is missing (npm ci in tests/hep)");
    None
}

fn hep(capture_id: u32) -> String {
    format!(
        "telemetry:\n  hep:\n    endpoint: 127.0.0.1:{COLLECTOR}\n    capture_id: {capture_id}\n    password: homer-secret\n"
    )
}

#[test]
fn every_message_of_a_call_reaches_the_collector_as_hep_v3() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let Some(node) = tool("node") else { return };
    let Some(hep_dir) = hep_dir() else { return };
    let dir = scratch("hep");
    let mut collector = Proc(
        Command::new(node)
            .arg(hep_dir.join("collector.mjs"))
            .arg(COLLECTOR.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(collector.0.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().contains("listening"));
    let keys = keys(&dir);
    let core = core_yaml(
        CORE,
        CORE_ADMIN,
        &deploy_script("proxy_default.py"),
        &format!("{AUTH}{}", hep(202)),
    );
    let _core = start(&dir, "core", &core);
    let edge = format!(
        "{}{}",
        edge_yaml(EDGE, EDGE_ADMIN, 1, &keys, &[CORE]),
        hep(101)
    );
    let _edge = start(&dir, "edge", &edge);
    for a in [CORE_ADMIN, EDGE_ADMIN] {
        wait_for("ready", Duration::from_secs(20), || {
            http_status(a, "GET", "/admin/ready") == Some(200)
        });
    }
    sipp_register(&sipp_bin, &dir, EDGE, "bob", BOB);
    let sc = repo_tests().join("sipp");
    let _uas = sipp(
        &sipp_bin,
        &[
            "-sf",
            sc.join("uas.xml").to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            BOB,
            "-timeout",
            "60s",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    sipp_ok(
        &sipp_bin,
        &dir,
        &[
            "-sf",
            sc.join("core-uac.xml").to_str().unwrap(),
            EDGE,
            "-s",
            "bob",
            "-key",
            "other_ip",
            "127.0.0.1",
            "-key",
            "other_port",
            "18960",
            "-i",
            "127.0.0.1",
            "-p",
            ALICE,
            "-m",
            "1",
            "-timeout",
            "30s",
        ],
        Duration::from_secs(40),
        "one call through the edge and the core",
    );
    // Captures are sent off the SIP path: give the last ones a moment.
    std::thread::sleep(Duration::from_millis(500));
    // Nothing was dropped (the probes go on meanwhile, so the count of
    // packets itself moves).
    for admin in [EDGE_ADMIN, CORE_ADMIN] {
        let (_, m) = http(admin, "GET", "/metrics", None).unwrap();
        let value = |name: &str| {
            m.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        };
        assert_eq!(value("anysip_hep_dropped_total "), Some(0), "{admin}");
        assert!(value("anysip_hep_sent_total ").unwrap_or(0) > 10, "{admin}");
    }
    let reader = std::thread::spawn(move || {
        lines
            .map_while(Result::ok)
            .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap())
            .collect::<Vec<_>>()
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(collector);
    let packets = reader.join().unwrap();
    if packets.len() < 10 {
        dump_logs(&dir);
    }
    assert!(packets.len() >= 10, "{} packets", packets.len());
    for p in &packets {
        assert_eq!(p["ok"], true, "decodes as HEP v3: {p}");
        assert_eq!(p["type"], 1, "SIP: {p}");
        assert_eq!(p["family"], 2, "IPv4: {p}");
        assert_eq!(p["protocol"], 17, "UDP: {p}");
        assert_eq!(p["password"], "homer-secret", "{p}");
    }
    // The INVITE of the call, hop by hop: alice → edge, edge → core, core
    // → edge (bob's Path), edge → bob; each by the process that saw it.
    let invite = |cid: u64, src: &str, dst: &str| {
        packets.iter().any(|p| {
            p["captureId"] == cid
                && p["firstLine"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("INVITE "))
                && p["src"].as_str().is_some_and(|s| s.ends_with(src))
                && p["dst"].as_str().is_some_and(|d| d.ends_with(dst))
        })
    };
    let alice = format!("127.0.0.1:{ALICE}");
    let bob = format!("127.0.0.1:{BOB}");
    assert!(invite(101, &alice, EDGE), "edge: INVITE in from alice");
    assert!(invite(101, EDGE, CORE), "edge: INVITE out to the core");
    assert!(invite(202, EDGE, CORE), "core: INVITE in from the edge");
    assert!(invite(202, CORE, EDGE), "core: INVITE out to bob's edge");
    assert!(invite(101, EDGE, &bob), "edge: INVITE out to bob");
    // Every message of the dialog was captured: the responses, ACK and BYE.
    for first in ["SIP/2.0 200 ", "ACK ", "BYE ", "REGISTER "] {
        assert!(
            packets.iter().any(|p| p["firstLine"]
                .as_str()
                .is_some_and(|l| l.starts_with(first))),
            "{first} captured"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
