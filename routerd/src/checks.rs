//! Running one check: HTTP GET, SIP OPTIONS or a command.
//!
//! Each check returns `Ok(())` when healthy and `Err(reason)` otherwise;
//! [`Checker::run`] applies the time limit and the caller ([`crate::engine`])
//! feeds the result to the state machine.

pub mod http;
mod sip;

use std::process::Stdio;
use std::time::Duration;

use crate::config::{CheckKind, CommandCheckConfig};
use crate::Error;

pub use sip::options;

/// Runs checks; holds what they share (the HTTP client). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Checker {
    http: reqwest::Client,
}

impl Checker {
    /// A checker with its HTTP client ([`http::client`]).
    pub fn new() -> Result<Checker, Error> {
        Ok(Checker {
            http: http::client().map_err(Error::HttpClient)?,
        })
    }

    /// Runs a check once, within `timeout`. A timeout is a failure.
    pub async fn run(&self, kind: &CheckKind, timeout: Duration) -> Result<(), String> {
        let fut = async {
            match kind {
                CheckKind::Http(h) => http::get(&self.http, h).await,
                CheckKind::SipOptions(s) => options(s).await,
                CheckKind::Command(c) => command(c).await,
            }
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
        }
    }
}

/// Runs the program: exit status 0 is healthy. It is killed if the check
/// times out (the future is dropped).
pub async fn command(c: &CommandCheckConfig) -> Result<(), String> {
    let (prog, args) = c.argv.split_first().ok_or("empty argv")?;
    let status = tokio::process::Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|e| format!("{prog}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{prog}: {status}"))
    }
}

#[cfg(test)]
mod tests;
