//! The router pool: a fixed set of threads running router calls (a script
//! may block), fed by one bounded queue ([`Queue`]: the thread idle last
//! takes the next call) and answering straight into the core task's
//! answer channel. A call is two hand-offs: core task → pool thread →
//! core task; no task or blocking thread is spawned per call.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::queue::Queue;
use super::task::Answer;
use crate::decision::{Decision, ReplyDecision};
use crate::proxy::{RouterCall, RouterCallKind};
use crate::router::{FailedFlow, RequestContext, Router};

/// The sending side of the pool; dropping it stops the threads once the
/// calls queued are done.
#[derive(Debug)]
pub(super) struct RouterPool {
    queue: Arc<Queue<Job>>,
}

impl Drop for RouterPool {
    fn drop(&mut self) {
        self.queue.close();
    }
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
        let threads = threads.max(1);
        let queue = Arc::new(Queue::new(threads, capacity));
        let mut started = 0;
        for n in 0..threads {
            let (router, queue, answers) = (router.clone(), queue.clone(), answers.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("anysip-router-{n}"))
                .spawn(move || router.run_thread(&mut || serve(&*router, &queue, n, &answers)));
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
        self.queue
            .push(Job::Call(call, deadline), Instant::now())
            .is_ok()
    }

    /// When [`RouterPool::spill`] is due (see [`Queue::spill_at`]).
    pub(super) fn spill_at(&self) -> Option<Instant> {
        self.queue.spill_at()
    }

    /// Gives a call that waited too long for the running thread to an
    /// idle one.
    pub(super) fn spill(&self, now: Instant) {
        self.queue.spill(now);
    }

    /// Queues an `on_cancel` notification: false when the queue is full
    /// (it is then not made).
    pub(super) fn submit_cancelled(&self, req: Arc<RequestContext>) -> bool {
        self.queue.push(Job::Cancelled(req), Instant::now()).is_ok()
    }

    /// Queues an `on_flow_failed` notification: false when the queue is
    /// full (it is then not made).
    pub(super) fn submit_flow_failed(&self, failed: FailedFlow) -> bool {
        self.queue
            .push(Job::FlowFailed(failed), Instant::now())
            .is_ok()
    }
}

/// Pool thread `me`: calls until the pool or the core task is gone.
fn serve(router: &dyn Router, queue: &Queue<Job>, me: usize, answers: &mpsc::Sender<Answer>) {
    loop {
        let (call, deadline) = match queue.pop(me) {
            Some(Job::Call(call, deadline)) => (call, deadline),
            Some(Job::Cancelled(req)) => {
                if catch_unwind(AssertUnwindSafe(|| router.on_cancel(&req))).is_err() {
                    tracing::warn!("router on_cancel panicked");
                }
                continue;
            }
            Some(Job::FlowFailed(failed)) => {
                let ran = catch_unwind(AssertUnwindSafe(|| router.on_flow_failed(&failed)));
                if ran.is_err() {
                    tracing::warn!("router on_flow_failed panicked");
                }
                continue;
            }
            None => return,
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
