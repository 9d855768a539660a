//! The embedded default configuration.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use anysip_config::{Config, KeySource, Role, DEFAULT_YAML, EMBEDDED_NAME};

#[test]
fn parses_with_the_documented_listeners() {
    let c = Config::embedded_default();
    let sip: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    assert_eq!(c.role, Role::Edge);
    assert_eq!(c.listen.udp, [sip]);
    assert_eq!(c.listen.tcp, [sip]);
    assert!(c.listen.tls.is_empty());
    assert_eq!(
        c.admin.listen,
        "127.0.0.1:9091".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.metrics.prometheus.listen, None);
}

#[test]
fn fronts_the_backend_in_dev_mode() {
    let c = Config::embedded_default();
    let edge = c.edge_or_default();
    assert_eq!(edge.key_source(), KeySource::Dev);
    let group = c
        .gateway
        .groups
        .iter()
        .find(|g| g.name == edge.backend_group)
        .unwrap();
    assert_eq!(group.destinations.len(), 1);
    assert_eq!(
        group.destinations[0].address,
        "127.0.0.1:5070".parse::<SocketAddr>().unwrap()
    );
    assert!(c.referenced_files().is_empty());
}

#[test]
fn goes_through_the_same_path_and_needs_no_environment() {
    assert!(!DEFAULT_YAML.contains("${"));
    let c = Config::from_yaml_with_env(DEFAULT_YAML, EMBEDDED_NAME, |_| None).unwrap();
    assert_eq!(c.server.instance_id.number, 1);
    assert_eq!(c.server.drain_secs, 30);
}

#[test]
fn an_edge_without_keys_is_dev_mode() {
    let text = DEFAULT_YAML.replace("  keys:\n    dev: true\n", "");
    assert_ne!(text, DEFAULT_YAML);
    let c = Config::from_yaml_with_env(&text, "t.yaml", |_| None).unwrap();
    assert!(c.edge.as_ref().unwrap().keys.is_none());
    assert_eq!(c.edge_or_default().key_source(), KeySource::Dev);
}

#[test]
fn the_manual_shows_the_embedded_default() {
    let manual = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    let section = manual.split("## The embedded default").nth(1).unwrap();
    let block = section
        .split("```yaml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let shown: serde_yaml::Value = serde_yaml::from_str(block).unwrap();
    let embedded: serde_yaml::Value = serde_yaml::from_str(DEFAULT_YAML).unwrap();
    assert_eq!(shown, embedded);
}

#[test]
fn digest_challenges_offer_md5_alone_unless_configured() {
    use anysip_config::DigestAlgorithm;
    let c = Config::from_yaml_with_env(
        "role: core\nlisten:\n  udp: [127.0.0.1:5070]\nscript:\n  path: s.py\nauth:\n  realm: r\n",
        "t.yaml",
        |_| None,
    )
    .unwrap();
    assert_eq!(c.auth.unwrap().algorithms, vec![DigestAlgorithm::Md5]);
    let c = Config::from_yaml_with_env(
        "role: core\nlisten:\n  udp: [127.0.0.1:5070]\nscript:\n  path: s.py\nauth:\n  realm: r\n  algorithms: [sha256, md5]\n",
        "t.yaml",
        |_| None,
    )
    .unwrap();
    assert_eq!(
        c.auth.unwrap().algorithms,
        vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
    );
}
