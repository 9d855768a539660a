//! Running one check: HTTP GET, SIP OPTIONS or a command.
//!
//! Each function returns `Ok(())` when healthy and `Err(reason)` otherwise;
//! the caller ([`crate::engine`]) applies the time limit and feeds the
//! result to the state machine.

mod sip;

use std::process::Stdio;
use std::time::Duration;

use crate::config::{CheckKind, CommandCheckConfig, HttpCheckConfig};

pub use sip::options;

/// Bytes of an HTTP health response read at most (the status line is enough).
const HTTP_LIMIT: usize = 8 * 1024;

/// Runs a check once, within `timeout`. A timeout is a failure.
pub async fn run(kind: &CheckKind, timeout: Duration) -> Result<(), String> {
    let fut = async {
        match kind {
            CheckKind::Http(h) => http(h).await,
            CheckKind::SipOptions(s) => options(s).await,
            CheckKind::Command(c) => command(c).await,
        }
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
    }
}

/// `GET url`: a 2xx status is healthy.
pub async fn http(c: &HttpCheckConfig) -> Result<(), String> {
    let r = crate::httpc::request(
        &c.url.host,
        c.url.port,
        "GET",
        &c.url.path,
        true,
        HTTP_LIMIT,
    )
    .await
    .map_err(|e| format!("GET {}: {e}", c.url))?;
    if (200..300).contains(&r.status) {
        Ok(())
    } else {
        Err(format!("GET {}: status {}", c.url, r.status))
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
mod tests {
    use super::*;
    use crate::config::HttpUrl;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn serve_once(status: &'static str) -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        port
    }

    fn http_check(port: u16) -> CheckKind {
        CheckKind::Http(HttpCheckConfig {
            url: HttpUrl::try_from(format!("http://127.0.0.1:{port}/ready")).expect("url"),
        })
    }

    #[tokio::test]
    async fn http_2xx_is_healthy() {
        let port = serve_once("204 No Content").await;
        assert_eq!(run(&http_check(port), Duration::from_secs(2)).await, Ok(()));
    }

    #[tokio::test]
    async fn http_503_is_not() {
        let port = serve_once("503 Service Unavailable").await;
        let e = run(&http_check(port), Duration::from_secs(2))
            .await
            .expect_err("503");
        assert!(e.contains("503"), "{e}");
    }

    #[tokio::test]
    async fn http_refused_and_silent_fail() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        drop(l);
        assert!(run(&http_check(port), Duration::from_secs(2))
            .await
            .is_err());
        // Accepts but never answers: the timeout fails it.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        let e = run(&http_check(port), Duration::from_millis(200))
            .await
            .expect_err("timeout");
        assert!(e.contains("timed out"), "{e}");
        drop(l);
    }

    #[tokio::test]
    async fn command_exit_status() {
        let ok = CheckKind::Command(CommandCheckConfig {
            argv: vec!["true".into()],
        });
        let bad = CheckKind::Command(CommandCheckConfig {
            argv: vec!["false".into()],
        });
        let missing = CheckKind::Command(CommandCheckConfig {
            argv: vec!["/nonexistent/check".into()],
        });
        let slow = CheckKind::Command(CommandCheckConfig {
            argv: vec!["sleep".into(), "5".into()],
        });
        let t = Duration::from_secs(2);
        assert_eq!(run(&ok, t).await, Ok(()));
        assert!(run(&bad, t).await.is_err());
        assert!(run(&missing, t).await.is_err());
        let started = std::time::Instant::now();
        assert!(run(&slow, Duration::from_millis(100)).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
