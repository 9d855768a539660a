//! SIGHUP and the service manager (docs/operations.md, "systemd"), on the
//! real binary with a `NOTIFY_SOCKET` made by the test:
//!
//! - an edge says `READY=1` once it serves (its listener answers, its key
//!   ring opens tokens); on SIGHUP it says `RELOADING=1`, reloads its key
//!   file (a token sealed with a new key opens after, not before) and its
//!   configuration's `xdp.blocklist`, then `READY=1`; a call set up before
//!   the reload ends normally (its route token, sealed with the old key,
//!   still opens); a broken key file and a broken configuration file keep
//!   the running ring and blocklist, and the log names each file;
//!   `STOPPING=1` at drain;
//! - a core reloads its script on SIGHUP (with `script.reload: false`, so
//!   the signal is what does it): the answer changes, a call in progress
//!   ends normally, a broken script keeps the running one and the log names
//!   the file.
//!
//! sipp is required under CI=true; outside CI the tests skip without it.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use harness::{http, repo_tests, sipp, tool, wait_for, Proc};
use lab::{core_yaml, dump_logs, edge_yaml, scratch, start_env};

/// The service manager's end of `NOTIFY_SOCKET`.
struct Notify {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Notify {
    fn bind(dir: &Path) -> Notify {
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Notify { sock, path }
    }

    /// The next datagram holding the line `want`, within `limit`; the
    /// datagrams before it are returned too (in order, `want`'s last).
    fn wait(&self, want: &str, limit: Duration, dir: &Path) -> Vec<String> {
        let t0 = Instant::now();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while t0.elapsed() < limit {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let found = text.lines().any(|l| l == want);
                seen.push(text);
                if found {
                    return seen;
                }
            }
        }
        dump_logs(dir);
        panic!("no {want} from the process within {limit:?}; got {seen:?}");
    }
}

fn signal(p: &Proc, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(p.0.id()).unwrap());
    nix::sys::signal::kill(pid, sig).unwrap();
}

fn hup(p: &Proc) {
    signal(p, nix::sys::signal::Signal::SIGHUP);
}

fn log_of(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}

/// `anysip token keygen --id ID` into `dir/name`.
fn keygen(dir: &Path, name: &str, id: u8) -> PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_anysip"))
        .args(["token", "keygen", "--id", &id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let path = dir.join(name);
    std::fs::write(&path, out.stdout).unwrap();
    path
}

/// One key ring holding the keys of `files`, sealing with `current`.
fn merged_ring(files: &[&Path], current: u8) -> String {
    let mut keys = Vec::new();
    for f in files {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        keys.extend(doc["keys"].as_sequence().unwrap().iter().cloned());
    }
    let mut ring = serde_yaml::Mapping::new();
    ring.insert("current".into(), u64::from(current).into());
    ring.insert("keys".into(), serde_yaml::Value::Sequence(keys));
    serde_yaml::to_string(&ring).unwrap()
}

/// `anysip token seal` of a route token: from `ue` through `local` to
/// `backend`.
fn seal_route(keys: &Path, ue: &str, local: &str, backend: &str) -> String {
    let json = format!(
        r#"{{"kind":"route","flow":{{"transport":"udp","ue":"{ue}","local":"{local}","instance":1,"connection":0}},"backend":{{"transport":"udp","addr":"{backend}"}}}}"#
    );
    let out = Command::new(env!("CARGO_BIN_EXE_anysip"))
        .args(["token", "seal", "--keys"])
        .arg(keys)
        .arg(json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// What the edge did with an in-dialog request.
#[derive(Debug, PartialEq)]
enum Routed {
    /// The backend received it.
    Forwarded,
    /// The UE got this status line.
    Answered(String),
    Nothing,
}

/// A UE's BYE routed by `token` at the edge (`edge` is where it is sent,
/// `route_host` the address in its Route), and where it went.
fn bye(
    ue: &UdpSocket,
    backend: &UdpSocket,
    edge: &str,
    route_host: &str,
    token: &str,
    n: u32,
) -> Routed {
    let local = ue.local_addr().unwrap();
    let msg = format!(
        "BYE sip:bob@127.0.0.1:5999 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-reload-{n};rport\r\n\
         Route: <sip:{token}@{route_host};lr>\r\nMax-Forwards: 70\r\nFrom: <sip:alice@domain.local>;tag=a{n}\r\n\
         To: <sip:bob@domain.local>;tag=b{n}\r\nCall-ID: reload-{n}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    ue.send_to(msg.as_bytes(), edge).unwrap();
    let mut buf = [0u8; 4096];
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(3) {
        if let Ok(len) = backend.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..len]);
            if text.starts_with("BYE ") && text.contains(&format!("Call-ID: reload-{n}")) {
                return Routed::Forwarded;
            }
        }
        if let Ok(len) = ue.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..len]);
            return Routed::Answered(text.lines().next().unwrap_or_default().to_owned());
        }
    }
    Routed::Nothing
}

