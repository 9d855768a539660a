use super::*;

fn t(text: &str) -> Target {
    match Target::from_uri(text) {
        Ok(t) => t,
        Err(e) => panic!("{text}: {e}"),
    }
}

#[test]
fn plain_uri() {
    assert_eq!(
        t("sip:alice@example.com"),
        Target {
            host: "example.com".into(),
            port: None,
            transport: None,
            secure: false,
            maddr: None,
        }
    );
}

#[test]
fn scheme_case_and_angle_brackets() {
    let got = t("<SIPS:bob@Example.COM:5071>");
    assert!(got.secure);
    assert_eq!(got.host, "Example.COM");
    assert_eq!(got.port, Some(5071));
}

#[test]
fn ipv6_brackets() {
    let got = t("sip:[2001:DB8::1]:5062;transport=tcp");
    assert_eq!(got.host, "2001:db8::1");
    assert_eq!(got.port, Some(5062));
    assert_eq!(got.transport, Some(Transport::Tcp));
    assert_eq!(t("sip:[::1]").port, None);
    assert_eq!(t("::1").host, "::1");
    assert_eq!(t("[::1]:5070").port, Some(5070));
}

#[test]
fn params_and_headers() {
    let got = t("sip:carol@chicago.com;TRANSPORT=UDP;lr;maddr=239.255.255.1;ttl=15?subject=x");
    assert_eq!(got.transport, Some(Transport::Udp));
    assert_eq!(got.maddr.as_deref(), Some("239.255.255.1"));
    assert_eq!(got.addr_host(), "239.255.255.1");
    assert_eq!(t("sip:x.test;maddr=[::2]").maddr.as_deref(), Some("::2"));
    assert_eq!(
        t("sip:x.test;maddr=proxy.test").maddr.as_deref(),
        Some("proxy.test")
    );
    assert_eq!(t("sip:x.test?h=1").host, "x.test");
}

#[test]
fn user_part_with_separators() {
    let got = t("sip:alice;day=tue?x:secret@host.test:5080;transport=tls");
    assert_eq!(got.host, "host.test");
    assert_eq!(got.port, Some(5080));
    assert_eq!(got.transport, Some(Transport::Tls));
}

#[test]
fn bare_host_port() {
    let got = t("proxy.example.net:5070");
    assert_eq!(got.host, "proxy.example.net");
    assert_eq!(got.port, Some(5070));
    assert!(!got.secure);
    assert_eq!(t("192.0.2.1").host, "192.0.2.1");
    assert_eq!(t("host.test.").host, "host.test.");
}

#[test]
fn rejected() {
    for bad in [
        "",
        "sip:",
        "sips:",
        "sip:@",
        "sip:alice@",
        "sip:host:",
        "sip:host:0",
        "sip:host:65536",
        "sip:host:+50",
        "sip:host:5060x",
        "sip:[::1",
        "sip:[::1]x",
        "sip:[1.2.3.4]",
        "sip:1.2.3.4.5:5060:1",
        "sip:host..test",
        "sip:ho st",
        "sip:host;transport=sctp",
        "sip:host;transport",
        "sip:host;maddr=",
        "sip:host;maddr=[x]",
        "sips:host;transport=udp",
        "tel:+15551234",
        "http://example.com/",
        "<sip:host",
        "sip:2001:db8::1:5060x",
        "sip:héllo.test",
    ] {
        assert!(
            matches!(Target::from_uri(bad), Err(ResolveError::BadTarget(_))),
            "{bad:?} accepted: {:?}",
            Target::from_uri(bad)
        );
    }
}

#[test]
fn long_label_and_name_limits() {
    let label = "a".repeat(63);
    assert!(Target::from_uri(&format!("sip:{label}.test")).is_ok());
    assert!(Target::from_uri(&format!("sip:{label}a.test")).is_err());
    let long = ["abcdefghi"; 30].join(".");
    assert!(Target::from_uri(&format!("sip:{long}")).is_err());
}

#[test]
fn error_echo_is_bounded() {
    let junk = "é".repeat(500);
    match Target::from_uri(&junk) {
        Err(ResolveError::BadTarget(echoed)) => assert!(echoed.len() <= MAX_ECHO),
        other => panic!("{other:?}"),
    }
}

#[test]
fn explicit_transport_for_sips() {
    assert_eq!(
        t("sips:h.test;transport=tcp").explicit_transport(),
        Ok(Some(Transport::Tls))
    );
    assert_eq!(t("sips:h.test").explicit_transport(), Ok(None));
    assert_eq!(
        t("sip:h.test;transport=ws").explicit_transport(),
        Ok(Some(Transport::Ws))
    );
    let mut bad = t("sips:h.test");
    bad.transport = Some(Transport::Udp);
    assert!(bad.explicit_transport().is_err());
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A small deterministic fuzz over the URI alphabet.
    let alphabet: Vec<char> = "sip:[]@;=?.:-_0123456789abcdefSIP<> é%\t".chars().collect();
    let mut state: u64 = 0x1234_5678;
    for _ in 0..20_000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let len = (state >> 59) as usize;
        let s: String = (0..len)
            .map(|i| {
                let k = (state >> (i * 2 % 50)) as usize % alphabet.len();
                alphabet[k]
            })
            .collect();
        let _ = Target::from_uri(&s);
        let _ = Target::from_uri(&format!("sip:{s}"));
    }
}

#[test]
fn ip_literals_need_no_resolution() {
    let d = |text: &str| t(text).ip_destination();
    let dest = |transport, addr: &str| {
        Some(Destination {
            transport,
            addr: addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}")),
        })
    };
    assert_eq!(
        d("sip:bob@192.0.2.1"),
        dest(Transport::Udp, "192.0.2.1:5060")
    );
    assert_eq!(
        d("sip:192.0.2.1:5070;transport=tcp"),
        dest(Transport::Tcp, "192.0.2.1:5070")
    );
    assert_eq!(
        d("sips:[2001:db8::1]"),
        dest(Transport::Tls, "[2001:db8::1]:5061")
    );
    assert_eq!(
        d("sips:192.0.2.1;transport=tcp"),
        dest(Transport::Tls, "192.0.2.1:5061")
    );
    assert_eq!(
        d("sip:example.com;maddr=192.0.2.9"),
        dest(Transport::Udp, "192.0.2.9:5060")
    );
    assert_eq!(d("192.0.2.1:5080"), dest(Transport::Udp, "192.0.2.1:5080"));
    assert_eq!(d("sip:example.com"), None);
    assert_eq!(d("sip:192.0.2.1.example.com:5060"), None);
    assert_eq!(d("sip:example.com;maddr=relay.example.com"), None);
}
