//! Responses on branches (§16.7): provisional and 2xx forwarded at once,
//! best-response selection once every branch ended, CANCEL of the other
//! branches (§16.7 step 10), Timer C (§16.8), stray responses (§16.11-like).

use std::time::Instant;

use sip::matching::ClientKey;
use sip::transaction::{ClientNonInvite, Reliability, Transaction};
use sip::{HeaderName, Message, Method};

use super::state::Final;
use super::{build, route, CancelState, Pending, Proxy, RouterCallKind, Transmit, Tx, TxKind};
use crate::decision::HeaderEdit;
use crate::router::ResponseContext;

impl Proxy {
    pub(super) fn handle_response(&mut self, msg: Message, now: Instant) {
        let status = msg.status().unwrap_or(0);
        self.stats.responses[crate::stats::Stats::class(status)] += 1;
        let Ok(key) = ClientKey::for_response(&msg) else {
            return self.stats.drop("bad_response");
        };
        let Some(&id) = self.client_keys.get(&key) else {
            return self.stray(&msg);
        };
        let Some(tx) = self.txs.get_mut(&id) else {
            return self.stray(&msg);
        };
        let (disposition, branch) = match (&mut tx.machine, &tx.kind) {
            (
                Transaction::ClientInvite(m),
                TxKind::Client {
                    request, branch, ..
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
        match build::strip_top_via(msg) {
            Ok(resp) => self.forward_by_via(&resp),
            Err(_) => self.stats.drop("stray_response"),
        }
    }

    /// Sends a response statelessly to its top Via (UDP only).
    fn forward_by_via(&mut self, resp: &Message) {
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
        });
    }

    /// A response a client transaction delivered for branch `b`.
    fn branch_response(&mut self, b: u64, tx: u64, msg: Message, now: Instant) {
        let status = msg.status().unwrap_or(0);
        let Some(br) = self.branches.get_mut(&b) else {
            return;
        };
        let ctx = br.ctx;
        if status < 200 {
            br.provisional = true;
            if status > 100 && br.timer_c.is_some() {
                self.arm_timer_c(b, now);
            }
            if self
                .branches
                .get(&b)
                .is_some_and(|br| br.cancel == CancelState::Wanted)
            {
                self.send_cancel(b, now);
            }
        } else {
            br.timer_c = None;
            let more = br.next_dest < br.dests.len();
            if status == 503 && more && br.cancel == CancelState::No && br.client == Some(tx) {
                // RFC 3263 §4.3: the next destination.
                br.client = None;
                self.try_next_destination(b, now);
                return;
            }
        }
        if status == 100 {
            return;
        }
        let resp = match build::strip_top_via(&msg) {
            Ok(r) => r,
            Err(_) => return self.stats.drop("bad_response"),
        };
        let ask = self.settings.ask_on_reply;
        match self.contexts.get_mut(&ctx) {
            // After the final response only a 2xx still matters to the router.
            Some(c) if ask && !(c.final_sent && status >= 300) => {
                c.replies.push_back((b, resp));
                self.next_reply_call(ctx);
            }
            _ => self.process_response(b, resp, &[], now),
        }
    }

    /// Asks `on_reply` about the next queued response of `ctx` (one call at
    /// a time, so that responses keep their order).
    pub(super) fn next_reply_call(&mut self, ctx: u64) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        if c.reply_call {
            return;
        }
        let Some((branch, resp)) = c.replies.pop_front() else {
            self.maybe_cleanup(ctx);
            return;
        };
        c.reply_call = true;
        let req = c.req.clone();
        let branch_uri = self
            .branches
            .get(&branch)
            .map(|br| br.uri.clone())
            .unwrap_or_default();
        let rc = ResponseContext {
            message: resp.clone(),
            branch_uri,
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

    /// §16.7 for one response (our Via removed), after `on_reply`.
    pub(super) fn process_response(
        &mut self,
        b: u64,
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
        let Some(br) = self.branches.get(&b) else {
            // The context is gone: only a 2xx still travels (per Via).
            if (200..300).contains(&status) {
                self.forward_by_via(&resp);
            }
            return;
        };
        let ctx = br.ctx;
        if status >= 300 {
            return self.final_response(b, resp, false, now);
        }
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        if status < 200 {
            if !c.final_sent {
                if let Some(tx) = c.server {
                    self.send_on_server_tx(tx, status, resp.as_bytes().clone(), now);
                }
            }
            return;
        }
        // 2xx: forwarded at once, every one of a forked INVITE.
        c.final_sent = true;
        c.queued.clear();
        let sent = match c.server {
            Some(tx) => self.send_on_server_tx(tx, status, resp.as_bytes().clone(), now),
            None => false,
        };
        if !sent {
            // The server transaction is gone or answered non-2xx already:
            // a 2xx still goes on (§16.7 step 10), per Via.
            self.forward_by_via(&resp);
        }
        if let Some(br) = self.branches.get_mut(&b) {
            br.done = true;
        }
        self.cancel_branches(ctx, Some(b), now);
        self.maybe_cleanup(ctx);
    }

    /// A response `on_reply` dropped: it takes no part in selection.
    pub(super) fn response_dropped(&mut self, b: u64, resp: &Message, now: Instant) {
        if resp.status().unwrap_or(0) >= 200 {
            self.branch_finished(b, now);
        }
    }

    /// A final non-2xx response (received or synthetic) for branch `b`.
    pub(super) fn final_response(&mut self, b: u64, resp: Message, local: bool, now: Instant) {
        let Some(br) = self.branches.get_mut(&b) else {
            return;
        };
        if br.done {
            return;
        }
        let status = resp.status().unwrap_or(500);
        let resp = if br.timed_out && status != 408 {
            // Timer C fired: the branch counts as 408 (§16.8).
            match self.contexts.get(&br.ctx) {
                Some(c) => {
                    let req = c.req.clone();
                    let tag = self.new_tag();
                    match build::reply(&req.message, &crate::Reply::status(408), &tag)
                        .and_then(build::reparse)
                    {
                        Ok(r) => r,
                        Err(_) => resp,
                    }
                }
                None => resp,
            }
        } else {
            resp
        };
        let Some(br) = self.branches.get_mut(&b) else {
            return;
        };
        let uri = br.uri.clone();
        let ctx = br.ctx;
        if let Some(c) = self.contexts.get_mut(&ctx) {
            if (600..700).contains(&status) {
                c.six_xx = true;
                c.queued.clear();
            }
            c.finals.push(Final {
                msg: resp,
                uri,
                local,
            });
        }
        if (600..700).contains(&status) {
            // A 6xx ends the fork at once: CANCEL the rest, answer it.
            if let Some(br) = self.branches.get_mut(&b) {
                br.done = true;
            }
            self.cancel_branches(ctx, Some(b), now);
            if self
                .contexts
                .get(&ctx)
                .is_some_and(|c| !c.final_sent && !c.deciding)
            {
                return self.send_best(ctx, now);
            }
        }
        self.branch_finished(b, now);
    }

    /// Branch `b` ended: the next sequential target, or, once every branch
    /// ended, the best response (through `on_failure`).
    pub(super) fn branch_finished(&mut self, b: u64, now: Instant) {
        let Some(br) = self.branches.get_mut(&b) else {
            return;
        };
        br.done = true;
        br.timer_c = None;
        let ctx = br.ctx;
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        if c.final_sent || c.deciding {
            return self.maybe_cleanup(ctx);
        }
        if !c.six_xx {
            if let Some(next) = c.queued.pop_front() {
                return self.start_branch(ctx, next, now);
            }
        }
        let all_done = c
            .branches
            .iter()
            .all(|x| self.branches.get(x).is_none_or(|br| br.done));
        if !all_done || !c.replies.is_empty() || c.reply_call {
            return;
        }
        let req = c.req.clone();
        let Some((best, uri)) = self.best_response(ctx) else {
            return self.reply_ctx(ctx, &req.message, &crate::Reply::status(408), now);
        };
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        if c.six_xx {
            return self.send_best(ctx, now);
        }
        c.deciding = true;
        let rc = ResponseContext {
            message: best,
            branch_uri: uri,
        };
        self.call(Pending::Failure(ctx), RouterCallKind::Failure(req, rc));
    }

    /// §16.7 step 6: a 6xx if any, else the lowest class, preferring
    /// 401/407/415/420/484 among 4xx; 503 becomes 500; the challenges of
    /// every 401/407 are gathered into the chosen one.
    fn best_response(&self, ctx: u64) -> Option<(Message, String)> {
        let c = self.contexts.get(&ctx)?;
        let rank = |m: &Message| {
            let s = m.status().unwrap_or(699);
            let class = if (600..700).contains(&s) { 0 } else { s / 100 };
            let pref = u16::from(!matches!(s, 401 | 407 | 415 | 420 | 484));
            (class, pref)
        };
        let chosen = c.finals.iter().min_by_key(|f| rank(&f.msg))?;
        let best = &chosen.msg;
        let status = best.status().unwrap_or(500);
        let mut extra = Vec::new();
        if matches!(status, 401 | 407) {
            for m in c
                .finals
                .iter()
                .map(|f| &f.msg)
                .filter(|m| !std::ptr::eq(*m, best))
            {
                if !matches!(m.status(), Some(401 | 407)) {
                    continue;
                }
                for h in m.headers() {
                    if matches!(
                        h.name,
                        HeaderName::WwwAuthenticate | HeaderName::ProxyAuthenticate
                    ) {
                        let name = if h.name == HeaderName::WwwAuthenticate {
                            "WWW-Authenticate"
                        } else {
                            "Proxy-Authenticate"
                        };
                        extra.push((name.to_string(), h.value.to_string()));
                    }
                }
            }
        }
        let new_status = (status == 503 && !chosen.local).then_some(500);
        let out = build::rewrite_response(best, new_status, &[], &extra).unwrap_or(best.clone());
        Some((out, chosen.uri.clone()))
    }

    /// Sends the best response upstream.
    pub(super) fn send_best(&mut self, ctx: u64, now: Instant) {
        let best = self.best_response(ctx);
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        c.final_sent = true;
        let server = c.server;
        let req = c.req.clone();
        // RFC 4320 §4.2: no 408 to a non-INVITE request. The client's own
        // Timer F ends it; the server transaction goes without an answer
        // (the client's retransmissions have stopped by now: its Timer F
        // started before ours).
        let status = best
            .as_ref()
            .map_or(408, |(m, _)| m.status().unwrap_or(500));
        let invite = matches!(req.message.method(), Some(sip::Method::Invite));
        if status == 408 && !invite {
            self.stats.drop("non_invite_408");
            if let Some(tx) = server {
                self.remove_tx(tx, now);
            }
            self.maybe_cleanup(ctx);
            return;
        }
        match (best, server) {
            (Some((m, _)), Some(tx)) => {
                let status = m.status().unwrap_or(500);
                self.send_on_server_tx(tx, status, m.as_bytes().clone(), now);
            }
            (None, _) => self.reply_ctx(ctx, &req.message, &crate::Reply::status(408), now),
            _ => {}
        }
        self.maybe_cleanup(ctx);
    }

    /// CANCELs every pending branch of `ctx` but `except`.
    pub(super) fn cancel_branches(&mut self, ctx: u64, except: Option<u64>, now: Instant) {
        let Some(c) = self.contexts.get(&ctx) else {
            return;
        };
        let list: Vec<u64> = c
            .branches
            .iter()
            .copied()
            .filter(|b| Some(*b) != except)
            .collect();
        for b in list {
            let Some(br) = self.branches.get_mut(&b) else {
                continue;
            };
            if br.done || br.cancel != CancelState::No {
                continue;
            }
            br.timer_c = None;
            match br.client {
                None => br.done = true,
                Some(_) if br.provisional => self.send_cancel(b, now),
                Some(_) => br.cancel = CancelState::Wanted,
            }
        }
    }

    /// Sends a CANCEL for branch `b`'s INVITE (§9.1), in its own
    /// transaction to the same destination.
    fn send_cancel(&mut self, b: u64, now: Instant) {
        let Some(br) = self.branches.get_mut(&b) else {
            return;
        };
        br.cancel = CancelState::Sent;
        let Some(tx) = br.client.and_then(|t| self.txs.get(&t)) else {
            return;
        };
        let TxKind::Client { request, key, .. } = &tx.kind else {
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
        let Ok(cancel) = build::reparse(bytes.clone()) else {
            return;
        };
        let flow = tx.flow;
        let span = tx.span.clone();
        let rel = Reliability::from_reliable(flow.transport.is_stream());
        let machine = ClientNonInvite::new(now, self.settings.timers, rel, bytes);
        let id = self.insert_tx(Tx {
            machine: machine.into(),
            flow,
            kind: TxKind::Client {
                key,
                branch: None,
                request: cancel,
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
    pub(super) fn timer_c_fired(&mut self, b: u64, now: Instant) {
        let Some(br) = self.branches.get_mut(&b) else {
            return;
        };
        br.timer_c = None;
        if br.done {
            return;
        }
        if br.cancel == CancelState::Sent {
            // No final response 64*T1 after our CANCEL (§9.1): give up.
            tracing::debug!("no final response after CANCEL");
            let (ctx, client) = (br.ctx, br.client.take());
            if let Some(t) = client {
                self.remove_tx(t, now);
            }
            if self.contexts.get(&ctx).is_some_and(|c| !c.final_sent) {
                return self.branch_result(b, 408, now);
            }
            return self.branch_finished(b, now);
        }
        tracing::debug!("Timer C fired");
        br.timed_out = true;
        if br.provisional {
            if br.cancel == CancelState::No {
                self.send_cancel(b, now);
            }
        } else {
            br.client = None;
            self.branch_result(b, 408, now);
        }
    }
}
