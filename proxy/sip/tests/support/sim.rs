//! A deterministic UAC — proxy — UAS simulator built from the transaction
//! machines, on a virtual clock: per-link latency, scripted or seeded packet
//! loss, and time stepped to the next deadline among all machines, TU timers
//! and packets in flight. Nothing sleeps.
//!
//! Messages are a tiny SIP-like text (start line, one Via with the branch,
//! CSeq) so that the wire log reads like a trace; the elements match them to
//! transactions by (branch, method) with ACK matching INVITE, as §17.2.3 does.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::transaction::{
    ClientInvite, ClientNonInvite, Disposition, Event, Reliability, ServerInvite, ServerNonInvite,
    TimerConfig, Transaction,
};

/// The three elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    Uac,
    Proxy,
    Uas,
}

// ----------------------------------------------------------------- messages

/// A parsed sim message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    Request {
        method: String,
        branch: String,
    },
    Response {
        status: u16,
        branch: String,
        method: String,
    },
}

pub fn request(method: &str, branch: &str) -> Bytes {
    Bytes::from(format!(
        "{method} sip:bob@b.example SIP/2.0\r\nVia: SIP/2.0/UDP h;branch={branch}\r\nCSeq: 1 {method}\r\n\r\n"
    ))
}

pub fn response(status: u16, branch: &str, method: &str) -> Bytes {
    Bytes::from(format!(
        "SIP/2.0 {status} X\r\nVia: SIP/2.0/UDP h;branch={branch}\r\nCSeq: 1 {method}\r\n\r\n"
    ))
}

pub fn first_line(bytes: &Bytes) -> String {
    let text = std::str::from_utf8(bytes).expect("sim messages are text");
    text.split("\r\n").next().unwrap_or_default().to_owned()
}

pub fn parse(bytes: &Bytes) -> Msg {
    let text = std::str::from_utf8(bytes).expect("sim messages are text");
    let mut lines = text.split("\r\n");
    let start = lines.next().expect("start line");
    let via = lines.next().expect("Via");
    let cseq = lines.next().expect("CSeq");
    let branch = via.split("branch=").nth(1).expect("branch").to_owned();
    if let Some(rest) = start.strip_prefix("SIP/2.0 ") {
        let status = rest[..3].parse().expect("status");
        let method = cseq.split(' ').nth(2).expect("CSeq method").to_owned();
        Msg::Response {
            status,
            branch,
            method,
        }
    } else {
        let method = start.split(' ').next().expect("method").to_owned();
        Msg::Request { method, branch }
    }
}

/// The §17.2.3-style key: ACK matches the INVITE's transaction.
type Key = (String, String);

fn server_key(method: &str, branch: &str) -> Key {
    let method = if method == "ACK" { "INVITE" } else { method };
    (branch.to_owned(), method.to_owned())
}

// ------------------------------------------------------------------ network

/// One packet put on the wire, lost or not.
#[derive(Debug, Clone)]
pub struct Wire {
    pub at: Duration,
    pub from: Node,
    pub to: Node,
    pub line: String,
    pub dropped: bool,
}

struct DropRule {
    from: Node,
    to: Node,
    prefix: String,
    nth: usize,
    seen: usize,
}

struct InFlight {
    at: Instant,
    seq: u64,
    from: Node,
    to: Node,
    bytes: Bytes,
}

pub struct Net {
    base: Instant,
    latency: HashMap<(Node, Node), Duration>,
    rules: Vec<DropRule>,
    /// Seeded LCG loss: (state, percent dropped).
    random: Option<(u64, u64)>,
    in_flight: Vec<InFlight>,
    seq: u64,
    pub log: Vec<Wire>,
}

impl Net {
    fn new(base: Instant) -> Self {
        let mut latency = HashMap::new();
        for (a, b, ms) in [(Node::Uac, Node::Proxy, 10), (Node::Proxy, Node::Uas, 20)] {
            latency.insert((a, b), Duration::from_millis(ms));
            latency.insert((b, a), Duration::from_millis(ms));
        }
        Self {
            base,
            latency,
            rules: Vec::new(),
            random: None,
            in_flight: Vec::new(),
            seq: 0,
            log: Vec::new(),
        }
    }

