//! The admin API and the `routerd status|drain|undrain` client, in process,
//! with a stand-in for the engine.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use routerd::admin::{router, AdminState};
use routerd::config::Config;
use routerd::engine::{initial_status, lock};
use routerd::httpc;

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

#[tokio::test]
async fn status_drain_undrain_metrics() {
    let config = Config::parse(CONFIG, "t.yaml").unwrap();
    let status = Arc::new(Mutex::new(initial_status(&config)));
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
        status: status.clone(),
        requests: tx,
    });
    tokio::spawn(async move { axum::serve(listener, app).await });

    let get = |method: &'static str, path: &'static str| async move {
        httpc::request("127.0.0.1", port, method, path, false, 1 << 20)
            .await
            .unwrap()
    };

    let r = get("GET", "/status").await;
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["services"][0]["name"], "edge");
    assert_eq!(v["services"][0]["state"], "init");
    assert_eq!(v["services"][0]["prefixes"][0]["prefix"], "192.0.2.1/32");
    assert_eq!(v["maintenance"]["admin"], false);

    let r = get("POST", "/drain").await;
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["maintenance"]["admin"], true);

    let r = get("GET", "/metrics").await;
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).unwrap();
    for want in [
        "routerd_service_state{service=\"edge\",state=\"init\"} 1",
        "routerd_prefix_wanted{service=\"edge\",prefix=\"192.0.2.1/32\",action=\"withdraw\"} 1",
        "routerd_check_duration_seconds_count{service=\"edge\",check=\"ready\"} 0",
        "routerd_maintenance{source=\"admin\"} 1",
        "routerd_bird_errors_total 0",
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }

    let r = get("POST", "/undrain").await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["maintenance"]["admin"], false);

    assert_eq!(get("GET", "/drain").await.status, 405);
    assert_eq!(get("GET", "/nope").await.status, 404);
}
