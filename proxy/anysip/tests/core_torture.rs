//! The RFC 4475 messages sent to a running *core* (role core, the shipped
//! `deploy/scripts/proxy_default.py`, memory registrar, digest auth for
//! `domain.local`) over UDP and TCP get the core's handling of
//! `tests/data/rfc4475/README.md` (section "The core"): answered with the
//! status code, forwarded, or dropped.
//!
//! How the messages reach the core:
//!
//! - Rejected messages (400, 416, 420, 483, 505) and dropped ones are sent
//!   byte for byte as the RFC's archive holds them.
//! - Requests a proxy forwards get one extra header line, a preloaded
//!   `Route: <sip:127.0.0.1:15880;lr>` right after the request line, so the
//!   script relays them (its loose-route branch) to a downstream socket
//!   without touching their Request-URI (`example.com` is not a local
//!   domain of `proxy_default.py`, which would answer 403 Relaying
//!   Denied). The downstream answers 486; the UA must get it back.
//! - REGISTERs are sent byte for byte (the script answers 403: their To is
//!   `example.com`, not a local domain of `proxy_default.py`), then with
//!   `example.com` replaced by `domain.local` in the request line, To and
//!   From only, which gets the registrar's handling: a 401 challenge, and
//!   after the digest answer a 200 with the binding stored as the admin API
//!   shows it.
//! - Stray responses (no client transaction, a top Via that is not the
//!   core's) are dropped; the two valid ones (empty reason, UTF-8 reason)
//!   and the 699+ status code are also sent inside a real transaction.
//!
//! Responses over UDP go to the source address at the top Via's port
//! (RFC 3261 §18.2.2; the torture Vias carry no `rport`), so the UA sockets
//! are bound on a loopback address of their own (127.58.70.1) at the
//! ports the torture Vias name: 5060 (UDP/TCP/SCTP/unknown, no port),
//! 5061 (TLS, no port) and 5050.
//!
//! Several torture messages share a transaction key (top Via branch,
//! sent-by and method, RFC 3261 §17.2.3): sent to one core, the second is
//! taken (rightly) as a retransmission of the first. The messages are
//! therefore sent in rounds without a shared key, each round to a fresh
//! core on the same ports; the TCP pass (every message that frames on a
//! stream, as in `torture.rs`) and the registrar cases get fresh cores of
//! their own. Each core must still answer an OPTIONS at the end of its
//! round. The core's YAML is written here (not `lab::core_yaml`): it also
//! listens on TCP and has the digest users the torture REGISTERs name.
#![allow(clippy::unwrap_used)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use harness::{http, wait_for};
use lab::{deploy_script, dump_logs, scratch, start};
use sip::digest::{Challenge, ClientRequest, NonceCount, Secret};

const CORE: &str = "127.0.0.1:15870";
const ADMIN: &str = "127.0.0.1:19870";
/// Where preloaded-Route requests are relayed to.
const DOWN: &str = "127.0.0.1:15880";
/// The UA sockets' own loopback address (ports 5060, 5061, 5050).
const UA_IP: &str = "127.58.70.1";
const ROUTE: &str = "Route: <sip:127.0.0.1:15880;lr>\r\n";

