//! A replicated Redis watched by Sentinel, on loopback: one master, two
//! replicas and three sentinels (Debian's `redis-server` and
//! `redis-sentinel`), each a child killed when the test ends; queried with
//! `redis-cli`. Every wait is bounded.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::harness::{tool, wait_for, Proc};

/// The master's name the sentinels monitor.
pub const MASTER: &str = "m1";

/// Servers and sentinels, each by port.
pub struct Sentinel {
    pub servers: Vec<(u16, Option<Proc>)>,
    pub sentinels: Vec<(u16, Proc)>,
    cli: PathBuf,
}

/// The tools, or None (skip) when one is missing outside CI.
fn tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
    Some((
        tool("redis-server")?,
        tool("redis-sentinel")?,
        tool("redis-cli")?,
    ))
}

/// `redis-cli -p port args...`: its output, trimmed ("" on failure).
pub fn cli(bin: &Path, port: u16, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stderr(Stdio::null())
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

impl Sentinel {
    /// Starts `servers[0]` as master, the others as its replicas, and a
    /// sentinel on each of `sentinels` (quorum 2, the master down after
    /// 1 s); returns once the replicas are in sync and the sentinels can
    /// authorize a failover.
    pub fn start(dir: &Path, servers: &[u16], sentinels: &[u16]) -> Option<Sentinel> {
        let (server_bin, sentinel_bin, cli_bin) = tools()?;
        let master = servers[0];
        let mut out = Sentinel {
            servers: Vec::new(),
            sentinels: Vec::new(),
            cli: cli_bin,
        };
        for &port in servers {
            let data = dir.join(format!("redis-{port}"));
            std::fs::create_dir_all(&data).expect("redis dir");
            let log = std::fs::File::create(dir.join(format!("redis-{port}.log"))).expect("log");
            let mut cmd = Command::new(&server_bin);
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args([
                    "--repl-diskless-sync",
                    "yes",
                    "--repl-diskless-sync-delay",
                    "0",
                ])
                .arg("--dir")
                .arg(&data)
                .stdout(log)
                .stderr(Stdio::null());
            if port != master {
                cmd.args(["--replicaof", "127.0.0.1", &master.to_string()]);
            }
            out.servers
                .push((port, Some(Proc(cmd.spawn().expect("redis-server starts")))));
        }
        let replicas = servers.len() - 1;
        wait_for("replicas in sync", Duration::from_secs(20), || {
            let info = out.cli(master, &["INFO", "replication"]);
            info.contains(&format!("connected_slaves:{replicas}"))
                && servers[1..].iter().all(|p| {
                    out.cli(*p, &["INFO", "replication"])
                        .contains("master_link_status:up")
                })
        });
        for &port in sentinels {
            let conf = dir.join(format!("sentinel-{port}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {}\n\
                     sentinel monitor {MASTER} 127.0.0.1 {master} 2\n\
                     sentinel down-after-milliseconds {MASTER} 1000\n\
                     sentinel failover-timeout {MASTER} 4000\n\
                     sentinel parallel-syncs {MASTER} 2\n",
                    dir.display()
                ),
            )
            .expect("sentinel config");
            let log = std::fs::File::create(dir.join(format!("sentinel-{port}.log"))).expect("log");
            let p = Command::new(&sentinel_bin)
                .arg(&conf)
                .stdout(log)
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-sentinel starts");
            out.sentinels.push((port, Proc(p)));
        }
        let first = sentinels[0];
        wait_for(
            "sentinels able to fail over",
            Duration::from_secs(30),
            || {
                out.cli(first, &["SENTINEL", "CKQUORUM", MASTER])
                    .starts_with(&format!("OK {} usable", sentinels.len()))
                    && out
                        .cli(first, &["SENTINEL", "REPLICAS", MASTER])
                        .matches("slave")
                        .count()
                        >= replicas
            },
        );
        Some(out)
    }

    /// `redis-cli` against one of the processes.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        cli(&self.cli, port, args)
    }

    /// The master's port as the first sentinel tells it.
    pub fn master_port(&self) -> Option<u16> {
        let out = self.cli(
            self.sentinels[0].0,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER],
        );
        out.lines().nth(1)?.trim().parse().ok()
    }

    /// SIGKILLs the server on `port` and waits for it to exit.
    pub fn kill(&mut self, port: u16) {
        if let Some((_, p)) = self.servers.iter_mut().find(|(p, _)| *p == port) {
            drop(p.take());
        }
    }

    /// The `sentinel:` YAML block of these sentinels, indented for
    /// `registrar.redis`.
    pub fn yaml(&self) -> String {
        let nodes: Vec<String> = self
            .sentinels
            .iter()
            .map(|(p, _)| format!("127.0.0.1:{p}"))
            .collect();
        format!(
            "    sentinel:\n      master_name: {MASTER}\n      sentinels: [{}]\n",
            nodes.join(", ")
        )
    }
}
