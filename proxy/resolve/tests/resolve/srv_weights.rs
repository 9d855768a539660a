//! SRV priority and weight distribution over many resolutions, with fixed
//! seeds.

use std::net::SocketAddr;

use resolve::Transport;

use crate::{dest, resolve, setup};

/// How often each of a (weight 10) and b (weight 30) comes first in 200
/// resolutions; c (priority 20) is never before them.
async fn first_places(seed: u64) -> Option<(u32, u32)> {
    let (_server, r) = setup()?;
    let r = r.with_seed(seed);
    let a: SocketAddr = "192.0.2.10:5060".parse().unwrap();
    let b: SocketAddr = "192.0.2.11:5060".parse().unwrap();
    let (mut a_first, mut b_first) = (0, 0);
    for _ in 0..200 {
        let got = resolve(&r, "sip:srv.test;transport=udp").await.unwrap();
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[2], dest(Transport::Udp, "192.0.2.12:5062"));
        assert_eq!(got[3], dest(Transport::Udp, "[2001:db8::12]:5062"));
        match got[0].addr {
            x if x == a => a_first += 1,
            x if x == b => b_first += 1,
            other => panic!("unexpected first {other}"),
        }
    }
    Some((a_first, b_first))
}

#[tokio::test]
async fn weights_share_first_place() {
    for seed in [1, 2, 3] {
        let Some((a, b)) = first_places(seed).await else {
            return;
        };
        // Expected 50 / 150 (RFC 2782: 10 and 30 of 40, with 41 draws).
        assert_eq!(a + b, 200);
        assert!((25..=75).contains(&a), "seed {seed}: a first {a} times");
    }
}

#[tokio::test]
async fn same_seed_same_orders() {
    let Some((_server, r)) = setup() else { return };
    let mut orders = Vec::new();
    for _ in 0..2 {
        let r = r.clone().with_seed(77);
        let mut seq = Vec::new();
        for _ in 0..20 {
            seq.push(resolve(&r, "sip:srv.test").await.unwrap());
        }
        orders.push(seq);
    }
    assert_eq!(orders[0], orders[1]);
}
