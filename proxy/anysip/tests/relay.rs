//! The relay between edge instances (issue 11), with real processes: three
//! edges on 127.0.0.1/.2/.3 (relay ports on each), one core, one key ring,
//! a fleet CA made with `anysip fleet ca|cert`. A TCP UE (sipp `-t t1`) and
//! a TLS UE (rustls) and a WebSocket UE (`relay/stream_ue.rs`) register
//! through edge 1, the
//! instance that holds their connections; the core reaches the fleet
//! through edge 2 (edge 1's backend-facing address is edge 2's, as an
//! anycast address would be another instance's), so every call to them
//! (200 each to the TCP and TLS UEs, 50 to the WebSocket UE) crosses the relay from edge 2 to edge 1. A caller enters
//! through edge 3. Edge 2 finds its peers in DNS (SRV records). Then: a
//! peer with another CA's certificate is refused and nothing it sends is
//! delivered; garbage on the relay port changes nothing and service goes
//! on; the owner killed with SIGKILL, the next INVITE to the UE is
//! answered 430 by edge 2 within 1 s; the owner restarted and the UE
//! registered again, calls cross again.
#![allow(clippy::unwrap_used)]

#[path = "../../resolve/tests/resolve/dnsmasq.rs"]
mod dnsmasq;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;
#[path = "relay/stream_ue.rs"]
mod stream_ue;
#[path = "support/uas.rs"]
mod uas;
#[path = "support/ws.rs"]
mod ws;

use std::net::UdpSocket;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{http, http_status, repo_tests, sipp, tool, wait_for};
use lab::{core_yaml, deploy_script, dump_logs, fleet, keys, scratch, sipp_ok, start, AUTH};

const SIP_PORT: u16 = 16160;
const RELAY_PORT: u16 = 16161;
const TLS_PORT: u16 = 16162;
const WS_PORT: u16 = 16163;
const CORE: &str = "127.0.0.5:16170";
const CORE_ADMIN: &str = "127.0.0.1:19671";
const ALICE: &str = "16180";
const BOB: &str = "16190";
const CALLS: u64 = 200;

fn admin(instance: u16) -> String {
    format!("127.0.0.1:{}", 19660 + instance)
}

fn relay_addr(instance: u16) -> String {
    format!("127.0.0.{instance}:{RELAY_PORT}")
}

/// Edge `n` of the fleet. Edge 1 listens on the wildcard UDP address so
/// that its backend-facing address can be edge 2's: the core's requests to
/// its flows reach edge 2, as an anycast address reaches the nearest
/// instance. Edges 1 and 3 list their peers; edge 2 finds them in DNS
/// (SRV records served by dnsmasq at `dns`).
fn edge(dir: &Path, n: u16, keys: &Path, dns: std::net::SocketAddr) -> String {
    let d = dir.display();
    let (peers, resolver) = if n == 2 {
        (
            "  dns: _anysip-relay._udp.fleet.test\n  dns_refresh_secs: 1\n".to_string(),
            format!("dns:\n  servers: [{dns}]\n  timeout_ms: 1000\n"),
        )
    } else {
        let list: String = (1..=3)
            .map(|i| format!("    - {{ instance_id: {i}, address: {} }}\n", relay_addr(i)))
            .collect();
        (format!("  peers:\n{list}"), String::new())
    };
    let (udp, faces) = if n == 1 {
        (
            format!("0.0.0.0:{SIP_PORT}"),
            format!(
                "  ue_address: 127.0.0.1:{SIP_PORT}\n  backend_address: 127.0.0.2:{SIP_PORT}\n"
            ),
        )
    } else {
        (format!("127.0.0.{n}:{SIP_PORT}"), String::new())
    };
    // Edge 1 also takes TLS (carol) and WebSocket (dave).
    let tls = if n == 1 {
        format!("  tls: [127.0.0.1:{TLS_PORT}]\n  ws: [127.0.0.1:{WS_PORT}]\ntls:\n  cert: {d}/edge-tls.pem\n  key: {d}/edge-tls.key\n")
    } else {
        String::new()
    };
    format!(
        "role: edge\nlisten:\n  udp: [{udp}]\n  tcp: [127.0.0.{n}:{SIP_PORT}]\n{tls}admin:\n  listen: {admin}\n\
         server:\n  instance_id: {n}\n  drain_secs: 1\n{resolver}\
         gateway:\n  groups:\n    - name: backends\n      probe:\n        enabled: false\n      destinations:\n        - uri: sip:{CORE}\n          address: {CORE}\n\
         edge:\n  keys:\n    file: {k}\n{faces}\
         relay:\n  listen: {relay}\n{peers}  ca: {d}/fleet-ca.pem\n  cert: {d}/edge-{n}.pem\n  key: {d}/edge-{n}.key\n\
         \x20 connect_timeout_ms: 300\n  keep_alive_ms: 300\n  idle_timeout_ms: 1500\n",
        admin = admin(n),
        k = keys.display(),
        relay = relay_addr(n),
    )
}

