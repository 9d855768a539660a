//! The RFC 3263 §4 cases, one by one.

use std::time::{Duration, Instant};

use resolve::{ResolveError, Resolver, Target, Transport};

use crate::{dest, resolve, setup};

#[tokio::test]
async fn naptr_then_srv_then_addresses_in_order_and_preference() {
    let Some((_server, r)) = setup() else { return };
    assert_eq!(
        resolve(&r, "sip:alice@naptr.test").await.unwrap(),
        vec![
            dest(Transport::Tls, "192.0.2.3:5081"),
            dest(Transport::Tcp, "192.0.2.1:5070"),
            dest(Transport::Udp, "192.0.2.2:5080"),
        ]
    );
}

#[tokio::test]
async fn sips_uses_only_sips_naptr() {
    let Some((_server, r)) = setup() else { return };
    assert_eq!(
        resolve(&r, "sips:naptr.test").await.unwrap(),
        vec![dest(Transport::Tls, "192.0.2.3:5081")]
    );
}

#[tokio::test]
async fn explicit_port_skips_naptr_and_srv() {
    let Some((_server, r)) = setup() else { return };
    assert_eq!(
        resolve(&r, "sip:naptr.test:5099").await.unwrap(),
        vec![dest(Transport::Udp, "192.0.2.20:5099")]
    );
    assert_eq!(
        resolve(&r, "sip:srv.test:5090;transport=tcp")
            .await
            .unwrap(),
        vec![dest(Transport::Tcp, "192.0.2.21:5090")]
    );
    assert_eq!(
        resolve(&r, "sips:srv.test:5091").await.unwrap(),
        vec![dest(Transport::Tls, "192.0.2.21:5091")]
    );
}

#[tokio::test]
async fn explicit_transport_skips_naptr() {
    let Some((_server, r)) = setup() else { return };
    assert_eq!(
        resolve(&r, "sip:naptr.test;transport=udp").await.unwrap(),
        vec![dest(Transport::Udp, "192.0.2.2:5080")]
    );
    assert_eq!(
        resolve(&r, "sip:naptr.test;transport=tls").await.unwrap(),
        vec![dest(Transport::Tls, "192.0.2.3:5081")]
    );
    // Priority 0 (d) before priority 5 (a).
    assert_eq!(
        resolve(&r, "sip:srv.test;transport=tcp").await.unwrap(),
        vec![
            dest(Transport::Tcp, "192.0.2.13:5063"),
            dest(Transport::Tcp, "192.0.2.10:5060"),
        ]
    );
    // No SRV: A/AAAA at the transport's default port.
    assert_eq!(
        resolve(&r, "sip:plain.test;transport=tcp").await.unwrap(),
        vec![
            dest(Transport::Tcp, "192.0.2.30:5060"),
            dest(Transport::Tcp, "[2001:db8::30]:5060"),
        ]
    );
    // WebSocket has no SRV names: A/AAAA at 80 (RFC 7118).
    assert_eq!(
        resolve(&r, "sip:v6only.test;transport=ws").await.unwrap(),
        vec![dest(Transport::Ws, "[2001:db8::31]:80")]
    );
    assert_eq!(
        resolve(&r, "sip:plain.test;transport=tls").await.unwrap(),
        vec![
            dest(Transport::Tls, "192.0.2.30:5061"),
            dest(Transport::Tls, "[2001:db8::30]:5061"),
        ]
    );
}

#[tokio::test]
async fn srv_without_naptr_udp_then_tcp_with_ipv6() {
    let Some((_server, r)) = setup() else { return };
    let got = resolve(&r, "sip:srv.test").await.unwrap();
    // Priority 10 (a, b in weighted order), 20 (c, v4 then v6), then TCP
    // (d at priority 0, a at 5); the UDP a/b pair comes first.
    assert_eq!(got.len(), 6, "{got:?}");
    let mut first_two = got[..2].to_vec();
    first_two.sort_by_key(|d| d.addr);
    assert_eq!(
        first_two,
        vec![
            dest(Transport::Udp, "192.0.2.10:5060"),
            dest(Transport::Udp, "192.0.2.11:5060"),
        ]
    );
    assert_eq!(
        got[2..],
        [
            dest(Transport::Udp, "192.0.2.12:5062"),
            dest(Transport::Udp, "[2001:db8::12]:5062"),
            dest(Transport::Tcp, "192.0.2.13:5063"),
            dest(Transport::Tcp, "192.0.2.10:5060"),
        ]
    );
}

#[tokio::test]
async fn naptr_leading_nowhere_falls_back_to_addresses() {
    let Some((_server, r)) = setup() else { return };
    assert_eq!(
        resolve(&r, "sip:stale.test").await.unwrap(),
        vec![dest(Transport::Udp, "192.0.2.60:5060")]
    );
}

#[tokio::test]
async fn addresses_only_ipv4_then_ipv6_and_aaaa_only() {
    let Some((_server, r)) = setup() else { return };
    assert_eq!(
        resolve(&r, "sip:plain.test").await.unwrap(),
        vec![
            dest(Transport::Udp, "192.0.2.30:5060"),
            dest(Transport::Udp, "[2001:db8::30]:5060"),
        ]
    );
    assert_eq!(
        resolve(&r, "sip:v6only.test").await.unwrap(),
        vec![dest(Transport::Udp, "[2001:db8::31]:5060")]
    );
}

