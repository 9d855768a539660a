//! `/admin/registrations[/{aor}]` (role core).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::Admin;
use crate::shared::now_unix;

fn binding_json(b: &registrar::Binding, now: u64) -> serde_json::Value {
    serde_json::json!({
        "contact": b.uri,
        "expires_in_secs": b.expires_in(now),
        "q": b.q.map(|_| b.q_value()),
        "path": b.path,
        "instance": b.instance,
        "reg_id": b.reg_id,
        "received": b.received,
        "user_agent": b.user_agent,
        "call_id": b.call_id,
        "cseq": b.cseq,
    })
}

fn no_registrar() -> Response {
    (
        StatusCode::NOT_FOUND,
        "no registrar in this process (role: edge)\n",
    )
        .into_response()
}

fn store_error(e: &registrar::RegistrarError) -> Response {
    let code = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, format!("{e}\n")).into_response()
}

pub(super) async fn list(State(a): State<Admin>) -> Response {
    let Some(reg) = a.shared.registrar() else {
        return no_registrar();
    };
    let now = now_unix();
    match reg.list(now).await {
        Ok(all) => {
            let v: Vec<_> = all
                .iter()
                .map(|(aor, bs)| {
                    serde_json::json!({
                        "aor": aor,
                        "bindings": bs.iter().map(|b| binding_json(b, now)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            Json(v).into_response()
        }
        Err(e) => store_error(&e),
    }
}

pub(super) async fn one(State(a): State<Admin>, Path(aor): Path<String>) -> Response {
    let Some(reg) = a.shared.registrar() else {
        return no_registrar();
    };
    let now = now_unix();
    match reg.lookup(&aor, now).await {
        Ok(bs) if bs.is_empty() => {
            (StatusCode::NOT_FOUND, format!("{aor}: not registered\n")).into_response()
        }
        Ok(bs) => Json(serde_json::json!({
            "aor": registrar::aor_of(&aor).unwrap_or(aor),
            "bindings": bs.iter().map(|b| binding_json(b, now)).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => store_error(&e),
    }
}

pub(super) async fn remove(State(a): State<Admin>, Path(aor): Path<String>) -> Response {
    let Some(reg) = a.shared.registrar() else {
        return no_registrar();
    };
    let canonical = match registrar::aor_of(&aor) {
        Ok(c) => c,
        Err(e) => return store_error(&e),
    };
    match reg.remove(&canonical, crate::shared::now_unix()).await {
        Ok(0) => (
            StatusCode::NOT_FOUND,
            format!("{canonical}: not registered\n"),
        )
            .into_response(),
        Ok(n) => {
            tracing::warn!(aor = %canonical, bindings = n, "registrations removed through the admin API");
            Json(serde_json::json!({ "aor": canonical, "removed": n })).into_response()
        }
        Err(e) => store_error(&e),
    }
}
