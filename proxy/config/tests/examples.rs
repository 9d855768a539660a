//! Every shipped anysip example parses and validates.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use anysip_config::{load, Algorithm, KeySource, RegistrarBackend, Role, Transport};
use common::{example_files, examples_dir};

#[test]
fn every_example_loads() {
    let files = example_files();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "core.yaml",
        "edge-tls.yaml",
        "edge.yaml",
        "siphon-single.yaml",
        "siphon-lb.yaml",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing");
    }
    for file in files {
        if let Err(e) = load(&file) {
            panic!("{e}");
        }
    }
}

#[test]
fn edge_example() {
    let c = load(examples_dir().join("edge.yaml")).unwrap();
    assert_eq!(c.role, Role::Edge);
    let addr: SocketAddr = "192.0.2.1:5060".parse().unwrap();
    assert!(c.listen.udp.contains(&addr));
    assert!(c.listen.tcp.contains(&addr));
    let edge = c.edge.as_ref().unwrap();
    assert_eq!(
        edge.key_source(),
        KeySource::File("/etc/anysip/keys.yaml".as_ref())
    );
    let group = c
        .gateway
        .groups
        .iter()
        .find(|g| g.name == edge.backend_group);
    assert_eq!(group.unwrap().algorithm, Algorithm::Hash);
    let xdp = c.xdp.as_ref().unwrap();
    assert_eq!((xdp.rate, xdp.effective_burst()), (20, 40));
    assert_eq!(xdp.auto_block.user_agents.len(), 4);
}

#[test]
fn edge_tls_example() {
    let c = load(examples_dir().join("edge-tls.yaml")).unwrap();
    assert_eq!(c.listen.tls.len(), 2);
    assert_eq!(c.listen.wss.len(), 1);
    assert_eq!(
        c.websocket.allowed_origins,
        ["https://phone.example.com".to_owned()]
    );
    let tls = c.tls.as_ref().unwrap();
    assert!(tls.cert.is_some() && tls.key.is_some());
    let edge = c.edge.as_ref().unwrap();
    assert_eq!(edge.key_source(), KeySource::Env("ANYSIP_TOKEN_KEYS"));
    // The cores are reached over UDP (the example's URIs name no transport).
    assert_eq!(
        c.gateway.groups[0].destinations[0].transport(),
        Transport::Udp
    );
    assert_eq!(edge.ue_address.as_deref(), Some("192.0.2.1:5060"));
    let files: Vec<String> = c.referenced_files().into_iter().map(|(k, _)| k).collect();
    assert_eq!(files, ["tls.cert", "tls.key"]);
}

#[test]
fn core_example() {
    let c = load(examples_dir().join("core.yaml")).unwrap();
    assert_eq!(c.role, Role::Core);
    assert!(c.edge.is_none());
    let registrar = c.registrar.as_ref().unwrap();
    assert_eq!(registrar.backend, RegistrarBackend::Redis);
    assert!(registrar
        .redis
        .as_ref()
        .unwrap()
        .url
        .as_deref()
        .is_some_and(|u| u.starts_with("redis://")));
    assert_eq!(
        c.script.as_ref().unwrap().reload,
        anysip_config::ReloadMode::Auto
    );
    assert_eq!(c.auth.as_ref().unwrap().realm, "sip.example.com");
}

/// SIPhon's single-node and load-balancer files pass unchanged.
#[test]
fn siphon_examples() {
    let single = load(examples_dir().join("siphon-single.yaml")).unwrap();
    assert_eq!(single.role, Role::Core);
    assert_eq!(single.domain.local, ["domain.local"]);
    assert!(!single.server.instance_id.name.is_empty(), "from HOSTNAME");
    assert_eq!(single.server.drain_secs, 30);
    let r = single.registrar.as_ref().unwrap();
    assert_eq!(r.backend, RegistrarBackend::Redis);
    assert!(single.metrics.prometheus.listen.is_some());
    assert_eq!(single.auth.as_ref().unwrap().users.len(), 2);
    let lb = load(examples_dir().join("siphon-lb.yaml")).unwrap();
    let g = &lb.gateway.groups[0];
    assert_eq!(
        (g.name.as_str(), g.algorithm),
        ("backends", Algorithm::Hash)
    );
    assert_eq!(g.destinations.len(), 2);
    assert_eq!(g.destinations[0].weight, 100);
    assert_eq!(
        g.destinations[1].attrs.get("zone").map(String::as_str),
        Some("b")
    );
}

#[test]
fn missing_file_names_it() {
    let e = load("/nonexistent/anysip.yaml").unwrap_err();
    assert!(matches!(e, anysip_config::ConfigError::Io { .. }));
    assert!(e
        .to_string()
        .starts_with("/nonexistent/anysip.yaml: cannot read: "));
}

#[test]
fn debug_hides_the_redis_password() {
    let text = "role: core\nlisten: {udp: [127.0.0.1:5070]}\nscript: {path: /x.py}\n\
                registrar:\n  backend: redis\n  redis: {url: \"redis://app:s3cret@db:6379/0\"}\n";
    let c = anysip_config::Config::from_yaml_with_env(text, "t.yaml", |_| None).unwrap();
    let redis = c.registrar.as_ref().unwrap().redis.as_ref().unwrap();
    assert_eq!(redis.redacted_url(), "redis://app:***@db:6379/0");
    let shown = format!("{c:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("redis://app:***@db:6379/0"), "{shown}");
}
