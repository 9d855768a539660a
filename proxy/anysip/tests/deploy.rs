//! The deployment artefacts, checked with the tools operators use on them:
//!
//! - `deploy/prometheus`: `promtool check rules`, `promtool test rules`
//!   (every alert tested firing and not firing), `promtool check config`;
//! - `deploy/k8s`: `kubernetes-validate --strict` on every manifest, and on
//!   the example overlay rendered by applying its patches and images to the
//!   base (each patch must name a resource of the base);
//! - every configuration in a ConfigMap, base and overlay: `anysip check`
//!   (with the environment its pod gives it), `routerd check`, `bird -p`;
//!   the copies of `deploy/scripts` and `deploy/bird` in sync;
//! - every metric name that the alert rules and the Grafana dashboard
//!   query is on the `/metrics` page of a running edge, core or routerd.
//!
//! Under `CI=true` a missing tool (promtool, kubernetes-validate, bird) or a
//! missing routerd binary fails the test; otherwise the test is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/harness.rs"]
mod harness;
#[path = "support/lab.rs"]
mod lab;

use std::collections::{BTreeMap, BTreeSet};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::{http, tool, wait_for, Proc};
use lab::{core_yaml, deploy_script, edge_yaml, keys, scratch, start};
use serde::Deserialize;
use serde_yaml::Value;

/// The Kubernetes version the manifests are validated against.
const KUBERNETES: &str = "1.30.0";

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Runs `cmd`, failing the test with its output unless it exits 0.
fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what}: {}\n{text}", out.status);
    text
}

/// The documents of a YAML file (`---`-separated), without empty ones.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

fn kind_name(doc: &Value) -> (String, String) {
    (
        str_at(doc, &["kind"]).unwrap_or_default().to_owned(),
        str_at(doc, &["metadata", "name"])
            .unwrap_or_default()
            .to_owned(),
    )
}

// ---------------------------------------------------------------- Prometheus

#[test]
fn alert_rules_pass_promtool_and_every_alert_is_tested() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let dir = deploy().join("prometheus");
    let out = run_ok(
        Command::new(&promtool)
            .current_dir(&dir)
            .args(["check", "rules", "anysip.rules.yml"]),
        "promtool check rules",
    );
    assert!(out.contains("SUCCESS"), "{out}");
    let out = run_ok(
        Command::new(&promtool)
            .current_dir(&dir)
            .args(["test", "rules", "anysip.rules.test.yml"]),
        "promtool test rules",
    );
    assert!(out.contains("SUCCESS"), "{out}");
    run_ok(
        Command::new(&promtool)
            .current_dir(&dir)
            .args(["check", "config", "prometheus.yml"]),
        "promtool check config",
    );

    // Each alert has a test where it fires and one where it does not.
    let rules = &documents(&dir.join("anysip.rules.yml"))[0];
    let alerts: BTreeSet<String> = rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap())
        .filter_map(|r| r["alert"].as_str().map(str::to_owned))
        .collect();
    assert!(alerts.len() >= 9, "{alerts:?}");
    let tests = &documents(&dir.join("anysip.rules.test.yml"))[0];
    let (mut fires, mut quiet) = (BTreeSet::new(), BTreeSet::new());
    for t in tests["tests"].as_sequence().unwrap() {
        for a in t["alert_rule_test"].as_sequence().unwrap() {
            let name = a["alertname"].as_str().unwrap().to_owned();
            let firing = a["exp_alerts"].as_sequence().is_some_and(|s| !s.is_empty());
            if firing {
                fires.insert(name);
            } else {
                quiet.insert(name);
            }
        }
    }
    assert_eq!(fires, alerts, "alerts tested firing");
    assert_eq!(quiet, alerts, "alerts tested not firing");
}

// ---------------------------------------------------------------- Kubernetes

