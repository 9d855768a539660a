//! SIPhon's `admin.auth` (a bearer token on the admin API) and `cors`
//! (browser dashboards on another origin) for the admin and metrics
//! listeners.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What a listener asks of its callers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    /// `Authorization: Bearer <token>` required on the mutating routes
    /// (and every route but the probes with `protect_reads`).
    pub(crate) token: Option<String>,
    /// The token is asked for on reads too.
    pub(crate) protect_reads: bool,
    /// Origins allowed to read from a browser (`*`: any).
    pub(crate) origins: Vec<String>,
}

impl Policy {
    /// The admin listener's: `admin.auth` and `admin.cors`.
    pub(crate) fn admin(config: &anysip_config::AdminConfig) -> Policy {
        Policy {
            token: config
                .auth
                .as_ref()
                .and_then(|a| a.token.clone())
                .filter(|t| !t.is_empty()),
            protect_reads: config.auth.as_ref().is_some_and(|a| a.protect_reads),
            origins: config
                .cors
                .as_ref()
                .map(|c| c.allowed_origins.clone())
                .unwrap_or_default(),
        }
    }

    /// The metrics listener's: `metrics.prometheus.cors`, and the admin
    /// token when it protects reads (the admin API's `/metrics` is the
    /// same data).
    pub(crate) fn metrics(config: &anysip_config::Config) -> Policy {
        let admin = Policy::admin(&config.admin);
        Policy {
            token: admin.token.filter(|_| admin.protect_reads),
            protect_reads: admin.protect_reads,
            origins: config
                .metrics
                .prometheus
                .cors
                .as_ref()
                .map(|c| c.allowed_origins.clone())
                .unwrap_or_default(),
        }
    }

    fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == "*" || o == origin)
    }
}

/// The middleware: CORS preflight and headers, then the token.
pub(crate) async fn enforce(
    State(policy): State<Arc<Policy>>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| policy.allows_origin(o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    if request.method() == Method::OPTIONS && origin.is_some() {
        return with_cors(StatusCode::NO_CONTENT.into_response(), origin);
    }
    let path = request.uri().path();
    let probe = path == "/admin/health" || path == "/admin/ready";
    let mutating = !matches!(*request.method(), Method::GET | Method::HEAD);
    if let Some(token) = &policy.token {
        if (mutating || policy.protect_reads) && !probe {
            let given = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if !given.is_some_and(|g| same_secret(g, token)) {
                let denied = (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    "admin.auth: a bearer token is required\n",
                )
                    .into_response();
                return with_cors(denied, origin);
            }
        }
    }
    with_cors(next.run(request).await, origin)
}

/// Compares two secrets through their SHA-256 digests, so the time taken
/// says nothing about where they differ.
fn same_secret(given: &str, token: &str) -> bool {
    let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let (a, b) = (digest(given), digest(token));
    a.as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn with_cors(mut response: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
    }
    response
}
