//! Semantic validation errors name the key path.

#![allow(clippy::unwrap_used)]

mod common;

use anysip_config::ConfigError;
use common::{error, key_path, parse, CORE, EDGE};

/// Asserts `yaml` is rejected by validation at `path` with a message
/// containing `words`.
fn invalid(yaml: &str, path: &str, words: &str) {
    let e = error(yaml);
    assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
    assert_eq!(key_path(&e), path, "{e}");
    assert!(e.to_string().contains(words), "{e}");
    assert!(
        e.to_string().starts_with(&format!("test.yaml: {path}: ")),
        "{e}"
    );
}

#[test]
fn minimal_configs_are_valid() {
    parse(EDGE).unwrap();
    parse(CORE).unwrap();
}

#[test]
fn listeners() {
    let no_listen = EDGE.replace("listen:\n  udp: [127.0.0.1:5060]\n", "");
    invalid(&no_listen, "listen", "no SIP listener");
    invalid(
        &EDGE.replace(
            "udp: [127.0.0.1:5060]",
            "udp: [127.0.0.1:5060, 127.0.0.1:5060]",
        ),
        "listen.udp[1]",
        "already used by listen.udp[0]",
    );
    invalid(
        &EDGE.replace("udp: [127.0.0.1:5060]", "udp: [127.0.0.1:0]"),
        "listen.udp[0]",
        "port 0",
    );
    invalid(
        &EDGE.replace("udp: [127.0.0.1:5060]", "tcp: [127.0.0.1:9091]"),
        "admin.listen",
        "already used by listen.tcp[0]",
    );
    // UDP and TCP may share an address.
    parse(&EDGE.replace(
        "udp: [127.0.0.1:5060]",
        "udp: [127.0.0.1:5060]\n  tcp: [127.0.0.1:5060]",
    ))
    .unwrap();
    invalid(
        &format!("{EDGE}metrics:\n  prometheus:\n    listen: 127.0.0.1:9091\n"),
        "metrics.prometheus.listen",
        "already used by admin.listen",
    );
}

#[test]
fn tls_listener_needs_cert_and_key() {
    let tls = EDGE.replace("udp: [127.0.0.1:5060]", "tls: [127.0.0.1:5061]");
    invalid(&tls, "tls", "required because listen.tls");
    invalid(
        &format!("{tls}tls:\n  key: /k.pem\n"),
        "tls.cert",
        "required",
    );
    invalid(
        &format!("{tls}tls:\n  cert: /c.pem\n"),
        "tls.key",
        "required",
    );
    parse(&format!("{tls}tls:\n  cert: /c.pem\n  key: /k.pem\n")).unwrap();
}