/// The base's resources, as the kustomization lists them.
fn base_files() -> Vec<PathBuf> {
    let k8s = deploy().join("k8s");
    let kust = &documents(&k8s.join("kustomization.yaml"))[0];
    kust["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| k8s.join(r.as_str().unwrap()))
        .collect()
}

fn base_documents() -> Vec<Value> {
    base_files().iter().flat_map(|f| documents(f)).collect()
}

/// Strategic merge as kustomize does it for these manifests: mappings
/// merge, lists of mappings with a `name` merge by name, anything else is
/// replaced.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Mapping(b), Value::Mapping(p)) => {
            for (k, pv) in p {
                match b.get_mut(k) {
                    Some(bv) => merge(bv, pv),
                    None => {
                        b.insert(k.clone(), pv.clone());
                    }
                }
            }
        }
        (Value::Sequence(b), Value::Sequence(p))
            if p.iter().all(|i| i.get("name").is_some())
                && b.iter().all(|i| i.get("name").is_some()) =>
        {
            for pi in p {
                match b.iter_mut().find(|bi| bi.get("name") == pi.get("name")) {
                    Some(bi) => merge(bi, pi),
                    None => b.push(pi.clone()),
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// The containers of a workload.
fn containers(doc: &Value) -> Vec<&Value> {
    let spec = &doc["spec"]["template"]["spec"];
    ["initContainers", "containers"]
        .iter()
        .filter_map(|k| spec.get(*k)?.as_sequence())
        .flatten()
        .collect()
}

fn containers_mut(doc: &mut Value) -> Vec<&mut Value> {
    let Some(spec) = doc
        .get_mut("spec")
        .and_then(|s| s.get_mut("template"))
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_mapping_mut)
    else {
        return vec![];
    };
    spec.iter_mut()
        .filter(|(k, _)| matches!(k.as_str(), Some("initContainers" | "containers")))
        .filter_map(|(_, v)| v.as_sequence_mut())
        .flatten()
        .collect()
}

/// (name, tag) of an image reference.
fn image_parts(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (image, "latest"),
    }
}

/// The example overlay applied to the base: its patches (each must name a
/// resource of the base) and its images (each must be used by the base).
fn render_overlay() -> Vec<Value> {
    let dir = deploy().join("k8s/overlays/example");
    let kust = &documents(&dir.join("kustomization.yaml"))[0];
    let resources: Vec<&str> = kust["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(resources, ["../../"], "the overlay builds on the base");
    let mut docs = base_documents();
    for p in kust["patches"].as_sequence().unwrap() {
        let file = dir.join(p["path"].as_str().expect("patches by path"));
        for patch in documents(&file) {
            let id = kind_name(&patch);
            let target = docs
                .iter_mut()
                .find(|d| kind_name(d) == id)
                .unwrap_or_else(|| panic!("{file:?}: patch for {id:?}, not in the base"));
            merge(target, &patch);
        }
    }
    for img in kust["images"].as_sequence().unwrap() {
        let name = img["name"].as_str().unwrap();
        let mut used = false;
        for d in &mut docs {
            for c in containers_mut(d) {
                let image = c["image"].as_str().unwrap().to_owned();
                let (n, tag) = image_parts(&image);
                if n != name {
                    continue;
                }
                used = true;
                let n = img["newName"].as_str().unwrap_or(n);
                let tag = img["newTag"].as_str().unwrap_or(tag);
                c["image"] = Value::from(format!("{n}:{tag}"));
            }
        }
        assert!(
            used,
            "overlay image {name}: no container of the base uses it"
        );
    }
    docs
}

fn kubernetes_validate(files: &[PathBuf]) {
    let Some(kv) = tool("kubernetes-validate") else {
        return;
    };
    let out = run_ok(
        Command::new(kv)
            .args(["--strict", "--kubernetes-version", KUBERNETES])
            .args(files),
        "kubernetes-validate",
    );
    assert!(!out.contains("ERROR"), "{out}");
    let passed = out.matches(" passed for resource ").count();
    assert!(passed > 0, "{out}");
}

#[test]
fn manifests_validate_base_and_overlay() {
    let k8s = deploy().join("k8s");
    let listed: BTreeSet<PathBuf> = base_files().into_iter().collect();
    // Every manifest at the top of deploy/k8s is in the kustomization, but
    // the example Secrets (placeholders, applied by hand).
    let mut files: Vec<PathBuf> = std::fs::read_dir(&k8s)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    for f in &files {
        assert!(
            listed.contains(f) || f.ends_with("secrets.example.yaml"),
            "{f:?} is not in deploy/k8s/kustomization.yaml"
        );
    }
    for f in &listed {
        assert!(f.is_file(), "{f:?} listed in the kustomization is missing");
    }
    // One namespace for everything.
    for d in base_documents() {
        let (kind, name) = kind_name(&d);
        if kind != "Namespace" {
            assert_eq!(
                str_at(&d, &["metadata", "namespace"]),
                Some("anysip"),
                "{kind}/{name}"
            );
        }
    }
    // The pieces the layout promises.
    let docs = base_documents();
    let has = |kind: &str, name: &str| {
        docs.iter()
            .any(|d| kind_name(d) == (kind.into(), name.into()))
    };
    for (kind, name) in [
        ("DaemonSet", "anysip-edge"),
        ("StatefulSet", "anysip-core"),
        ("Service", "anysip-edge"),
        ("Service", "anysip-core"),
        ("PodDisruptionBudget", "anysip-edge"),
        ("PodDisruptionBudget", "anysip-core"),
        ("ConfigMap", "anysip-scripts"),
        ("ConfigMap", "anysip-bird-config"),
    ] {
        assert!(has(kind, name), "{kind}/{name} missing from the base");
    }
    let edge = docs
        .iter()
        .find(|d| kind_name(d) == ("DaemonSet".into(), "anysip-edge".into()))
        .unwrap();
    assert_eq!(
        edge["spec"]["template"]["spec"]["hostNetwork"],
        Value::Bool(true)
    );
    let names: Vec<&str> = containers(edge)
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["edge", "routerd", "bird"]);

    kubernetes_validate(&files);

    // The overlay, rendered.
    let dir = scratch("deploy-overlay");
    let rendered = dir.join("overlay.yaml");
    // As JSON, which no YAML reader can take for anything but strings.
    let text: Vec<String> = render_overlay()
        .iter()
        .map(|d| serde_json::to_string_pretty(d).unwrap() + "\n")
        .collect();
    std::fs::write(&rendered, text.join("---\n")).unwrap();
    kubernetes_validate(&[rendered]);
    let _ = std::fs::remove_dir_all(dir);
}

/// The environment a container gives its process: literal values, and the
/// downward API's fields with stand-in values (Secrets are left unset, as
/// an optional Secret that does not exist leaves them).
fn container_env(c: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for e in c["env"].as_sequence().into_iter().flatten() {
        let name = e["name"].as_str().unwrap().to_owned();
        if let Some(v) = e["value"].as_str() {
            env.insert(name, v.to_owned());
        } else if let Some(field) = str_at(e, &["valueFrom", "fieldRef", "fieldPath"]) {
            let v = match field {
                "metadata.name" => "anysip-core-0",
                "spec.nodeName" => "edge-node-1.example.net",
                "status.podIP" => "10.20.0.11",
                "status.hostIP" => "10.20.1.21",
                other => panic!("no stand-in for the downward API's {other}"),
            };
            env.insert(name, v.to_owned());
        }
    }
    env
}

/// For each ConfigMap: the environment of the containers that mount it.
fn mounters(docs: &[Value]) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for d in docs {
        let volumes: BTreeMap<&str, &str> = d["spec"]["template"]["spec"]["volumes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|v| Some((v["name"].as_str()?, str_at(v, &["configMap", "name"])?)))
            .collect();
        for c in containers(d) {
            for m in c["volumeMounts"].as_sequence().into_iter().flatten() {
                if let Some(cm) = m["name"].as_str().and_then(|n| volumes.get(n)) {
                    out.entry((*cm).to_owned())
                        .or_default()
                        .push(container_env(c));
                }
            }
        }
    }
    out
}

fn routerd_bin() -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_BIN_EXE_anysip")).with_file_name("routerd");
    if bin.is_file() {
        return Some(bin);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{bin:?} is not built (CI=true): cargo build -p anysip-routerd"
    );
    eprintln!("SKIPPED: {bin:?} is not built (cargo build -p anysip-routerd)");
    None
}

