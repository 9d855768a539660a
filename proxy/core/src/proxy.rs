//! The sans-IO stateful proxy (RFC 3261 §16).
//!
//! A [`Proxy`] is fed `(now, input)`:
//!
//! | input                                   | from                          |
//! |-----------------------------------------|-------------------------------|
//! | [`Proxy::handle_bytes`] / `handle_message` | the transports             |
//! | [`Proxy::handle_decision`]              | the router (`on_request`, `on_failure`) |
//! | [`Proxy::handle_reply_decision`]        | the router (`on_reply`)       |
//! | [`Proxy::handle_resolved`]              | the resolver (RFC 3263)       |
//! | [`Proxy::handle_transport_error`]       | the transports (a send failed)|
//! | [`Proxy::handle_timeout`]               | the clock, at `poll_timeout`  |
//!
//! and drained with [`Proxy::poll_transmit`], [`Proxy::poll_router_call`],
//! [`Proxy::poll_resolve`] and [`Proxy::poll_timeout`].
//!
//! Inside: server transactions (one per received request, matched by
//! §17.2.3 keys), a *context* per request being routed (the response
//! context of §16.7), *branches* (one per target, each with its client
//! transactions, one per destination tried), and a heap of deadlines.

mod build;
mod forward;
mod incoming;
mod responses;
mod route;
mod state;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use resolve::Destination;
use sip::matching::{ClientKey, ServerKey};
use sip::transaction::Event;
use sip::{Framing, Message};

use crate::decision::{Decision, ReplyDecision};
use crate::router::{RequestContext, ResponseContext};
use crate::settings::Settings;
use crate::stats::Stats;

use state::{Branch, CancelState, Context, Pending, Plan, Resolving, TimerKey, Tx, TxKind};

/// A transport flow: where a message came from, or where one goes.
pub use sip::Flow;

/// Identifies what sent a [`Transmit`], for [`Proxy::handle_transport_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendRef(u64);

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where: transport, peer, local listener, connection (0: none).
    pub flow: Flow,
    /// The message.
    pub bytes: Bytes,
    /// Report a failure to send it with this (stateless sends have none).
    pub on_error: Option<SendRef>,
}

/// A resolution to perform: answer with [`Proxy::handle_resolved`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveCall {
    /// The id to answer with.
    pub id: u64,
    /// What to resolve.
    pub target: resolve::Target,
}

/// A router call to make: answer with [`Proxy::handle_decision`]
/// (`Request`, `Failure`) or [`Proxy::handle_reply_decision`] (`Reply`).
#[derive(Debug, Clone)]
pub struct RouterCall {
    /// The id to answer with.
    pub id: u64,
    /// Which call.
    pub kind: RouterCallKind,
}

/// The three router entry points.
#[derive(Debug, Clone)]
pub enum RouterCallKind {
    /// `on_request`.
    Request(Arc<RequestContext>),
    /// `on_reply`.
    Reply(Arc<RequestContext>, ResponseContext),
    /// `on_failure`.
    Failure(Arc<RequestContext>, ResponseContext),
}

/// The stateful proxy. See the module documentation.
#[derive(Debug)]
pub struct Proxy {
    settings: Settings,
    next_id: u64,
    txs: HashMap<u64, Tx>,
    server_keys: HashMap<ServerKey, u64>,
    client_keys: HashMap<ClientKey, u64>,
    contexts: HashMap<u64, Context>,
    branches: HashMap<u64, Branch>,
    calls: HashMap<u64, Pending>,
    resolving: HashMap<u64, Resolving>,
    timers: BinaryHeap<Reverse<(Instant, TimerKey)>>,
    transmits: VecDeque<Transmit>,
    router_calls: VecDeque<RouterCall>,
    resolve_calls: VecDeque<ResolveCall>,
    stats: Stats,
    draining: bool,
}

