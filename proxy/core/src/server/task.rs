//! The core task: owns the [`Proxy`], feeds it, performs its outputs.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use resolve::Destination;
use tokio::sync::{mpsc, watch, Semaphore};

use super::{Control, DriverCounters};
use crate::decision::{Decision, ReplyDecision};
use crate::proxy::{Flow, Proxy, ResolveId, RouterCall, RouterCallId, RouterCallKind, Transmit};
use crate::router::Router;

/// Answers coming back from router calls and resolutions.
#[derive(Debug)]
enum Answer {
    Decision(RouterCallId, Decision),
    Reply(RouterCallId, ReplyDecision),
    Resolved(ResolveId, Vec<Destination>),
}

pub(super) struct Core {
    proxy: Proxy,
    router: Arc<dyn Router>,
    resolver: resolve::Resolver,
    outbox: net::Outbox,
    permits: Arc<Semaphore>,
    router_timeout: std::time::Duration,
    answers_tx: mpsc::UnboundedSender<Answer>,
    answers_rx: mpsc::UnboundedReceiver<Answer>,
    idle: watch::Sender<bool>,
    shared: Arc<DriverCounters>,
}

impl Core {
    pub(super) fn new(
        proxy: Proxy,
        router: Arc<dyn Router>,
        resolver: resolve::Resolver,
        outbox: net::Outbox,
        driver: super::DriverSettings,
        idle: watch::Sender<bool>,
        shared: Arc<DriverCounters>,
    ) -> Self {
        let (answers_tx, answers_rx) = mpsc::unbounded_channel();
        Core {
            proxy,
            router,
            resolver,
            outbox,
            permits: Arc::new(Semaphore::new(driver.router_concurrency.max(1))),
            router_timeout: driver.router_timeout,
            answers_tx,
            answers_rx,
            idle,
            shared,
        }
    }

    pub(super) async fn run(
        mut self,
        mut messages: mpsc::Receiver<(Bytes, Flow)>,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) {
        let mut open = true;
        let mut controlled = true;
        loop {
            let deadline = self.proxy.poll_timeout();
            let sleep = async move {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                m = messages.recv(), if open => match m {
                    Some((bytes, flow)) => {
                        if !self.proxy.is_draining()
                            && self.shared.draining.load(std::sync::atomic::Ordering::Relaxed)
                        {
                            tracing::info!("core draining");
                            self.proxy.drain();
                        }
                        self.proxy.handle_bytes(bytes, flow, Instant::now())
                    }
                    None => open = false,
                },
                Some(a) = self.answers_rx.recv() => {
                    let now = Instant::now();
                    match a {
                        Answer::Decision(id, d) => self.proxy.handle_decision(id, d, now),
                        Answer::Reply(id, d) => self.proxy.handle_reply_decision(id, d, now),
                        Answer::Resolved(id, d) => self.proxy.handle_resolved(id, d, now),
                    }
                }
                c = control.recv(), if controlled => match c {
                    Some(Control::Stats(tx)) => {
                        let _ = tx.send(self.proxy.stats());
                    }
                    None => controlled = false,
                },
                () = sleep => self.proxy.handle_timeout(Instant::now()),
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
                self.spawn_router_call(call);
            }
            while let Some(r) = self.proxy.poll_resolve() {
                busy = true;
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
                    let _ = answers.send(Answer::Resolved(r.id, dests));
                });
            }
            if !busy {
                return;
            }
        }
    }

    async fn transmit(&mut self, t: Transmit) {
        let f = t.flow;
        let send = if !f.transport.is_stream() {
            net::Send::Udp {
                from: f.local,
                to: f.remote,
                bytes: t.bytes,
            }
        } else if f.connection != 0 {
            net::Send::Conn {
                id: f.connection,
                peer: f.remote,
                bytes: t.bytes,
                close: false,
                fallback: None,
            }
        } else {
            // No outbound connections yet (see the module documentation).
            tracing::debug!(to = %f.remote, "no connection to send on");
            if let Some(r) = t.on_error {
                self.proxy.handle_transport_error(r, Instant::now());
            }
            return;
        };
        if let Err(e) = self.outbox.send(send).await {
            tracing::debug!(error = %e, "send failed");
            if let Some(r) = t.on_error {
                self.proxy.handle_transport_error(r, Instant::now());
            }
        }
    }

    fn spawn_router_call(&self, call: RouterCall) {
        let router = self.router.clone();
        let permits = self.permits.clone();
        let answers = self.answers_tx.clone();
        let limit = self.router_timeout;
        tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            let id = call.id;
            let reply_call = matches!(call.kind, RouterCallKind::Reply(..));
            let work = tokio::task::spawn_blocking(move || match call.kind {
                RouterCallKind::Request(req) => Answer::Decision(id, router.on_request(&req)),
                RouterCallKind::Failure(req, best) => {
                    Answer::Decision(id, router.on_failure(&req, &best))
                }
                RouterCallKind::Reply(req, resp) => Answer::Reply(id, router.on_reply(&req, &resp)),
            });
            let Ok(out) = tokio::time::timeout(limit, work).await else {
                tracing::warn!(?limit, "router call timed out");
                let answer = if reply_call {
                    Answer::Reply(id, ReplyDecision::Forward)
                } else {
                    Answer::Decision(id, Decision::Failed("router timed out".into()))
                };
                let _ = answers.send(answer);
                return;
            };
            let answer = match out {
                Ok(a) => a,
                Err(e) if reply_call => {
                    tracing::warn!(error = %e, "router on_reply panicked");
                    Answer::Reply(id, ReplyDecision::Forward)
                }
                Err(e) => Answer::Decision(id, Decision::Failed(format!("router panicked: {e}"))),
            };
            let _ = answers.send(answer);
        });
    }
}