/// Checks every configuration in the ConfigMaps of `docs` with the tool
/// that reads it; returns how many were checked.
fn check_configmaps(docs: &[Value], dir: &Path, label: &str) -> usize {
    let env = mounters(docs);
    let mut checked = 0;
    for d in docs {
        let (kind, name) = kind_name(d);
        if kind != "ConfigMap" {
            continue;
        }
        let data = d["data"].as_mapping().unwrap();
        let cm_dir = dir.join(label).join(&name);
        std::fs::create_dir_all(&cm_dir).unwrap();
        for (k, v) in data {
            std::fs::write(cm_dir.join(k.as_str().unwrap()), v.as_str().unwrap()).unwrap();
        }
        for (k, v) in data {
            let (key, text) = (k.as_str().unwrap(), v.as_str().unwrap());
            let file = cm_dir.join(key);
            let what = format!("{label}: ConfigMap {name}, {key}");
            if key.ends_with(".yaml") && text.lines().any(|l| l.starts_with("role:")) {
                let envs = env
                    .get(&name)
                    .unwrap_or_else(|| panic!("{what}: no container mounts it"));
                for e in envs {
                    let out = run_ok(
                        Command::new(env!("CARGO_BIN_EXE_anysip"))
                            .env_clear()
                            .envs(e)
                            .args(["check", "-c"])
                            .arg(&file),
                        &format!("anysip check ({what})"),
                    );
                    assert!(out.contains(": ok"), "{what}: {out}");
                    checked += 1;
                }
            } else if key == "routerd.yaml" {
                if let Some(bin) = routerd_bin() {
                    run_ok(
                        Command::new(bin).args(["check", "-c"]).arg(&file),
                        &format!("routerd check ({what})"),
                    );
                    checked += 1;
                }
            } else if key == "bird.conf" {
                if let Some(bird) = tool("bird") {
                    run_ok(
                        Command::new(bird).arg("-p").arg("-c").arg(&file),
                        &format!("bird -p ({what})"),
                    );
                    checked += 1;
                }
            }
        }
    }
    checked
}

