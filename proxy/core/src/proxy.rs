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
//! [`Proxy::poll_resolve`] and [`Proxy::poll_timeout`] (and the
//! notifications [`Proxy::poll_cancelled`] and [`Proxy::poll_flow_failed`]).
//!
//! Inside: server transactions (one per received request, matched by
//! §17.2.3 keys), a *context* per request being routed (the response
//! context of §16.7), *branches* (one per target, each with its client
//! transactions, one per destination tried), and a heap of deadlines.

mod branch;
mod build;
mod cancel;
mod context;
mod flows;
mod forward;
mod ids;
mod incoming;
mod local;
mod outcome;
mod plan;
mod reliable;
mod responses;
mod route;
mod selection;
mod state;
mod transactions;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// CANCELled INVITEs waiting for `Router::on_cancel` at most.
pub const MAX_CANCELLED: usize = 1024;

pub use flows::MAX_FAILED_FLOWS;

use bytes::Bytes;
use resolve::Destination;
use sip::matching::{ClientKey, ServerKey};
use sip::{Framing, Message};

use crate::decision::{Decision, ReplyDecision};
use crate::router::{FailedFlow, RequestContext, ResponseContext};
use crate::settings::Settings;
use crate::stats::Stats;

use branch::{Branch, CancelState};
use context::Context;
use ids::{BranchId, CtxId, Id, Table, TxId};
pub use ids::{ResolveId, RouterCallId};
use plan::Plan;
use state::{Pending, Resolving, TimerKey, Tx, TxKind};

/// A transport flow: where a message came from, or where one goes.
pub use sip::Flow;

/// Identifies what sent a [`Transmit`], for [`Proxy::handle_transport_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendRef(TxId);

impl SendRef {
    /// As a number (never 0), to travel with a send and come back.
    pub fn to_u64(self) -> u64 {
        self.0.raw() | (1 << 63)
    }

    /// Back from [`SendRef::to_u64`].
    pub fn from_u64(n: u64) -> Option<SendRef> {
        (n & (1 << 63) != 0).then(|| SendRef(TxId::from_raw(n & !(1 << 63))))
    }
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where: transport, peer, local listener, connection (0: none).
    pub flow: Flow,
    /// The message.
    pub bytes: Bytes,
    /// Report a failure to send it with this (stateless sends have none).
    pub on_error: Option<SendRef>,
    /// For a TLS connection the transports must open: the name the
    /// server's certificate must carry (its IP address when `None`).
    pub tls_name: Option<Arc<str>>,
}

/// A resolution to perform: answer with [`Proxy::handle_resolved`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveCall {
    /// The id to answer with.
    pub id: ResolveId,
    /// What to resolve.
    pub target: resolve::Target,
}

/// A router call to make: answer with [`Proxy::handle_decision`]
/// (`Request`, `Failure`) or [`Proxy::handle_reply_decision`] (`Reply`).
#[derive(Debug, Clone)]
pub struct RouterCall {
    /// The id to answer with.
    pub id: RouterCallId,
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
    txs: Table<TxId, Tx>,
    server_keys: HashMap<ServerKey, TxId>,
    /// Server transactions alive (`Settings::max_transactions` bounds them).
    server_txs: usize,
    client_keys: HashMap<ClientKey, TxId>,
    contexts: Table<CtxId, Context>,
    branches: Table<BranchId, Branch>,
    calls: Table<RouterCallId, Pending>,
    resolving: Table<ResolveId, Resolving>,
    timers: BinaryHeap<Reverse<(Instant, TimerKey)>>,
    transmits: VecDeque<Transmit>,
    router_calls: VecDeque<RouterCall>,
    /// INVITEs CANCELled before a final response, for `Router::on_cancel`.
    cancelled: VecDeque<Arc<RequestContext>>,
    /// Registered flows found dead, for `Router::on_flow_failed`.
    failed_flows: VecDeque<FailedFlow>,
    resolve_calls: VecDeque<ResolveCall>,
    stats: Stats,
    draining: bool,
    /// Numbers the unique parts of To tags and Via branches.
    uniq: u64,
    /// Via and Record-Route texts of the listeners.
    local_texts: local::LocalTexts,
    /// Reliable provisional responses sent as a UAS (RFC 3262).
    reliables: reliable::Reliables,
}

