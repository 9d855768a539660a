use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::config::{HttpCheckConfig, HttpUrl};

/// Answers every connection with `head` (status line and headers) and
/// counts the connections.
async fn serve(head: &'static str) -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(format!("HTTP/1.1 {head}\r\n\r\n").as_bytes())
                    .await;
            });
        }
    });
    (port, accepted)
}

fn http_check(port: u16) -> CheckKind {
    CheckKind::Http(HttpCheckConfig {
        url: HttpUrl::try_from(format!("http://127.0.0.1:{port}/ready")).expect("url"),
    })
}

fn checker() -> Checker {
    Checker::new().expect("client")
}

#[tokio::test]
async fn http_2xx_is_healthy() {
    let (port, _) = serve("204 No Content").await;
    assert_eq!(
        checker()
            .run(&http_check(port), Duration::from_secs(2))
            .await,
        Ok(())
    );
}

#[tokio::test]
async fn http_503_is_not() {
    let (port, _) = serve("503 Service Unavailable\r\nContent-Length: 0").await;
    let e = checker()
        .run(&http_check(port), Duration::from_secs(2))
        .await
        .expect_err("503");
    assert!(e.contains("status 503"), "{e}");
}

#[tokio::test]
async fn http_redirect_is_not_followed() {
    let (port, accepted) =
        serve("302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0").await;
    let e = checker()
        .run(&http_check(port), Duration::from_secs(2))
        .await
        .expect_err("302");
    assert!(e.contains("status 302"), "{e}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn http_each_run_opens_a_connection() {
    let (port, accepted) = serve("200 OK\r\nContent-Length: 0").await;
    let c = checker();
    for _ in 0..3 {
        assert_eq!(
            c.run(&http_check(port), Duration::from_secs(2)).await,
            Ok(())
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn http_refused() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    let e = checker()
        .run(&http_check(port), Duration::from_secs(2))
        .await
        .expect_err("refused");
    assert!(e.contains("refused"), "{e}");
    assert!(e.contains(&format!("127.0.0.1:{port}/ready")), "{e}");
}

#[tokio::test]
async fn http_silent_times_out() {
    // Accepts but never answers: the timeout fails it.
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let e = checker()
        .run(&http_check(port), Duration::from_millis(200))
        .await
        .expect_err("timeout");
    assert_eq!(e, "timed out after 200 ms");
    drop(l);
}

#[tokio::test]
async fn http_garbage_is_not_healthy() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"SIP/2.0 200 OK\r\n\r\n").await;
        }
    });
    let e = checker()
        .run(&http_check(port), Duration::from_secs(2))
        .await
        .expect_err("not HTTP");
    assert!(e.starts_with("GET http://127.0.0.1:"), "{e}");
    assert!(
        e.split_once("/ready: ")
            .is_some_and(|(_, why)| !why.is_empty()),
        "{e}"
    );
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
    let c = checker();
    let t = Duration::from_secs(2);
    assert_eq!(c.run(&ok, t).await, Ok(()));
    assert!(c.run(&bad, t).await.is_err());
    assert!(c.run(&missing, t).await.is_err());
    let started = std::time::Instant::now();
    assert!(c.run(&slow, Duration::from_millis(100)).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
}