#[test]
fn configs_in_configmaps_pass_their_checks() {
    let dir = scratch("deploy-configs");
    let base = base_documents();
    let n = check_configmaps(&base, &dir, "base");
    let m = check_configmaps(&render_overlay(), &dir, "overlay");
    let _ = std::fs::remove_dir_all(&dir);
    // edge.yaml, core.yaml, routerd.yaml, bird.conf, in each (fewer when a
    // tool is missing outside CI).
    if std::env::var("CI").as_deref() == Ok("true") {
        assert_eq!((n, m), (4, 4));
    } else {
        assert!(n >= 2 && m >= 2, "{n} {m}");
    }

    // The copies of deploy/scripts and deploy/bird are in sync.
    let cm = |name: &str, key: &str| -> String {
        base.iter()
            .find(|d| kind_name(d) == ("ConfigMap".into(), name.into()))
            .and_then(|d| d["data"][key].as_str())
            .unwrap_or_else(|| panic!("ConfigMap {name} has no {key}"))
            .to_owned()
    };
    let file = |p: &str| std::fs::read_to_string(deploy().join(p)).unwrap();
    assert_eq!(
        cm("anysip-scripts", "proxy_default.py"),
        file("scripts/proxy_default.py"),
        "deploy/k8s/scripts-config.yaml differs from deploy/scripts/proxy_default.py"
    );
    assert_eq!(
        cm("anysip-bird-config", "anysip-anycast.conf"),
        file("bird/anysip-anycast.conf"),
        "deploy/k8s/bird-config.yaml differs from deploy/bird/anysip-anycast.conf"
    );
    assert_eq!(
        cm("anysip-bird-config", "bird.conf"),
        file("bird/bird.conf").replace("log syslog all;", "log stderr all;"),
        "deploy/k8s/bird-config.yaml differs from deploy/bird/bird.conf"
    );
}

