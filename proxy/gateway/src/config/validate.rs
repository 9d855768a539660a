//! Checks that serde cannot express, each naming the key path.

use std::collections::HashMap;

use super::{DestinationConfig, GatewayConfig, GroupConfig, ProbeConfig, Transport};
use crate::Error;

/// The largest `weight`.
pub const MAX_WEIGHT: u32 = 1_000_000;

/// One problem in the configuration: the key path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// E.g. `gateway.groups[0].destinations[1].weight`.
    pub path: String,
    /// E.g. `must be > 0`.
    pub message: String,
}

impl GatewayConfig {
    /// Checks the whole `gateway:` section; every problem found is reported,
    /// with paths rooted at `gateway`.
    pub fn validate(&self) -> Result<(), Error> {
        let mut errors = Vec::new();
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, group) in self.groups.iter().enumerate() {
            let path = format!("gateway.groups[{i}]");
            if let Some(first) = names.insert(group.name.as_str(), i) {
                push(
                    &mut errors,
                    format!("{path}.name"),
                    format!(
                        "duplicate group name `{}` (also gateway.groups[{first}])",
                        group.name
                    ),
                );
            }
            group.check(&path, &mut errors);
        }
        finish(errors)
    }
}

impl GroupConfig {
    /// Checks one group on its own; paths are rooted at `path`
    /// (e.g. `gateway.groups[0]`).
    pub fn validate_at(&self, path: &str) -> Result<(), Error> {
        let mut errors = Vec::new();
        self.check(path, &mut errors);
        finish(errors)
    }

    fn check(&self, path: &str, errors: &mut Vec<ConfigError>) {
        if self.name.is_empty() {
            push(errors, format!("{path}.name"), "must not be empty");
        } else if !self
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            push(
                errors,
                format!("{path}.name"),
                "may contain only letters, digits, `_`, `-` and `.`",
            );
        }
        self.probe.check(&format!("{path}.probe"), errors);
        if self.destinations.is_empty() {
            push(
                errors,
                format!("{path}.destinations"),
                "must list at least one destination",
            );
        }
        let mut uris: HashMap<&str, usize> = HashMap::new();
        let mut addrs = HashMap::new();
        for (j, dest) in self.destinations.iter().enumerate() {
            let dpath = format!("{path}.destinations[{j}]");
            dest.check(&dpath, errors);
            if let Some(first) = uris.insert(dest.uri.as_str(), j) {
                push(
                    errors,
                    format!("{dpath}.uri"),
                    format!("duplicate destination (same uri as {path}.destinations[{first}])"),
                );
            }
            if let Some(first) = addrs.insert((dest.address, dest.transport()), j) {
                push(
                    errors,
                    format!("{dpath}.address"),
                    format!(
                        "duplicate destination (same address and transport as \
                         {path}.destinations[{first}])"
                    ),
                );
            }
        }
    }
}

impl ProbeConfig {
    fn check(&self, path: &str, errors: &mut Vec<ConfigError>) {
        if self.interval_secs == 0 {
            push(errors, format!("{path}.interval_secs"), "must be > 0");
        }
        if self.timeout_secs == 0 {
            push(errors, format!("{path}.timeout_secs"), "must be > 0");
        } else if self.timeout_secs > self.interval_secs && self.interval_secs > 0 {
            push(
                errors,
                format!("{path}.timeout_secs"),
                format!("must be at most interval_secs ({})", self.interval_secs),
            );
        }
        if self.failure_threshold == 0 {
            push(errors, format!("{path}.failure_threshold"), "must be > 0");
        }
        if self.success_threshold == 0 {
            push(errors, format!("{path}.success_threshold"), "must be > 0");
        }
        for (key, value) in [
            ("from_user", &self.from_user),
            ("from_domain", &self.from_domain),
        ] {
            let bad = value.as_deref().is_some_and(|v| {
                v.is_empty()
                    || v.bytes().any(|b| {
                        b.is_ascii_whitespace() || b.is_ascii_control() || b"@<>\";:,".contains(&b)
                    })
            });
            if bad {
                push(
                    errors,
                    format!("{path}.{key}"),
                    "must be a plain URI user or host (no spaces, `@`, `<`, `>`, `;`, `:`, `,` or quotes)",
                );
            }
        }
        if let Some(codes) = &self.healthy_codes {
            if codes.is_empty() {
                push(
                    errors,
                    format!("{path}.healthy_codes"),
                    "must list at least one status code (omit the key for the default)",
                );
            }
            for (k, code) in codes.iter().enumerate() {
                if !(200..=699).contains(code) {
                    push(
                        errors,
                        format!("{path}.healthy_codes[{k}]"),
                        format!("{code} is not a final status code (200 to 699)"),
                    );
                }
            }
        }
    }
}

impl DestinationConfig {
    fn check(&self, path: &str, errors: &mut Vec<ConfigError>) {
        if matches!(self.transport(), Transport::Ws | Transport::Wss) {
            push(
                errors,
                format!("{path}.transport"),
                "must be udp, tcp or tls (ws and wss face user agents, not backends)",
            );
        }
        let uri = self.uri.as_str();
        let rest = match uri.split_once(':') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("sips") => {
                if self.transport() != Transport::Tls {
                    push(
                        errors,
                        format!("{path}.transport"),
                        "must be `tls` for a sips: uri",
                    );
                }
                Some(rest)
            }
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("sip") => Some(rest),
            _ => None,
        };
        match rest {
            None => push(
                errors,
                format!("{path}.uri"),
                format!("`{uri}` is not a sip: or sips: URI"),
            ),
            Some(r) if r.is_empty() || r.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) => {
                push(
                    errors,
                    format!("{path}.uri"),
                    format!("`{uri}` has no host or contains whitespace"),
                )
            }
            Some(_) => {}
        }
        if self.weight == 0 {
            push(errors, format!("{path}.weight"), "must be > 0");
        } else if self.weight > MAX_WEIGHT {
            push(
                errors,
                format!("{path}.weight"),
                format!("must be at most {MAX_WEIGHT}"),
            );
        }
        if self.attrs.keys().any(String::is_empty) {
            push(errors, format!("{path}.attrs"), "keys must not be empty");
        }
    }
}

fn push(errors: &mut Vec<ConfigError>, path: String, message: impl Into<String>) {
    errors.push(ConfigError {
        path,
        message: message.into(),
    });
}

fn finish(errors: Vec<ConfigError>) -> Result<(), Error> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Config(errors))
    }
}
