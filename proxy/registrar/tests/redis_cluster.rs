//! The registrar on a three-master Redis Cluster on loopback: 1,000 AoRs
//! registered across the cluster's slots, looked up, some expired, listed
//! and swept; updates and removals of one AoR (its one-key scripts routed
//! to its slot's node); `WAIT` on masters without replicas counted as
//! short; a scan over every master.
#![allow(clippy::unwrap_used)]
#![recursion_limit = "256"]

#[path = "support/aliases.rs"]
mod aliases;
#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/sip.rs"]
mod sipmsg;

use std::sync::Arc;
use std::time::Duration;

use cluster::Cluster;
use registrar::link::{Link, Target};
use registrar::{ClusterConfig, RedisConfig, Registrar, RegistrarBackend, RegistrarConfig};
use registrar::{Store, WaitConfig};
use sipmsg::{now, register, source};

const PORTS: [u16; 3] = [16841, 16842, 16843];
const AORS: usize = 1000;
/// AoRs whose binding expires after EXPIRES seconds.
const SHORT: usize = 100;
const EXPIRES: u64 = 5;

fn cluster_config() -> ClusterConfig {
    ClusterConfig {
        // One seed: the rest of the cluster is learnt from it.
        nodes: vec![format!("127.0.0.1:{}", PORTS[1])],
        username: None,
        password: None,
        tls: false,
    }
}

async fn registrar(wait: Option<WaitConfig>) -> Registrar {
    let config = RegistrarConfig {
        backend: RegistrarBackend::Redis,
        redis: Some(RedisConfig {
            url: None,
            cluster: Some(cluster_config()),
            wait,
            key_prefix: "c:".into(),
            ..RedisConfig::url("")
        }),
        min_expires: 1,
        ..RegistrarConfig::default()
    };
    tokio::time::timeout(Duration::from_secs(10), Registrar::from_config(&config))
        .await
        .expect("from_config returns in time")
        .expect("from_config succeeds")
}

