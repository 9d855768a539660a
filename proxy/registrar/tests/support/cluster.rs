//! A three-master Redis Cluster of the test's own on 127.0.0.1
//! (`redis-server --cluster-enabled yes` ×3, joined with
//! `redis-cli --cluster create`), no persistence, every node killed on
//! drop; every wait is bounded.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running cluster.
pub struct Cluster {
    nodes: Vec<Child>,
    dir: PathBuf,
}

/// True when `redis-server` and `redis-cli` can be run. When they cannot:
/// panics naming the Debian package under CI=true, else prints a skip and
/// returns false.
pub fn available(test: &str) -> bool {
    let found = ["redis-server", "redis-cli"].iter().all(|b| {
        Command::new(b)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "redis-server or redis-cli not found: install the Debian package `redis-server`"
            );
        }
        eprintln!(
            "skipping {test}: redis-server/redis-cli not found (Debian package `redis-server`)"
        );
    }
    found
}

/// `redis-cli -p port args...`: its output ("" on failure).
pub fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn wait(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Cluster {
    /// Three masters on `ports` (their cluster bus on port + 10000), the
    /// slots split between them; returns once every node says
    /// `cluster_state:ok`.
    pub fn start(ports: [u16; 3]) -> Cluster {
        let dir = std::env::temp_dir().join(format!(
            "anysip-cluster-{}-{}",
            std::process::id(),
            ports[0]
        ));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let mut cluster = Cluster {
            nodes: Vec::new(),
            dir: dir.clone(),
        };
        for port in ports {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                .arg("--cluster-config-file")
                .arg(dir.join(format!("nodes-{port}.conf")))
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            cluster.nodes.push(child);
        }
        for port in ports {
            wait("a cluster node", 10, || {
                cli(port, &["PING"]).trim() == "PONG"
            });
        }
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for port in ports {
            wait("cluster_state:ok", 20, || {
                cli(port, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
            });
        }
        cluster
    }

    /// The keys matching `pattern` held by the node on `port`.
    pub fn keys_on(&self, port: u16, pattern: &str) -> usize {
        cli(port, &["--scan", "--pattern", pattern]).lines().count()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.nodes {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
