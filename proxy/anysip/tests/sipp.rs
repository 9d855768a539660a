//! sipp through the real `anysip` binary on loopback: calls (INVITE, ACK,
//! BYE along the Record-Route token), REGISTER with Path, and drain.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use harness::{anysip, http_status, repo_tests, sipp, tool, wait_for};

fn scenarios() -> PathBuf {
    repo_tests().join("sipp")
}

const ADMIN: &str = "127.0.0.1:19091";

fn write_config(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("edge.yaml");
    std::fs::write(
        &path,
        "role: edge\n\
         listen:\n  udp: [127.0.0.1:15060]\n  tcp: [127.0.0.1:15060]\n\
         admin:\n  listen: 127.0.0.1:19091\n\
         server:\n  instance_id: 1\n  drain_secs: 2\n\
         gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        interval_secs: 1\n        timeout_secs: 1\n      destinations:\n        - uri: sip:127.0.0.1:15070\n          address: 127.0.0.1:15070\n\
         edge:\n  keys:\n    dev: true\n  backend_group: backends\n",
    )
    .unwrap();
    path
}

#[test]
fn sipp_calls_and_register_through_the_edge_then_drain() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = std::env::temp_dir().join(format!("anysip-sipp-{}", std::process::id()));
    let config = write_config(&dir);
    let sc = scenarios();
    let uas_xml = sc.join("uas.xml");
    // The UAS checks the edge's Record-Route and Via token on every INVITE
    // (a failed check leaves the call unanswered, so the UAC fails). It runs
    // until killed: the edge's OPTIONS probes count as calls in sipp, so -m
    // cannot bound it.
    let uas = sipp(
        &sipp_bin,
        &[
            "-sf",
            uas_xml.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            "15070",
            "-aa",
            "-timeout",
            "90s",
        ],
    );
    let mut edge = anysip(&config);
    // Ready once the probe has seen the UAS answer OPTIONS.
    wait_for("edge ready", Duration::from_secs(15), || {
        http_status(ADMIN, "GET", "/admin/ready") == Some(200)
    });

    // 100 calls: INVITE, 180, 200, ACK and BYE along the route set.
    let uac_xml = sc.join("uac.xml");
    let mut uac = sipp(
        &sipp_bin,
        &[
            "-sf",
            uac_xml.to_str().unwrap(),
            "127.0.0.1:15060",
            "-i",
            "127.0.0.1",
            "-p",
            "15080",
            "-m",
            "100",
            "-r",
            "50",
            "-timeout",
            "60s",
        ],
    );
    let uac_status = uac
        .wait_timeout(Duration::from_secs(70))
        .expect("sipp UAC finished");
    assert!(
        uac_status.success(),
        "sipp UAC: not all 100 calls succeeded ({uac_status})"
    );
    // The same over TCP: the edge answers on the UE's connection (flow
    // token in its Via) and ACK/BYE come back on it with the route token.
    let mut tcp_uac = sipp(
        &sipp_bin,
        &[
            "-sf",
            uac_xml.to_str().unwrap(),
            "127.0.0.1:15060",
            "-t",
            "t1",
            "-i",
            "127.0.0.1",
            "-p",
            "15082",
            "-m",
            "20",
            "-r",
            "20",
            "-timeout",
            "40s",
        ],
    );
    let s = tcp_uac
        .wait_timeout(Duration::from_secs(50))
        .expect("sipp TCP UAC finished");
    assert!(
        s.success(),
        "sipp over TCP: not all 20 calls succeeded ({s})"
    );
    drop(uas);

    // REGISTER: arrives at the registrar with the edge's Path.
    let reg_uas_xml = sc.join("register-uas.xml");
    // Answers only REGISTERs that carry the edge's Path.
    let reg_uas = sipp(
        &sipp_bin,
        &[
            "-sf",
            reg_uas_xml.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            "15070",
            "-aa",
            "-timeout",
            "30s",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    let reg_uac_xml = sc.join("register-uac.xml");
    let mut reg_uac = sipp(
        &sipp_bin,
        &[
            "-sf",
            reg_uac_xml.to_str().unwrap(),
            "127.0.0.1:15060",
            "-i",
            "127.0.0.1",
            "-p",
            "15081",
            "-m",
            "5",
            "-r",
            "10",
            "-timeout",
            "20s",
        ],
    );
    let s = reg_uac
        .wait_timeout(Duration::from_secs(30))
        .expect("register UAC finished");
    assert!(
        s.success(),
        "REGISTER through the edge failed, or reached the registrar without the edge's Path ({s})"
    );
    drop(reg_uas);

    // Drain: SIGTERM makes the edge not ready at once; it stays alive
    // (health 200) and exits 0 after server.drain_secs.
    let pid = edge.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    wait_for("not ready after SIGTERM", Duration::from_secs(1), || {
        http_status(ADMIN, "GET", "/admin/ready") == Some(503)
    });
    assert_eq!(http_status(ADMIN, "GET", "/admin/health"), Some(200));
    let status = edge
        .wait_timeout(Duration::from_secs(10))
        .expect("edge exits after drain_secs");
    assert!(status.success(), "edge exit status after drain: {status}");
    let _ = std::fs::remove_dir_all(&dir);
}
