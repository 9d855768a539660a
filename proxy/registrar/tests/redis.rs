//! The registrar on a real `redis-server` (Debian package `redis-server`):
//! two cores sharing bindings, a core restart, expiry, Redis going away and
//! coming back.
#![allow(clippy::unwrap_used)]
#![recursion_limit = "256"]

#[path = "support/aliases.rs"]
mod aliases;
#[path = "support/server.rs"]
mod server;
#[path = "support/sip.rs"]
mod sipmsg;

use std::time::{Duration, Instant};

use registrar::{RedisConfig, RegistrarBackend, RegistrarConfig};
use registrar::{Registrar, RegistrarError};
use server::RedisServer;
use sipmsg::{now, register, source};

fn config(url: &str) -> RegistrarConfig {
    RegistrarConfig {
        backend: RegistrarBackend::Redis,
        redis: Some(RedisConfig {
            key_prefix: "test:".to_string(),
            ..RedisConfig::url(url)
        }),
        min_expires: 1,
        ..RegistrarConfig::default()
    }
}

async fn registrar(url: &str) -> Registrar {
    tokio::time::timeout(Duration::from_secs(5), Registrar::from_config(&config(url)))
        .await
        .expect("from_config returns in time")
        .expect("from_config succeeds")
}

async fn save(r: &Registrar, aor: &str, call_id: &str, cseq: u32, extra: &str) -> u16 {
    r.save(&register(aor, call_id, cseq, extra), &source(), now())
        .await
        .unwrap()
        .status
}