// ------------------------------------------------------------- metric names

/// The metric names a PromQL expression selects: identifiers outside
/// strings, label matchers, ranges and grouping clauses that are neither
/// functions, keywords nor numbers.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
    ];
    const GROUPING: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let b = expr.as_bytes();
    let mut names = BTreeSet::new();
    let mut i = 0;
    // Skips from an opening byte to its closing one, over strings.
    let skip_to = |mut i: usize, close: u8| -> usize {
        while i < b.len() && b[i] != close {
            if matches!(b[i], b'"' | b'\'' | b'`') {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            i += 1;
        }
        i + 1
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' | b'`' => i = skip_to(i + 1, c),
            b'{' => i = skip_to(i + 1, b'}'),
            b'[' => i = skip_to(i + 1, b']'),
            b'$' => {
                // A Grafana variable: $name or ${name}.
                i += 1;
                if b.get(i) == Some(&b'{') {
                    i = skip_to(i, b'}');
                } else {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                }
            }
            b'0'..=b'9' | b'.' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':')
                {
                    i += 1;
                }
                let ident = &expr[start..i];
                let mut j = i;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                // `sum by (x) (...)`: an aggregation with its grouping first.
                let grouped = ["by", "without"].iter().any(|g| {
                    expr[j..].starts_with(g) && expr[j + g.len()..].trim_start().starts_with('(')
                });
                let call = b.get(j) == Some(&b'(') || grouped;
                if call && GROUPING.contains(&ident) {
                    i = skip_to(j + 1, b')');
                } else if !call && !KEYWORDS.contains(&ident.to_ascii_lowercase().as_str()) {
                    names.insert(ident.to_owned());
                }
            }
            _ => i += 1,
        }
    }
    names
}

#[test]
fn promql_names_are_found() {
    let got = metric_names(
        r#"sum by (instance, le) (rate(a_bucket{x="}",y=~"b|c"}[$__rate_interval])) / on (instance) group_left b_total > 0.5 and c unless d offset 5m == bool 1e3"#,
    );
    let want: BTreeSet<String> = ["a_bucket", "b_total", "c", "d"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(got, want);
}

/// Every PromQL expression of the rules and the dashboard.
fn queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let rules = &documents(&deploy().join("prometheus/anysip.rules.yml"))[0];
    for g in rules["groups"].as_sequence().unwrap() {
        for r in g["rules"].as_sequence().unwrap() {
            let name = r["alert"].as_str().or(r["record"].as_str()).unwrap();
            out.push((
                format!("rule {name}"),
                r["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let text = std::fs::read_to_string(deploy().join("grafana/anysip.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(dash["schemaVersion"], 39);
    let vars = dash["templating"]["list"].as_array().unwrap();
    assert!(vars.iter().any(|v| v["name"] == "DS_PROMETHEUS"
        && v["type"] == "datasource"
        && v["query"] == "prometheus"));
    assert!(vars.iter().any(|v| v["name"] == "instance"));
    for v in vars.iter().filter(|v| v["type"] == "query") {
        let q = v["definition"].as_str().unwrap();
        // label_values(METRIC, LABEL)
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|s| s.rsplit_once(','))
            .map_or(q, |(m, _)| m);
        out.push((format!("variable {}", v["name"]), inner.to_owned()));
    }
    for p in dash["panels"].as_array().unwrap() {
        if p["type"] != "row" {
            assert_eq!(
                p["datasource"]["uid"], "${DS_PROMETHEUS}",
                "panel {}",
                p["title"]
            );
        }
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push((
                format!("panel {}", p["title"]),
                t["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

/// The metric names of a `/metrics` page: the families its `# TYPE` lines
/// declare (with the suffixes of their samples) and the sample names.
fn exposed(page: &str, names: &mut BTreeSet<String>) {
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            let (Some(name), Some(kind)) = (it.next(), it.next()) else {
                continue;
            };
            names.insert(name.to_owned());
            match kind {
                "counter" if !name.ends_with("_total") => {
                    names.insert(format!("{name}_total"));
                }
                "histogram" => {
                    for s in ["_bucket", "_sum", "_count"] {
                        names.insert(format!("{name}{s}"));
                    }
                }
                _ => {}
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
}

/// Messages from a UE at 127.0.0.1:`port`: an OPTIONS the edge answers,
/// a REGISTER it passes to the core, a request with a Route token that does
/// not open, a message it cannot parse, a response that is not for it.
fn traffic(port: u16) -> Vec<String> {
    let head = |method: &str, ruri: &str, n: u32, extra: &str| {
        format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-deploy-{method}-{n}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@domain.local>;tag=a{n}\r\nTo: <sip:alice@domain.local>\r\n\
             Call-ID: deploy-{method}-{n}@127.0.0.1\r\nCSeq: {n} {method}\r\nContact: <sip:alice@127.0.0.1:{port}>\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        )
    };
    let n = std::process::id();
    vec![
        head("OPTIONS", "sip:127.0.0.100:17060", n, ""),
        head("REGISTER", "sip:domain.local", n, ""),
        head(
            "BYE",
            "sip:bob@127.0.0.1:5999",
            n,
            "Route: <sip:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@127.0.0.100:17060;lr>\r\n",
        ),
        "INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n".to_owned(),
        // A response whose top Via is not the edge's: dropped.
        format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-x{n}\r\n\
             From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: deploy-resp-{n}\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ),
    ]
}

const EDGE: &str = "127.0.0.1:17060";
const EDGE_ADMIN: &str = "127.0.0.1:17091";
const CORE: &str = "127.0.0.1:17070";
const CORE_ADMIN: &str = "127.0.0.1:17092";
const ROUTERD_ADMIN: &str = "127.0.0.1:17180";

fn scrape(addr: &str, what: &str) -> String {
    let mut page = String::new();
    wait_for(
        &format!("{what} /metrics"),
        Duration::from_secs(20),
        || match http(addr, "GET", "/metrics", None) {
            Some((200, body)) if !body.is_empty() => {
                page = body;
                true
            }
            _ => false,
        },
    );
    page
}

#[test]
fn rules_and_dashboard_use_metrics_that_exist() {
    let Some(routerd) = routerd_bin() else {
        return;
    };
    let dir = scratch("deploy-metrics");
    let keys = keys(&dir);
    // The edge first: its backend goes down, then up when the core starts
    // (anysip_backend_transitions_total).
    let _edge = start(
        &dir,
        "edge",
        &edge_yaml(EDGE, EDGE_ADMIN, 7, &keys, &[CORE]),
    );
    wait_for("the backend down", Duration::from_secs(20), || {
        http(EDGE_ADMIN, "GET", "/metrics", None)
            .is_some_and(|(_, p)| p.contains("anysip_backend_transitions_total{"))
    });
    let _core = start(
        &dir,
        "core",
        &core_yaml(
            CORE,
            CORE_ADMIN,
            &deploy_script("proxy_default.py"),
            "auth:\n  realm: domain.local\n  users:\n    alice: alice\n",
        ),
    );
    // routerd checking that edge, with a BIRD control socket that does not
    // exist: it keeps trying, and serves its metrics meanwhile.
    let cfg = dir.join("routerd.yaml");
    std::fs::write(
        &cfg,
        format!(
            "bird:\n  socket: {}\nadmin:\n  listen: {ROUTERD_ADMIN}\ntick_ms: 200\nservices:\n  - name: edge\n    addresses: [127.0.0.1]\n    prefixes:\n      - prefix: 127.0.0.1/32\n        announce_protocol: anysip_announce4\n        drain_protocol: anysip_drain4\n    checks:\n      - name: ready\n        http: {{ url: \"http://{EDGE_ADMIN}/admin/ready\" }}\n        interval_ms: 200\n        fast_interval_ms: 100\n",
            dir.join("no-bird.ctl").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("routerd.log")).unwrap();
    let _routerd = Proc(
        Command::new(routerd)
            .args(["run", "-c"])
            .arg(&cfg)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("routerd starts"),
    );

    // A family appears on the page with its first series: traffic makes
    // the edge's and the core's.
    wait_for("edge ready", Duration::from_secs(20), || {
        harness::http_status(EDGE_ADMIN, "GET", "/admin/ready") == Some(200)
    });
    let want = [
        "anysip_messages_total{",
        "anysip_replies_total{",
        "anysip_forwarded_total{",
        "anysip_token_opens_total{",
        "anysip_drops_total{",
        "anysip_backend_transitions_total{",
        "anysip_core_requests_total{",
    ];
    let ue = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut edge_page = String::new();
    let mut core_page = String::new();
    let t0 = std::time::Instant::now();
    let counted = |edge: &str, core: &str| {
        want.iter()
            .filter(|w| !edge.contains(*w) && !core.contains(*w))
            .copied()
            .collect::<Vec<_>>()
    };
    while !counted(&edge_page, &core_page).is_empty() || edge_page.is_empty() {
        if t0.elapsed() > Duration::from_secs(20) {
            lab::dump_logs(&dir);
            panic!("never counted: {:?}", counted(&edge_page, &core_page));
        }
        for m in traffic(ue.local_addr().unwrap().port()) {
            ue.send_to(m.as_bytes(), EDGE).unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
        edge_page = scrape(EDGE_ADMIN, "edge");
        core_page = scrape(CORE_ADMIN, "core");
    }
    let mut names = BTreeSet::new();
    exposed(&edge_page, &mut names);
    exposed(&core_page, &mut names);
    // routerd, once a check has run.
    wait_for("routerd ran a check", Duration::from_secs(20), || {
        http(ROUTERD_ADMIN, "GET", "/metrics", None)
            .is_some_and(|(_, p)| p.contains("routerd_check_last_duration_seconds{"))
    });
    exposed(&scrape(ROUTERD_ADMIN, "routerd"), &mut names);
    // Prometheus's own.
    names.insert("up".to_owned());

    let queries = queries();
    let mut used = BTreeSet::new();
    let mut missing = Vec::new();
    for (what, expr) in &queries {
        for n in metric_names(expr) {
            if !names.contains(&n) {
                missing.push(format!("{what}: {n}"));
            }
            used.insert(n);
        }
    }
    if !missing.is_empty() {
        lab::dump_logs(&dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        missing.is_empty(),
        "metric names not exposed by edge, core or routerd:\n{}",
        missing.join("\n")
    );
    // The scan found what it should have: the three processes are queried.
    for n in [
        "anysip_ready",
        "anysip_forwarding_seconds_bucket",
        "anysip_core_replies_total",
        "routerd_prefix_wanted",
    ] {
        assert!(used.contains(n), "{n} not among {used:?}");
    }
    assert!(queries.len() > 30, "{}", queries.len());
}
