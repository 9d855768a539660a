//! RFC 5626 §5.3 in the proxy: targets that are registered flows of one
//! UA instance (same AoR and `+sip.instance`, another `reg-id` each).
//!
//! - A fork sends to one flow per instance at a time: the first flow of
//!   an instance (in the router's order) becomes a branch, the instance's
//!   other flows wait behind it ([`group`]).
//! - A branch whose flow turns out dead ([`failure`]: a 430 Flow Failed
//!   from the edge, or, made here, a timeout or an unreachable destination
//!   with no response at all) is reported (`Router::on_flow_failed`, whose
//!   job is to end the binding) and replaced by a branch to the
//!   instance's next flow; with none left it counts as 480 Temporarily
//!   Unavailable (the 430 is between the edge and this proxy: the caller
//!   learns that the callee cannot be reached now). Any other final
//!   response ends the instance: the UA answered (RFC 5626 §5.3: no other
//!   flow of the instance is tried).
//!
//! Kamailio does the same from its script with `t_next_contact_flow` in a
//! failure route; here every router gets it from the targets it forks to.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use sip::Message;

use super::ids::BranchId;
use super::plan::{without_headers, Plan};
use super::{build, CancelState, Proxy};
use crate::decision::{Reply, Target};
use crate::error::CoreError;
use crate::router::{FailedFlow, FlowFailure};

/// Reports of dead flows waiting for `Router::on_flow_failed` at most.
pub const MAX_FAILED_FLOWS: usize = 1024;

/// A branch that goes over a registered flow, and the same instance's
/// other flows, in the order to try them.
#[derive(Debug)]
pub(super) struct FlowBranch {
    /// The target the branch was made from (its `flow` is set).
    pub(super) target: Target,
    /// The instance's other flows.
    pub(super) next: VecDeque<Target>,
}

/// A target made ready for a branch: its plan and, for a flow, the
/// instance's other flows.
#[derive(Debug)]
pub(super) struct Planned {
    pub(super) plan: Result<Plan, CoreError>,
    pub(super) flow: Option<FlowBranch>,
}

/// One target per instance: each target that is a flow of an instance
/// already met (same AoR and instance) goes behind that instance's first
/// flow instead of becoming a branch of its own. Order is kept.
pub(super) fn group(targets: Vec<Target>) -> Vec<(Target, VecDeque<Target>)> {
    let mut out: Vec<(Target, VecDeque<Target>)> = Vec::with_capacity(targets.len());
    let mut first: HashMap<(String, String), usize> = HashMap::new();
    for t in targets {
        let Some(f) = &t.flow else {
            out.push((t, VecDeque::new()));
            continue;
        };
        let key = (f.aor.clone(), f.instance.clone());
        match first.get(&key) {
            Some(&i) => {
                if let Some((_, next)) = out.get_mut(i) {
                    next.push_back(t);
                }
            }
            None => {
                first.insert(key, out.len());
                out.push((t, VecDeque::new()));
            }
        }
    }
    out
}

/// Whether a branch's final response says its flow is dead: a 430 from
/// downstream (the edge has no such flow, RFC 5626 §5.3), or, made here
/// (`made_here`) while nothing at all answered the branch (`answered`
/// false), a timeout (408) or no destination reachable (503). A 408
/// received, or made here after a provisional response, means the UA was
/// reached.
pub(super) fn failure(status: u16, made_here: bool, answered: bool) -> Option<FlowFailure> {
    match (status, made_here, answered) {
        (430, false, _) => Some(FlowFailure::FlowFailed),
        (408, true, false) => Some(FlowFailure::Timeout),
        (503, true, false) => Some(FlowFailure::Unreachable),
        _ => None,
    }
}

impl Proxy {
    /// A target ready for a branch (plans are made with the decision's
    /// edits), with the instance's other flows when it is a flow.
    pub(super) fn planned(
        req: &Message,
        target: Target,
        next: VecDeque<Target>,
        edits: &std::sync::Arc<crate::decision::Edits>,
    ) -> Planned {
        let uri = without_headers(target.uri.clone());
        let hop = target.next_hop.as_deref();
        let plan = Plan::new(req, Some(uri), &target.route, hop, edits.clone());
        let flow = target.flow.is_some().then_some(FlowBranch { target, next });
        Planned { plan, flow }
    }

