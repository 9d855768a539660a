//! The admin API: health, readiness, drain, gateways, statistics, metrics,
//! the blocklist and the shed level.

mod filter;
mod metrics;
pub(crate) mod policy;
mod registrations;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use net::Connections;

use crate::shared::Shared;

#[derive(Clone)]
pub(crate) struct Admin {
    shared: Arc<Shared>,
    conns: Connections,
}

/// Serves the admin API on `addr` until the task is dropped.
pub(crate) async fn serve(
    addr: SocketAddr,
    policy: policy::Policy,
    shared: Arc<Shared>,
    conns: Connections,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/admin/health", get(health))
        .route("/admin/ready", get(ready))
        .route("/admin/stats", get(stats))
        .route("/admin/drain", post(drain))
        .route("/admin/gateways", get(gateways))
        .route("/admin/relay", get(relay))
        .route("/admin/gateways/{group}/{dest}/{action}", post(mark))
        .route(
            "/admin/blocklist",
            get(filter::list).post(filter::add).delete(filter::remove),
        )
        .route("/admin/shed", post(filter::shed))
        .route("/admin/registrations", get(registrations::list))
        .route(
            "/admin/registrations/{aor}",
            get(registrations::one).delete(registrations::remove),
        )
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(policy),
            policy::enforce,
        ))
        .with_state(Admin { shared, conns });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await
}

/// Serves only `GET <path>` (`metrics.prometheus.path`, default
/// `/metrics`) on a listener of its own (`metrics.prometheus.listen`).
pub(crate) async fn serve_metrics(
    addr: SocketAddr,
    path: &str,
    policy: policy::Policy,
    shared: Arc<Shared>,
    conns: Connections,
) -> std::io::Result<()> {
    let app = Router::new()
        .route(path, get(metrics))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(policy),
            policy::enforce,
        ))
        .with_state(Admin { shared, conns });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await
}

async fn health(State(a): State<Admin>) -> Response {
    let body = if a.shared.is_draining() {
        "draining\n"
    } else {
        "ok\n"
    };
    (StatusCode::OK, body).into_response()
}

async fn ready(State(a): State<Admin>) -> Response {
    if a.shared.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else if a.shared.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no healthy backend\n").into_response()
    }
}

async fn drain(State(a): State<Admin>) -> Response {
    a.shared.drain();
    tracing::warn!("drain requested through the admin API: not ready from now on");
    (StatusCode::ACCEPTED, "draining\n").into_response()
}

async fn stats(State(a): State<Admin>) -> Response {
    let counters: serde_json::Map<String, serde_json::Value> = a
        .shared
        .metrics
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    Json(serde_json::json!({
        "ready": a.shared.is_ready(),
        "draining": a.shared.is_draining(),
        "messages_received": a.shared.metrics.received.get(),
        "connections": a.conns.len(),
        "filter": filter::stats(&a.shared.filter),
        "relay": a.shared.relay.get().map(|r| {
            r.peers()
                .into_iter()
                .map(|p| serde_json::json!({
                    "instance_id": p.instance,
                    "state": p.state,
                    "sent": p.sent,
                    "received": p.received,
                }))
                .collect::<Vec<_>>()
        }),
        "counters": counters,
    }))
    .into_response()
}

async fn gateways(State(a): State<Admin>) -> Response {
    let snap = a.shared.gateways().snapshot(Instant::now());
    Json(snap).into_response()
}

/// The relay's peers and their state (404 without `relay:`).
async fn relay(State(a): State<Admin>) -> Response {
    let Some(r) = a.shared.relay.get() else {
        return (StatusCode::NOT_FOUND, "no relay configured (relay:)\n").into_response();
    };
    let peers: Vec<serde_json::Value> = r
        .peers()
        .into_iter()
        .map(|p| {
            serde_json::json!({
                "instance_id": p.instance,
                "address": p.address.to_string(),
                "state": p.state,
                "rtt_us": p.rtt.map(|d| d.as_micros() as u64),
                "datagrams_sent": p.datagrams.map(|d| d.0),
                "datagrams_received": p.datagrams.map(|d| d.1),
                "sent": p.sent,
                "received": p.received,
                "last_error": p.last_error,
            })
        })
        .collect();
    Json(serde_json::json!({
        "instance_id": r.instance(),
        "listen": r.local_addr().map(|a| a.to_string()).ok(),
        "inbound_connections": r.inbound(),
        "peers": peers,
    }))
    .into_response()
}

async fn mark(
    State(a): State<Admin>,
    Path((group, dest, action)): Path<(String, String, String)>,
) -> Response {
    let mut gw = a.shared.gateways();
    let now = Instant::now();
    let r = match action.as_str() {
        "down" => gw.mark_down(&group, &dest, now),
        "up" => gw.mark_up(&group, &dest, now),
        _ => return (StatusCode::NOT_FOUND, "action must be down or up\n").into_response(),
    };
    match r {
        Ok(state) => {
            tracing::warn!(%group, %dest, %action, ?state, "backend marked through the admin API");
            Json(serde_json::json!({ "group": group, "destination": dest, "state": format!("{state:?}") })).into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
    }
}

async fn metrics(State(a): State<Admin>) -> Response {
    let body = metrics::render(&a.shared, a.conns.len()).await;
    (
        StatusCode::OK,
        [("content-type", metrics::CONTENT_TYPE)],
        body,
    )
        .into_response()
}
