use super::*;

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/routerd.yaml")
}

const MINIMAL: &str = "
services:
  - name: edge
    addresses: [192.0.2.1]
    prefixes:
      - prefix: 192.0.2.1/32
        announce_protocol: a4
        drain_protocol: d4
    checks:
      - name: ready
        http: { url: http://127.0.0.1:9090/admin/ready }
";

fn parse_err(text: &str) -> String {
    Config::parse(text, "t.yaml")
        .expect_err("must fail")
        .to_string()
}

#[test]
fn parses_the_shipped_example() {
    let c = Config::load(&example_path()).expect("example parses");
    assert_eq!(c.services.len(), 1);
    let s = &c.services[0];
    // The UE-facing anycast address (v4, v6) and the backend-facing one.
    assert_eq!(s.prefixes.len(), 3);
    assert_eq!(s.prefixes[1].prefix.to_string(), "2001:db8::1/128");
    assert_eq!(s.prefixes[2].prefix.to_string(), "10.0.0.10/32");
    assert!(matches!(s.checks[0].kind(), Some(CheckKind::Http(_))));
    assert!(matches!(s.checks[1].kind(), Some(CheckKind::SipOptions(_))));
    assert_eq!(c.on_shutdown, OnShutdown::Withdraw);
}

#[test]
fn defaults_are_explicit() {
    let c = Config::parse(MINIMAL, "t.yaml").expect("parses");
    assert_eq!(c.tick_ms, 1000);
    assert_eq!(c.bird.socket, PathBuf::from("/run/bird/bird.ctl"));
    assert_eq!(c.bird.timeout_ms, 2000);
    assert_eq!(c.admin.listen.to_string(), "127.0.0.1:9180");
    assert_eq!(c.disable_file, None);
    assert_eq!(c.on_shutdown, OnShutdown::Withdraw);
    let s = &c.services[0];
    assert_eq!(s.grace_secs, 30);
    let k = &s.checks[0];
    assert_eq!(
        (
            k.interval_ms,
            k.fast_interval_ms,
            k.timeout_ms,
            k.rise,
            k.fall
        ),
        (1000, 250, 500, 3, 2)
    );
    match k.kind() {
        Some(CheckKind::Http(h)) => {
            assert_eq!(h.url.host, "127.0.0.1");
            assert_eq!(h.url.port, 9090);
            assert_eq!(h.url.path, "/admin/ready");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    let e = parse_err(&MINIMAL.replace("        http:", "        colour: red\n        http:"));
    assert!(e.contains("t.yaml"), "{e}");
    assert!(e.contains("services[0].checks[0]"), "{e}");
    assert!(e.contains("colour"), "{e}");
    let e = parse_err(&format!("{MINIMAL}bogus: 1\n"));
    assert!(e.contains("bogus"), "{e}");
    let e = parse_err(&format!("bird:\n  sockett: /x\n{MINIMAL}"));
    assert!(e.contains("bird") && e.contains("sockett"), "{e}");
}

#[test]
fn bad_values_name_the_key() {
    let cases = [
        (
            MINIMAL.replace("192.0.2.1/32", "192.0.2.1/33"),
            "services[0].prefixes[0].prefix",
            "longer than 32",
        ),
        (
            MINIMAL.replace(
                "announce_protocol: a4",
                "announce_protocol: \"a4; configure\"",
            ),
            "services[0].prefixes[0].announce_protocol",
            "BIRD protocol name",
        ),
        (
            MINIMAL.replace("drain_protocol: d4", "drain_protocol: a4"),
            "services[0].prefixes[0].drain_protocol",
            "already used",
        ),
        (
            MINIMAL.replace("http://127", "https://127"),
            "services[0].checks[0].http.url",
            "only http://",
        ),
        (
            MINIMAL.replace("addresses: [192.0.2.1]", "addresses: []"),
            "services[0].addresses",
            "at least one",
        ),
        (
            MINIMAL.replace("addresses: [192.0.2.1]", "addresses: [nope]"),
            "services[0].addresses[0]",
            "invalid IP",
        ),
        (
            MINIMAL.replace("        http:", "        rise: 0\n        http:"),
            "services[0].checks[0].rise",
            "at least 1",
        ),
        (
            MINIMAL.replace(
                "        http:",
                "        fast_interval_ms: 5000\n        http:",
            ),
            "services[0].checks[0].fast_interval_ms",
            "interval_ms",
        ),
        (
            MINIMAL.replace(
                "        http:",
                "        command: { argv: [/bin/true] }\n        http:",
            ),
            "services[0].checks[0]",
            "exactly one",
        ),
        (
            MINIMAL.replace(
                "        http: { url: http://127.0.0.1:9090/admin/ready }",
                "        command: { argv: [] }",
            ),
            "services[0].checks[0].command.argv",
            "program",
        ),
        (
            MINIMAL.replace(
                "        http: { url: http://127.0.0.1:9090/admin/ready }",
                "        sip_options: { target: 127.0.0.1:5060, healthy_codes: [99] }",
            ),
            "services[0].checks[0].sip_options.healthy_codes",
            "100 to 699",
        ),
        (
            MINIMAL.replace(
                "        http: { url: http://127.0.0.1:9090/admin/ready }",
                "        sip_options: { target: 127.0.0.1:5060, transport: sctp }",
            ),
            "services[0].checks[0].sip_options.transport",
            "sctp",
        ),
        (format!("tick_ms: 0\n{MINIMAL}"), "tick_ms", "at least 1"),
        (
            format!("on_shutdown: explode\n{MINIMAL}"),
            "on_shutdown",
            "explode",
        ),
        ("services: []\n".to_owned(), "services", "at least one"),
        ("{}\n".to_owned(), "", "services"),
    ];
    for (text, path, what) in cases {
        let e = parse_err(&text);
        assert!(e.starts_with("t.yaml: "), "{e}");
        assert!(e.contains(path), "want {path:?} in {e}");
        assert!(e.contains(what), "want {what:?} in {e}");
    }
}

#[test]
fn url_forms() {
    let u = HttpUrl::try_from("http://[::1]:8080/ready?x=1".to_owned()).expect("v6");
    assert_eq!(
        (u.host.as_str(), u.port, u.path.as_str()),
        ("::1", 8080, "/ready?x=1")
    );
    assert_eq!(u.to_string(), "http://[::1]:8080/ready?x=1");
    let u = HttpUrl::try_from("http://edge.local".to_owned()).expect("name");
    assert_eq!(
        (u.host.as_str(), u.port, u.path.as_str()),
        ("edge.local", 80, "/")
    );
    for bad in [
        "ftp://x/",
        "http://:80/",
        "http://x:99999/",
        "http://[::1/",
        "http://x/a b",
        "http://u@x/",
    ] {
        assert!(HttpUrl::try_from(bad.to_owned()).is_err(), "{bad}");
    }
}

#[test]
fn missing_file_names_it() {
    let e = Config::load(Path::new("/nonexistent/routerd.yaml")).expect_err("fails");
    assert!(e.to_string().contains("/nonexistent/routerd.yaml"), "{e}");
}
