//! The admin API: `GET /status` (JSON), `POST /drain`, `POST /undrain`,
//! `GET /metrics` (Prometheus text); and the metrics alone
//! (`admin.metrics_listen`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::{mpsc, oneshot};

use crate::engine::{lock, AdminRequest, SharedStatus};
use crate::metrics::{self, Metrics};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// The engine's status.
    pub status: SharedStatus,
    /// The metrics, rendered with the status.
    pub metrics: Arc<Metrics>,
    /// Requests to the engine.
    pub requests: mpsc::Sender<AdminRequest>,
}

/// The admin API's routes.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics_text))
        .route("/drain", post(drain))
        .route("/undrain", post(undrain))
        .with_state(state)
}

/// `GET /metrics` alone, for `admin.metrics_listen`.
pub fn metrics_router(state: AdminState) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

async fn status(State(s): State<AdminState>) -> Response {
    let snapshot = lock(&s.status).clone();
    Json(snapshot).into_response()
}

async fn metrics_text(State(s): State<AdminState>) -> Response {
    let snapshot = lock(&s.status).clone();
    match s.metrics.render(&snapshot) {
        Ok(page) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], page).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn drain(State(s): State<AdminState>) -> Response {
    request(s, true).await
}

async fn undrain(State(s): State<AdminState>) -> Response {
    request(s, false).await
}

async fn request(s: AdminState, drain: bool) -> Response {
    let (done, wait) = oneshot::channel();
    if s.requests.send(AdminRequest { drain, done }).await.is_err() || wait.await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "routerd is shutting down\n",
        )
            .into_response();
    }
    let snapshot = lock(&s.status).clone();
    Json(snapshot).into_response()
}
