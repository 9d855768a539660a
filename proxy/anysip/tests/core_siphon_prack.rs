//! SIPhon's `request.reply(183, "Session Progress", reliable=True)` in a
//! running core, driven by sipp (tests/sipp/script-api-prack.xml): the UAC
//! lists 100rel, the 183 comes with `Require: 100rel` and an `RSeq`, a
//! PRACK with a wrong RAck gets 481, the right one 200 from the core (the
//! script has no PRACK handler: it never sees one), then CANCEL ends the
//! INVITE. The core's metrics count the reliable response and its PRACKs.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::time::Duration;

use harness::{http, repo_tests, tool, wait_for};
use lab::{core_yaml, scratch, sipp_ok, start};

const CORE: &str = "127.0.0.1:16951";
const ADMIN: &str = "127.0.0.1:16952";
const UAC: &str = "16953";

const SCRIPT: &str = r#"
from siphon import proxy


@proxy.on_request("INVITE")
def invite(request):
    request.reply(183, "Session Progress", reliable=True)
"#;

/// The sum of the core's metric lines starting with `prefix`.
fn metric(prefix: &str) -> u64 {
    let Some((_, text)) = http(ADMIN, "GET", "/metrics", None) else {
        return 0;
    };
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[test]
fn a_script_sends_a_reliable_183_and_the_core_answers_its_prack() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("core-siphon-prack");
    let script = dir.join("prack_route.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let _core = start(&dir, "core", &core_yaml(CORE, ADMIN, &script, ""));
    wait_for("core admin", Duration::from_secs(20), || {
        http(ADMIN, "GET", "/admin/health", None).is_some()
    });

    let xml = repo_tests().join("sipp/script-api-prack.xml");
    sipp_ok(
        &sipp_bin,
        &dir,
        &[
            "-sf",
            xml.to_str().unwrap(),
            CORE,
            "-s",
            "bob",
            "-i",
            "127.0.0.1",
            "-p",
            UAC,
            "-m",
            "1",
            "-timeout",
            "20",
            "-timeout_error",
        ],
        Duration::from_secs(30),
        "reliable 183, PRACK, CANCEL",
    );

    let event = |e: &str| {
        metric(&format!(
            "anysip_core_reliable_provisionals_total{{event=\"{e}\"}}"
        ))
    };
    assert_eq!(event("sent"), 1);
    assert_eq!(event("acknowledged"), 1);
    assert_eq!(event("unmatched_prack"), 1);
    assert_eq!(event("unreliable"), 0);
    // Both PRACKs were counted as requests, none went to the script (it
    // would have answered 500 "No Script Handler").
    assert_eq!(
        metric("anysip_core_requests_total{method=\"PRACK\"}"),
        2,
        "two PRACKs received"
    );
    assert_eq!(metric("anysip_core_router_calls_total"), 1, "INVITE only");
    let _ = std::fs::remove_dir_all(&dir);
}