    fn lost(&mut self, from: Node, to: Node, line: &str) -> bool {
        let mut lost = false;
        for rule in &mut self.rules {
            if rule.from == from && rule.to == to && line.starts_with(&rule.prefix) {
                rule.seen += 1;
                lost |= rule.seen == rule.nth;
            }
        }
        if let Some((state, percent)) = &mut self.random {
            *state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lost |= (*state >> 33) % 100 < *percent;
        }
        lost
    }

    fn send(&mut self, now: Instant, from: Node, to: Node, bytes: Bytes) {
        let line = first_line(&bytes);
        let dropped = self.lost(from, to, &line);
        self.log.push(Wire {
            at: now - self.base,
            from,
            to,
            line,
            dropped,
        });
        if !dropped {
            let at = now + self.latency[&(from, to)];
            self.seq += 1;
            self.in_flight.push(InFlight {
                at,
                seq: self.seq,
                from,
                to,
                bytes,
            });
        }
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.in_flight.iter().map(|p| p.at).min()
    }

    fn pop_due(&mut self, now: Instant) -> Option<InFlight> {
        let (i, _) = self
            .in_flight
            .iter()
            .enumerate()
            .filter(|(_, p)| p.at <= now)
            .min_by_key(|(_, p)| (p.at, p.seq))?;
        Some(self.in_flight.swap_remove(i))
    }

    /// The packets sent from `from` to `to` whose first line starts with
    /// `prefix`, as (milliseconds since the start, dropped).
    pub fn sends(&self, from: Node, to: Node, prefix: &str) -> Vec<(u128, bool)> {
        self.log
            .iter()
            .filter(|w| w.from == from && w.to == to && w.line.starts_with(prefix))
            .map(|w| (w.at.as_millis(), w.dropped))
            .collect()
    }

    pub fn dump(&self) -> String {
        self.log
            .iter()
            .map(|w| {
                let lost = if w.dropped { "  (lost)" } else { "" };
                format!(
                    "{:>8.3}s {:?} -> {:?}: {}{lost}\n",
                    w.at.as_secs_f64(),
                    w.from,
                    w.to,
                    w.line
                )
            })
            .collect()
    }
}

// ----------------------------------------------------------------- elements

type Out = Vec<(Node, Bytes)>;

/// Drains a machine's output toward `peer`, records its events, and says
/// whether it is finished (terminated).
fn flush(tx: &mut Transaction, peer: Node, out: &mut Out, events: &mut Vec<Event>) -> bool {
    while let Some(bytes) = tx.poll_transmit() {
        out.push((peer, bytes));
    }
    while let Some(event) = tx.poll_event() {
        events.push(event);
    }
    tx.is_terminated()
}

fn earliest(it: impl Iterator<Item = Option<Instant>>) -> Option<Instant> {
    it.flatten().min()
}

/// The UAC: one client transaction per request, and a TU that ACKs 2xx end
/// to end (§13.2.2.4), once per 2xx received.
pub struct Uac {
    config: TimerConfig,
    reliability: Reliability,
    txs: HashMap<Key, Transaction>,
    next_branch: u32,
    /// Responses the TU saw: (ms, status, method).
    pub responses: Vec<(u128, u16, String)>,
    pub events: Vec<Event>,
    pub acks_for_2xx: usize,
}

impl Uac {
    fn start(&mut self, now: Instant, method: &str, out: &mut Out) {
        self.next_branch += 1;
        let branch = format!("z9hG4bK-uac{}", self.next_branch);
        let bytes = request(method, &branch);
        let tx: Transaction = if method == "INVITE" {
            ClientInvite::new(now, self.config, self.reliability, bytes).into()
        } else {
            ClientNonInvite::new(now, self.config, self.reliability, bytes).into()
        };
        self.txs.insert((branch, method.to_owned()), tx);
        self.flush(out);
    }

