//! The `gateway:` configuration: parsing, defaults, unknown keys, validation.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use gateway::{Algorithm, Error, GatewayConfig, Gateways, HashKey, ProbeConfig, Transport};
use serde::Deserialize;

/// The file's top level as far as this crate is concerned.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Root {
    gateway: GatewayConfig,
}

fn parse(yaml: &str) -> Result<GatewayConfig, serde_yaml::Error> {
    serde_yaml::from_str::<Root>(yaml).map(|r| r.gateway)
}

const FULL: &str = r#"
gateway:
  groups:
    - name: backends
      algorithm: hash
      hash_key: call_id
      probe:
        enabled: true
        interval_secs: 10
        timeout_secs: 3
        failure_threshold: 4
        success_threshold: 1
        healthy_codes: [200, 404]
      destinations:
        - uri: "sip:10.0.0.1:5060"
          address: "10.0.0.1:5060"
          transport: tcp
          weight: 100
          attrs: { pop: fra1, rack: "r2" }
        - uri: "sips:core2.example.net"
          address: "[2001:db8::2]:5061"
          transport: tls
          weight: 50
    - name: registrars
      algorithm: round_robin
      hash_key: from_aor
      destinations:
        - uri: "sip:10.0.1.1"
          address: "10.0.1.1:5060"
          transport: udp
    - name: media
      hash_key: request_uri
      probe: { enabled: false }
      destinations:
        - { uri: "sip:10.0.2.1", address: "10.0.2.1:5060" }
"#;

#[test]
fn parses_every_field() {
    let c = parse(FULL).unwrap();
    c.validate().unwrap();
    assert_eq!(c.groups.len(), 3);
    let g = &c.groups[0];
    assert_eq!(g.name, "backends");
    assert_eq!(g.algorithm, Algorithm::Hash);
    assert_eq!(g.hash_key, HashKey::CallId);
    assert_eq!(
        g.probe,
        ProbeConfig {
            enabled: true,
            interval_secs: 10,
            timeout_secs: 3,
            failure_threshold: 4,
            success_threshold: 1,
            healthy_codes: Some(vec![200, 404]),
            ..ProbeConfig::default()
        }
    );
    let d = &g.destinations[0];
    assert_eq!(d.uri, "sip:10.0.0.1:5060");
    assert_eq!(d.address, "10.0.0.1:5060".parse().unwrap());
    assert_eq!(d.transport(), Transport::Tcp);
    assert_eq!(d.weight, 100);
    assert_eq!(d.attrs["pop"], "fra1");
    assert_eq!(d.attrs["rack"], "r2");
    let d = &g.destinations[1];
    assert_eq!(d.address, "[2001:db8::2]:5061".parse().unwrap());
    assert_eq!(d.transport(), Transport::Tls);
    assert_eq!(c.groups[1].algorithm, Algorithm::RoundRobin);
    assert_eq!(c.groups[1].hash_key, HashKey::FromAor);
    assert_eq!(c.groups[2].hash_key, HashKey::RequestUri);
    assert!(!c.groups[2].probe.enabled);
    Gateways::new(&c, Instant::now()).unwrap();
}

#[test]
fn defaults_are_explicit() {
    let c = parse(
        r#"
gateway:
  groups:
    - name: backends
      destinations:
        - { uri: "sip:10.0.0.1", address: "10.0.0.1:5060" }
"#,
    )
    .unwrap();
    let g = &c.groups[0];
    assert_eq!(g.algorithm, Algorithm::Weighted);
    assert_eq!(g.hash_key, HashKey::ToAor);
    assert_eq!(g.probe, ProbeConfig::default());
    assert!(g.probe.enabled);
    assert_eq!(g.probe.interval_secs, 5);
    assert_eq!(g.probe.timeout_secs, 2);
    assert_eq!(g.probe.failure_threshold, 3);
    assert_eq!(g.probe.success_threshold, 2);
    assert_eq!(g.probe.healthy_codes, None);
    assert!(g.probe.is_healthy_status(200));
    assert!(g.probe.is_healthy_status(404));
    assert!(g.probe.is_healthy_status(699));
    assert!(!g.probe.is_healthy_status(503));
    assert!(!g.probe.is_healthy_status(180));
    assert_eq!(g.destinations[0].transport(), Transport::Udp);
    assert_eq!(g.destinations[0].weight, 1);
    assert!(g.destinations[0].attrs.is_empty());

    let empty = parse("gateway: {}").unwrap();
    assert!(empty.groups.is_empty());
    empty.validate().unwrap();
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    let cases = [
        ("gateway: { groupz: [] }", "gateway", "groupz"),
        (
            "gateway: { groups: [ { name: a, destinations: [], colour: red } ] }",
            "gateway.groups[0]",
            "colour",
        ),
        (
            "gateway: { groups: [ { name: a, destinations: [], probe: { intervall_secs: 3 } } ] }",
            "gateway.groups[0].probe",
            "intervall_secs",
        ),
        (
            "gateway: { groups: [ { name: a, destinations: [ \
             { uri: 'sip:h', address: '10.0.0.1:5060', wieght: 3 } ] } ] }",
            "gateway.groups[0].destinations[0]",
            "wieght",
        ),
        (
            "gateway: { groups: [ { name: a, algorithm: random, destinations: [] } ] }",
            "gateway.groups[0].algorithm",
            "random",
        ),
        (
            "gateway: { groups: [ { name: a, destinations: [ \
             { uri: 'sip:h', address: '10.0.0.1:5060', transport: sctp } ] } ] }",
            "gateway.groups[0].destinations[0].transport",
            "sctp",
        ),
    ];
    for (yaml, path, key) in cases {
        let err = parse(yaml).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{path}: ")), "{yaml}\n=> {err}");
        assert!(err.contains(key), "{yaml}\n=> {err}");
    }
}

