//! A group's view chooses as the group does, with `&self`, from any number
//! of threads at once.
#![allow(clippy::unwrap_used)]

#[path = "support/groups.rs"]
mod support;

use std::sync::Arc;
use std::time::Instant;

use gateway::{Algorithm, DestId, GatewayGroup, MAX_SEQUENCE};
use support::group_config;

fn group(algorithm: Algorithm, weights: &[u32]) -> GatewayGroup {
    GatewayGroup::new(&group_config(algorithm, weights), Instant::now()).unwrap()
}

#[test]
fn hash_and_sticky_choices_are_the_groups() {
    let now = Instant::now();
    for weights in [&[1, 1, 1, 1][..], &[5, 1, 3]] {
        let mut g = group(Algorithm::Hash, weights);
        g.mark_down(DestId(1), now).unwrap();
        let view = g.view();
        assert_eq!(view.healthy_count(), weights.len() - 1);
        for k in 0..2000 {
            let key = format!("user{k}@example.com");
            let expected = g.select(Some(key.as_bytes()), now).unwrap().id;
            assert_eq!(view.select(Some(key.as_bytes()), now).unwrap().id, expected);
            assert_ne!(expected, DestId(1), "a member down is never chosen");
            let sticky = g.select_sticky(key.as_bytes(), now).unwrap().id;
            assert_eq!(view.select_sticky(key.as_bytes(), now).unwrap().id, sticky);
        }
    }
}

#[test]
fn weighted_walks_the_smooth_order() {
    let now = Instant::now();
    let mut g = group(Algorithm::Weighted, &[5, 1, 1]);
    let view = g.view();
    let from_view: Vec<u32> = (0..14)
        .map(|_| view.select(None, now).unwrap().id.0)
        .collect();
    let from_group: Vec<u32> = (0..14).map(|_| g.select(None, now).unwrap().id.0).collect();
    assert_eq!(from_view, from_group);
    assert_eq!(&from_view[..7], &[0, 0, 1, 0, 2, 0, 0]);
    // Common factors are divided out: the order of 1000:3000 is that of 1:3.
    let g = group(Algorithm::Weighted, &[1000, 3000]);
    let view = g.view();
    let seq: Vec<u32> = (0..8)
        .map(|_| view.select(None, now).unwrap().id.0)
        .collect();
    assert_eq!(seq.iter().filter(|&&i| i == 1).count(), 6, "{seq:?}");
}

#[test]
fn round_robin_skips_members_down() {
    let now = Instant::now();
    let mut g = group(Algorithm::RoundRobin, &[1, 1, 1, 1]);
    g.mark_down(DestId(2), now).unwrap();
    let view = g.view();
    let seq: Vec<u32> = (0..6)
        .map(|_| view.select(None, now).unwrap().id.0)
        .collect();
    assert_eq!(seq, [0, 1, 3, 0, 1, 3]);
}

#[test]
fn no_member_up_no_choice() {
    let now = Instant::now();
    for algorithm in [Algorithm::Weighted, Algorithm::RoundRobin, Algorithm::Hash] {
        let mut g = group(algorithm, &[1, 2]);
        g.mark_down(DestId(0), now).unwrap();
        g.mark_down(DestId(1), now).unwrap();
        let view = g.view();
        assert!(view.select(None, now).is_none());
        assert!(view.select(Some(b"k"), now).is_none());
        assert!(view.select_sticky(b"k", now).is_none());
    }
}

#[test]
fn threads_share_one_view_and_every_choice_is_counted() {
    let now = Instant::now();
    let g = group(Algorithm::Weighted, &[2, 1]);
    let view = Arc::new(g.view());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let v = view.clone();
            std::thread::spawn(move || {
                let mut c = [0u64; 2];
                for _ in 0..30_000 {
                    c[v.select(None, Instant::now()).unwrap().id.index()] += 1;
                }
                c
            })
        })
        .collect();
    let mut total = [0u64; 2];
    for t in threads {
        let c = t.join().unwrap();
        total[0] += c[0];
        total[1] += c[1];
    }
    // 120,000 choices from a shared cursor over the order [0, 1, 0]: exact.
    assert_eq!(total, [80_000, 40_000]);
    let snap = g.snapshot(now);
    assert_eq!(snap.destinations[0].selections, 80_000);
    assert_eq!(snap.destinations[1].selections, 40_000);
}

#[test]
fn huge_weight_sums_are_bounded() {
    let now = Instant::now();
    // Coprime weights summing far past MAX_SEQUENCE: the view stays bounded
    // and still honours the weights closely.
    let weights: Vec<u32> = (0..40).map(|i| 9_973 + 2 * i).collect();
    let g = group(Algorithm::Weighted, &weights);
    let view = g.view();
    let mut c = vec![0u64; weights.len()];
    for _ in 0..MAX_SEQUENCE {
        c[view.select(None, now).unwrap().id.index()] += 1;
    }
    let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    for (i, &w) in weights.iter().enumerate() {
        let want = MAX_SEQUENCE as f64 * f64::from(w) / sum as f64;
        assert!(
            (c[i] as f64 - want).abs() <= 2.0,
            "member {i}: {} vs {want}",
            c[i]
        );
    }
}