    fn receive(&mut self, now: Instant, base: Instant, bytes: Bytes, out: &mut Out) {
        let Msg::Response {
            status,
            branch,
            method,
        } = parse(&bytes)
        else {
            panic!("the UAC only receives responses");
        };
        let disposition = match self.txs.get_mut(&(branch.clone(), method.clone())) {
            Some(Transaction::ClientInvite(tx)) => {
                tx.handle_response(now, status, || request("ACK", &branch))
            }
            Some(Transaction::ClientNonInvite(tx)) => tx.handle_response(now, status),
            // No transaction: a stray response, dropped (RFC 6026 §7.2 — a UA core
            // could take a stray 2xx, but this one never lets its Timer M lapse early).
            _ => Disposition::Absorb,
        };
        if disposition.is_deliver() {
            self.responses
                .push(((now - base).as_millis(), status, method.clone()));
            if method == "INVITE" && (200..300).contains(&status) {
                self.acks_for_2xx += 1;
                out.push((Node::Proxy, request("ACK", "z9hG4bK-uac-ack2xx")));
            }
        }
        self.flush(out);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        earliest(self.txs.values().map(Transaction::poll_timeout))
    }

    fn handle_timeout(&mut self, now: Instant, out: &mut Out) {
        for tx in self.txs.values_mut() {
            tx.handle_timeout(now);
        }
        self.flush(out);
    }

    fn flush(&mut self, out: &mut Out) {
        let events = &mut self.events;
        self.txs
            .retain(|_, tx| !flush(tx, Node::Proxy, out, events));
    }

    pub fn live(&self) -> usize {
        self.txs.len()
    }
}

/// A stateful proxy core: a server transaction toward the UAC and a client
/// transaction toward the UAS per request; 100 Trying sent at once (§16.2),
/// every other response forwarded upstream; ACK for 2xx forwarded
/// statelessly; stray responses dropped (RFC 6026 §7.2).
pub struct Proxy {
    config: TimerConfig,
    reliability: Reliability,
    servers: HashMap<Key, Transaction>,
    /// Client transactions, each with the key of its server transaction.
    clients: HashMap<Key, (Transaction, Key)>,
    /// New requests the proxy core saw.
    pub requests: Vec<String>,
    /// Responses the client transactions delivered to the core.
    pub responses: Vec<u16>,
    pub server_events: Vec<Event>,
    pub client_events: Vec<Event>,
    pub acks_to_core: usize,
    pub stray_responses: usize,
    pub errors: Vec<String>,
}

impl Proxy {
    fn receive(&mut self, now: Instant, from: Node, bytes: Bytes, out: &mut Out) {
        match (from, parse(&bytes)) {
            (Node::Uac, Msg::Request { method, branch }) => {
                self.request_from_uac(now, &method, &branch, out)
            }
            (
                Node::Uas,
                Msg::Response {
                    status,
                    branch,
                    method,
                },
            ) => self.response_from_uas(now, status, &branch, &method),
            (from, msg) => self
                .errors
                .push(format!("unexpected {msg:?} from {from:?}")),
        }
        self.flush(out);
    }

    fn request_from_uac(&mut self, now: Instant, method: &str, branch: &str, out: &mut Out) {
        let key = server_key(method, branch);
        let downstream_branch = format!("{branch}.p");
        match (method, self.servers.get_mut(&key)) {
            ("ACK", Some(Transaction::ServerInvite(tx))) => {
                if tx.handle_ack(now).is_deliver() {
                    self.acks_to_core += 1;
                    out.push((Node::Uas, request("ACK", &downstream_branch)));
                }
            }
            ("ACK", _) => {
                // ACK for a 2xx: its own transaction, forwarded statelessly.
                self.acks_to_core += 1;
                out.push((Node::Uas, request("ACK", &downstream_branch)));
            }
            (_, Some(Transaction::ServerInvite(tx))) => tx.handle_request_retransmission(),
            (_, Some(Transaction::ServerNonInvite(tx))) => tx.handle_request_retransmission(),
            (_, _) => {
                self.requests.push(method.to_owned());
                let forwarded = request(method, &downstream_branch);
                let (server, client): (Transaction, Transaction) = if method == "INVITE" {
                    let mut server = ServerInvite::new(now, self.config, self.reliability, None);
                    if let Err(e) = server.send_response(now, 100, response(100, branch, method)) {
                        self.errors.push(e.to_string());
                    }
                    let client = ClientInvite::new(now, self.config, self.reliability, forwarded);
                    (server.into(), client.into())
                } else {
                    let server = ServerNonInvite::new(self.config, self.reliability);
                    let client =
                        ClientNonInvite::new(now, self.config, self.reliability, forwarded);
                    (server.into(), client.into())
                };
                self.servers.insert(key.clone(), server);
                self.clients
                    .insert((downstream_branch, method.to_owned()), (client, key));
            }
        }
    }

