//! A context: one request being routed, the response context of §16.7.

use std::collections::VecDeque;
use std::sync::Arc;

use sip::Message;

use super::flows::Planned;
use super::ids::{BranchId, RelId, TxId};
use super::state::Final;
use crate::decision::Hooks;
use crate::router::RequestContext;

/// Where a context is in its life.
///
/// ```text
///   Deciding ──decided──▶ Forwarding ──ask_again (on_failure)──▶ Deciding
///      │                      │
///   answered               answered (2xx, best response, 487)
///      ▼                      ▼
///   AnsweredWhileDeciding ──decided──▶ Answered
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// A router call (`on_request` or `on_failure`) is out; nothing went
    /// upstream yet.
    Deciding,
    /// The decision is being carried out (branches out, or about to be);
    /// no final response went upstream.
    Forwarding,
    /// A final response went upstream while a router call was out (a
    /// CANCEL during `on_request`): the decision is ignored when it comes.
    AnsweredWhileDeciding,
    /// The final response went upstream; only 2xx responses still travel.
    Answered,
}

/// One request being routed.
#[derive(Debug)]
pub(super) struct Context {
    pub(super) req: Arc<RequestContext>,
    /// The server transaction (gone once it terminated).
    pub(super) server: Option<TxId>,
    pub(super) loop_hash: String,
    phase: Phase,
    pub(super) branches: Vec<BranchId>,
    /// Targets of a sequential fork not tried yet (a target that did not
    /// parse counts as a branch answered 500 when its turn comes).
    queued: VecDeque<Planned>,
    /// Final non-2xx responses (our Via removed), for §16.7 selection.
    pub(super) finals: Vec<Final>,
    /// Responses waiting for `on_reply`.
    pub(super) replies: Replies,
    /// What the router attached to its last forwarding decision, handed
    /// back with every response.
    pub(super) hooks: Option<Hooks>,
    /// The record of the reliable provisional responses sent to the
    /// request (RFC 3262), while it lives.
    pub(super) reliable: Option<RelId>,
    /// The To tag of a reliable provisional response sent (its early
    /// dialog): the final response keeps it.
    pub(super) to_tag: Option<String>,
    pub(super) span: tracing::Span,
}

impl Context {
    /// A context whose `on_request` call is about to go out.
    pub(super) fn new(
        req: Arc<RequestContext>,
        server: TxId,
        loop_hash: String,
        span: tracing::Span,
    ) -> Self {
        Context {
            req,
            server: Some(server),
            loop_hash,
            phase: Phase::Deciding,
            branches: Vec::new(),
            queued: VecDeque::new(),
            finals: Vec::new(),
            replies: Replies::default(),
            hooks: None,
            reliable: None,
            to_tag: None,
            span,
        }
    }

    /// Whether a final response went upstream.
    pub(super) fn is_answered(&self) -> bool {
        matches!(self.phase, Phase::Answered | Phase::AnsweredWhileDeciding)
    }

    /// Whether branches are being forwarded and nothing final went
    /// upstream: new responses take part in §16.7.
    pub(super) fn is_forwarding(&self) -> bool {
        self.phase == Phase::Forwarding
    }

    /// Whether `on_reply` hears about this request's responses: when the
    /// router wants them all (`ask_all`), or its hooks do.
    pub(super) fn asks_on_reply(&self, ask_all: bool) -> bool {
        ask_all || self.hooks.as_ref().is_some_and(Hooks::wants_replies)
    }

    /// A final response went upstream.
    pub(super) fn answered(&mut self) {
        self.phase = match self.phase {
            Phase::Deciding | Phase::AnsweredWhileDeciding => Phase::AnsweredWhileDeciding,
            Phase::Forwarding | Phase::Answered => Phase::Answered,
        };
    }

    /// The router's decision came back.
    pub(super) fn decided(&mut self) {
        self.phase = match self.phase {
            Phase::Deciding | Phase::Forwarding => Phase::Forwarding,
            Phase::AnsweredWhileDeciding | Phase::Answered => Phase::Answered,
        };
    }

    /// `on_failure` is asked (every branch ended without a 2xx).
    pub(super) fn ask_again(&mut self) {
        if self.phase == Phase::Forwarding {
            self.phase = Phase::Deciding;
        }
    }

    /// Whether nothing keeps the context but its branches: answered, and
    /// no router call out.
    pub(super) fn is_settled(&self) -> bool {
        self.phase == Phase::Answered && !self.replies.is_asking()
    }

    /// Queues the targets of a sequential fork after the first.
    pub(super) fn queue(&mut self, plans: impl IntoIterator<Item = Planned>) {
        self.queued.extend(plans);
    }

    /// The next sequential target.
    pub(super) fn next_queued(&mut self) -> Option<Planned> {
        self.queued.pop_front()
    }

    /// No more sequential targets (a 2xx, a 6xx, a CANCEL).
    pub(super) fn end_fork(&mut self) {
        self.queued.clear();
    }
}

/// Responses of a context waiting for `on_reply`, asked about one at a
/// time so that they keep their order.
#[derive(Debug, Default)]
pub(super) struct Replies {
    waiting: VecDeque<(BranchId, Message)>,
    asking: bool,
}

impl Replies {
    pub(super) fn push(&mut self, branch: BranchId, resp: Message) {
        self.waiting.push_back((branch, resp));
    }

    /// Whether an `on_reply` call is out.
    pub(super) fn is_asking(&self) -> bool {
        self.asking
    }

    /// Whether no call is out and nothing waits.
    pub(super) fn is_idle(&self) -> bool {
        !self.asking && self.waiting.is_empty()
    }

    /// The next response to ask about, when no call is out; the call is
    /// then out until [`Replies::answered`].
    pub(super) fn ask_next(&mut self) -> Option<(BranchId, Message)> {
        if self.asking {
            return None;
        }
        let next = self.waiting.pop_front()?;
        self.asking = true;
        Some(next)
    }

    /// The `on_reply` call came back.
    pub(super) fn answered(&mut self) {
        self.asking = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase_after(steps: &[fn(&mut Context)]) -> Phase {
        let msg = Message::parse(
            bytes::Bytes::from_static(
                b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            ),
            sip::Framing::Datagram,
            &sip::Limits::default(),
        );
        let Ok(message) = msg else {
            panic!("test message does not parse");
        };
        let addr = std::net::SocketAddr::from(([192, 0, 2, 1], 5060));
        let req = Arc::new(RequestContext {
            message,
            transport: tokencodec::Transport::Udp,
            source: addr,
            local: addr,
            connection: 0,
            route_consumed: false,
            consumed_routes: Vec::new(),
        });
        let mut tx: super::super::ids::Table<TxId, ()> = Default::default();
        let mut c = Context::new(req, tx.insert(()), String::new(), tracing::Span::none());
        for s in steps {
            s(&mut c);
        }
        c.phase
    }

    #[test]
    fn phases() {
        assert_eq!(phase_after(&[]), Phase::Deciding);
        assert_eq!(phase_after(&[Context::decided]), Phase::Forwarding);
        assert_eq!(
            phase_after(&[Context::decided, Context::ask_again]),
            Phase::Deciding
        );
        assert_eq!(
            phase_after(&[Context::answered]),
            Phase::AnsweredWhileDeciding
        );
        assert_eq!(
            phase_after(&[Context::answered, Context::decided]),
            Phase::Answered
        );
        assert_eq!(
            phase_after(&[Context::decided, Context::answered, Context::ask_again]),
            Phase::Answered
        );
    }
}
