//! SIPhon's flow API in a running core, driven by a test UA over TCP: the
//! REGISTER is saved with `registrar.save(flow_token=)`, the binding
//! reads back SIPhon's `Contact` fields (`params`, `instance_id`,
//! `flow_token`, `flow`, `kind`, `is_local`), `request.flow` equals the
//! binding's flow, and `request.relay(flow=contact.flow)` reaches the UA
//! over the very connection it registered on although its Contact URI
//! points nowhere. Once the UA has gone, `Contact.flow.is_alive` is false.
//! `request.force_send_via` sends over the transport it names with the
//! Via sent-by it gives, and the answer still finds its way back. A proxy
//! in front of a registrar of record caches the bindings it granted with
//! `registrar.save_proxy` and routes to them.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use harness::{http, wait_for};
use lab::{dump_logs, scratch, start};

const CORE: &str = "127.0.0.1:16940";
const ADMIN: &str = "127.0.0.1:16941";

const SCRIPT: &str = r#"
from siphon import proxy, registrar, log


@proxy.on_request
def route(request):
    if request.method == "REGISTER":
        if registrar.save(request, flow_token="tok-" + request.call_id):
            c = registrar.lookup("sip:ue@domain.local")[0]
            f = request.flow
            request.set_reply_header("X-Same-Flow", str(c.flow == request.flow and hash(c.flow) == hash(f)))
            request.set_reply_header("X-Flow", f"{f.transport} {f.remote_addr} {f.local_addr} {f.connection_id > 0} {f.is_alive}")
        return
    contacts = registrar.lookup(f"sip:{request.ruri.user}@{request.ruri.host}")
    if not contacts:
        request.reply(404, "Not Found")
        return
    c = contacts[0]
    if request.method == "INFO":
        # force_send_via: over TCP, with another sent-by, to a next hop
        # whose URI names no transport (UDP by default).
        request.force_send_via("TCP", "proxy.example.net:5070")
        request.relay("sip:127.0.0.1:16942")
        return
    if request.method == "OPTIONS":
        request.reply(200, f"alive={c.flow.is_alive} local={c.is_local}")
        return
    request.set_header("X-Params", repr(c.params))
    request.set_header("X-Instance", f"{c.instance_id} {c.kind} {c.is_local}")
    request.set_header("X-Token", c.flow_token)
    request.relay(flow=c.flow)
"#;

/// Reads one SIP message from a stream.
fn read_message(r: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).expect("a line from the core");
        assert!(n > 0, "the core closed the connection; so far: {head}");
        if line == "\r\n" && head.is_empty() {
            continue; // a keepalive
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            (n.eq_ignore_ascii_case("content-length") || n == "l").then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    head + &String::from_utf8_lossy(&body)
}

/// A 200 to `req` (its Via, From, To, Call-ID and CSeq).
fn ok_to(req: &str) -> String {
    let mut answer = String::from("SIP/2.0 200 OK\r\n");
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        for l in req.lines().filter(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        }) {
            answer.push_str(l);
            answer.push_str("\r\n");
        }
    }
    answer.push_str("Content-Length: 0\r\n\r\n");
    answer
}

/// A header's value in a message.
fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Sends a request over UDP to the core and gives its final answer.
fn ask(method: &str, n: u32) -> String {
    ask_at(CORE, method, n)
}