#[test]
fn websocket_listeners() {
    // WSS takes the certificate of tls: as TLS does.
    let wss = EDGE.replace("udp: [127.0.0.1:5060]", "wss: [127.0.0.1:443]");
    invalid(&wss, "tls", "required because listen.wss");
    invalid(
        &format!("{wss}tls:\n  key: /k.pem\n"),
        "tls.cert",
        "required because listen.wss",
    );
    parse(&format!("{wss}tls:\n  cert: /c.pem\n  key: /k.pem\n")).unwrap();
    // WS alone is a listener; it may not share a TCP port with TLS.
    let ws = EDGE.replace("udp: [127.0.0.1:5060]", "ws: [127.0.0.1:8080]");
    let c = parse(&ws).unwrap();
    assert_eq!(c.listen.ws, ["127.0.0.1:8080".parse().unwrap()]);
    assert_eq!(c.websocket, anysip_config::WebSocketConfig::default());
    // SIPhon's mapping form, as for the other transports.
    let c = parse(&EDGE.replace(
        "udp: [127.0.0.1:5060]",
        "wss:\n    - address: 127.0.0.1:443\n      dscp: EF\ntls:\n  cert: /c.pem\n  key: /k.pem",
    ))
    .unwrap();
    assert_eq!(c.listen.wss, ["127.0.0.1:443".parse().unwrap()]);
    assert_eq!(c.listen.dscp_of("wss", c.listen.wss[0]), Some(46));
    invalid(
        &EDGE.replace(
            "udp: [127.0.0.1:5060]",
            "tcp: [127.0.0.1:5060]\n  ws: [127.0.0.1:5060]",
        ),
        "listen.ws[0]",
        "already used by listen.tcp[0]",
    );
    invalid(
        &format!("{ws}websocket:\n  allowed_origins: [phone.example.com]\n"),
        "websocket.allowed_origins[0]",
        "expected scheme://host[:port]",
    );
    invalid(
        &format!("{ws}websocket:\n  allowed_origins: [\"https://phone.example.com/app\"]\n"),
        "websocket.allowed_origins[0]",
        "no path",
    );
    invalid(
        &format!("{ws}websocket:\n  handshake_timeout_ms: 10\n"),
        "websocket.handshake_timeout_ms",
        "out of range 100..=60000",
    );
    invalid(
        &format!("{ws}websocket:\n  ping_secs: 7200\n"),
        "websocket.ping_secs",
        "out of range 0..=3600",
    );
    let c = parse(&format!(
        "{ws}websocket:\n  allowed_origins: [\"https://phone.example.com:8443\", \"http://[::1]:3000\"]\n  ping_secs: 0\n"
    ))
    .unwrap();
    assert_eq!(c.websocket.allowed_origins.len(), 2);
    assert_eq!(c.websocket.ping_secs, 0);
}

#[test]
fn identity() {
    invalid(
        &format!("{EDGE}server:\n  drain_secs: 100000\n"),
        "server.drain_secs",
        "out of range 0..=86400",
    );
    invalid(
        &format!("{EDGE}server:\n  workers: 5000\n"),
        "server.workers",
        "out of range 0..=1024",
    );
    invalid(
        &format!("{EDGE}advertised_address: \"sip:edge\"\n"),
        "advertised_address",
        "not a URI",
    );
    invalid(
        &format!("{EDGE}advertised_address: \"edge_1\"\n"),
        "advertised_address",
        "not an IP address or DNS name",
    );
    parse(&format!(
        "{EDGE}advertised_address: \"[2001:db8::1]:5060\"\n"
    ))
    .unwrap();
    invalid(
        &format!("{EDGE}domain:\n  local: [ok.example.com, \"x:5060\"]\n"),
        "domain.local[1]",
        "no port",
    );
}

#[test]
fn limits_and_telemetry() {
    invalid(
        &format!("{EDGE}limits:\n  max_message_size: 10\n"),
        "limits.max_message_size",
        "out of range",
    );
    invalid(
        &format!("{EDGE}limits:\n  max_connections: 0\n"),
        "limits.max_connections",
        "out of range",
    );
    invalid(
        &format!("{EDGE}limits:\n  write_queue_bytes: 2000\n"),
        "limits.write_queue_bytes",
        "smaller than limits.max_message_size",
    );
    invalid(
        &format!("{EDGE}telemetry:\n  log:\n    level: loud\n"),
        "telemetry.log.level",
        "expected a level",
    );
    parse(&format!(
        "{EDGE}telemetry:\n  log:\n    level: warn,anysip_edge=trace\n"
    ))
    .unwrap();
    invalid(
        &format!("{EDGE}telemetry:\n  otlp:\n    endpoint: collector:4317\n"),
        "telemetry.otlp.endpoint",
        "http://",
    );
}

