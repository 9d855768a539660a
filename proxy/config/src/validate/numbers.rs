//! `numbering:` and `number_policies:`: the `numbers` crate's checks,
//! with the key path of the value at fault.

use super::Check;
use crate::error::Invalid;
use crate::schema::Config;

/// The home plan's codes and prefixes, and each policy's overrides and
/// preserved users.
pub(super) fn numbers(config: &Config) -> Check {
    let fault = |p: ::numbers::config::Problem| Invalid::new(p.path, p.message);
    if let Some(n) = &config.numbering {
        n.validate("numbering").map_err(fault)?;
    }
    for (name, policy) in config.number_policies.iter().flatten() {
        if name.trim().is_empty() {
            return Err(Invalid::new(
                "number_policies",
                "a policy needs a name (e.g. \"ims-e164@2026\")",
            ));
        }
        policy
            .validate(&format!("number_policies.{name}"))
            .map_err(fault)?;
    }
    Ok(())
}
