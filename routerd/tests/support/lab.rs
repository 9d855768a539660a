//! A two-namespace BGP lab: "edge" (BIRD with the shipped templates,
//! routerd, a health target) peers over a veth pair with "router" (BIRD
//! importing everything). Assertions go to the router's BIRD through its
//! control socket. Everything is created with unique names and torn down
//! on drop; every wait is bounded.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use routerd::bird::{Client, ProtoState};

/// The anycast addresses of the lab (documentation ranges).
pub const ANYCAST4: &str = "192.0.2.1/32";
pub const ANYCAST6: &str = "2001:db8::1/128";
/// Timing of the lab's routerd configuration.
pub const TICK: Duration = Duration::from_millis(300);
pub const INTERVAL: Duration = Duration::from_millis(300);
pub const FAST: Duration = Duration::from_millis(100);
pub const RISE: u32 = 3;
pub const FALL: u32 = 2;
pub const GRACE: Duration = Duration::from_secs(2);
/// Ports inside the edge namespace (its own loopback).
pub const HEALTH_PORT: u16 = 8080;
const ADMIN_PORT: u16 = 9180;

/// Lab tests run one at a time: they are timing assertions on a small machine.
static SERIAL: Mutex<()> = Mutex::new(());
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `body` with a fresh lab, one lab test at a time. Without root,
/// `ip` or `bird` the test fails under CI=true and is skipped loudly otherwise.
pub fn run<F, Fut>(name: &str, body: F)
where
    F: FnOnce(Lab) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut missing = Vec::new();
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    if uid.trim_ascii() != b"0" {
        missing.push("root (CAP_NET_ADMIN)");
    }
    for tool in ["ip", "bird", "birdc"] {
        if !have(tool) {
            missing.push(tool);
        }
    }
    if !missing.is_empty() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{name}: missing {missing:?} (CI=true: a missing tool is a failure)");
        }
        eprintln!(
            "\n!!!!! SKIPPING {name}: missing {missing:?} (install bird2, run as root) !!!!!\n"
        );
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let lab = Lab::new(name);
    rt.block_on(async move {
        let lab = lab;
        lab.wait_established().await;
        body(lab).await;
    });
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An HTTP server inside the edge namespace answering every request with
/// the current status code.
struct HealthTarget {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HealthTarget {
    fn start(netns: &str, code: Arc<AtomicU16>) -> HealthTarget {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let ns_path = format!("/run/netns/{netns}");
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            // This thread (only) moves into the edge namespace; the socket
            // it binds belongs to that namespace.
            let entered = File::open(&ns_path)
                .map_err(|e| e.to_string())
                .and_then(|f| setns(&f, CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string()))
                .and_then(|()| {
                    TcpListener::bind(("127.0.0.1", HEALTH_PORT)).map_err(|e| e.to_string())
                });
            let listener = match entered {
                Ok(l) => l,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = listener.set_nonblocking(true);
            let _ = ready_tx.send(Ok(()));
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                        let mut buf = [0u8; 2048];
                        let _ = s.read(&mut buf);
                        let c = code.load(Ordering::Relaxed);
                        let _ = write!(
                            s,
                            "HTTP/1.1 {c} Lab\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => {}
            other => panic!("health target did not start: {other:?}"),
        }
        HealthTarget {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HealthTarget {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A route as the router's BIRD shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub as_path: Vec<u32>,
    pub communities: String,
}

impl Route {
    pub fn graceful_shutdown(&self) -> bool {
        self.communities.contains("(65535,0)")
    }
}

pub struct Lab {
    pub name: String,
    pub edge: String,
    pub router: String,
    pub dir: PathBuf,
    veth: String,
    pub health: Arc<AtomicU16>,
    edge_bird: Option<Child>,
    router_bird: Option<Child>,
    routerd: Option<Child>,
    target: Option<HealthTarget>,
    pub router_ctl: Client,
    pub edge_ctl: Client,
}

impl Lab {
    fn new(name: &str) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{n}", std::process::id());
        let edge = format!("rtd-edge-{id}");
        let router = format!("rtd-rtr-{id}");
        let dir = std::env::temp_dir().join(format!("routerd-lab-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("lab dir");
        let health = Arc::new(AtomicU16::new(200));
        let mut lab = Lab {
            name: name.to_owned(),
            edge,
            router,
            dir,
            veth: format!("rve{id}"),
            health,
            edge_bird: None,
            router_bird: None,
            routerd: None,
            target: None,
            router_ctl: Client::new("/nonexistent", Duration::from_secs(2)),
            edge_ctl: Client::new("/nonexistent", Duration::from_secs(2)),
        };
        lab.router_ctl = Client::new(lab.dir.join("router.ctl"), Duration::from_secs(2));
        lab.edge_ctl = Client::new(lab.dir.join("edge.ctl"), Duration::from_secs(2));
        lab.network(&id);
        lab.write_configs();
        lab.start_router_bird();
        lab.start_edge_bird();
        lab.target = Some(HealthTarget::start(&lab.edge, lab.health.clone()));
        lab
    }

    fn network(&self, id: &str) {
        let (e, r) = (self.edge.as_str(), self.router.as_str());
        // Interface names are limited to 15 characters.
        let ve = self.veth.clone();
        let vr = format!("rvr{id}");
        sh(&["ip", "netns", "add", e]);
        sh(&["ip", "netns", "add", r]);
        sh(&[
            "ip", "link", "add", &ve, "type", "veth", "peer", "name", &vr,
        ]);
        sh(&["ip", "link", "set", &ve, "netns", e]);
        sh(&["ip", "link", "set", &vr, "netns", r]);
        sh(&["ip", "-n", e, "addr", "add", "198.51.100.1/30", "dev", &ve]);
        sh(&["ip", "-n", r, "addr", "add", "198.51.100.2/30", "dev", &vr]);
        sh(&[
            "ip",
            "-n",
            e,
            "addr",
            "add",
            "2001:db8:ffff::1/64",
            "dev",
            &ve,
            "nodad",
        ]);
        sh(&[
            "ip",
            "-n",
            r,
            "addr",
            "add",
            "2001:db8:ffff::2/64",
            "dev",
            &vr,
            "nodad",
        ]);
        for (ns, dev) in [(e, "lo"), (r, "lo"), (e, ve.as_str()), (r, vr.as_str())] {
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        sh(&["ip", "-n", e, "addr", "add", ANYCAST4, "dev", "lo"]);
        sh(&["ip", "-n", e, "addr", "add", ANYCAST6, "dev", "lo"]);
    }

    /// The shipped templates, unchanged but for where BIRD logs; the
    /// router's own configuration; routerd's configuration.
    fn write_configs(&self) {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/bird");
        let edge_dir = self.dir.join("edge-bird");
        std::fs::create_dir_all(&edge_dir).expect("edge bird dir");
        for f in [
            "bird.conf",
            "anysip-site.conf",
            "anysip-anycast.conf",
            "anysip-peers.conf",
        ] {
            let text = std::fs::read_to_string(shipped.join(f)).expect("template");
            let text = text.replace(
                "log syslog all;",
                &format!("log \"{}\" all;", self.dir.join("edge-bird.log").display()),
            );
            std::fs::write(edge_dir.join(f), text).expect("write template");
        }
        let router = format!(
            "log \"{log}\" all;
router id 198.51.100.2;
protocol device {{ }}
protocol bgp edge4 {{
    local 198.51.100.2 as 64513;
    neighbor 198.51.100.1 as 64512;
    connect delay time 1;
    error wait time 1, 3;
    ipv4 {{ import all; export none; }};
}}
protocol bgp edge6 {{
    local 2001:db8:ffff::2 as 64513;
    neighbor 2001:db8:ffff::1 as 64512;
    connect delay time 1;
    error wait time 1, 3;
    ipv6 {{ import all; export none; }};
}}
",
            log = self.dir.join("router-bird.log").display()
        );
        std::fs::write(self.dir.join("router.conf"), router).expect("router conf");
        let routerd = format!(
            "bird:
  socket: {edge_ctl}
  timeout_ms: 1000
admin:
  listen: 127.0.0.1:{ADMIN_PORT}
tick_ms: {tick}
disable_file: {disable}
on_shutdown: withdraw
services:
  - name: edge
    addresses: [192.0.2.1, \"2001:db8::1\"]
    grace_secs: {grace}
    prefixes:
      - prefix: {ANYCAST4}
        announce_protocol: anysip_announce4
        drain_protocol: anysip_drain4
      - prefix: {ANYCAST6}
        announce_protocol: anysip_announce6
        drain_protocol: anysip_drain6
    checks:
      - name: ready
        http:
          url: http://127.0.0.1:{HEALTH_PORT}/admin/ready
        interval_ms: {interval}
        fast_interval_ms: {fast}
        timeout_ms: 250
        rise: {RISE}
        fall: {FALL}
",
            edge_ctl = self.dir.join("edge.ctl").display(),
            tick = TICK.as_millis(),
            disable = self.disable_file().display(),
            grace = GRACE.as_secs(),
            interval = INTERVAL.as_millis(),
            fast = FAST.as_millis(),
        );
        std::fs::write(self.routerd_config(), routerd).expect("routerd conf");
    }

    /// Changes the check timing of routerd's configuration (before starting it).
    pub fn set_check_timing(&self, interval_ms: u64, fast_ms: u64) {
        let path = self.routerd_config();
        let text = std::fs::read_to_string(&path).expect("routerd conf");
        let text = text
            .replace(
                &format!("interval_ms: {}\n", INTERVAL.as_millis()),
                &format!("interval_ms: {interval_ms}\n"),
            )
            .replace(
                &format!("fast_interval_ms: {}\n", FAST.as_millis()),
                &format!("fast_interval_ms: {fast_ms}\n"),
            );
        std::fs::write(&path, text).expect("routerd conf");
    }

    pub fn disable_file(&self) -> PathBuf {
        self.dir.join("disable")
    }

    pub fn routerd_config(&self) -> PathBuf {
        self.dir.join("routerd.yaml")
    }

    pub fn edge_bird_config(&self) -> PathBuf {
        self.dir.join("edge-bird/bird.conf")
    }

    fn bird(&self, ns: &str, conf: &Path, ctl: &str, log: &str) -> Child {
        let log = File::create(self.dir.join(log)).expect("log file");
        Command::new("ip")
            .args(["netns", "exec", ns, "bird", "-f", "-c"])
            .arg(conf)
            .arg("-s")
            .arg(self.dir.join(ctl))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("bird starts")
    }

    fn start_router_bird(&mut self) {
        let conf = self.dir.join("router.conf");
        self.router_bird = Some(self.bird(&self.router, &conf, "router.ctl", "router-bird.out"));
    }

    pub fn start_edge_bird(&mut self) {
        let conf = self.edge_bird_config();
        self.edge_bird = Some(self.bird(&self.edge, &conf, "edge.ctl", "edge-bird.out"));
    }

    /// Stops the edge's BIRD (SIGTERM, then SIGKILL after 5 s).
    pub fn stop_edge_bird(&mut self) {
        if let Some(c) = self.edge_bird.take() {
            stop(c, Duration::from_secs(5));
        }
    }

    pub fn start_routerd(&mut self) {
        let log = File::create(self.dir.join("routerd.log")).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.edge])
            .arg(env!("CARGO_BIN_EXE_routerd"))
            .arg("run")
            .arg("-c")
            .arg(self.routerd_config())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("routerd starts");
        self.routerd = Some(child);
    }

    /// Sends SIGTERM to routerd and waits (bounded) for it to exit.
    pub fn sigterm_routerd(&mut self) -> std::process::ExitStatus {
        self.signal_routerd(Signal::SIGTERM);
        self.wait_routerd_exit(Duration::from_secs(10))
    }

    /// Sends a signal to routerd.
    pub fn signal_routerd(&mut self, sig: Signal) {
        let c = self.routerd.as_ref().expect("routerd running");
        let pid = Pid::from_raw(i32::try_from(c.id()).expect("pid"));
        kill(pid, sig).expect("signal routerd");
    }

    /// Waits (bounded) for routerd to exit.
    pub fn wait_routerd_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let mut c = self.routerd.take().expect("routerd running");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = c.try_wait().expect("wait") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "routerd did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether routerd is still running.
    pub fn routerd_running(&mut self) -> bool {
        self.routerd
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Makes SIGTERM drain instead of withdraw (before starting routerd).
    pub fn set_shutdown_drain(&self) {
        let path = self.routerd_config();
        let text = std::fs::read_to_string(&path).expect("routerd conf");
        let text = text.replace("on_shutdown: withdraw", "on_shutdown: drain");
        std::fs::write(&path, text).expect("routerd conf");
    }

    /// Kills routerd hard (a crash).
    pub fn sigkill_routerd(&mut self) {
        if let Some(mut c) = self.routerd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs `routerd ARGS` inside the edge namespace (the CLI path).
    pub fn routerd_cli(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.edge])
            .arg(env!("CARGO_BIN_EXE_routerd"))
            .args(args)
            .arg("-c")
            .arg(self.routerd_config())
            .output()
            .expect("routerd cli");
        assert!(
            out.status.success(),
            "routerd {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command inside the edge namespace.
    pub fn in_edge(&self, args: &[&str]) {
        let mut v = vec!["ip", "netns", "exec", self.edge.as_str()];
        v.extend_from_slice(args);
        sh(&v);
    }

    pub fn set_health(&self, code: u16) {
        self.health.store(code, Ordering::Relaxed);
    }

    async fn wait_established(&self) {
        let mut ctl = Client::new(self.dir.join("router.ctl"), Duration::from_secs(2));
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            let up = ctl.show_protocols().await.is_ok_and(|ps| {
                ps.iter()
                    .filter(|p| p.name == "edge4" || p.name == "edge6")
                    .filter(|p| p.info == "Established")
                    .count()
                    == 2
            });
            if up {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{}: BGP sessions did not come up\n{}",
            self.name,
            self.logs()
        );
    }

    /// The route for `prefix` on the router, if any.
    pub async fn route(&mut self, prefix: &str) -> Option<Route> {
        let reply = self
            .router_ctl
            .command(&format!("show route {prefix} all"))
            .await
            .ok()?;
        let mut found = false;
        let mut route = Route {
            as_path: Vec::new(),
            communities: String::new(),
        };
        for l in &reply.lines {
            let t = l.text.trim();
            if t.starts_with(prefix) {
                found = true;
            } else if let Some(p) = t.strip_prefix("BGP.as_path:") {
                route.as_path = p
                    .split_whitespace()
                    .filter_map(|a| a.parse().ok())
                    .collect();
            } else if let Some(c) = t.strip_prefix("BGP.community:") {
                route.communities = c.trim().to_owned();
            }
        }
        found.then_some(route)
    }

    /// Waits until the router's route for `prefix` satisfies `f`
    /// (`None` = no route); returns the time it took.
    pub async fn wait_route(
        &mut self,
        prefix: &str,
        limit: Duration,
        f: impl Fn(&Option<Route>) -> bool,
    ) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() <= limit {
            let r = self.route(prefix).await;
            if f(&r) {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }

    /// Like [`Lab::wait_route`] but panics with the logs on timeout.
    pub async fn expect_route(
        &mut self,
        what: &str,
        prefix: &str,
        limit: Duration,
        f: impl Fn(&Option<Route>) -> bool,
    ) -> Duration {
        match self.wait_route(prefix, limit, f).await {
            Some(d) => {
                eprintln!("{}: {what}: {d:?} (limit {limit:?})", self.name);
                d
            }
            None => {
                let last = self.route(prefix).await;
                panic!(
                    "{}: {what}: not within {limit:?}; last route {last:?}\n{}",
                    self.name,
                    self.logs()
                )
            }
        }
    }

    /// The edge BIRD's protocol state.
    pub async fn edge_protocol(&mut self, name: &str) -> Option<ProtoState> {
        let ps = self.edge_ctl.show_protocols().await.ok()?;
        ps.into_iter().find(|p| p.name == name).map(|p| p.state)
    }

    /// Waits until the edge BIRD reports `name` in `state`; the time taken.
    pub async fn wait_edge_protocol(
        &mut self,
        name: &str,
        state: ProtoState,
        limit: Duration,
    ) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() <= limit {
            if self.edge_protocol(name).await.as_ref() == Some(&state) {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    /// Tails of every log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for f in [
            "routerd.log",
            "edge-bird.log",
            "edge-bird.out",
            "router-bird.log",
        ] {
            let text = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            out.push_str(&format!("----- {f}\n{}\n", tail.join("\n")));
        }
        out
    }
}

fn stop(mut c: Child, grace: Duration) {
    if let Ok(pid) = i32::try_from(c.id()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(c.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    let _ = c.wait();
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("===== {} failed; logs in {}", self.name, self.dir.display());
        }
        if let Some(mut c) = self.routerd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for c in [self.edge_bird.take(), self.router_bird.take()]
            .into_iter()
            .flatten()
        {
            stop(c, Duration::from_secs(2));
        }
        self.target = None;
        for ns in [&self.edge, &self.router] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        // Gone with the namespace, unless setup failed before moving it.
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .stderr(Stdio::null())
            .status();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