#[test]
fn gateway_groups() {
    invalid(
        &EDGE.replace("      destinations:\n        - uri: sip:127.0.0.1:5070\n          address: 127.0.0.1:5070\n", "      destinations: []\n"),
        "gateway.groups[0].destinations",
        "at least one",
    );
    invalid(
        &format!("{EDGE}    - name: backends\n      destinations:\n        - {{uri: \"sip:b\", address: \"10.0.0.1:5060\"}}\n"),
        "gateway.groups[1].name",
        "duplicate group name",
    );
    invalid(
        &EDGE.replace("uri: sip:127.0.0.1:5070", "uri: http://x"),
        "gateway.groups[0].destinations[0].uri",
        "sip: or sips:",
    );
    // A sips: URI is reached over TLS; over anything else it is refused.
    invalid(
        &EDGE.replace(
            "uri: sip:127.0.0.1:5070",
            "uri: sips:core.example.com\n          transport: tcp",
        ),
        "gateway.groups[0].destinations[0].transport",
        "tls",
    );
    invalid(
        &EDGE.replace(
            "address: 127.0.0.1:5070",
            "address: 127.0.0.1:5070\n          weight: 0",
        ),
        "gateway.groups[0].destinations[0].weight",
        "must be > 0",
    );
    invalid(
        &EDGE.replace(
            "      destinations:",
            "      probe: {interval_secs: 2, timeout_secs: 5}\n      destinations:",
        ),
        "gateway.groups[0].probe.timeout_secs",
        "at most interval_secs (2)",
    );
    invalid(
        &EDGE.replace(
            "      destinations:",
            "      probe: {failure_threshold: 0}\n      destinations:",
        ),
        "gateway.groups[0].probe.failure_threshold",
        "must be > 0",
    );
    invalid(
        &EDGE.replace(
            "          address: 127.0.0.1:5070\n",
            "          address: 127.0.0.1:5070\n        - uri: sip:other\n          address: 127.0.0.1:5070\n",
        ),
        "gateway.groups[0].destinations[1].address",
        "duplicate destination",
    );
}

#[test]
fn gateway_addresses_and_several_problems() {
    invalid(
        &EDGE.replace("address: 127.0.0.1:5070", "address: 0.0.0.0:5070"),
        "gateway.groups[0].destinations[0].address",
        "unspecified",
    );
    invalid(
        &EDGE.replace("address: 127.0.0.1:5070", "address: 127.0.0.1:0"),
        "gateway.groups[0].destinations[0].address",
        "port 0",
    );
    // The first problem is reported with its path; the others are listed.
    invalid(
        &EDGE.replace(
            "          address: 127.0.0.1:5070\n",
            "          address: 127.0.0.1:5070\n          weight: 0\n      probe: {success_threshold: 0}\n",
        ),
        "gateway.groups[0].probe.success_threshold",
        "(and 1 more: gateway.groups[0].destinations[0].weight)",
    );
}

#[test]
fn edge_needs_an_existing_backend_group() {
    invalid(
        &format!("{EDGE}edge:\n  backend_group: cores\n"),
        "edge.backend_group",
        "no gateway group named \"cores\" (groups: backends)",
    );
    // The default group name applies without an edge section.
    invalid(
        &EDGE.replace("name: backends", "name: cores"),
        "edge.backend_group",
        "no gateway group named \"backends\"",
    );
    let no_groups = "listen:\n  udp: [127.0.0.1:5060]\n";
    invalid(no_groups, "edge.backend_group", "gateway.groups is empty");
}

#[test]
fn edge_section() {
    invalid(
        &format!("{EDGE}edge:\n  keys:\n    file: /k.yaml\n    dev: true\n"),
        "edge.keys",
        "exactly one of file, env, dev",
    );
    invalid(
        &format!("{EDGE}edge:\n  keys: {{}}\n"),
        "edge.keys",
        "exactly one",
    );
    invalid(
        &format!("{EDGE}edge:\n  keys:\n    env: \"1BAD\"\n"),
        "edge.keys.env",
        "not an environment variable name",
    );
    invalid(
        &format!("{EDGE}edge:\n  token_max_age_secs: 10\n"),
        "edge.token_max_age_secs",
        "out of range 60..=31536000",
    );
    invalid(
        &format!("{EDGE}edge:\n  backend_address: \"bad host\"\n"),
        "edge.backend_address",
        "not an IP address or DNS name",
    );
    invalid(
        &format!("{EDGE}edge:\n  probe_address: edge1.example.com\n"),
        "edge.probe_address",
        "must be an IP address",
    );
    invalid(
        &format!("{EDGE}edge:\n  probe_address: \"10.0.0.11:x\"\n"),
        "edge.probe_address",
        "must be an IP address",
    );
}