impl Proxy {
    /// A proxy with these settings.
    pub fn new(settings: Settings) -> Self {
        Proxy {
            settings,
            next_id: 1,
            txs: HashMap::new(),
            server_keys: HashMap::new(),
            client_keys: HashMap::new(),
            contexts: HashMap::new(),
            branches: HashMap::new(),
            calls: HashMap::new(),
            resolving: HashMap::new(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            router_calls: VecDeque::new(),
            resolve_calls: VecDeque::new(),
            stats: Stats::default(),
            draining: false,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Received bytes (a datagram or one framed stream message).
    pub fn handle_bytes(&mut self, bytes: Bytes, flow: Flow, now: Instant) {
        let framing = if flow.transport.is_stream() {
            Framing::Stream
        } else {
            Framing::Datagram
        };
        match sip::validate::screen(bytes, framing, &self.settings.limits) {
            sip::validate::Screened::Request(m) => self.handle_request(m, flow, now),
            sip::validate::Screened::Response(m) => self.handle_response(m, now),
            sip::validate::Screened::Reject { request, rejection } => {
                self.stats
                    .request(request.method().map_or("?", |m| m.as_str()));
                let mut extra = Vec::new();
                if !rejection.unsupported.is_empty() {
                    extra.push(("Unsupported".to_string(), rejection.unsupported.join(", ")));
                }
                self.reply_stateless(&request, flow, rejection.status, &rejection.reason, extra);
            }
            sip::validate::Screened::Drop(reason) => {
                let label = match reason {
                    sip::validate::DropReason::Unparseable(_) => "unparseable",
                    sip::validate::DropReason::BadResponse(_) => "bad_response",
                    sip::validate::DropReason::NoVia => "no_via",
                    sip::validate::DropReason::Ack => "bad_ack",
                };
                self.stats.drop(label);
            }
        }
    }

    /// A received message that parsed (checks of `sip::validate` still
    /// apply to requests).
    pub fn handle_message(&mut self, msg: Message, flow: Flow, now: Instant) {
        if msg.is_request() {
            if let Err(r) = sip::validate::check_request(&msg) {
                if msg.method() == Some(&sip::Method::Ack) {
                    self.stats.drop("bad_ack");
                } else {
                    self.reply_stateless(&msg, flow, r.status, &r.reason, Vec::new());
                }
                return;
            }
            self.handle_request(msg, flow, now);
        } else if sip::validate::check_response(&msg).is_ok() {
            self.handle_response(msg, now);
        } else {
            self.stats.drop("bad_response");
        }
    }

    /// The router's answer to a `Request` or `Failure` call.
    pub fn handle_decision(&mut self, id: u64, decision: Decision, now: Instant) {
        if let Decision::Failed(why) = &decision {
            self.stats.router_errors += 1;
            tracing::warn!(error = %why, "router failed");
        }
        match self.calls.remove(&id) {
            Some(Pending::Request(ctx)) => self.carry_out(ctx, decision, false, now),
            Some(Pending::Failure(ctx)) => self.carry_out(ctx, decision, true, now),
            Some(Pending::Ack(req)) => self.route_ack(req, decision),
            Some(p @ Pending::Reply { .. }) => {
                // A request decision for a reply call: treat as Forward.
                self.calls.insert(id, p);
                self.handle_reply_decision(id, ReplyDecision::Forward, now);
            }
            None => self.stats.drop("unknown_router_call"),
        }
    }

    /// The router's answer to a `Reply` call.
    pub fn handle_reply_decision(&mut self, id: u64, decision: ReplyDecision, now: Instant) {
        match self.calls.remove(&id) {
            Some(Pending::Reply { ctx, branch, resp }) => {
                if let Some(c) = self.contexts.get_mut(&ctx) {
                    c.reply_call = false;
                }
                match decision {
                    ReplyDecision::Forward => self.process_response(branch, *resp, &[], now),
                    ReplyDecision::ForwardEdited(edits) => {
                        self.process_response(branch, *resp, &edits, now)
                    }
                    ReplyDecision::Drop => {
                        self.stats.drop("router_dropped_response");
                        self.response_dropped(branch, &resp, now);
                    }
                }
                self.next_reply_call(ctx);
            }
            Some(other) => {
                // A reply decision for a request call: treat as Drop.
                self.calls.insert(id, other);
                self.handle_decision(id, Decision::Drop, now);
            }
            None => self.stats.drop("unknown_router_call"),
        }
    }

    /// The destinations of a [`ResolveCall`], in the order to try them
    /// (empty when the target did not resolve).
    pub fn handle_resolved(&mut self, id: u64, destinations: Vec<Destination>, now: Instant) {
        match self.resolving.remove(&id) {
            Some(Resolving::Branch(b)) => {
                if let Some(br) = self.branches.get_mut(&b) {
                    if br.done {
                        self.branch_finished(b, now);
                        return;
                    }
                    br.dests = destinations;
                    br.next_dest = 0;
                    self.try_next_destination(b, now);
                }
            }
            Some(Resolving::Stateless { req, plan }) => {
                self.send_stateless(&req, &plan, destinations.first().copied());
            }
            None => {}
        }
    }

    /// Sending a [`Transmit`] failed (§17.1.4, §17.2.4; RFC 3263 §4.3: the
    /// next destination is tried).
    pub fn handle_transport_error(&mut self, what: SendRef, now: Instant) {
        if let Some(tx) = self.txs.get_mut(&what.0) {
            tx.machine.handle_transport_error();
            self.drive(what.0, now);
        }
    }

    /// Fires everything due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, key))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match key {
                TimerKey::Tx(id) => {
                    let due = self.txs.get_mut(&id).and_then(|tx| {
                        if tx.armed == Some(at) {
                            tx.armed = None;
                        }
                        tx.machine.poll_timeout().filter(|d| *d <= now)
                    });
                    if due.is_some() {
                        if let Some(tx) = self.txs.get_mut(&id) {
                            tx.machine.handle_timeout(now);
                        }
                    }
                    self.drive(id, now);
                }
                TimerKey::TimerC(b) => {
                    let due = self
                        .branches
                        .get(&b)
                        .is_some_and(|br| br.timer_c.is_some_and(|d| d <= now));
                    if due {
                        self.timer_c_fired(b, now);
                    }
                }
            }
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next router call to make.
    pub fn poll_router_call(&mut self) -> Option<RouterCall> {
        self.router_calls.pop_front()
    }

    /// The next resolution to perform.
    pub fn poll_resolve(&mut self) -> Option<ResolveCall> {
        self.resolve_calls.pop_front()
    }

    /// When [`Proxy::handle_timeout`] is next due (possibly early, never late).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Stops taking new out-of-dialog requests: they get 503 with
    /// Retry-After. In-dialog requests and transactions in flight go on.
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// Whether [`Proxy::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// No transaction, context or router call is in flight.
    pub fn is_idle(&self) -> bool {
        self.txs.is_empty() && self.contexts.is_empty() && self.calls.is_empty()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.transactions = self.txs.len() as u64;
        s.contexts = self.contexts.len() as u64;
        s
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn call(&mut self, pending: Pending, kind: RouterCallKind) {
        let id = self.id();
        self.stats.router_calls += 1;
        self.calls.insert(id, pending);
        self.router_calls.push_back(RouterCall { id, kind });
    }

    fn insert_tx(&mut self, tx: Tx) -> u64 {
        let id = self.id();
        match &tx.kind {
            TxKind::Server { key, .. } => {
                self.server_keys.insert(key.clone(), id);
            }
            TxKind::Client { key, .. } => {
                self.client_keys.insert(key.clone(), id);
            }
        }
        self.txs.insert(id, tx);
        id
    }

    /// Drains a transaction's output and events after an input.
    fn drive(&mut self, id: u64, now: Instant) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        let _e = tx.span.clone().entered();
        while let Some(bytes) = tx.machine.poll_transmit() {
            self.transmits.push_back(Transmit {
                flow: tx.flow,
                bytes,
                on_error: Some(SendRef(id)),
            });
        }
        let mut events = Vec::new();
        while let Some(e) = tx.machine.poll_event() {
            events.push(e);
        }
        let next = tx.machine.poll_timeout();
        if let Some(n) = next {
            if tx.armed.is_none_or(|a| n < a) {
                tx.armed = Some(n);
                self.timers.push(Reverse((n, TimerKey::Tx(id))));
            }
        }
        let terminated = tx.machine.is_terminated();
        for e in events {
            self.tx_event(id, e, terminated, now);
        }
    }

    fn tx_event(&mut self, id: u64, event: Event, terminated: bool, now: Instant) {
        let Some(tx) = self.txs.get(&id) else {
            return;
        };
        let branch = match &tx.kind {
            TxKind::Client { branch, .. } => *branch,
            TxKind::Server { .. } => None,
        };
        match event {
            Event::Timeout(timer) => {
                tracing::debug!(%timer, "transaction timed out");
                if let Some(b) = branch {
                    self.branch_failed(b, id, 408, now);
                }
            }
            Event::TransportError => {
                tracing::debug!("transport error");
                if let (Some(b), true) = (branch, terminated) {
                    self.branch_failed(b, id, 503, now);
                }
            }
            Event::Terminated => self.remove_tx(id, now),
        }
    }

    fn remove_tx(&mut self, id: u64, now: Instant) {
        let Some(tx) = self.txs.remove(&id) else {
            return;
        };
        match tx.kind {
            TxKind::Server { key, ctx } => {
                if self.server_keys.get(&key) == Some(&id) {
                    self.server_keys.remove(&key);
                }
                if let Some(c) = ctx.and_then(|c| self.contexts.get_mut(&c)) {
                    c.server = None;
                }
                if let Some(c) = ctx {
                    self.maybe_cleanup(c);
                }
            }
            TxKind::Client { key, branch, .. } => {
                if self.client_keys.get(&key) == Some(&id) {
                    self.client_keys.remove(&key);
                }
                if let Some(b) = branch {
                    let ctx = self.branches.get_mut(&b).and_then(|br| {
                        if br.client == Some(id) {
                            br.client = None;
                        }
                        br.done.then_some(br.ctx)
                    });
                    if let Some(c) = ctx {
                        self.maybe_cleanup(c);
                    }
                }
            }
        }
        let _ = now;
    }

    /// Drops a context once it answered and nothing of it is in flight.
    fn maybe_cleanup(&mut self, ctx: u64) {
        let Some(c) = self.contexts.get(&ctx) else {
            return;
        };
        if !c.final_sent || c.deciding || c.reply_call {
            return;
        }
        let busy = c.branches.iter().any(|b| {
            self.branches
                .get(b)
                .is_some_and(|br| br.client.is_some() || !br.done)
        });
        if busy {
            return;
        }
        if let Some(c) = self.contexts.remove(&ctx) {
            for b in c.branches {
                self.branches.remove(&b);
            }
        }
    }

    fn arm_timer_c(&mut self, b: u64, now: Instant) {
        self.arm_branch_timer(b, now + self.settings.timer_c);
    }

    /// Arms the branch's timer (Timer C, or the wait for a CANCELled
    /// INVITE's final response).
    fn arm_branch_timer(&mut self, b: u64, at: Instant) {
        if let Some(br) = self.branches.get_mut(&b) {
            br.timer_c = Some(at);
            self.timers.push(Reverse((at, TimerKey::TimerC(b))));
        }
    }
}
