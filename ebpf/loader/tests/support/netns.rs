//! Network namespaces joined by a veth pair, for the attach test. Names are
//! unique per process; the namespaces (and with them the veth) are deleted
//! on drop.
#![allow(dead_code)]

use std::fs::File;
use std::process::Command;

use nix::sched::{setns, CloneFlags};

/// Runs `ip args...`; returns stdout, or the failure as text.
pub fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A named network namespace, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: String) -> Result<Netns, String> {
        ip(&["netns", "add", &name])?;
        Ok(Netns { name })
    }

    /// Runs `ip -n <ns> args...`.
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Moves the calling thread into this namespace.
    pub fn enter(&self) -> Result<(), String> {
        let f = File::open(format!("/var/run/netns/{}", self.name))
            .map_err(|e| format!("open netns {}: {e}", self.name))?;
        setns(&f, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns {}: {e}", self.name))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Two namespaces `a` and `b`, veth `a_if` (in `a`, 10.200.<n>.1/24, MAC
/// [`Pair::A_MAC`]) to `b_if` (in `b`, 10.200.<n>.2/24), both up, with a
/// permanent neighbour entry in `b` so that nothing waits for ARP.
#[derive(Debug)]
pub struct Pair {
    // Dropped in order: b then a.
    pub b: Netns,
    pub a: Netns,
    pub a_if: String,
    pub b_if: String,
    pub a_addr: String,
    pub b_addr: String,
}

impl Pair {
    pub const A_MAC: &'static str = "02:00:5e:00:53:01";

    pub fn new(tag: &str) -> Result<Pair, String> {
        let pid = std::process::id();
        let a = Netns::new(format!("anysip-{tag}-{pid}-a"))?;
        let b = Netns::new(format!("anysip-{tag}-{pid}-b"))?;
        let short = pid % 100_000;
        let a_if = format!("xa{tag}{short}");
        let b_if = format!("xb{tag}{short}");
        let net = 200 + pid % 50;
        let a_addr = format!("10.{net}.0.1");
        let b_addr = format!("10.{net}.0.2");
        ip(&[
            "link", "add", &a_if, "netns", &a.name, "type", "veth", "peer", "name", &b_if, "netns",
            &b.name,
        ])?;
        a.ip(&["link", "set", &a_if, "address", Self::A_MAC])?;
        a.ip(&["addr", "add", &format!("{a_addr}/24"), "dev", &a_if])?;
        b.ip(&["addr", "add", &format!("{b_addr}/24"), "dev", &b_if])?;
        a.ip(&["link", "set", &a_if, "up"])?;
        b.ip(&["link", "set", &b_if, "up"])?;
        b.ip(&[
            "neigh",
            "replace",
            &a_addr,
            "lladdr",
            Self::A_MAC,
            "dev",
            &b_if,
            "nud",
            "permanent",
        ])?;
        Ok(Pair {
            b,
            a,
            a_if,
            b_if,
            a_addr,
            b_addr,
        })
    }
}
