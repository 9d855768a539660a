//! Gateway groups for the tests.

use gateway::{Algorithm, DestinationConfig, GroupConfig, HashKey, ProbeConfig, Transport};

/// A group `backends` of `weights.len()` UDP destinations (10.0.x.y:5060),
/// probing off.
pub fn group_config(algorithm: Algorithm, weights: &[u32]) -> GroupConfig {
    GroupConfig {
        name: "backends".into(),
        algorithm,
        hash_key: HashKey::ToAor,
        probe: ProbeConfig {
            enabled: false,
            ..ProbeConfig::default()
        },
        destinations: weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| {
                let host = format!("10.0.{}.{}", i / 250, i % 250 + 1);
                DestinationConfig {
                    uri: format!("sip:{host}:5060"),
                    address: format!("{host}:5060").parse().expect("address"),
                    transport: Some(Transport::Udp),
                    weight,
                    priority: 1,
                    attrs: Default::default(),
                }
            })
            .collect(),
    }
}
