//! The proxy's inner state: transactions, contexts (§16.7 response
//! contexts), branches, and what router calls and resolutions were for.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use resolve::Destination;
use sip::matching::{ClientKey, ServerKey};
use sip::transaction::Transaction;
use sip::Message;

use super::Flow;
use crate::decision::Edits;
use crate::router::RequestContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TimerKey {
    Tx(u64),
    TimerC(u64),
}

/// A transaction with what the proxy knows about it.
#[derive(Debug)]
pub(super) struct Tx {
    pub(super) machine: Transaction,
    /// Where its messages go.
    pub(super) flow: Flow,
    pub(super) kind: TxKind,
    /// The deadline pushed on the heap last.
    pub(super) armed: Option<Instant>,
    pub(super) span: tracing::Span,
}

#[derive(Debug)]
pub(super) enum TxKind {
    Server {
        key: ServerKey,
        ctx: Option<u64>,
    },
    Client {
        key: ClientKey,
        /// The branch it serves; `None` for a CANCEL we sent.
        branch: Option<u64>,
        /// The request sent (for the ACK and CANCEL built from it).
        request: Message,
    },
}

/// One request being routed: the response context of §16.7.
#[derive(Debug)]
pub(super) struct Context {
    pub(super) req: Arc<RequestContext>,
    /// The server transaction (gone once it terminated).
    pub(super) server: Option<u64>,
    pub(super) loop_hash: String,
    /// A router call (`on_request` / `on_failure`) is outstanding.
    pub(super) deciding: bool,
    pub(super) branches: Vec<u64>,
    /// Targets of a sequential fork not tried yet.
    pub(super) queued: VecDeque<Plan>,
    /// Final non-2xx responses (our Via removed), for §16.7 selection.
    pub(super) finals: Vec<Final>,
    pub(super) final_sent: bool,
    pub(super) six_xx: bool,
    /// Responses waiting for `on_reply`, and whether a call is out.
    pub(super) replies: VecDeque<(u64, Message)>,
    pub(super) reply_call: bool,
    pub(super) span: tracing::Span,
}

/// Where one branch goes and how its request is changed.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) ruri: Option<String>,
    pub(super) route: Vec<String>,
    pub(super) next_hop: Option<String>,
    pub(super) edits: Arc<Edits>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CancelState {
    No,
    /// Wanted, but no provisional response yet (§9.1).
    Wanted,
    Sent,
}

#[derive(Debug)]
pub(super) struct Branch {
    pub(super) ctx: u64,
    pub(super) plan: Plan,
    pub(super) dests: Vec<Destination>,
    pub(super) next_dest: usize,
    pub(super) client: Option<u64>,
    /// The Request-URI of the branch, once built.
    pub(super) uri: String,
    pub(super) provisional: bool,
    pub(super) cancel: CancelState,
    /// Timer C fired: the branch counts as 408 whatever comes back.
    pub(super) timed_out: bool,
    pub(super) done: bool,
    pub(super) timer_c: Option<Instant>,
}

/// What a router call was about.
#[derive(Debug)]
pub(super) enum Pending {
    Request(u64),
    Failure(u64),
    Reply {
        ctx: u64,
        branch: u64,
        resp: Box<Message>,
    },
    Ack(Arc<RequestContext>),
}

/// What a resolution was for.
#[derive(Debug)]
pub(super) enum Resolving {
    Branch(u64),
    /// A stateless forward (an ACK for a 2xx): the request to send.
    Stateless {
        req: Arc<RequestContext>,
        plan: Plan,
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
}
