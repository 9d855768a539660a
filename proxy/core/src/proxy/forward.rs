//! Carrying out decisions: branches, resolution, and the forwarded request
//! of §16.6 (Request-URI, Route, Max-Forwards, Record-Route, Via).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use resolve::Destination;
use sip::edit::Editor;
use sip::matching::ClientKey;
use sip::transaction::{ClientInvite, ClientNonInvite, Reliability, Transaction};
use sip::Transport;
use sip::{HeaderName, Message, Method};

use super::{
    build, route, Branch, CancelState, Flow, Plan, Proxy, ResolveCall, Resolving, Transmit, Tx,
    TxKind,
};
use crate::decision::{Decision, ForkStrategy, Reply};
use crate::error::CoreError;
use crate::router::RequestContext;

/// Most branches one request may have over its life (forks and failovers).
const MAX_BRANCHES: usize = 64;

impl Proxy {
    /// A decision for `ctx` (`on_request`, or `on_failure` when `failure`).
    pub(super) fn carry_out(&mut self, ctx: u64, decision: Decision, failure: bool, now: Instant) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        c.deciding = false;
        let req = c.req.clone();
        if c.final_sent {
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
        match decision {
            Decision::Reply(r) => self.reply_ctx(ctx, &req.message, &r, now),
            Decision::Relay { edits, next_hop } => {
                let plan = Plan {
                    ruri: None,
                    route: Vec::new(),
                    next_hop,
                    edits: Arc::new(edits),
                };
                self.start_branch(ctx, plan, now);
            }
            Decision::Fork {
                edits,
                targets,
                strategy,
            } => {
                if targets.is_empty() {
                    return self.reply_ctx(ctx, &req.message, &Reply::status(480), now);
                }
                let edits = Arc::new(edits);
                let mut plans = targets.into_iter().take(room).map(|t| Plan {
                    ruri: Some(without_headers(t.uri)),
                    route: t.route,
                    next_hop: t.next_hop,
                    edits: edits.clone(),
                });
                match strategy {
                    ForkStrategy::Parallel => {
                        for p in plans {
                            self.start_branch(ctx, p, now);
                        }
                    }
                    ForkStrategy::Sequential => {
                        let first = plans.next();
                        if let Some(c) = self.contexts.get_mut(&ctx) {
                            c.queued.extend(plans);
                        }
                        if let Some(p) = first {
                            self.start_branch(ctx, p, now);
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

    /// Starts a branch: resolution first.
    pub(super) fn start_branch(&mut self, ctx: u64, plan: Plan, now: Instant) {
        let Some(c) = self.contexts.get(&ctx) else {
            return;
        };
        let target = branch_target(&c.req.message, &plan).map(|t| (t, plan.clone()));
        let b = self.id();
        self.branches.insert(
            b,
            Branch {
                ctx,
                plan,
                dests: Vec::new(),
                next_dest: 0,
                client: None,
                uri: String::new(),
                provisional: false,
                cancel: CancelState::No,
                timed_out: false,
                done: false,
                timer_c: None,
            },
        );
        if let Some(c) = self.contexts.get_mut(&ctx) {
            c.branches.push(b);
        }
        match target {
            Ok((target, _)) => {
                let id = self.id();
                self.resolving.insert(id, Resolving::Branch(b));
                self.resolve_calls.push_back(ResolveCall { id, target });
            }
            Err(e) => {
                tracing::debug!(error = %e, "bad branch target");
                self.branch_result(b, 500, now);
            }
        }
    }

    /// Sends the branch's request to its next destination, or ends the
    /// branch (503) when none is left.
    pub(super) fn try_next_destination(&mut self, b: u64, now: Instant) {
        loop {
            let Some(br) = self.branches.get_mut(&b) else {
                return;
            };
            let Some(dest) = br.dests.get(br.next_dest).copied() else {
                return self.branch_result(b, 503, now);
            };
            br.next_dest += 1;
            let plan = br.plan.clone();
            let ctx = br.ctx;
            let Some(c) = self.contexts.get(&ctx) else {
                return;
            };
            let (req, hash) = (c.req.clone(), c.loop_hash.clone());
            let branch = self.new_branch_id(&hash);
            match self.build_request(&req, &plan, dest, &branch, true) {
                Ok((bytes, msg, local)) => {
                    self.start_client(b, &req.message, bytes, msg, dest, local, branch, now);
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
        b: u64,
        orig: &Message,
        bytes: Bytes,
        msg: Message,
        dest: Destination,
        local: std::net::SocketAddr,
        branch: String,
        now: Instant,
    ) {
        let invite = orig.method() == Some(&Method::Invite);
        let rel = Reliability::from_reliable(dest.transport.is_stream());
        let timers = self.settings.timers;
        let method = msg.method().cloned().unwrap_or(Method::Invite);
        let machine: Transaction = if invite {
            ClientInvite::new(now, timers, rel, bytes).into()
        } else {
            ClientNonInvite::new(now, timers, rel, bytes).into()
        };
        let call_id = msg.call_id().unwrap_or_default();
        let span = tracing::debug_span!("client_tx", %call_id, %branch, dest = %dest.addr);
        let uri = msg.request_uri_str().unwrap_or_default().to_string();
        let id = self.insert_tx(Tx {
            machine,
            flow: Flow {
                transport: dest.transport,
                remote: dest.addr,
                local,
                connection: 0,
            },
            kind: TxKind::Client {
                key: ClientKey { branch, method },
                branch: Some(b),
                request: msg,
            },
            armed: None,
            span,
        });
        self.stats.forwarded += 1;
        if let Some(br) = self.branches.get_mut(&b) {
            br.client = Some(id);
            br.uri = uri;
            br.provisional = false;
        }
        if invite {
            self.arm_timer_c(b, now);
        }
        self.drive(id, now);
    }

    fn new_branch_id(&mut self, hash: &str) -> String {
        let n = self.id();
        let uniq = route::fnv(&[&self.settings.seed.to_be_bytes(), &n.to_be_bytes()]);
        format!("{}{hash}.{uniq:x}", route::BRANCH_MARK)
    }

    /// The forwarded request for one destination (§16.6 steps 1–8).
    pub(super) fn build_request(
        &self,
        req: &RequestContext,
        plan: &Plan,
        dest: Destination,
        branch: &str,
        stateful: bool,
    ) -> Result<(Bytes, Message, std::net::SocketAddr), CoreError> {
        let msg = &req.message;
        let listener = route::listener_for(&self.settings, dest.transport, dest.addr)
            .ok_or_else(|| CoreError::NoListener(dest.addr.to_string()))?;
        let mut ed = Editor::new(msg);
        let mut ruri: Option<String> = plan.ruri.clone().or_else(|| plan.edits.ruri.clone());
        let mut routes: Vec<String> = plan
            .route
            .iter()
            .map(|r| {
                if r.contains('<') {
                    r.trim().to_string()
                } else {
                    format!("<{}>", r.trim())
                }
            })
            .collect();
        // §16.6 step 6: a strict router next: it gets the Route as its
        // Request-URI, and the Request-URI goes last in the Route set.
        let current = ruri
            .clone()
            .unwrap_or_else(|| msg.request_uri_str().unwrap_or_default().to_string());
        let mut strict_tail = None;
        if let Some(first) = routes.first() {
            let uri = route::uri_text(first).to_string();
            if is_strict(&uri) {
                routes.remove(0);
                strict_tail = Some(current.clone());
                ruri = Some(uri);
            }
        } else if let Some(Ok(top)) = msg.routes().next() {
            if is_strict(top.uri_raw) {
                ed.remove_value(HeaderName::Route, 0)?;
                strict_tail = Some(current.clone());
                ruri = Some(top.uri_raw.to_string());
            }
        }
        let body = build::request_edits(&mut ed, msg, ruri.as_deref(), &plan.edits)?;
        if !routes.is_empty() {
            ed.prepend("Route", &routes.join(", "));
        }
        if let Some(tail) = strict_tail {
            ed.append("Route", &format!("<{tail}>"));
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
            let inbound = rr_uri(&self.settings, req.transport, req.local);
            let outbound = rr_uri(&self.settings, dest.transport, listener.addr);
            ed.prepend("Record-Route", &inbound);
            if outbound != inbound {
                ed.prepend("Record-Route", &outbound);
            }
        }
        let via = format!(
            "SIP/2.0/{} {};branch={branch}",
            Transport::via_name(dest.transport),
            route::hostport(&self.settings, listener.addr)
        );
        ed.prepend("Via", &via);
        let bytes = build::finish(ed, body)?;
        let parsed = build::reparse(bytes.clone())?;
        if parsed.header(HeaderName::Via).is_none() {
            return Err(CoreError::Rebuild("no Via".into()));
        }
        Ok((bytes, parsed, listener.addr))
    }

    /// Routes an end-to-end ACK (the ACK of a 2xx) statelessly.
    pub(super) fn route_ack(&mut self, req: Arc<RequestContext>, decision: Decision) {
        let plan = match decision {
            Decision::Relay { edits, next_hop } => Plan {
                ruri: None,
                route: Vec::new(),
                next_hop,
                edits: Arc::new(edits),
            },
            Decision::Fork { edits, targets, .. } => match targets.into_iter().next() {
                Some(t) => Plan {
                    ruri: Some(without_headers(t.uri)),
                    route: t.route,
                    next_hop: t.next_hop,
                    edits: Arc::new(edits),
                },
                None => return self.stats.drop("ack_no_target"),
            },
            _ => return self.stats.drop("ack_dropped"),
        };
        match branch_target(&req.message, &plan) {
            Ok(target) => {
                let id = self.id();
                self.resolving
                    .insert(id, Resolving::Stateless { req, plan });
                self.resolve_calls.push_back(ResolveCall { id, target });
            }
            Err(_) => self.stats.drop("ack_bad_target"),
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
            Ok((bytes, _, local)) => {
                self.stats.forwarded += 1;
                self.transmits.push_back(Transmit {
                    flow: Flow {
                        transport: dest.transport,
                        remote: dest.addr,
                        local,
                        connection: 0,
                    },
                    bytes,
                    on_error: None,
                });
            }
            Err(_) => self.stats.drop("ack_unbuildable"),
        }
    }

    /// Ends a branch that will send nothing more (Drop, bad target, no
    /// destination) or records a synthetic final response for it.
    pub(super) fn branch_result(&mut self, b: u64, status: u16, now: Instant) {
        let Some(br) = self.branches.get(&b) else {
            return;
        };
        let ctx = br.ctx;
        let Some(c) = self.contexts.get(&ctx) else {
            return;
        };
        let req = c.req.clone();
        let tag = self.new_tag();
        let r = Reply::status(status);
        match build::reply(&req.message, &r, &tag).and_then(build::reparse) {
            Ok(resp) => self.final_response(b, resp, true, now),
            Err(_) => self.branch_finished(b, now),
        }
    }

    /// A client transaction of branch `b` failed (timeout or transport):
    /// RFC 3263 §4.3, the next destination; else a final `status`.
    pub(super) fn branch_failed(&mut self, b: u64, tx: u64, status: u16, now: Instant) {
        let Some(br) = self.branches.get_mut(&b) else {
            return;
        };
        if br.client != Some(tx) || br.done {
            return;
        }
        br.client = None;
        br.timer_c = None;
        let cancelled = br.cancel != CancelState::No;
        let more = br.next_dest < br.dests.len();
        if more && !cancelled && !br.provisional {
            self.try_next_destination(b, now);
        } else {
            self.branch_result(b, status, now);
        }
    }
}

/// A SIP URI without `;lr`: a strict router (RFC 2543).
fn is_strict(uri: &str) -> bool {
    matches!(sip::Uri::parse(uri), Ok(sip::Uri::Sip(u)) if !u.is_loose_route())
}

/// This proxy's Record-Route for a listener (`;transport=` when not UDP).
fn rr_uri(
    settings: &crate::settings::Settings,
    t: Transport,
    local: std::net::SocketAddr,
) -> String {
    let hp = route::hostport(settings, local);
    match t {
        Transport::Udp => format!("<sip:{hp};lr>"),
        Transport::Tls => format!("<sip:{hp};transport=tls;lr>"),
        other => format!("<sip:{hp};transport={};lr>", other.as_str()),
    }
}

/// Where a branch goes (§16.6 step 7): its next hop, else the top Route
/// (the branch's own, then the request's), else the Request-URI.
fn branch_target(msg: &Message, plan: &Plan) -> Result<resolve::Target, CoreError> {
    let text: String = if let Some(h) = &plan.next_hop {
        h.clone()
    } else if let Some(r) = plan.route.first() {
        route::uri_text(r).to_string()
    } else if let Some(r) = msg.routes().next() {
        r?.uri_raw.to_string()
    } else if let Some(u) = plan.ruri.as_deref().or(plan.edits.ruri.as_deref()) {
        u.to_string()
    } else {
        msg.request_uri_str().unwrap_or_default().to_string()
    };
    resolve::Target::from_uri(&text).map_err(|_| CoreError::BadTarget(text))
}

/// A target URI as a Request-URI: without its `?headers` component, which
/// RFC 3261 §19.1.1 (Table 1) does not allow there (a registered Contact
/// may carry one, RFC 4475 TC_REGESCRT_V). A `?` in the user part (before
/// the `@`) is not a header delimiter.
fn without_headers(uri: String) -> String {
    let host_from = uri.rfind('@').map_or(0, |at| at + 1);
    match uri[host_from..].find('?') {
        Some(q) => uri[..host_from + q].to_owned(),
        None => uri,
    }
}

#[cfg(test)]
mod uri_tests {
    use super::without_headers;

    #[test]
    fn headers_leave_the_request_uri() {
        assert_eq!(
            without_headers("sip:user@192.0.2.1:5060?Route=%3Csip:x%3E".into()),
            "sip:user@192.0.2.1:5060"
        );
        assert_eq!(
            without_headers("sip:a?b@example.com;lr".into()),
            "sip:a?b@example.com;lr"
        );
        assert_eq!(
            without_headers("sip:example.com?x=1".into()),
            "sip:example.com"
        );
        assert_eq!(without_headers("tel:+1555".into()), "tel:+1555");
    }
}