/// [`ask`] to the core at `core`.
fn ask_at(core: &str, method: &str, n: u32) -> String {
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = ua.local_addr().unwrap();
    let msg = format!(
        "{method} sip:ue@domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKflow{n}\r\nMax-Forwards: 70\r\n\
         From: <sip:caller@domain.local>;tag=f{n}\r\nTo: <sip:ue@domain.local>\r\nCall-ID: flow-{n}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    );
    ua.send_to(msg.as_bytes(), core).unwrap();
    let mut buf = [0u8; 4096];
    for _ in 0..10 {
        let (len, _) = ua.recv_from(&mut buf).expect("an answer from the core");
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
    panic!("no final answer to {method}");
}

#[test]
fn relay_over_the_registered_flow() {
    let dir = scratch("core-siphon-flow");
    let script = dir.join("flow_route.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let yaml = format!(
        "role: core\nlisten:\n  udp: [{CORE}]\n  tcp: [{CORE}]\nadmin:\n  listen: {ADMIN}\nserver:\n  instance_id: core-flow\n  drain_secs: 2\n\
         domain:\n  local: [domain.local]\nscript:\n  path: {}\n",
        script.display()
    );
    let _core = start(&dir, "core", &yaml);
    wait_for("core admin", Duration::from_secs(20), || {
        http(ADMIN, "GET", "/admin/health", None).is_some()
    });

    // The UA registers over TCP; its Contact names a port nobody listens
    // on, so only its flow reaches it.
    let tcp = TcpStream::connect(CORE).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let ua = tcp.local_addr().unwrap();
    let mut w = tcp.try_clone().unwrap();
    let mut r = BufReader::new(tcp);
    let register = format!(
        "REGISTER sip:domain.local SIP/2.0\r\nVia: SIP/2.0/TCP {ua};branch=z9hG4bKreg1\r\nMax-Forwards: 70\r\n\
         From: <sip:ue@domain.local>;tag=r1\r\nTo: <sip:ue@domain.local>\r\nCall-ID: reg-1\r\nCSeq: 1 REGISTER\r\n\
         Contact: <sip:ue@127.0.0.1:9;transport=tcp>;expires=600;+g.3gpp.smsip;+G.3gpp.icsi-ref=\"urn%3Aurn-7\";q=0.5\r\n\
         Content-Length: 0\r\n\r\n"
    );
    w.write_all(register.as_bytes()).unwrap();
    let answer = read_message(&mut r);
    if !answer.starts_with("SIP/2.0 200 ") {
        dump_logs(&dir);
    }
    assert!(answer.starts_with("SIP/2.0 200 "), "{answer}");
    assert_eq!(header(&answer, "X-Same-Flow"), Some("True"), "{answer}");
    assert_eq!(
        header(&answer, "X-Flow"),
        Some(format!("tcp {ua} {CORE} True True").as_str()),
        "{answer}"
    );

    // A MESSAGE to the UA: relayed over its flow, with the binding's
    // fields as the script read them.
    let caller = std::thread::spawn(|| ask("MESSAGE", 1));
    let got = read_message(&mut r);
    assert!(
        got.starts_with("MESSAGE sip:ue@domain.local SIP/2.0\r\n"),
        "{got}"
    );
    assert_eq!(
        header(&got, "X-Params"),
        Some("[('+g.3gpp.smsip', None), ('+g.3gpp.icsi-ref', '\"urn%3Aurn-7\"')]"),
        "{got}"
    );
    assert_eq!(
        header(&got, "X-Instance"),
        Some("core-flow ue True"),
        "{got}"
    );
    assert_eq!(header(&got, "X-Token"), Some("tok-reg-1"), "{got}");
    // The UA answers on the same connection; the caller gets the 200.
    w.write_all(ok_to(&got).as_bytes()).unwrap();
    let final_answer = caller.join().unwrap();
    assert!(
        final_answer.starts_with("SIP/2.0 200 OK\r\n"),
        "{final_answer}"
    );

    // force_send_via: the INFO leaves over TCP with the script's sent-by;
    // the answer on that connection reaches the caller.
    let uas = std::net::TcpListener::bind("127.0.0.1:16942").unwrap();
    let caller = std::thread::spawn(|| ask("INFO", 100));
    uas.set_nonblocking(false).unwrap();
    let (conn, _) = uas.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut uw = conn.try_clone().unwrap();
    let mut ur = BufReader::new(conn);
    let info = read_message(&mut ur);
    let via = header(&info, "Via").unwrap_or_default();
    assert!(
        via.starts_with("SIP/2.0/TCP proxy.example.net:5070;branch=z9hG4bK"),
        "{info}"
    );
    uw.write_all(ok_to(&info).as_bytes()).unwrap();
    let final_answer = caller.join().unwrap();
    assert!(
        final_answer.starts_with("SIP/2.0 200 OK\r\n"),
        "{final_answer}"
    );

    // The flow is alive while the connection is open, and not once the
    // UA has closed it.
    assert!(
        ask("OPTIONS", 2).starts_with("SIP/2.0 200 alive=True local=True\r\n"),
        "alive"
    );
    drop(w);
    drop(r);
    let mut n = 2;
    wait_for("the closed flow", Duration::from_secs(5), || {
        n += 1;
        ask("OPTIONS", n).starts_with("SIP/2.0 200 alive=False local=True\r\n")
    });
    let _ = std::fs::remove_dir_all(&dir);
}

const PROXY: &str = "127.0.0.1:16943";
const PROXY_ADMIN: &str = "127.0.0.1:16944";
const RECORD: &str = "127.0.0.1:16945";
const RECORD_ADMIN: &str = "127.0.0.1:16946";

/// The proxy: REGISTERs go to the registrar of record, whose 200 it
/// caches with `registrar.save_proxy`; other requests go to the cached
/// bindings.
const PROXY_SCRIPT: &str = r#"
from siphon import proxy, registrar


@proxy.on_request
def route(request):
    if request.method == "REGISTER":
        request.relay("sip:RECORD")
        return
    contacts = registrar.lookup(f"sip:{request.ruri.user}@{request.ruri.host}")
    if not contacts:
        request.reply(404, "Not Cached")
        return
    request.set_header("X-Expires", str(contacts[0].expires))
    request.relay(contacts[0])


@proxy.on_register_reply
def cache(request, reply):
    if reply.status_code == 200:
        registrar.save_proxy(request, reply)
"#;

const RECORD_SCRIPT: &str = r#"
from siphon import proxy, registrar


@proxy.on_request("REGISTER")
def register(request):
    registrar.save(request)
"#;

/// One request from `ua` to `to` and its final answer.
fn exchange(ua: &UdpSocket, to: &str, msg: &str) -> String {
    ua.send_to(msg.as_bytes(), to).unwrap();
    let mut buf = [0u8; 4096];
    for _ in 0..10 {
        let (len, _) = ua.recv_from(&mut buf).expect("an answer");
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
    panic!("no final answer");
}

fn register(ua: &UdpSocket, cseq: u32, expires: u32) -> String {
    let local = ua.local_addr().unwrap();
    let msg = format!(
        "REGISTER sip:domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKsp{cseq}\r\nMax-Forwards: 70\r\n\
         From: <sip:ue@domain.local>;tag=sp\r\nTo: <sip:ue@domain.local>\r\nCall-ID: sp-reg\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:ue@{local}>\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
    );
    exchange(ua, PROXY, &msg)
}

#[test]
fn save_proxy_caches_what_the_registrar_of_record_granted() {
    let dir = scratch("core-siphon-save-proxy");
    let yaml = |listen: &str, admin: &str, name: &str, script: &str, extra: &str| {
        let path = dir.join(format!("{name}.py"));
        std::fs::write(&path, script.replace("RECORD", RECORD)).unwrap();
        format!(
            "role: core\nlisten:\n  udp: [{listen}]\nadmin:\n  listen: {admin}\nserver:\n  instance_id: {name}\n  drain_secs: 2\n\
             domain:\n  local: [domain.local]\nscript:\n  path: {}\n{extra}",
            path.display()
        )
    };
    let _record = start(
        &dir,
        "record",
        &yaml(
            RECORD,
            RECORD_ADMIN,
            "record",
            RECORD_SCRIPT,
            "registrar:\n  max_expires: 300\n  default_expires: 300\n",
        ),
    );
    let _proxy = start(
        &dir,
        "proxy",
        &yaml(PROXY, PROXY_ADMIN, "proxy", PROXY_SCRIPT, ""),
    );
    for admin in [RECORD_ADMIN, PROXY_ADMIN] {
        wait_for("core admin", Duration::from_secs(20), || {
            http(admin, "GET", "/admin/health", None).is_some()
        });
    }
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(5))).unwrap();

    // The UA asks for an hour; the registrar of record grants 300 s and the
    // proxy relays its 200.
    let ok = register(&ua, 1, 3600);
    if !ok.starts_with("SIP/2.0 200 ") {
        dump_logs(&dir);
    }
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    assert!(ok.contains(";expires=300"), "{ok}");

    // A MESSAGE through the proxy reaches the UA from the cache, which keeps
    // the grant plus 32 s (not the proxy's own max_expires of 3600).
    let caller = std::thread::spawn(|| ask_at(PROXY, "MESSAGE", 50));
    let mut buf = [0u8; 4096];
    let (len, from) = ua.recv_from(&mut buf).expect("the MESSAGE");
    let got = String::from_utf8_lossy(&buf[..len]).into_owned();
    assert!(got.starts_with("MESSAGE sip:ue@"), "{got}");
    let left: u32 = header(&got, "X-Expires").unwrap().parse().unwrap();
    assert!((325..=332).contains(&left), "{got}");
    ua.send_to(ok_to(&got).as_bytes(), from).unwrap();
    let answer = caller.join().unwrap();
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer}");

    // Deregistered at the registrar of record: gone from the cache too.
    let ok = register(&ua, 2, 0);
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    let answer = ask_at(PROXY, "MESSAGE", 51);
    assert!(answer.starts_with("SIP/2.0 404 Not Cached\r\n"), "{answer}");
    let _ = std::fs::remove_dir_all(&dir);
}