#[test]
fn xdp_section() {
    invalid(
        &format!("{EDGE}xdp:\n  burst: 10\n"),
        "xdp.burst",
        "without xdp.rate",
    );
    invalid(
        &format!("{EDGE}xdp:\n  rate: 10\n  burst: 5\n"),
        "xdp.burst",
        "at least",
    );
    invalid(
        &format!("{EDGE}xdp:\n  blocklist: [10.0.0.0/8, 10.1.0.0/40]\n"),
        "xdp.blocklist[1]",
        "prefix length",
    );
    invalid(
        &format!("{EDGE}xdp:\n  interface: \"a b\"\n"),
        "xdp.interface",
        "not a network interface",
    );
    invalid(
        &format!("{EDGE}xdp:\n  ports: [1,2,3,4,5,6,7,8,9]\n"),
        "xdp.ports",
        "at most 8",
    );
    invalid(
        &format!("{EDGE}xdp:\n  auto_block:\n    block_secs: 0\n"),
        "xdp.auto_block.block_secs",
        "out of range",
    );
}

#[test]
fn sections_of_the_other_role() {
    // Without `role:`, a file with a script is a core (SIPhon's files);
    // an explicit edge may not have one.
    invalid(
        &format!("role: edge\n{EDGE}script:\n  path: /x.py\n"),
        "script",
        "only used by role: core",
    );
    invalid(
        &format!("{EDGE}registrar: {{}}\n"),
        "registrar",
        "only used by role: core",
    );
    invalid(
        &format!("{CORE}edge:\n  backend_group: backends\n"),
        "edge",
        "only used by role: edge",
    );
    invalid(
        &format!("{CORE}xdp:\n  rate: 5\n"),
        "xdp",
        "only used by role: edge",
    );
}

