//! Selection: smooth weighted round robin, round robin, rendezvous hashing.
#![allow(clippy::unwrap_used)]

#[path = "support/groups.rs"]
mod support;

use std::collections::HashMap;
use std::time::Instant;

use gateway::{Algorithm, DestId, GatewayConfig, GatewayGroup, Gateways, State};
use proptest::prelude::*;
use support::group_config;

fn group(algorithm: Algorithm, weights: &[u32]) -> GatewayGroup {
    GatewayGroup::new(&group_config(algorithm, weights), Instant::now()).unwrap()
}

fn pick(g: &mut GatewayGroup, key: Option<&[u8]>) -> Option<usize> {
    g.select(key, Instant::now()).map(|d| d.id.index())
}

fn counts(g: &mut GatewayGroup, n: usize) -> Vec<usize> {
    let mut c = vec![0; g.destinations().count()];
    for _ in 0..n {
        c[pick(g, None).unwrap()] += 1;
    }
    c
}

#[test]
fn weighted_is_smooth_and_exact() {
    let mut g = group(Algorithm::Weighted, &[5, 1, 1]);
    let seq: Vec<usize> = (0..7).map(|_| pick(&mut g, None).unwrap()).collect();
    // nginx's smooth WRR sequence for {a:5, b:1, c:1}.
    assert_eq!(seq, [0, 0, 1, 0, 2, 0, 0]);

    let mut g = group(Algorithm::Weighted, &[100, 50, 1, 7]);
    // Every window of sum(weights) selections matches the weights exactly.
    for _ in 0..5 {
        assert_eq!(counts(&mut g, 158), [100, 50, 1, 7]);
    }
}

#[test]
fn weighted_skips_down_members_and_none_when_all_down() {
    let now = Instant::now();
    let mut g = group(Algorithm::Weighted, &[3, 2, 1]);
    g.mark_down(DestId(0), now).unwrap();
    for _ in 0..10 {
        assert_eq!(counts(&mut g, 3), [0, 2, 1]);
    }
    assert_eq!(
        g.all_healthy().map(|d| d.id.index()).collect::<Vec<_>>(),
        [1, 2]
    );
    g.mark_down(DestId(1), now).unwrap();
    g.mark_down(DestId(2), now).unwrap();
    assert_eq!(pick(&mut g, None), None);
    assert_eq!(g.all_healthy().count(), 0);
    g.mark_up(DestId(0), now).unwrap();
    assert_eq!(counts(&mut g, 4), [4, 0, 0]);
}

#[test]
fn round_robin_cycles_over_healthy_members() {
    let now = Instant::now();
    let mut g = group(Algorithm::RoundRobin, &[10, 1, 1]);
    let seq: Vec<usize> = (0..6).map(|_| pick(&mut g, None).unwrap()).collect();
    assert_eq!(seq, [0, 1, 2, 0, 1, 2]);
    g.mark_down(DestId(1), now).unwrap();
    let seq: Vec<usize> = (0..6).map(|_| pick(&mut g, None).unwrap()).collect();
    assert_eq!(seq, [0, 2, 0, 2, 0, 2]);
    g.mark_down(DestId(0), now).unwrap();
    g.mark_down(DestId(2), now).unwrap();
    assert_eq!(pick(&mut g, None), None);
}

#[test]
fn select_excluding_gives_the_next_member() {
    let mut g = group(Algorithm::RoundRobin, &[1, 1, 1]);
    let now = Instant::now();
    let first = g.select(None, now).unwrap().id;
    let second = g.select_excluding(None, &[first], now).unwrap().id;
    assert_ne!(first, second);
    let third = g.select_excluding(None, &[first, second], now).unwrap().id;
    assert!(third != first && third != second);
    assert!(g
        .select_excluding(None, &[first, second, third], now)
        .is_none());

    // Hash failover walks the key's rendezvous order: excluding the winner
    // gives what downing it gives.
    let mut g = group(Algorithm::Hash, &[1, 2, 3, 4]);
    for i in 0..200 {
        let key = format!("user{i}@example.com");
        let best = g.select(Some(key.as_bytes()), now).unwrap().id;
        let next = g
            .select_excluding(Some(key.as_bytes()), &[best], now)
            .unwrap()
            .id;
        g.mark_down(best, now).unwrap();
        assert_eq!(g.select(Some(key.as_bytes()), now).unwrap().id, next);
        g.mark_up(best, now).unwrap();
    }
}

#[test]
fn selections_are_counted_in_the_snapshot() {
    let now = Instant::now();
    let mut g = group(Algorithm::Weighted, &[2, 1]);
    counts(&mut g, 30);
    let snap = g.snapshot(now);
    let sel: Vec<u64> = snap.destinations.iter().map(|d| d.selections).collect();
    assert_eq!(sel, [20, 10]);
}

