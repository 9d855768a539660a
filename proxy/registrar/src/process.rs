//! RFC 3261 §10.3 steps 6–8 (with RFC 3327 and RFC 5626), sans-IO: a
//! [`Register`] against the AoR's current bindings at `now` gives an
//! [`Outcome`] and, when something changes, the new binding set.
//!
//! Every check is made before anything changes: a rejected REGISTER leaves
//! the bindings as they were.

use sip::Uri;

use crate::request::{ContactSpec, Contacts, Register};
use crate::{Binding, Outcome, Policy, Source};

/// What a REGISTER does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The response.
    pub outcome: Outcome,
    /// The AoR's new bindings (all of them), or `None` when nothing is to be
    /// written.
    pub bindings: Option<Vec<Binding>>,
}

impl Decision {
    fn reject(outcome: Outcome) -> Decision {
        Decision {
            outcome,
            bindings: None,
        }
    }
}

/// Processes `reg` against `current` (the AoR's bindings; expired ones are
/// ignored) at `now` (seconds since the epoch).
///
/// Statuses: 200; 400 (`*` with other Contacts or a non-zero expiry, more
/// than one `reg-id`); 420 (Path without `Supported: path`, only with
/// [`Policy::require_path_support`]); 423 with `Min-Expires`; 439 (a flow
/// whose first hop lacks outbound support); 500 (same Call-ID with a CSeq
/// not above the stored one, §10.3 step 7); 403 Too Many Contacts (the
/// REGISTER would add bindings past [`Policy::max_contacts`] — a policy
/// refusal, not a transient failure, hence not 503).
pub fn process(
    reg: &Register,
    source: &Source,
    policy: &Policy,
    current: &[Binding],
    now: u64,
) -> Decision {
    let current: Vec<Binding> = current.iter().filter(|b| b.is_live(now)).cloned().collect();
    if policy.require_path_support && !reg.path.is_empty() && !reg.supports_path {
        return Decision::reject(
            Outcome::reject(420, "Bad Extension").with_header("Unsupported", "path"),
        );
    }
    match &reg.contacts {
        Contacts::Query => Decision {
            outcome: Outcome::ok(&current, now, false),
            bindings: None,
        },
        Contacts::Star => star(reg, &current, now),
        Contacts::List(list) => contacts(reg, list, source, policy, current, now),
    }
}

/// `Contact: *` with `Expires: 0`: remove every binding (§10.3 step 6).
fn star(reg: &Register, current: &[Binding], now: u64) -> Decision {
    if reg.expires != Some(0) {
        return Decision::reject(Outcome::reject(400, "Wildcard Contact requires Expires: 0"));
    }
    if current.iter().any(|b| out_of_order(reg, b)) {
        return Decision::reject(out_of_order_outcome());
    }
    Decision {
        outcome: Outcome::ok(&[], now, true),
        bindings: Some(Vec::new()),
    }
}

fn contacts(
    reg: &Register,
    list: &[ContactSpec],
    source: &Source,
    policy: &Policy,
    mut bindings: Vec<Binding>,
    now: u64,
) -> Decision {
    // RFC 5626 §6: at most one Contact with reg-id; a flow needs an
    // instance and a first hop that supports outbound.
    if list.iter().filter(|c| c.reg_id.is_some()).count() > 1 {
        return Decision::reject(Outcome::reject(400, "More than one Contact with reg-id"));
    }
    let flow_asked = list
        .iter()
        .any(|c| c.reg_id.is_some() && c.instance.is_some());
    if flow_asked && !reg.first_hop_outbound() {
        return Decision::reject(Outcome::reject(439, "First Hop Lacks Outbound Support"));
    }
    // Expiries first: 423 must leave everything unchanged.
    let mut expiries = Vec::with_capacity(list.len());
    for c in list {
        let e = c.expires.or(reg.expires).unwrap_or(policy.default_expires);
        if e != 0 && e < policy.min_expires {
            return Decision::reject(
                Outcome::reject(423, "Interval Too Brief")
                    .with_header("Min-Expires", &policy.min_expires.to_string()),
            );
        }
        expiries.push(e.min(policy.max_expires));
    }
    let before = bindings.len();
    // Bindings this REGISTER already wrote: a second Contact for the same
    // binding updates it without the CSeq check.
    let mut touched: Vec<bool> = vec![false; bindings.len()];
    for (c, &e) in list.iter().zip(&expiries) {
        let new = binding_for(reg, c, e, source, now);
        match bindings.iter().position(|b| same_binding(b, &new)) {
            Some(i) => {
                if !touched.get(i).copied().unwrap_or(true) && out_of_order(reg, &bindings[i]) {
                    return Decision::reject(out_of_order_outcome());
                }
                if e == 0 {
                    bindings.remove(i);
                    touched.remove(i);
                } else {
                    bindings[i] = new;
                    if let Some(t) = touched.get_mut(i) {
                        *t = true;
                    }
                }
            }
            None if e == 0 => {}
            None => {
                bindings.push(new);
                touched.push(true);
            }
        }
    }
    let max = usize::try_from(policy.max_contacts).unwrap_or(usize::MAX);
    if bindings.len() > max && bindings.len() > before {
        return Decision::reject(Outcome::reject(403, "Too Many Contacts"));
    }
    let mut outcome = Outcome::ok(&bindings, now, true);
    if !reg.path.is_empty() {
        outcome = outcome.with_header("Path", &reg.path.join(", "));
    }
    let mut supported = Vec::new();
    if !reg.path.is_empty() {
        supported.push("path");
    }
    if flow_asked {
        outcome = outcome.with_header("Require", "outbound");
        supported.push("outbound");
    }
    if !supported.is_empty() {
        outcome = outcome.with_header("Supported", &supported.join(", "));
    }
    Decision {
        outcome,
        bindings: Some(bindings),
    }
}

/// §10.3 step 7: same Call-ID and a CSeq not above the stored one.
fn out_of_order(reg: &Register, b: &Binding) -> bool {
    b.call_id == reg.call_id && reg.cseq <= b.cseq
}

fn out_of_order_outcome() -> Outcome {
    Outcome::reject(500, "Out of Order CSeq")
}

fn binding_for(
    reg: &Register,
    c: &ContactSpec,
    expires: u32,
    source: &Source,
    now: u64,
) -> Binding {
    // reg-id without an instance means nothing (RFC 5626 §4.2).
    let reg_id = c.instance.as_ref().and(c.reg_id);
    Binding {
        aor: reg.aor.clone(),
        uri: c.uri.clone(),
        q: c.q,
        expires_at: now.saturating_add(u64::from(expires)),
        call_id: reg.call_id.clone(),
        cseq: reg.cseq,
        path: reg.path.clone(),
        instance: c.instance.clone(),
        reg_id,
        received: reg.direct.then(|| source.received()),
        user_agent: reg.user_agent.clone(),
        updated_at: now,
        params: c.params.clone(),
        accepted: source.accepted(),
    }
}

/// The identity of a binding: instance and reg-id (a flow, RFC 5626),
/// instance alone (RFC 5627), else the contact URI compared per §19.1.4.
fn same_binding(old: &Binding, new: &Binding) -> bool {
    match (&new.instance, &old.instance) {
        (Some(a), Some(b)) => a == b && new.reg_id == old.reg_id,
        (None, None) => uri_equivalent(&old.uri, &new.uri),
        _ => false,
    }
}

fn uri_equivalent(a: &str, b: &str) -> bool {
    match (Uri::parse(a), Uri::parse(b)) {
        (Ok(a), Ok(b)) => a.equivalent(&b),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests;
