//! The core task: owns the [`Proxy`], feeds it, performs its outputs.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use resolve::Destination;
use tokio::sync::{mpsc, watch};

use super::deadlines::Deadlines;
use super::pool::RouterPool;
use super::{Control, DriverCounters, DriverSettings};
use crate::decision::{Decision, Reply, ReplyDecision};
use crate::proxy::{
    Flow, Proxy, ResolveCall, ResolveId, RouterCall, RouterCallId, RouterCallKind, Transmit,
};
use crate::router::Router;

/// Answers coming back from router calls and resolutions.
#[derive(Debug)]
pub(super) enum Answer {
    Decision(RouterCallId, Decision),
    Reply(RouterCallId, ReplyDecision),
    Resolved(ResolveId, Vec<Destination>),
}

pub(super) struct Core {
    proxy: Proxy,
    pool: RouterPool,
    deadlines: Deadlines,
    resolver: resolve::Resolver,
    /// Resolutions in flight, at most `max_resolutions`.
    resolutions: usize,
    max_resolutions: usize,
    outbox: net::Outbox,
    answers_tx: mpsc::Sender<Answer>,
    answers_rx: mpsc::Receiver<Answer>,
    idle: watch::Sender<bool>,
    shared: Arc<DriverCounters>,
}

impl Core {
    pub(super) fn new(
        proxy: Proxy,
        router: Arc<dyn Router>,
        resolver: resolve::Resolver,
        outbox: net::Outbox,
        driver: DriverSettings,
        idle: watch::Sender<bool>,
        shared: Arc<DriverCounters>,
    ) -> Self {
        // Room for every answer that can be in flight at once: the calls
        // queued and running in the pool, and the resolutions. The senders
        // wait rather than lose an answer should it ever be full.
        let room = driver.router_queue + driver.router_concurrency + driver.max_resolutions;
        let (answers_tx, answers_rx) = mpsc::channel(room.max(1));
        let pool = RouterPool::start(
            router,
            driver.router_concurrency,
            driver.router_queue,
            answers_tx.clone(),
        );
        Core {
            proxy,
            pool,
            deadlines: Deadlines::new(driver.router_timeout),
            resolver,
            resolutions: 0,
            max_resolutions: driver.max_resolutions.max(1),
            outbox,
            answers_tx,
            answers_rx,
            idle,
            shared,
        }
    }

    pub(super) async fn run(
        mut self,
        mut messages: mpsc::Receiver<(Bytes, Flow)>,
        mut control: mpsc::Receiver<Control>,
        mut failed: mpsc::Receiver<crate::proxy::SendRef>,
    ) {
        let mut open = true;
        let mut controlled = true;
        // One timer, moved only when the earliest deadline changes: a
        // timer made afresh for every message registers with the runtime's
        // time driver and leaves it again on each turn.
        let mut armed: Option<Instant> = None;
        let sleep = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(sleep);
        loop {
            let deadline = [
                self.proxy.poll_timeout(),
                self.deadlines.next(),
                self.pool.spill_at(),
            ]
            .into_iter()
            .flatten()
            .min();
            if let Some(d) = deadline.filter(|d| armed != Some(*d)) {
                sleep.as_mut().reset(tokio::time::Instant::from_std(d));
            }
            armed = deadline;
            tokio::select! {
                m = messages.recv(), if open => match m {
                    Some((bytes, flow)) => self.message(bytes, flow),
                    None => open = false,
                },
                Some(a) = self.answers_rx.recv() => self.answer(a),
                Some(r) = failed.recv() => {
                    self.proxy.handle_transport_error(r, Instant::now());
                }
                c = control.recv(), if controlled => match c {
                    Some(Control::Stats(tx)) => {
                        let _ = tx.send(self.proxy.stats());
                    }
                    None => controlled = false,
                },
                () = &mut sleep, if armed.is_some() => self.timeout(),
            }
            if !open && !controlled {
                return;
            }
            self.flush().await;
            let idle = self.proxy.is_idle();
            self.idle
                .send_if_modified(|v| std::mem::replace(v, idle) != idle);
        }
    }

    fn message(&mut self, bytes: Bytes, flow: Flow) {
        if !self.proxy.is_draining() && self.shared.draining.load(Ordering::Relaxed) {
            tracing::info!("core draining");
            self.proxy.drain();
        }
        self.proxy.handle_bytes(bytes, flow, Instant::now());
    }

    fn answer(&mut self, a: Answer) {
        let now = Instant::now();
        match a {
            Answer::Decision(id, d) => {
                if self.deadlines.answered(id) {
                    self.proxy.handle_decision(id, d, now);
                }
            }
            Answer::Reply(id, d) => {
                if self.deadlines.answered(id) {
                    self.proxy.handle_reply_decision(id, d, now);
                }
            }
            Answer::Resolved(id, d) => {
                self.resolutions = self.resolutions.saturating_sub(1);
                self.proxy.handle_resolved(id, d, now);
            }
        }
    }

