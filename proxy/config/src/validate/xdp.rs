//! `xdp:` checks.

use super::{fail, range, Check};
use crate::schema::{parse_cidr, XdpConfig};

/// Checks the `xdp:` section.
pub(super) fn xdp(x: &XdpConfig) -> Check {
    if x.interface
        .as_deref()
        .is_some_and(|i| i.is_empty() || i.len() > 15 || i.contains(['/', ' ', '\0']))
    {
        return fail("xdp.interface", "not a network interface name");
    }
    for (key, ports) in [("xdp.ports", &x.ports), ("xdp.tcp_ports", &x.tcp_ports)] {
        if ports.len() > 8 {
            return fail(key, "at most 8 ports");
        }
        if ports.contains(&0) {
            return fail(key, "port 0 is not a port");
        }
    }
    for (v4, name) in [(true, "IPv4"), (false, "IPv6")] {
        if x.addresses.iter().filter(|a| a.is_ipv4() == v4).count() > 8 {
            return fail("xdp.addresses", format!("at most 8 {name} addresses"));
        }
    }
    if x.rate == 0 && x.burst != 0 {
        return fail("xdp.burst", "set without xdp.rate (0 turns the limit off)");
    }
    if x.burst != 0 && x.burst < x.rate {
        return fail("xdp.burst", "must be at least xdp.rate");
    }
    range("xdp.rate", x.rate, 0, 1_000_000)?;
    range("xdp.burst", x.burst, 0, 1_000_000)?;
    range("xdp.shed_factor", x.shed_factor, 1, 1_000)?;
    range("xdp.max_sources", x.max_sources, 1, 16_777_216)?;
    for (i, c) in x.blocklist.iter().enumerate() {
        if let Err(e) = parse_cidr(c) {
            return fail(format!("xdp.blocklist[{i}]"), e);
        }
    }
    for (i, p) in x.auto_block.user_agents.iter().enumerate() {
        if p.trim().is_empty() {
            return fail(
                format!("xdp.auto_block.user_agents[{i}]"),
                "must not be empty",
            );
        }
    }
    range(
        "xdp.auto_block.block_secs",
        x.auto_block.block_secs,
        1,
        604_800,
    )
}
