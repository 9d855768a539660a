//! Cancelling branches: CANCEL (§9.1) once a branch had a provisional
//! response, §16.7 step 10 (the other branches after a 2xx or 6xx),
//! Timer C (§16.8), and giving up on a CANCELled INVITE that never ends.

use std::time::Instant;

use sip::matching::ClientKey;
use sip::transaction::{ClientNonInvite, Reliability};
use sip::Method;

use super::ids::{BranchId, CtxId};
use super::{build, CancelState, Proxy, Tx, TxKind};

impl Proxy {
    /// CANCELs every pending branch of `ctx` but `except`.
    pub(super) fn cancel_branches(&mut self, ctx: CtxId, except: Option<BranchId>, now: Instant) {
        let Some(c) = self.contexts.get(ctx) else {
            return;
        };
        let list: Vec<BranchId> = c
            .branches
            .iter()
            .copied()
            .filter(|b| Some(*b) != except)
            .collect();
        for b in list {
            let Some(br) = self.branches.get_mut(b) else {
                continue;
            };
            if br.is_done() || br.cancel != CancelState::No {
                continue;
            }
            br.timer_c = None;
            match br.client {
                None => br.finish(),
                Some(_) if br.is_proceeding() => self.send_cancel(b, CancelState::Sent, now),
                Some(_) => br.cancel = CancelState::Wanted,
            }
        }
    }

    /// Sends a CANCEL for branch `b`'s INVITE (§9.1), in its own
    /// transaction to the same destination; `why` is `Sent` or `TimedOut`.
    pub(super) fn send_cancel(&mut self, b: BranchId, why: CancelState, now: Instant) {
        let Some(br) = self.branches.get_mut(b) else {
            return;
        };
        br.cancel = why;
        let Some(tx) = br.client.and_then(|t| self.txs.get(t)) else {
            return;
        };
        let TxKind::Client {
            request: Some(request),
            key,
            ..
        } = &tx.kind
        else {
            return;
        };
        if request.method() != Some(&Method::Invite) {
            return;
        }
        let bytes = build::cancel(request);
        let key = ClientKey {
            branch: key.branch.clone(),
            method: Method::Cancel,
        };
        let flow = tx.flow;
        let span = tx.span.clone();
        let rel = Reliability::from_reliable(flow.transport.is_stream());
        let machine = ClientNonInvite::new(now, self.settings.timers, rel, bytes);
        let tls_name = tx.tls_name.clone();
        let id = self.insert_tx(Tx {
            machine: machine.into(),
            flow,
            tls_name,
            kind: TxKind::Client {
                key,
                branch: None,
                request: None,
            },
            armed: None,
            span,
        });
        self.drive(id, now);
        let wait = self.settings.timers.transaction_timeout();
        self.arm_branch_timer(b, now + wait);
    }

    /// Timer C (§16.8): CANCEL the branch if it had a provisional response
    /// (it then counts as 408), else treat it as a 408 now.
    pub(super) fn timer_c_fired(&mut self, b: BranchId, now: Instant) {
        let Some(br) = self.branches.get_mut(b) else {
            return;
        };
        br.timer_c = None;
        if br.is_done() {
            return;
        }
        if br.cancel.is_sent() {
            // No final response 64*T1 after our CANCEL (§9.1): give up.
            tracing::debug!("no final response after CANCEL");
            let (ctx, client) = (br.ctx, br.client.take());
            if let Some(t) = client {
                self.remove_tx(t);
            }
            if self.contexts.get(ctx).is_some_and(|c| !c.is_answered()) {
                return self.branch_result(b, 408, now);
            }
            return self.branch_finished(b, now);
        }
        tracing::debug!("Timer C fired");
        if br.is_proceeding() {
            if br.cancel == CancelState::No {
                self.send_cancel(b, CancelState::TimedOut, now);
            }
        } else {
            br.client = None;
            self.branch_result(b, 408, now);
        }
    }
}
