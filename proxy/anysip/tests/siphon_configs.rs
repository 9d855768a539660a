//! SIPhon's published configurations run as given (issue 13, item 4):
//! the single node of its `docs/deployment.md` (Scenario 1: fixed ports
//! 5060, 9090, 9091 on every address, Redis on 127.0.0.1:6379), started
//! unchanged inside a network namespace of its own so that its ports are
//! its own; and its `deploy/ha-demo` front LB and two backends, with the
//! `${VAR:-default}` parameters its own validate.sh sets. sipp registers
//! and calls through each. The files are `tests/data/siphon/`.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{repo_tests, tool, wait_for, Proc};
use lab::{dump_logs, redis, scratch, sipp_ok};

fn data(name: &str) -> PathBuf {
    repo_tests().join("data/siphon").join(name)
}

fn sipp_xml(name: &str) -> String {
    repo_tests()
        .join("sipp")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Waits until `log` has `needle` (the process logs at info).
fn wait_log(dir: &Path, log: &str, needle: &str) {
    let path = dir.join(log);
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains(needle) {
            return;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            dump_logs(dir);
            panic!("{log}: no {needle:?} within 20 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A network namespace with only its loopback up, deleted on drop.
struct Netns(String);

impl Netns {
    /// None when not root (outside CI); under CI=true, not being root fails.
    fn new(tag: &str) -> Option<Netns> {
        if !nix::unistd::Uid::effective().is_root() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "running SIPhon's single node as given needs a network namespace: root (CI=true)"
            );
            eprintln!("SKIPPED: needs root for a network namespace");
            return None;
        }
        let ns = Netns(format!("asip{tag}{}", std::process::id() % 100_000));
        let ok = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().unwrap();
            assert!(st.success(), "ip {args:?}");
        };
        ok(&["netns", "add", &ns.0]);
        ok(&["-n", &ns.0, "link", "set", "lo", "up"]);
        Some(ns)
    }

    /// `program args` inside the namespace, its output to `log` (or
    /// nowhere), from the working directory `/`.
    fn spawn(&self, program: &Path, args: &[&str], log: Option<&Path>) -> Proc {
        let out = || match log {
            Some(p) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .unwrap(),
            ),
            None => Stdio::null(),
        };
        Proc(
            Command::new("ip")
                .args(["netns", "exec", &self.0])
                .arg(program)
                .args(args)
                .current_dir("/")
                .env("RUST_LOG", "info")
                .env_remove("HOSTNAME")
                .stdin(Stdio::null())
                .stdout(out())
                .stderr(out())
                .spawn()
                .unwrap(),
        )
    }

    /// Runs sipp to completion inside the namespace (at most 30 s).
    fn sipp_ok(&self, sipp: &Path, dir: &Path, args: &[&str], what: &str) {
        let mut p = self.spawn(sipp, &[args, &["-nostdin"]].concat(), None);
        let st = p.wait_timeout(Duration::from_secs(30)).unwrap_or_else(|| {
            dump_logs(dir);
            panic!("{what}: sipp did not finish within 30 s")
        });
        if !st.success() {
            dump_logs(dir);
        }
        assert!(st.success(), "{what}: {st}");
    }

    /// An HTTP GET inside the namespace (curl): the status.
    fn http_status(&self, curl: &Path, url: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0])
            .arg(curl)
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-m",
                "5",
                url,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(&self.0));
    }
}

impl Netns {
    /// The namespace's own /etc/hosts (`ip netns exec` mounts
    /// /etc/netns/<name>/hosts over it).
    fn hosts(&self, text: &str) {
        let dir = Path::new("/etc/netns").join(&self.0);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hosts"), text).unwrap();
    }
}

