//! `relay:`: parsed with its defaults, unknown keys refused, every problem
//! named by its key, only with role: edge.

#![allow(clippy::unwrap_used)]

mod common;

use common::{error, key_path, parse, CORE, EDGE};

const RELAY: &str = "\
relay:
  listen: 127.0.0.1:5071
  peers:
    - { instance_id: 1, address: 127.0.0.1:5071 }
    - { instance_id: 2, address: 127.0.0.2:5071 }
  ca: /etc/anysip/fleet-ca.pem
  cert: /etc/anysip/fleet.pem
  key: /etc/anysip/fleet.key
";

#[test]
fn parses_with_defaults() {
    let c = parse(&format!("{EDGE}{RELAY}")).unwrap();
    let r = c.relay.unwrap();
    assert_eq!(r.peers.len(), 2);
    assert_eq!(r.connect_timeout_ms, 500);
    assert_eq!(r.idle_timeout_ms, 3000);
    let c = parse(&format!("{EDGE}{RELAY}")).unwrap();
    let files: Vec<String> = c.referenced_files().into_iter().map(|(k, _)| k).collect();
    for k in ["relay.ca", "relay.cert", "relay.key"] {
        assert!(files.iter().any(|f| f == k), "{files:?}");
    }
}

#[test]
fn problems_name_their_key() {
    let cases = [
        (
            RELAY.replace("  ca: /etc", "  colour: red\n  ca: /etc"),
            "relay",
        ),
        (
            RELAY.replace("instance_id: 2", "instance_id: 1"),
            "relay.peers[1].instance_id",
        ),
        (
            RELAY.replace("listen: 127.0.0.1:5071", "listen: 0.0.0.0:5071"),
            "relay.listen",
        ),
        (
            RELAY.replace("listen: 127.0.0.1:5071", "listen: 127.0.0.1:5060"),
            "relay.listen",
        ),
        (
            format!("{RELAY}  connect_timeout_ms: 0\n"),
            "relay.connect_timeout_ms",
        ),
        (
            format!("{RELAY}  keep_alive_ms: 5000\n"),
            "relay.idle_timeout_ms",
        ),
    ];
    for (relay, key) in cases {
        let e = error(&format!("{EDGE}{relay}"));
        assert!(key_path(&e).starts_with(key), "{key}: {e}");
    }
    let e = error(&format!("{CORE}{RELAY}"));
    assert_eq!(key_path(&e), "relay", "{e}");
    assert!(e.to_string().contains("only used by role: edge"), "{e}");
}