    fn response_from_uas(&mut self, now: Instant, status: u16, branch: &str, method: &str) {
        let Some((client, upstream)) = self
            .clients
            .get_mut(&(branch.to_owned(), method.to_owned()))
        else {
            self.stray_responses += 1;
            return;
        };
        let disposition = match client {
            Transaction::ClientInvite(tx) => {
                tx.handle_response(now, status, || request("ACK", branch))
            }
            Transaction::ClientNonInvite(tx) => tx.handle_response(now, status),
            _ => unreachable!("clients holds client transactions"),
        };
        if !disposition.is_deliver() {
            return;
        }
        self.responses.push(status);
        if status == 100 {
            return; // hop by hop (§16.7 step 5)
        }
        let upstream_branch = upstream.0.clone();
        let sent = match self.servers.get_mut(upstream) {
            Some(Transaction::ServerInvite(tx)) => {
                tx.send_response(now, status, response(status, &upstream_branch, method))
            }
            Some(Transaction::ServerNonInvite(tx)) => {
                tx.send_response(now, status, response(status, &upstream_branch, method))
            }
            _ => Ok(()), // the server transaction ended; nobody to forward to
        };
        if let Err(e) = sent {
            self.errors.push(e.to_string());
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        earliest(
            self.servers
                .values()
                .map(Transaction::poll_timeout)
                .chain(self.clients.values().map(|(tx, _)| tx.poll_timeout())),
        )
    }

    fn handle_timeout(&mut self, now: Instant, out: &mut Out) {
        for tx in self.servers.values_mut() {
            tx.handle_timeout(now);
        }
        for (tx, _) in self.clients.values_mut() {
            tx.handle_timeout(now);
        }
        self.flush(out);
    }

    fn flush(&mut self, out: &mut Out) {
        let events = &mut self.server_events;
        self.servers
            .retain(|_, tx| !flush(tx, Node::Uac, out, events));
        let events = &mut self.client_events;
        self.clients
            .retain(|_, (tx, _)| !flush(tx, Node::Uas, out, events));
    }

    pub fn live(&self) -> usize {
        self.servers.len() + self.clients.len()
    }
}

/// The UAS: a server transaction per request (INVITE ones sending 100 Trying
/// themselves after 200 ms when `auto_trying`), a TU answering on a script,
/// and a UAS core retransmitting 2xx (§13.3.1.4) until the ACK comes.
pub struct Uas {
    config: TimerConfig,
    reliability: Reliability,
    pub auto_trying: bool,
    /// The TU's answers per method: (delay after the request, status).
    pub script: HashMap<String, Vec<(Duration, u16)>>,
    txs: HashMap<Key, Transaction>,
    pending: Vec<(Instant, Key, u16)>,
    /// 2xx retransmission by the UAS core: (key, next, interval, give up at).
    retransmit_2xx: Option<(Key, Instant, Duration, Instant)>,
    /// Requests the TU saw: (ms, method).
    pub requests: Vec<(u128, String)>,
    pub events: Vec<Event>,
    pub errors: Vec<String>,
}

impl Uas {
    fn receive(&mut self, now: Instant, base: Instant, bytes: Bytes, out: &mut Out) {
        let Msg::Request { method, branch } = parse(&bytes) else {
            panic!("the UAS only receives requests");
        };
        let key = server_key(&method, &branch);
        let at = (now - base).as_millis();
        match (method.as_str(), self.txs.get_mut(&key)) {
            ("ACK", Some(Transaction::ServerInvite(tx))) => {
                if tx.handle_ack(now).is_deliver() {
                    self.requests.push((at, method));
                    self.retransmit_2xx = None;
                }
            }
            ("ACK", _) => {
                // ACK for a 2xx: a new transaction, straight to the TU (dialog).
                self.requests.push((at, method));
                self.retransmit_2xx = None;
            }
            (_, Some(Transaction::ServerInvite(tx))) => tx.handle_request_retransmission(),
            (_, Some(Transaction::ServerNonInvite(tx))) => tx.handle_request_retransmission(),
            (_, _) => {
                self.requests.push((at, method.clone()));
                let tx: Transaction = if method == "INVITE" {
                    let trying = self.auto_trying.then(|| response(100, &branch, &method));
                    ServerInvite::new(now, self.config, self.reliability, trying).into()
                } else {
                    ServerNonInvite::new(self.config, self.reliability).into()
                };
                self.txs.insert(key.clone(), tx);
                for &(delay, status) in self.script.get(&method).into_iter().flatten() {
                    self.pending.push((now + delay, key.clone(), status));
                }
            }
        }
        self.handle_timeout(now, out); // TU answers scripted with no delay
    }

