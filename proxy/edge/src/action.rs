//! What the edge does with a message.

use bytes::Bytes;
use sip::response::response;
use sip::Message;
use tokencodec::{Backend, Flow};

/// Where a forwarded message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A backend, sent from the backend-facing address.
    Backend(Backend),
    /// A UE's flow: over UDP from `flow.local` to `flow.ue`; over a stream,
    /// on connection `flow.connection` of instance `flow.instance`.
    Flow(Flow),
}

/// The decision for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send the edited message on.
    Forward {
        /// Where to.
        target: Target,
        /// The message with the edge's edits spliced in.
        bytes: Bytes,
        /// For a request sent over a stream: the answer to its sender when
        /// the send fails — 430 (Flow Failed) when a UE's connection is
        /// gone, 503 when a stream backend cannot be reached, 513 when a
        /// request too large for UDP cannot reach its backend over TCP.
        failed: Option<Bytes>,
    },
    /// Answer the sender on the flow the message came on.
    Reply {
        /// The response.
        bytes: Bytes,
        /// Close the connection after sending (framing errors on streams).
        close: bool,
    },
    /// Send nothing; count the reason.
    Drop(DropReason),
}

/// Why a message was dropped (the label of the drop counter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// Not parseable, or bad and unanswerable.
    Unparseable(String),
    /// A response whose top Via is not the edge's.
    ForeignVia,
    /// A response whose Via token does not open.
    BadViaToken,
    /// An internal failure to build the message (counted, never expected).
    Internal(String),
    /// An ACK the edge would have rejected (an ACK to the edge's own
    /// negative reply, or to a request it refused): an ACK is never
    /// answered (RFC 3261 §17.2.1), so it ends here.
    AckAbsorbed,
}

impl DropReason {
    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            DropReason::Unparseable(_) => "unparseable",
            DropReason::ForeignVia => "foreign_via",
            DropReason::BadViaToken => "bad_via_token",
            DropReason::Internal(_) => "internal",
            DropReason::AckAbsorbed => "ack_absorbed",
        }
    }
}

/// Answers `req` with `status`.
pub(crate) fn reply(req: &Message, status: u16, reason: &str, close: bool) -> Action {
    reply_with(req, status, reason, close, &[])
}

/// Answers `req` with `status` and extra header fields.
pub(crate) fn reply_with(
    req: &Message,
    status: u16,
    reason: &str,
    close: bool,
    headers: &[(&str, &str)],
) -> Action {
    if req.method() == Some(&sip::Method::Ack) {
        return Action::Drop(DropReason::AckAbsorbed);
    }
    match response(req, status) {
        Ok(mut b) => {
            if status >= 400 && status != 430 && reason.len() < 80 && !reason.is_empty() {
                b = b.reason(reason);
            }
            for (n, v) in headers {
                b = b.header(n, v);
            }
            Action::Reply {
                bytes: b.to_tag(&crate::tokens::local_tag(req)).build(),
                close,
            }
        }
        Err(e) => Action::Drop(DropReason::Unparseable(e.to_string())),
    }
}