/// docs/deployment.md Scenario 1, unchanged: no `role:`, a relative
/// script path, Redis, `${HOSTNAME}`, metrics and admin on 0.0.0.0. It
/// starts (from `/`, so the script is found next to the file, as SIPhon
/// finds it), alice registers over UDP and a call to her is answered.
#[test]
fn deployment_scenario_1_runs_as_given() {
    let (Some(sipp), Some(redis_bin), Some(curl)) =
        (tool("sipp"), tool("redis-server"), tool("curl"))
    else {
        return;
    };
    let Some(ns) = Netns::new("s1") else {
        return;
    };
    let dir = scratch("siphon-s1");
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    let config = dir.join("siphon.yaml");
    std::fs::copy(data("deployment/siphon.yaml"), &config).unwrap();
    // The page names scripts/proxy_default.py without any digest user: the
    // same page's minimal backend script (no authentication) stands there.
    std::fs::copy(
        data("ha-demo/proxy.py"),
        dir.join("scripts/proxy_default.py"),
    )
    .unwrap();

    let _redis = ns.spawn(
        &redis_bin,
        &[
            "--port",
            "6379",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        Some(&dir.join("redis.log")),
    );
    wait_log(&dir, "redis.log", "Ready to accept connections");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_anysip"));
    let log = dir.join("anysip.log");
    let _node = ns.spawn(&bin, &["run", "-c", config.to_str().unwrap()], Some(&log));
    wait_log(&dir, "anysip.log", "anysip core running");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("WARN"),
        "no warning for SIPhon's own file:\n{text}"
    );
    assert_eq!(
        ns.http_status(&curl, "http://127.0.0.1:9091/admin/ready"),
        "200"
    );
    assert_eq!(
        ns.http_status(&curl, "http://127.0.0.1:9090/metrics"),
        "200"
    );

    ns.sipp_ok(
        &sipp,
        &dir,
        &[
            "-sf",
            &sipp_xml("register-once.xml"),
            "127.0.0.1:5060",
            "-s",
            "alice",
            "-i",
            "127.0.0.1",
            "-p",
            "5091",
            "-m",
            "1",
            "-timeout",
            "10s",
        ],
        "alice registers at the Scenario-1 node",
    );
    let mut uas = ns.spawn(
        &sipp,
        &[
            "-sf",
            &sipp_xml("uas-rr.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            "5091",
            "-m",
            "1",
            "-timeout",
            "20s",
            "-nostdin",
        ],
        None,
    );
    std::thread::sleep(Duration::from_millis(300));
    ns.sipp_ok(
        &sipp,
        &dir,
        &[
            "-sf",
            &sipp_xml("siphon-uac.xml"),
            "127.0.0.1:5060",
            "-s",
            "alice",
            "-i",
            "127.0.0.1",
            "-p",
            "5092",
            "-m",
            "1",
            "-timeout",
            "15s",
        ],
        "a call to alice through the Scenario-1 node",
    );
    let st = uas.wait_timeout(Duration::from_secs(10));
    assert!(
        st.is_some_and(|s| s.success()),
        "alice's UAS took the call: {st:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// deploy/ha-demo: the front LB (lb.py, a gateway group) before two
/// backends (proxy.py, Redis registrar), with the parameters SIPhon's
/// validate.sh gives them, on loopback: alice registers and is called
/// through the LB. Each node has an address of its own (127.0.0.2, .3,
/// .5; the UAs .4): the files list `127.0.0.1` as a local domain, and an
/// anysip core takes a Route to a local domain as its own whatever the
/// port, so nodes sharing 127.0.0.1 would pop each other's Record-Route.
#[test]
fn ha_demo_front_lb_and_backends_run() {
    let Some(sipp) = tool("sipp") else {
        return;
    };
    let dir = scratch("siphon-ha");
    let Some(_redis) = redis(&dir, 16399) else {
        return;
    };
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_anysip"));
    let start =
        |name: &str, bind: &str, file: &str, script: &str, env: &[(&str, String)]| -> Proc {
            let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
            let mut cmd = Command::new(&bin);
            cmd.args(["run", "-c"])
                .arg(data(file))
                .env("SIP_BIND", bind)
                .env("SCRIPT_PATH", data(script))
                .env("REDIS_HOST", "127.0.0.1")
                .env("REDIS_PORT", "16399")
                .env("INSTANCE_ID", name)
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(log);
            for (k, v) in env {
                cmd.env(k, v);
            }
            Proc(cmd.spawn().unwrap())
        };
    let ports = |sip: u16| {
        vec![
            ("SIP_PORT", sip.to_string()),
            ("METRICS_PORT", (sip + 3000).to_string()),
            ("ADMIN_PORT", (sip + 3100).to_string()),
        ]
    };
    let _b1 = start(
        "backend1",
        "127.0.0.3",
        "ha-demo/siphon-backend.yaml",
        "ha-demo/proxy.py",
        &ports(16061),
    );
    let _b2 = start(
        "backend2",
        "127.0.0.5",
        "ha-demo/siphon-backend.yaml",
        "ha-demo/proxy.py",
        &ports(16062),
    );
    let mut fe_env = ports(16060);
    fe_env.extend([
        ("BACKEND1_URI", "sip:127.0.0.3:16061".to_owned()),
        ("BACKEND1_ADDR", "127.0.0.3:16061".to_owned()),
        ("BACKEND2_URI", "sip:127.0.0.5:16062".to_owned()),
        ("BACKEND2_ADDR", "127.0.0.5:16062".to_owned()),
    ]);
    let _fe = start(
        "frontend",
        "127.0.0.2",
        "ha-demo/siphon-frontend.yaml",
        "ha-demo/lb.py",
        &fe_env,
    );
    for name in ["backend1", "backend2", "frontend"] {
        wait_log(&dir, &format!("{name}.log"), "anysip core running");
    }
    // The LB's probes find both backends up.
    wait_for("both backends up", Duration::from_secs(20), || {
        harness::http("127.0.0.1:19160", "GET", "/admin/gateways", None)
            .is_some_and(|(_, body)| body.contains("\"healthy\":2"))
    });
    sipp_ok(
        &sipp,
        &dir,
        &[
            "-sf",
            &sipp_xml("register-once.xml"),
            "127.0.0.2:16060",
            "-s",
            "alice",
            "-i",
            "127.0.0.4",
            "-p",
            "17091",
            "-m",
            "1",
            "-timeout",
            "10s",
        ],
        Duration::from_secs(20),
        "alice registers through the LB",
    );
    let mut uas = harness::sipp(
        &sipp,
        &[
            "-sf",
            &sipp_xml("uas-rr.xml"),
            "-i",
            "127.0.0.4",
            "-p",
            "17091",
            "-m",
            "1",
            "-timeout",
            "20s",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    sipp_ok(
        &sipp,
        &dir,
        &[
            "-sf",
            &sipp_xml("siphon-uac.xml"),
            "127.0.0.2:16060",
            "-s",
            "alice",
            "-i",
            "127.0.0.4",
            "-p",
            "17092",
            "-m",
            "1",
            "-timeout",
            "15s",
        ],
        Duration::from_secs(20),
        "a call to alice through the LB",
    );
    let st = uas.wait_timeout(Duration::from_secs(10));
    assert!(
        st.is_some_and(|s| s.success()),
        "alice's UAS took the call: {st:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// docs/deployment.md Scenario 2, the front LB, as given: its file and
/// its lb.py (which relays to `destination.uri`, `sip:nodeN.example.com`,
/// resolved through the namespace's /etc/hosts) in one namespace; two
/// backends at the page's 10.0.0.1 and 10.0.0.2 (SIPhon's ha-demo backend
/// file and script, sharing Redis) in another, linked by a veth pair; the
/// UAs on the front's side. alice registers and is called through the LB.
#[test]
fn deployment_front_lb_runs_as_given() {
    let (Some(sipp), Some(redis_bin)) = (tool("sipp"), tool("redis-server")) else {
        return;
    };
    let (Some(front_ns), Some(back_ns)) = (Netns::new("lf"), Netns::new("lb")) else {
        return;
    };
    let id = std::process::id() % 100_000;
    let (outer, inner) = (format!("slf{id}"), format!("slb{id}"));
    let ip = |args: &[&str]| {
        let st = Command::new("ip").args(args).status().unwrap();
        assert!(st.success(), "ip {args:?}");
    };
    ip(&[
        "link",
        "add",
        &outer,
        "netns",
        &front_ns.0,
        "type",
        "veth",
        "peer",
        "name",
        &inner,
        "netns",
        &back_ns.0,
    ]);
    ip(&[
        "-n",
        &front_ns.0,
        "addr",
        "add",
        "10.0.0.254/24",
        "dev",
        &outer,
    ]);
    ip(&[
        "-n",
        &back_ns.0,
        "addr",
        "add",
        "10.0.0.1/24",
        "dev",
        &inner,
    ]);
    ip(&[
        "-n",
        &back_ns.0,
        "addr",
        "add",
        "10.0.0.2/24",
        "dev",
        &inner,
    ]);
    ip(&["-n", &front_ns.0, "link", "set", &outer, "up"]);
    ip(&["-n", &back_ns.0, "link", "set", &inner, "up"]);
    front_ns.hosts("127.0.0.1 localhost\n10.0.0.1 node1.example.com\n10.0.0.2 node2.example.com\n");

    let dir = scratch("siphon-lb");
    let front = dir.join("siphon.yaml");
    std::fs::copy(data("deployment/frontend.yaml"), &front).unwrap();
    std::fs::copy(data("deployment/lb.py"), dir.join("lb.py")).unwrap();
    let _redis = back_ns.spawn(
        &redis_bin,
        &[
            "--port",
            "6379",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        Some(&dir.join("redis.log")),
    );
    wait_log(&dir, "redis.log", "Ready to accept connections");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_anysip"));
    let backend = data("ha-demo/siphon-backend.yaml");
    let mut nodes = Vec::new();
    for n in 1..=2 {
        let env_args = [
            format!("SIP_BIND=10.0.0.{n}"),
            "SIP_PORT=5060".to_owned(),
            format!("SCRIPT_PATH={}", data("ha-demo/proxy.py").display()),
            "REDIS_HOST=127.0.0.1".to_owned(),
            format!("INSTANCE_ID=node{n}"),
            format!("METRICS_PORT={}", 9190 + n),
            format!("ADMIN_PORT={}", 9290 + n),
        ];
        let mut args: Vec<&str> = env_args.iter().map(String::as_str).collect();
        args.extend([
            bin.to_str().unwrap(),
            "run",
            "-c",
            backend.to_str().unwrap(),
        ]);
        let log = dir.join(format!("node{n}.log"));
        nodes.push(back_ns.spawn(Path::new("/usr/bin/env"), &args, Some(&log)));
        wait_log(&dir, &format!("node{n}.log"), "anysip core running");
    }
    let _front = front_ns.spawn(
        &bin,
        &["run", "-c", front.to_str().unwrap()],
        Some(&dir.join("front.log")),
    );
    wait_log(&dir, "front.log", "anysip core running");

    front_ns.sipp_ok(
        &sipp,
        &dir,
        &[
            "-sf",
            &sipp_xml("register-once.xml"),
            "10.0.0.254:5060",
            "-s",
            "alice",
            "-i",
            "10.0.0.254",
            "-p",
            "5091",
            "-m",
            "1",
            "-timeout",
            "10s",
        ],
        "alice registers through the front LB",
    );
    let mut uas = front_ns.spawn(
        &sipp,
        &[
            "-sf",
            &sipp_xml("uas-rr.xml"),
            "-i",
            "10.0.0.254",
            "-p",
            "5091",
            "-m",
            "1",
            "-timeout",
            "20s",
            "-nostdin",
        ],
        None,
    );
    std::thread::sleep(Duration::from_millis(300));
    front_ns.sipp_ok(
        &sipp,
        &dir,
        &[
            "-sf",
            &sipp_xml("siphon-uac.xml"),
            "10.0.0.254:5060",
            "-s",
            "alice",
            "-i",
            "10.0.0.254",
            "-p",
            "5092",
            "-m",
            "1",
            "-timeout",
            "15s",
        ],
        "a call to alice through the front LB",
    );
    let st = uas.wait_timeout(Duration::from_secs(10));
    assert!(
        st.is_some_and(|s| s.success()),
        "alice's UAS took the call: {st:?}"
    );
    // The registration reached a backend through the LB (its script logs
    // it), and the call was relayed by the LB to a backend by name.
    let registered = (1..=2)
        .filter(|n| {
            std::fs::read_to_string(dir.join(format!("node{n}.log")))
                .unwrap_or_default()
                .contains("registered sip:alice@example.com")
        })
        .count();
    assert_eq!(registered, 1, "one backend holds alice");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends an OPTIONS from `ua` to `to`; the status line of the answer.
fn options(ua: &std::net::UdpSocket, to: &str, n: u32) -> String {
    let local = ua.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:ping@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKsk{n}\r\nMax-Forwards: 70\r\n\
         From: <sip:t@example.com>;tag=1\r\nTo: <sip:ping@example.com>\r\nCall-ID: keys-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    ua.send_to(msg.as_bytes(), to).unwrap();
    let mut buf = [0u8; 4096];
    match ua.recv_from(&mut buf) {
        Ok((len, _)) => String::from_utf8_lossy(&buf[..len])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        Err(_) => String::new(),
    }
}

/// An HTTP request with an optional bearer token: the status.
fn http_auth(addr: &str, method: &str, path: &str, token: Option<&str>) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// SIPhon's keys at work in a running core: `log.file` gets the logs,
/// `script.reload: sighup` reloads on SIGHUP and not on a file change,
/// `metrics.prometheus.path` moves the metrics, `admin.auth.token` guards
/// the mutating admin routes, `admin.cors` lets one origin read it, `server.server_header` marks the core's own
/// responses.
#[test]
fn siphon_keys_take_effect() {
    let dir = scratch("siphon-keys");
    let script = |v: &str| {
        format!(
            "from siphon import proxy\n\n@proxy.on_request\ndef route(request):\n    request.reply(200, \"Version {v}\")\n"
        )
    };
    std::fs::write(dir.join("route.py"), script("1")).unwrap();
    let log_file = dir.join("logs/siphon.log");
    // A gateway named by host name; its probes' From and User-Agent.
    let gw = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    gw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let gw_port = gw.local_addr().unwrap().port();
    // By name when `localhost` is 127.0.0.1 first (the core's listener is
    // IPv4); resolution itself is the config tests'.
    let first = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", gw_port))
        .ok()
        .and_then(|mut a| a.next());
    let gw_host = if first.is_some_and(|a| a.is_ipv4()) {
        "localhost"
    } else {
        "127.0.0.1"
    };
    let yaml = format!(
        "listen:\n  udp: [\"127.0.0.1:15981\"]\ndomain:\n  local: [example.com]\n\
         script:\n  path: route.py\n  reload: sighup\n\
         log:\n  level: info\n  format: pretty\n  file: {}\n\
         server:\n  server_header: \"SIPhon-compat\"\n  user_agent_header: \"SIPhon-probe\"\n  drain_secs: 1\n\
         gateway:\n  groups:\n    - name: carriers\n      algorithm: from_uri_hash\n      probe:\n        interval_secs: 1\n        timeout_secs: 1\n        from_user: ping\n        from_domain: lb.example.com\n      destinations:\n\
         \x20       - uri: \"sip:gw.example.com:{gw_port}\"\n          address: \"{gw_host}:{gw_port}\"\n\
         metrics:\n  prometheus:\n    listen: \"127.0.0.1:19982\"\n    path: /prom\n\
         admin:\n  listen: \"127.0.0.1:19981\"\n  auth:\n    token: s3cret\n  cors:\n    allowed_origins: [\"http://localhost:5173\"]\n",
        log_file.display()
    );
    let mut core = lab::start(&dir, "core", &yaml);
    let mut buf = [0u8; 4096];
    let (len, _) = gw.recv_from(&mut buf).expect("a probe OPTIONS");
    let probe = String::from_utf8_lossy(&buf[..len]).into_owned();
    assert!(
        probe.starts_with(&format!("OPTIONS sip:gw.example.com:{gw_port} SIP/2.0")),
        "{probe}"
    );
    assert!(
        probe.contains("\r\nFrom: <sip:ping@lb.example.com>;tag="),
        "{probe}"
    );
    assert!(
        probe.contains("\r\nUser-Agent: SIPhon-probe\r\n"),
        "{probe}"
    );
    wait_for("core admin", Duration::from_secs(20), || {
        harness::http_status("127.0.0.1:19981", "GET", "/admin/health").is_some()
    });
    let ua = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(options(&ua, "127.0.0.1:15981", 1), "SIP/2.0 200 Version 1");

    // server_header on the core's own response.
    let local = ua.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:ping@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKskh\r\nMax-Forwards: 70\r\n\
         From: <sip:t@example.com>;tag=1\r\nTo: <sip:ping@example.com>\r\nCall-ID: keys-h\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    ua.send_to(msg.as_bytes(), "127.0.0.1:15981").unwrap();
    let mut buf = [0u8; 4096];
    let (len, _) = ua.recv_from(&mut buf).unwrap();
    let answer = String::from_utf8_lossy(&buf[..len]).into_owned();
    assert!(answer.contains("\r\nServer: SIPhon-compat\r\n"), "{answer}");

    // reload: sighup — a new file is not taken until SIGHUP.
    std::fs::write(dir.join("route.py"), script("2")).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(options(&ua, "127.0.0.1:15981", 2), "SIP/2.0 200 Version 1");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(core.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let mut n = 10;
    wait_for(
        "the script reloaded on SIGHUP",
        Duration::from_secs(10),
        || {
            n += 1;
            options(&ua, "127.0.0.1:15981", n) == "SIP/2.0 200 Version 2"
        },
    );

    // admin.cors: the allowed origin is echoed, another gets nothing.
    let cors = |origin: &str| {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect("127.0.0.1:19981").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        write!(
            c,
            "GET /admin/stats HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        let _ = c.read_to_string(&mut text);
        text.to_ascii_lowercase()
    };
    assert!(cors("http://localhost:5173")
        .contains("access-control-allow-origin: http://localhost:5173\r\n"));
    assert!(!cors("http://evil.example").contains("access-control-allow-origin"));
    // metrics.prometheus.path; admin.auth.token.
    assert_eq!(http_auth("127.0.0.1:19982", "GET", "/prom", None), 200);
    assert_eq!(http_auth("127.0.0.1:19982", "GET", "/metrics", None), 404);
    assert_eq!(
        http_auth("127.0.0.1:19981", "GET", "/admin/stats", None),
        200
    );
    assert_eq!(
        http_auth("127.0.0.1:19981", "POST", "/admin/drain", None),
        401
    );
    assert_eq!(
        http_auth("127.0.0.1:19981", "POST", "/admin/drain", Some("wrong")),
        401
    );
    assert_eq!(
        http_auth("127.0.0.1:19981", "POST", "/admin/drain", Some("s3cret")),
        202
    );
    assert!(
        core.wait_timeout(Duration::from_secs(40)).is_some(),
        "drained"
    );

    // log.file: the same lines as standard error.
    let text = std::fs::read_to_string(&log_file).unwrap();
    assert!(text.contains("anysip core running"), "{text}");
    assert!(
        text.contains("SIGHUP") && text.contains("script reloaded"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `listen.dscp` and an entry's own `dscp`: the core's answers leave the
/// listener with that DSCP in the IP header (read with IP_RECVTOS).
#[test]
fn listen_dscp_marks_packets() {
    use nix::sys::socket::{
        recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn,
    };
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;

    let dir = scratch("siphon-dscp");
    std::fs::write(
        dir.join("route.py"),
        "from siphon import proxy\n\n@proxy.on_request\ndef route(request):\n    request.reply(200)\n",
    )
    .unwrap();
    let yaml = "listen:\n  dscp: EF\n  udp:\n    - \"127.0.0.1:15991\"\n    - address: \"127.0.0.1:15992\"\n      dscp: AF41\n\
                domain:\n  local: [example.com]\nscript:\n  path: route.py\nadmin:\n  listen: \"127.0.0.1:19991\"\nserver:\n  drain_secs: 1\n";
    let _core = lab::start(&dir, "core", yaml);
    wait_for("core admin", Duration::from_secs(20), || {
        harness::http_status("127.0.0.1:19991", "GET", "/admin/health").is_some()
    });
    let ua = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    setsockopt(&ua, sockopt::IpRecvTos, &true).unwrap();
    for (to, want) in [
        ("127.0.0.1:15991", 46u8 << 2),
        ("127.0.0.1:15992", 34u8 << 2),
    ] {
        let local = ua.local_addr().unwrap();
        let msg = format!(
            "OPTIONS sip:ping@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKdscp{want}\r\nMax-Forwards: 70\r\n\
             From: <sip:t@example.com>;tag=1\r\nTo: <sip:ping@example.com>\r\nCall-ID: dscp-{want}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        ua.send_to(msg.as_bytes(), to).unwrap();
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!(u8);
        let got =
            recvmsg::<SockaddrIn>(ua.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty())
                .unwrap();
        let tos = got.cmsgs().unwrap().find_map(|c| match c {
            ControlMessageOwned::Ipv4Tos(t) => Some(t),
            _ => None,
        });
        assert_eq!(tos, Some(want), "the answer from {to}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `script.reload: auto` watches the file: a new version is loaded with
/// no request arriving, and answers the next one.
#[test]
fn reload_auto_watches_the_file() {
    let dir = scratch("siphon-auto");
    let script = |v: &str| {
        format!(
            "from siphon import proxy\n\n@proxy.on_request\ndef route(request):\n    request.reply(200, \"Version {v}\")\n"
        )
    };
    std::fs::write(dir.join("route.py"), script("1")).unwrap();
    let yaml = "listen:\n  udp: [\"127.0.0.1:15995\"]\ndomain:\n  local: [example.com]\n\
                script:\n  path: route.py\n  reload: auto\nadmin:\n  listen: \"127.0.0.1:19995\"\nserver:\n  drain_secs: 1\n";
    let _core = lab::start(&dir, "core", yaml);
    wait_for("core admin", Duration::from_secs(20), || {
        harness::http_status("127.0.0.1:19995", "GET", "/admin/health").is_some()
    });
    // A different size, so the change shows even within one mtime tick.
    std::fs::write(dir.join("route.py"), script("22")).unwrap();
    wait_log(&dir, "core.log", "script reloaded");
    let log = std::fs::read_to_string(dir.join("core.log")).unwrap();
    assert!(log.contains("the file changed"), "{log}");
    let ua = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(options(&ua, "127.0.0.1:15995", 1), "SIP/2.0 200 Version 22");
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIPhon's TLS keys on a running core: `certificate`/`private_key`, an
/// SNI certificate for `*.tenant.example`, `method: TLSv1_3`, and client
/// certificates (`verify_client` with `client_ca`): a client with a
/// certificate gets the certificate of the name it asks for over TLS 1.3
/// and an answer; one without a certificate gets none.
#[test]
fn tls_keys_of_siphon() {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = scratch("siphon-tls");
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issue = |names: &[&str], client: bool| {
        let key = KeyPair::generate().unwrap();
        let mut p =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        if client {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        (p.signed_by(&key, &ca, &ca_key).unwrap(), key)
    };
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let (default_cert, default_key) = issue(&["default.example"], false);
    let (sni_cert, sni_key) = issue(&["*.tenant.example"], false);
    let (client_cert, client_key) = issue(&["client.example"], true);
    let yaml = format!(
        "listen:\n  udp: [\"127.0.0.1:15996\"]\n  tls: [\"127.0.0.1:15997\"]\ndomain:\n  local: [example.com]\n\
         script:\n  path: route.py\nadmin:\n  listen: \"127.0.0.1:19996\"\nserver:\n  drain_secs: 1\n\
         tls:\n  certificate: {}\n  private_key: {}\n  method: TLSv1_3\n  verify_client: true\n  client_ca: {}\n\
         \x20 certificates:\n    - server_names: [\"*.tenant.example\"]\n      certificate: {}\n      private_key: {}\n",
        write("default.pem", default_cert.pem()),
        write("default.key", default_key.serialize_pem()),
        write("ca.pem", ca.pem()),
        write("sni.pem", sni_cert.pem()),
        write("sni.key", sni_key.serialize_pem()),
    );
    std::fs::write(
        dir.join("route.py"),
        "from siphon import proxy\n\n@proxy.on_request\ndef route(request):\n    request.reply(200)\n",
    )
    .unwrap();
    let _core = lab::start(&dir, "core", &yaml);
    wait_for("core admin", Duration::from_secs(20), || {
        harness::http_status("127.0.0.1:19996", "GET", "/admin/health").is_some()
    });

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let with_cert = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots.clone())
        .with_client_auth_cert(
            vec![client_cert.der().clone()],
            PrivateKeyDer::try_from(client_key.serialize_der()).unwrap(),
        )
        .unwrap();
    let without = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let options = "OPTIONS sip:ping@example.com SIP/2.0\r\nVia: SIP/2.0/TLS ue.invalid;branch=z9hG4bKtls1\r\nMax-Forwards: 70\r\n\
                   From: <sip:t@example.com>;tag=1\r\nTo: <sip:ping@example.com>\r\nCall-ID: tls-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The answer (first line) and the server's certificate, or why not.
    let ask = |config: &rustls::ClientConfig, name: &'static str| {
        let config = Arc::new(config.clone());
        rt.block_on(async move {
            let tcp = tokio::net::TcpStream::connect("127.0.0.1:15997")
                .await
                .unwrap();
            let connector = tokio_rustls::TlsConnector::from(config);
            let server = ServerName::try_from(name).unwrap();
            let mut tls =
                tokio::time::timeout(Duration::from_secs(5), connector.connect(server, tcp))
                    .await
                    .map_err(|_| "handshake timed out".to_owned())?
                    .map_err(|e| e.to_string())?;
            let (_, session) = tls.get_ref();
            let version = session.protocol_version();
            let peer: Option<CertificateDer<'static>> =
                session.peer_certificates().and_then(|c| c.first()).cloned();
            tls.write_all(options.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
                .await
                .map_err(|_| "no answer".to_owned())?
                .map_err(|e| e.to_string())?;
            let first = String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            Ok::<_, String>((first, peer, version))
        })
    };
    let (answer, peer, version) = ask(&with_cert, "a.tenant.example").unwrap();
    assert_eq!(answer, "SIP/2.0 200 OK");
    assert_eq!(peer.as_ref(), Some(sni_cert.der()), "the SNI certificate");
    assert_eq!(version, Some(rustls::ProtocolVersion::TLSv1_3));
    let (answer, peer, _) = ask(&with_cert, "default.example").unwrap();
    assert_eq!(answer, "SIP/2.0 200 OK");
    assert_eq!(
        peer.as_ref(),
        Some(default_cert.der()),
        "the default certificate"
    );
    let refused = ask(&without, "default.example");
    assert!(
        refused.as_ref().map_or(true, |(a, _, _)| a.is_empty()),
        "no client certificate, no answer: {refused:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