/// Retries `op` until it succeeds, for at most `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RegistrarError>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match op().await {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("still failing after {secs} s: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cores_see_each_others_bindings() {
    if !server::available("two_cores_see_each_others_bindings") {
        return;
    }
    let redis = RedisServer::start();
    let (a, b) = (registrar(&redis.url()).await, registrar(&redis.url()).await);
    let alice = "sip:alice@example.com";
    assert_eq!(
        save(&a, alice, "c1", 1, "Contact: <sip:alice@192.0.2.1>\r\n").await,
        200
    );
    let seen = b.lookup("sip:Alice@EXAMPLE.com;transport=udp", now()).await;
    assert!(seen.unwrap().is_empty(), "the user part is case-sensitive");
    let seen = b.lookup("sip:alice@EXAMPLE.com", now()).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "sip:alice@192.0.2.1");
    assert_eq!(seen[0].received.as_deref(), Some("udp:192.0.2.1:5060"));
    // The other core adds a contact and another AoR; the first sees both.
    assert_eq!(
        save(
            &b,
            alice,
            "c2",
            1,
            "Contact: <sip:alice@192.0.2.2>;q=0.1\r\n"
        )
        .await,
        200
    );
    assert_eq!(
        save(
            &b,
            "sip:bob@example.com",
            "c3",
            1,
            "Contact: <sip:bob@192.0.2.3>\r\n"
        )
        .await,
        200
    );
    let seen = a.lookup(alice, now()).await.unwrap();
    assert_eq!(
        seen.iter().map(|b| b.uri.as_str()).collect::<Vec<_>>(),
        ["sip:alice@192.0.2.1", "sip:alice@192.0.2.2"]
    );
    let all = a.list(now()).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|(aor, b)| (aor.as_str(), b.len()))
            .collect::<Vec<_>>(),
        [("sip:alice@example.com", 2), ("sip:bob@example.com", 1)]
    );
    // CSeq ordering holds across cores.
    assert_eq!(
        save(&a, alice, "c2", 1, "Contact: <sip:alice@192.0.2.2>\r\n").await,
        500
    );
    // Removal on one core is seen by the other.
    assert_eq!(a.remove(alice, now()).await.unwrap(), 2);
    assert!(b.lookup(alice, now()).await.unwrap().is_empty());
    assert_eq!(b.list(now()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_of_one_aor_are_not_lost() {
    if !server::available("concurrent_updates_of_one_aor_are_not_lost") {
        return;
    }
    let redis = RedisServer::start();
    let cores = std::sync::Arc::new([registrar(&redis.url()).await, registrar(&redis.url()).await]);
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let cores = cores.clone();
        tasks.push(tokio::spawn(async move {
            let r = &cores[(i % 2) as usize];
            let extra = format!("Contact: <sip:carol@192.0.2.{i}>\r\n");
            save(r, "sip:carol@example.com", &format!("call{i}"), 1, &extra).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(
        cores[0]
            .lookup("sip:carol@example.com", now())
            .await
            .unwrap()
            .len(),
        8
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindings_survive_a_core_restart() {
    if !server::available("bindings_survive_a_core_restart") {
        return;
    }
    let redis = RedisServer::start();
    let r = registrar(&redis.url()).await;
    let path = "Path: <sip:edge.example.com;lr;ob>\r\n";
    let inst = "+sip.instance=\"<urn:uuid:1>\";reg-id=1";
    let extra = format!("{path}Contact: <sip:dave@192.0.2.4;ob>;{inst}\r\n");
    assert_eq!(save(&r, "sip:dave@example.com", "c1", 1, &extra).await, 200);
    drop(r);
    let r = registrar(&redis.url()).await;
    let seen = r.lookup("sip:dave@example.com", now()).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, ["<sip:edge.example.com;lr;ob>"]);
    assert_eq!(seen[0].instance.as_deref(), Some("<urn:uuid:1>"));
    assert_eq!(seen[0].reg_id, Some(1));
    // The flow is replaced after the restart too.
    let extra = format!("{path}Contact: <sip:dave@192.0.2.5;ob>;{inst}\r\n");
    assert_eq!(save(&r, "sip:dave@example.com", "c2", 1, &extra).await, 200);
    let seen = r.lookup("sip:dave@example.com", now()).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "sip:dave@192.0.2.5;ob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindings_expire() {
    if !server::available("bindings_expire") {
        return;
    }
    let redis = RedisServer::start();
    let r = registrar(&redis.url()).await;
    let erin = "sip:erin@example.com";
    assert_eq!(
        save(
            &r,
            erin,
            "c1",
            1,
            "Contact: <sip:erin@192.0.2.6>;expires=1\r\n"
        )
        .await,
        200
    );
    assert_eq!(r.lookup(erin, now()).await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(r.lookup(erin, now()).await.unwrap().is_empty());
    // Redis dropped the key by itself, and listing prunes the index.
    assert!(r.list(now()).await.unwrap().is_empty());
    assert_eq!(r.sweep(now()).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_gives_unavailable_then_recovers() {
    if !server::available("redis_going_away_gives_unavailable_then_recovers") {
        return;
    }
    let mut redis = RedisServer::start();
    let r = registrar(&redis.url()).await;
    let frank = "sip:frank@example.com";
    assert_eq!(
        save(&r, frank, "c1", 1, "Contact: <sip:frank@192.0.2.7>\r\n").await,
        200
    );
    redis.kill();
    for _ in 0..2 {
        let started = Instant::now();
        let err = r
            .save(
                &register(frank, "c1", 2, "Contact: <sip:frank@192.0.2.7>\r\n"),
                &source(),
                now(),
            )
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(err, RegistrarError::Unavailable(_)), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("127.0.0.1:{}", redis.port)),
            "{err}"
        );
        assert_eq!(err.status(), 503);
        let started = Instant::now();
        let err = r.lookup(frank, now()).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(err, RegistrarError::Unavailable(_)), "{err}");
    }
    redis.restart();
    // Same Registrar: it reconnects (the restarted server kept nothing).
    eventually(5, || r.lookup(frank, now())).await;
    let status = eventually(5, || async {
        r.save(
            &register(frank, "c1", 3, "Contact: <sip:frank@192.0.2.7>\r\n"),
            &source(),
            now(),
        )
        .await
        .map(|o| o.status)
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(r.lookup(frank, now()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrar_made_while_redis_is_down_works_once_it_is_up() {
    if !server::available("registrar_made_while_redis_is_down_works_once_it_is_up") {
        return;
    }
    let port = server::free_port();
    let url = format!("redis://default:s3cret@127.0.0.1:{port}/");
    let started = Instant::now();
    let r = registrar(&url).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let grace = "sip:grace@example.com";
    let err = r
        .save(
            &register(grace, "c1", 1, "Contact: <sip:grace@192.0.2.8>\r\n"),
            &source(),
            now(),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RegistrarError::Unavailable(_)), "{text}");
    assert!(
        text.contains(&format!("redis://default:***@127.0.0.1:{port}/")),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    let _redis = RedisServer::start_on(port, Some("s3cret"));
    let status = eventually(5, || async {
        r.save(
            &register(grace, "c1", 2, "Contact: <sip:grace@192.0.2.8>\r\n"),
            &source(),
            now(),
        )
        .await
        .map(|o| o.status)
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(r.lookup(grace, now()).await.unwrap().len(), 1);
}

/// Digest passwords kept beside the bindings (`auth.redis_users`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_passwords_beside_the_bindings() {
    if !server::available("user_passwords_beside_the_bindings") {
        return;
    }
    let redis = RedisServer::start();
    let r = registrar(&redis.url()).await;
    let registrar::Store::Redis(store) = r.store() else {
        panic!("a redis store");
    };
    assert_eq!(store.user_password("erin").await.unwrap(), None);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("SET")
        .arg("test:user:erin")
        .arg("s3cret")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(
        store.user_password("erin").await.unwrap().as_deref(),
        Some("s3cret")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_are_shared_by_two_cores() {
    if !server::available("aliases_are_shared_by_two_cores") {
        return;
    }
    let redis = RedisServer::start();
    let (a, b) = (registrar(&redis.url()).await, registrar(&redis.url()).await);
    aliases::scenario(&a, &b).await;
}