#[test]
fn hash_is_stable_for_a_key_and_across_instances() {
    // Two independently built groups stand for two edge instances.
    let mut a = group(Algorithm::Hash, &[1, 1, 1, 1]);
    let mut b = group(Algorithm::Hash, &[1, 1, 1, 1]);
    for i in 0..1000 {
        let key = format!("user{i}@example.com");
        let x = pick(&mut a, Some(key.as_bytes()));
        assert_eq!(x, pick(&mut a, Some(key.as_bytes())));
        assert_eq!(x, pick(&mut b, Some(key.as_bytes())));
    }
    // The order of `destinations:` does not matter either: only the uris do.
    let mut cfg = group_config(Algorithm::Hash, &[1, 1, 1, 1]);
    cfg.destinations.reverse();
    let mut c = GatewayGroup::new(&cfg, Instant::now()).unwrap();
    for i in 0..1000 {
        let key = format!("user{i}@example.com");
        let ua = a
            .select(Some(key.as_bytes()), Instant::now())
            .unwrap()
            .uri
            .clone();
        let uc = c
            .select(Some(key.as_bytes()), Instant::now())
            .unwrap()
            .uri
            .clone();
        assert_eq!(ua, uc);
    }
}

#[test]
fn hash_pins_known_choices() {
    // A fleet-wide contract: these must not change between versions.
    let mut g = group(Algorithm::Hash, &[1, 1, 1, 1]);
    let got: Vec<usize> = ["alice@example.com", "bob@example.com", "carol@example.org"]
        .iter()
        .map(|k| pick(&mut g, Some(k.as_bytes())).unwrap())
        .collect();
    assert_eq!(got, PINNED_UNIFORM);
    let mut g = group(Algorithm::Hash, &[1, 2, 3, 4]);
    let got: Vec<usize> = ["alice@example.com", "bob@example.com", "carol@example.org"]
        .iter()
        .map(|k| pick(&mut g, Some(k.as_bytes())).unwrap())
        .collect();
    assert_eq!(got, PINNED_WEIGHTED);
}

// Cross-checked against an independent Python implementation of `hash`.
const PINNED_UNIFORM: [usize; 3] = [2, 3, 0];
const PINNED_WEIGHTED: [usize; 3] = [2, 3, 3];

fn chi_square(observed: &[usize], expected: &[f64]) -> f64 {
    observed
        .iter()
        .zip(expected)
        .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
        .sum()
}

// 99.9th percentile of chi-square with 3 degrees of freedom.
const CHI2_3DOF_P999: f64 = 16.27;

#[test]
fn hash_spreads_keys_evenly() {
    let mut g = group(Algorithm::Hash, &[1, 1, 1, 1]);
    let mut c = [0usize; 4];
    for i in 0..10_000 {
        let key = format!("user{i}@example.com");
        c[pick(&mut g, Some(key.as_bytes())).unwrap()] += 1;
    }
    let chi = chi_square(&c, &[2500.0; 4]);
    assert!(chi < CHI2_3DOF_P999, "{c:?}: chi-square {chi}");
}

#[test]
fn weighted_hash_follows_weights() {
    let mut g = group(Algorithm::Hash, &[1, 2, 3, 4]);
    let mut c = [0usize; 4];
    let n = 20_000;
    for i in 0..n {
        let key = format!("call-{i}");
        c[pick(&mut g, Some(key.as_bytes())).unwrap()] += 1;
    }
    let expected: Vec<f64> = [1.0, 2.0, 3.0, 4.0]
        .iter()
        .map(|w| w * n as f64 / 10.0)
        .collect();
    let chi = chi_square(&c, &expected);
    assert!(chi < CHI2_3DOF_P999, "{c:?}: chi-square {chi}");
}

#[test]
fn hash_without_key_falls_back_to_weighted() {
    let mut g = group(Algorithm::Hash, &[2, 1]);
    assert_eq!(counts(&mut g, 30), [20, 10]);
}

#[test]
fn gateways_select_by_name() {
    let now = Instant::now();
    let config = GatewayConfig {
        groups: vec![group_config(Algorithm::RoundRobin, &[1, 1])],
    };
    let mut gw = Gateways::new(&config, now).unwrap();
    assert_eq!(gw.select("backends", None, now).unwrap().id, DestId(0));
    assert!(matches!(
        gw.select("nope", None, now),
        Err(gateway::Error::UnknownGroup(_))
    ));
    assert_eq!(
        gw.mark_down("backends", "sip:10.0.0.1:5060", now),
        Ok(State::Down)
    );
    assert_eq!(
        gw.mark_down("backends", "10.0.0.2:5060", now),
        Ok(State::Down)
    );
    let err = gw.select("backends", None, now).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gateway group `backends` has no healthy destination"
    );
    assert!(matches!(
        gw.mark_up("backends", "sip:10.9.9.9", now),
        Err(gateway::Error::UnknownDestination { .. })
    ));
    assert_eq!(gw.mark_up("backends", "10.0.0.2:5060", now), Ok(State::Up));
    assert_eq!(gw.select("backends", None, now).unwrap().id, DestId(1));
}

