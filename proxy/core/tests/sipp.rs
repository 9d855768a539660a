//! sipp UAC → the core (in process, real UDP on loopback) → sipp UAS:
//! 50 calls (INVITE, 100, 180, 200, ACK and BYE along the Record-Route),
//! zero failures. Skipped when sipp is missing, except in CI (`CI=true`).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anysip_core::{
    Decision, DriverSettings, Edits, Listener, RequestContext, Router, Server, Settings,
};
use sip::Transport;

struct ToUas(SocketAddr);

impl Router for ToUas {
    fn on_request(&self, req: &RequestContext) -> Decision {
        // New calls go to the UAS; in-dialog requests follow their
        // Request-URI (the UAS's Contact).
        let in_dialog = req.message.to_tag().is_some();
        Decision::Relay {
            edits: Edits {
                record_route: !in_dialog,
                ..Default::default()
            },
            next_hop: (!in_dialog).then(|| self.0.to_string()),
            hooks: None,
        }
    }
}

fn sipp_bin() -> Option<PathBuf> {
    let p = Path::new("/usr/bin/sipp");
    if p.exists() {
        return Some(p.to_path_buf());
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "sipp is missing (apt install sip-tester)"
    );
    eprintln!("sipp missing: skipped");
    None
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sipp(bin: &Path, args: &[&str]) -> Proc {
    Proc(
        Command::new(bin)
            .args(args)
            .arg("-nostdin")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn wait(p: &mut Proc, limit: Duration) -> Option<ExitStatus> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(s) = p.0.try_wait().unwrap() {
            return Some(s);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

async fn calls_through_the_core(tcp: bool, calls: u32) {
    let Some(bin) = sipp_bin() else { return };
    // Heavier local runs: ANYSIP_CORE_SIPP_CALLS / ANYSIP_CORE_SIPP_RATE.
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u32>().ok());
    let calls = env("ANYSIP_CORE_SIPP_CALLS").unwrap_or(calls);
    let rate = env("ANYSIP_CORE_SIPP_RATE").unwrap_or(25).to_string();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp");
    // A port free for UDP and, when asked, for TCP too (the UDP port's TCP
    // twin may be another process's ephemeral port: try the next one).
    let (sock, tcp_listener) = (0..50)
        .find_map(|_| {
            let sock = net::bind_udp("127.0.0.1:0".parse().unwrap(), 1)
                .unwrap()
                .remove(0);
            let addr = sock.local_addr().unwrap();
            match tcp.then(|| std::net::TcpListener::bind(addr)) {
                None => Some((sock, None)),
                Some(Ok(l)) => Some((sock, Some(l))),
                Some(Err(_)) => None,
            }
        })
        .expect("a port free for UDP and TCP");
    let core = sock.local_addr().unwrap();
    let outbox = net::Outbox::new(HashMap::from([(core, sock.clone())]), Default::default());
    let uas_port = free_udp_port();
    let uac_port = free_udp_port();
    let uas_addr: SocketAddr = format!("127.0.0.1:{uas_port}").parse().unwrap();
    let mut listeners = vec![Listener {
        transport: Transport::Udp,
        addr: core,
    }];
    if tcp_listener.is_some() {
        listeners.push(Listener {
            transport: Transport::Tcp,
            addr: core,
        });
    }
    let settings = Settings {
        listeners,
        seed: 2,
        ..Settings::default()
    };
    let (server, d) = Server::new(
        settings,
        DriverSettings::default(),
        Arc::new(ToUas(uas_addr)),
        resolve::Resolver::new(),
        outbox.clone(),
    );
    let dispatch: Arc<dyn net::Dispatch> = Arc::new(d);
    let mut tasks = vec![tokio::spawn(net::serve_udp(
        sock,
        dispatch.clone(),
        outbox.clone(),
    ))];
    if let Some(l) = tcp_listener {
        l.set_nonblocking(true).unwrap();
        let l = tokio::net::TcpListener::from_std(l).unwrap();
        tasks.push(tokio::spawn(net::serve_tcp(
            l,
            dispatch.clone(),
            outbox.clone(),
            net::StreamLimits::default(),
        )));
    }

    let uas_xml = dir.join("uas.xml");
    let uac_xml = dir.join("uac.xml");
    let uas_port_s = uas_port.to_string();
    let uac_port_s = uac_port.to_string();
    let core_s = core.to_string();
    let calls_s = calls.to_string();
    let mut uas = sipp(
        &bin,
        &[
            "-sf",
            uas_xml.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            &uas_port_s,
            "-m",
            &calls_s,
            "-timeout",
            "120s",
        ],
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut args = vec![
        "-sf",
        uac_xml.to_str().unwrap(),
        core_s.as_str(),
        "-i",
        "127.0.0.1",
        "-p",
        &uac_port_s,
        "-m",
        &calls_s,
        "-r",
        &rate,
        "-timeout",
        "100s",
    ];
    if tcp {
        args.extend(["-t", "t1"]);
    }
    let mut uac = sipp(&bin, &args);
    let s = wait(&mut uac, Duration::from_secs(110)).await;
    assert!(
        s.is_some_and(|s| s.success()),
        "sipp UAC: not all {calls} calls succeeded ({s:?}); core stats {:?}",
        server.stats().await
    );
    let s = wait(&mut uas, Duration::from_secs(20)).await;
    assert!(s.is_some_and(|s| s.success()), "sipp UAS failed ({s:?})");
    let stats = server.stats().await.unwrap();
    assert_eq!(
        stats.requests.get("INVITE"),
        Some(&u64::from(calls)),
        "{stats:?}"
    );
    for t in tasks {
        t.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_50_calls_through_the_core() {
    calls_through_the_core(false, 50).await;
}

/// The UAC over TCP (responses on its connection, a double Record-Route
/// for the TCP side and the UDP side), the UAS over UDP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_20_calls_over_tcp_through_the_core() {
    calls_through_the_core(true, 20).await;
}
