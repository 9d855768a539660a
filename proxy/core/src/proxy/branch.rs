//! A branch: one target of a context, tried at its RFC 3263 destinations
//! in turn, each attempt a client transaction.

use std::time::Instant;

use resolve::Destination;

use super::flows::FlowBranch;
use super::ids::{CtxId, TxId};
use super::plan::Plan;

/// How far the current attempt of a branch got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BranchPhase {
    /// Resolving, or sent with no provisional response yet.
    Trying,
    /// A provisional response came: a CANCEL may be sent (§9.1).
    Proceeding,
    /// Ended: its final response is recorded (or it sends nothing more).
    Done,
}

/// Whether a branch is being cancelled (§9.1, §16.7 step 10, §16.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CancelState {
    No,
    /// Wanted, but no provisional response yet: sent on the first one.
    Wanted,
    /// Sent (another branch answered, or the UAC cancelled).
    Sent,
    /// Sent because Timer C fired (§16.8): whatever final response comes
    /// back, the branch counts as 408.
    TimedOut,
}

impl CancelState {
    /// Whether our CANCEL went out.
    pub(super) fn is_sent(self) -> bool {
        matches!(self, CancelState::Sent | CancelState::TimedOut)
    }
}

#[derive(Debug)]
pub(super) struct Branch {
    pub(super) ctx: CtxId,
    /// Where it goes; `None` for a target that did not parse.
    pub(super) plan: Option<Plan>,
    /// Destinations not tried yet.
    dests: std::vec::IntoIter<Destination>,
    /// The client transaction of the current attempt.
    pub(super) client: Option<TxId>,
    /// The Request-URI of the branch, once sent.
    pub(super) uri: String,
    phase: BranchPhase,
    pub(super) cancel: CancelState,
    /// Timer C, or the wait for a CANCELled INVITE's final response.
    pub(super) timer_c: Option<Instant>,
    /// Where its latest response came from.
    pub(super) source: Option<std::net::SocketAddr>,
    /// The registered flow it goes over and the instance's other flows
    /// (RFC 5626 §5.3), when its target is one.
    pub(super) flow: Option<FlowBranch>,
}

impl Branch {
    pub(super) fn new(ctx: CtxId, plan: Option<Plan>, flow: Option<FlowBranch>) -> Self {
        Branch {
            ctx,
            plan,
            dests: Vec::new().into_iter(),
            client: None,
            uri: String::new(),
            phase: BranchPhase::Trying,
            cancel: CancelState::No,
            source: None,
            timer_c: None,
            flow,
        }
    }

    pub(super) fn is_done(&self) -> bool {
        self.phase == BranchPhase::Done
    }

    /// Whether the current attempt got a provisional response.
    pub(super) fn is_proceeding(&self) -> bool {
        self.phase == BranchPhase::Proceeding
    }

    /// The branch will send nothing more.
    pub(super) fn finish(&mut self) {
        self.phase = BranchPhase::Done;
    }

    /// A provisional response to the current attempt.
    pub(super) fn proceeding(&mut self) {
        if self.phase == BranchPhase::Trying {
            self.phase = BranchPhase::Proceeding;
        }
    }

    /// The destinations to try, in order.
    pub(super) fn set_destinations(&mut self, dests: Vec<Destination>) {
        self.dests = dests.into_iter();
    }

    /// The next destination to try.
    pub(super) fn next_destination(&mut self) -> Option<Destination> {
        self.dests.next()
    }

    /// Whether a destination is left to fail over to (RFC 3263 §4.3).
    pub(super) fn has_more_destinations(&self) -> bool {
        self.dests.len() > 0
    }

    /// A new attempt went out on client transaction `tx`.
    pub(super) fn sent(&mut self, tx: TxId, uri: &str) {
        self.client = Some(tx);
        uri.clone_into(&mut self.uri);
        if self.phase == BranchPhase::Proceeding {
            self.phase = BranchPhase::Trying;
        }
    }

    /// Whether a failed attempt may go on at the next destination: one is
    /// left, the branch is not being cancelled and got no provisional
    /// response.
    pub(super) fn may_fail_over(&self) -> bool {
        self.has_more_destinations()
            && self.cancel == CancelState::No
            && self.phase == BranchPhase::Trying
    }
}
