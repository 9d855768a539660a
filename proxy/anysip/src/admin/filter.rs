//! `/admin/blocklist` and `/admin/shed`, and the filter's part of
//! `/admin/stats` and `/metrics`.

use std::time::{Duration, Instant};

use anysip_ebpf_common::Verdict;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::Admin;
use crate::filter::{Entry, Filter, Origin, Path};

/// `POST /admin/blocklist` body; `DELETE` takes the same (or `?cidr=`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BlockRequest {
    cidr: String,
    /// Seconds until the entry lapses; none: until removed.
    #[serde(default)]
    ttl_secs: Option<u64>,
}

/// `DELETE /admin/blocklist?cidr=...`.
#[derive(Debug, Deserialize)]
pub(super) struct CidrQuery {
    cidr: Option<String>,
}

/// `POST /admin/shed` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ShedRequest {
    level: u32,
}

fn entry_json(e: &Entry, now: Instant) -> serde_json::Value {
    serde_json::json!({
        "cidr": format!("{}/{}", e.net, e.len),
        "origin": e.origin,
        "expires_in_secs": e.expires.map(|t| t.saturating_duration_since(now).as_secs()),
    })
}

fn bad(msg: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, format!("{msg}\n")).into_response()
}

pub(super) async fn list(State(a): State<Admin>) -> Response {
    let now = Instant::now();
    let v: Vec<_> = a
        .shared
        .filter
        .entries()
        .iter()
        .map(|e| entry_json(e, now))
        .collect();
    Json(v).into_response()
}

pub(super) async fn add(State(a): State<Admin>, body: Option<Json<BlockRequest>>) -> Response {
    let Some(Json(req)) = body else {
        return bad(r#"body must be JSON: {"cidr": "192.0.2.0/24", "ttl_secs": 600}"#);
    };
    let (net, len) = match anysip_config::parse_cidr(&req.cidr) {
        Ok(c) => c,
        Err(e) => return bad(e),
    };
    if req.ttl_secs == Some(0) {
        return bad("ttl_secs must be at least 1 (leave it out for no expiry)");
    }
    match a.shared.filter.block(
        net,
        len,
        req.ttl_secs.map(Duration::from_secs),
        Origin::Admin,
    ) {
        Ok(e) => {
            tracing::warn!(cidr = %req.cidr, ttl_secs = ?req.ttl_secs, "blocklisted through the admin API");
            (StatusCode::CREATED, Json(entry_json(&e, Instant::now()))).into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("XDP map update failed: {e}\n"),
        )
            .into_response(),
    }
}

pub(super) async fn remove(
    State(a): State<Admin>,
    Query(q): Query<CidrQuery>,
    body: Option<Json<BlockRequest>>,
) -> Response {
    let Some(cidr) = q.cidr.or(body.map(|Json(b)| b.cidr)) else {
        return bad("name the CIDR: ?cidr=192.0.2.0/24 or a JSON body {\"cidr\": ...}");
    };
    let (net, len) = match anysip_config::parse_cidr(&cidr) {
        Ok(c) => c,
        Err(e) => return bad(e),
    };
    match a.shared.filter.unblock(net, len) {
        Ok(true) => {
            tracing::warn!(%cidr, "removed from the blocklist through the admin API");
            (StatusCode::OK, "removed\n").into_response()
        }
        Ok(false) => (
            StatusCode::NOT_FOUND,
            format!("{cidr} is not on the blocklist\n"),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("XDP map update failed: {e}\n"),
        )
            .into_response(),
    }
}

pub(super) async fn shed(State(a): State<Admin>, body: Option<Json<ShedRequest>>) -> Response {
    let Some(Json(req)) = body else {
        return bad(r#"body must be JSON: {"level": 0|1|2}"#);
    };
    if req.level > 2 {
        return bad("level must be 0 (off), 1 (strict limits) or 2 (no new requests)");
    }
    match a.shared.filter.set_shed(req.level) {
        Ok(()) => {
            tracing::warn!(level = req.level, "shed level set through the admin API");
            Json(serde_json::json!({ "shed_level": req.level })).into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("XDP config update failed: {e}\n"),
        )
            .into_response(),
    }
}

fn verdicts(counts: &[u64]) -> serde_json::Value {
    Verdict::ALL
        .iter()
        .zip(counts)
        .map(|(v, n)| (v.name().to_owned(), serde_json::Value::from(*n)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The `filter` object of `/admin/stats`.
pub(super) fn stats(f: &Filter) -> serde_json::Value {
    let (path, interface, mode, reason) = match f.path() {
        Path::Xdp { interface, mode } => ("xdp", Some(interface), Some(mode), None),
        Path::UserSpace { reason } => ("user_space", None, None, Some(reason)),
    };
    let kernel = match f.kernel_counters() {
        Some(Ok(c)) => verdicts(&c),
        Some(Err(e)) => serde_json::json!({ "error": e }),
        None => serde_json::Value::Null,
    };
    serde_json::json!({
        "path": path,
        "xdp": path == "xdp",
        "interface": interface,
        "mode": mode,
        "reason": reason,
        "shed_level": f.shed(),
        "blocklist_entries": f.blocklist_len(),
        "auto_blocked": f.auto_blocked(),
        "tracked_sources": f.tracked_sources(),
        "user_space": verdicts(&f.user_counters()),
        "kernel": kernel,
    })
}
