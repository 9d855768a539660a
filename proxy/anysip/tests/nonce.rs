//! The digest nonce secret shared by cores (`auth.nonce_secret`): a
//! REGISTER challenged by core 1 and answered at core 2 is accepted when
//! both cores share the secret, and challenged again when they do not.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::path::Path;
use std::time::Duration;

use harness::{http_status, repo_tests, sipp, tool, wait_for};
use lab::{core_yaml, deploy_script, dump_logs, scratch, start, AUTH};

/// sipp registers alice at `first`, and answers the challenge at `second`;
/// true when the REGISTER was accepted.
fn register_across(sipp_bin: &Path, first: &str, second: &str) -> bool {
    let xml = repo_tests().join("sipp/core-register-elsewhere.xml");
    let (ip, port) = second.split_once(':').unwrap();
    let mut p = sipp(
        sipp_bin,
        &[
            "-sf",
            xml.to_str().unwrap(),
            first,
            "-s",
            "alice",
            "-au",
            "alice",
            "-ap",
            "alice",
            "-auth_uri",
            "domain.local",
            "-key",
            "other_ip",
            ip,
            "-key",
            "other_port",
            port,
            "-i",
            "127.0.0.1",
            "-p",
            "18880",
            "-m",
            "1",
            "-timeout",
            "8s",
        ],
    );
    p.wait_timeout(Duration::from_secs(15))
        .expect("sipp ends within its timeout")
        .success()
}

#[test]
fn a_nonce_issued_by_one_core_verifies_at_another_with_a_shared_secret() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("nonce");
    let script = deploy_script("proxy_default.py");
    let shared = format!("{AUTH}  nonce_secret: \"a secret every core of the test shares\"\n");
    let cores = [
        ("127.0.0.1:18870", "127.0.0.1:19870", &shared),
        ("127.0.0.1:18871", "127.0.0.1:19871", &shared),
        // Without the key: each core draws its own secret.
        ("127.0.0.1:18872", "127.0.0.1:19872", &AUTH.to_string()),
        ("127.0.0.1:18873", "127.0.0.1:19873", &AUTH.to_string()),
    ];
    let _procs: Vec<_> = cores
        .iter()
        .enumerate()
        .map(|(i, (listen, admin, auth))| {
            start(
                &dir,
                &format!("core{i}"),
                &core_yaml(listen, admin, &script, auth),
            )
        })
        .collect();
    for (_, admin, _) in &cores {
        wait_for("core ready", Duration::from_secs(20), || {
            http_status(admin, "GET", "/admin/ready") == Some(200)
        });
    }
    let shared_ok = register_across(&sipp_bin, cores[0].0, cores[1].0);
    let apart_ok = register_across(&sipp_bin, cores[2].0, cores[3].0);
    if !shared_ok || apart_ok {
        dump_logs(&dir);
    }
    assert!(
        shared_ok,
        "core 2 accepts core 1's nonce with the shared secret"
    );
    assert!(
        !apart_ok,
        "without it, core 2 does not accept core 1's nonce"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
