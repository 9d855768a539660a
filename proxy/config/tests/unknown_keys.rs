//! An unknown key anywhere is rejected, and the error names file and path.

#![allow(clippy::unwrap_used)]

mod common;

use anysip_config::{Config, ConfigError, DEFAULT_YAML};
use common::{example_files, key_path, parse, CORE, EDGE};
use serde_yaml::{Mapping, Value};

/// Every mapping reachable in `value` (except the free-form `attrs` and `users`), with its
/// key path, as a list of index paths to mutate.
fn mappings(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            out.push(path.to_owned());
            for (k, v) in map {
                let k = k.as_str().unwrap();
                if k == "attrs" || k == "users" {
                    continue;
                }
                let p = if path.is_empty() {
                    k.to_owned()
                } else {
                    format!("{path}.{k}")
                };
                mappings(v, &p, out);
            }
        }
        Value::Sequence(seq) => {
            for (i, v) in seq.iter().enumerate() {
                mappings(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The mapping at `path` (as produced by [`mappings`]).
fn at<'a>(value: &'a mut Value, path: &str) -> &'a mut Mapping {
    let mut v = value;
    if !path.is_empty() {
        for part in path.split('.') {
            let (key, indices) = part.split_once('[').unwrap_or((part, ""));
            v = v.get_mut(key).unwrap();
            for index in indices.split('[').filter(|s| !s.is_empty()) {
                let i: usize = index.trim_end_matches(']').parse().unwrap();
                v = v.get_mut(i).unwrap();
            }
        }
    }
    v.as_mapping_mut().unwrap()
}

fn check_every_mapping(text: &str, file: &str) {
    let doc: Value = serde_yaml::from_str(text).unwrap();
    let mut paths = Vec::new();
    mappings(&doc, "", &mut paths);
    assert!(!paths.is_empty());
    for path in paths {
        let mut bad = doc.clone();
        at(&mut bad, &path).insert("zz_unknown".into(), 1.into());
        let yaml = serde_yaml::to_string(&bad).unwrap();
        let e = Config::from_yaml_with_env(&yaml, file, |_| None).unwrap_err();
        let want = if path.is_empty() {
            "zz_unknown".to_owned()
        } else {
            format!("{path}.zz_unknown")
        };
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        assert_eq!(key_path(&e), want, "{e}");
        let shown = e.to_string();
        assert!(shown.starts_with(file), "{shown}");
        assert!(
            shown.contains(&format!(": {want}: unknown field `zz_unknown`")),
            "{shown}"
        );
    }
}

#[test]
fn unknown_key_in_every_section_of_every_example() {
    for file in example_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        // Expand first so that the YAML round trip sees plain values.
        let text = anysip_config::expand::expand(&text, |n| {
            (n == "HOSTNAME").then(|| "node-1".to_owned())
        })
        .unwrap();
        check_every_mapping(&text, &file.display().to_string());
    }
}

#[test]
fn unknown_key_in_the_default_and_minimal_configs() {
    check_every_mapping(DEFAULT_YAML, "default.yaml");
    check_every_mapping(EDGE, "edge-min.yaml");
    check_every_mapping(CORE, "core-min.yaml");
}

/// Redis through Sentinel and Cluster, and `wait`, for the registrar and a
/// cache.
#[test]
fn unknown_key_in_the_redis_sections() {
    let sentinel = format!(
        "{CORE}registrar:\n  backend: redis\n  redis:\n    sentinel:\n      master_name: m1\n      \
         sentinels: [\"10.0.0.1:26379\"]\n      password: x\n    wait: {{replicas: 1, timeout_ms: 100}}\n\
         cache:\n  - name: c\n    cluster:\n      nodes: [\"10.0.0.1:7000\"]\n"
    );
    check_every_mapping(&sentinel, "redis.yaml");
    let cluster = format!(
        "{CORE}registrar:\n  backend: redis\n  redis:\n    cluster:\n      nodes: [\"10.0.0.1:7000\"]\n      tls: true\n"
    );
    check_every_mapping(&cluster, "cluster.yaml");
}

#[test]
fn unknown_key_shows_line_and_column() {
    let e = parse(&format!("{EDGE}edge:\n  token_max_age: 60\n")).unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.starts_with(
            "test.yaml:10:3: edge.token_max_age: unknown field `token_max_age`, expected one of"
        ),
        "{shown}"
    );
}

#[test]
fn unknown_variant_is_rejected() {
    let e = parse(&format!("{EDGE}role: proxy\n")).unwrap_err();
    assert_eq!(key_path(&e), "role");
    assert!(e.to_string().contains("unknown variant `proxy`"), "{e}");
}