fn errors(yaml: &str) -> Vec<String> {
    match parse(yaml).unwrap().validate() {
        Ok(()) => Vec::new(),
        Err(Error::Config(errors)) => errors.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("unexpected {e}"),
    }
}

#[test]
fn validation_names_the_path() {
    let errs = errors(
        r#"
gateway:
  groups:
    - name: backends
      destinations:
        - { uri: "sip:10.0.0.1", address: "10.0.0.1:5060" }
        - { uri: "sip:10.0.0.2", address: "10.0.0.2:5060", weight: 0 }
"#,
    );
    assert_eq!(
        errs,
        ["gateway.groups[0].destinations[1].weight: must be > 0"]
    );

    let errs = errors(
        r#"
gateway:
  groups:
    - name: a
      probe: { interval_secs: 0, timeout_secs: 0, failure_threshold: 0,
               success_threshold: 0, healthy_codes: [200, 180, 700] }
      destinations:
        - { uri: "sip:10.0.0.1", address: "10.0.0.1:5060", weight: 1000001 }
        - { uri: "http://x", address: "10.0.0.2:5060" }
        - { uri: "sips:x.example", address: "10.0.0.3:5061", transport: udp }
        - { uri: "sip:10.0.0.1", address: "10.0.0.4:5060", attrs: { "": x } }
        - { uri: "sip:10.0.0.5", address: "10.0.0.1:5060" }
        - { uri: "sip:10.0.0.6", address: "10.0.0.1:5060", transport: tcp }
        - { uri: "sip:", address: "10.0.0.7:5060" }
    - name: a
      destinations: []
    - name: "b c"
      probe: { interval_secs: 2, timeout_secs: 3 }
      destinations:
        - { uri: "sip:10.0.0.1", address: "10.0.0.1:5060" }
"#,
    );
    let expected = [
        "gateway.groups[0].probe.interval_secs: must be > 0",
        "gateway.groups[0].probe.timeout_secs: must be > 0",
        "gateway.groups[0].probe.failure_threshold: must be > 0",
        "gateway.groups[0].probe.success_threshold: must be > 0",
        "gateway.groups[0].probe.healthy_codes[1]: 180 is not a final status code (200 to 699)",
        "gateway.groups[0].probe.healthy_codes[2]: 700 is not a final status code (200 to 699)",
        "gateway.groups[0].destinations[0].weight: must be at most 1000000",
        "gateway.groups[0].destinations[1].uri: `http://x` is not a sip: or sips: URI",
        "gateway.groups[0].destinations[2].transport: must be `tls` for a sips: uri",
        "gateway.groups[0].destinations[3].attrs: keys must not be empty",
        "gateway.groups[0].destinations[3].uri: duplicate destination \
         (same uri as gateway.groups[0].destinations[0])",
        "gateway.groups[0].destinations[4].address: duplicate destination \
         (same address and transport as gateway.groups[0].destinations[0])",
        "gateway.groups[0].destinations[6].uri: `sip:` has no host or contains whitespace",
        "gateway.groups[1].name: duplicate group name `a` (also gateway.groups[0])",
        "gateway.groups[1].destinations: must list at least one destination",
        "gateway.groups[2].name: may contain only letters, digits, `_`, `-` and `.`",
        "gateway.groups[2].probe.timeout_secs: must be at most interval_secs (2)",
    ];
    assert_eq!(errs, expected);
}

#[test]
fn gateways_refuse_an_invalid_config() {
    let c = parse(
        r#"
gateway:
  groups:
    - name: backends
      destinations:
        - { uri: "sip:10.0.0.1", address: "10.0.0.1:5060", weight: 0 }
"#,
    )
    .unwrap();
    let err = Gateways::new(&c, Instant::now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid gateway configuration: gateway.groups[0].destinations[0].weight: must be > 0"
    );
    let err = gateway::GatewayGroup::new(&c.groups[0], Instant::now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid gateway configuration: \
         gateway.groups[name=backends].destinations[0].weight: must be > 0"
    );
}

#[test]
fn config_round_trips_through_serde() {
    let c = parse(FULL).unwrap();
    let yaml = serde_yaml::to_string(&c).unwrap();
    let back: GatewayConfig = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back, c);
}

#[test]
fn transport_from_the_uri_when_not_given() {
    let c = parse(
        r#"
gateway:
  groups:
    - name: a
      destinations:
        - { uri: "sip:10.0.0.1;transport=TCP", address: "10.0.0.1:5060" }
        - { uri: "sips:core.example.net", address: "10.0.0.2:5061" }
        - { uri: "sip:10.0.0.3", address: "10.0.0.3:5060" }
        - { uri: "sip:10.0.0.4;transport=tcp", address: "10.0.0.4:5060", transport: udp }
        - { uri: "sip:10.0.0.5;lr;transport=tls?x=y", address: "10.0.0.5:5061" }
"#,
    )
    .unwrap();
    c.validate().unwrap();
    let got: Vec<Transport> = c.groups[0]
        .destinations
        .iter()
        .map(|d| d.transport())
        .collect();
    assert_eq!(
        got,
        [
            Transport::Tcp,
            Transport::Tls,
            Transport::Udp,
            Transport::Udp,
            Transport::Tls
        ]
    );
}
