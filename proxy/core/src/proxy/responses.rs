//! Responses on branches (§16.7): matched to their client transaction,
//! asked about (`on_reply`) in order, provisional and 2xx forwarded at
//! once; stray responses (§16.11-like). Final non-2xx responses go on in
//! `outcome.rs`.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use sip::matching::ClientKey;
use sip::transaction::Transaction;
use sip::{Message, Method};

use super::ids::{BranchId, CtxId, TxId};
use super::{build, route, CancelState, Pending, Proxy, RouterCallKind, Transmit, TxKind};
use crate::decision::{HeaderEdit, ReplyDecision};
use crate::router::ResponseContext;

impl Proxy {
    pub(super) fn handle_response(&mut self, msg: Message, source: SocketAddr, now: Instant) {
        let status = msg.status().unwrap_or(0);
        self.stats.responses[crate::stats::Stats::class(status)] += 1;
        let Ok(key) = ClientKey::for_response(&msg) else {
            return self.stats.drop("bad_response");
        };
        let Some(&id) = self.client_keys.get(&key) else {
            return self.stray(&msg);
        };
        let Some(tx) = self.txs.get_mut(id) else {
            return self.stray(&msg);
        };
        let (disposition, branch) = match (&mut tx.machine, &tx.kind) {
            (
                Transaction::ClientInvite(m),
                TxKind::Client {
                    request: Some(request),
                    branch,
                    ..
                },
            ) => (
                m.handle_response(now, status, || build::ack(request, &msg)),
                *branch,
            ),
            (Transaction::ClientNonInvite(m), TxKind::Client { branch, .. }) => {
                (m.handle_response(now, status), *branch)
            }
            _ => return self.stats.drop("response_to_server_tx"),
        };
        self.drive(id, now);
        let (true, Some(b)) = (disposition.is_deliver(), branch) else {
            return;
        };
        if let Some(br) = self.branches.get_mut(b) {
            br.source = Some(source);
        }
        self.branch_response(b, id, msg, now);
    }

    /// A response matching no client transaction: a 2xx to an INVITE goes
    /// on per the next Via (RFC 6026: the INVITE transaction may be gone);
    /// anything else is dropped.
    fn stray(&mut self, msg: &Message) {
        let invite_2xx = msg.status().is_some_and(|s| (200..300).contains(&s))
            && msg.cseq().is_ok_and(|c| c.method() == Method::Invite);
        if !invite_2xx {
            return self.stats.drop("stray_response");
        }
        let ours = msg.top_via().is_ok_and(|v| {
            v.branch()
                .is_some_and(|b| b.starts_with(route::BRANCH_MARK))
                && route::is_own_host(&self.settings, &v.host, v.port, v.transport, false)
        });
        if !ours {
            return self.stats.drop("stray_response");
        }
        match build::strip_top_via_bytes(msg) {
            Ok(resp) => self.forward_by_via(resp),
            Err(_) => self.stats.drop("stray_response"),
        }
    }

    /// Sends a response statelessly to its top Via (UDP only).
    pub(super) fn forward_by_via(&mut self, resp: Bytes) {
        let Ok(resp) = build::reparse(resp) else {
            return self.stats.drop("bad_response");
        };
        let Ok(via) = resp.top_via() else {
            return self.stats.drop("no_via");
        };
        let (Some((ip, port)), true) = (
            via.response_target(),
            via.transport.eq_ignore_ascii_case("UDP"),
        ) else {
            return self.stats.drop("stateless_response_target");
        };
        let to = std::net::SocketAddr::new(ip, port);
        let Some(l) = route::listener_for(&self.settings, sip::Transport::Udp, to) else {
            return self.stats.drop("no_listener");
        };
        self.stats.replies[crate::stats::Stats::class(resp.status().unwrap_or(0))] += 1;
        self.transmits.push_back(Transmit {
            flow: super::Flow {
                transport: sip::Transport::Udp,
                remote: to,
                local: l.addr,
                connection: 0,
            },
            bytes: resp.as_bytes().clone(),
            on_error: None,
            tls_name: None,
        });
    }

    /// A response a client transaction delivered for branch `b`.
    fn branch_response(&mut self, b: BranchId, tx: TxId, msg: Message, now: Instant) {
        let status = msg.status().unwrap_or(0);
        let Some(br) = self.branches.get_mut(b) else {
            return;
        };
        let ctx = br.ctx;
        if status < 200 {
            br.proceeding();
            let rearm = status > 100 && br.timer_c.is_some();
            let cancel = br.cancel == CancelState::Wanted;
            if rearm {
                self.arm_timer_c(b, now);
            }
            if cancel {
                self.send_cancel(b, CancelState::Sent, now);
            }
        } else {
            br.timer_c = None;
            let fail_over = status == 503
                && br.has_more_destinations()
                && br.cancel == CancelState::No
                && br.client == Some(tx);
            if fail_over {
                // RFC 3263 §4.3: the next destination.
                br.client = None;
                self.try_next_destination(b, now);
                return;
            }
        }
        if status == 100 {
            return;
        }
        let ask_all = self.settings.ask_on_reply;
        let ask = self.contexts.get(ctx).is_some_and(|c| {
            // After the final response only a 2xx still matters to the router.
            c.asks_on_reply(ask_all) && !(c.is_answered() && status >= 300)
        });
        if !ask && status < 300 {
            // Passed on as bytes: nothing here needs it parsed again.
            return match build::strip_top_via_bytes(&msg) {
                Ok(bytes) => self.pass_on(b, status, bytes, now),
                Err(_) => self.stats.drop("bad_response"),
            };
        }
        let resp = match build::strip_top_via(&msg) {
            Ok(r) => r,
            Err(_) => return self.stats.drop("bad_response"),
        };
        match self.contexts.get_mut(ctx) {
            Some(c) if ask => {
                c.replies.push(b, resp);
                self.next_reply_call(ctx);
            }
            _ => self.process_response(b, resp, &[], now),
        }
    }