/// The core's handling of each file (README, section "The core").
/// `forward`: relayed to the preloaded Route (request line unchanged) and
/// the downstream's answer relayed back; `drop`: nothing sent to us; a
/// number: that final response; `403+401`: a REGISTER (byte for byte: the
/// script's 403 for a foreign domain; for domain.local: the registrar's
/// 401 challenge).
const CORE_TABLE: &[(&str, &str)] = &[
    ("TC_WSINV.dat", "forward"),
    ("TC_INTMETH.dat", "forward"),
    ("TC_ESC01_V.dat", "forward"),
    ("TC_ESCNULL_V.dat", "403+401"),
    ("TC_ESC02_V.dat", "forward"),
    ("TC_LWSDISP_V.dat", "forward"),
    ("TC_LONGREQ_V.dat", "forward"),
    ("TC_DBLREQ.dat", "403+401"),
    ("TC_SEMIURI_V.dat", "forward"),
    ("TC_TRANSPORTS_V.dat", "forward"),
    ("TC_MPART01.dat", "forward"),
    ("TC_UNREASON_V.dat", "drop"),
    ("TC_NOREASON_V.dat", "drop"),
    ("TC_BADINV01_I.dat", "400"),
    ("TC_CLERR_I.dat", "400"),
    ("TC_NCL_I.dat", "400"),
    ("TC_SCALAR02_V.dat", "400"),
    ("TC_SCALARLG_V.dat", "drop"),
    ("TC_QUOTBAL_I.dat", "400"),
    ("TC_LTGTRURI_I.dat", "400"),
    ("TC_LWSRURI_I.dat", "400"),
    ("TC_LWSSTART_V.dat", "400"),
    ("TC_TRWS_I.dat", "400"),
    ("TC_ESCRURI_V.dat", "400"),
    ("TC_BADDATE_V.dat", "forward"),
    ("TC_REGBADCT_I.dat", "400"),
    ("TC_BADASPEC_I.dat", "400"),
    ("TC_BADDN_I.dat", "400"),
    ("TC_BADVERS_V.dat", "505"),
    ("TC_MISMATCH01_V.dat", "400"),
    ("TC_MISMATCH02_V.dat", "400"),
    ("TC_BIGCODE_V.dat", "drop"),
    ("TC_BADBRANCH_V.dat", "forward"),
    ("TC_INSUF_I.dat", "400"),
    ("TC_UNKSCM_V.dat", "416"),
    ("TC_NOVELSC_V.dat", "416"),
    ("TC_UNKSM2_V.dat", "400"),
    ("TC_BEXT01_V.dat", "420"),
    ("TC_INVUT_V.dat", "forward"),
    ("TC_REGAUT01_V.dat", "403+401"),
    ("TC_MULTI01_I.dat", "400"),
    ("TC_MCL01_I.dat", "400"),
    ("TC_BCAST_V.dat", "drop"),
    ("TC_ZEROMF_V.dat", "483"),
    ("TC_CPARAM01_V.dat", "403+401"),
    ("TC_CPARAM02_V.dat", "403+401"),
    ("TC_REGESCRT_V.dat", "403+401"),
    ("TC_SDP01_V.dat", "forward"),
    ("TC_INV2543_I.dat", "forward"),
    ("TC_TEST_I.dat", "drop"),
];

/// Not sent over TCP: their handling is about datagram framing (a body
/// running to the end of the datagram, octets past Content-Length, a
/// Content-Length larger than the datagram), or they cannot be framed on a
/// stream at all (negative or repeated Content-Length, no end of headers).
const NOT_ON_TCP: &[&str] = &[
    "TC_INV2543_I.dat",
    "TC_CLERR_I.dat",
    "TC_NCL_I.dat",
    "TC_MCL01_I.dat",
    "TC_BADDN_I.dat",
    "TC_DBLREQ.dat",
];

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/rfc4475")
}

fn read(file: &str) -> Vec<u8> {
    std::fs::read(data().join(file)).unwrap()
}

// ---- message text helpers -------------------------------------------------

/// The header block (up to the empty line), folded lines joined.
fn head(bytes: &[u8]) -> String {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..end]).to_string();
    text.replace("\r\n ", " ").replace("\r\n\t", " ")
}

/// The body (after the first empty line).
fn body(bytes: &[u8]) -> &[u8] {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&[][..], |p| &bytes[p + 4..])
}

/// Values of the header fields named `names` (lower case, compact forms
/// included), in order.
fn values(bytes: &[u8], names: &[&str]) -> Vec<String> {
    head(bytes)
        .split("\r\n")
        .skip(1)
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            names
                .contains(&n.trim().to_ascii_lowercase().as_str())
                .then(|| v.trim().to_string())
        })
        .collect()
}

fn call_ids(bytes: &[u8]) -> Vec<String> {
    values(bytes, &["call-id", "i"])
}

fn first_line(bytes: &[u8]) -> String {
    let end = bytes
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).to_string()
}

fn status(bytes: &[u8]) -> Option<u16> {
    let l = first_line(bytes);
    l.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

fn is_response(bytes: &[u8]) -> bool {
    bytes.starts_with(b"SIP/2.0 ")
}

/// The UA port the core answers over UDP: the top Via's port (default by
/// its transport), or any when it asks for `rport`.
fn ua_port(bytes: &[u8]) -> u16 {
    let Some(via) = values(bytes, &["via", "v"]).into_iter().next() else {
        return 5060;
    };
    if via.contains(";rport") {
        return 5060;
    }
    let top = via.split([';', ',']).next().unwrap_or("");
    let words: Vec<&str> = top.split_whitespace().collect();
    let sent_by = words.last().copied().unwrap_or("");
    let transport = words
        .len()
        .checked_sub(2)
        .and_then(|i| words.get(i))
        .map(|t| t.rsplit('/').next().unwrap_or("").to_ascii_uppercase())
        .unwrap_or_default();
    match sent_by.rsplit_once(':') {
        Some((_, p)) => p.parse().unwrap_or(5060),
        None if transport == "TLS" => 5061,
        None => 5060,
    }
}

/// Inserts header lines right after the start line.
fn with_headers(bytes: &[u8], lines: &str) -> Vec<u8> {
    let at = bytes.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(lines.as_bytes());
    out.extend_from_slice(&bytes[at..]);
    out
}

/// `example.com` -> `domain.local` in the request line, To and From only.
fn localize(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes).to_string();
    let (h, b) = text.split_once("\r\n\r\n").unwrap();
    let lines: Vec<String> = h
        .split("\r\n")
        .enumerate()
        .map(|(i, l)| {
            let name = l
                .split_once(':')
                .map(|(n, _)| n.trim().to_ascii_lowercase())
                .unwrap_or_default();
            if i == 0 || ["to", "t", "from", "f"].contains(&name.as_str()) {
                l.replace("example.com", "domain.local")
            } else {
                l.to_string()
            }
        })
        .collect();
    format!("{}\r\n\r\n{b}", lines.join("\r\n")).into_bytes()
}

