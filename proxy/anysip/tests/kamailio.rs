//! Kamailio (registrar, usrloc, path, rr) as the backend: a sipp UA
//! registers through edge A, another calls it through edge B; the call
//! reaches the UA through the Path token (Kamailio → edge A → UE flow) and
//! completes.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::{anysip, http_status, repo_tests, sipp, tool, wait_for};

const KAMAILIO: &str = "127.0.0.1:15470";

fn edge_config(
    dir: &Path,
    name: &str,
    listen: &str,
    admin: &str,
    instance: u16,
    keys: &Path,
) -> std::path::PathBuf {
    let cfg = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &cfg,
        format!(
            "listen:\n  udp: [{listen}]\nadmin:\n  listen: {admin}\nserver:\n  instance_id: {instance}\n\
             gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        interval_secs: 1\n        timeout_secs: 1\n      destinations:\n        - uri: sip:{KAMAILIO}\n          address: {KAMAILIO}\n\
             edge:\n  keys:\n    file: {}\n  ue_address: 127.0.0.100:15460\n  backend_address: {listen}\n",
            keys.display()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn register_through_one_edge_called_through_the_other_via_kamailio() {
    let (Some(kamailio), Some(sipp_bin)) = (tool("kamailio"), tool("sipp")) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("anysip-kam-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_anysip"))
        .args(["token", "keygen"])
        .output()
        .unwrap();
    std::fs::write(&keys, out.stdout).unwrap();
    let kam_cfg = repo_tests().join("kamailio/registrar.cfg");
    let _kam = harness::Daemon::spawn(
        Command::new(kamailio)
            .args(["-DD", "-E", "-f"])
            .arg(&kam_cfg)
            .args(["-l", &format!("udp:{KAMAILIO}"), "-P"])
            .arg(dir.join("kamailio.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let _a = anysip(&edge_config(
        &dir,
        "a",
        "127.0.0.1:15460",
        "127.0.0.1:19291",
        1,
        &keys,
    ));
    let _b = anysip(&edge_config(
        &dir,
        "b",
        "127.0.0.2:15460",
        "127.0.0.1:19292",
        2,
        &keys,
    ));
    for admin in ["127.0.0.1:19291", "127.0.0.1:19292"] {
        wait_for(
            "edges ready (Kamailio answers OPTIONS)",
            Duration::from_secs(15),
            || http_status(admin, "GET", "/admin/ready") == Some(200),
        );
    }
    let sc = repo_tests().join("sipp");
    // The UA registers "alice" from 127.0.0.1:15481 through edge A.
    let reg = sc.join("register-once.xml");
    let mut r = sipp(
        &sipp_bin,
        &[
            "-sf",
            reg.to_str().unwrap(),
            "127.0.0.1:15460",
            "-s",
            "alice",
            "-i",
            "127.0.0.1",
            "-p",
            "15481",
            "-m",
            "1",
            "-timeout",
            "10s",
        ],
    );
    let s = r
        .wait_timeout(Duration::from_secs(15))
        .expect("register finished");
    assert!(
        s.success(),
        "REGISTER through edge A to Kamailio failed ({s})"
    );
    drop(r);
    // The UA's port now answers calls (and checks the edge's Record-Route and Via token).
    let uas = sc.join("uas.xml");
    let _ua = sipp(
        &sipp_bin,
        &[
            "-sf",
            uas.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            "15481",
            "-timeout",
            "40s",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    // Another UA calls alice through edge B, 5 times.
    let uac = sc.join("uac.xml");
    let mut c = sipp(
        &sipp_bin,
        &[
            "-sf",
            uac.to_str().unwrap(),
            "127.0.0.2:15460",
            "-s",
            "alice",
            "-i",
            "127.0.0.1",
            "-p",
            "15482",
            "-m",
            "5",
            "-r",
            "5",
            "-timeout",
            "30s",
        ],
    );
    let s = c
        .wait_timeout(Duration::from_secs(40))
        .expect("calls finished");
    assert!(
        s.success(),
        "calls through edge B → Kamailio → edge A (Path) → UA failed ({s})"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