    /// Asks `on_reply` about the next queued response of `ctx` (one call at
    /// a time, so that responses keep their order).
    pub(super) fn next_reply_call(&mut self, ctx: CtxId) {
        let Some(c) = self.contexts.get_mut(ctx) else {
            return;
        };
        if c.replies.is_asking() {
            return;
        }
        let Some((branch, resp)) = c.replies.ask_next() else {
            self.maybe_cleanup(ctx);
            return;
        };
        let req = c.req.clone();
        let hooks = c.hooks.clone();
        let (branch_uri, source) = self
            .branches
            .get(branch)
            .map(|br| (br.uri.clone(), br.source))
            .unwrap_or_default();
        let rc = ResponseContext {
            message: resp.clone(),
            branch_uri,
            source,
            hooks,
        };
        self.call(
            Pending::Reply {
                ctx,
                branch,
                resp: Box::new(resp),
            },
            RouterCallKind::Reply(req, rc),
        );
    }

    /// The router's answer about a response of `branch`: carried out, then
    /// the next response waiting is asked about.
    pub(super) fn reply_decided(
        &mut self,
        ctx: CtxId,
        branch: BranchId,
        resp: Message,
        decision: ReplyDecision,
        now: Instant,
    ) {
        if let Some(c) = self.contexts.get_mut(ctx) {
            c.replies.answered();
        }
        match decision {
            ReplyDecision::Forward => self.process_response(branch, resp, &[], now),
            ReplyDecision::ForwardEdited(edits) => self.process_response(branch, resp, &edits, now),
            ReplyDecision::Drop => {
                self.stats.drop("router_dropped_response");
                self.response_dropped(branch, &resp, now);
            }
            ReplyDecision::Reject(r) => self.reject_on_provisional(ctx, branch, resp, &r, now),
        }
        self.next_reply_call(ctx);
    }

    /// A router's `Reject` for `resp`: on a provisional response of a
    /// request not answered yet, `r` answers it (a final status, not
    /// 2xx) and every branch is CANCELled (§16.10 as for a CANCEL); on
    /// anything else the response goes on as `Forward`.
    fn reject_on_provisional(
        &mut self,
        ctx: CtxId,
        branch: BranchId,
        resp: Message,
        r: &crate::decision::Reply,
        now: Instant,
    ) {
        let provisional = resp.status().is_some_and(|s| s < 200);
        let rejectable = (300..700).contains(&r.status);
        let Some(c) = self.contexts.get_mut(ctx) else {
            return;
        };
        if !provisional || !rejectable || c.is_answered() {
            return self.process_response(branch, resp, &[], now);
        }
        c.end_fork();
        let req = c.req.clone();
        self.reply_ctx(ctx, &req.message, r, now);
        self.cancel_branches(ctx, None, now);
        self.maybe_cleanup(ctx);
    }

    /// §16.7 for one response (our Via removed), after `on_reply`.
    pub(super) fn process_response(
        &mut self,
        b: BranchId,
        resp: Message,
        edits: &[HeaderEdit],
        now: Instant,
    ) {
        let resp = match build::rewrite_response(&resp, None, edits, &[]) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "response edits failed");
                resp
            }
        };
        let status = resp.status().unwrap_or(0);
        if status >= 300 && self.branches.get(b).is_some() {
            return self.final_response(b, resp, false, now);
        }
        self.pass_on(b, status, resp.as_bytes().clone(), now);
    }

    /// A provisional or 2xx response of branch `b` (our Via removed), to
    /// forward upstream at once (§16.7 steps 5 and 10).
    fn pass_on(&mut self, b: BranchId, status: u16, resp: Bytes, now: Instant) {
        let Some(br) = self.branches.get(b) else {
            // The context is gone: only a 2xx still travels (per Via).
            if (200..300).contains(&status) {
                self.forward_by_via(resp);
            }
            return;
        };
        let ctx = br.ctx;
        let Some(c) = self.contexts.get_mut(ctx) else {
            return;
        };
        if status < 200 {
            if !c.is_answered() {
                if let Some(tx) = c.server {
                    self.send_on_server_tx(tx, status, resp, now);
                }
            }
            return;
        }
        // 2xx: forwarded at once, every one of a forked INVITE.
        c.answered();
        c.end_fork();
        let sent = match c.server {
            Some(tx) => self.send_on_server_tx(tx, status, resp.clone(), now),
            None => false,
        };
        if !sent {
            // The server transaction is gone or answered non-2xx already:
            // a 2xx still goes on (§16.7 step 10), per Via.
            self.forward_by_via(resp);
        }
        if let Some(br) = self.branches.get_mut(b) {
            br.finish();
        }
        self.cancel_branches(ctx, Some(b), now);
        self.maybe_cleanup(ctx);
    }

    /// A response `on_reply` dropped: it takes no part in selection.
    pub(super) fn response_dropped(&mut self, b: BranchId, resp: &Message, now: Instant) {
        if resp.status().unwrap_or(0) >= 200 {
            self.branch_finished(b, now);
        }
    }
}
