//! Making BIRD's protocols match the wanted actions.
//!
//! announce: announce protocol on, drain protocol off.
//! announce-drain: drain protocol on, announce protocol off.
//! withdraw: both off.
//!
//! Enables go before disables, so moving between announce and drain never
//! leaves a gap in which neither route exists. Only protocols in the wrong
//! state get a command; one found wrong although the wanted state did not
//! change (a `birdc configure`, an operator's `birdc enable`) is counted as
//! a correction and logged.

use std::collections::HashMap;

use crate::bird::{BirdError, Client, ProtoState};
use crate::config::Config;
use crate::machine::PrefixAction;
use crate::metrics::Metrics;

use super::{lock, SharedStatus};

/// Brings BIRD to `wanted` (one action per service). `applied` is what was
/// last applied successfully, to tell corrections from changes.
pub(super) async fn apply(
    config: &Config,
    bird: &mut Client,
    wanted: &[PrefixAction],
    applied: &[Option<PrefixAction>],
    status: &SharedStatus,
    metrics: &Metrics,
) -> Result<(), BirdError> {
    let result = apply_inner(config, bird, wanted, applied, status, metrics).await;
    let mut st = lock(status);
    match &result {
        Ok(()) => st.bird.last_error = None,
        Err(e) => {
            st.bird.errors_total += 1;
            metrics.bird_error();
            st.bird.last_error = Some(e.to_string());
        }
    }
    st.bird.connected = result.is_ok();
    result
}

async fn apply_inner(
    config: &Config,
    bird: &mut Client,
    wanted: &[PrefixAction],
    applied: &[Option<PrefixAction>],
    status: &SharedStatus,
    metrics: &Metrics,
) -> Result<(), BirdError> {
    count_command(status, metrics);
    let seen: HashMap<String, ProtoState> = bird
        .show_protocols()
        .await?
        .into_iter()
        .map(|p| (p.name, p.state))
        .collect();

    let mut plan = Vec::new();
    for (si, s) in config.services.iter().enumerate() {
        let action = wanted.get(si).copied().unwrap_or(PrefixAction::Withdraw);
        let (announce_on, drain_on) = match action {
            PrefixAction::Announce => (true, false),
            PrefixAction::AnnounceDrain => (false, true),
            PrefixAction::Withdraw => (false, false),
        };
        let steady = applied.get(si).copied().flatten() == Some(action);
        for (pi, p) in s.prefixes.iter().enumerate() {
            for (proto, is_announce, on) in [
                (p.announce_protocol.as_str(), true, announce_on),
                (p.drain_protocol.as_str(), false, drain_on),
            ] {
                plan.push(Step {
                    service: si,
                    prefix: pi,
                    proto,
                    is_announce,
                    on,
                    steady,
                });
            }
        }
    }
    // Record what BIRD reported, before changing anything.
    {
        let mut st = lock(status);
        for step in &plan {
            set_seen(&mut st, step, seen.get(step.proto).map(|s| s.to_string()));
        }
    }
    let mut missing = Vec::new();
    // Enables first, then disables: make before break.
    for pass_on in [true, false] {
        for step in &plan {
            let (proto, on) = (step.proto, step.on);
            if on != pass_on {
                continue;
            }
            let Some(state) = seen.get(proto) else {
                missing.push(proto);
                continue;
            };
            if state.is_enabled() == on {
                continue;
            }
            if step.steady {
                lock(status).bird.corrections_total += 1;
                metrics.bird_correction();
                tracing::warn!(
                    protocol = proto,
                    found = %state,
                    "BIRD protocol not in the wanted state (birdc configure?); re-asserting"
                );
            }
            count_command(status, metrics);
            if on {
                bird.enable(proto).await?;
                tracing::info!(protocol = proto, "enabled");
            } else {
                bird.disable(proto).await?;
                tracing::info!(protocol = proto, "disabled");
            }
            let now = if on { "up" } else { "down" };
            set_seen(&mut lock(status), step, Some(now.to_owned()));
        }
    }
    if !missing.is_empty() {
        return Err(BirdError::MissingProtocol(missing.join(", ")));
    }
    Ok(())
}

fn count_command(status: &SharedStatus, metrics: &Metrics) {
    lock(status).bird.commands_total += 1;
    metrics.bird_command();
}

/// One protocol of one prefix and whether it should be on.
#[derive(Debug)]
struct Step<'a> {
    service: usize,
    prefix: usize,
    proto: &'a str,
    is_announce: bool,
    on: bool,
    /// The wanted action was already applied: a mismatch is drift.
    steady: bool,
}

fn set_seen(st: &mut crate::status::Status, step: &Step<'_>, v: Option<String>) {
    if let Some(p) = st
        .services
        .get_mut(step.service)
        .and_then(|s| s.prefixes.get_mut(step.prefix))
    {
        if step.is_announce {
            p.announce_state = v;
        } else {
            p.drain_state = v;
        }
    }
}