/// `tests/sipp/uac.xml` with the call held `hold_ms` between ACK and BYE.
fn long_call_scenario(dir: &Path, hold_ms: u32) -> PathBuf {
    let xml = std::fs::read_to_string(repo_tests().join("sipp/uac.xml")).unwrap();
    let held = xml.replace(
        r#"<pause milliseconds="10"/>"#,
        &format!(r#"<pause milliseconds="{hold_ms}"/>"#),
    );
    assert_ne!(xml, held, "uac.xml's pause moved: update this test");
    let path = dir.join("uac-long.xml");
    std::fs::write(&path, held).unwrap();
    path
}

/// One sipp call to `to` from `port`, held `hold_ms`.
fn long_call(sipp_bin: &Path, dir: &Path, to: &str, port: &str, hold_ms: u32) -> Proc {
    let xml = long_call_scenario(dir, hold_ms);
    sipp(
        sipp_bin,
        &[
            "-sf",
            xml.to_str().unwrap(),
            to,
            "-i",
            "127.0.0.1",
            "-p",
            port,
            "-m",
            "1",
            "-timeout",
            "30s",
        ],
    )
}

fn sipp_uas(sipp_bin: &Path, scenario: &str, port: &str) -> Proc {
    let xml = repo_tests().join("sipp").join(scenario);
    sipp(
        sipp_bin,
        &[
            "-sf",
            xml.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            port,
            "-timeout",
            "90s",
        ],
    )
}

const EDGE: &str = "127.0.0.1:18160";
const EDGE_UE_FACING: &str = "127.0.0.100:18160";
const EDGE_ADMIN: &str = "127.0.0.1:18191";
const EDGE_UAS: &str = "127.0.0.1:18170";

#[test]
fn edge_notifies_and_reloads_its_key_ring_and_blocklist_on_sighup() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("reload-edge");
    let key_a = keygen(&dir, "keys-a.yaml", 1);
    let key_b = keygen(&dir, "keys-b.yaml", 2);
    let keys = dir.join("keys.yaml");
    std::fs::copy(&key_a, &keys).unwrap();
    let _uas = sipp_uas(&sipp_bin, "uas.xml", "18170");
    let notify = Notify::bind(&dir);
    let yaml = edge_yaml(EDGE, EDGE_ADMIN, 1, &keys, &[EDGE_UAS]);
    let mut edge = start_env(&dir, "edge", &yaml, &[("NOTIFY_SOCKET", &notify.path)]);

    // READY=1 once it serves: its listener routes by a token its ring
    // opens at that moment, and refuses one it does not.
    notify.wait("READY=1", Duration::from_secs(20), &dir);
    let ue = UdpSocket::bind("127.0.0.1:0").unwrap();
    ue.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let backend = UdpSocket::bind("127.0.0.1:0").unwrap();
    backend
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let (ue_addr, backend_addr) = (
        ue.local_addr().unwrap().to_string(),
        backend.local_addr().unwrap().to_string(),
    );
    let token_a = seal_route(&key_a, &ue_addr, EDGE_UE_FACING, &backend_addr);
    let token_b = seal_route(&key_b, &ue_addr, EDGE_UE_FACING, &backend_addr);
    let route = |token: &str, n| bye(&ue, &backend, EDGE, EDGE_UE_FACING, token, n);
    assert_eq!(
        route(&token_a, 1),
        Routed::Forwarded,
        "key 1 opens at READY=1"
    );
    // Another loopback source, for the blocklist.
    let other = UdpSocket::bind("127.0.0.2:0").unwrap();
    other
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let other_route = |token: &str, n| bye(&other, &backend, EDGE, EDGE_UE_FACING, token, n);
    assert_eq!(
        other_route(&token_a, 10),
        Routed::Forwarded,
        "127.0.0.2 is not blocked yet"
    );
    assert_eq!(
        route(&token_b, 2),
        Routed::Answered("SIP/2.0 403 Invalid Routing Token".into()),
        "key 2 is not in the ring yet"
    );

    // A call through the edge to the UAS, held across the reload.
    wait_for("edge ready (UAS probed)", Duration::from_secs(15), || {
        harness::http_status(EDGE_ADMIN, "GET", "/admin/ready") == Some(200)
    });
    let mut call = long_call(&sipp_bin, &dir, EDGE, "18180", 4000);
    std::thread::sleep(Duration::from_millis(1500));

    // Rotation, step 2 of docs/tokens.md: key 2 current, key 1 still opens;
    // and 127.0.0.2 on the blocklist.
    std::fs::write(&keys, merged_ring(&[&key_a, &key_b], 2)).unwrap();
    let config = dir.join("edge.yaml");
    std::fs::write(
        &config,
        format!("{yaml}xdp:\n  blocklist: [127.0.0.2/32]\n"),
    )
    .unwrap();
    hup(&edge);
    let seen = notify.wait("READY=1", Duration::from_secs(10), &dir);
    assert!(
        seen.iter().any(|d| d.lines().any(|l| l == "RELOADING=1")),
        "RELOADING=1 before READY=1: {seen:?}"
    );
    assert!(
        log_of(&dir, "edge").contains("sealing with 2"),
        "{}",
        log_of(&dir, "edge")
    );
    assert_eq!(
        route(&token_b, 3),
        Routed::Forwarded,
        "key 2 opens after SIGHUP"
    );
    assert_eq!(route(&token_a, 4), Routed::Forwarded, "key 1 still opens");
    assert_eq!(
        other_route(&token_b, 11),
        Routed::Nothing,
        "127.0.0.2 is blocked now"
    );
    let (status, list) = http(EDGE_ADMIN, "GET", "/admin/blocklist", None).unwrap();
    assert_eq!(status, 200);
    assert!(
        list.contains("127.0.0.2") && list.contains("config"),
        "{list}"
    );
    // The held call's BYE carries a route token sealed with key 1.
    let st = call
        .wait_timeout(Duration::from_secs(30))
        .unwrap_or_else(|| {
            dump_logs(&dir);
            panic!("the held call did not finish")
        });
    if !st.success() {
        dump_logs(&dir);
    }
    assert!(
        st.success(),
        "the call set up before the reload ends normally: {st}"
    );

    // A broken key file and a broken configuration file: the running ring
    // and blocklist stay, the log names each file.
    std::fs::write(&keys, "current: 3\nkeys: [not a key]\n").unwrap();
    std::fs::write(&config, "role: edge\nlisten: [\n").unwrap();
    hup(&edge);
    notify.wait("READY=1", Duration::from_secs(10), &dir);
    let log = log_of(&dir, "edge");
    for (what, file) in [
        ("key ring not loaded", &keys),
        ("configuration file not loaded", &config),
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in the log:\n{log}"));
        assert!(line.contains(&file.display().to_string()), "{line}");
    }
    assert_eq!(
        route(&token_b, 5),
        Routed::Forwarded,
        "the running ring stays"
    );
    assert_eq!(
        other_route(&token_b, 12),
        Routed::Nothing,
        "the running blocklist stays"
    );

    // Drain: STOPPING=1, then the process exits (drain_secs: 1).
    signal(&edge, nix::sys::signal::Signal::SIGTERM);
    notify.wait("STOPPING=1", Duration::from_secs(5), &dir);
    assert!(
        edge.wait_timeout(Duration::from_secs(10)).is_some(),
        "the edge exits after its drain"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

const CORE: &str = "127.0.0.1:18260";
const CORE_ADMIN: &str = "127.0.0.1:18291";

fn script(version: &str) -> String {
    format!(
        r#"from anysip import proxy


@proxy.on_request
def route(request):
    if request.in_dialog:
        if request.loose_route():
            request.relay()
        elif request.method != "ACK":
            request.reply(404, "Not Here")
        return
    if request.method == "OPTIONS":
        request.reply(200, "Version {version}")
        return
    request.record_route()
    request.relay("sip:127.0.0.1:18270")
"#
    )
}

/// An OPTIONS from `ua` to the core: its status line, if any.
fn options(ua: &UdpSocket, n: u32) -> Option<String> {
    let local = ua.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:ping@domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKr{n}\r\nMax-Forwards: 70\r\n\
         From: <sip:t@domain.local>;tag=1\r\nTo: <sip:ping@domain.local>\r\nCall-ID: reload-core-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    ua.send_to(msg.as_bytes(), CORE).unwrap();
    let mut buf = [0u8; 4096];
    let (len, _) = ua.recv_from(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..len]).into_owned();
    Some(text.lines().next().unwrap_or_default().to_owned())
}

#[test]
fn core_reloads_its_script_on_sighup() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("reload-core");
    let path = dir.join("route.py");
    std::fs::write(&path, script("1")).unwrap();
    let notify = Notify::bind(&dir);
    // reload: false: SIGHUP is what reloads.
    let yaml = core_yaml(CORE, CORE_ADMIN, &path, "").replace(
        &format!("  path: {}\n", path.display()),
        &format!("  path: {}\n  reload: false\n", path.display()),
    );
    let mut core = start_env(&dir, "core", &yaml, &[("NOTIFY_SOCKET", &notify.path)]);
    notify.wait("READY=1", Duration::from_secs(30), &dir);
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(options(&ua, 1).as_deref(), Some("SIP/2.0 200 Version 1"));

    // A call relayed by version 1, held across the reload.
    let _uas = sipp_uas(&sipp_bin, "uas-rr.xml", "18270");
    let mut call = long_call(&sipp_bin, &dir, CORE, "18280", 4000);
    std::thread::sleep(Duration::from_millis(1500));

    // Version 2: nothing changes before SIGHUP.
    std::fs::write(&path, script("2")).unwrap();
    assert_eq!(options(&ua, 3).as_deref(), Some("SIP/2.0 200 Version 1"));
    hup(&core);
    let seen = notify.wait("READY=1", Duration::from_secs(10), &dir);
    assert!(
        seen.iter().any(|d| d.lines().any(|l| l == "RELOADING=1")),
        "{seen:?}"
    );
    assert_eq!(options(&ua, 4).as_deref(), Some("SIP/2.0 200 Version 2"));
    let st = call
        .wait_timeout(Duration::from_secs(30))
        .unwrap_or_else(|| {
            dump_logs(&dir);
            panic!("the held call did not finish")
        });
    if !st.success() {
        dump_logs(&dir);
    }
    assert!(
        st.success(),
        "the call set up before the reload ends normally: {st}"
    );

    // A broken script: the running one stays, the log names the file.
    std::fs::write(&path, "def broken(:\n").unwrap();
    hup(&core);
    notify.wait("READY=1", Duration::from_secs(10), &dir);
    let log = log_of(&dir, "core");
    let err = log
        .lines()
        .find(|l| l.contains("script not loaded"))
        .unwrap_or_else(|| panic!("no script reload error:\n{log}"));
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert_eq!(options(&ua, 6).as_deref(), Some("SIP/2.0 200 Version 2"));

    signal(&core, nix::sys::signal::Signal::SIGTERM);
    notify.wait("STOPPING=1", Duration::from_secs(5), &dir);
    assert!(core.wait_timeout(Duration::from_secs(15)).is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

const ROUTERD_ADMIN: &str = "127.0.0.1:18391";

/// routerd's `Type=notify`: `READY=1` once its admin API answers,
/// `STOPPING=1` at SIGTERM (here with a BIRD socket that does not exist:
/// it withdraws nothing and exits).
#[test]
fn routerd_notifies_ready_and_stopping() {
    let bin = Path::new(env!("CARGO_BIN_EXE_anysip")).with_file_name("routerd");
    if !bin.is_file() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{bin:?} is not built (CI=true): cargo build -p anysip-routerd"
        );
        eprintln!("SKIPPED: {bin:?} is not built (cargo build -p anysip-routerd)");
        return;
    }
    let dir = scratch("reload-routerd");
    let notify = Notify::bind(&dir);
    let cfg = dir.join("routerd.yaml");
    std::fs::write(
        &cfg,
        format!(
            "bird:\n  socket: {}\nadmin:\n  listen: {ROUTERD_ADMIN}\nservices:\n  - name: edge\n    addresses: [127.0.0.1]\n    prefixes:\n      - prefix: 127.0.0.1/32\n        announce_protocol: anysip_announce4\n        drain_protocol: anysip_drain4\n    checks:\n      - name: ready\n        http: {{ url: \"http://127.0.0.1:18392/admin/ready\" }}\n",
            dir.join("no-bird.ctl").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("routerd.log")).unwrap();
    let mut routerd = Proc(
        Command::new(&bin)
            .args(["run", "-c"])
            .arg(&cfg)
            .env("NOTIFY_SOCKET", &notify.path)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    notify.wait("READY=1", Duration::from_secs(20), &dir);
    let (status, body) =
        http(ROUTERD_ADMIN, "GET", "/status", None).expect("the admin API answers at READY=1");
    assert_eq!(status, 200, "{body}");
    signal(&routerd, nix::sys::signal::Signal::SIGTERM);
    notify.wait("STOPPING=1", Duration::from_secs(5), &dir);
    assert!(
        routerd.wait_timeout(Duration::from_secs(15)).is_some(),
        "routerd exits after SIGTERM"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