/// A new transaction of the same request: CSeq + 1, another branch.
fn next_tx(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes).to_string();
    let text = text.replacen("branch=z9hG4bK", "branch=z9hG4bKnext", 1);
    let (h, b) = text.split_once("\r\n\r\n").unwrap();
    let lines: Vec<String> = h
        .split("\r\n")
        .map(|l| match l.split_once(':') {
            Some((n, v)) if n.trim().eq_ignore_ascii_case("cseq") => {
                let mut w = v.split_whitespace();
                let num: u64 = w.next().unwrap().parse().unwrap();
                format!("{n}: {} {}", num + 1, w.next().unwrap())
            }
            _ => l.to_string(),
        })
        .collect();
    format!("{}\r\n\r\n{b}", lines.join("\r\n")).into_bytes()
}

/// A response to `req` built by a downstream UAS.
fn answer(req: &[u8], code: u16, reason: &str) -> Vec<u8> {
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for l in head(req).split("\r\n").skip(1) {
        let Some((n, v)) = l.split_once(':') else {
            continue;
        };
        let n = n.trim().to_ascii_lowercase();
        let v = v.trim();
        match n.as_str() {
            "via" | "v" | "from" | "f" | "call-id" | "i" | "cseq" => {
                out.push_str(&format!("{n}: {v}\r\n"));
            }
            "to" | "t" if v.contains("tag=") => out.push_str(&format!("To: {v}\r\n")),
            "to" | "t" => out.push_str(&format!("To: {v};tag=down\r\n")),
            _ => {}
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out.into_bytes()
}

// ---- the network side ------------------------------------------------------

struct Net {
    /// UA sockets by port.
    ua: HashMap<u16, UdpSocket>,
    down: UdpSocket,
}

/// What reached us while waiting.
#[derive(Default, Debug)]
struct Seen {
    /// Messages at the UA sockets (or on the TCP connection).
    at_ua: Vec<Vec<u8>>,
    /// Requests at the downstream socket.
    at_down: Vec<Vec<u8>>,
}

impl Net {
    fn new() -> Net {
        let bind = |a: String| {
            let s = UdpSocket::bind(&a).unwrap_or_else(|e| panic!("bind {a}: {e}"));
            s.set_nonblocking(true).unwrap();
            s
        };
        let ua = [5060u16, 5061, 5050]
            .into_iter()
            .map(|p| (p, bind(format!("{UA_IP}:{p}"))))
            .collect();
        Net {
            ua,
            down: bind(DOWN.into()),
        }
    }

    fn send(&self, bytes: &[u8]) {
        self.ua[&ua_port(bytes)].send_to(bytes, CORE).unwrap();
    }

    /// Reads everything that arrives within `wait` or until `done`; the
    /// downstream and the contact answer requests with `down_code` (ACKs
    /// are not answered), unless `down_code` is 0.
    fn collect(
        &self,
        tcp: Option<&mut TcpStream>,
        wait: Duration,
        down_code: u16,
        done: &dyn Fn(&Seen) -> bool,
    ) -> Seen {
        let mut seen = Seen::default();
        let mut tcp = tcp;
        let t0 = Instant::now();
        let mut buf = vec![0u8; 65535];
        let mut stream = Vec::new();
        while t0.elapsed() < wait {
            let mut any = false;
            for s in self.ua.values() {
                while let Ok((n, _)) = s.recv_from(&mut buf) {
                    // Over TCP the answer comes on the connection; what
                    // comes over UDP then belongs to earlier exchanges.
                    if tcp.is_none() {
                        seen.at_ua.push(buf[..n].to_vec());
                    }
                    any = true;
                }
            }
            {
                let (s, into) = (&self.down, &mut seen.at_down);
                while let Ok((n, from)) = s.recv_from(&mut buf) {
                    let m = buf[..n].to_vec();
                    any = true;
                    if is_response(&m) {
                        continue;
                    }
                    if down_code != 0 && !m.starts_with(b"ACK ") {
                        s.send_to(&answer(&m, down_code, "Downstream"), from)
                            .unwrap();
                    }
                    into.push(m);
                }
            }
            if let Some(c) = tcp.as_deref_mut() {
                match c.read(&mut buf) {
                    Ok(n) if n > 0 => {
                        stream.extend_from_slice(&buf[..n]);
                        any = true;
                        // Our answers carry no body: split at empty lines.
                        while let Some(p) = stream.windows(4).position(|w| w == b"\r\n\r\n") {
                            let m: Vec<u8> = stream.drain(..p + 4).collect();
                            seen.at_ua.push(m);
                        }
                    }
                    _ => {}
                }
            }
            if done(&seen) {
                break;
            }
            if !any {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        seen
    }
}

/// Whether `m` belongs to the exchange of `req` (same Call-ID, or both
/// without one).
fn relevant(req: &[u8], m: &[u8]) -> bool {
    let ids = call_ids(req);
    let got = call_ids(m);
    match (ids.is_empty(), got.first()) {
        (true, None) => true,
        (_, Some(g)) => ids.contains(g),
        (false, None) => false,
    }
}

fn finals(req: &[u8], seen: &Seen) -> Vec<u16> {
    seen.at_ua
        .iter()
        .filter(|m| is_response(m) && relevant(req, m))
        .filter_map(|m| status(m))
        .filter(|&s| s >= 200)
        .collect()
}

/// Sends `msg` (UDP, or on a new TCP connection) and describes what came
/// of it: a status code, `forward` (downstream got it, request line
/// unchanged, its 486 came back), `drop`, or what else happened.
fn verdict(net: &Net, msg: &[u8], want: &str, tcp: bool) -> (String, Seen) {
    let mut conn = None;
    if tcp {
        let mut c = TcpStream::connect(CORE).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        c.write_all(msg).unwrap();
        conn = Some(c);
    } else {
        net.send(msg);
    }
    let wait = if want == "drop" {
        Duration::from_millis(700)
    } else {
        Duration::from_secs(4)
    };
    let seen = net.collect(conn.as_mut(), wait, 486, &|s| !finals(msg, s).is_empty());
    let fin = finals(msg, &seen);
    let down: Vec<&Vec<u8>> = seen.at_down.iter().filter(|m| relevant(msg, m)).collect();
    let got = match (fin.first(), down.first()) {
        (Some(486), Some(d)) if first_line(d) == first_line(msg) => "forward".to_string(),
        (Some(486), Some(d)) => format!("forwarded with another request line: {:?}", first_line(d)),
        (None, Some(_)) => "forwarded, but its 486 did not come back".to_string(),
        (Some(s), Some(_)) => format!("{s} (after forwarding)"),
        (Some(s), None) => s.to_string(),
        (None, None) if seen.at_ua.iter().any(|m| relevant(msg, m)) => format!(
            "no final response, only {:?}",
            seen.at_ua
                .iter()
                .filter(|m| relevant(msg, m))
                .map(|m| first_line(m))
                .collect::<Vec<_>>()
        ),
        (None, None) => "drop".to_string(),
    };
    (got, seen)
}

/// The core of the torture rounds. Its next hop is a UDP socket of the
/// test: `limits.udp_mtu` is raised so that the long torture messages
/// (TC_LONGREQ_V, TC_MPART01) stay on UDP rather than going over TCP
/// (§18.1.1, tested in streams.rs) to a peer that does not take TCP.
fn core_yaml() -> String {
    format!(
        "role: core\nlisten:\n  udp: [{CORE}]\n  tcp: [{CORE}]\nadmin:\n  listen: {ADMIN}\n\
         limits:\n  udp_mtu: 65535\n\
         server:\n  instance_id: core-torture\n  drain_secs: 1\n\
         domain:\n  local: [domain.local]\nscript:\n  path: {}\n\
         auth:\n  realm: domain.local\n  algorithms: [md5]\n  users:\n    watson: watson\n    user: user\n    j.user: j.user\n",
        deploy_script("proxy_default.py").display()
    )
}

/// The registrar's handling of a torture REGISTER made local: 401, then
/// 200 once the challenge is answered as `user`. Returns the 200.
fn register(
    net: &Net,
    file: &str,
    msg: &[u8],
    user: &str,
    failures: &mut Vec<String>,
) -> Option<Vec<u8>> {
    net.send(msg);
    let seen = net.collect(None, Duration::from_secs(3), 0, &|s| {
        !finals(msg, s).is_empty()
    });
    let Some(r401) = seen
        .at_ua
        .iter()
        .find(|m| relevant(msg, m) && status(m).is_some_and(|s| s >= 200))
    else {
        failures.push(format!("{file}: (domain.local) no final response"));
        return None;
    };
    if status(r401) != Some(401) {
        failures.push(format!(
            "{file}: (domain.local) expected 401, got {}",
            first_line(r401)
        ));
        return None;
    }
    let www = values(r401, &["www-authenticate"]);
    let ch = Challenge::parse(www.first().map_or("", String::as_str)).unwrap();
    let ruri = first_line(msg).split(' ').nth(1).unwrap().to_string();
    let creds = ch
        .respond(
            user,
            Secret::Password(user),
            &ClientRequest {
                method: "REGISTER",
                uri: &ruri,
                cnonce: "c0ffee",
                nc: NonceCount::FIRST,
            },
        )
        .unwrap();
    let authed = with_headers(&next_tx(msg), &format!("Authorization: {creds}\r\n"));
    net.send(&authed);
    let seen = net.collect(None, Duration::from_secs(3), 0, &|s| {
        !finals(msg, s).is_empty()
    });
    let Some(ok) = seen
        .at_ua
        .iter()
        .find(|m| relevant(msg, m) && status(m).is_some_and(|s| s >= 200))
    else {
        failures.push(format!("{file}: (authorized) no final response"));
        return None;
    };
    if status(ok) != Some(200) {
        failures.push(format!(
            "{file}: (authorized) expected 200, got {}",
            first_line(ok)
        ));
        return None;
    }
    Some(ok.clone())
}

fn contacts_of(aor: &str) -> Vec<String> {
    let Some((200, body)) = http(ADMIN, "GET", &format!("/admin/registrations/{aor}"), None) else {
        return vec![];
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["contact"].as_str().map(str::to_string))
        .collect()
}

/// The transaction a request opens (RFC 3261 §17.2.3: top Via branch and
/// sent-by, and the method; the Call-ID when there is no branch). Several
/// torture messages share one (e.g. `z9hG4bKkdjuw` from `host5.example.com`
/// for two REGISTERs): sent to one core, the second is a retransmission of
/// the first. Each round of messages therefore goes to a fresh core.
fn tx_key(bytes: &[u8]) -> String {
    let via = values(bytes, &["via", "v"])
        .into_iter()
        .next()
        .unwrap_or_default();
    let top = via.split(',').next().unwrap_or("");
    let mut parts = top.split(';');
    let sent_by = parts
        .next()
        .and_then(|p| p.split_whitespace().last())
        .unwrap_or("")
        .to_ascii_lowercase();
    let branch = parts.find_map(|p| {
        let (n, v) = p.split_once('=')?;
        n.trim()
            .eq_ignore_ascii_case("branch")
            .then(|| v.trim().to_string())
    });
    let method = first_line(bytes)
        .split(' ')
        .next()
        .unwrap_or("")
        .to_string();
    let branch = branch.unwrap_or_else(|| call_ids(bytes).join(","));
    format!("{branch} {sent_by} {method}")
}

/// Files (with their verdicts) sent to one core, and their transactions.
type Round = (Vec<(&'static str, &'static str)>, Vec<String>);

/// An OPTIONS to the core itself.
fn ping(n: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {UA_IP}:5060;branch=z9hG4bKping{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:ping@domain.local>;tag=p\r\nTo: <sip:domain.local>\r\n\
         Call-ID: ping-{n}@core-torture\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A fresh core named `name`, answering.
fn fresh_core(dir: &std::path::Path, net: &Net, name: &str) -> harness::Proc {
    let core = start(dir, name, &core_yaml());
    let mut n = 0;
    wait_for("the core answers OPTIONS", Duration::from_secs(20), || {
        n += 1;
        verdict(net, &ping(&format!("{name}-{n}")), "200", false).0 == "200"
    });
    core
}

/// Stops a core, checking it is still up and answering first.
fn stop_core(net: &Net, mut core: harness::Proc, name: &str, failures: &mut Vec<String>) {
    let (got, _) = verdict(net, &ping(&format!("{name}-end")), "200", false);
    if got != "200" {
        failures.push(format!(
            "{name}: after the torture, an OPTIONS to the core got {got}"
        ));
    }
    if let Ok(Some(st)) = core.0.try_wait() {
        failures.push(format!("{name}: the core exited: {st}"));
    }
}

#[test]
fn rfc4475_through_the_core() {
    let dir = scratch("core-torture");
    let net = Net::new();
    let mut failures = vec![];
    // Every file is in the table, and the table is the edge's list.
    let edge_table = std::fs::read_to_string(data().join("expected.tsv")).unwrap();
    let edge: Vec<&str> = edge_table
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .collect();
    let ours: Vec<&str> = CORE_TABLE.iter().map(|(f, _)| *f).collect();
    assert_eq!(edge, ours, "CORE_TABLE lists expected.tsv's files in order");

    // 1. UDP, then TCP, each message byte for byte (a preloaded Route
    // added to those a proxy forwards); rounds without a shared
    // transaction, each on a fresh core.
    for tcp in [false, true] {
        let proto = if tcp { "TCP" } else { "UDP" };
        let mut rounds: Vec<Round> = vec![];
        for &(file, want) in CORE_TABLE {
            let bytes = read(file);
            if tcp && (NOT_ON_TCP.contains(&file) || is_response(&bytes)) {
                continue;
            }
            let key = tx_key(&bytes);
            match rounds.iter_mut().find(|(_, keys)| !keys.contains(&key)) {
                Some((files, keys)) => {
                    files.push((file, want));
                    keys.push(key);
                }
                None => rounds.push((vec![(file, want)], vec![key])),
            }
        }
        for (i, (files, _)) in rounds.iter().enumerate() {
            let name = format!("core-{proto}-{i}");
            let core = fresh_core(&dir, &net, &name);
            for &(file, want) in files {
                check_one(&net, file, want, tcp, &mut failures);
            }
            stop_core(&net, core, &name, &mut failures);
        }
    }

    // 2. The REGISTERs made local get the registrar's handling.
    let core = fresh_core(&dir, &net, "core-registrar");
    registrar_cases(&net, &mut failures);
    responses_in_a_transaction(&net, &mut failures);
    stop_core(&net, core, "core-registrar", &mut failures);
    if !failures.is_empty() {
        dump_logs(&dir);
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One file of the table over UDP or TCP.
fn check_one(net: &Net, file: &str, want: &str, tcp: bool, failures: &mut Vec<String>) {
    let proto = if tcp { "TCP" } else { "UDP" };
    let bytes = read(file);
    let (msg, want) = match want {
        "forward" => (with_headers(&bytes, ROUTE), "forward"),
        // Byte for byte, the script refuses the foreign domain.
        "403+401" => (bytes.clone(), "403"),
        w => (bytes.clone(), w),
    };
    let (got, seen) = verdict(net, &msg, want, tcp);
    eprintln!("{proto} {file}: {got}");
    if got != want {
        failures.push(format!("{proto} {file}: expected {want}, got {got}"));
    }
    if want == "forward" && got == "forward" {
        // The body is relayed untouched.
        let d = seen.at_down.iter().find(|m| relevant(&msg, m)).unwrap();
        if body(d) != body(&bytes) {
            failures.push(format!("{proto} {file}: body changed when forwarded"));
        }
    }
    if want == "420" && got == "420" {
        let r = seen.at_ua.iter().find(|m| status(m) == Some(420)).unwrap();
        let unsup = values(r, &["unsupported"]).join(", ");
        for opt in ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"] {
            if !unsup.contains(opt) {
                failures.push(format!(
                    "{proto} {file}: 420 without {opt} in Unsupported ({unsup:?})"
                ));
            }
        }
        for opt in ["nothingSupportsThis", "nothingSupportsThisEither"] {
            if unsup.contains(opt) {
                failures.push(format!(
                    "{proto} {file}: 420 lists the Require option {opt} (UAS only)"
                ));
            }
        }
    }
    if file == "TC_DBLREQ.dat" && dblreq_invite_seen(&seen) {
        failures.push(format!(
            "{proto} {file}: the INVITE past Content-Length was processed"
        ));
    }
}

fn dblreq_invite_seen(seen: &Seen) -> bool {
    seen.at_ua.iter().chain(&seen.at_down).any(|m| {
        call_ids(m)
            .iter()
            .any(|c| c == "dblreq.0ha0isnda977644900765@192.0.2.15")
    })
}

/// `branch=z9hG4bK...` -> `branch=z9hG4bK<tag>...`: a new transaction.
fn rebranch(bytes: &[u8], tag: &str) -> Vec<u8> {
    let tag: String = tag.chars().filter(char::is_ascii_alphanumeric).collect();
    String::from_utf8_lossy(bytes)
        .replacen("branch=z9hG4bK", &format!("branch=z9hG4bK{tag}"), 1)
        .into_bytes()
}

/// `file` made local, on a transaction of its own.
fn local(file: &str) -> Vec<u8> {
    rebranch(&localize(&read(file)), &format!("local{file}"))
}

/// The REGISTERs with To/From/Request-URI in `domain.local` (and another
/// branch: the byte-for-byte ones opened the same transactions).
fn registrar_cases(net: &Net, failures: &mut Vec<String>) {
    for file in ["TC_ESCNULL_V.dat", "TC_REGAUT01_V.dat", "TC_DBLREQ.dat"] {
        let msg = local(file);
        let (got, seen) = verdict(net, &msg, "401", false);
        if got != "401" {
            failures.push(format!(
                "UDP {file} (domain.local): expected 401, got {got}"
            ));
        }
        if seen.at_ua.iter().any(|m| {
            call_ids(m)
                .iter()
                .any(|c| c == "dblreq.0ha0isnda977644900765@192.0.2.15")
        }) {
            failures.push(format!(
                "UDP {file} (domain.local): the INVITE past Content-Length was processed"
            ));
        }
    }
    // TC_CPARAM01_V: `;unknownparam` is a header parameter (no <>); in
    // TC_CPARAM02_V it is a URI parameter. Both bindings are stored.
    for (file, contact) in [
        ("TC_CPARAM01_V.dat", "sip:+19725552222@gw1.example.net"),
        (
            "TC_CPARAM02_V.dat",
            "sip:+19725552222@gw1.example.net;unknownparam",
        ),
    ] {
        let aor = "sip:watson@domain.local";
        let _ = http(
            ADMIN,
            "DELETE",
            &format!("/admin/registrations/{aor}"),
            None,
        );
        if register(net, file, &local(file), "watson", failures).is_some() {
            let got = contacts_of(aor);
            if got != [contact] {
                failures.push(format!(
                    "{file}: expected the binding {contact:?}, the registrar has {got:?}"
                ));
            }
        }
    }
    // TC_REGESCRT_V: the contact (made to point at the UA socket, where
    // the core sends anyway: the registrar keeps the REGISTER's source as
    // the binding's received address) is stored as sent; routing to it does not apply the escaped Route header, and
    // the request sent to it has no headers part in its Request-URI.
    let regescrt = String::from_utf8(local("TC_REGESCRT_V.dat"))
        .unwrap()
        .replace(
            "M: <sip:user@example.com?",
            &format!("M: <sip:user@{UA_IP}:5060?"),
        );
    if register(
        net,
        "TC_REGESCRT_V.dat",
        regescrt.as_bytes(),
        "user",
        failures,
    )
    .is_some()
    {
        let want = format!("sip:user@{UA_IP}:5060?Route=%3Csip:sip.example.com%3E");
        let got = contacts_of("sip:user@domain.local");
        if got != [want.clone()] {
            failures.push(format!(
                "TC_REGESCRT_V.dat: expected the binding {want:?}, the registrar has {got:?}"
            ));
        }
        let opt = format!(
            "OPTIONS sip:user@domain.local SIP/2.0\r\nVia: SIP/2.0/UDP {UA_IP}:5060;branch=z9hG4bKescrt\r\n\
             Max-Forwards: 70\r\nFrom: <sip:caller@domain.local>;tag=e\r\nTo: <sip:user@domain.local>\r\n\
             Call-ID: regescrt-route@core-torture\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes();
        net.send(&opt);
        let seen = net.collect(None, Duration::from_secs(4), 0, &|s| {
            s.at_ua.iter().any(|m| !is_response(m) && relevant(&opt, m))
        });
        match seen
            .at_ua
            .iter()
            .find(|m| !is_response(m) && relevant(&opt, m))
        {
            None => failures.push(format!(
                "TC_REGESCRT_V.dat: an OPTIONS to sip:user@domain.local did not reach the contact (answers: {:?})",
                seen.at_ua.iter().map(|m| first_line(m)).collect::<Vec<_>>()
            )),
            Some(m) => {
                let line = first_line(m);
                if line.contains('?') || line.contains("Route=") {
                    failures.push(format!(
                        "TC_REGESCRT_V.dat: routed to the contact with its headers in the Request-URI: {line:?}"
                    ));
                }
                if values(m, &["route"])
                    .iter()
                    .any(|r| r.contains("sip.example.com"))
                {
                    failures.push(
                        "TC_REGESCRT_V.dat: the contact's escaped Route header was applied"
                            .to_string(),
                    );
                }
            }
        }
    }
    // TC_UNKSM2_V with a SIP To in domain.local: the registrar cannot use
    // the `name:` Contact and rejects it (after authentication).
    {
        let text = String::from_utf8(read("TC_UNKSM2_V.dat"))
            .unwrap()
            .replace("To: isbn:2983792873", "To: <sip:user@domain.local>")
            .replace("sip:example.com", "sip:domain.local");
        let msg = rebranch(text.as_bytes(), "localunksm2");
        net.send(&msg);
        let seen = net.collect(None, Duration::from_secs(3), 0, &|s| {
            !finals(&msg, s).is_empty()
        });
        let fin = finals(&msg, &seen);
        if fin.first() != Some(&401) {
            failures.push(format!(
                "TC_UNKSM2_V.dat (To in domain.local): expected 401, got {fin:?}"
            ));
        } else {
            let r401 = seen.at_ua.iter().find(|m| status(m) == Some(401)).unwrap();
            let ch = Challenge::parse(&values(r401, &["www-authenticate"])[0]).unwrap();
            let creds = ch
                .respond(
                    "user",
                    Secret::Password("user"),
                    &ClientRequest {
                        method: "REGISTER",
                        uri: "sip:domain.local",
                        cnonce: "c0ffee",
                        nc: NonceCount::FIRST,
                    },
                )
                .unwrap();
            let authed = with_headers(&next_tx(&msg), &format!("Authorization: {creds}\r\n"));
            // 400 (the Contact is not a URI the registrar can route to);
            // 416 (its scheme is not supported) is as good.
            let (got, _) = verdict(net, &authed, "400", false);
            if got != "400" && got != "416" {
                failures.push(format!(
                    "TC_UNKSM2_V.dat (To in domain.local, authorized): expected 400 for the name: Contact, got {got}"
                ));
            }
            let stored = contacts_of("sip:user@domain.local");
            if stored.iter().any(|c| c.starts_with("name:")) {
                failures.push(format!(
                    "TC_UNKSM2_V.dat (To in domain.local, authorized): the registrar stored the name: Contact ({stored:?})"
                ));
            }
        }
    }
}

/// The valid responses inside a real transaction.
fn responses_in_a_transaction(net: &Net, failures: &mut Vec<String>) {
    // 3. The valid responses inside a real transaction: a 100 with no
    // reason phrase is absorbed (hop by hop), a status code above 699 is
    // dropped, the 200 with the UTF-8 reason phrase is relayed unchanged.
    {
        let invite = format!(
            "INVITE sip:user@example.com SIP/2.0\r\n{ROUTE}Via: SIP/2.0/UDP {UA_IP}:5060;branch=z9hG4bKresp\r\n\
             Max-Forwards: 70\r\nFrom: <sip:caller@domain.local>;tag=r\r\nTo: <sip:user@example.com>\r\n\
             Call-ID: responses@core-torture\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{UA_IP}:5060>\r\n\
             Content-Length: 0\r\n\r\n"
        )
        .into_bytes();
        net.send(&invite);
        let seen = net.collect(None, Duration::from_secs(3), 0, &|s| {
            s.at_down.iter().any(|m| relevant(&invite, m))
        });
        match seen.at_down.iter().find(|m| relevant(&invite, m)) {
            None => failures.push("responses: the INVITE was not forwarded".into()),
            Some(fwd) => {
                let transplant = |file: &str| {
                    let t = read(file);
                    let mut out = first_line(&t);
                    out.push_str("\r\n");
                    for l in head(fwd).split("\r\n").skip(1) {
                        let n = l.split_once(':').map_or("", |(n, _)| n.trim());
                        if ["via", "from", "call-id", "cseq"]
                            .contains(&n.to_ascii_lowercase().as_str())
                        {
                            out.push_str(l);
                            out.push_str("\r\n");
                        }
                    }
                    out.push_str("To: <sip:user@example.com>;tag=2229\r\n");
                    for l in head(&t).split("\r\n").skip(1) {
                        let n = l.split_once(':').map_or("", |(n, _)| n.trim());
                        if ["content-length", "content-type", "contact"]
                            .contains(&n.to_ascii_lowercase().as_str())
                        {
                            out.push_str(l);
                            out.push_str("\r\n");
                        }
                    }
                    out.push_str("\r\n");
                    let mut out = out.into_bytes();
                    out.extend_from_slice(body(&t));
                    out
                };
                for f in ["TC_NOREASON_V.dat", "TC_BIGCODE_V.dat", "TC_UNREASON_V.dat"] {
                    net.down.send_to(&transplant(f), CORE).unwrap();
                    std::thread::sleep(Duration::from_millis(100));
                }
                let seen = net.collect(None, Duration::from_secs(2), 0, &|s| {
                    !finals(&invite, s).is_empty()
                });
                let lines: Vec<String> = seen
                    .at_ua
                    .iter()
                    .filter(|m| relevant(&invite, m))
                    .map(|m| first_line(m))
                    .collect();
                let unreason = read("TC_UNREASON_V.dat");
                if !lines.contains(&first_line(&unreason)) {
                    failures.push(format!(
                        "responses: the 200 with the UTF-8 reason phrase was not relayed as is (UA got {lines:?})"
                    ));
                }
                if let Some(ok) = seen
                    .at_ua
                    .iter()
                    .find(|m| relevant(&invite, m) && status(m) == Some(200))
                {
                    if body(ok) != body(&unreason) {
                        failures.push("responses: the 200's body changed".into());
                    }
                }
                if lines.iter().any(|l| l.contains("4294967301")) {
                    failures.push("responses: the status code above 699 was relayed".into());
                }
                if lines.iter().any(|l| l == "SIP/2.0 100 ") {
                    failures.push("responses: a 100 was relayed (hop by hop)".into());
                }
            }
        }
    }
}