    fn respond(&mut self, now: Instant, key: &Key, status: u16) {
        let bytes = response(status, &key.0, &key.1);
        let sent = match self.txs.get_mut(key) {
            Some(Transaction::ServerInvite(tx)) => tx.send_response(now, status, bytes),
            Some(Transaction::ServerNonInvite(tx)) => tx.send_response(now, status, bytes),
            _ => return,
        };
        if let Err(e) = sent {
            self.errors.push(e.to_string());
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        earliest(
            self.txs
                .values()
                .map(Transaction::poll_timeout)
                .chain(self.pending.iter().map(|p| Some(p.0)))
                .chain([self.retransmit_2xx.as_ref().map(|r| r.1)]),
        )
    }

    /// The TU's due answers first, then the machines' timers, so that a
    /// zero-length timer an answer arms (J, say, on a reliable transport)
    /// fires in the same step.
    fn handle_timeout(&mut self, now: Instant, out: &mut Out) {
        let (due, later): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|p| p.0 <= now);
        self.pending = later;
        for (_, key, status) in due {
            self.respond(now, &key, status);
            if key.1 == "INVITE" && (200..300).contains(&status) {
                let give_up = now + self.config.transaction_timeout();
                self.retransmit_2xx = Some((key, now + self.config.t1, self.config.t1, give_up));
            }
        }
        if let Some((key, next, interval, give_up)) = self.retransmit_2xx.clone() {
            if next >= give_up {
                self.retransmit_2xx = None;
            } else if next <= now {
                self.respond(now, &key, 200);
                let interval = (interval * 2).min(self.config.t2);
                self.retransmit_2xx = Some((key, now + interval, interval, give_up));
            }
        }
        for tx in self.txs.values_mut() {
            tx.handle_timeout(now);
        }
        let events = &mut self.events;
        self.txs
            .retain(|_, tx| !flush(tx, Node::Proxy, out, events));
    }