#[test]
fn redis_sentinel_cluster_and_wait() {
    let redis = |body: &str| format!("{CORE}registrar:\n  backend: redis\n  redis:\n{body}");
    let sentinel =
        "    sentinel:\n      master_name: m1\n      sentinels: [\"127.0.0.1:26379\", \"[::1]\"]\n";
    let c = parse(&redis(sentinel)).unwrap();
    let r = c.registrar.unwrap().redis.unwrap();
    assert_eq!(r.sentinel.unwrap().sentinels.len(), 2);
    parse(&redis("    url: \"redis+sentinel://:pw@a:26379,b/m1/2\"\n")).unwrap();
    parse(&redis(
        "    cluster:\n      nodes: [\"10.0.0.1:7000\"]\n    wait: {replicas: 1, timeout_ms: 50}\n",
    ))
    .unwrap();
    invalid(
        &redis("    url: \"redis://h\"\n    cluster:\n      nodes: [h]\n"),
        "registrar.redis.url",
        "only one of url, sentinel and cluster",
    );
    invalid(
        &redis("    wait: {replicas: 1, timeout_ms: 50}\n"),
        "registrar.redis.url",
        "set one of url, sentinel and cluster",
    );
    invalid(
        &redis("    sentinel:\n      master_name: \"\"\n      sentinels: [h]\n"),
        "registrar.redis.sentinel.master_name",
        "must be non-empty",
    );
    invalid(
        &redis("    sentinel:\n      master_name: m\n      sentinels: [h, \"h:port\"]\n"),
        "registrar.redis.sentinel.sentinels[1]",
        "is not host:port",
    );
    invalid(
        &redis("    cluster:\n      nodes: []\n"),
        "registrar.redis.cluster.nodes",
        "at least one seed node",
    );
    let e = error(&redis("    url: \"redis+sentinel://:s3cret@h/\"\n"));
    assert_eq!(key_path(&e), "registrar.redis.url");
    assert!(!e.to_string().contains("s3cret"), "{e}");
    invalid(
        &redis("    url: \"redis://h\"\n    wait: {replicas: 0, timeout_ms: 50}\n"),
        "registrar.redis.wait.replicas",
        "out of range 1..=64",
    );
    invalid(
        &redis("    url: \"redis://h\"\n    wait: {replicas: 1, timeout_ms: 0}\n"),
        "registrar.redis.wait.timeout_ms",
        "out of range 1..=10000",
    );
    invalid(
        &redis("    url: \"redis://h\"\n    key_prefix: \"{a}:\"\n"),
        "registrar.redis.key_prefix",
        "must not contain { or }",
    );
    // The caches: memory, a URL, Sentinel or Cluster, each checked.
    let cache =
        |body: &str| format!("{CORE}cache:\n  - name: a\n    url: memory://\n  - name: b\n{body}");
    parse(&cache("    url: \"rediss+sentinel://s1,s2/m\"\n")).unwrap();
    parse(&cache("    cluster:\n      nodes: [\"h:7000\"]\n")).unwrap();
    invalid(
        &cache("    local_ttl_secs: 5\n"),
        "cache[1].url",
        "set one of url, sentinel and cluster",
    );
    invalid(
        &cache("    sentinel:\n      master_name: m\n      sentinels: []\n"),
        "cache[1].sentinel.sentinels",
        "at least one sentinel",
    );
}

#[test]
fn core_sections() {
    invalid(
        &CORE.replace("script:\n  path: /etc/anysip/core.py\n", ""),
        "script",
        "needs a routing script",
    );
    invalid(
        &format!("{CORE}registrar:\n  backend: redis\n"),
        "registrar.redis",
        "required by backend: redis",
    );
    invalid(
        &format!("{CORE}registrar:\n  redis: {{url: \"redis://h\"}}\n"),
        "registrar.redis",
        "backend is memory",
    );
    let e = error(&format!(
        "{CORE}registrar:\n  backend: redis\n  redis: {{url: \"http://user:s3cret@h\"}}\n"
    ));
    assert_eq!(key_path(&e), "registrar.redis.url");
    assert!(!e.to_string().contains("s3cret"), "{e}");
    invalid(
        &format!("{CORE}registrar:\n  min_expires: 600\n  max_expires: 300\n"),
        "registrar.max_expires",
        "below registrar.min_expires",
    );
    invalid(
        &format!("{CORE}registrar:\n  default_expires: 30\n"),
        "registrar.default_expires",
        "out of range 60..=7200",
    );
    invalid(
        &format!("{CORE}registrar:\n  max_contacts: 0\n"),
        "registrar.max_contacts",
        "out of range",
    );
    invalid(
        &format!("{CORE}auth:\n  realm: \"\"\n"),
        "auth.realm",
        "must not be empty",
    );
    invalid(
        &format!("{CORE}auth:\n  realm: r\n  algorithms: [md5, md5]\n"),
        "auth.algorithms[1]",
        "listed twice",
    );
    invalid(
        &format!("{CORE}auth:\n  realm: r\n  algorithms: []\n"),
        "auth.algorithms",
        "at least one",
    );
    let c = parse(&format!(
        "{CORE}registrar: {{}}\nauth:\n  realm: example.com\n"
    ))
    .unwrap();
    assert_eq!(c.registrar.unwrap().default_expires, 3600);
    assert_eq!(c.auth.unwrap().nonce_ttl_secs, 300);
}
