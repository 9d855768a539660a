//! Carrying out decisions: branches, resolution, and the forwarded request
//! of §16.6 (Request-URI, Route, Max-Forwards, Record-Route, Via).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use resolve::Destination;
use sip::edit::Editor;
use sip::matching::ClientKey;
use sip::transaction::{ClientInvite, ClientNonInvite, Reliability, Transaction};
use sip::{HeaderName, Message, Method, Transport};

use super::flows::{self, Planned};
use super::ids::{BranchId, CtxId};
use super::plan::{self, without_headers};
use super::{
    build, route, Branch, Flow, Plan, Proxy, ResolveCall, Resolving, Transmit, Tx, TxKind,
};
use crate::decision::{Decision, ForkStrategy, Reply};
use crate::error::CoreError;
use crate::router::RequestContext;

/// Most branches one request may have over its life (forks and failovers).
const MAX_BRANCHES: usize = 64;

impl Proxy {
    /// A decision for `ctx` (`on_request`, or `on_failure` when `failure`).
    pub(super) fn carry_out(
        &mut self,
        ctx: CtxId,
        decision: Decision,
        failure: bool,
        now: Instant,
    ) {
        let Some(c) = self.contexts.get_mut(ctx) else {
            return;
        };
        c.decided();
        let req = c.req.clone();
        if c.is_answered() {
            // Cancelled while the router was deciding.
            self.maybe_cleanup(ctx);
            return;
        }
        let _e = c.span.clone().entered();
        let room = MAX_BRANCHES.saturating_sub(c.branches.len());
        let forwards = matches!(decision, Decision::Relay { .. } | Decision::Fork { .. });
        if forwards && room == 0 {
            // A router that keeps failing over: stop here.
            tracing::warn!("too many branches for one request");
            return if failure {
                self.send_best(ctx, now)
            } else {
                self.reply_ctx(ctx, &req.message, &Reply::status(500), now)
            };
        }
        if let Decision::Relay { hooks, .. } | Decision::Fork { hooks, .. } = &decision {
            // A new forwarding decision brings its own hooks (or none).
            c.hooks.clone_from(hooks);
        }
        match decision {
            Decision::Reply(r) => self.reply_ctx(ctx, &req.message, &r, now),
            Decision::Relay {
                edits, next_hop, ..
            } => {
                let plan = Plan::new(
                    &req.message,
                    None,
                    &[],
                    next_hop.as_deref(),
                    Arc::new(edits),
                );
                let b = self.add_branch(ctx, Planned { plan, flow: None });
                self.launch(b, now);
            }
            Decision::Fork {
                edits,
                targets,
                strategy,
                ..
            } => {
                if targets.is_empty() {
                    return self.reply_ctx(ctx, &req.message, &Reply::status(480), now);
                }
                let edits = Arc::new(edits);
                // RFC 5626 §5.3: one flow per instance at a time.
                let mut plans = flows::group(targets)
                    .into_iter()
                    .take(room)
                    .map(|(t, next)| Self::planned(&req.message, t, next, &edits));
                match strategy {
                    ForkStrategy::Parallel => {
                        // Every branch exists before the first is sent, so
                        // that one failing at once does not end the fork.
                        let all: Vec<BranchId> = plans.map(|p| self.add_branch(ctx, p)).collect();
                        for b in all {
                            self.launch(b, now);
                        }
                    }
                    ForkStrategy::Sequential => {
                        let first = plans.next();
                        if let Some(c) = self.contexts.get_mut(ctx) {
                            c.queue(plans);
                        }
                        if let Some(p) = first {
                            let b = self.add_branch(ctx, p);
                            self.launch(b, now);
                        }
                    }
                }
            }
            Decision::Drop if failure => self.send_best(ctx, now),
            Decision::Drop | Decision::Failed(_) => {
                self.reply_ctx(ctx, &req.message, &Reply::status(500), now)
            }
        }
        self.maybe_cleanup(ctx);
    }

    /// A new branch of `ctx` (not started: see [`Proxy::launch`]).
    pub(super) fn add_branch(&mut self, ctx: CtxId, planned: Planned) -> BranchId {
        let plan = planned
            .plan
            .inspect_err(|e| tracing::debug!(error = %e, "bad branch target"))
            .ok();
        let b = self.branches.insert(Branch::new(ctx, plan, planned.flow));
        if let Some(c) = self.contexts.get_mut(ctx) {
            c.branches.push(b);
        }
        b
    }

    /// Starts a branch: at its destination at once for an IP literal
    /// (RFC 3263 §4 step 1 needs no DNS), otherwise after a resolution.
    pub(super) fn launch(&mut self, b: BranchId, now: Instant) {
        let Some(br) = self.branches.get_mut(b) else {
            return;
        };
        let Some(plan) = &br.plan else {
            return self.branch_result(b, 500, now);
        };
        match plan.target.ip_destination() {
            Some(dest) => {
                br.set_destinations(vec![dest]);
                self.try_next_destination(b, now);
            }
            None => {
                let target = plan.target.clone();
                let id = self.resolving.insert(Resolving::Branch(b));
                self.resolve_calls.push_back(ResolveCall { id, target });
            }
        }
    }