fn aor(i: usize) -> String {
    format!("sip:user{i:04}@example.com")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_serves_a_thousand_aors_across_slots() {
    if !cluster::available("a_cluster_serves_a_thousand_aors_across_slots") {
        return;
    }
    let redis = Cluster::start(PORTS);
    let r = Arc::new(registrar(None).await);

    // 1,000 AoRs, 16 at a time: first those that stay, then SHORT that
    // expire after EXPIRES seconds.
    let save_all = |range: std::ops::Range<usize>| {
        let r = r.clone();
        async move {
            for batch in range.collect::<Vec<_>>().chunks(16) {
                let tasks: Vec<_> = batch
                    .iter()
                    .map(|&i| {
                        let r = r.clone();
                        tokio::spawn(async move {
                            let expires = if i < SHORT {
                                format!(";expires={EXPIRES}")
                            } else {
                                String::new()
                            };
                            let extra =
                                format!("Contact: <sip:u{i}@192.0.2.1:{}>{expires}\r\n", 5000 + i);
                            r.save(
                                &register(&aor(i), &format!("c{i}"), 1, &extra),
                                &source(),
                                now(),
                            )
                            .await
                            .map(|o| o.status)
                        })
                    })
                    .collect();
                for t in tasks {
                    assert_eq!(t.await.unwrap().unwrap(), 200);
                }
            }
        }
    };
    save_all(SHORT..AORS).await;
    // Spread over the three masters, one hash per AoR.
    let per_node: Vec<usize> = PORTS.iter().map(|p| redis.keys_on(*p, "c:aor:*")).collect();
    assert_eq!(per_node.iter().sum::<usize>(), AORS - SHORT, "{per_node:?}");
    assert!(per_node.iter().all(|n| *n > AORS / 6), "{per_node:?}");
    let short_saved = std::time::Instant::now();
    save_all(0..SHORT).await;
    let short_done = std::time::Instant::now();
    for i in 0..SHORT {
        assert_eq!(
            r.lookup(&aor(i), now()).await.unwrap().len(),
            1,
            "{}",
            aor(i)
        );
    }
    assert!(
        short_saved.elapsed() < Duration::from_secs(EXPIRES - 1),
        "registering and looking up {SHORT} AoRs took {:?}",
        short_saved.elapsed()
    );
    // An AoR's key is its hash tag: its slot is the AoR's.
    let slot = |key: &str| cluster::cli(PORTS[0], &["CLUSTER", "KEYSLOT", key]);
    assert_eq!(slot(&format!("c:aor:{{{}}}", aor(7))), slot(&aor(7)));

    // Every AoR that stays is found, by a second registrar too.
    let other = registrar(None).await;
    for i in SHORT..AORS {
        let seen = other.lookup(&aor(i), now()).await.unwrap();
        assert_eq!(seen.len(), 1, "{}", aor(i));
        assert_eq!(seen[0].uri, format!("sip:u{i}@192.0.2.1:{}", 5000 + i));
    }
    // Read-modify-write of one AoR: a second contact, then a removal.
    let extra = "Contact: <sip:second@192.0.2.2>\r\n";
    assert_eq!(
        r.save(&register(&aor(500), "c500", 2, extra), &source(), now())
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(other.lookup(&aor(500), now()).await.unwrap().len(), 2);
    assert_eq!(other.remove(&aor(501), now()).await.unwrap(), 1);
    assert!(r.lookup(&aor(501), now()).await.unwrap().is_empty());

    // The short ones expire.
    let left = Duration::from_secs(EXPIRES + 1).saturating_sub(short_done.elapsed());
    tokio::time::sleep(left).await;
    for i in 0..SHORT {
        assert!(
            r.lookup(&aor(i), now()).await.unwrap().is_empty(),
            "{}",
            aor(i)
        );
    }
    assert_eq!(r.lookup(&aor(SHORT), now()).await.unwrap().len(), 1);
    let all = r.list(now()).await.unwrap();
    assert_eq!(all.len(), AORS - SHORT - 1);
    assert_eq!(all[0].0, aor(SHORT));
    // Listing pruned the index; a sweep finds nothing left to prune.
    assert_eq!(r.sweep(now()).await.unwrap(), 0);
    let per_node: usize = PORTS.iter().map(|p| redis.keys_on(*p, "c:aor:*")).sum();
    assert_eq!(per_node, AORS - SHORT - 1, "Redis expired the keys itself");

    // A scan reaches every master.
    let link = Link::new(&Target::Cluster(cluster_config())).unwrap();
    let keys = link.scan("c:aor:*", 100).await.unwrap();
    assert_eq!(keys.len(), AORS - SHORT - 1);

    // Aliases, each key in its own slot, seen by another core.
    aliases::scenario(&r, &other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_without_replicas_is_counted_short() {
    if !cluster::available("wait_without_replicas_is_counted_short") {
        return;
    }
    // Its own ports: the tests of this file run in parallel.
    let _redis = Cluster::start([16844, 16845, 16846]);
    let config = RegistrarConfig {
        backend: RegistrarBackend::Redis,
        redis: Some(RedisConfig {
            url: None,
            cluster: Some(ClusterConfig {
                nodes: vec!["127.0.0.1:16844".into()],
                ..cluster_config()
            }),
            wait: Some(WaitConfig {
                replicas: 1,
                timeout_ms: 20,
            }),
            key_prefix: "w:".into(),
            ..RedisConfig::url("")
        }),
        ..RegistrarConfig::default()
    };
    let r = Registrar::from_config(&config).await.unwrap();
    let extra = "Contact: <sip:a@192.0.2.9>\r\n";
    for i in 0..3 {
        let a = format!("sip:w{i}@example.com");
        let out = r.save(&register(&a, "w", 1, extra), &source(), now()).await;
        assert_eq!(out.unwrap().status, 200, "the write stands");
    }
    let Store::Redis(store) = r.store() else {
        panic!("a redis store")
    };
    let stats = store.wait_stats();
    assert_eq!((stats.waited, stats.short), (3, 3));
}
