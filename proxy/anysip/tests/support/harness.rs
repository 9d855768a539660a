//! Shared by the process-level tests: child processes that are always
//! killed, tools that must exist under CI, bounded waits.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when the test ends, whatever happens.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A daemon that forks workers (Kamailio), started as the leader of its
/// own process group ([`Daemon::spawn`]): SIGTERM to the group lets it stop
/// them; SIGKILL to the group follows after 3 s if the leader has not
/// exited, and once it has, so no worker outlives the test (a worker left
/// behind keeps the daemon's ports).
pub struct Daemon(pub Child);

impl Daemon {
    /// Spawns `cmd` in a process group of its own.
    pub fn spawn(cmd: &mut std::process::Command) -> Daemon {
        use std::os::unix::process::CommandExt;
        Daemon(cmd.process_group(0).spawn().unwrap())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let group = i32::try_from(self.0.id())
            .ok()
            .map(|p| nix::unistd::Pid::from_raw(-p));
        let signal = |s| {
            if let Some(g) = group {
                let _ = nix::sys::signal::kill(g, s);
            }
        };
        signal(nix::sys::signal::Signal::SIGTERM);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal(nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Ok(Some(s)) = self.0.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// The tool, or None (skip) when it is missing outside CI; under CI=true a
/// missing tool fails the test.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is not installed (CI=true)"
        );
        eprintln!("SKIPPED: {name} is not installed");
    }
    found
}

/// `tests/sipp/` and friends.
pub fn repo_tests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

pub fn http_status(addr: &str, method: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.get(9..12)?.parse().ok()
}

pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// sipp with its screen off.
pub fn sipp(bin: &Path, args: &[&str]) -> Proc {
    Proc(
        Command::new(bin)
            .args(args)
            .arg("-nostdin")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp starts"),
    )
}

/// `anysip run -c FILE`.
pub fn anysip(config: &Path) -> Proc {
    Proc(
        Command::new(env!("CARGO_BIN_EXE_anysip"))
            .args(["run", "-c"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("anysip starts"),
    )
}

/// The value of the first line of `admin`'s `/metrics` that starts with
/// `prefix` (a name with its labels), if any.
pub fn metric_value(admin: &str, prefix: &str) -> Option<f64> {
    let (_, text) = http(admin, "GET", "/metrics", None)?;
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// An HTTP request with an optional JSON body: the status and the body.
pub fn http(addr: &str, method: &str, path: &str, json: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let body = json.unwrap_or("");
    let ctype = if json.is_some() {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.get(9..12)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// The edge's ledger from its `/metrics` at `admin`: every message received
/// is accounted for exactly once, dropped by the filter, dropped for a
/// reason, answered by the edge (its reply, STUN, a probe's answer taken),
/// or passed on. Returns (received, accounted).
pub fn ledger(admin: &str) -> (u64, u64) {
    let (_, body) = http(admin, "GET", "/metrics", None).expect("/metrics");
    let value = |l: &str| -> u64 {
        l.rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let sum = |prefix: &str| -> u64 {
        body.lines()
            .filter(|l| l.starts_with(prefix))
            .map(value)
            .sum()
    };
    let accounted = sum("anysip_filter_packets_total{path=\"user_space\",verdict=\"drop")
        + sum("anysip_drops_total{")
        + sum("anysip_replies_total{")
        + sum("anysip_forwarded_total{")
        + sum("anysip_stun_total{")
        + sum("anysip_probe_answers_total{");
    (sum("anysip_messages_received_total"), accounted)
}
