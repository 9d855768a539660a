//! The admin API and the `routerd status|drain|undrain` client, in process,
//! with a stand-in for the engine.
#![allow(clippy::unwrap_used)]

#[path = "support/exposition.rs"]
mod exposition;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use routerd::admin::{router, AdminState};
use routerd::config::Config;
use routerd::engine::{initial_status, lock};
use routerd::machine::{CheckId, ServiceState};
use routerd::metrics::Metrics;

const CONFIG: &str = "
services:
  - name: edge
    addresses: [192.0.2.1]
    prefixes:
      - prefix: 192.0.2.1/32
        announce_protocol: anysip_announce4
        drain_protocol: anysip_drain4
    checks:
      - name: ready
        http: { url: http://127.0.0.1:9090/admin/ready }
";

/// Every family on the page, its type, and the label names of its series.
const FAMILIES: &[(&str, &str, &[&str])] = &[
    ("routerd_service_state", "gauge", &["service", "state"]),
    (
        "routerd_service_transitions_total",
        "counter",
        &["service", "to"],
    ),
    ("routerd_service_address_present", "gauge", &["service"]),
    (
        "routerd_prefix_wanted",
        "gauge",
        &["service", "prefix", "action"],
    ),
    ("routerd_bird_protocol_up", "gauge", &["prefix", "protocol"]),
    ("routerd_check_up", "gauge", &["service", "check", "kind"]),
    (
        "routerd_check_duration_seconds",
        "histogram",
        &["service", "check"],
    ),
    (
        "routerd_check_last_duration_seconds",
        "gauge",
        &["service", "check"],
    ),
    (
        "routerd_check_failures_total",
        "counter",
        &["service", "check"],
    ),
    ("routerd_maintenance", "gauge", &["source"]),
    ("routerd_bird_connected", "gauge", &[]),
    ("routerd_bird_commands_total", "counter", &[]),
    ("routerd_bird_errors_total", "counter", &[]),
    ("routerd_bird_corrections_total", "counter", &[]),
];

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, method: Method, path: &str) -> (StatusCode, String) {
        let r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.text().await.unwrap())
    }

    async fn json(&self, method: Method, path: &str) -> serde_json::Value {
        let (status, body) = self.call(method, path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// Serves the admin API of `CONFIG` with a stand-in engine that takes
/// drain requests.
async fn start() -> (Api, Arc<Metrics>) {
    let config = Config::parse(CONFIG, "t.yaml").unwrap();
    let status = Arc::new(Mutex::new(initial_status(&config)));
    let metrics = Arc::new(Metrics::new(&config));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<routerd::engine::AdminRequest>(4);
    // The engine's part: take the request, record it, acknowledge.
    let engine_status = status.clone();
    tokio::spawn(async move {
        while let Some(req) = rx.recv().await {
            lock(&engine_status).maintenance.admin = req.drain;
            let _ = req.done.send(());
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = router(AdminState {
        status,
        metrics: metrics.clone(),
        requests: tx,
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let api = Api {
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        base: format!("http://127.0.0.1:{port}"),
    };
    (api, metrics)
}

#[tokio::test]
async fn status_drain_undrain_metrics() {
    let (api, _) = start().await;

    let v = api.json(Method::GET, "/status").await;
    assert_eq!(v["services"][0]["name"], "edge");
    assert_eq!(v["services"][0]["state"], "init");
    assert_eq!(v["services"][0]["prefixes"][0]["prefix"], "192.0.2.1/32");
    assert_eq!(v["maintenance"]["admin"], false);

    let v = api.json(Method::POST, "/drain").await;
    assert_eq!(v["maintenance"]["admin"], true);

    let (status, text) = api.call(Method::GET, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for want in [
        "routerd_service_state{service=\"edge\",state=\"init\"} 1",
        "routerd_prefix_wanted{service=\"edge\",prefix=\"192.0.2.1/32\",action=\"withdraw\"} 1",
        "routerd_check_duration_seconds_count{service=\"edge\",check=\"ready\"} 0",
        "routerd_maintenance{source=\"admin\"} 1",
        "routerd_bird_errors_total 0",
    ] {
        assert!(text.lines().any(|l| l == want), "missing {want}:\n{text}");
    }

    let v = api.json(Method::POST, "/undrain").await;
    assert_eq!(v["maintenance"]["admin"], false);

    assert_eq!(
        api.call(Method::GET, "/drain").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        api.call(Method::GET, "/nope").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn metrics_page_parses_with_every_family() {
    let (api, metrics) = start().await;
    metrics.transition(0, ServiceState::Rising);
    metrics.check_ran(
        CheckId {
            service: 0,
            check: 0,
        },
        false,
        0.003,
    );
    metrics.bird_command();

    let r = api
        .client
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let page = exposition::parse(&r.text().await.unwrap()).unwrap();

    let declared: BTreeSet<&str> = page.types.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = FAMILIES.iter().map(|f| f.0).collect();
    assert_eq!(declared, expected);
    for (family, kind, label_names) in FAMILIES {
        assert_eq!(page.types[*family], *kind, "{family}");
        assert!(page.helped.contains(*family), "{family} has no HELP");
        let samples = page.family(family);
        assert!(!samples.is_empty(), "{family} has no samples");
        for s in samples {
            let mut want: BTreeSet<&str> = label_names.iter().copied().collect();
            if s.name.ends_with("_bucket") {
                want.insert("le");
            }
            let got: BTreeSet<&str> = s.labels.keys().map(String::as_str).collect();
            assert_eq!(got, want, "{s:?}");
        }
    }

    let value = |name: &str, labels: &[(&str, &str)]| {
        page.samples
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels.iter().all(|(k, v)| s.labels[*k] == *v)
            })
            .map(|s| s.value)
    };
    let ready = [("service", "edge"), ("check", "ready")];
    assert_eq!(
        value(
            "routerd_service_transitions_total",
            &[("service", "edge"), ("to", "rising")]
        ),
        Some(1.0)
    );
    assert_eq!(value("routerd_check_failures_total", &ready), Some(1.0));
    assert_eq!(
        value("routerd_check_duration_seconds_count", &ready),
        Some(1.0)
    );
    assert_eq!(
        value("routerd_check_last_duration_seconds", &ready),
        Some(0.003)
    );
    assert_eq!(value("routerd_bird_commands_total", &[]), Some(1.0));
    // Each state and action has its series; exactly one is 1.
    let states = page.family("routerd_service_state");
    assert_eq!(states.len(), ServiceState::ALL.len());
    assert_eq!(states.iter().filter(|s| s.value == 1.0).count(), 1);
    let kinds: Vec<&str> = page
        .family("routerd_check_up")
        .iter()
        .map(|s| s.labels["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["http"]);
    let sources: BTreeSet<&str> = page
        .family("routerd_maintenance")
        .iter()
        .map(|s| s.labels["source"].as_str())
        .collect();
    assert_eq!(
        sources,
        BTreeSet::from(["disable_file", "admin", "shutdown"])
    );
}

#[tokio::test]
async fn the_metrics_listener_serves_the_metrics_and_nothing_else() {
    let config = Config::parse(
        &format!("admin:\n  listen: 127.0.0.1:9180\n  metrics_listen: 0.0.0.0:9181\n{CONFIG}"),
        "t.yaml",
    )
    .unwrap();
    assert_eq!(
        config.admin.metrics_listen,
        Some("0.0.0.0:9181".parse().unwrap())
    );
    let status = Arc::new(Mutex::new(initial_status(&config)));
    let metrics = Arc::new(Metrics::new(&config));
    let (tx, _rx) = tokio::sync::mpsc::channel::<routerd::engine::AdminRequest>(4);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = routerd::admin::metrics_router(AdminState {
        status,
        metrics,
        requests: tx,
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let api = Api {
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        base: format!("http://127.0.0.1:{port}"),
    };
    let (status, text) = api.call(Method::GET, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("routerd_service_state{service=\"edge\",state=\"init\"} 1"));
    // Nothing there can drain the node or read its status.
    for (m, path) in [
        (Method::POST, "/drain"),
        (Method::POST, "/undrain"),
        (Method::GET, "/status"),
    ] {
        assert_eq!(api.call(m, path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
}
