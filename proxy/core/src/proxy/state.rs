//! The proxy's inner state besides contexts and branches: transactions,
//! timers, and what router calls and resolutions were for.

use std::sync::Arc;
use std::time::Instant;

use sip::matching::{ClientKey, ServerKey};
use sip::transaction::Transaction;
use sip::Message;

use super::ids::{BranchId, CtxId, RelId, TxId};
use super::plan::Plan;
use super::Flow;
use crate::router::RequestContext;

/// What a deadline on the heap is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TimerKey {
    /// A transaction's next timer.
    Tx(TxId),
    /// A branch's Timer C (or its wait after a CANCEL).
    TimerC(BranchId),
    /// A reliable provisional response's retransmission, its 64*T1
    /// deadline, or the end of its record (`reliable.rs`).
    Reliable(RelId),
}

/// A transaction with what the proxy knows about it.
#[derive(Debug)]
pub(super) struct Tx {
    pub(super) machine: Transaction,
    /// Where its messages go.
    pub(super) flow: Flow,
    /// The name a TLS peer's certificate must carry, for a connection the
    /// proxy opens (RFC 5922: the target URI's host).
    pub(super) tls_name: Option<Arc<str>>,
    pub(super) kind: TxKind,
    /// The deadline pushed on the heap last.
    pub(super) armed: Option<Instant>,
    pub(super) span: tracing::Span,
}

#[derive(Debug)]
pub(super) enum TxKind {
    Server {
        key: ServerKey,
        ctx: Option<CtxId>,
    },
    Client {
        key: ClientKey,
        /// The branch it serves; `None` for a CANCEL we sent.
        branch: Option<BranchId>,
        /// The INVITE sent (for the ACK and CANCEL built from it); `None`
        /// for other methods, which need neither.
        request: Option<Message>,
    },
}

impl Tx {
    /// The branch a client transaction serves.
    pub(super) fn branch(&self) -> Option<BranchId> {
        match &self.kind {
            TxKind::Client { branch, .. } => *branch,
            TxKind::Server { .. } => None,
        }
    }

    /// The context a server transaction's request opened.
    pub(super) fn context(&self) -> Option<CtxId> {
        match &self.kind {
            TxKind::Server { ctx, .. } => *ctx,
            TxKind::Client { .. } => None,
        }
    }

    /// Records, after the fact (§16.2), which context the server
    /// transaction's request opened.
    pub(super) fn set_context(&mut self, c: CtxId) {
        if let TxKind::Server { ctx, .. } = &mut self.kind {
            *ctx = Some(c);
        }
    }

    /// Whether a deadline earlier than the one armed is due: then it
    /// becomes the armed one and goes on the heap.
    pub(super) fn rearm(&mut self, next: Instant) -> bool {
        if self.armed.is_none_or(|a| next < a) {
            self.armed = Some(next);
            return true;
        }
        false
    }
}

/// What a router call was about.
#[derive(Debug)]
pub(super) enum Pending {
    Request(CtxId),
    Failure(CtxId),
    Reply {
        ctx: CtxId,
        branch: BranchId,
        resp: Box<Message>,
    },
    Ack(Arc<RequestContext>),
}

/// What a resolution was for.
#[derive(Debug)]
pub(super) enum Resolving {
    Branch(BranchId),
    /// A stateless forward (an ACK for a 2xx): the request to send.
    Stateless {
        req: Arc<RequestContext>,
        plan: Box<Plan>,
    },
}

/// A final non-2xx response of a branch, for best-response selection.
#[derive(Debug)]
pub(super) struct Final {
    /// The response, our Via removed.
    pub(super) msg: Message,
    /// The branch's Request-URI.
    pub(super) uri: String,
    /// Made here (timeout, unreachable) rather than received: a 503 of
    /// ours is not turned into 500.
    pub(super) local: bool,
    /// Where it came from (`None` when made here).
    pub(super) source: Option<std::net::SocketAddr>,
}
