//! `priority:` tiers (SIPhon's): every algorithm chooses among the healthy
//! members of the lowest priority number, the group and its view alike; the
//! next tier serves only while the whole better one is down, and traffic
//! returns as soon as one of the better tier is up again.
#![allow(clippy::unwrap_used)]

#[path = "support/groups.rs"]
mod support;

use std::collections::BTreeSet;
use std::time::Instant;

use gateway::{Algorithm, DestId, GatewayConfig, GatewayGroup};
use support::group_config;

/// Members 0 and 1 in tier 1, 2 in tier 2, 3 in tier 7.
fn tiered(algorithm: Algorithm) -> GatewayGroup {
    let mut c = group_config(algorithm, &[1, 3, 5, 1]);
    for (d, p) in c.destinations.iter_mut().zip([1, 1, 2, 7]) {
        d.priority = p;
    }
    GatewayGroup::new(&c, Instant::now()).unwrap()
}

/// The members chosen over `n` selections (with a key per selection for
/// `hash`), by the group and by a view of it, which must agree as sets.
fn chosen(g: &mut GatewayGroup, n: usize) -> BTreeSet<u32> {
    let now = Instant::now();
    let view = g.view();
    let mut from_group = BTreeSet::new();
    let mut from_view = BTreeSet::new();
    let mut sticky_set = BTreeSet::new();
    for k in 0..n {
        let key = format!("user{k}@example.com");
        let key = key.as_bytes();
        from_group.insert(g.select(Some(key), now).unwrap().id.0);
        from_view.insert(view.select(Some(key), now).unwrap().id.0);
        let sticky = g.select_sticky(key, now).unwrap().id.0;
        assert_eq!(view.select_sticky(key, now).unwrap().id.0, sticky);
        sticky_set.insert(sticky);
    }
    assert_eq!(from_group, from_view);
    assert!(
        sticky_set.is_subset(&from_group),
        "{sticky_set:?} within {from_group:?}"
    );
    from_group
}

#[test]
fn the_best_tier_up_serves_with_every_algorithm() {
    let now = Instant::now();
    for algorithm in [Algorithm::Weighted, Algorithm::RoundRobin, Algorithm::Hash] {
        let mut g = tiered(algorithm);
        assert_eq!(chosen(&mut g, 400), BTreeSet::from([0, 1]), "{algorithm:?}");
        g.mark_down(DestId(0), now).unwrap();
        assert_eq!(chosen(&mut g, 400), BTreeSet::from([1]), "{algorithm:?}");
        g.mark_down(DestId(1), now).unwrap();
        assert_eq!(chosen(&mut g, 400), BTreeSet::from([2]), "{algorithm:?}");
        g.mark_down(DestId(2), now).unwrap();
        assert_eq!(chosen(&mut g, 400), BTreeSet::from([3]), "{algorithm:?}");
        g.mark_up(DestId(1), now).unwrap();
        assert_eq!(chosen(&mut g, 400), BTreeSet::from([1]), "{algorithm:?}");
        g.mark_down(DestId(1), now).unwrap();
        g.mark_down(DestId(3), now).unwrap();
        assert!(g.select(None, now).is_none());
        assert!(g.view().select(None, now).is_none());
    }
}

#[test]
fn failover_excludes_within_the_tier_first() {
    let now = Instant::now();
    let mut g = tiered(Algorithm::Weighted);
    let first = g.select_excluding(None, &[DestId(0)], now).unwrap().id;
    assert_eq!(first, DestId(1));
    let next = g
        .select_excluding(None, &[DestId(0), DestId(1)], now)
        .unwrap()
        .id;
    assert_eq!(next, DestId(2), "the next tier once the first is exhausted");
}

#[test]
fn priority_is_read_from_yaml_and_defaults_to_one() {
    let c: GatewayConfig = serde_yaml::from_str(
        "groups:\n  - name: carriers\n    destinations:\n      - uri: sip:10.0.0.1:5060\n        address: 10.0.0.1:5060\n      \
         - uri: sip:10.0.0.2:5060\n        address: 10.0.0.2:5060\n        priority: 2\n",
    )
    .unwrap();
    let p: Vec<u32> = c.groups[0]
        .destinations
        .iter()
        .map(|d| d.priority)
        .collect();
    assert_eq!(p, [1, 2]);
}