    /// Sends the branch's request to its next destination, or ends the
    /// branch (503) when none is left.
    pub(super) fn try_next_destination(&mut self, b: BranchId, now: Instant) {
        loop {
            let Some(br) = self.branches.get_mut(b) else {
                return;
            };
            let Some(dest) = br.next_destination() else {
                return self.branch_result(b, 503, now);
            };
            let branch = self.new_branch_id(b);
            let Some(br) = self.branches.get(b) else {
                return;
            };
            let (Some(c), Some(plan)) = (self.contexts.get(br.ctx), br.plan.as_ref()) else {
                return;
            };
            let req = c.req.clone();
            let built = self
                .build_request(&req, plan, dest, &branch, true)
                .and_then(|(bytes, local, dest)| {
                    Ok((self.sent_request(&req, &bytes)?, bytes, local, dest))
                });
            match built {
                Ok((sent, bytes, local, dest)) => {
                    self.start_client(b, &req.message, bytes, sent, dest, local, branch, now);
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, %dest.addr, "cannot build the request");
                    if matches!(e, CoreError::NoListener(_)) {
                        continue;
                    }
                    return self.branch_result(b, e.status(), now);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_client(
        &mut self,
        b: BranchId,
        orig: &Message,
        bytes: Bytes,
        sent: Option<Message>,
        dest: Destination,
        local: SocketAddr,
        branch: String,
        now: Instant,
    ) {
        let invite = orig.method() == Some(&Method::Invite);
        let rel = Reliability::from_reliable(dest.transport.is_stream());
        let timers = self.settings.timers;
        let method = orig.method().cloned().unwrap_or(Method::Invite);
        let machine: Transaction = if invite {
            ClientInvite::new(now, timers, rel, bytes).into()
        } else {
            ClientNonInvite::new(now, timers, rel, bytes).into()
        };
        let call_id = orig.call_id().unwrap_or_default();
        let span = tracing::debug_span!("client_tx", %call_id, %branch, dest = %dest.addr);
        let tls_name = if dest.transport == Transport::Tls {
            self.branches
                .get(b)
                .and_then(|br| br.plan.as_ref())
                .and_then(|p| plan::tls_name(&p.target))
        } else {
            None
        };
        let id = self.insert_tx(Tx {
            machine,
            flow: Flow {
                transport: dest.transport,
                remote: dest.addr,
                local,
                connection: 0,
            },
            tls_name,
            kind: TxKind::Client {
                key: ClientKey { branch, method },
                branch: Some(b),
                request: sent,
            },
            armed: None,
            span,
        });
        self.stats.forwarded += 1;
        if let Some(br) = self.branches.get_mut(b) {
            let uri = br.plan.as_ref().map_or("", |p| p.uri.as_str()).to_owned();
            br.sent(id, &uri);
        }
        if invite {
            self.arm_timer_c(b, now);
        }
        self.drive(id, now);
    }

    /// A Via branch for an attempt of `b`: our mark, the context's loop
    /// hash (§16.6 step 8), a unique part.
    fn new_branch_id(&mut self, b: BranchId) -> String {
        let n = self.uniq();
        let uniq = route::fnv(&[&self.settings.seed.to_be_bytes(), &n.to_be_bytes()]);
        let hash = self
            .branches
            .get(b)
            .and_then(|br| self.contexts.get(br.ctx))
            .map_or("", |c| c.loop_hash.as_str());
        format!("{}{hash}.{uniq:x}", route::BRANCH_MARK)
    }

    /// The forwarded request for one destination (§16.6 steps 1–8), the
    /// listener it leaves from and the destination it goes to: a request
    /// too large for UDP goes over TCP to the same address (§18.1.1).
    pub(super) fn build_request(
        &self,
        req: &RequestContext,
        plan: &Plan,
        dest: Destination,
        branch: &str,
        stateful: bool,
    ) -> Result<(Bytes, SocketAddr, Destination), CoreError> {
        let (bytes, local) = self.build_for(req, plan, dest, branch, stateful)?;
        if dest.transport == Transport::Udp && bytes.len() > self.settings.udp_max_request {
            let tcp = Destination {
                transport: Transport::Tcp,
                ..dest
            };
            let (bytes, local) = self.build_for(req, plan, tcp, branch, stateful)?;
            return Ok((bytes, local, tcp));
        }
        Ok((bytes, local, dest))
    }

    fn build_for(
        &self,
        req: &RequestContext,
        plan: &Plan,
        dest: Destination,
        branch: &str,
        stateful: bool,
    ) -> Result<(Bytes, SocketAddr), CoreError> {
        let msg = &req.message;
        let listener = route::listener_for(&self.settings, dest.transport, dest.addr)
            .ok_or_else(|| CoreError::NoListener(dest.addr.to_string()))?;
        let mut ed = Editor::new(msg);
        if plan.drop_top_route {
            ed.remove_value(HeaderName::Route, 0)?;
        }
        let body = build::request_edits(&mut ed, msg, plan.ruri.as_deref(), &plan.edits)?;
        if let Some(routes) = &plan.route {
            ed.prepend("Route", routes);
        }
        if let Some(tail) = &plan.strict_tail {
            ed.append("Route", tail);
        }
        ed.decrement_max_forwards()?;
        // §18.2.1 and RFC 3581: where the previous hop really is, so that
        // responses (and stateless 2xx) find their way back.
        let top = msg.top_via()?;
        let src = req.source;
        if top.rport() == Some(None) {
            ed.set_via_param(&top, "received", Some(&src.ip().to_string()))?;
            ed.set_via_param(&top, "rport", Some(&src.port().to_string()))?;
        } else if top.host.ip() != Some(src.ip()) {
            ed.set_via_param(&top, "received", Some(&src.ip().to_string()))?;
        }
        if stateful && plan.edits.record_route {
            let texts = &self.local_texts;
            let inbound = texts.record_route(&self.settings, req.transport, req.local);
            let outbound = texts.record_route(&self.settings, dest.transport, listener.addr);
            ed.prepend("Record-Route", &inbound);
            if outbound != inbound {
                ed.prepend("Record-Route", &outbound);
            }
        }
        let via = match &plan.edits.via {
            // `force_send_via`: the script's sent-by.
            Some(v) => format!(
                "SIP/2.0/{} {};branch={branch}",
                dest.transport.via_name(),
                v.sent_by
            ),
            None => self
                .local_texts
                .via(&self.settings, dest.transport, listener.addr, branch),
        };
        ed.prepend("Via", &via);
        // Not parsed again: every part added was checked (the Plan's
        // Request-URI, the router's header edits) or is ours.
        Ok((build::finish(ed, body)?, listener.addr))
    }

    /// The forwarded request as kept by its client transaction: an INVITE
    /// parsed (its ACK and CANCEL are built from it), others not at all.
    fn sent_request(
        &self,
        req: &RequestContext,
        bytes: &Bytes,
    ) -> Result<Option<Message>, CoreError> {
        if req.message.method() != Some(&Method::Invite) {
            return Ok(None);
        }
        build::reparse(bytes.clone()).map(Some)
    }

    /// Routes an end-to-end ACK (the ACK of a 2xx) statelessly.
    pub(super) fn route_ack(&mut self, req: Arc<RequestContext>, decision: Decision) {
        let plan = match decision {
            Decision::Relay {
                edits, next_hop, ..
            } => Plan::new(
                &req.message,
                None,
                &[],
                next_hop.as_deref(),
                Arc::new(edits),
            ),
            Decision::Fork { edits, targets, .. } => match targets.into_iter().next() {
                Some(t) => {
                    let uri = without_headers(t.uri);
                    let hop = t.next_hop.as_deref();
                    Plan::new(&req.message, Some(uri), &t.route, hop, Arc::new(edits))
                }
                None => return self.stats.drop("ack_no_target"),
            },
            _ => return self.stats.drop("ack_dropped"),
        };
        let Ok(plan) = plan else {
            return self.stats.drop("ack_bad_target");
        };
        match plan.target.ip_destination() {
            Some(dest) => self.send_stateless(&req, &plan, Some(dest)),
            None => {
                let target = plan.target.clone();
                let plan = Box::new(plan);
                let id = self.resolving.insert(Resolving::Stateless { req, plan });
                self.resolve_calls.push_back(ResolveCall { id, target });
            }
        }
    }

    /// Sends a request without a transaction (§16.11: the branch is a hash
    /// of the received one, so a retransmission gets the same).
    pub(super) fn send_stateless(
        &mut self,
        req: &RequestContext,
        plan: &Plan,
        dest: Option<Destination>,
    ) {
        let Some(dest) = dest else {
            return self.stats.drop("ack_unresolved");
        };
        let msg = &req.message;
        let top = msg
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .unwrap_or_default();
        let h = route::fnv(&[top.as_bytes(), route::loop_hash(msg).as_bytes()]);
        let branch = format!("{}{h:016x}.0", route::BRANCH_MARK);
        match self.build_request(req, plan, dest, &branch, false) {
            Ok((bytes, local, dest)) => {
                self.stats.forwarded += 1;
                let tls_name = (dest.transport == Transport::Tls)
                    .then(|| plan::tls_name(&plan.target))
                    .flatten();
                self.transmits.push_back(Transmit {
                    flow: Flow {
                        transport: dest.transport,
                        remote: dest.addr,
                        local,
                        connection: 0,
                    },
                    bytes,
                    on_error: None,
                    tls_name,
                });
            }
            Err(_) => self.stats.drop("ack_unbuildable"),
        }
    }
}
