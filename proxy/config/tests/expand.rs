//! `${VAR}` / `${VAR:-default}` expansion.

#![allow(clippy::unwrap_used)]

mod common;

use anysip_config::expand::{expand, expand_noting};
use anysip_config::{Config, ConfigError};

use common::EDGE;

fn env(name: &str) -> Option<String> {
    match name {
        "ID" => Some("7".to_owned()),
        "EMPTY" => Some(String::new()),
        "GROUP" => Some("cores".to_owned()),
        _ => None,
    }
}

#[test]
fn plain_and_default() {
    assert_eq!(expand("a: ${ID}\n", env).unwrap(), "a: 7\n");
    assert_eq!(expand("a: ${ID:-9}\n", env).unwrap(), "a: 7\n");
    assert_eq!(expand("a: ${NOPE:-9}\n", env).unwrap(), "a: 9\n");
    assert_eq!(expand("a: ${NOPE:-}\n", env).unwrap(), "a: \n");
    assert_eq!(expand("a: ${EMPTY}\n", env).unwrap(), "a: \n");
    assert_eq!(expand("a: ${EMPTY:-x}\n", env).unwrap(), "a: x\n");
    assert_eq!(
        expand("a: ${NOPE:-redis://h:1/0}${ID}\n", env).unwrap(),
        "a: redis://h:1/07\n"
    );
}

#[test]
fn dollars() {
    assert_eq!(
        expand("a: $$HOME $${ID}\n", env).unwrap(),
        "a: $HOME ${ID}\n"
    );
    assert_eq!(expand("a: $ID $ x$\n", env).unwrap(), "a: $ID $ x$\n");
    assert_eq!(expand("a: $$$$\n", env).unwrap(), "a: $$\n");
}

#[test]
fn comments_are_not_expanded() {
    let text = "# uses ${NOPE}\n  # ${ALSO_NOPE}\na: ${ID}\n";
    assert_eq!(
        expand(text, env).unwrap(),
        "# uses ${NOPE}\n  # ${ALSO_NOPE}\na: 7\n"
    );
}

#[test]
fn unset_variable_expands_to_nothing_with_a_warning() {
    // As in SIPhon: an unset variable without a default is empty.
    let (text, unset) = expand_noting("a: 1\nb: x${NOPE}y\n", env).unwrap();
    assert_eq!(text, "a: 1\nb: xy\n");
    assert_eq!(unset.len(), 1);
    assert_eq!((unset[0].line, unset[0].name.as_str()), (2, "NOPE"));
    assert_eq!(expand("b: ${NOPE}\n", env).unwrap(), "b: \n");

    // The loader keeps going and names the variable and its line.
    let text = format!("{EDGE}advertised_address: edge${{ANYSIP_TEST_UNSET_SUFFIX}}.example.com\n");
    let c = Config::from_yaml_with_env(&text, "edge.yaml", env).unwrap();
    assert_eq!(c.advertised_address.as_deref(), Some("edge.example.com"));
    let notice = c
        .notices
        .iter()
        .find(|n| n.key == "ANYSIP_TEST_UNSET_SUFFIX")
        .unwrap_or_else(|| panic!("no notice: {:?}", c.notices));
    assert!(
        notice
            .message
            .starts_with("line 9: environment variable ANYSIP_TEST_UNSET_SUFFIX is not set"),
        "{notice}"
    );

    // An instance id left empty is the host's name, as SIPhon falls back
    // to HOSTNAME.
    let text = format!("{EDGE}server:\n  instance_id: \"${{ANYSIP_TEST_UNSET_ID}}\"\n");
    let c = Config::from_yaml_with_env(&text, "edge.yaml", env).unwrap();
    assert!(!c.server.instance_id.name.is_empty());
    assert!(c.notices.iter().any(|n| n.key == "ANYSIP_TEST_UNSET_ID"));
}

#[test]
fn malformed_references() {
    for (text, var) in [
        ("a: ${ID\n", "${ID"),
        ("a: ${}\n", "${}"),
        ("a: ${1X}\n", "${1X}"),
        ("a: ${A-B}\n", "${A-B}"),
        ("a: ${A:=b}\n", "${A:=b}"),
    ] {
        let e = expand(text, env).unwrap_err();
        assert_eq!(e.line, 1, "{text}");
        assert_eq!(e.var, var, "{text}");
    }
}

#[test]
fn expanded_values_are_parsed_and_typed() {
    let text = EDGE.replace("backends", "${GROUP}")
        + "server:\n  instance_id: ${ID}\n  drain_secs: ${DRAIN:-45}\nedge:\n  backend_group: ${GROUP}\n";
    let c = Config::from_yaml_with_env(&text, "t.yaml", env).unwrap();
    assert_eq!(c.server.instance_id.number, 7);
    assert_eq!(c.server.drain_secs, 45);
    assert_eq!(c.edge.unwrap().backend_group, "cores");
}

#[test]
fn expansion_from_the_process_environment() {
    // A name no one else uses; set before any reader in this process.
    let text = EDGE.to_owned() + "server:\n  drain_secs: ${PATH:+x}\n";
    // `:+` is not supported: the whole inner text is not a name.
    assert!(matches!(
        Config::from_yaml(&text, "t.yaml").unwrap_err(),
        ConfigError::Expand { .. }
    ));
    let text = EDGE.to_owned() + "server:\n  drain_secs: ${ANYSIP_CONFIG_TEST_SURELY_UNSET:-12}\n";
    assert_eq!(
        Config::from_yaml(&text, "t.yaml")
            .unwrap()
            .server
            .drain_secs,
        12
    );
}

#[test]
fn instance_id_may_be_a_host_name() {
    let text = format!("{EDGE}server:\n  instance_id: \"${{HOSTNAME}}\"\n");
    let c = Config::from_yaml_with_env(&text, "t.yaml", |n| {
        (n == "HOSTNAME").then(|| "core-1.example".to_string())
    })
    .unwrap();
    assert_eq!(c.server.instance_id.name, "core-1.example");
    let again = anysip_config::InstanceId::parse("core-1.example").unwrap();
    assert_eq!(c.server.instance_id.number, again.number, "stable hash");
    assert_ne!(
        again.number,
        anysip_config::InstanceId::parse("core-2.example")
            .unwrap()
            .number
    );
    // From the process environment an unset HOSTNAME is the kernel's name.
    let c = Config::from_yaml(&text, "t.yaml").unwrap();
    assert!(!c.server.instance_id.name.is_empty());
}
