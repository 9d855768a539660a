//! Attach test: the program on a veth inside a network namespace, real
//! datagrams from the peer namespace; junk is dropped and counted, SIP
//! reaches the socket; dropping `Xdp` detaches it.
#![allow(clippy::unwrap_used)]

#[path = "support/gate.rs"]
mod gate;
#[path = "support/netns.rs"]
mod netns;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use anysip_ebpf_common::config::{FLAG_ANY_V4, FLAG_ANY_V6};
use anysip_xdp::{AttachMode, Config, Verdict, Xdp};
use netns::Pair;

const JUNK: usize = 7;
const SIP: usize = 5;
const PORT: u16 = 5060;

fn config() -> Config {
    let mut c = Config::EMPTY;
    c.udp_ports[0] = PORT;
    c.flags = FLAG_ANY_V4 | FLAG_ANY_V6;
    c
}

fn sip(i: usize) -> Vec<u8> {
    format!("OPTIONS sip:edge.invalid SIP/2.0\r\nCall-ID: {i}\r\n\r\n").into_bytes()
}

/// Everything runs on one thread, which moves between the namespaces:
/// attach in `a`, send from `b`, read the counters and detach in `a`.
fn run(pair: &Pair) -> Result<(), String> {
    pair.a.enter()?;
    let xdp = Xdp::attach(&pair.a_if, AttachMode::Auto, &config()).map_err(|e| e.to_string())?;
    eprintln!("attached to {} in {:?} mode", pair.a_if, xdp.mode());
    assert_ne!(xdp.mode(), AttachMode::Auto);
    let shown = pair.a.ip(&["link", "show", &pair.a_if])?;
    assert!(shown.contains("xdp"), "ip link shows no xdp: {shown}");
    let server = UdpSocket::bind(("0.0.0.0", PORT)).map_err(|e| e.to_string())?;
    server
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;

    pair.b.enter()?;
    let client = UdpSocket::bind(("0.0.0.0", 0)).map_err(|e| e.to_string())?;
    let dest = (pair.a_addr.as_str(), PORT);
    for i in 0..JUNK {
        let junk = [0x16, 0x03, 0x01, i as u8, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3];
        client.send_to(&junk, dest).map_err(|e| e.to_string())?;
    }
    for i in 0..SIP {
        client.send_to(&sip(i), dest).map_err(|e| e.to_string())?;
    }

    // The socket was made in `a`; receiving works from any namespace.
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 2048];
    while got.len() < SIP && Instant::now() < deadline {
        if let Ok((n, _)) = server.recv_from(&mut buf) {
            got.push(buf[..n].to_vec());
        }
    }
    // Nothing else arrives: the junk was dropped before the stack.
    if let Ok((n, _)) = server.recv_from(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    let want: Vec<Vec<u8>> = (0..SIP).map(sip).collect();
    assert_eq!(
        got, want,
        "the SIP datagrams, and only they, reach the socket"
    );

    let counters = xdp.counters().map_err(|e| e.to_string())?;
    eprintln!("counters {counters:?}");
    assert_eq!(
        counters[Verdict::DropNotSip.counter_index() as usize],
        JUNK as u64
    );
    assert_eq!(counters[Verdict::Pass.counter_index() as usize], SIP as u64);
    for v in [
        Verdict::DropBlocklisted,
        Verdict::DropRateLimited,
        Verdict::DropShed,
    ] {
        assert_eq!(counters[v.counter_index() as usize], 0, "{v:?}");
    }

    pair.a.enter()?;
    drop(xdp);
    let shown = pair.a.ip(&["link", "show", &pair.a_if])?;
    assert!(!shown.contains("xdp"), "still attached after drop: {shown}");
    Ok(())
}

#[test]
fn attach_drop_count_detach() {
    if !gate::can_run("attach_drop_count_detach") {
        return;
    }
    let pair = match Pair::new("t") {
        Ok(p) => p,
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("network namespaces: {e}");
            }
            eprintln!("skip attach_drop_count_detach: network namespaces: {e}");
            return;
        }
    };
    let result = std::thread::scope(|s| s.spawn(|| run(&pair)).join());
    match result {
        Ok(r) => r.unwrap_or_else(|e| panic!("{e}")),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

#[test]
fn attach_to_missing_interface_fails() {
    if !gate::can_run("attach_to_missing_interface_fails") {
        return;
    }
    let err = Xdp::attach("nonexistent0", AttachMode::Skb, &config()).unwrap_err();
    assert!(err.to_string().contains("nonexistent0"), "{err}");
}