/// For every key, the uri chosen.
fn assignment(g: &mut GatewayGroup, keys: &[String]) -> HashMap<String, String> {
    keys.iter()
        .map(|k| {
            let d = g.select(Some(k.as_bytes()), Instant::now()).unwrap();
            (k.clone(), d.uri.clone())
        })
        .collect()
}

fn weights_strategy() -> impl Strategy<Value = Vec<u32>> {
    prop_oneof![
        (2usize..9).prop_map(|n| vec![1; n]),
        prop::collection::vec(1u32..1000, 2..9),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn membership_change_moves_only_the_changed_members_keys(
        weights in weights_strategy(),
        victim_seed in any::<prop::sample::Index>(),
        keys in prop::collection::vec("[a-z0-9@.]{1,24}", 50..200),
    ) {
        let now = Instant::now();
        let victim = victim_seed.index(weights.len());
        let victim_uri = format!("sip:10.0.0.{}:5060", victim + 1);
        let mut g = group(Algorithm::Hash, &weights);
        let before = assignment(&mut g, &keys);

        // Down: exactly the victim's keys move.
        g.mark_down(DestId(u32::try_from(victim).unwrap()), now).unwrap();
        let down = assignment(&mut g, &keys);
        for k in &keys {
            if before[k] == victim_uri {
                prop_assert_ne!(&down[k], &victim_uri);
            } else {
                prop_assert_eq!(&down[k], &before[k]);
            }
        }

        // Back up: the original mapping returns.
        g.mark_up(DestId(u32::try_from(victim).unwrap()), now).unwrap();
        prop_assert_eq!(&assignment(&mut g, &keys), &before);

        // Removed from the config: same as down.
        let mut cfg = group_config(Algorithm::Hash, &weights);
        cfg.destinations.remove(victim);
        let mut removed = GatewayGroup::new(&cfg, now).unwrap();
        prop_assert_eq!(&assignment(&mut removed, &keys), &down);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn smooth_weighted_matches_weights_exactly(
        weights in prop::collection::vec(1u32..50, 1..7),
        down in prop::collection::vec(any::<bool>(), 7),
        rounds in 1usize..4,
    ) {
        let now = Instant::now();
        let mut g = group(Algorithm::Weighted, &weights);
        let mut expected = Vec::new();
        for (i, &w) in weights.iter().enumerate() {
            if down[i] {
                g.mark_down(DestId(u32::try_from(i).unwrap()), now).unwrap();
                expected.push(0);
            } else {
                expected.push(w as usize);
            }
        }
        let total: usize = expected.iter().sum();
        if total == 0 {
            prop_assert_eq!(pick(&mut g, None), None);
        } else {
            for _ in 0..rounds {
                prop_assert_eq!(&counts(&mut g, total), &expected);
            }
        }
    }
}

#[test]
fn sticky_selection_ignores_the_algorithm() {
    use gateway::{Algorithm, GatewayGroup};
    let yaml = "name: g\nalgorithm: weighted\nprobe:\n  enabled: false\ndestinations:\n  - uri: sip:10.0.0.1\n    address: 10.0.0.1:5060\n  - uri: sip:10.0.0.2\n    address: 10.0.0.2:5060\n  - uri: sip:10.0.0.3\n    address: 10.0.0.3:5060\n";
    let cfg: gateway::GroupConfig = serde_yaml::from_str(yaml).unwrap();
    assert_eq!(cfg.algorithm, Algorithm::Weighted);
    let now = std::time::Instant::now();
    let mut a = GatewayGroup::new(&cfg, now).unwrap();
    let mut b = GatewayGroup::new(&cfg, now).unwrap();
    for k in 0..200u32 {
        let key = format!("user{k}@example.com");
        // Interleave weighted picks: they must not disturb the sticky ones.
        let _ = a.select(Some(key.as_bytes()), now);
        let x = a.select_sticky(key.as_bytes(), now).unwrap().uri.clone();
        let y = b.select_sticky(key.as_bytes(), now).unwrap().uri.clone();
        assert_eq!(x, y, "{key}");
        assert_eq!(a.select_sticky(key.as_bytes(), now).unwrap().uri, x);
    }
}