    /// RFC 5626 §5.3 for a final non-2xx response of branch `b`: when it
    /// says the branch's flow is dead, the flow is reported and the
    /// instance's next flow gets a branch (`None` is returned: the
    /// response takes no part in §16.7), or, none left, the response
    /// becomes a 480 made here. Otherwise the response goes on as it is.
    pub(super) fn flow_outcome(
        &mut self,
        b: BranchId,
        resp: Message,
        local: bool,
        now: Instant,
    ) -> Option<(Message, bool)> {
        let Some(br) = self.branches.get_mut(b) else {
            return Some((resp, local));
        };
        let status = resp.status().unwrap_or(500);
        let (Some(why), Some(fb)) = (failure(status, local, br.source.is_some()), &br.flow) else {
            return Some((resp, local));
        };
        let Some(flow) = fb.target.flow.clone() else {
            return Some((resp, local));
        };
        let failed = FailedFlow {
            flow,
            uri: fb.target.uri.clone(),
            route: fb.target.route.clone(),
            failure: why,
        };
        tracing::info!(
            aor = %failed.flow.aor,
            instance = %failed.flow.instance,
            reg_id = failed.flow.reg_id,
            failure = why.as_str(),
            "registered flow failed"
        );
        let ctx = br.ctx;
        let edits = br.plan.as_ref().map(|p| p.edits.clone());
        let go_on = br.cancel == CancelState::No
            && self.contexts.get(ctx).is_some_and(|c| c.is_forwarding());
        let mut fb = br.flow.take();
        let next = match (&mut fb, go_on, edits) {
            (Some(fb), true, Some(edits)) => fb.next.pop_front().map(|t| (t, edits)),
            _ => None,
        };
        self.report_flow(failed);
        let Some((target, edits)) = next else {
            self.stats.flow("none_left");
            return Some(self.unavailable(ctx, resp));
        };
        self.stats.flow("next_flow");
        let rest = fb.map(|f| f.next).unwrap_or_default();
        if let Some(br) = self.branches.get_mut(b) {
            br.finish();
            br.timer_c = None;
        }
        let req = self.contexts.get(ctx).map(|c| c.req.clone())?;
        let next = Self::planned(&req.message, target, rest, &edits);
        let nb = self.add_branch(ctx, next);
        self.launch(nb, now);
        None
    }

    /// The 480 that stands for a failed flow with no other flow left
    /// (the failed response itself when it cannot be built).
    fn unavailable(&mut self, ctx: super::CtxId, resp: Message) -> (Message, bool) {
        let Some(req) = self.contexts.get(ctx).map(|c| c.req.clone()) else {
            return (resp, true);
        };
        let tag = self.new_tag();
        match build::reply(
            &req.message,
            &Reply::status(480),
            &tag,
            self.settings.server_header.as_deref(),
        )
        .and_then(build::reparse)
        {
            Ok(r) => (r, true),
            Err(_) => (resp, true),
        }
    }

    /// Queues a dead flow for `Router::on_flow_failed` (the oldest goes
    /// when [`MAX_FAILED_FLOWS`] wait).
    fn report_flow(&mut self, failed: FailedFlow) {
        if self.failed_flows.len() >= MAX_FAILED_FLOWS {
            self.failed_flows.pop_front();
            self.stats.drop("failed_flow_not_reported");
        }
        self.failed_flows.push_back(failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::RegisteredFlow;

    fn t(uri: &str, flow: Option<(&str, &str, u32)>) -> Target {
        Target {
            uri: uri.into(),
            flow: flow.map(|(aor, instance, reg_id)| RegisteredFlow {
                aor: aor.into(),
                instance: instance.into(),
                reg_id,
            }),
            ..Target::default()
        }
    }

    #[test]
    fn dead_flows() {
        use FlowFailure::*;
        // A 430 from the edge, whatever came before it.
        assert_eq!(failure(430, false, true), Some(FlowFailed));
        // Made here with nothing heard: timeout, unreachable.
        assert_eq!(failure(408, true, false), Some(Timeout));
        assert_eq!(failure(503, true, false), Some(Unreachable));
        // Made here after a provisional response: the UA was reached.
        assert_eq!(failure(408, true, true), None);
        assert_eq!(failure(503, true, true), None);
        // Received: the UA (or a proxy past the edge) answered.
        for s in [408, 480, 486, 487, 500, 503, 603] {
            assert_eq!(failure(s, false, true), None, "{s}");
        }
        // Other statuses made here (a bad target, a request too large).
        assert_eq!(failure(500, true, false), None);
        assert_eq!(failure(513, true, false), None);
    }

    #[test]
    fn one_flow_per_instance() {
        let a = "sip:a@d";
        let g = group(vec![
            t("sip:a@1", Some((a, "<urn:uuid:1>", 1))),
            t("sip:plain@2", None),
            t("sip:a@1b", Some((a, "<urn:uuid:1>", 2))),
            t("sip:a@3", Some((a, "<urn:uuid:3>", 1))),
            t("sip:a@1c", Some((a, "<urn:uuid:1>", 3))),
            // Same instance, another AoR: another UA as far as we know.
            t("sip:b@1", Some(("sip:b@d", "<urn:uuid:1>", 1))),
            t("sip:plain@2", None),
        ]);
        let firsts: Vec<&str> = g.iter().map(|(t, _)| t.uri.as_str()).collect();
        assert_eq!(
            firsts,
            [
                "sip:a@1",
                "sip:plain@2",
                "sip:a@3",
                "sip:b@1",
                "sip:plain@2"
            ]
        );
        let behind: Vec<&str> = g[0].1.iter().map(|t| t.uri.as_str()).collect();
        assert_eq!(behind, ["sip:a@1b", "sip:a@1c"]);
        assert!(g[1..].iter().all(|(_, n)| n.is_empty()));
    }
}
