//! Edges and cores started from YAML written by the test, on loopback; each
//! process's log goes to `<dir>/<name>.log` (printed when a test fails).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::harness::Proc;

/// A scratch directory, removed by the caller when done.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anysip-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A fresh key file shared by the edges of a test.
pub fn keys(dir: &Path) -> PathBuf {
    let keys = dir.join("keys.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_anysip"))
        .args(["token", "keygen"])
        .output()
        .expect("anysip token keygen");
    std::fs::write(&keys, out.stdout).expect("key file");
    keys
}

/// A fleet CA (`<dir>/fleet-ca.pem`, `.key`) and a relay certificate for
/// each of `instances` (`<dir>/edge-N.pem`, `.key`), made with `anysip
/// fleet ca|cert` as an operator would.
pub fn fleet(dir: &Path, instances: &[u16]) {
    let anysip = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_anysip"))
            .args(args)
            .current_dir(dir)
            .output()
            .expect("anysip fleet");
        assert!(
            out.status.success(),
            "anysip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    anysip(&[
        "fleet",
        "ca",
        "--cert",
        "fleet-ca.pem",
        "--key",
        "fleet-ca.key",
    ]);
    for n in instances {
        let (n, cert, key) = (
            n.to_string(),
            format!("edge-{n}.pem"),
            format!("edge-{n}.key"),
        );
        anysip(&[
            "fleet",
            "cert",
            "--instance",
            &n,
            "--ca",
            "fleet-ca.pem",
            "--ca-key",
            "fleet-ca.key",
            "--cert",
            &cert,
            "--key",
            &key,
        ]);
    }
}

/// `anysip run -c <dir>/<name>.yaml` with `yaml`, logging to
/// `<dir>/<name>.log`.
pub fn start(dir: &Path, name: &str, yaml: &str) -> Proc {
    start_env(dir, name, yaml, &[])
}

/// [`start`] with environment variables added.
pub fn start_env(dir: &Path, name: &str, yaml: &str, env: &[(&str, &Path)]) -> Proc {
    let cfg = dir.join(format!("{name}.yaml"));
    std::fs::write(&cfg, yaml).expect("config");
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log");
    Proc(
        Command::new(env!("CARGO_BIN_EXE_anysip"))
            .args(["run", "-c"])
            .arg(&cfg)
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("anysip starts"),
    )
}

/// An edge at `listen` (UE-facing address: the emulated anycast
/// 127.0.0.100 with `listen`'s port) in front of the gateway group given
/// as YAML destinations.
pub fn edge_yaml(
    listen: &str,
    admin: &str,
    instance: u16,
    keys: &Path,
    backends: &[&str],
) -> String {
    let port = listen.rsplit(':').next().unwrap_or("5060");
    let dests: String = backends
        .iter()
        .map(|b| format!("        - uri: sip:{b}\n          address: {b}\n"))
        .collect();
    format!(
        "role: edge\nlisten:\n  udp: [{listen}]\nadmin:\n  listen: {admin}\nserver:\n  instance_id: {instance}\n  drain_secs: 1\n\
         gateway:\n  groups:\n    - name: backends\n      algorithm: hash\n      probe:\n        interval_secs: 1\n        timeout_secs: 1\n        failure_threshold: 2\n      destinations:\n{dests}\
         edge:\n  keys:\n    file: {}\n  ue_address: 127.0.0.100:{port}\n  backend_address: {listen}\n",
        keys.display()
    )
}

/// The path of a shipped script.
pub fn deploy_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/scripts")
        .join(name)
}

/// A core at `listen` running `script`, with `extra` YAML appended
/// (registrar, auth, gateway...).
pub fn core_yaml(listen: &str, admin: &str, script: &Path, extra: &str) -> String {
    format!(
        "role: core\nlisten:\n  udp: [{listen}]\nadmin:\n  listen: {admin}\nserver:\n  instance_id: core-{}\n  drain_secs: 2\n\
         domain:\n  local: [domain.local]\nscript:\n  path: {}\n{extra}",
        listen.replace([':', '.'], "-"),
        script.display()
    )
}

/// The digest users of the tests (MD5 only: sipp answers MD5 challenges).
pub const AUTH: &str =
    "auth:\n  realm: domain.local\n  algorithms: [md5]\n  users:\n    alice: alice\n    bob: bob\n    carol: carol\n    dave: dave\n";

/// Prints the logs of a test's processes (call before failing).
pub fn dump_logs(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "log") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                eprintln!("==== {} (last 40 lines)", p.display());
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

/// A `redis-server` on 127.0.0.1:`port` (no persistence), or `None` when
/// it is not installed outside CI.
pub fn redis(dir: &Path, port: u16) -> Option<Proc> {
    let bin = super::harness::tool("redis-server")?;
    let log = std::fs::File::create(dir.join(format!("redis-{port}.log"))).expect("log");
    let p = Proc(
        Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts"),
    );
    super::harness::wait_for("redis", std::time::Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Some(p)
}

/// The core's request counters by method (from `/metrics`).
pub fn core_requests(admin: &str, method: &str) -> u64 {
    let (_, text) = super::harness::http(admin, "GET", "/metrics", None).expect("metrics");
    let want = format!("method=\"{method}\"");
    text.lines()
        .filter(|l| l.starts_with("anysip_core_requests_total") && l.contains(&want))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Runs sipp with `args` to completion (at most `limit`) and fails the test
/// with `what` (and the processes' logs) unless it exits 0.
pub fn sipp_ok(sipp_bin: &Path, dir: &Path, args: &[&str], limit: std::time::Duration, what: &str) {
    let mut p = super::harness::sipp(sipp_bin, args);
    let st = p.wait_timeout(limit).unwrap_or_else(|| {
        dump_logs(dir);
        panic!("{what}: sipp did not finish within {limit:?}")
    });
    if !st.success() {
        dump_logs(dir);
    }
    assert!(st.success(), "{what}: {st}");
}

/// Registers `user` (password = user name) from 127.0.0.1:`port` at `to`
/// with digest authentication (tests/sipp/core-register.xml).
pub fn sipp_register(sipp_bin: &Path, dir: &Path, to: &str, user: &str, port: &str) {
    let xml = super::harness::repo_tests().join("sipp/core-register.xml");
    sipp_ok(
        sipp_bin,
        dir,
        &[
            "-sf",
            xml.to_str().unwrap_or_default(),
            to,
            "-s",
            user,
            "-au",
            user,
            "-ap",
            user,
            // sipp answers for sip:<remote address> unless told: the digest
            // uri must be the Request-URI (RFC 2617 §3.2.2.5).
            "-auth_uri",
            "domain.local", // sipp adds the "sip:"
            "-i",
            "127.0.0.1",
            "-p",
            port,
            "-m",
            "1",
            "-timeout",
            "20s",
        ],
        std::time::Duration::from_secs(25),
        &format!("{user} registers with digest at {to}"),
    );
}