#[tokio::test]
async fn sips_tls_5061_and_sips_srv() {
    let Some((_server, r)) = setup() else { return };
    assert_eq!(
        resolve(&r, "sips:secure.test").await.unwrap(),
        vec![dest(Transport::Tls, "192.0.2.40:5071")]
    );
    assert_eq!(
        resolve(&r, "sips:plain.test").await.unwrap(),
        vec![
            dest(Transport::Tls, "192.0.2.30:5061"),
            dest(Transport::Tls, "[2001:db8::30]:5061"),
        ]
    );
    assert_eq!(
        resolve(&r, "sips:secure.test;transport=tcp").await.unwrap(),
        vec![dest(Transport::Tls, "192.0.2.40:5071")]
    );
}

#[tokio::test]
async fn maddr_replaces_the_host() {
    let Some((_server, r)) = setup() else { return };
    assert_eq!(
        resolve(&r, "sip:naptr.test;maddr=192.0.2.99")
            .await
            .unwrap(),
        vec![dest(Transport::Udp, "192.0.2.99:5060")]
    );
    assert_eq!(
        resolve(&r, "sip:nope.test;maddr=plain.test;transport=tcp")
            .await
            .unwrap(),
        vec![
            dest(Transport::Tcp, "192.0.2.30:5060"),
            dest(Transport::Tcp, "[2001:db8::30]:5060"),
        ]
    );
}

#[tokio::test]
async fn nxdomain_and_dead_ends_are_not_found() {
    let Some((_server, r)) = setup() else { return };
    for uri in [
        "sip:nope.test",
        "sip:nope.test:5060",
        "sip:nope.test;transport=tcp",
        "sips:nope.test",
        "sip:declined.test",
        "sip:dangling.test",
    ] {
        let got = resolve(&r, uri).await;
        assert!(
            matches!(got, Err(ResolveError::NotFound(_))),
            "{uri}: {got:?}"
        );
    }
}

#[tokio::test]
async fn ip_literals_need_no_dns() {
    // A resolver pointed at a server that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = Resolver::with_nameservers(&[silent.local_addr().unwrap()], Duration::from_secs(2))
        .unwrap();
    let start = Instant::now();
    for (uri, want) in [
        ("sip:192.0.2.1", dest(Transport::Udp, "192.0.2.1:5060")),
        (
            "sip:192.0.2.1;transport=tcp",
            dest(Transport::Tcp, "192.0.2.1:5060"),
        ),
        (
            "sips:[2001:db8::1]",
            dest(Transport::Tls, "[2001:db8::1]:5061"),
        ),
        (
            "sip:[2001:db8::1]:5070;transport=tls",
            dest(Transport::Tls, "[2001:db8::1]:5070"),
        ),
        ("192.0.2.7:5080", dest(Transport::Udp, "192.0.2.7:5080")),
    ] {
        assert_eq!(resolve(&r, uri).await.unwrap(), vec![want], "{uri}");
    }
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn a_dead_server_is_a_lookup_error_within_the_timeout() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let timeout = Duration::from_secs(1);
    let r = Resolver::with_nameservers(&[silent.local_addr().unwrap()], timeout).unwrap();
    let timed = |uri: &'static str| {
        let r = r.clone();
        async move {
            let start = Instant::now();
            let got = resolve(&r, uri).await;
            (uri, got, start.elapsed())
        }
    };
    // NAPTR first, A/AAAA only, SRV first: all at once.
    let (a, b, c) = tokio::join!(
        timed("sip:example.test"),
        timed("sip:example.test:5060"),
        timed("sip:example.test;transport=tcp"),
    );
    for (uri, got, took) in [a, b, c] {
        assert!(
            matches!(got, Err(ResolveError::Lookup { .. })),
            "{uri}: {got:?}"
        );
        // Within the timeout (two tries of half of it), with a margin for a
        // loaded machine that still tells it from twice the timeout.
        assert!(took < timeout * 3 / 2, "{uri}: took {took:?}");
    }
}

#[test]
fn bad_target_is_an_error_not_a_panic() {
    assert!(matches!(
        Target::from_uri("sips:host.test;transport=udp"),
        Err(ResolveError::BadTarget(_))
    ));
}

#[tokio::test]
async fn socket_addrs_by_srv_or_by_address() {
    let Some((_server, r)) = setup() else { return };
    // A service name: its SRV targets and ports, lower priority first.
    let by_srv = r.socket_addrs("_sip._udp.srv.test", 9).await.unwrap();
    assert_eq!(by_srv.len(), 4, "{by_srv:?}");
    assert!(by_srv[..2].contains(&"192.0.2.10:5060".parse().unwrap()));
    assert!(by_srv[..2].contains(&"192.0.2.11:5060".parse().unwrap()));
    assert!(by_srv[2..].contains(&"192.0.2.12:5062".parse().unwrap()));
    assert!(by_srv[2..].contains(&"[2001:db8::12]:5062".parse().unwrap()));
    // Any other name: A and AAAA with the given port.
    let plain = r.socket_addrs("plain.test", 5071).await.unwrap();
    assert_eq!(
        plain,
        vec![
            "192.0.2.30:5071".parse().unwrap(),
            "[2001:db8::30]:5071".parse().unwrap()
        ]
    );
    assert!(matches!(
        r.socket_addrs("nothing.test", 5071).await,
        Err(ResolveError::NotFound(_))
    ));
    assert!(r.socket_addrs("_sip._udp.dangling.test", 1).await.is_err());
}
