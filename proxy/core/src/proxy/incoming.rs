//! Received requests: server transactions, §16.3 validation, §16.4 route
//! processing, CANCEL (§16.10), ACK, and the router call.

use std::sync::Arc;
use std::time::Instant;

use sip::matching::ServerKey;
use sip::transaction::{Reliability, ServerInvite, ServerNonInvite, Transaction};
use sip::{Message, Method};

use super::ids::{CtxId, TxId};
use super::{build, route, Context, Flow, Pending, Proxy, RouterCallKind, Transmit, Tx, TxKind};
use crate::decision::Reply;
use crate::router::RequestContext;

impl Proxy {
    pub(super) fn handle_request(&mut self, msg: Message, flow: Flow, now: Instant) {
        let method = msg
            .method()
            .cloned()
            .unwrap_or(Method::Extension("?".into()));
        self.stats.request(method.as_str());
        let key = match ServerKey::for_request(&msg) {
            Ok(k) => k,
            Err(_) => return self.stats.drop("no_key"),
        };
        if method == Method::Ack {
            return self.handle_ack(msg, key, flow, now);
        }
        if let Some(&id) = self.server_keys.get(&key) {
            if let Some(tx) = self.txs.get_mut(id) {
                self.stats.retransmissions += 1;
                match &mut tx.machine {
                    Transaction::ServerInvite(t) => t.handle_request_retransmission(),
                    Transaction::ServerNonInvite(t) => t.handle_request_retransmission(),
                    _ => {}
                }
                self.drive(id, now);
            }
            return;
        }
        // Server transactions only (client ones follow from them), those
        // lingering after their final response included: they hold memory.
        if self.server_txs >= self.settings.max_transactions {
            self.stats.drop("overload");
            let extra = vec![("Retry-After".to_string(), "5".to_string())];
            return self.reply_stateless(&msg, flow, 503, "Overloaded", extra);
        }
        let invite = method == Method::Invite;
        let tx = self.new_server_tx(&msg, key, flow, invite, now);
        if method == Method::Cancel {
            return self.handle_cancel(&msg, tx, now);
        }
        // RFC 3262 §3: a PRACK of a reliable 1xx of ours ends here.
        if method == Method::Prack && self.handle_prack(&msg, tx, now) {
            return;
        }
        if self.draining && msg.to_tag().is_none() {
            let retry = self.settings.drain_retry_after.to_string();
            let r = Reply {
                status: 503,
                reason: Some("Draining".into()),
                headers: vec![("Retry-After".into(), retry)],
                body: None,
                reliable: false,
            };
            return self.reply_tx(tx, &msg, &r, now);
        }
        let supported: Vec<&str> = self.settings.supported.iter().map(String::as_str).collect();
        if let Err(r) = sip::validate::proxy_checks(&msg, &supported) {
            let mut reply = Reply::status(r.status);
            if !r.unsupported.is_empty() {
                reply
                    .headers
                    .push(("Unsupported".into(), r.unsupported.join(", ")));
            }
            return self.reply_tx(tx, &msg, &reply, now);
        }
        let hash = route::loop_hash(&msg);
        if route::is_loop(&self.settings, &msg, &hash) {
            self.stats.loops += 1;
            return self.reply_tx(tx, &msg, &Reply::status(482), now);
        }
        let (routed, consumed) = match route::process_routes(&self.settings, &msg) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "route processing failed");
                return self.reply_tx(tx, &msg, &Reply::status(e.status()), now);
            }
        };
        let req = Arc::new(RequestContext {
            message: routed,
            transport: flow.transport,
            source: flow.remote,
            local: flow.local,
            connection: flow.connection,
            route_consumed: !consumed.is_empty(),
            consumed_routes: consumed,
        });
        let span = self
            .txs
            .get(tx)
            .map_or_else(tracing::Span::none, |t| t.span.clone());
        let ctx = self
            .contexts
            .insert(Context::new(req.clone(), tx, hash, span));
        if let Some(t) = self.txs.get_mut(tx) {
            t.set_context(ctx);
        }
        if invite {
            // §16.2: 100 (Trying) at once, the router may take a while.
            let r = req.clone();
            self.reply_tx(tx, &r.message, &Reply::status(100), now);
        }
        self.call(Pending::Request(ctx), RouterCallKind::Request(req));
    }

    /// A server transaction for a new request.
    fn new_server_tx(
        &mut self,
        msg: &Message,
        key: ServerKey,
        flow: Flow,
        invite: bool,
        now: Instant,
    ) -> TxId {
        let rel = Reliability::from_reliable(flow.transport.is_stream());
        let timers = self.settings.timers;
        let machine: Transaction = if invite {
            ServerInvite::new(now, timers, rel, None).into()
        } else {
            ServerNonInvite::new(timers, rel).into()
        };
        let call_id = msg.call_id().unwrap_or_default();
        let branch = msg
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .unwrap_or_default();
        let method = msg.method().map_or("?", Method::as_str);
        let span = tracing::debug_span!("server_tx", %call_id, %branch, %method);
        self.insert_tx(Tx {
            machine,
            flow: response_flow(msg, flow),
            tls_name: None,
            kind: TxKind::Server { key, ctx: None },
            armed: None,
            span,
        })
    }

    /// A response sent on a server transaction.
    pub(super) fn reply_tx(&mut self, tx: TxId, req: &Message, r: &Reply, now: Instant) {
        let tag = self.new_tag();
        self.reply_tx_tagged(tx, req, r, &tag, now);
    }

    /// [`Proxy::reply_tx`] with this To tag (when the request has none).
    fn reply_tx_tagged(&mut self, tx: TxId, req: &Message, r: &Reply, tag: &str, now: Instant) {
        let bytes = match build::reply(req, r, tag, self.settings.server_header.as_deref()) {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(error = %e, "cannot build a response");
                return self.stats.drop("unanswerable");
            }
        };
        self.send_on_server_tx(tx, r.status, bytes, now);
    }

    pub(super) fn send_on_server_tx(
        &mut self,
        tx: TxId,
        status: u16,
        bytes: bytes::Bytes,
        now: Instant,
    ) -> bool {
        let Some(t) = self.txs.get_mut(tx) else {
            return false;
        };
        let r = match &mut t.machine {
            Transaction::ServerInvite(m) => m.send_response(now, status, bytes),
            Transaction::ServerNonInvite(m) => m.send_response(now, status, bytes),
            _ => return false,
        };
        if let Err(e) = r {
            tracing::debug!(error = %e, "response refused");
            self.stats.drop("response_refused");
            return false;
        }
        self.stats.replies[crate::stats::Stats::class(status)] += 1;
        self.drive(tx, now);
        true
    }

    /// A response without a transaction (a request that failed screening).
    pub(super) fn reply_stateless(
        &mut self,
        req: &Message,
        flow: Flow,
        status: u16,
        reason: &str,
        extra: Vec<(String, String)>,
    ) {
        let r = Reply {
            status,
            reason: Some(reason.chars().take(80).collect()),
            headers: extra,
            body: None,
            reliable: false,
        };
        let tag = self.new_tag();
        match build::reply(req, &r, &tag, self.settings.server_header.as_deref()) {
            Ok(bytes) => {
                self.stats.replies[crate::stats::Stats::class(status)] += 1;
                self.transmits.push_back(Transmit {
                    flow: response_flow(req, flow),
                    bytes,
                    on_error: None,
                    tls_name: None,
                });
            }
            Err(_) => self.stats.drop("unanswerable"),
        }
    }

    pub(super) fn new_tag(&mut self) -> String {
        let n = self.uniq();
        format!(
            "{:x}",
            route::fnv(&[&self.settings.seed.to_be_bytes(), &n.to_be_bytes()])
        )
    }

    /// §16.10: 200 to the CANCEL, CANCEL every pending branch, 487 to the
    /// INVITE; 481 when the CANCEL matches nothing.
    fn handle_cancel(&mut self, msg: &Message, tx: TxId, now: Instant) {
        let target = ServerKey::cancel_target(msg)
            .ok()
            .and_then(|k| self.server_keys.get(&k).copied());
        let Some(invite_tx) = target else {
            return self.reply_tx(tx, msg, &Reply::status(481), now);
        };
        self.reply_tx(tx, msg, &Reply::status(200), now);
        let Some(ctx) = self.txs.get(invite_tx).and_then(Tx::context) else {
            return;
        };
        let Some(c) = self.contexts.get_mut(ctx) else {
            return;
        };
        if c.is_answered() {
            return;
        }
        c.end_fork();
        let req = c.req.clone();
        self.reply_ctx(ctx, &req.message, &Reply::status(487), now);
        self.cancel_branches(ctx, None, now);
        self.notify_cancelled(req);
        self.maybe_cleanup(ctx);
    }

    /// An ACK: absorbed by the INVITE server transaction for a non-2xx
    /// final response; otherwise (the ACK of a 2xx) routed end to end,
    /// without a transaction.
    fn handle_ack(&mut self, msg: Message, key: ServerKey, flow: Flow, now: Instant) {
        if let Some(&id) = self.server_keys.get(&key) {
            if let Some(Transaction::ServerInvite(t)) = self.txs.get_mut(id).map(|t| &mut t.machine)
            {
                let d = t.handle_ack(now);
                self.drive(id, now);
                if !d.is_deliver() {
                    return;
                }
            }
        }
        if msg.max_forwards().ok().flatten() == Some(0) {
            return self.stats.drop("ack_max_forwards");
        }
        let (routed, consumed) = match route::process_routes(&self.settings, &msg) {
            Ok(r) => r,
            Err(_) => return self.stats.drop("bad_ack"),
        };
        let req = Arc::new(RequestContext {
            message: routed,
            transport: flow.transport,
            source: flow.remote,
            local: flow.local,
            connection: flow.connection,
            route_consumed: !consumed.is_empty(),
            consumed_routes: consumed,
        });
        self.call(Pending::Ack(req.clone()), RouterCallKind::Request(req));
    }

    /// Sends a response to `ctx`'s request on its server transaction (a
    /// reliable 1xx through `reliable.rs`). After a reliable 1xx, the
    /// responses keep its To tag (its early dialog).
    pub(super) fn reply_ctx(&mut self, ctx: CtxId, req: &Message, r: &Reply, now: Instant) {
        if r.reliable && (101..200).contains(&r.status) {
            return self.reply_reliably(ctx, r, now);
        }
        let Some(c) = self.contexts.get_mut(ctx) else {
            return;
        };
        if r.status >= 200 {
            c.answered();
        }
        let Some(tx) = c.server else {
            return;
        };
        match c.to_tag.clone() {
            Some(tag) => self.reply_tx_tagged(tx, req, r, &tag, now),
            None => self.reply_tx(tx, req, r, now),
        }
    }
}

/// Where responses to a request go (§18.2.2 with RFC 3581): back over the
/// stream; for UDP to the source address, at the `rport` (the source
/// port) when asked, else at the Via's port.
pub(super) fn response_flow(req: &Message, flow: Flow) -> Flow {
    if flow.transport.is_stream() {
        return flow;
    }
    let mut out = flow;
    if let Ok(v) = req.top_via() {
        if v.rport().is_none() {
            let port = v.port.unwrap_or_else(|| route::default_port(v.transport));
            out.remote.set_port(port);
        }
    }
    out
}
