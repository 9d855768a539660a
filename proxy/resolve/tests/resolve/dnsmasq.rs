//! A dnsmasq (Debian package `dnsmasq-base`) serving test records on
//! 127.0.0.1 at a free port; killed on drop. Every wait is bounded.

use std::io::Read;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/sbin/dnsmasq";

/// A running dnsmasq.
#[derive(Debug)]
pub struct Dnsmasq {
    child: Child,
    /// Where it listens (UDP and TCP).
    pub addr: SocketAddr,
}

impl Dnsmasq {
    /// Starts dnsmasq with `records` (dnsmasq options such as
    /// `--host-record=...`), authoritative-style for `test` (`--local`:
    /// unknown names get NXDOMAIN, nothing is forwarded). `None` when
    /// dnsmasq is not installed and `CI` is not `true` (the test is then
    /// skipped); with `CI=true` a missing dnsmasq panics.
    pub fn start(records: &[String]) -> Option<Self> {
        if !Path::new(BIN).exists() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{BIN} is missing: install the Debian package dnsmasq-base");
            }
            eprintln!("skipped: {BIN} is missing (Debian package dnsmasq-base)");
            return None;
        }
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(BIN)
                .args([
                    "--no-daemon",
                    "--no-resolv",
                    "--no-hosts",
                    "--bind-interfaces",
                    "--listen-address=127.0.0.1",
                    "--conf-file=/dev/null",
                    "--pid-file=",
                    "--local=/test/",
                    "--log-facility=-",
                ])
                .arg(format!("--port={port}"))
                .args(records)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    eprintln!("dnsmasq exited ({status}): {err}");
                    break; // port taken, most likely: try another
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Some(Dnsmasq { child, addr });
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("dnsmasq did not listen on {addr} within 5 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("dnsmasq did not start after 5 tries");
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}
