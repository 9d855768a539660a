//! The core behind two edges (DESIGN §7): two sipp UAs register with digest
//! authentication through edge A to a core running the shipped
//! `deploy/scripts/proxy_default.py`, then they call each other, 100 calls
//! each way; every ACK and BYE goes through edge B, the other instance. The
//! core's admin API shows and removes the registrations.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::time::Duration;

use harness::{http, http_status, repo_tests, sipp, tool, wait_for};
use lab::{
    core_yaml, deploy_script, edge_yaml, keys, scratch, sipp_ok, sipp_register, start, AUTH,
};

const A: &str = "127.0.0.1:15460";
const B: &str = "127.0.0.2:15460";
const CORE: &str = "127.0.0.1:15470";
const CORE_ADMIN: &str = "127.0.0.1:19470";
const ADMIN_A: &str = "127.0.0.1:19461";
const ADMIN_B: &str = "127.0.0.1:19462";
const CALLS: &str = "100";

fn stats(admin: &str) -> serde_json::Value {
    let (_, body) = http(admin, "GET", "/admin/stats", None).unwrap();
    serde_json::from_str(&body).unwrap()
}

#[test]
fn register_with_digest_and_call_through_either_edge() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("core-calls");
    let keys = keys(&dir);
    let _core = start(
        &dir,
        "core",
        &core_yaml(CORE, CORE_ADMIN, &deploy_script("proxy_default.py"), AUTH),
    );
    let _a = start(&dir, "edge-a", &edge_yaml(A, ADMIN_A, 1, &keys, &[CORE]));
    let _b = start(&dir, "edge-b", &edge_yaml(B, ADMIN_B, 2, &keys, &[CORE]));
    for admin in [ADMIN_A, ADMIN_B] {
        wait_for(
            "edges ready (core answers probes)",
            Duration::from_secs(20),
            || http_status(admin, "GET", "/admin/ready") == Some(200),
        );
    }
    let sc = repo_tests().join("sipp");
    let reg = |user: &str, port: &str| sipp_register(&sipp_bin, &dir, A, user, port);
    reg("bob", "15490");
    reg("alice", "15480");

    // The registrations as the admin API shows them: contact and the Path
    // of edge A (its token), so calls to bob go back through an edge.
    let (st, body) = http(
        CORE_ADMIN,
        "GET",
        "/admin/registrations/sip:bob@domain.local",
        None,
    )
    .unwrap();
    assert_eq!(st, 200, "{body}");
    let bob: serde_json::Value = serde_json::from_str(&body).unwrap();
    let binding = &bob["bindings"][0];
    assert!(
        binding["contact"].as_str().unwrap().contains(":15490"),
        "{bob}"
    );
    assert_eq!(binding["path"].as_array().unwrap().len(), 1, "{bob}");
    let (_, all) = http(CORE_ADMIN, "GET", "/admin/registrations", None).unwrap();
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");

    // They call each other, 100 calls each way: INVITE through edge A,
    // ACK and BYE through edge B. The callee's UAS checks the edge's
    // Record-Route and Via token on every INVITE.
    let uas_xml = sc.join("uas.xml");
    let uac_xml = sc.join("core-uac.xml");
    let calls = |callee: &str, callee_port: &str, caller_port: &str| {
        let _uas = sipp(
            &sipp_bin,
            &[
                "-sf",
                uas_xml.to_str().unwrap(),
                "-i",
                "127.0.0.1",
                "-p",
                callee_port,
                "-aa",
                "-timeout",
                "120s",
            ],
        );
        std::thread::sleep(Duration::from_millis(300));
        let b_before = stats(ADMIN_B)["messages_received"].as_u64().unwrap();
        sipp_ok(
            &sipp_bin,
            &dir,
            &[
                "-sf",
                uac_xml.to_str().unwrap(),
                A,
                "-s",
                callee,
                "-key",
                "other_ip",
                "127.0.0.2",
                "-key",
                "other_port",
                "15460",
                "-i",
                "127.0.0.1",
                "-p",
                caller_port,
                "-m",
                CALLS,
                "-r",
                "50",
                "-timeout",
                "90s",
            ],
            Duration::from_secs(100),
            &format!("{CALLS} calls to {callee} through the core, zero failures"),
        );
        // ACK and BYE of every call came in through edge B (and the BYE's
        // 200 back from the core through it).
        let through_b = stats(ADMIN_B)["messages_received"].as_u64().unwrap() - b_before;
        assert!(through_b >= 3 * 100, "{through_b} messages through edge B");
    };
    calls("bob", "15490", "15480");
    calls("alice", "15480", "15490");

    // The admin API removes a registration; a call to bob then gets 404.
    let (st, _) = http(
        CORE_ADMIN,
        "DELETE",
        "/admin/registrations/sip:bob@domain.local",
        None,
    )
    .unwrap();
    assert_eq!(st, 200);
    let (st, _) = http(
        CORE_ADMIN,
        "GET",
        "/admin/registrations/sip:bob@domain.local",
        None,
    )
    .unwrap();
    assert_eq!(st, 404);
    let core_stats = stats(CORE_ADMIN);
    assert_eq!(core_stats["ready"], true, "{core_stats}");
    let _ = std::fs::remove_dir_all(&dir);
}
