//! Type errors name the key path (and the line and column).

#![allow(clippy::unwrap_used)]

mod common;

use anysip_config::{Config, ConfigError};
use common::{error, key_path, EDGE};

#[test]
fn the_documented_examples() {
    let text = format!("{EDGE}edge:\n  token_max_age_secs: x\n");
    let e = Config::from_yaml_with_env(&text, "deploy/examples/edge.yaml", |_| None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "deploy/examples/edge.yaml:10:23: edge.token_max_age_secs: invalid type: string \"x\", expected u64"
    );

    let text = EDGE.replace(
        "          address: 127.0.0.1:5070\n",
        "          address: 127.0.0.1:5070\n        - uri: sip:b\n          address: nope\n",
    );
    let e = Config::from_yaml_with_env(&text, "deploy/examples/edge.yaml", |_| None).unwrap_err();
    assert_eq!(key_path(&e), "gateway.groups[0].destinations[1].address");
    assert!(
        e.to_string().starts_with(
            "deploy/examples/edge.yaml:10:20: gateway.groups[0].destinations[1].address: \"nope\": expected IP:port or host:port"
        ),
        "{e}"
    );
}

#[test]
fn type_errors_name_the_path() {
    for (extra, path) in [
        ("server:\n  instance_id: 70000\n", "server.instance_id"),
        ("server:\n  instance_id: 0\n", "server.instance_id"),
        ("server:\n  instance_id: \"a b\"\n", "server.instance_id"),
        ("server:\n  drain_secs: -1\n", "server.drain_secs"),
        ("admin:\n  listen: localhost\n", "admin.listen"),
        ("limits:\n  max_headers: many\n", "limits.max_headers"),
        (
            "telemetry:\n  log:\n    format: xml\n",
            "telemetry.log.format",
        ),
        ("edge:\n  keys:\n    dev: maybe\n", "edge.keys.dev"),
        ("edge:\n  selection_key: via\n", "edge.selection_key"),
        ("xdp:\n  rate: [1]\n", "xdp.rate"),
        ("listen:\n  udp: 127.0.0.1:5060\n", "listen.udp"),
        (
            "metrics:\n  prometheus:\n    listen: 1.2.3.4\n",
            "metrics.prometheus.listen",
        ),
        ("tls: []\n", "tls"),
    ] {
        // A later duplicate key would be an error of its own; replace the
        // minimal config's sections instead of appending twice.
        let base = if extra.starts_with("listen:") {
            EDGE.replace("listen:\n  udp: [127.0.0.1:5060]\n", "")
        } else {
            EDGE.to_owned()
        };
        let e = error(&format!("{base}{extra}"));
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        assert_eq!(key_path(&e), path, "{e}");
        assert!(
            matches!(
                e,
                ConfigError::Parse {
                    location: Some(_),
                    ..
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn gateway_type_errors() {
    for (from, to, path) in [
        (
            "      destinations:",
            "      algorithm: random\n      destinations:",
            "gateway.groups[0].algorithm",
        ),
        (
            "      destinations:",
            "      hash_key: via\n      destinations:",
            "gateway.groups[0].hash_key",
        ),
        (
            "      destinations:",
            "      probe: {interval_secs: soon}\n      destinations:",
            "gateway.groups[0].probe.interval_secs",
        ),
        (
            "          address: 127.0.0.1:5070\n",
            "          address: 127.0.0.1:5070\n          weight: heavy\n",
            "gateway.groups[0].destinations[0].weight",
        ),
        (
            "          address: 127.0.0.1:5070\n",
            "          address: 127.0.0.1:5070\n          transport: sctp\n",
            "gateway.groups[0].destinations[0].transport",
        ),
        (
            "          address: 127.0.0.1:5070\n",
            "          address: 127.0.0.1:5070\n          attrs: {pop: [a]}\n",
            "gateway.groups[0].destinations[0].attrs.pop",
        ),
        (
            "    - name: backends\n",
            "    - algorithm: hash\n",
            "gateway.groups[0]",
        ),
    ] {
        let e = error(&EDGE.replace(from, to));
        assert_eq!(key_path(&e), path, "{e}");
    }
}

#[test]
fn missing_field_names_the_field() {
    let e = error(&EDGE.replace("    - name: backends\n", "    - algorithm: hash\n"));
    assert!(e.to_string().contains("missing field `name`"), "{e}");
}

#[test]
fn not_a_mapping() {
    let e = error("just text\n");
    assert_eq!(key_path(&e), "");
    assert!(e.to_string().contains("(top level)"), "{e}");
    let e = error(&format!("{EDGE}edge: 5\n"));
    assert_eq!(key_path(&e), "edge");
    assert!(e.to_string().contains("expected a mapping"), "{e}");
}

#[test]
fn bad_yaml_has_a_location() {
    let e = error("listen:\n  udp: [127.0.0.1:5060\n");
    assert!(
        matches!(
            e,
            ConfigError::Parse {
                location: Some(_),
                ..
            }
        ),
        "{e}"
    );
}
