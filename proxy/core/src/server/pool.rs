//! The router pool: a fixed set of threads running router calls (a script
//! may block), fed by one bounded queue and answering straight into the
//! core task's answer channel. A call is two hand-offs: core task → pool
//! thread → core task; no task or blocking thread is spawned per call.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::mpsc;

use super::task::Answer;
use crate::decision::{Decision, ReplyDecision};
use crate::proxy::{RouterCall, RouterCallKind};
use crate::router::{FailedFlow, RequestContext, Router};

/// The sending side of the pool; dropping it stops the threads once the
/// calls queued are done.
#[derive(Debug)]
pub(super) struct RouterPool {
    queue: SyncSender<Job>,
}

/// What a pool thread runs.
#[expect(
    clippy::large_enum_variant,
    reason = "a call is as big as before; boxing it would allocate once per router call"
)]
enum Job {
    /// A call and when the core task gives up on it: a call still queued
    /// then is skipped (its answer would be dropped).
    Call(RouterCall, Instant),
    /// `on_cancel`: a notification, nothing answered.
    Cancelled(Arc<RequestContext>),
    /// `on_flow_failed`: a notification, nothing answered.
    FlowFailed(FailedFlow),
}

impl RouterPool {
    /// Starts `threads` threads taking calls from a queue of `capacity`.
    pub(super) fn start(
        router: Arc<dyn Router>,
        threads: usize,
        capacity: usize,
        answers: mpsc::Sender<Answer>,
    ) -> RouterPool {
        let (queue, rx) = sync_channel(capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for n in 0..threads.max(1) {
            let (router, rx, answers) = (router.clone(), rx.clone(), answers.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("anysip-router-{n}"))
                .spawn(move || serve(&*router, &rx, &answers));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a router thread"),
            }
        }
        if started == 0 {
            // Calls then wait in the queue until their timeout fails them.
            tracing::error!("no router thread: every router call will time out");
        }
        RouterPool { queue }
    }

    /// Queues a call due by `deadline`: false when the queue is full (or
    /// the pool is gone).
    pub(super) fn submit(&self, call: RouterCall, deadline: Instant) -> bool {
        self.queue.try_send(Job::Call(call, deadline)).is_ok()
    }

    /// Queues an `on_cancel` notification: false when the queue is full
    /// (it is then not made).
    pub(super) fn submit_cancelled(&self, req: Arc<RequestContext>) -> bool {
        self.queue.try_send(Job::Cancelled(req)).is_ok()
    }

    /// Queues an `on_flow_failed` notification: false when the queue is
    /// full (it is then not made).
    pub(super) fn submit_flow_failed(&self, failed: FailedFlow) -> bool {
        self.queue.try_send(Job::FlowFailed(failed)).is_ok()
    }
}

/// One pool thread: calls until the pool or the core task is gone.
fn serve(router: &dyn Router, rx: &Mutex<Receiver<Job>>, answers: &mpsc::Sender<Answer>) {
    loop {
        let job = {
            let rx = rx.lock().unwrap_or_else(PoisonError::into_inner);
            rx.recv()
        };
        let (call, deadline) = match job {
            Ok(Job::Call(call, deadline)) => (call, deadline),
            Ok(Job::Cancelled(req)) => {
                if catch_unwind(AssertUnwindSafe(|| router.on_cancel(&req))).is_err() {
                    tracing::warn!("router on_cancel panicked");
                }
                continue;
            }
            Ok(Job::FlowFailed(failed)) => {
                let ran = catch_unwind(AssertUnwindSafe(|| router.on_flow_failed(&failed)));
                if ran.is_err() {
                    tracing::warn!("router on_flow_failed panicked");
                }
                continue;
            }
            Err(_) => return,
        };
        if Instant::now() >= deadline {
            continue;
        }
        // Blocks when the answer channel is full: answers are never lost.
        if answers.blocking_send(run(router, call)).is_err() {
            return;
        }
    }
}

/// Runs one call; a panic becomes a failure (`Forward` for `on_reply`).
fn run(router: &dyn Router, call: RouterCall) -> Answer {
    let id = call.id;
    let reply = matches!(call.kind, RouterCallKind::Reply(..));
    let out = catch_unwind(AssertUnwindSafe(|| match &call.kind {
        RouterCallKind::Request(req) => Answer::Decision(id, router.on_request(req)),
        RouterCallKind::Failure(req, best) => Answer::Decision(id, router.on_failure(req, best)),
        RouterCallKind::Reply(req, resp) => Answer::Reply(id, router.on_reply(req, resp)),
    }));
    match out {
        Ok(a) => a,
        Err(_) if reply => {
            tracing::warn!("router on_reply panicked");
            Answer::Reply(id, ReplyDecision::Forward)
        }
        Err(_) => Answer::Decision(id, Decision::Failed("router panicked".into())),
    }
}