fn scrape(instance: u16) -> String {
    http(&admin(instance), "GET", "/metrics", None).unwrap().1
}

/// The sum of the lines of `text` starting with `prefix`.
fn sum(text: &str, prefix: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// Every message received by an edge is accounted for once (see rows.rs).
fn balanced(instance: u16) {
    let t0 = Instant::now();
    loop {
        let t = scrape(instance);
        let received = sum(&t, "anysip_messages_received_total");
        let accounted = sum(
            &t,
            "anysip_filter_packets_total{path=\"user_space\",verdict=\"drop",
        ) + sum(&t, "anysip_drops_total{")
            + sum(&t, "anysip_replies_total{")
            + sum(&t, "anysip_forwarded_total{")
            + sum(&t, "anysip_stun_total{")
            + sum(&t, "anysip_probe_answers_total{");
        if received == accounted {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "edge {instance}: {received} received, {accounted} accounted for\n{t}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An INVITE to bob from a plain UDP socket through edge 3; the status of
/// the first final response and how long it took.
fn invite_bob(ua: &UdpSocket, n: u32) -> (u16, Duration) {
    let local = ua.local_addr().unwrap();
    let msg = format!(
        "INVITE sip:bob@domain.local SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-relay-{n};rport\r\n\
         From: <sip:carol@domain.local>;tag=c{n}\r\nTo: <sip:bob@domain.local>\r\n\
         Call-ID: relay-dead-{n}@test\r\nCSeq: 1 INVITE\r\nContact: <sip:carol@{local}>\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let t0 = Instant::now();
    ua.send_to(msg.as_bytes(), format!("127.0.0.3:{SIP_PORT}"))
        .unwrap();
    let mut buf = [0u8; 4096];
    while t0.elapsed() < Duration::from_secs(5) {
        let Ok((len, _)) = ua.recv_from(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..len]);
        let code: u16 = text.get(8..11).and_then(|c| c.parse().ok()).unwrap_or(0);
        if code >= 200 {
            return (code, t0.elapsed());
        }
    }
    panic!("no final response to the INVITE within 5 s");
}

/// Waits (10 s at most) for `user`'s binding at the core to have a Path other
/// than `old`; returns it.
fn registered(dir: &Path, user: &str, old: Option<&str>) -> String {
    let t0 = Instant::now();
    loop {
        if let Some((200, body)) = http(
            CORE_ADMIN,
            "GET",
            &format!("/admin/registrations/sip:{user}@domain.local"),
            None,
        ) {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let path = v["bindings"][0]["path"].to_string();
            if old != Some(path.as_str()) {
                return path;
            }
        }
        if t0.elapsed() > Duration::from_secs(10) {
            dump_logs(dir);
            panic!("{user} did not register through edge 1");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `calls` calls from alice to `user` through edge 3 at `rate` per second
/// (sipp `core-uac.xml`: INVITE, ACK and BYE through edge 3), all of them
/// completed within `secs` seconds.
fn call(sipp_bin: &Path, dir: &Path, user: &str, calls: u64, rate: u64, secs: u64, what: &str) {
    let uac = repo_tests().join("sipp").join("core-uac.xml");
    let edge3 = format!("127.0.0.3:{SIP_PORT}");
    let (calls, rate, port) = (calls.to_string(), rate.to_string(), SIP_PORT.to_string());
    let timeout = format!("{secs}s");
    let args = [
        "-sf",
        uac.to_str().unwrap(),
        &edge3,
        "-s",
        user,
        "-key",
        "other_ip",
        "127.0.0.3",
        "-key",
        "other_port",
        &port,
        "-i",
        "127.0.0.1",
        "-p",
        ALICE,
        "-m",
        &calls,
        "-r",
        &rate,
        "-timeout",
        &timeout,
    ];
    sipp_ok(sipp_bin, dir, &args, Duration::from_secs(secs + 10), what);
}

#[test]
fn calls_to_tcp_and_tls_ues_cross_the_relay() {
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("relay");
    let keys = keys(&dir);
    fleet(&dir, &[1, 2, 3]);
    let (tls_ca, tls_cert, tls_key) = stream_ue::certificates();
    std::fs::write(dir.join("edge-tls.pem"), &tls_cert).unwrap();
    std::fs::write(dir.join("edge-tls.key"), &tls_key).unwrap();
    let _core = start(
        &dir,
        "core",
        &core_yaml(CORE, CORE_ADMIN, &deploy_script("proxy_default.py"), AUTH),
    );
    wait_for("core ready", Duration::from_secs(20), || {
        http_status(CORE_ADMIN, "GET", "/admin/ready") == Some(200)
    });
    let mut records: Vec<String> = (1..=3)
        .map(|i| {
            format!("--srv-host=_anysip-relay._udp.fleet.test,e{i}.fleet.test,{RELAY_PORT},10,10")
        })
        .collect();
    records.extend((1..=3).map(|i| format!("--host-record=e{i}.fleet.test,127.0.0.{i}")));
    let Some(dns) = dnsmasq::Dnsmasq::start(&records) else {
        return;
    };
    let mut edges: Vec<harness::Proc> = (1..=3)
        .map(|n| start(&dir, &format!("edge-{n}"), &edge(&dir, n, &keys, dns.addr)))
        .collect();
    for n in 1..=3 {
        let a = admin(n);
        let t0 = Instant::now();
        while http_status(&a, "GET", "/admin/ready") != Some(200) {
            if t0.elapsed() > Duration::from_secs(20) {
                dump_logs(&dir);
                panic!("edge {n} not ready");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // Edge 2 found instances 1 and 3 in DNS (their certificates say which).
    wait_for(
        "edge 2 discovers its peers",
        Duration::from_secs(10),
        || {
            let (_, st) = http(&admin(2), "GET", "/admin/relay", None).unwrap();
            let v: serde_json::Value = serde_json::from_str(&st).unwrap();
            let ids: Vec<u64> = v["peers"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["instance_id"].as_u64())
                .collect();
            ids == [1, 3]
        },
    );

    // bob registers over TCP through edge 1 and keeps the connection; the
    // calls to him arrive on it (answered by uas.xml out of call).
    let sc = repo_tests().join("sipp");
    let hold = sc.join("register-hold.xml");
    let uas = sc.join("uas.xml");
    let bob_addr = format!("127.0.0.1:{SIP_PORT}");
    let bob_args = [
        "-sf",
        hold.to_str().unwrap(),
        &bob_addr,
        "-t",
        "t1",
        "-s",
        "bob",
        "-au",
        "bob",
        "-ap",
        "bob",
        "-auth_uri",
        "domain.local",
        "-oocsf",
        uas.to_str().unwrap(),
        "-i",
        "127.0.0.1",
        "-p",
        BOB,
        "-m",
        "1",
        "-timeout",
        "300s",
    ];
    let bob = sipp(&sipp_bin, &bob_args);
    let first_path = registered(&dir, "bob", None);
    // carol registers over TLS through edge 1 and answers on that connection.
    let carol_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let carol = stream_ue::run(
        "carol",
        stream_ue::Via::Tls(tls_ca),
        format!("127.0.0.1:{TLS_PORT}"),
        carol_stop.clone(),
    );
    registered(&dir, "carol", None);
    // dave registers over WebSocket through edge 1 (RFC 7118).
    let dave = stream_ue::run(
        "dave",
        stream_ue::Via::Ws,
        format!("127.0.0.1:{WS_PORT}"),
        carol_stop.clone(),
    );
    registered(&dir, "dave", None);

    // alice calls bob through edge 3, ACK and BYE through edge 3 too; the
    // core sends every request to bob to edge 2, which relays it to edge 1.
    call(
        &sipp_bin,
        &dir,
        "bob",
        CALLS,
        50,
        90,
        &format!("{CALLS} calls to a TCP UE across the relay, zero failures"),
    );
    // The same to carol over TLS.
    call(
        &sipp_bin,
        &dir,
        "carol",
        CALLS,
        50,
        90,
        &format!("{CALLS} calls to a TLS UE across the relay, zero failures"),
    );
    // And 50 to dave over WebSocket.
    call(
        &sipp_bin,
        &dir,
        "dave",
        50,
        50,
        60,
        "50 calls to a WebSocket UE across the relay, zero failures",
    );
    let (e1, e2) = (scrape(1), scrape(2));
    let out_2 = sum(
        &e2,
        "anysip_relay_messages_total{direction=\"out\",peer=\"1\"}",
    );
    let in_1 = sum(
        &e1,
        "anysip_relay_messages_total{direction=\"in\",peer=\"2\"}",
    );
    // INVITE, ACK and BYE of every call crossed from edge 2 to edge 1.
    if out_2 < 3 * CALLS || in_1 < 3 * CALLS {
        dump_logs(&dir);
    }
    eprintln!("relayed: edge 2 out {out_2}, edge 1 in {in_1}");
    assert!(out_2 >= 3 * CALLS, "edge 2 relayed {out_2}\n{e2}");
    assert!(
        in_1 >= 3 * CALLS,
        "edge 1 took {in_1} relayed messages\n{e1}"
    );
    assert_eq!(sum(&e2, "anysip_relay_failures_total"), 0, "{e2}");
    assert_eq!(sum(&e1, "anysip_relay_failures_total"), 0, "{e1}");
    assert_eq!(sum(&e2, "anysip_forwarded_total{to=\"relay\"}"), out_2);
    assert_eq!(sum(&e2, "anysip_replies_total{status=\"430\"}"), 0, "{e2}");
    for n in 1..=3 {
        balanced(n);
    }
    let (_, state) = http(&admin(2), "GET", "/admin/relay", None).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let peer1 = state["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["instance_id"] == 1)
        .unwrap();
    assert_eq!(peer1["state"], "up", "{state}");
    assert!(peer1["sent"].as_u64().unwrap() >= 6 * CALLS, "{state}");

    // A peer whose certificate another CA signed (naming instance 3) is
    // refused by edge 2; garbage datagrams on the relay port change nothing.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (other, other_key) = relay::tls::new_ca().unwrap();
        let (cert, key) = relay::tls::issue(&other, &other_key, 3).unwrap();
        let settings = relay::Settings {
            instance: 3,
            listen: "127.0.0.4:0".parse().unwrap(),
            peers: vec![(2, relay_addr(2).parse().unwrap())],
            connect_timeout: Duration::from_millis(500),
            answer_timeout: Duration::from_millis(500),
            keep_alive: Duration::from_millis(300),
            idle_timeout: Duration::from_millis(1500),
            max_in_flight: 8,
            max_peers: 4,
            max_message: 65_535,
        };
        struct Quiet;
        impl relay::Observer for Quiet {}
        let stranger = relay::Relay::bind(settings, &other, &cert, &key, Arc::new(Quiet)).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        stranger
            .send(
                relay::Message {
                    kind: relay::Kind::Request,
                    target: 2,
                    transport: relay::FlowTransport::Tcp,
                    connection: 1,
                    ue: "127.0.0.1:16190".parse().unwrap(),
                    sip: bytes::Bytes::from_static(
                        b"OPTIONS sip:bob@domain.local SIP/2.0\r\nContent-Length: 0\r\n\r\n",
                    ),
                    answer: true,
                },
                Box::new(move |o| {
                    let _ = tx.send(o);
                }),
            )
            .unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(3), rx)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(outcome, Err(relay::Failure::Handshake));
        stranger.close();
    });
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..50u8 {
        junk.send_to(&[i; 1200], relay_addr(2)).unwrap();
        junk.send_to(b"\xc0\x00\x00\x00\x01garbage", relay_addr(2))
            .unwrap();
    }
    // Each garbage datagram is counted, none taken.
    wait_for(
        "edge 2 counts 100 garbage datagrams",
        Duration::from_secs(3),
        || {
            sum(
                &scrape(2),
                "anysip_relay_failures_total{reason=\"not_quic\"}",
            ) >= 100
        },
    );
    let e2 = scrape(2);
    assert!(
        sum(&e2, "anysip_relay_failures_total{reason=\"handshake\"}") >= 1,
        "{e2}"
    );
    assert_eq!(
        sum(&e2, "anysip_relay_messages_total{direction=\"in\""),
        0,
        "nothing from the stranger was taken\n{e2}"
    );
    // Service goes on: ten more calls across the relay.
    call(
        &sipp_bin,
        &dir,
        "bob",
        10,
        10,
        30,
        "calls across the relay after the stranger and the garbage",
    );

    // The owner dies (SIGKILL): the next INVITE to bob is answered 430 by
    // edge 2 within 1 s (the core passes a final response back).
    edges[0].0.kill().unwrap();
    let _ = edges[0].0.wait();
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let before = sum(&scrape(2), "anysip_replies_total{status=\"430\"}");
    let (status, took) = invite_bob(&ua, 1);
    let after = sum(&scrape(2), "anysip_replies_total{status=\"430\"}");
    if after != before + 1 || took > Duration::from_secs(1) {
        dump_logs(&dir);
    }
    assert_eq!(after, before + 1, "edge 2 answered 430");
    assert!(status >= 400, "final response {status}");
    assert!(took < Duration::from_secs(1), "answered after {took:?}");
    // Again, with the peer now known down: at once.
    let (_, took) = invite_bob(&ua, 2);
    assert!(took < Duration::from_secs(1), "answered after {took:?}");
    let e2 = scrape(2);
    assert!(
        sum(&e2, "anysip_relay_failures_total{reason=\"timeout\"}")
            + sum(&e2, "anysip_relay_failures_total{reason=\"unreachable\"}")
            + sum(
                &e2,
                "anysip_relay_failures_total{reason=\"connection_lost\"}"
            )
            >= 2,
        "{e2}"
    );
    balanced(2);
    balanced(3);

    // The owner comes back: edge 2 has seen its connection go down; bob
    // registers again through the new edge 1 and calls reach him again
    // (edge 2 dials edge 1 anew).
    wait_for("edge 2 sees edge 1 down", Duration::from_secs(5), || {
        let (_, st) = http(&admin(2), "GET", "/admin/relay", None).unwrap();
        st.contains("\"down\"")
    });
    edges[0] = start(&dir, "edge-1-again", &edge(&dir, 1, &keys, dns.addr));
    wait_for("edge 1 ready again", Duration::from_secs(20), || {
        http_status(&admin(1), "GET", "/admin/ready") == Some(200)
    });
    drop(bob);
    let _bob = sipp(&sipp_bin, &bob_args);
    registered(&dir, "bob", Some(&first_path));
    // Longer than the relay's backoff after a failed connect
    // (connect_timeout_ms), which the core's retransmissions of the last
    // INVITE may have started.
    std::thread::sleep(Duration::from_millis(700));
    call(
        &sipp_bin,
        &dir,
        "bob",
        10,
        10,
        30,
        "calls across the relay after the owner restarted",
    );
    let e2 = scrape(2);
    assert!(
        sum(
            &e2,
            "anysip_relay_peer_transitions_total{peer=\"1\",to=\"up\"}"
        ) >= 2,
        "reconnected\n{e2}"
    );
    balanced(1);
    balanced(2);
    carol_stop.store(true, std::sync::atomic::Ordering::SeqCst);
    // carol's and dave's connections went with the first edge 1: they
    // answered every call before.
    assert!(carol.join().unwrap() >= CALLS as u32);
    assert!(dave.join().unwrap() >= 50);
    drop(edges);
    let _ = std::fs::remove_dir_all(&dir);
}