    pub fn live(&self) -> usize {
        self.txs.len()
    }
}

// --------------------------------------------------------------------- sim

pub struct Sim {
    pub base: Instant,
    pub now: Instant,
    pub net: Net,
    pub uac: Uac,
    pub proxy: Proxy,
    pub uas: Uas,
}

impl Sim {
    pub fn new(config: TimerConfig, reliability: Reliability) -> Self {
        let base = Instant::now();
        Self {
            base,
            now: base,
            net: Net::new(base),
            uac: Uac {
                config,
                reliability,
                txs: HashMap::new(),
                next_branch: 0,
                responses: Vec::new(),
                events: Vec::new(),
                acks_for_2xx: 0,
            },
            proxy: Proxy {
                config,
                reliability,
                servers: HashMap::new(),
                clients: HashMap::new(),
                requests: Vec::new(),
                responses: Vec::new(),
                server_events: Vec::new(),
                client_events: Vec::new(),
                acks_to_core: 0,
                stray_responses: 0,
                errors: Vec::new(),
            },
            uas: Uas {
                config,
                reliability,
                auto_trying: true,
                script: HashMap::new(),
                txs: HashMap::new(),
                pending: Vec::new(),
                retransmit_2xx: None,
                requests: Vec::new(),
                events: Vec::new(),
                errors: Vec::new(),
            },
        }
    }

    /// Loses the `nth` (1-based) packet from `from` to `to` whose start line
    /// begins with `prefix`.
    pub fn drop_nth(&mut self, from: Node, to: Node, prefix: &str, nth: usize) {
        self.net.rules.push(DropRule {
            from,
            to,
            prefix: prefix.to_owned(),
            nth,
            seen: 0,
        });
    }

    /// Loses `percent` of all packets, chosen by an LCG seeded with `seed`.
    pub fn random_loss(&mut self, seed: u64, percent: u64) {
        self.net.random = Some((seed, percent));
    }

    pub fn script(&mut self, method: &str, answers: &[(u64, u16)]) {
        let answers = answers
            .iter()
            .map(|&(ms, s)| (Duration::from_millis(ms), s))
            .collect();
        self.uas.script.insert(method.to_owned(), answers);
    }

    /// The UAC TU sends a request now.
    pub fn uac_sends(&mut self, method: &str) {
        let mut out = Vec::new();
        self.uac.start(self.now, method, &mut out);
        self.send_all(Node::Uac, out);
    }

    fn send_all(&mut self, from: Node, out: Out) {
        for (to, bytes) in out {
            self.net.send(self.now, from, to, bytes);
        }
    }

    fn next_event(&self) -> Option<Instant> {
        earliest(
            [
                self.uac.poll_timeout(),
                self.proxy.poll_timeout(),
                self.uas.poll_timeout(),
                self.net.next_arrival(),
            ]
            .into_iter(),
        )
    }

    /// Runs until nothing is left to happen or `limit` after the start.
    pub fn run(&mut self, limit: Duration) {
        let end = self.base + limit;
        for _ in 0..1_000_000 {
            let Some(next) = self.next_event() else {
                return;
            };
            if next > end {
                return;
            }
            assert!(next >= self.now, "virtual time went backwards");
            self.now = next;
            let now = self.now;
            while let Some(packet) = self.net.pop_due(now) {
                let mut out = Vec::new();
                match packet.to {
                    Node::Uac => self.uac.receive(now, self.base, packet.bytes, &mut out),
                    Node::Proxy => self.proxy.receive(now, packet.from, packet.bytes, &mut out),
                    Node::Uas => self.uas.receive(now, self.base, packet.bytes, &mut out),
                }
                self.send_all(packet.to, out);
            }
            for node in [Node::Uac, Node::Proxy, Node::Uas] {
                let mut out = Vec::new();
                let after = match node {
                    Node::Uac => {
                        self.uac.handle_timeout(now, &mut out);
                        self.uac.poll_timeout()
                    }
                    Node::Proxy => {
                        self.proxy.handle_timeout(now, &mut out);
                        self.proxy.poll_timeout()
                    }
                    Node::Uas => {
                        self.uas.handle_timeout(now, &mut out);
                        self.uas.poll_timeout()
                    }
                };
                assert!(
                    after.is_none_or(|t| t > now),
                    "{node:?} did not move past {now:?}"
                );
                self.send_all(node, out);
            }
        }
        panic!("the simulation did not settle");
    }

    /// Milliseconds since the start.
    pub fn ms(&self) -> u128 {
        (self.now - self.base).as_millis()
    }

    pub fn live(&self) -> usize {
        self.uac.live() + self.proxy.live() + self.uas.live()
    }
}