    /// The proxy's timers, and router calls not answered in time: those
    /// fail (the request gets 500; `on_reply` counts as `Forward`); the
    /// thread running one is left to finish, its answer dropped.
    fn timeout(&mut self) {
        let now = Instant::now();
        self.pool.spill(now);
        for (id, reply) in self.deadlines.expire(now) {
            tracing::warn!("router call timed out");
            self.shared.router_timeouts.fetch_add(1, Ordering::Relaxed);
            if reply {
                self.proxy
                    .handle_reply_decision(id, ReplyDecision::Forward, now);
            } else {
                let failed = Decision::Failed("router timed out".into());
                self.proxy.handle_decision(id, failed, now);
            }
        }
        if self.proxy.poll_timeout().is_some_and(|t| t <= now) {
            self.proxy.handle_timeout(now);
        }
    }

    /// Performs everything the proxy asked for.
    async fn flush(&mut self) {
        loop {
            let mut busy = false;
            while let Some(t) = self.proxy.poll_transmit() {
                busy = true;
                self.transmit(t).await;
            }
            while let Some(call) = self.proxy.poll_router_call() {
                busy = true;
                self.router_call(call);
            }
            while let Some(req) = self.proxy.poll_cancelled() {
                busy = true;
                if !self.pool.submit_cancelled(req) {
                    tracing::debug!("router queue full: on_cancel not made");
                }
            }
            while let Some(failed) = self.proxy.poll_flow_failed() {
                busy = true;
                if !self.pool.submit_flow_failed(failed) {
                    // The binding stays: the next request to it fails
                    // over again (a 430 comes at once).
                    tracing::warn!("router queue full: a failed flow's binding is not ended");
                    self.shared
                        .router_queue_full
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            while let Some(r) = self.proxy.poll_resolve() {
                busy = true;
                self.resolve(r);
            }
            if !busy {
                return;
            }
        }
    }

    /// Hands a router call to the pool. When its queue is full the call is
    /// answered here at once, so that nothing waits without bound: a new
    /// request gets 503 with Retry-After (the UAC may try another core; an
    /// INVITE already had its 100, so silence would hang it until Timer
    /// C), `on_failure` sends the best response, `on_reply` forwards.
    fn router_call(&mut self, call: RouterCall) {
        let (id, reply) = (call.id, matches!(call.kind, RouterCallKind::Reply(..)));
        let failure = matches!(call.kind, RouterCallKind::Failure(..));
        let now = Instant::now();
        match self.pool.submit(call, self.deadlines.deadline(now)) {
            true => self.deadlines.start(id, reply, now),
            false => {
                self.shared
                    .router_queue_full
                    .fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                if reply {
                    self.proxy
                        .handle_reply_decision(id, ReplyDecision::Forward, now);
                } else if failure {
                    self.proxy.handle_decision(id, Decision::Drop, now);
                } else {
                    let mut r = Reply::status(503);
                    r.reason = Some("Overloaded".into());
                    r.headers.push(("Retry-After".into(), "5".into()));
                    self.proxy.handle_decision(id, Decision::Reply(r), now);
                }
            }
        }
    }

    /// Starts a resolution, unless `max_resolutions` are in flight: then
    /// the target counts as unresolved (its branch ends with 503).
    fn resolve(&mut self, r: ResolveCall) {
        if self.resolutions >= self.max_resolutions {
            self.shared
                .resolutions_refused
                .fetch_add(1, Ordering::Relaxed);
            return self.proxy.handle_resolved(r.id, Vec::new(), Instant::now());
        }
        self.resolutions += 1;
        let resolver = self.resolver.clone();
        let answers = self.answers_tx.clone();
        tokio::spawn(async move {
            let dests = match resolver.resolve(&r.target).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::debug!(error = %e, "resolution failed");
                    Vec::new()
                }
            };
            let _ = answers.send(Answer::Resolved(r.id, dests)).await;
        });
    }

    async fn transmit(&mut self, t: Transmit) {
        let f = t.flow;
        let send = if !f.transport.is_stream() {
            net::Outgoing::Udp {
                from: f.local,
                to: f.remote,
                bytes: t.bytes,
                tag: net::SendTag::NONE,
            }
        } else if f.connection != 0 {
            net::Outgoing::Conn {
                id: f.connection,
                peer: f.remote,
                bytes: t.bytes,
                close: false,
                fallback: None,
                tag: net::SendTag::NONE,
            }
        } else {
            // A connection to open (or opened before): what becomes of the
            // message is reported to `CoreDispatch::on_sent` if it waits
            // for the connect, and comes back as `failed` here.
            net::Outgoing::Dial {
                key: net::DialKey {
                    transport: f.transport,
                    to: f.remote,
                    server_name: t.tls_name,
                    from: Some(f.local.ip()),
                },
                bytes: t.bytes,
                fallback: None,
                tag: t
                    .on_error
                    .map_or(net::SendTag::NONE, |r| net::SendTag(r.to_u64())),
            }
        };
        if let Err(e) = self.outbox.send(send).await {
            tracing::debug!(error = %e, "send failed");
            if let Some(r) = t.on_error {
                self.proxy.handle_transport_error(r, Instant::now());
            }
        }
    }
}
