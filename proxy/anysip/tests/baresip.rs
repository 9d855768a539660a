//! A real softphone behind the edge: baresip (headless, no audio device,
//! auto-answer) registers as bob with digest authentication through an edge
//! to a core running the shipped `deploy/scripts/proxy_default.py`; the
//! core's admin API shows the binding; then sipp calls bob through the same
//! edge, baresip answers, and the call is torn down with a BYE.
//!
//! baresip finds the edge the way a phone finds its provider (RFC 3263):
//! `sip:domain.local` has an SRV record naming the edge, served by a DNS
//! stub in the test; and, in the second test, configured with the edge as
//! its outbound proxy (a preloaded `Route: <sip:EDGE;lr>`, which the edge
//! removes as its own).
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use harness::{http, http_status, repo_tests, tool, wait_for, Proc};
use lab::{core_yaml, deploy_script, dump_logs, edge_yaml, keys, scratch, start, AUTH};

const EDGE: &str = "127.0.0.1:16960";
const EDGE_PORT: u16 = 16960;
const EDGE_ADMIN: &str = "127.0.0.1:19960";
const CORE: &str = "127.0.0.1:16970";
const CORE_ADMIN: &str = "127.0.0.1:19965";
/// sipp (alice) and its RTP port (baresip sends its RTP there).
const SIPP_PORT: &str = "16980";
const SIPP_MEDIA_PORT: &str = "16982";
/// The DNS stub baresip asks.
const DNS: &str = "127.0.0.1:16988";
/// baresip's SIP listener (bob's contact) and its RTP port range.
const BARESIP_SIP: &str = "127.0.0.1:16990";
const BARESIP_RTP: &str = "16992-16998";

/// The tests of this file share their ports: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// How baresip reaches the edge.
#[derive(Clone, Copy, PartialEq)]
enum Reach {
    /// `sip:domain.local` resolved through the DNS stub (SRV to the edge).
    Dns,
    /// The edge as the account's outbound proxy (a preloaded Route).
    OutboundProxy,
}

/// A DNS server on `DNS` for `domain.local`: no NAPTR, `_sip._udp` SRV
/// `0 0 <EDGE_PORT> domain.local`, A 127.0.0.1; every other question gets
/// an empty answer. Stopped (and joined) on drop.
struct DnsStub {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsStub {
    fn start() -> DnsStub {
        let sock = UdpSocket::bind(DNS).expect("DNS stub binds");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(answer) = dns_answer(&buf[..n]) {
                    let _ = sock.send_to(&answer, from);
                }
            }
        });
        DnsStub {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for DnsStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `name` as DNS labels.
fn dns_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// The answer to one query (`None` when it is not one).
fn dns_answer(q: &[u8]) -> Option<Vec<u8>> {
    if q.len() < 12 || q[2] & 0x80 != 0 || q[4..6] != [0, 1] {
        return None;
    }
    // The question: its name (labels, no compression in queries), type, class.
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *q.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    let question = &q[12..i + 4];
    let name = labels.join(".");
    // RR data for the question's name (pointer 0xc00c), class IN, TTL 60.
    let rdata: Option<Vec<u8>> = match (qtype, name.as_str()) {
        (1, "domain.local") => Some(vec![127, 0, 0, 1]),
        (33, "_sip._udp.domain.local") => {
            let mut d = vec![0, 0, 0, 0];
            d.extend_from_slice(&EDGE_PORT.to_be_bytes());
            d.extend_from_slice(&dns_name("domain.local"));
            Some(d)
        }
        _ => None,
    };
    let mut a = Vec::with_capacity(128);
    a.extend_from_slice(&q[0..2]);
    // QR, AA, RD copied, RA; NOERROR.
    a.extend_from_slice(&[0x84 | (q[2] & 0x01), 0x80]);
    a.extend_from_slice(&[0, 1, 0, u8::from(rdata.is_some()), 0, 0, 0, 0]);
    a.extend_from_slice(question);
    if let Some(d) = rdata {
        a.extend_from_slice(&[0xc0, 0x0c]);
        a.extend_from_slice(&qtype.to_be_bytes());
        a.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        a.extend_from_slice(&(d.len() as u16).to_be_bytes());
        a.extend_from_slice(&d);
    }
    Some(a)
}

/// `<dir>/config` and `<dir>/accounts` for `baresip -f <dir>`: UDP on a
/// fixed loopback port, DNS from the stub, G.711 only, the audio bridge (a
/// virtual device; `ausine` only does 48 kHz, and G.711's 8 kHz makes the
/// answer fail) as audio source and player, no user interface; one account,
/// bob, answering at once.
fn baresip_config(dir: &Path, reach: Reach) -> PathBuf {
    let conf = dir.join("baresip");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("config"),
        format!(
            "poll_method\t\tepoll\n\
             sip_listen\t\t{BARESIP_SIP}\n\
             dns_server\t\t{DNS}\n\
             net_interface\t\t127.0.0.1\n\
             call_local_timeout\t30\n\
             call_max_calls\t\t4\n\
             audio_player\t\taubridge,nil\n\
             audio_source\t\taubridge,nil\n\
             audio_alert\t\taubridge,nil\n\
             audio_level\t\tno\n\
             rtp_ports\t\t{BARESIP_RTP}\n\
             module_path\t\t/usr/lib/baresip/modules\n\
             module\t\t\tg711.so\n\
             module\t\t\taubridge.so\n\
             module_tmp\t\tuuid.so\n\
             module_tmp\t\taccount.so\n"
        ),
    )
    .unwrap();
    let outbound = match reach {
        Reach::Dns => String::new(),
        Reach::OutboundProxy => format!(";outbound=\"sip:{EDGE}\""),
    };
    std::fs::write(
        conf.join("accounts"),
        format!(
            "<sip:bob@domain.local>;auth_pass=bob{outbound};regint=600;\
             answermode=auto;audio_codecs=pcmu\n"
        ),
    )
    .unwrap();
    conf
}