impl Proxy {
    /// A proxy with these settings.
    pub fn new(settings: Settings) -> Self {
        // The tables reserve room for a full load (server transactions at
        // the overload limit, as many client ones, and the contexts and
        // branches between them) as address space: their memory follows
        // the entries held at once (`ids.rs`), and they never move under
        // load. The key maps are hash maps, whose buckets all get touched:
        // sized at twice the most keys they hold, because a hash map whose
        // deleted entries fill it up rebuilds in place only while at most
        // half full, and doubles otherwise (a soak's late RSS step).
        let full = settings.max_transactions.min(1 << 20);
        Proxy {
            local_texts: local::LocalTexts::new(&settings),
            txs: Table::with_capacity(2 * full),
            server_keys: HashMap::with_capacity(2 * full),
            server_txs: 0,
            client_keys: HashMap::with_capacity(2 * full),
            contexts: Table::with_capacity(full),
            branches: Table::with_capacity(full),
            settings,
            calls: Table::default(),
            resolving: Table::default(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            router_calls: VecDeque::new(),
            cancelled: VecDeque::new(),
            failed_flows: VecDeque::new(),
            resolve_calls: VecDeque::new(),
            stats: Stats::default(),
            draining: false,
            uniq: 1,
            reliables: reliable::Reliables::default(),
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
            sip::validate::Screened::Response(m) => self.handle_response(m, flow.remote, now),
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
            self.handle_response(msg, flow.remote, now);
        } else {
            self.stats.drop("bad_response");
        }
    }

    /// The router's answer to a `Request` or `Failure` call.
    pub fn handle_decision(&mut self, id: RouterCallId, decision: Decision, now: Instant) {
        if let Decision::Failed(why) = &decision {
            self.stats.router_errors += 1;
            tracing::warn!(error = %why, "router failed");
        }
        match self.calls.remove(id) {
            Some(Pending::Request(ctx)) => self.carry_out(ctx, decision, false, now),
            Some(Pending::Failure(ctx)) => self.carry_out(ctx, decision, true, now),
            Some(Pending::Ack(req)) => self.route_ack(req, decision),
            Some(Pending::Reply { ctx, branch, resp }) => {
                // A request decision for a reply call: treat as Forward.
                self.reply_decided(ctx, branch, *resp, ReplyDecision::Forward, now);
            }
            None => self.stats.drop("unknown_router_call"),
        }
    }

    /// The router's answer to a `Reply` call.
    pub fn handle_reply_decision(
        &mut self,
        id: RouterCallId,
        decision: ReplyDecision,
        now: Instant,
    ) {
        match self.calls.remove(id) {
            Some(Pending::Reply { ctx, branch, resp }) => {
                self.reply_decided(ctx, branch, *resp, decision, now);
            }
            // A reply decision for a request call: treat as Drop.
            Some(Pending::Request(ctx)) => self.carry_out(ctx, Decision::Drop, false, now),
            Some(Pending::Failure(ctx)) => self.carry_out(ctx, Decision::Drop, true, now),
            Some(Pending::Ack(req)) => self.route_ack(req, Decision::Drop),
            None => self.stats.drop("unknown_router_call"),
        }
    }

    /// The destinations of a [`ResolveCall`], in the order to try them
    /// (empty when the target did not resolve).
    pub fn handle_resolved(&mut self, id: ResolveId, destinations: Vec<Destination>, now: Instant) {
        match self.resolving.remove(id) {
            Some(Resolving::Branch(b)) => {
                if let Some(br) = self.branches.get_mut(b) {
                    if br.is_done() {
                        self.branch_finished(b, now);
                        return;
                    }
                    br.set_destinations(destinations);
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
        if let Some(tx) = self.txs.get_mut(what.0) {
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
                TimerKey::Tx(id) => self.tx_timeout(id, at, now),
                TimerKey::TimerC(b) => {
                    let due = self
                        .branches
                        .get(b)
                        .is_some_and(|br| br.timer_c.is_some_and(|d| d <= now));
                    if due {
                        self.timer_c_fired(b, now);
                    }
                }
                TimerKey::Reliable(r) => {
                    if self.reliables.is_armed(r, at) {
                        self.reliable_timeout(r, at, now);
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

    /// The next CANCELled INVITE to tell the router about
    /// (`Router::on_cancel`); at most [`MAX_CANCELLED`] wait.
    pub fn poll_cancelled(&mut self) -> Option<Arc<RequestContext>> {
        self.cancelled.pop_front()
    }

    /// The next registered flow found dead (RFC 5626 §5.3), to tell the
    /// router about (`Router::on_flow_failed`, which ends its binding); at
    /// most [`MAX_FAILED_FLOWS`] wait.
    pub fn poll_flow_failed(&mut self) -> Option<FailedFlow> {
        self.failed_flows.pop_front()
    }

    /// The next resolution to perform. A target whose host is an IP
    /// literal needs none: its destination is used at once.
    pub fn poll_resolve(&mut self) -> Option<ResolveCall> {
        self.resolve_calls.pop_front()
    }

    /// Timer entries queued, stale ones (cancelled lazily) included: a
    /// diagnostic of the timer heap's size.
    pub fn timers_queued(&self) -> usize {
        self.timers.len()
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

    /// No transaction, context, router call or reliable provisional
    /// response (RFC 3262) is in flight.
    pub fn is_idle(&self) -> bool {
        self.txs.is_empty()
            && self.contexts.is_empty()
            && self.calls.is_empty()
            && self.reliables.is_empty()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.transactions = self.txs.len() as u64;
        s.contexts = self.contexts.len() as u64;
        s
    }

    /// A number for the unique part of a tag or branch.
    fn uniq(&mut self) -> u64 {
        self.uniq += 1;
        self.uniq
    }

    /// Queues `req` for `Router::on_cancel` (the oldest goes when full).
    fn notify_cancelled(&mut self, req: Arc<RequestContext>) {
        if self.cancelled.len() >= MAX_CANCELLED {
            self.cancelled.pop_front();
        }
        self.cancelled.push_back(req);
    }

    fn call(&mut self, pending: Pending, kind: RouterCallKind) {
        let id = self.calls.insert(pending);
        self.stats.router_calls += 1;
        self.router_calls.push_back(RouterCall { id, kind });
    }

    /// Drops a context once it answered and nothing of it is in flight.
    fn maybe_cleanup(&mut self, ctx: CtxId) {
        let Some(c) = self.contexts.get(ctx) else {
            return;
        };
        if !c.is_settled() {
            return;
        }
        let busy = c.branches.iter().any(|b| {
            self.branches
                .get(*b)
                .is_some_and(|br| br.client.is_some() || !br.is_done())
        });
        if busy {
            return;
        }
        if let Some(c) = self.contexts.remove(ctx) {
            for b in c.branches {
                self.branches.remove(b);
            }
        }
    }

    fn arm_timer_c(&mut self, b: BranchId, now: Instant) {
        self.arm_branch_timer(b, now + self.settings.timer_c);
    }

    /// Arms the branch's timer (Timer C, or the wait for a CANCELled
    /// INVITE's final response).
    fn arm_branch_timer(&mut self, b: BranchId, at: Instant) {
        if let Some(br) = self.branches.get_mut(b) {
            br.timer_c = Some(at);
            self.timers.push(Reverse((at, TimerKey::TimerC(b))));
            self.compact_timers();
        }
    }

    /// Timers are cancelled lazily: an entry whose transaction or branch is
    /// gone, or was re-armed, stays in the heap until it is due (Timer C:
    /// 3 minutes). When the heap holds twice more entries than there
    /// are transactions and branches (each has at most one live entry),
    /// the stale ones are dropped, so that the heap follows the load
    /// instead of growing for minutes after it (found by `bench/soak.sh`).
    pub(super) fn compact_timers(&mut self) {
        let live = self.txs.len() + self.branches.len() + self.reliables.len();
        if self.timers.len() <= 2 * live + 1024 {
            return;
        }
        let (txs, branches, reliables) = (&self.txs, &self.branches, &self.reliables);
        self.timers.retain(|Reverse((at, key))| match key {
            TimerKey::Tx(id) => txs.get(*id).is_some_and(|t| t.armed == Some(*at)),
            TimerKey::TimerC(b) => branches.get(*b).is_some_and(|br| br.timer_c == Some(*at)),
            TimerKey::Reliable(r) => reliables.is_armed(*r, *at),
        });
    }
}
