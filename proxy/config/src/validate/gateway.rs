//! `gateway.groups`: the `gateway` crate's own validation, plus what an
//! address must be to be sent to.

use super::{fail, Check};
use crate::error::Invalid;
use crate::schema::GatewayConfig;

/// Every group: the `gateway` crate's checks (names, probing, members,
/// weights, URIs), then addresses.
pub(super) fn groups(gateway: &GatewayConfig) -> Check {
    if let Err(e) = gateway.validate() {
        return Err(match e {
            ::gateway::Error::Config(problems) => match problems.split_first() {
                Some((first, rest)) => {
                    let mut message = first.message.clone();
                    if !rest.is_empty() {
                        let others: Vec<&str> = rest.iter().map(|p| p.path.as_str()).collect();
                        message.push_str(&format!(
                            " (and {} more: {})",
                            rest.len(),
                            others.join(", ")
                        ));
                    }
                    Invalid::new(first.path.clone(), message)
                }
                None => Invalid::new("gateway", "invalid"),
            },
            other => Invalid::new("gateway", other.to_string()),
        });
    }
    for (i, group) in gateway.groups.iter().enumerate() {
        for (j, dest) in group.destinations.iter().enumerate() {
            let at = format!("gateway.groups[{i}].destinations[{j}].address");
            if dest.address.port() == 0 {
                return fail(at, "port 0 is not allowed");
            }
            if dest.address.ip().is_unspecified() {
                return fail(
                    at,
                    format!(
                        "{} is not a destination (unspecified address)",
                        dest.address
                    ),
                );
            }
        }
    }
    Ok(())
}
