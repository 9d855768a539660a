//! `edge.probe_address`: the gateway probes leave from the instance's own
//! address (not the backend-facing one, which a fleet shares) and name it
//! in their Via, so that the answers come back to this instance; an
//! address that is not a UDP listener is refused at start, naming the key.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/harness.rs"]
mod harness;

use harness::{http_status, wait_for, Proc};

const SHARED: &str = "127.0.0.1:15460";
const OWN: &str = "127.0.0.3:15460";
const BACKEND: &str = "127.0.0.1:15470";
const ADMIN: &str = "127.0.0.1:15491";

fn config(dir: &std::path::Path, probe_address: &str) -> std::path::PathBuf {
    let cfg = dir.join("edge.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen:\n  udp: [{SHARED}, {OWN}]\nadmin:\n  listen: {ADMIN}\nserver:\n  instance_id: 9\n\
             gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        interval_secs: 1\n        timeout_secs: 1\n        failure_threshold: 2\n        success_threshold: 1\n      destinations:\n        - uri: sip:{BACKEND}\n          address: {BACKEND}\n\
             edge:\n  keys:\n    dev: true\n  backend_address: {SHARED}\n  probe_address: {probe_address}\n"
        ),
    )
    .unwrap();
    cfg
}

fn metric(name: &str) -> u64 {
    let (_, text) = harness::http(ADMIN, "GET", "/metrics", None).unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The 200 to an OPTIONS: its Via, From, To, Call-ID and CSeq copied.
fn answer(options: &str) -> String {
    let mut out = String::from("SIP/2.0 200 OK\r\n");
    for l in options.split("\r\n") {
        let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
        if ["via", "from", "to", "call-id", "cseq"].contains(&name.as_str()) {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

#[test]
fn probes_leave_from_the_probe_address_and_their_answers_count_there() {
    let dir = std::env::temp_dir().join(format!("anysip-probe-address-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let backend = UdpSocket::bind(BACKEND).unwrap();
    backend
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let _edge = harness::anysip(&config(&dir, OWN));

    // The first probes: from the own address, naming it in the Via.
    let own: SocketAddr = OWN.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut answered = 0;
    let mut buf = [0u8; 4096];
    while answered < 3 && Instant::now() < deadline {
        let Ok((n, from)) = backend.recv_from(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(text.starts_with("OPTIONS "), "{text}");
        assert_eq!(from, own, "the probe came from {from}, not {own}");
        assert!(
            text.contains(&format!("Via: SIP/2.0/UDP {OWN};")),
            "the probe's Via names {OWN}: {text}"
        );
        backend.send_to(answer(&text).as_bytes(), from).unwrap();
        answered += 1;
    }
    assert_eq!(answered, 3, "three probes within 10 s");
    wait_for("the answers taken", Duration::from_secs(5), || {
        metric("anysip_probe_answers_total{result=\"taken\"}") >= 3
    });
    assert_eq!(
        metric("anysip_drops_total{reason=\"stray_probe_answer\"}"),
        0
    );
    assert_eq!(http_status(ADMIN, "GET", "/admin/ready"), Some(200));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_probe_address_that_is_not_a_listener_is_refused() {
    let dir = std::env::temp_dir().join(format!("anysip-probe-address-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Other ports than the first test's (they run in parallel).
    let cfg = config(&dir, "127.0.0.4:15560");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace(":15460", ":15560").replace(":15491", ":15591"),
    )
    .unwrap();
    let mut p = Proc(
        Command::new(env!("CARGO_BIN_EXE_anysip"))
            .args(["run", "-c"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let status = p.wait_timeout(Duration::from_secs(10)).expect("exits");
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(p.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("edge.probe_address") && err.contains("not a UDP listener"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
