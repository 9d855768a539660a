//! How branches end: a final non-2xx response (received, or made here
//! for a failure), the next sequential target, and once every branch
//! ended, `on_failure` with the best response (§16.7 steps 5–6).

use std::time::Instant;

use super::ids::{BranchId, TxId};
use super::state::Final;
use super::{build, Pending, Proxy, RouterCallKind};
use crate::decision::Reply;
use crate::router::ResponseContext;

impl Proxy {
    /// Ends a branch that will send nothing more (Drop, bad target, no
    /// destination) or records a synthetic final response for it.
    pub(super) fn branch_result(&mut self, b: BranchId, status: u16, now: Instant) {
        let Some(br) = self.branches.get(b) else {
            return;
        };
        let Some(c) = self.contexts.get(br.ctx) else {
            return;
        };
        let req = c.req.clone();
        let tag = self.new_tag();
        match build::reply(
            &req.message,
            &Reply::status(status),
            &tag,
            self.settings.server_header.as_deref(),
        )
        .and_then(build::reparse)
        {
            Ok(resp) => self.final_response(b, resp, true, now),
            Err(_) => self.branch_finished(b, now),
        }
    }

    /// A client transaction of branch `b` failed (timeout or transport):
    /// RFC 3263 §4.3, the next destination; else a final `status`.
    pub(super) fn branch_failed(&mut self, b: BranchId, tx: TxId, status: u16, now: Instant) {
        let Some(br) = self.branches.get_mut(b) else {
            return;
        };
        if br.client != Some(tx) || br.is_done() {
            return;
        }
        br.client = None;
        br.timer_c = None;
        if br.may_fail_over() {
            self.try_next_destination(b, now);
        } else {
            self.branch_result(b, status, now);
        }
    }

    /// A final non-2xx response (received or synthetic) for branch `b`.
    pub(super) fn final_response(
        &mut self,
        b: BranchId,
        resp: sip::Message,
        local: bool,
        now: Instant,
    ) {
        let Some(br) = self.branches.get(b) else {
            return;
        };
        if br.is_done() {
            return;
        }
        // RFC 5626 §5.3: a dead flow is replaced by the instance's next.
        let Some((resp, local)) = self.flow_outcome(b, resp, local, now) else {
            return;
        };
        let Some(br) = self.branches.get(b) else {
            return;
        };
        let status = resp.status().unwrap_or(500);
        let resp = if br.cancel == super::CancelState::TimedOut && status != 408 {
            // Timer C fired: the branch counts as 408 (§16.8).
            self.timeout_response(br.ctx).unwrap_or(resp)
        } else {
            resp
        };
        let Some(br) = self.branches.get_mut(b) else {
            return;
        };
        let uri = br.uri.clone();
        let source = if local { None } else { br.source };
        let ctx = br.ctx;
        let six_xx = (600..700).contains(&status);
        if six_xx {
            // A 6xx ends the fork at once: CANCEL the rest, answer it.
            br.finish();
        }
        let Some(c) = self.contexts.get_mut(ctx) else {
            return self.branch_finished(b, now);
        };
        if six_xx {
            c.end_fork();
        }
        c.finals.push(Final {
            msg: resp,
            uri,
            local,
            source,
        });
        if six_xx {
            let forwarding = c.is_forwarding();
            self.cancel_branches(ctx, Some(b), now);
            if forwarding {
                return self.send_best(ctx, now);
            }
        }
        self.branch_finished(b, now);
    }

    /// A 408 for `ctx`'s request, as a branch's final response.
    fn timeout_response(&mut self, ctx: super::CtxId) -> Option<sip::Message> {
        let req = self.contexts.get(ctx)?.req.clone();
        let tag = self.new_tag();
        build::reply(
            &req.message,
            &Reply::status(408),
            &tag,
            self.settings.server_header.as_deref(),
        )
        .and_then(build::reparse)
        .ok()
    }

    /// Branch `b` ended: the next sequential target, or, once every branch
    /// ended, the best response (through `on_failure`).
    pub(super) fn branch_finished(&mut self, b: BranchId, now: Instant) {
        let Some(br) = self.branches.get_mut(b) else {
            return;
        };
        br.finish();
        br.timer_c = None;
        let ctx = br.ctx;
        let Some(c) = self.contexts.get_mut(ctx) else {
            return;
        };
        if !c.is_forwarding() {
            return self.maybe_cleanup(ctx);
        }
        if let Some(next) = c.next_queued() {
            let b = self.add_branch(ctx, next);
            return self.launch(b, now);
        }
        let all_done = c
            .branches
            .iter()
            .all(|x| self.branches.get(*x).is_none_or(|br| br.is_done()));
        if !all_done || !c.replies.is_idle() {
            return;
        }
        let req = c.req.clone();
        let Some((best, uri, source)) = self.best_response(ctx) else {
            return self.reply_ctx(ctx, &req.message, &Reply::status(408), now);
        };
        let Some(c) = self.contexts.get_mut(ctx) else {
            return;
        };
        c.ask_again();
        let rc = ResponseContext {
            message: best,
            branch_uri: uri,
            source,
            hooks: c.hooks.clone(),
        };
        self.call(Pending::Failure(ctx), RouterCallKind::Failure(req, rc));
    }
}