/// `baresip -f <conf>` with its SIP trace and log in `<dir>/baresip.log`.
fn baresip(bin: &Path, conf: &Path, dir: &Path) -> Proc {
    let log = std::fs::File::create(dir.join("baresip.log")).expect("log");
    let err = log.try_clone().expect("log");
    Proc(
        Command::new(bin)
            .arg("-f")
            .arg(conf)
            .args(["-v", "-s"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("baresip starts"),
    )
}

#[test]
fn baresip_registers_through_the_edge_and_answers_a_call() {
    call_baresip(Reach::Dns);
}

#[test]
fn baresip_with_the_edge_as_outbound_proxy() {
    call_baresip(Reach::OutboundProxy);
}

fn call_baresip(reach: Reach) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(baresip_bin) = tool("baresip") else {
        return;
    };
    let Some(sipp_bin) = tool("sipp") else { return };
    let dir = scratch("baresip");
    let keys = keys(&dir);
    let _core = start(
        &dir,
        "core",
        &core_yaml(CORE, CORE_ADMIN, &deploy_script("proxy_default.py"), AUTH),
    );
    let _edge = start(
        &dir,
        "edge",
        &edge_yaml(EDGE, EDGE_ADMIN, 1, &keys, &[CORE]),
    );
    wait_for(
        "edge ready (core answers probes)",
        Duration::from_secs(20),
        || http_status(EDGE_ADMIN, "GET", "/admin/ready") == Some(200),
    );

    // bob registers from baresip (401, then REGISTER with credentials).
    let _dns = DnsStub::start();
    let conf = baresip_config(&dir, reach);
    let mut phone = baresip(&baresip_bin, &conf, &dir);
    let registered = (0..150).any(|_| {
        if http_status(
            CORE_ADMIN,
            "GET",
            "/admin/registrations/sip:bob@domain.local",
        ) == Some(200)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
        false
    });
    if !registered {
        dump_logs(&dir);
    }
    assert!(
        registered,
        "baresip registers bob through the edge within 15 s (exited: {:?})",
        phone.0.try_wait()
    );
    let (st, body) = http(
        CORE_ADMIN,
        "GET",
        "/admin/registrations/sip:bob@domain.local",
        None,
    )
    .unwrap();
    assert_eq!(st, 200, "{body}");
    let bob: serde_json::Value = serde_json::from_str(&body).unwrap();
    let binding = &bob["bindings"][0];
    assert!(
        binding["contact"].as_str().unwrap().contains(BARESIP_SIP),
        "bob's contact is baresip's listener: {bob}"
    );
    assert_eq!(
        binding["path"].as_array().unwrap().len(),
        1,
        "the edge's Path: {bob}"
    );

    // alice (sipp) calls bob through the edge; baresip answers on its own;
    // ACK and BYE follow the Record-Route through the edge and the core.
    let uac_xml = repo_tests().join("sipp").join("core-uac.xml");
    lab::sipp_ok(
        &sipp_bin,
        &dir,
        &[
            "-sf",
            uac_xml.to_str().unwrap(),
            EDGE,
            "-s",
            "bob",
            "-key",
            "other_ip",
            "127.0.0.1",
            "-key",
            "other_port",
            &EDGE_PORT.to_string(),
            "-i",
            "127.0.0.1",
            "-p",
            SIPP_PORT,
            "-mp",
            SIPP_MEDIA_PORT,
            "-m",
            "1",
            "-timeout",
            "30s",
        ],
        Duration::from_secs(40),
        "alice → bob: baresip answers through the edge and the core, BYE gets 200",
    );
    assert!(
        phone.0.try_wait().unwrap().is_none(),
        "baresip is still running"
    );
    drop(phone);
    // It was baresip that answered, and the BYE reached it.
    let log = std::fs::read_to_string(dir.join("baresip.log")).unwrap();
    assert!(
        log.contains("answering call") && log.contains("BYE sip:bob"),
        "baresip answered and got the BYE:\n{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
