//! The HTTP check: one `GET` on a fresh connection; a 2xx status is healthy.
//!
//! Every HTTP check shares one [`reqwest::Client`], built by [`client`]:
//! plain HTTP/1.1 (the configuration accepts only `http://` URLs), no proxy
//! from the environment, redirects not followed (a 3xx is unhealthy), no
//! retries, and no idle connections kept: each run opens its own
//! connection, as a new caller would, so a listener that stopped accepting
//! is seen at once and a stale kept-alive connection cannot fail a run. The
//! time limit is the caller's ([`super::Checker::run`]).

use std::error::Error as _;

use reqwest::{redirect, retry, Client};

use crate::config::HttpCheckConfig;

/// The `User-Agent` of health checks and of the `routerd` admin commands.
pub const USER_AGENT: &str = "anysip-routerd";

/// The client every HTTP check shares.
pub fn client() -> reqwest::Result<Client> {
    Client::builder()
        .user_agent(USER_AGENT)
        .http1_only()
        .no_proxy()
        .redirect(redirect::Policy::none())
        .retry(retry::never())
        .pool_max_idle_per_host(0)
        .build()
}

/// `GET url`: a 2xx status is healthy. The body is not read.
pub async fn get(client: &Client, c: &HttpCheckConfig) -> Result<(), String> {
    let url = c.url.to_string();
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", describe(&e)))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("GET {url}: status {status}"))
    }
}

/// An error for people: reqwest's own message names the URL again and hides
/// the cause, so this gives the causes, outermost first, without repeats
/// (e.g. `cannot connect: tcp connect error: Connection refused (os error 111)`).
pub fn describe(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    if e.is_connect() {
        parts.push("cannot connect".into());
    }
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        // hyper-util's wrapper ("client error (Connect)") says nothing new.
        if !s.starts_with("client error (") && !parts.contains(&s) {
            parts.push(s);
        }
        cause = c.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}
